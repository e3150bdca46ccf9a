package rbac

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAuthorizer mirrors k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac_test.go
// TestAuthorizer (first and non-resource-URL cases) and extends it with the
// binding semantics of pkg/registry/rbac/validation/rule.go (VisitRulesFor,
// appliesTo, appliesToUser) and rule_test.go TestAppliesTo.
func TestAuthorizer(t *testing.T) {
	tests := []struct {
		name       string
		objects    Objects
		shouldPass []Request
		shouldFail []Request
	}{
		{
			name: "RoleBinding to ClusterRole grants only in its namespace",
			objects: Objects{
				ClusterRoles: []rbacv1.ClusterRole{clusterRole("admin", rule("*", "*", "*", "*"))},
				RoleBindings: []rbacv1.RoleBinding{rb("ns1", "b", KindClusterRole, "admin", "User:admin", "Group:admins")},
			},
			shouldPass: []Request{
				res("admin", "", "get", "", "Pods", "ns1", ""),
				res("admin", "", "watch", "", "Pods", "ns1", ""),
				res("admin", "group1", "watch", "", "Foobar", "ns1", ""),
				res("joe", "admins", "watch", "", "Foobar", "ns1", ""),
				res("joe", "group1,admins", "watch", "", "Foobar", "ns1", ""),
			},
			shouldFail: []Request{
				res("admin", "", "GET", "", "Pods", "ns2", ""),
				res("admin", "", "GET", "", "Nodes", "", ""),
				res("admin", "admins", "GET", "", "Pods", "ns2", ""),
				res("admin", "admins", "GET", "", "Nodes", "", ""),
				// cluster-scoped request: RoleBindings never apply
				res("admin", "", "list", "", "namespaces", "", ""),
				// non-resource URLs are only granted through ClusterRoleBindings
				nonRes("admin", "", "get", "/healthz"),
				{User: "admin", Verb: "get", Path: "/healthz", Namespace: "ns1"},
			},
		},
		{
			name: "non-resource URLs",
			objects: Objects{
				ClusterRoles: []rbacv1.ClusterRole{
					clusterRole("non-resource-url-getter", rule("get", "", "", "/apis")),
					clusterRole("non-resource-url", rule("*", "", "", "/apis")),
					clusterRole("non-resource-url-prefix", rule("get", "", "", "/apis/*")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("b1", "non-resource-url-getter", "User:foo", "Group:bar"),
					crb("b2", "non-resource-url", "User:admin", "Group:admin"),
					crb("b3", "non-resource-url-prefix", "User:prefixed", "Group:prefixed"),
				},
			},
			shouldPass: []Request{
				nonRes("foo", "", "get", "/apis"),
				nonRes("", "bar", "get", "/apis"),
				nonRes("admin", "", "get", "/apis"),
				nonRes("", "admin", "watch", "/apis"),
				nonRes("prefixed", "", "get", "/apis/v1"),
				nonRes("", "prefixed", "get", "/apis/v1/foobar"),
			},
			shouldFail: []Request{
				nonRes("foo", "", "watch", "/apis"),
				nonRes("", "bar", "watch", "/apis"),
				nonRes("foo", "", "get", "/api/v1"),
				nonRes("admin", "", "get", "/api/v1"),
				nonRes("prefixed", "", "get", "/api/v1"),
				nonRes("prefixed", "", "get", "/apis"),
			},
		},
		{
			name: "Role referenced from its own namespace only",
			objects: Objects{
				Roles: []rbacv1.Role{role("ns1", "reader", rule("get,list", "", "configmaps", ""))},
				RoleBindings: []rbacv1.RoleBinding{
					rb("ns1", "b", KindRole, "reader", "User:alice"),
					// a binding in ns2 to "reader" looks for Role ns2/reader, which does not exist
					rb("ns2", "b", KindRole, "reader", "User:alice"),
				},
			},
			shouldPass: []Request{res("alice", "", "list", "", "configmaps", "ns1", "")},
			shouldFail: []Request{
				res("alice", "", "list", "", "configmaps", "ns2", ""),
				res("alice", "", "delete", "", "configmaps", "ns1", ""),
				res("bob", "", "list", "", "configmaps", "ns1", ""),
			},
		},
		{
			name: "ClusterRoleBinding grants everywhere, cluster-scoped included",
			objects: Objects{
				ClusterRoles:        []rbacv1.ClusterRole{clusterRole("node-reader", rule("get,list", "", "nodes,pods", ""))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "node-reader", "Group:ops")},
			},
			shouldPass: []Request{
				res("carol", "ops", "list", "", "nodes", "", ""),
				res("carol", "ops", "list", "", "pods", "", ""),
				res("carol", "ops", "get", "", "pods", "any", "p"),
			},
			shouldFail: []Request{
				res("carol", "", "list", "", "nodes", "", ""),
				res("carol", "ops", "delete", "", "nodes", "", "n1"),
			},
		},
		{
			// rule_test.go TestAppliesTo: a ServiceAccount subject without
			// namespace takes the binding's namespace.
			name: "service account subjects",
			objects: Objects{
				ClusterRoles: []rbacv1.ClusterRole{clusterRole("r", rule("get", "", "pods", ""))},
				RoleBindings: []rbacv1.RoleBinding{
					rb("ns1", "implicit", KindClusterRole, "r", "ServiceAccount:/builder"),
					rb("ns1", "explicit-other", KindClusterRole, "r", "ServiceAccount:ns3/deployer"),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("no-namespace", "r", "ServiceAccount:/ghost"),
					crb("sa", "r", "ServiceAccount:kube-system/kube-dns"),
				},
			},
			shouldPass: []Request{
				res("system:serviceaccount:ns1:builder", "", "get", "", "pods", "ns1", "p"),
				// a binding in ns1 may name a service account of another namespace; it is granted in ns1
				res("system:serviceaccount:ns3:deployer", "", "get", "", "pods", "ns1", "p"),
				res("system:serviceaccount:kube-system:kube-dns", "", "get", "", "pods", "", ""),
				res("system:serviceaccount:kube-system:kube-dns", "", "get", "", "pods", "ns9", "p"),
			},
			shouldFail: []Request{
				res("system:serviceaccount:ns2:builder", "", "get", "", "pods", "ns1", "p"),
				res("system:serviceaccount:ns1:builder", "", "get", "", "pods", "ns2", "p"),
				res("system:serviceaccount:ns3:deployer", "", "get", "", "pods", "ns3", "p"),
				// namespace-less SA subject in a ClusterRoleBinding never matches
				res("system:serviceaccount::ghost", "", "get", "", "pods", "", ""),
				res("system:serviceaccount:default:ghost", "", "get", "", "pods", "default", "p"),
				// the SA user name must match exactly
				res("system:serviceaccount:ns1:builder:x", "", "get", "", "pods", "ns1", "p"),
				res("builder", "", "get", "", "pods", "ns1", "p"),
			},
		},
		{
			name: "implied groups",
			objects: Objects{
				ClusterRoles: []rbacv1.ClusterRole{
					clusterRole("authn", rule("get", "", "", "/authn")),
					clusterRole("unauthn", rule("get", "", "", "/unauthn")),
					clusterRole("all-sa", rule("get", "", "", "/all-sa")),
					clusterRole("ns-sa", rule("get", "", "pods", "")),
				},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
					crb("a", "authn", "Group:system:authenticated"),
					crb("u", "unauthn", "Group:system:unauthenticated"),
					crb("s", "all-sa", "Group:system:serviceaccounts"),
					crb("n", "ns-sa", "Group:system:serviceaccounts:team-a"),
				},
			},
			shouldPass: []Request{
				nonRes("alice", "", "get", "/authn"),
				nonRes("alice", "dev", "get", "/authn"),
				nonRes("system:anonymous", "", "get", "/unauthn"),
				nonRes("system:anonymous", "system:unauthenticated", "get", "/unauthn"),
				nonRes("system:serviceaccount:team-a:x", "", "get", "/all-sa"),
				nonRes("system:serviceaccount:team-a:x", "", "get", "/authn"),
				res("system:serviceaccount:team-a:x", "", "get", "", "pods", "", ""),
				// explicit groups count too
				res("bob", "system:serviceaccounts:team-a", "get", "", "pods", "", ""),
			},
			shouldFail: []Request{
				nonRes("system:anonymous", "", "get", "/authn"),
				nonRes("alice", "", "get", "/unauthn"),
				// an unauthenticated identity does not get system:authenticated added
				nonRes("someone", "system:unauthenticated", "get", "/authn"),
				nonRes("alice", "", "get", "/all-sa"),
				res("system:serviceaccount:team-b:x", "", "get", "", "pods", "", ""),
				// a malformed service-account name implies nothing
				nonRes("system:serviceaccount:team-a", "", "get", "/all-sa"),
			},
		},
		{
			name:    "system:masters is allowed everything without bindings",
			objects: Objects{},
			shouldPass: []Request{
				res("root", "system:masters", "delete", "", "nodes", "", "n1"),
				nonRes("root", "x,system:masters", "get", "/anything"),
			},
			shouldFail: []Request{
				res("root", "", "delete", "", "nodes", "", "n1"),
				res("system:masters", "", "delete", "", "nodes", "", "n1"),
			},
		},
		{
			name: "bindings to missing roles grant nothing",
			objects: Objects{
				ClusterRoles:        []rbacv1.ClusterRole{clusterRole("present", rule("get", "", "pods", ""))},
				ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("missing", "absent", "User:alice"), crb("ok", "present", "User:alice")},
				RoleBindings:        []rbacv1.RoleBinding{rb("ns1", "missing-role", KindRole, "absent", "User:bob")},
			},
			shouldPass: []Request{res("alice", "", "get", "", "pods", "ns1", "p")},
			shouldFail: []Request{
				res("alice", "", "list", "", "pods", "ns1", ""),
				res("bob", "", "get", "", "pods", "ns1", "p"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthorizer(tt.objects)
			for _, r := range tt.shouldPass {
				d := a.Authorize(r)
				if !d.Allowed {
					t.Errorf("incorrectly restricted %+v: %s", r, d.Reason)
				}
				if d.Reason == "" {
					t.Errorf("allowed %+v without a reason", r)
				}
				if d.Binding != nil && len(a.MatchingGrants(r)) == 0 {
					t.Errorf("allowed %+v but MatchingGrants is empty", r)
				}
			}
			for _, r := range tt.shouldFail {
				if d := a.Authorize(r); d.Allowed {
					t.Errorf("incorrectly passed %+v: %s", r, d.Reason)
				}
				if g := a.MatchingGrants(r); len(g) != 0 {
					t.Errorf("denied %+v but MatchingGrants = %+v", r, g)
				}
			}
		})
	}
}

