package detect

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// apiSequenceDetector raises sequence.rbac-then-workload when an identity
// changes RBAC and then, within the window, creates or changes a workload:
// a fresh grant put to use at once. It keeps the latest RBAC change per
// identity, evicted by time and bounded in number.
type apiSequenceDetector struct {
	ids    *apiIdentities
	window time.Duration
	max    int
	log    *slog.Logger

	mu      sync.Mutex
	changes map[string]*apiRBACChange
	swept   time.Time
	warned  bool
}

// apiRBACChange is one identity's latest RBAC write.
type apiRBACChange struct {
	t    time.Time
	call baseline.CallKey
	// what is "create clusterrolebindings.rbac.authorization.k8s.io x";
	// ref "clusterrolebindings/x" (or "roles/ns/x") keys the alert.
	what, ref string
	// grants says what the body grants, when the audit level kept it.
	grants string
	sev    Severity
	ev     Evidence
}

func newAPISequenceDetector(o APIOptions, ids *apiIdentities) *apiSequenceDetector {
	return &apiSequenceDetector{ids: ids, window: o.SequenceWindow, max: o.MaxTracked, log: o.Logger,
		changes: map[string]*apiRBACChange{}}
}

// Rules implements Detector.
func (*apiSequenceDetector) Rules() []Rule {
	return []Rule{{ID: RuleSequenceRBACThenWkl, Category: CategorySequence, Severity: Critical, MITRE: []string{"T1098", "T1610"},
		Summary: "an identity changed a Role, ClusterRole or binding and then created or changed a workload within minutes"}}
}

// API implements APIDetector.
func (d *apiSequenceDetector) API(s *State, r *event.APIRequest, emit Emit) {
	switch r.Verb {
	case "create", "update", "patch":
	default:
		return
	}
	if r.Subresource != "" {
		return
	}
	isRBAC := apiRBACResource(r.APIGroup, r.Resource)
	if !isRBAC && !apiWorkloadResource(r.APIGroup, r.Resource) {
		return
	}
	if r.Code < 200 || r.Code >= 300 || baseline.OutcomeOf(r) != baseline.OutcomeAuthorized {
		return // the change did not happen
	}
	a := r.Actor()
	if d.ids.kind(a) == apiSystem {
		return // the API server writes default RBAC; controllers write pods
	}
	t := apiTime(r)
	if isRBAC {
		c := apiNewRBACChange(r, t)
		d.mu.Lock()
		d.remember(a.Username, c, t)
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	c := d.changes[a.Username]
	d.mu.Unlock()
	if c == nil || t.Before(c.t) || t.Sub(c.t) > d.window {
		return
	}
	emit(d.alert(s, r, c, t))
}

// remember stores an identity's RBAC change, keeping the map bounded.
func (d *apiSequenceDetector) remember(user string, c *apiRBACChange, t time.Time) {
	if t.Sub(d.swept) > d.window || len(d.changes) >= d.max {
		d.swept = t
		for k, v := range d.changes {
			if t.Sub(v.t) > d.window {
				delete(d.changes, k)
			}
		}
	}
	if _, ok := d.changes[user]; !ok && len(d.changes) >= d.max {
		var oldest string
		var ot time.Time
		for k, v := range d.changes {
			if oldest == "" || v.t.Before(ot) {
				oldest, ot = k, v.t
			}
		}
		delete(d.changes, oldest)
		if !d.warned {
			d.warned = true
			d.log.Warn("detector state full: dropping the oldest RBAC change", "state", RuleSequenceRBACThenWkl, "maxTracked", d.max)
		}
	}
	if prev := d.changes[user]; prev != nil && t.Sub(prev.t) <= d.window && prev.sev > c.sev {
		// Keep the worse grant of the window; refresh its time.
		prev.t = t
		return
	}
	d.changes[user] = c
}

// apiNewRBACChange describes an RBAC write, reading the body when the audit
// level kept it: the rules a Role grants (rated by the rbac risk
// catalogue) or the role a binding binds.
func apiNewRBACChange(r *event.APIRequest, t time.Time) *apiRBACChange {
	ref := r.Resource + "/" + r.Name
	if r.Namespace != "" {
		ref = r.Resource + "/" + r.Namespace + "/" + r.Name
	}
	c := &apiRBACChange{
		t:    t,
		call: baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Namespace: r.Namespace},
		what: apiDescribe(r),
		ref:  ref,
		sev:  High,
		ev:   apiEvidence(r, ""),
	}
	if len(r.RequestObject) == 0 {
		return c
	}
	var body struct {
		Rules    []rbacv1.PolicyRule `json:"rules"`
		RoleRef  rbacv1.RoleRef      `json:"roleRef"`
		Subjects []rbacv1.Subject    `json:"subjects"`
	}
	if json.Unmarshal(r.RequestObject, &body) != nil {
		return c
	}
	switch r.Resource {
	case "roles", "clusterroles":
		var worst rbac.Risk
		found := false
		for _, rule := range body.Rules {
			for _, risk := range rbac.RulesRisks(rule, r.Namespace) {
				if !found || risk.Severity > worst.Severity {
					worst, found = risk, true
				}
			}
		}
		if found {
			c.grants = worst.Reason
			if worst.Severity >= High {
				c.sev = Critical
			}
		}
	case "rolebindings", "clusterrolebindings":
		if body.RoleRef.Name == "" {
			break
		}
		var subs []string
		for _, s := range body.Subjects {
			n := s.Kind + " " + s.Name
			if s.Namespace != "" {
				n = s.Kind + " " + s.Namespace + "/" + s.Name
			}
			subs = append(subs, n)
		}
		c.grants = "binds " + body.RoleRef.Kind + " " + body.RoleRef.Name
		if len(subs) > 0 {
			c.grants += " to " + apiClip(strings.Join(subs, ", "), 120)
		}
		switch body.RoleRef.Name {
		case "cluster-admin", "admin", "system:masters":
			c.sev = Critical
		}
	}
	return c
}

