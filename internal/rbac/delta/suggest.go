package delta

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// DefaultExpand is the verb expansion applied by Suggest: clients that list
// a resource almost always watch it too (client-go informers do both), and
// the reverse. An expansion is only ever added where today's RBAC already
// grants it to the subject.
func DefaultExpand() map[string][]string {
	return map[string][]string{"list": {"watch"}, "watch": {"list"}}
}

// DefaultMaxNames is how many distinct object names a verb may touch for
// Suggest to keep resourceNames rather than grant the verb on every name.
const DefaultMaxNames = 5

// SuggestOptions tune Suggest.
type SuggestOptions struct {
	// Subjects to suggest for; empty means every subject whose own grants
	// allowed at least one request (system subjects only with IncludeSystem).
	Subjects      []rbac.Subject
	IncludeSystem bool
	// Expand maps a used verb to verbs added with it (nil: DefaultExpand).
	Expand map[string][]string
	// MaxNames: see DefaultMaxNames (0: the default; negative: never keep
	// resourceNames unless today's grant is itself limited to names).
	MaxNames int
}

// Suggestion is the least-privilege replacement for one subject's bindings.
type Suggestion struct {
	Subject             rbac.Subject                `json:"subject"`
	Replaces            []rbac.Ref                  `json:"replaces"`
	Roles               []rbacv1.Role               `json:"roles,omitempty"`
	ClusterRoles        []rbacv1.ClusterRole        `json:"clusterRoles,omitempty"`
	RoleBindings        []rbacv1.RoleBinding        `json:"roleBindings,omitempty"`
	ClusterRoleBindings []rbacv1.ClusterRoleBinding `json:"clusterRoleBindings,omitempty"`
	// Expanded lists verbs added by expansion, as "verb resource (from verb)".
	Expanded []string `json:"expanded,omitempty"`
	// Removed is what today's grants allow and the suggestion does not.
	Removed []UnusedRule `json:"removed"`
}

// atom is one distinct thing a subject did, at rule granularity.
type atom struct {
	scope    string // namespace; "" = cluster-wide
	group    string
	resource string // resource or resource/subresource; "" for URLs
	path     string
}

type verbUse struct {
	names   map[string]bool
	unnamed bool
	stat    baseline.Stat
}

// Suggest builds, per subject, Roles and bindings that allow every request
// the subject's own grants allowed in the evidence, nothing its grants do not
// allow today, and as little else as the evidence supports. Requests that a
// Kubernetes default binding of another subject also allows (discovery,
// self-reviews for system:authenticated) are left to that binding.
func Suggest(a *rbac.Authorizer, u *baseline.APIUsage, opts SuggestOptions) []Suggestion {
	if opts.Expand == nil {
		opts.Expand = DefaultExpand()
	}
	if opts.MaxNames == 0 {
		opts.MaxNames = DefaultMaxNames
	}
	at := attribute(a, u)
	unused := Unused(a, u, Options{IncludeSystem: true})
	removed := make(map[rbac.Subject][]UnusedRule, len(unused.Subjects))
	for _, sr := range unused.Subjects {
		s := rbac.Subject{Kind: sr.Kind, Namespace: sr.Namespace, Name: sr.Name}
		removed[s] = sr.Unused
	}

	subjects := opts.Subjects
	explicit := len(subjects) > 0
	if !explicit {
		subjects = a.Subjects()
	}
	var out []Suggestion
	for _, s := range subjects {
		grants := a.GrantsOf(s)
		if !explicit && (len(grants) == 0 || (!opts.IncludeSystem && allSystem(grants))) {
			continue
		}
		uses := make(map[atom]map[string]*verbUse)
		any := false
		for _, g := range grants {
			for _, i := range at.byGrant[grantKey{s, g.Binding, g.RuleIndex}] {
				if !g.System && allowedByDefaults(at.allowed[i], s) {
					// Kubernetes' default bindings (discovery for every
					// authenticated user, for example) stay in place.
					continue
				}
				addUse(uses, at.entries[i])
				any = true
			}
		}
		if !any && !explicit {
			// Inactive subjects: the suggestion is to remove the bindings;
			// `unused` reports them. Nothing to generate.
			continue
		}
		sg := Suggestion{Subject: s, Removed: removed[s]}
		if sg.Removed == nil {
			sg.Removed = []UnusedRule{}
		}
		for _, g := range grants {
			if !slices.Contains(sg.Replaces, g.Binding) {
				sg.Replaces = append(sg.Replaces, g.Binding)
			}
		}
		build(&sg, grants, uses, opts, u.Window())
		out = append(out, sg)
	}
	return out
}

