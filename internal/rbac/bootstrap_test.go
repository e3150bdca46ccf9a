package rbac

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// bootstrapWith returns the default policy plus extra bindings.
func bootstrapWith(t testing.TB, rbs ...rbacv1.RoleBinding) *Authorizer {
	o := bootstrapObjects(t)
	o.RoleBindings = append(o.RoleBindings, rbs...)
	return NewAuthorizer(o)
}

// TestBootstrapPolicy checks the real default roles of a cluster (see
// testdata/bootstrap/README.md). The expectations restate what
// k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
// grants, and the aggregation of view → edit → admin that
// pkg/controller/clusterroleaggregation performs in a running cluster.
func TestBootstrapPolicy(t *testing.T) {
	a := bootstrapWith(t,
		rb("a", "admins", KindClusterRole, "admin", "User:alice"),
		rb("a", "editors", KindClusterRole, "edit", "User:ed"),
		rb("a", "viewers", KindClusterRole, "view", "Group:auditors"),
	)
	if p := a.Problems(); len(p) != 0 {
		t.Errorf("the default policy has problems:\n%s", strings.Join(p, "\n"))
	}
	tests := []struct {
		req  Request
		want bool
	}{
		// admin: namespace owner, confined to the binding's namespace
		{res("alice", "", "get", "apps", "deployments", "a", "web"), true},
		{res("alice", "", "get", "apps", "deployments", "b", "web"), false},
		{res("alice", "", "create", "rbac.authorization.k8s.io", "roles", "a", ""), true},
		{res("alice", "", "create", "rbac.authorization.k8s.io", "rolebindings", "a", ""), true},
		{res("alice", "", "create", "authorization.k8s.io", "localsubjectaccessreviews", "a", ""), true},
		{res("alice", "", "list", "", "secrets", "a", ""), true},
		{res("alice", "", "delete", "", "namespaces", "", "a"), false},
		{res("alice", "", "list", "", "nodes", "", ""), false},
		// edit: everything but RBAC
		{res("ed", "", "create", "rbac.authorization.k8s.io", "roles", "a", ""), false},
		{res("ed", "", "create", "apps", "deployments", "a", ""), true},
		{res("ed", "", "patch", "apps", "statefulsets/scale", "a", "db"), true},
		{res("ed", "", "get", "", "secrets", "a", "tls"), true},
		{res("ed", "", "create", "", "pods/exec", "a", "p"), true},
		{res("ed", "", "impersonate", "", "serviceaccounts", "a", "default"), true},
		{res("ed", "", "create", "", "serviceaccounts/token", "a", "default"), true},
		{res("ed", "", "get", "", "pods", "b", "p"), false},
		// view: read-only, no secrets, no exec
		{res("vera", "auditors", "get", "", "pods", "a", "p"), true},
		{res("vera", "auditors", "get", "", "pods/log", "a", "p"), true},
		{res("vera", "auditors", "list", "apps", "deployments", "a", ""), true},
		{res("vera", "auditors", "get", "", "secrets", "a", "tls"), false},
		{res("vera", "auditors", "list", "", "secrets", "a", ""), false},
		{res("vera", "auditors", "create", "", "pods/exec", "a", "p"), false},
		{res("vera", "auditors", "update", "", "configmaps", "a", "c"), false},
		// everyone authenticated: discovery and self reviews
		{nonRes("anyone", "", "get", "/api"), true},
		{nonRes("anyone", "", "get", "/apis/apps/v1"), true},
		{nonRes("anyone", "", "get", "/openapi/v3"), true},
		{nonRes("anyone", "", "get", "/metrics"), false},
		{res("anyone", "", "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), true},
		{res("anyone", "", "create", "authentication.k8s.io", "selfsubjectreviews", "", ""), true},
		{res("anyone", "", "list", "", "pods", "default", ""), false},
		// anonymous: only public info
		{nonRes("system:anonymous", "", "get", "/healthz"), true},
		{nonRes("system:anonymous", "system:unauthenticated", "get", "/version"), true},
		{nonRes("system:anonymous", "", "get", "/api"), false},
		{res("system:anonymous", "", "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), false},
		// service accounts: OIDC discovery via system:serviceaccounts
		{nonRes("system:serviceaccount:default:app", "", "get", "/openid/v1/jwks"), true},
		{nonRes("alice", "", "get", "/openid/v1/jwks"), false},
		{res("system:serviceaccount:default:app", "", "list", "", "pods", "default", ""), false},
		// monitoring group
		{nonRes("prom", "system:monitoring", "get", "/metrics"), true},
		{nonRes("prom", "system:monitoring", "get", "/livez/etcd"), true},
		// control-plane users
		{res("system:kube-scheduler", "", "create", "", "pods/binding", "a", "p"), true},
		{res("system:kube-scheduler", "", "update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler"), true},
		// any lease in kube-system through the namespaced leader-locking Role...
		{res("system:kube-scheduler", "", "update", "coordination.k8s.io", "leases", "kube-system", "other"), true},
		// ...elsewhere only the one named kube-scheduler
		{res("system:kube-scheduler", "", "update", "coordination.k8s.io", "leases", "default", "other"), false},
		{res("system:kube-scheduler", "", "list", "", "secrets", "", ""), false},
		{res("system:kube-controller-manager", "", "list", "", "secrets", "", ""), true},
		{res("system:kube-controller-manager", "", "watch", "apps", "deployments", "a", ""), true},
		{res("system:kube-controller-manager", "", "delete", "apps", "deployments", "a", "d"), false},
		{res("system:kube-controller-manager", "", "get", "", "configmaps", "kube-system", "extension-apiserver-authentication"), true},
		{res("system:kube-proxy", "", "list", "discovery.k8s.io", "endpointslices", "", ""), true},
		{res("system:serviceaccount:kube-system:kube-dns", "", "watch", "", "services", "", ""), true},
		{res("system:serviceaccount:kube-system:token-cleaner", "", "delete", "", "secrets", "kube-system", "t"), true},
		{res("system:serviceaccount:kube-system:token-cleaner", "", "delete", "", "secrets", "default", "t"), false},
		// system:node keeps its binding without subjects (the Node authorizer took over)
		{res("system:node:n1", "system:nodes", "get", "", "pods", "a", "p"), false},
		// system:masters, through the privileged-group authorizer and the cluster-admin binding
		{res("root", "system:masters", "delete", "", "nodes", "", "n1"), true},
	}
	for _, tt := range tests {
		d := a.Authorize(tt.req)
		if d.Allowed != tt.want {
			t.Errorf("Authorize(%+v) = %v (%s), want %v", tt.req, d.Allowed, d.Reason, tt.want)
		}
	}
}

func TestBootstrapAggregationChain(t *testing.T) {
	a := NewAuthorizer(bootstrapObjects(t))
	get := func(name string) []rbacv1.PolicyRule {
		rules, ok := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: name})
		if !ok || len(rules) == 0 {
			t.Fatalf("ClusterRole %s: %d rules, found %v", name, len(rules), ok)
		}
		return rules
	}
	view, edit, admin := get("view"), get("edit"), get("admin")
	for _, pair := range []struct {
		small, big []rbacv1.PolicyRule
		name       string
	}{{view, edit, "view ⊆ edit"}, {edit, admin, "edit ⊆ admin"}} {
		for _, r := range pair.small {
			if !containsRule(pair.big, r) {
				t.Errorf("%s: %v missing", pair.name, r)
			}
		}
	}
	agg := func(name string) int {
		rules, _ := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: name})
		return len(rules)
	}
	// the aggregate-to-* roles share no rule, so the sizes add up
	if got, want := len(admin), agg("system:aggregate-to-admin")+agg("system:aggregate-to-edit")+agg("system:aggregate-to-view"); got != want {
		t.Errorf("admin has %d rules, want %d", got, want)
	}
	// the rules come from the aggregated roles in name order: "edit" sorts
	// before "system:aggregate-to-admin", so admin starts with edit's rules,
	// which start with system:aggregate-to-edit's.
	first, _ := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: "system:aggregate-to-edit"})
	if !ruleEqual(admin[0], edit[0]) || !ruleEqual(edit[0], first[0]) {
		t.Errorf("admin[0] = %v, edit[0] = %v, want both %v", admin[0], edit[0], first[0])
	}
}

