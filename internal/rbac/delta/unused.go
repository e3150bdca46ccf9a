// Package delta compares what RBAC grants with what identities really use:
// the unused permissions of every bound subject, ranked by risk, and the
// least-privilege Roles that would replace today's grants.
//
// It is a pure library: an authorizer and a usage baseline in, findings out.
package delta

import (
	"slices"
	"sort"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Options tune the analysis.
type Options struct {
	// IncludeSystem keeps subjects whose every grant is a Kubernetes default
	// (bootstrap) binding; they are left out by default.
	IncludeSystem bool
}

// Window is the time span the evidence covers.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Report is the result of Unused.
type Report struct {
	Window   Window          `json:"window"`
	Subjects []SubjectReport `json:"subjects"`
	// Hidden counts subjects left out because all their grants are system
	// defaults (see Options.IncludeSystem).
	Hidden int `json:"hiddenSystemSubjects"`
}

// SubjectReport is one subject's granted, used, unused and denied access.
type SubjectReport struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// Risk is the highest severity among the unused permissions; Score sums
	// them (weighted) and orders subjects of equal Risk.
	Risk  string `json:"risk"`
	Score int    `json:"score"`
	// Inactive: the subject has grants and none of them was used.
	Inactive bool          `json:"inactive"`
	Granted  []GrantedRule `json:"granted"`
	Used     []Usage       `json:"used"`
	Unused   []UnusedRule  `json:"unused"`
	Denied   []Usage       `json:"denied"`
}

// GrantedRule is one rule a binding gives the subject.
type GrantedRule struct {
	Binding   rbac.Ref `json:"binding"`
	Role      rbac.Ref `json:"role"`
	Namespace string   `json:"namespace,omitempty"`
	rbacv1.PolicyRule
	System bool `json:"system,omitempty"`
	// Uses counts the requests this rule allowed.
	Uses uint64 `json:"uses"`
}