// allowedByDefaults reports whether a Kubernetes default (bootstrap) binding
// of another subject also allows the request.
func allowedByDefaults(gs []rbac.Grant, s rbac.Subject) bool {
	for _, g := range gs {
		if g.System && g.Subject != s {
			return true
		}
	}
	return false
}

func addUse(uses map[atom]map[string]*verbUse, e baseline.Entry) {
	k := atom{scope: e.Namespace, group: e.APIGroup, resource: e.Resource, path: e.Path}
	if e.Subresource != "" {
		k.resource += "/" + e.Subresource
	}
	if e.Path != "" {
		k = atom{path: e.Path}
	}
	vs := uses[k]
	if vs == nil {
		vs = make(map[string]*verbUse)
		uses[k] = vs
	}
	vu := vs[e.Verb]
	if vu == nil {
		vu = &verbUse{names: map[string]bool{}}
		vs[e.Verb] = vu
	}
	if e.Name == "" || e.Path != "" {
		vu.unnamed = true
	} else {
		vu.names[e.Name] = true
	}
	vu.stat.Merge(e.Stat)
}

// covered reports whether one of the subject's own grants allows r today.
func covered(grants []rbac.Grant, r rbac.Request) bool {
	for _, g := range grants {
		if g.Namespace != "" && g.Namespace != r.Namespace {
			continue
		}
		if rbac.RuleAllows(g.Rule, r) {
			return true
		}
	}
	return false
}

func atomRequest(k atom, verb, name string) rbac.Request {
	r := rbac.Request{Verb: verb, APIGroup: k.group, Namespace: k.scope, Name: name, Path: k.path}
	r.Resource, r.Subresource, _ = strings.Cut(k.resource, "/")
	return r
}

// ruleDraft is a rule under construction with its evidence.
type ruleDraft struct {
	rule rbacv1.PolicyRule
	stat baseline.Stat
}

func build(sg *Suggestion, grants []rbac.Grant, uses map[atom]map[string]*verbUse, opts SuggestOptions, w baseline.Stat) {
	byScope := map[string][]ruleDraft{}
	atoms := slices.SortedFunc(maps.Keys(uses), func(x, y atom) int {
		return strings.Compare(x.scope+"\x00"+x.group+"\x00"+x.resource+"\x00"+x.path,
			y.scope+"\x00"+y.group+"\x00"+y.resource+"\x00"+y.path)
	})
	for _, k := range atoms {
		vs := uses[k]
		// Expansion, only where today's grants allow it without a name.
		for _, v := range slices.Sorted(maps.Keys(vs)) {
			for _, x := range opts.Expand[v] {
				if _, used := vs[x]; used || k.path != "" {
					continue
				}
				if covered(grants, atomRequest(k, x, "")) {
					vs[x] = &verbUse{names: map[string]bool{}, unnamed: true}
					sg.Expanded = append(sg.Expanded, fmt.Sprintf("%s %s (from %s)", x, describeAtom(k), v))
				}
			}
		}
		unnamed := map[string]baseline.Stat{}
		named := map[string][]string{} // verb → names
		var namedStat = map[string]baseline.Stat{}
		for v, vu := range vs {
			keepNames := !vu.unnamed && len(vu.names) > 0 &&
				(len(vu.names) <= opts.MaxNames || !covered(grants, atomRequest(k, v, "")))
			if !keepNames {
				unnamed[v] = vu.stat
				continue
			}
			named[v] = slices.Sorted(maps.Keys(vu.names))
			namedStat[v] = vu.stat
		}
		var drafts []ruleDraft
		if len(unnamed) > 0 {
			d := ruleDraft{rule: ruleFor(k, slices.Sorted(maps.Keys(unnamed)), nil)}
			for _, st := range unnamed {
				d.stat.Merge(st)
			}
			drafts = append(drafts, d)
		}
		// Verbs touching the same names share a rule.
		byNames := map[string][]string{}
		for v, ns := range named {
			key := strings.Join(ns, "\x00")
			byNames[key] = append(byNames[key], v)
		}
		for _, key := range slices.Sorted(maps.Keys(byNames)) {
			verbs := byNames[key]
			slices.Sort(verbs)
			d := ruleDraft{rule: ruleFor(k, verbs, strings.Split(key, "\x00"))}
			for _, v := range verbs {
				d.stat.Merge(namedStat[v])
			}
			drafts = append(drafts, d)
		}
		byScope[k.scope] = append(byScope[k.scope], drafts...)
	}
	for _, scope := range slices.Sorted(maps.Keys(byScope)) {
		rules, ann := finish(mergeDrafts(byScope[scope]))
		name := "kubedelta:" + slug(sg.Subject)
		ann["kubedelta.io/evidence-window"] = w.First.UTC().Format("2006-01-02T15:04:05Z") + "/" + w.Last.UTC().Format("2006-01-02T15:04:05Z")
		ann["kubedelta.io/subject"] = sg.Subject.String()
		labels := map[string]string{"app.kubernetes.io/managed-by": "kubedelta"}
		subj := rbacv1.Subject{Kind: sg.Subject.Kind, Name: sg.Subject.Name, Namespace: sg.Subject.Namespace}
		if subj.Kind != rbacv1.ServiceAccountKind {
			subj.APIGroup = rbacv1.GroupName
		}
		if scope == "" {
			meta := metav1.ObjectMeta{Name: name, Labels: labels, Annotations: ann}
			sg.ClusterRoles = append(sg.ClusterRoles, rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: meta, Rules: rules})
			sg.ClusterRoleBindings = append(sg.ClusterRoleBindings, rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
				Subjects:   []rbacv1.Subject{subj},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
			continue
		}
		meta := metav1.ObjectMeta{Name: name, Namespace: scope, Labels: labels, Annotations: ann}
		sg.Roles = append(sg.Roles, rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta, Rules: rules})
		sg.RoleBindings = append(sg.RoleBindings, rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: scope, Labels: labels},
			Subjects:   []rbacv1.Subject{subj},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	}
}