func TestBootstrapWhoCan(t *testing.T) {
	a := NewAuthorizer(bootstrapObjects(t))
	var got []string
	for _, e := range a.WhoCan(res("", "", "list", "", "secrets", "", "")) {
		got = append(got, e.Subject.String()+" "+e.Binding.Name)
	}
	want := []string{"Group::system:masters ", "Group::system:masters cluster-admin", "User::system:kube-controller-manager system:kube-controller-manager"}
	if !slices.Equal(got, want) {
		t.Errorf("who can list secrets = %q, want %q", got, want)
	}
	got = nil
	for _, e := range a.WhoCan(nonRes("", "", "get", "/healthz")) {
		got = append(got, e.Subject.String())
	}
	for _, s := range []string{"Group::system:authenticated", "Group::system:unauthenticated", "Group::system:monitoring"} {
		if !slices.Contains(got, s) {
			t.Errorf("who can get /healthz lacks %s: %v", s, got)
		}
	}
}

// TestBootstrapRisks records the catalogue entries each default ClusterRole
// grants cluster-wide (golden file; go test -run TestBootstrapRisks -update).
func TestBootstrapRisks(t *testing.T) {
	o := bootstrapObjects(t)
	a := NewAuthorizer(o)
	var names []string
	for _, cr := range o.ClusterRoles {
		names = append(names, cr.Name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		rules, _ := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: name})
		seen := map[string]Severity{}
		for _, r := range rules {
			for _, risk := range RulesRisks(r, "") {
				if s, ok := seen[risk.ID]; !ok || risk.Severity > s {
					seen[risk.ID] = risk.Severity
				}
			}
		}
		ids := make([]string, 0, len(seen))
		for id, s := range seen {
			ids = append(ids, fmt.Sprintf("%s(%s)", id, s))
		}
		slices.Sort(ids)
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(ids, " "))
	}
	out := b.String()
	// spot checks that do not depend on the golden file
	for _, want := range []string{
		"\ncluster-admin: ",
		"wildcard-all(critical)",
		"system:kube-controller-manager: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("risk listing lacks %q", want)
		}
	}
	line := func(role string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, role+": ") {
				return l
			}
		}
		return ""
	}
	for role, ids := range map[string][]string{
		"cluster-admin":                  {"secrets-list(critical)", "rbac-escalate(critical)", "nodes-proxy(critical)", "impersonate-users(critical)", "nonresource-wildcard(low)"},
		"system:kube-controller-manager": {"secrets-list(critical)", "serviceaccounts-token(critical)"},
		"edit":                           {"pods-exec(critical)", "secrets-get(high)", "impersonate-serviceaccounts(critical)"},
		"system:kubelet-api-admin":       {"nodes-proxy(critical)"},
	} {
		l := line(role)
		for _, id := range ids {
			if !strings.Contains(l, " "+id) {
				t.Errorf("%s lacks %s: %q", role, id, l)
			}
		}
	}
	if l := line("view"); strings.Contains(l, "secrets") || strings.Contains(l, "exec") {
		t.Errorf("view should grant no secret or exec risk: %q", l)
	}
	if l := line("edit"); strings.Contains(l, "rbac-") {
		t.Errorf("edit should grant no RBAC write: %q", l)
	}
	checkGolden(t, "bootstrap-risks.golden", []byte(out))
}