// TestDecisionNamesFirstRule checks the visiting order of VisitRulesFor:
// ClusterRoleBindings first, then RoleBindings of the namespace, each in
// order; rules in role order; the first subject that applies is reported.
func TestDecisionNamesFirstRule(t *testing.T) {
	o := Objects{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole("reader", rule("list", "", "secrets", ""), rule("get", "", "pods", ""), rule("get,list", "", "pods", "")),
		},
		Roles: []rbacv1.Role{role("ns1", "local", rule("get", "", "pods", ""))},
		RoleBindings: []rbacv1.RoleBinding{
			rb("ns1", "local", KindRole, "local", "User:alice"),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			crb("unrelated", "reader", "User:bob"),
			crb("via-group", "reader", "User:zed", "Group:devs", "User:alice"),
		},
	}
	a := NewAuthorizer(o)
	d := a.Authorize(res("alice", "devs", "get", "", "pods", "ns1", "p"))
	if !d.Allowed || d.Binding == nil || d.Role == nil {
		t.Fatalf("decision %+v", d)
	}
	if want := (Ref{Kind: KindClusterRoleBinding, Name: "via-group"}); *d.Binding != want {
		t.Errorf("binding %+v, want %+v", *d.Binding, want)
	}
	if want := (Ref{Kind: KindClusterRole, Name: "reader"}); *d.Role != want {
		t.Errorf("role %+v, want %+v", *d.Role, want)
	}
	if d.RuleIndex != 1 {
		t.Errorf("rule index %d, want 1", d.RuleIndex)
	}
	// upstream's reason format; the first applying subject is the group
	if want := `RBAC: allowed by ClusterRoleBinding "via-group" of ClusterRole "reader" to Group "devs"`; d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}

	grants := a.MatchingGrants(res("alice", "devs", "get", "", "pods", "ns1", "p"))
	var got []string
	for _, g := range grants {
		got = append(got, g.Binding.Name+"#"+string(rune('0'+g.RuleIndex))+"@"+g.Namespace+":"+g.Subject.String())
	}
	want := []string{"via-group#1@:Group::devs", "via-group#2@:Group::devs", "local#0@ns1:User::alice"}
	if !slices.Equal(got, want) {
		t.Errorf("MatchingGrants = %v, want %v", got, want)
	}
}