// Usage is one distinct request an identity made, with how often and when.
type Usage struct {
	User        string    `json:"user,omitempty"`
	Verb        string    `json:"verb"`
	APIGroup    string    `json:"apiGroup"`
	Resource    string    `json:"resource,omitempty"`
	Subresource string    `json:"subresource,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name,omitempty"`
	Path        string    `json:"path,omitempty"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	// GrantedBy names the bindings that allow the request today; empty means
	// no RBAC rule does (another authorizer allowed it, or RBAC changed).
	GrantedBy []string `json:"grantedBy,omitempty"`
}

// UnusedRule is a part of a granted rule that no request used.
type UnusedRule struct {
	Verbs           []string `json:"verbs"`
	APIGroups       []string `json:"apiGroups,omitempty"`
	Resources       []string `json:"resources,omitempty"`
	ResourceNames   []string `json:"resourceNames,omitempty"`
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
	Namespace       string   `json:"namespace,omitempty"`
	Binding         rbac.Ref `json:"binding"`
	Role            rbac.Ref `json:"role"`
	Risk            string   `json:"risk"`
	Why             string   `json:"why"`

	severity rbac.Severity
}

// grantKey identifies one rule of one binding for one subject.
type grantKey struct {
	subject   rbac.Subject
	binding   rbac.Ref
	ruleIndex int
}

// attribution maps usage to the grants that allow it.
type attribution struct {
	byGrant map[grantKey][]int // indexes into entries
	allowed [][]rbac.Grant     // per entry: every grant that allows it
	entries []baseline.Entry
}

func attribute(a *rbac.Authorizer, u *baseline.APIUsage) *attribution {
	at := &attribution{byGrant: make(map[grantKey][]int), entries: u.Entries()}
	at.allowed = make([][]rbac.Grant, len(at.entries))
	for i, e := range at.entries {
		if e.Outcome != baseline.OutcomeAuthorized {
			continue
		}
		gs := a.MatchingGrants(requestOf(e.APIKey, u.Groups(e.User)))
		at.allowed[i] = gs
		for _, g := range gs {
			k := grantKey{g.Subject, g.Binding, g.RuleIndex}
			at.byGrant[k] = append(at.byGrant[k], i)
		}
	}
	return at
}

func requestOf(k baseline.APIKey, groups []string) rbac.Request {
	return rbac.Request{
		User: k.User, Groups: groups, Verb: k.Verb, APIGroup: k.APIGroup,
		Resource: k.Resource, Subresource: k.Subresource, Namespace: k.Namespace,
		Name: k.Name, Path: k.Path,
	}
}

// SubjectOfUser maps an authenticated user name to the RBAC subject that
// names it: a ServiceAccount for system:serviceaccount:NS:NAME, else a User.
func SubjectOfUser(user string) rbac.Subject {
	if rest, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		if ns, name, ok := strings.Cut(rest, ":"); ok && ns != "" && name != "" {
			return rbac.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
		}
	}
	return rbac.Subject{Kind: rbacv1.UserKind, Name: user}
}

// Unused reports, for every bound subject (and every identity that was
// denied), what it is granted, what it used and what it never used.
func Unused(a *rbac.Authorizer, u *baseline.APIUsage, opts Options) *Report {
	at := attribute(a, u)
	w := u.Window()
	rep := &Report{Window: Window{From: w.First, To: w.Last}}

	// Identities' own activity, for User and ServiceAccount subjects.
	byUser := make(map[rbac.Subject][]int)
	for i, e := range at.entries {
		s := SubjectOfUser(e.User)
		byUser[s] = append(byUser[s], i)
	}

	subjects := a.Subjects()
	seen := make(map[rbac.Subject]bool, len(subjects))
	for _, s := range subjects {
		seen[s] = true
	}
	// Identities with no binding at all that were denied: often the most
	// interesting ones (a stolen token probing, a misconfigured workload).
	for s, idx := range byUser {
		if seen[s] {
			continue
		}
		for _, i := range idx {
			if at.entries[i].Outcome == baseline.OutcomeForbidden {
				subjects = append(subjects, s)
				break
			}
		}
	}

	for _, s := range subjects {
		grants := a.GrantsOf(s)
		if !opts.IncludeSystem && len(grants) > 0 && allSystem(grants) {
			rep.Hidden++
			continue
		}
		sr := subjectReport(s, grants, at, byUser[s])
		rep.Subjects = append(rep.Subjects, sr)
	}
	sort.SliceStable(rep.Subjects, func(i, j int) bool {
		x, y := rep.Subjects[i], rep.Subjects[j]
		sx, _ := rbac.ParseSeverity(x.Risk)
		sy, _ := rbac.ParseSeverity(y.Risk)
		if sx != sy {
			return sx > sy
		}
		if x.Score != y.Score {
			return x.Score > y.Score
		}
		return subjectString(x) < subjectString(y)
	})
	return rep
}

func subjectString(s SubjectReport) string {
	return rbac.Subject{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}.String()
}

func allSystem(gs []rbac.Grant) bool {
	for _, g := range gs {
		if !g.System {
			return false
		}
	}
	return true
}

func subjectReport(s rbac.Subject, grants []rbac.Grant, at *attribution, own []int) SubjectReport {
	sr := SubjectReport{
		Kind: s.Kind, Name: s.Name, Namespace: s.Namespace,
		Granted: []GrantedRule{}, Used: []Usage{}, Unused: []UnusedRule{}, Denied: []Usage{},
	}
	usedEntries := make(map[int]bool)
	var total uint64
	for _, g := range grants {
		idx := at.byGrant[grantKey{s, g.Binding, g.RuleIndex}]
		var uses uint64
		for _, i := range idx {
			uses += at.entries[i].Count
			usedEntries[i] = true
		}
		total += uses
		sr.Granted = append(sr.Granted, GrantedRule{
			Binding: g.Binding, Role: g.Role, Namespace: g.Namespace,
			PolicyRule: g.Rule, System: g.System, Uses: uses,
		})
		sr.Unused = append(sr.Unused, unusedParts(g, at, idx)...)
	}
	sr.Inactive = len(grants) > 0 && total == 0
	// What the subject used: for a user or service account, everything the
	// identity did that was authorized; for a group, what its grants allowed.
	if s.Kind != rbacv1.GroupKind {
		for _, i := range own {
			switch at.entries[i].Outcome {
			case baseline.OutcomeAuthorized:
				usedEntries[i] = true
			case baseline.OutcomeForbidden:
				sr.Denied = append(sr.Denied, usageOf(at.entries[i], nil))
			}
		}
	}
	idx := make([]int, 0, len(usedEntries))
	for i := range usedEntries {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		sr.Used = append(sr.Used, usageOf(at.entries[i], at.allowed[i]))
	}
	sort.SliceStable(sr.Unused, func(i, j int) bool { return sr.Unused[i].severity > sr.Unused[j].severity })
	var top rbac.Severity
	for _, u := range sr.Unused {
		sr.Score += severityWeight(u.severity)
		top = max(top, u.severity)
	}
	sr.Risk = top.String()
	return sr
}

func usageOf(e baseline.Entry, grants []rbac.Grant) Usage {
	u := Usage{
		User: e.User, Verb: e.Verb, APIGroup: e.APIGroup, Resource: e.Resource,
		Subresource: e.Subresource, Namespace: e.Namespace, Name: e.Name, Path: e.Path,
		Count: e.Count, FirstSeen: e.First, LastSeen: e.Last,
	}
	for _, g := range grants {
		b := g.Binding.Kind + "/" + g.Binding.Name
		if g.Binding.Namespace != "" {
			b = g.Binding.Kind + "/" + g.Binding.Namespace + "/" + g.Binding.Name
		}
		if !slices.Contains(u.GrantedBy, b) {
			u.GrantedBy = append(u.GrantedBy, b)
		}
	}
	return u
}

// severityWeight makes one critical finding outrank many low ones.
func severityWeight(s rbac.Severity) int {
	switch s {
	case rbac.SeverityCritical:
		return 100
	case rbac.SeverityHigh:
		return 30
	case rbac.SeverityMedium:
		return 10
	case rbac.SeverityLow:
		return 3
	}
	return 1
}
