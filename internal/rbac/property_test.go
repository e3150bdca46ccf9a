package rbac

import (
	"math/rand/v2"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// refGrant is what the reference visitor yields.
type refGrant struct {
	binding Ref
	role    Ref
	rule    int
	subject int
}

// refVisit is a literal transcription of DefaultRuleResolver.VisitRulesFor
// and appliesTo/appliesToUser (k8s.io/kubernetes
// pkg/registry/rbac/validation/rule.go) over the raw objects, with no index:
// the oracle the indexed Authorizer must agree with. Effective rules come
// from a.EffectiveRules (aggregation is tested on its own).
func refVisit(a *Authorizer, o Objects, user string, groups []string, namespace string, fn func(refGrant) bool) {
	groups = ImpliedGroups(user, groups)
	appliesToUser := func(s rbacv1.Subject, ns string) bool {
		switch s.Kind {
		case rbacv1.UserKind:
			return user == s.Name
		case rbacv1.GroupKind:
			return slices.Contains(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			saNS := ns
			if s.Namespace != "" {
				saNS = s.Namespace
			}
			if saNS == "" {
				return false
			}
			return user == ServiceAccountUserPrefix+saNS+":"+s.Name
		}
		return false
	}
	appliesTo := func(subjects []rbacv1.Subject, ns string) (int, bool) {
		for i, s := range subjects {
			if appliesToUser(s, ns) {
				return i, true
			}
		}
		return 0, false
	}
	rulesOf := func(rr rbacv1.RoleRef, ns string) (Ref, []rbacv1.PolicyRule, bool) {
		var ref Ref
		switch rr.Kind {
		case KindRole:
			if ns == "" {
				return ref, nil, false
			}
			ref = Ref{Kind: KindRole, Namespace: ns, Name: rr.Name}
		case KindClusterRole:
			ref = Ref{Kind: KindClusterRole, Name: rr.Name}
		default:
			return ref, nil, false
		}
		rules, ok := a.EffectiveRules(ref)
		return ref, rules, ok
	}
	for _, b := range o.ClusterRoleBindings {
		si, ok := appliesTo(b.Subjects, "")
		if !ok {
			continue
		}
		ref, rules, ok := rulesOf(b.RoleRef, "")
		if !ok {
			continue
		}
		for i := range rules {
			if !fn(refGrant{Ref{Kind: KindClusterRoleBinding, Name: b.Name}, ref, i, si}) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	for _, b := range o.RoleBindings {
		if b.Namespace != namespace {
			continue
		}
		si, ok := appliesTo(b.Subjects, namespace)
		if !ok {
			continue
		}
		ref, rules, ok := rulesOf(b.RoleRef, namespace)
		if !ok {
			continue
		}
		for i := range rules {
			if !fn(refGrant{Ref{Kind: KindRoleBinding, Namespace: b.Namespace, Name: b.Name}, ref, i, si}) {
				return
			}
		}
	}
}

// identityOf returns an identity that a subject applies to and that no
// other unrelated subject names.
func identityOf(s Subject) (string, []string) {
	switch s.Kind {
	case rbacv1.GroupKind:
		if s.Name == GroupUnauthenticated {
			return UserAnonymous, nil
		}
		return "probe-user-not-bound", []string{s.Name}
	default:
		return s.UserName(), nil
	}
}

// TestAuthorizerMatchesReference runs random requests over generated
// clusters and checks, for each: Authorize agrees with the reference visitor
// (same allowing binding, role and rule); Allowed == (MatchingGrants
// non-empty || system:masters); MatchingGrants lists exactly the reference's
// allowing rules; WhoCan names exactly the subjects that match allowed
// identities; and every subject WhoCan names is allowed when it asks.
func TestAuthorizerMatchesReference(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	requests := 3000
	if testing.Short() {
		seeds, requests = seeds[:1], 500
	}
	for _, seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 99))
		c := genConfig{namespaces: 6, roles: 30, clusterRoles: 40, roleBindings: 120, clusterRoleBindings: 40, users: 15, groups: 6, sas: 4, oddities: true}
		o := genCluster(rng, c) // names are unique: the reference does not dedupe
		a := NewAuthorizer(o)
		allowed, viaRoleBinding, denied := 0, 0, 0
		for i := 0; i < requests; i++ {
			r := genRequest(rng, c)
			d := a.Authorize(r)
			masters := slices.Contains(r.Groups, GroupMasters)

			var first *refGrant
			var all []refGrant
			refVisit(a, o, r.User, r.Groups, r.Namespace, func(g refGrant) bool {
				rules, _ := a.EffectiveRules(g.role)
				if RuleAllows(rules[g.rule], r) {
					if first == nil {
						first = &g
					}
					all = append(all, g)
				}
				return true
			})
			switch {
			case masters:
				if !d.Allowed || d.Binding != nil {
					t.Fatalf("seed %d: masters request %+v: %+v", seed, r, d)
				}
			case first == nil:
				denied++
				if d.Allowed {
					t.Fatalf("seed %d: %+v allowed by %+v/%+v#%d, reference denies", seed, r, *d.Binding, *d.Role, d.RuleIndex)
				}
			default:
				allowed++
				if first.binding.Kind == KindRoleBinding {
					viaRoleBinding++
				}
				if !d.Allowed || *d.Binding != first.binding || *d.Role != first.role || d.RuleIndex != first.rule {
					t.Fatalf("seed %d: %+v: got %+v, reference %+v", seed, r, d, *first)
				}
			}

			grants := a.MatchingGrants(r)
			if d.Allowed != (len(grants) > 0 || masters) {
				t.Fatalf("seed %d: %+v: allowed %v but %d grants", seed, r, d.Allowed, len(grants))
			}
			if len(grants) != len(all) {
				t.Fatalf("seed %d: %+v: %d grants, reference %d", seed, r, len(grants), len(all))
			}
			for j, g := range grants {
				if g.Binding != all[j].binding || g.Role != all[j].role || g.RuleIndex != all[j].rule {
					t.Fatalf("seed %d: %+v: grant %d = %+v, reference %+v", seed, r, j, g, all[j])
				}
				if !g.Subject.Matches(r.User, r.Groups) {
					t.Fatalf("seed %d: grant subject %v does not match %s %v", seed, g.Subject, r.User, r.Groups)
				}
			}

			who := a.WhoCan(r)
			matched := false
			for _, e := range who {
				if e.Subject.Matches(r.User, r.Groups) {
					matched = true
					break
				}
			}
			if matched != d.Allowed {
				t.Fatalf("seed %d: %+v: allowed %v, but a WhoCan subject matches: %v", seed, r, d.Allowed, matched)
			}
			if i%20 == 0 { // sampled: ask as each subject WhoCan names
				for _, e := range who {
					user, groups := identityOf(e.Subject)
					q := r
					q.User, q.Groups = user, groups
					if !a.Authorize(q).Allowed {
						t.Fatalf("seed %d: WhoCan(%+v) names %v, but it is denied", seed, r, e.Subject)
					}
				}
				// and a subject it does not name is denied unless it gets the
				// permission through an implied group WhoCan does name
				for _, s := range a.Subjects() {
					user, groups := identityOf(s)
					q := r
					q.User, q.Groups = user, groups
					allowed := a.Authorize(q).Allowed
					named := false
					for _, e := range who {
						if e.Subject.Matches(user, groups) {
							named = true
						}
					}
					if allowed != named {
						t.Fatalf("seed %d: %v asking %+v: allowed %v, WhoCan match %v", seed, s, r, allowed, named)
					}
				}
			}
		}
		// the generator must exercise both outcomes and both binding kinds
		if allowed < requests/20 || denied < requests/20 || viaRoleBinding < requests/100 {
			t.Errorf("seed %d: weak sample: %d allowed (%d via RoleBinding), %d denied of %d", seed, allowed, viaRoleBinding, denied, requests)
		}
		t.Logf("seed %d: %d allowed (%d via RoleBinding), %d denied of %d", seed, allowed, viaRoleBinding, denied, requests)
	}
}