func TestDeniedReasonReportsMissingRoles(t *testing.T) {
	a := NewAuthorizer(Objects{ClusterRoleBindings: []rbacv1.ClusterRoleBinding{crb("b", "gone", "User:alice")}})
	d := a.Authorize(res("alice", "", "get", "", "pods", "ns", "p"))
	if d.Allowed || !strings.Contains(d.Reason, `clusterrole.rbac.authorization.k8s.io "gone" not found`) {
		t.Errorf("decision %+v, want a denial naming the missing role", d)
	}
	if d := a.Authorize(res("bob", "", "get", "", "pods", "ns", "p")); d.Reason != "" {
		t.Errorf("unrelated user got reason %q", d.Reason)
	}
}

func TestProblems(t *testing.T) {
	o := Objects{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole("dup"), clusterRole("dup"),
			{ObjectMeta: metav1.ObjectMeta{Name: "bad-agg"}, AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"bad key!": "x"}}}}},
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			crb("to-missing", "nope", "User:a"),
			crb("sa-no-ns", "dup", "ServiceAccount:/x"),
			{ObjectMeta: metav1.ObjectMeta{Name: "to-role"}, RoleRef: rbacv1.RoleRef{Kind: KindRole, Name: "r"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "weird-subject"}, RoleRef: rbacv1.RoleRef{Kind: KindClusterRole, Name: "dup"}, Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r2d2"}}},
		},
		RoleBindings: []rbacv1.RoleBinding{
			rb("ns1", "to-missing-role", KindRole, "nope", "User:a"),
			rb("ns1", "bad-kind", "Secret", "x", "User:a"),
		},
	}
	got := NewAuthorizer(o).Problems()
	for _, want := range []string{
		`ClusterRole "dup" appears more than once`,
		`ClusterRole "bad-agg": aggregationRule.clusterRoleSelectors[0] is invalid`,
		`ClusterRoleBinding "to-missing": clusterrole.rbac.authorization.k8s.io "nope" not found; it grants nothing`,
		`ClusterRoleBinding "sa-no-ns": subjects[0] ServiceAccount "x" has no namespace and never matches`,
		`ClusterRoleBinding "to-role": a ClusterRoleBinding cannot reference Role "r"`,
		`ClusterRoleBinding "weird-subject": subjects[0] has unsupported kind "Robot"`,
		`RoleBinding "ns1/to-missing-role": role.rbac.authorization.k8s.io "nope" not found in namespace "ns1"`,
		`RoleBinding "ns1/bad-kind": unsupported role reference kind "Secret"`,
	} {
		found := false
		for _, p := range got {
			if strings.Contains(p, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("Problems() lacks %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("Problems() not sorted")
	}
}

func TestSubjectsGrantsOfGrantsFor(t *testing.T) {
	o := Objects{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole("r1", rule("get", "", "pods", ""), rule("list", "", "pods", "")),
			clusterRole("r2", rule("get", "", "secrets", "")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			crb("c1", "r1", "Group:devs", "User:alice"),
			{ObjectMeta: metav1.ObjectMeta{Name: "c2", Annotations: map[string]string{AnnotationAutoupdate: "true"}}, RoleRef: rbacv1.RoleRef{Kind: KindClusterRole, Name: "r2"}, Subjects: subjects("User:alice")},
		},
		RoleBindings: []rbacv1.RoleBinding{
			rb("ns1", "system:b", KindClusterRole, "r2", "ServiceAccount:/builder", "User:alice"),
		},
	}
	a := NewAuthorizer(o)
	want := []Subject{
		{Kind: "Group", Name: "devs"},
		{Kind: "ServiceAccount", Namespace: "ns1", Name: "builder"},
		{Kind: "User", Name: "alice"},
	}
	if got := a.Subjects(); !slices.Equal(got, want) {
		t.Errorf("Subjects() = %v, want %v", got, want)
	}

	alice := a.GrantsOf(Subject{Kind: "User", Name: "alice"})
	if len(alice) != 4 {
		t.Fatalf("GrantsOf(alice) = %d grants, want 4: %+v", len(alice), alice)
	}
	if alice[2].Binding.Name != "c2" || !alice[2].System || alice[0].System {
		t.Errorf("System flags wrong: %+v", alice)
	}
	if alice[3].Namespace != "ns1" || !alice[3].System || alice[3].Role != (Ref{Kind: KindClusterRole, Name: "r2"}) {
		t.Errorf("RoleBinding grant %+v", alice[3])
	}
	if g := a.GrantsOf(Subject{Kind: "Group", Name: "devs"}); len(g) != 2 || g[0].Subject.Kind != "Group" {
		t.Errorf("GrantsOf(devs) = %+v", g)
	}
	// not through groups
	if g := a.GrantsOf(Subject{Kind: "User", Name: "bob"}); len(g) != 0 {
		t.Errorf("GrantsOf(bob) = %+v", g)
	}

	// GrantsFor includes group grants and, in ns1, the RoleBinding.
	if g := a.GrantsFor("bob", []string{"devs"}, ""); len(g) != 2 {
		t.Errorf("GrantsFor(bob, devs, \"\") = %+v", g)
	}
	if g := a.GrantsFor("alice", nil, "ns1"); len(g) != 4 || g[3].Binding.Namespace != "ns1" {
		t.Errorf("GrantsFor(alice, ns1) = %+v", g)
	}
	if g := a.GrantsFor("system:serviceaccount:ns1:builder", nil, "ns1"); len(g) != 1 || g[0].Subject.Namespace != "ns1" {
		t.Errorf("GrantsFor(builder) = %+v", g)
	}

	rules, ok := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: "r1"})
	if !ok || len(rules) != 2 {
		t.Errorf("EffectiveRules(r1) = %v, %v", rules, ok)
	}
	rules[0].Verbs[0] = "mutated"
	if again, _ := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: "r1"}); again[0].Verbs[0] != "get" {
		t.Errorf("EffectiveRules returned shared data")
	}
	if _, ok := a.EffectiveRules(Ref{Kind: KindRole, Namespace: "x", Name: "r1"}); ok {
		t.Errorf("EffectiveRules found a Role that does not exist")
	}
}