func ruleFor(k atom, verbs, names []string) rbacv1.PolicyRule {
	if k.path != "" {
		return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: []string{k.path}}
	}
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{k.group}, Resources: []string{k.resource}, ResourceNames: names}
}

// mergeDrafts joins rules that differ only in their resources (same group,
// verbs and names) or only in their URLs (same verbs), keeping them exact.
func mergeDrafts(ds []ruleDraft) []ruleDraft {
	var out []ruleDraft
	index := map[string]int{}
	for _, d := range ds {
		r := d.rule
		key := strings.Join(r.Verbs, ",") + "|" + strings.Join(r.ResourceNames, ",") + "|"
		if len(r.NonResourceURLs) > 0 {
			key += "urls"
		} else {
			key += "g=" + r.APIGroups[0]
		}
		if i, ok := index[key]; ok {
			o := &out[i]
			o.rule.Resources = append(o.rule.Resources, r.Resources...)
			o.rule.NonResourceURLs = append(o.rule.NonResourceURLs, r.NonResourceURLs...)
			o.stat.Merge(d.stat)
			continue
		}
		index[key] = len(out)
		d.rule.Resources = slices.Clone(d.rule.Resources)
		d.rule.NonResourceURLs = slices.Clone(d.rule.NonResourceURLs)
		out = append(out, d)
	}
	return out
}

// finish returns the rules and the annotations that explain each one.
func finish(ds []ruleDraft) ([]rbacv1.PolicyRule, map[string]string) {
	sort.SliceStable(ds, func(i, j int) bool { return ruleSortKey(ds[i].rule) < ruleSortKey(ds[j].rule) })
	ann := map[string]string{}
	rules := make([]rbacv1.PolicyRule, len(ds))
	for i, d := range ds {
		rules[i] = d.rule
		ann[fmt.Sprintf("kubedelta.io/rule-%d", i)] = fmt.Sprintf("%d requests, first %s, last %s",
			d.stat.Count, d.stat.First.UTC().Format("2006-01-02T15:04:05Z"), d.stat.Last.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return rules, ann
}

func ruleSortKey(r rbacv1.PolicyRule) string {
	return strings.Join(r.NonResourceURLs, ",") + "|" + strings.Join(r.APIGroups, ",") + "|" +
		strings.Join(r.Resources, ",") + "|" + strings.Join(r.ResourceNames, ",") + "|" + strings.Join(r.Verbs, ",")
}

func describeAtom(k atom) string {
	if k.path != "" {
		return k.path
	}
	s := k.resource
	if k.group != "" {
		s += "." + k.group
	}
	if k.scope != "" {
		s += " in " + k.scope
	}
	return s
}

// slug makes a subject into a valid RBAC object name part (no "/" or "%").
func slug(s rbac.Subject) string {
	var p string
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		p = "sa:" + s.Namespace + ":" + s.Name
	case rbacv1.GroupKind:
		p = "group:" + s.Name
	default:
		p = "user:" + s.Name
	}
	return strings.NewReplacer("/", "-", "%", "-").Replace(p)
}
