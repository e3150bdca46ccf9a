package delta

import (
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// req is a compact way to write one audit request in tests.
type req struct {
	user, verb, group, resource, sub, ns, name, path string
	code                                             int
	groups                                           []string
}

func usageFromReqs(reqs ...req) *baseline.APIUsage {
	u := baseline.NewAPIUsage()
	for i, r := range reqs {
		code := r.code
		if code == 0 {
			code = 200
		}
		u.Add(&event.APIRequest{
			Time: t0.Add(time.Duration(i) * time.Minute), User: event.Identity{Username: r.user, Groups: r.groups},
			Verb: r.verb, APIGroup: r.group, Resource: r.resource, Subresource: r.sub,
			Namespace: r.ns, Name: r.name, Path: r.path, Code: code,
		})
	}
	return u
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func roleBinding(ns, name, roleKind, role string, subjects ...rbacv1.Subject) rbacv1.RoleBinding {
	return rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: role}}
}

func clusterRoleBinding(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func sa(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

func findSubject(t *testing.T, rep *Report, kind, ns, name string) SubjectReport {
	t.Helper()
	for _, s := range rep.Subjects {
		if s.Kind == kind && s.Namespace == ns && s.Name == name {
			return s
		}
	}
	t.Fatalf("subject %s %s/%s not in report", kind, ns, name)
	return SubjectReport{}
}

func unusedTexts(s SubjectReport) []string {
	var out []string
	for _, u := range s.Unused {
		what := strings.Join(u.APIGroups, ",") + "/" + strings.Join(u.Resources, ",")
		if len(u.NonResourceURLs) > 0 {
			what = strings.Join(u.NonResourceURLs, ",")
		}
		out = append(out, strings.Join(u.Verbs, ",")+" "+what+" @"+u.Namespace)
	}
	slices.Sort(out)
	return out
}

func TestUnused(t *testing.T) {
	podsAndCM := rbacv1.PolicyRule{Verbs: []string{"get", "list", "delete"}, APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}}
	secrets := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"secrets"}}
	all := rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}
	metrics := rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics", "/debug/*"}}
	a := rbac.NewAuthorizer(rbac.Objects{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole("reader", podsAndCM), clusterRole("secrets", secrets),
			clusterRole("admin-all", all), clusterRole("metrics", metrics),
		},
		RoleBindings: []rbacv1.RoleBinding{
			roleBinding("a", "alice-reader", "ClusterRole", "reader", user("alice")),
			roleBinding("b", "idle", "ClusterRole", "secrets", user("idle")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			clusterRoleBinding("ci-admin", "admin-all", sa("ci", "deployer")),
			clusterRoleBinding("scraper", "metrics", user("scraper")),
		},
	})
	u := usageFromReqs(
		req{user: "alice", verb: "get", resource: "pods", ns: "a", name: "p1"},
		req{user: "alice", verb: "list", resource: "pods", ns: "a"},
		req{user: "alice", verb: "list", resource: "pods", ns: "b", code: 403},
		req{user: "system:serviceaccount:ci:deployer", verb: "patch", group: "apps", resource: "deployments", ns: "a", name: "web"},
		req{user: "scraper", verb: "get", path: "/metrics"},
		req{user: "system:serviceaccount:x:stolen", verb: "list", resource: "secrets", ns: "kube-system", code: 403},
	)
	rep := Unused(a, u, Options{})

	alice := findSubject(t, rep, "User", "", "alice")
	if got, want := unusedTexts(alice), []string{"delete /pods @a", "get,list,delete /configmaps @a"}; !slices.Equal(got, want) {
		t.Errorf("alice unused = %q, want %q", got, want)
	}
	if len(alice.Denied) != 1 || alice.Denied[0].Namespace != "b" {
		t.Errorf("alice denied = %+v, want the list pods in b", alice.Denied)
	}
	if len(alice.Used) != 2 || alice.Inactive {
		t.Errorf("alice used = %d entries (inactive %v), want 2", len(alice.Used), alice.Inactive)
	}

	idle := findSubject(t, rep, "User", "", "idle")
	if !idle.Inactive || len(idle.Unused) != 1 || idle.Unused[0].Why[:10] != "never used" {
		t.Errorf("idle = %+v, want inactive with its whole rule unused", idle)
	}
	if idle.Risk == rbac.SeverityInfo.String() {
		t.Errorf("idle risk = %s: reading secrets must rank above info", idle.Risk)
	}

	dep := findSubject(t, rep, "ServiceAccount", "ci", "deployer")
	if len(dep.Unused) != 1 || !strings.HasPrefix(dep.Unused[0].Why, "wildcard grant used only for patch deployments") {
		t.Errorf("deployer unused = %+v, want one partly used wildcard", dep.Unused)
	}
	if dep.Risk != rbac.SeverityCritical.String() {
		t.Errorf("deployer risk = %s, want critical (cluster-admin-like wildcard)", dep.Risk)
	}
	if rep.Subjects[0].Risk != rbac.SeverityCritical.String() {
		t.Errorf("first subject risk = %s: the report must be ranked by risk", rep.Subjects[0].Risk)
	}

	scraper := findSubject(t, rep, "User", "", "scraper")
	if got, want := unusedTexts(scraper), []string{"get /debug/* @"}; !slices.Equal(got, want) {
		t.Errorf("scraper unused = %q, want %q", got, want)
	}

	stolen := findSubject(t, rep, "ServiceAccount", "x", "stolen")
	if len(stolen.Granted) != 0 || len(stolen.Denied) != 1 {
		t.Errorf("an identity with no bindings that was denied must be reported: %+v", stolen)
	}
}

func TestUnusedHidesSystemSubjects(t *testing.T) {
	cr := clusterRole("system:basic-user", rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews"}})
	crb := clusterRoleBinding("system:basic-user", "system:basic-user", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:authenticated"})
	crb.Annotations = map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
	a := rbac.NewAuthorizer(rbac.Objects{ClusterRoles: []rbacv1.ClusterRole{cr}, ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb}})
	u := usageFromReqs(req{user: "alice", verb: "get", resource: "pods", ns: "a"})
	if rep := Unused(a, u, Options{}); len(rep.Subjects) != 0 || rep.Hidden != 1 {
		t.Errorf("default: %d subjects, %d hidden; want 0 shown, 1 hidden", len(rep.Subjects), rep.Hidden)
	}
	if rep := Unused(a, u, Options{IncludeSystem: true}); len(rep.Subjects) != 1 {
		t.Errorf("IncludeSystem: %d subjects, want 1", len(rep.Subjects))
	}
}

func TestSuggest(t *testing.T) {
	edit := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		APIGroups: []string{"", "apps"}, Resources: []string{"configmaps", "secrets", "deployments", "pods", "pods/log"}}
	named := rbacv1.PolicyRule{Verbs: []string{"get", "update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"lock", "other"}}
	nodes := rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"nodes"}}
	a := rbac.NewAuthorizer(rbac.Objects{
		ClusterRoles: []rbacv1.ClusterRole{clusterRole("edit", edit), clusterRole("lock", named), clusterRole("nodes", nodes)},
		RoleBindings: []rbacv1.RoleBinding{
			roleBinding("shop", "web-edit", "ClusterRole", "edit", sa("shop", "web")),
			roleBinding("data", "web-edit", "ClusterRole", "edit", sa("shop", "web")),
			roleBinding("shop", "web-lock", "ClusterRole", "lock", sa("shop", "web")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{clusterRoleBinding("web-nodes", "nodes", sa("shop", "web"))},
	})
	web := "system:serviceaccount:shop:web"
	u := usageFromReqs(
		req{user: web, verb: "get", resource: "configmaps", ns: "shop", name: "app-config"},
		req{user: web, verb: "get", resource: "secrets", ns: "shop", name: "web-tls"},
		req{user: web, verb: "list", resource: "pods", ns: "shop"},
		req{user: web, verb: "get", resource: "pods", sub: "log", ns: "data", name: "db-0"},
		req{user: web, verb: "list", resource: "nodes"},
		req{user: web, verb: "list", resource: "configmaps", ns: "shop", code: 403},
	)
	sgs := Suggest(a, u, SuggestOptions{})
	if len(sgs) != 1 {
		t.Fatalf("got %d suggestions, want 1", len(sgs))
	}
	sg := sgs[0]
	got := map[string][]string{}
	for _, r := range sg.Roles {
		for _, rule := range r.Rules {
			got[r.Namespace] = append(got[r.Namespace], ruleString(rule))
		}
	}
	for _, r := range sg.ClusterRoles {
		for _, rule := range r.Rules {
			got["cluster"] = append(got["cluster"], ruleString(rule))
		}
	}
	want := map[string][]string{
		"shop": {"get /configmaps [app-config]", "list,watch /pods", "get /secrets [web-tls]"},
		"data": {"get /pods/log [db-0]"},
		// list nodes was granted; watch was not: no expansion.
		"cluster": {"list /nodes"},
	}
	for k := range want {
		slices.Sort(want[k])
		slices.Sort(got[k])
		if !slices.Equal(got[k], want[k]) {
			t.Errorf("rules in %s = %q, want %q", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("scopes = %v, want %v", got, want)
	}
	if len(sg.Replaces) != 4 {
		t.Errorf("replaces %v, want the 4 bindings", sg.Replaces)
	}
	if sg.Roles[0].Annotations["kubedelta.io/rule-0"] == "" {
		t.Errorf("rules must carry their evidence annotation: %v", sg.Roles[0].Annotations)
	}
	if len(sg.RoleBindings) != len(sg.Roles) || len(sg.ClusterRoleBindings) != len(sg.ClusterRoles) {
		t.Errorf("every role needs its binding")
	}
}

func TestSuggestKeepsNamesWhenGrantIsNamed(t *testing.T) {
	named := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"},
		ResourceNames: []string{"a", "b", "c"}}
	a := rbac.NewAuthorizer(rbac.Objects{
		ClusterRoles: []rbacv1.ClusterRole{clusterRole("named", named)},
		RoleBindings: []rbacv1.RoleBinding{roleBinding("ns", "x", "ClusterRole", "named", user("u"))},
	})
	u := usageFromReqs(req{user: "u", verb: "get", resource: "configmaps", ns: "ns", name: "a"},
		req{user: "u", verb: "get", resource: "configmaps", ns: "ns", name: "b"})
	sgs := Suggest(a, u, SuggestOptions{MaxNames: 1})
	if len(sgs) != 1 || len(sgs[0].Roles) != 1 {
		t.Fatalf("suggestions = %+v", sgs)
	}
	if got := ruleString(sgs[0].Roles[0].Rules[0]); got != "get /configmaps [a,b]" {
		t.Errorf("rule = %q: names must stay when dropping them would widen today's grant", got)
	}
}

func ruleString(r rbacv1.PolicyRule) string {
	s := strings.Join(r.Verbs, ",") + " " + strings.Join(r.APIGroups, ",") + "/" + strings.Join(r.Resources, ",") + strings.Join(r.NonResourceURLs, ",")
	if len(r.ResourceNames) > 0 {
		s += " [" + strings.Join(r.ResourceNames, ",") + "]"
	}
	return s
}
