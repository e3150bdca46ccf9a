package delta

import (
	"fmt"
	"math/rand/v2"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// TestSuggestProperty checks Suggest's two promises over many random
// clusters and audit logs:
//
//	(a) the suggestion allows every request the subject's own grants allowed;
//	(b) the suggestion allows nothing the subject's current grants do not.
func TestSuggestProperty(t *testing.T) {
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "*"}
	groups := []string{"", "apps", "*"}
	resources := []string{"pods", "pods/log", "pods/exec", "secrets", "configmaps", "deployments", "deployments/scale", "*", "*/scale", "nodes"}
	names := []string{"a", "b", "c"}
	nss := []string{"x", "y", "z"}
	users := []string{"alice", "bob", "system:serviceaccount:x:app", "system:serviceaccount:y:ci"}
	subjects := []rbacv1.Subject{user("alice"), user("bob"), sa("x", "app"), sa("y", "ci"),
		{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "devs"}}
	pick := func(r *rand.Rand, s []string, n int) []string {
		out := make([]string, 0, n)
		for range n {
			out = append(out, s[r.IntN(len(s))])
		}
		return out
	}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		var crs []rbacv1.ClusterRole
		for i := range 4 {
			var rules []rbacv1.PolicyRule
			for range 1 + r.IntN(3) {
				rule := rbacv1.PolicyRule{Verbs: pick(r, verbs, 1+r.IntN(3)), APIGroups: pick(r, groups, 1+r.IntN(2)), Resources: pick(r, resources, 1+r.IntN(3))}
				if r.IntN(4) == 0 {
					rule.ResourceNames = pick(r, names, 1+r.IntN(2))
				}
				rules = append(rules, rule)
			}
			crs = append(crs, clusterRole(fmt.Sprintf("r%d", i), rules...))
		}
		objs := rbac.Objects{ClusterRoles: crs}
		for i := range 5 {
			s := subjects[r.IntN(len(subjects))]
			role := fmt.Sprintf("r%d", r.IntN(len(crs)))
			if r.IntN(3) == 0 {
				objs.ClusterRoleBindings = append(objs.ClusterRoleBindings, clusterRoleBinding(fmt.Sprintf("b%d", i), role, s))
			} else {
				objs.RoleBindings = append(objs.RoleBindings, roleBinding(nss[r.IntN(len(nss))], fmt.Sprintf("b%d", i), "ClusterRole", role, s))
			}
		}
		a := rbac.NewAuthorizer(objs)
		var reqs []req
		for range 60 {
			q := req{user: users[r.IntN(len(users))], verb: verbs[r.IntN(len(verbs)-1)], group: groups[r.IntN(2)]}
			if q.user == "bob" {
				q.groups = []string{"devs"}
			}
			res := resources[r.IntN(len(resources))]
			if res == "*" || res == "*/scale" {
				res = "deployments/scale"
			}
			q.resource, q.sub, _ = cut(res)
			if r.IntN(4) > 0 {
				q.ns = nss[r.IntN(len(nss))]
			}
			if r.IntN(2) == 0 && q.verb != "list" && q.verb != "create" {
				q.name = names[r.IntN(len(names))]
			}
			rq := rbac.Request{User: q.user, Groups: q.groups, Verb: q.verb, APIGroup: q.group, Resource: q.resource, Subresource: q.sub, Namespace: q.ns, Name: q.name}
			if !a.Authorize(rq).Allowed {
				q.code = 403
			}
			reqs = append(reqs, q)
		}
		u := usageFromReqs(reqs...)
		at := attribute(a, u)
		for _, sg := range Suggest(a, u, SuggestOptions{MaxNames: 1 + r.IntN(3)}) {
			checkSuggestion(t, seed, a, at, sg)
		}
	}
}

func cut(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func checkSuggestion(t *testing.T, seed uint64, a *rbac.Authorizer, at *attribution, sg Suggestion) {
	t.Helper()
	s := sg.Subject
	na := rbac.NewAuthorizer(rbac.Objects{Roles: sg.Roles, ClusterRoles: sg.ClusterRoles, RoleBindings: sg.RoleBindings, ClusterRoleBindings: sg.ClusterRoleBindings})
	grants := a.GrantsOf(s)
	// (a)
	for _, g := range grants {
		for _, i := range at.byGrant[grantKey{s, g.Binding, g.RuleIndex}] {
			if !g.System && allowedByDefaults(at.allowed[i], s) {
				continue // left to the default binding, by design
			}
			e := at.entries[i]
			groups := []string(nil)
			if s.Kind == rbacv1.GroupKind {
				groups = []string{s.Name}
			}
			rq := requestOf(e.APIKey, groups)
			if s.Kind == rbacv1.GroupKind {
				rq.User = "someone-in-the-group"
			}
			if !na.Authorize(rq).Allowed {
				t.Errorf("seed %d: %s: suggestion does not allow used request %+v", seed, s, rq)
			}
		}
	}
	// (b): every atom a suggested rule allows is allowed by today's grants.
	check := func(scope string, rule rbacv1.PolicyRule) {
		for _, v := range rule.Verbs {
			if len(rule.NonResourceURLs) > 0 {
				for _, p := range rule.NonResourceURLs {
					if !covered(grants, rbac.Request{Verb: v, Path: p}) {
						t.Errorf("seed %d: %s: suggestion grants %s %s beyond today's grants", seed, s, v, p)
					}
				}
				continue
			}
			for _, res := range rule.Resources {
				ns := rule.ResourceNames
				if len(ns) == 0 {
					ns = []string{""}
				}
				for _, n := range ns {
					rq := atomRequest(atom{scope: scope, group: rule.APIGroups[0], resource: res}, v, n)
					if !covered(grants, rq) {
						t.Errorf("seed %d: %s: suggestion grants %+v beyond today's grants", seed, s, rq)
					}
				}
			}
		}
	}
	for _, r := range sg.Roles {
		for _, rule := range r.Rules {
			check(r.Namespace, rule)
		}
	}
	for _, r := range sg.ClusterRoles {
		for _, rule := range r.Rules {
			check("", rule)
		}
	}
}