func TestWhoCan(t *testing.T) {
	o := Objects{
		ClusterRoles: []rbacv1.ClusterRole{
			clusterRole("reader", rule("get,list", "", "pods", "")),
			clusterRole("writer", rule("create", "", "pods", "")),
		},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{
			crb("readers", "reader", "Group:devs", "ServiceAccount:/nobody"),
			crb("writers", "writer", "User:ci"),
		},
		RoleBindings: []rbacv1.RoleBinding{
			rb("ns1", "local", KindClusterRole, "reader", "ServiceAccount:/builder", "User:alice"),
			rb("ns2", "other", KindClusterRole, "reader", "User:bob"),
		},
	}
	a := NewAuthorizer(o)
	got := a.WhoCan(res("ignored", "system:masters", "get", "", "pods", "ns1", "p"))
	want := []WhoCanEntry{
		{Subject: Subject{Kind: "Group", Name: "devs"}, Binding: Ref{Kind: KindClusterRoleBinding, Name: "readers"}, Role: Ref{Kind: KindClusterRole, Name: "reader"}},
		{Subject: Subject{Kind: "Group", Name: "system:masters"}},
		{Subject: Subject{Kind: "ServiceAccount", Namespace: "ns1", Name: "builder"}, Binding: Ref{Kind: KindRoleBinding, Namespace: "ns1", Name: "local"}, Role: Ref{Kind: KindClusterRole, Name: "reader"}},
		{Subject: Subject{Kind: "User", Name: "alice"}, Binding: Ref{Kind: KindRoleBinding, Namespace: "ns1", Name: "local"}, Role: Ref{Kind: KindClusterRole, Name: "reader"}},
	}
	if !slices.Equal(got, want) {
		t.Errorf("WhoCan =\n%v\nwant\n%v", got, want)
	}
	// cluster-scoped: no RoleBindings
	if got := a.WhoCan(res("", "", "list", "", "pods", "", "")); len(got) != 2 {
		t.Errorf("WhoCan cluster-wide = %v", got)
	}
}

// TestConcurrentUse: the Authorizer is read-only after NewAuthorizer (run
// with -race, as CI does).
func TestConcurrentUse(t *testing.T) {
	a := NewAuthorizer(bootstrapObjects(t))
	r := res("system:kube-controller-manager", "", "list", "", "secrets", "", "")
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				ok = ok && a.Authorize(r).Allowed && len(a.MatchingGrants(r)) > 0 && len(a.WhoCan(r)) > 1
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("a concurrent check failed")
		}
	}
}