func (d *apiSequenceDetector) alert(s *State, r *event.APIRequest, c *apiRBACChange, t time.Time) Alert {
	a := r.Actor()
	kind := d.ids.kind(a)
	sev, score := c.sev, 20.0
	if kind == apiServiceAccount {
		sev, score = apiBump(sev, 1), score+10
	}
	routine := false
	if s.Profiles != nil {
		if sp := s.Profiles.Subject(a.Username); sp != nil && !s.Learning(t, sp.Seen.First, sp.Seen.Count) {
			wk := baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Namespace: r.Namespace}
			routine = sp.Calls[c.call] != nil && sp.Calls[wk] != nil
		}
	}
	rbacPart := c.what
	if c.grants != "" {
		rbacPart += " (" + c.grants + ")"
	}
	msg := apiActorName(r) + " (" + apiKindWord(kind) + ") changed RBAC — " + rbacPart + " — and " +
		apiShortDuration(t.Sub(c.t)) + " later did " + apiDescribe(r)
	if routine {
		sev, score = Low, 0
		msg += ": both are part of its baseline (a deployment pipeline?), reported for the record"
	} else {
		msg += ": a fresh grant put to use at once — privilege escalation or persistence"
	}
	workload := ""
	if k := apiWorkloadKind(r.Resource); k != "" && r.Name != "" {
		workload = k + "/" + r.Namespace + "/" + r.Name
	}
	return Alert{
		Time:      t,
		Rule:      RuleSequenceRBACThenWkl,
		Category:  CategorySequence,
		Severity:  sev,
		Score:     score,
		Subject:   a.Username,
		Namespace: r.Namespace,
		Workload:  workload,
		Message:   msg,
		Evidence:  []Evidence{c.ev, apiEvidence(r, "")},
		MITRE:     []string{"T1098", "T1610"},
		Key:       c.ref,
	}
}

// apiWorkloadKind is the Kind of a workload resource.
func apiWorkloadKind(resource string) string {
	switch resource {
	case "pods":
		return "Pod"
	case "deployments":
		return "Deployment"
	case "daemonsets":
		return "DaemonSet"
	case "statefulsets":
		return "StatefulSet"
	case "replicasets":
		return "ReplicaSet"
	case "jobs":
		return "Job"
	case "cronjobs":
		return "CronJob"
	case "replicationcontrollers":
		return "ReplicationController"
	}
	return ""
}
