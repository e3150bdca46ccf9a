package rbac

import (
	"fmt"
	"math/rand/v2"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// genConfig sizes a generated cluster.
type genConfig struct {
	namespaces          int
	roles               int // namespaced Roles
	clusterRoles        int
	roleBindings        int
	clusterRoleBindings int
	users, groups, sas  int // identity pools (sas per namespace)
	oddities            bool
}

var (
	genVerbs     = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind"}
	genResources = []struct{ group, resource string }{
		{"", "pods"}, {"", "pods/log"}, {"", "pods/exec"}, {"", "pods/status"}, {"", "configmaps"}, {"", "secrets"},
		{"", "services"}, {"", "serviceaccounts"}, {"", "serviceaccounts/token"}, {"", "events"}, {"", "nodes"},
		{"", "namespaces"}, {"", "persistentvolumeclaims"}, {"apps", "deployments"}, {"apps", "deployments/scale"},
		{"apps", "statefulsets"}, {"apps", "replicasets"}, {"batch", "jobs"}, {"batch", "cronjobs"},
		{"networking.k8s.io", "ingresses"}, {"rbac.authorization.k8s.io", "roles"}, {"rbac.authorization.k8s.io", "rolebindings"},
		{"coordination.k8s.io", "leases"}, {"example.com", "widgets"}, {"example.com", "widgets/status"},
	}
	genPaths = []string{"/healthz", "/metrics", "/api", "/apis/apps/v1", "/version", "/logs/x", "/openid/v1/jwks"}
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func genNS(i int) string { return fmt.Sprintf("ns-%03d", i) }

func genRule(rng *rand.Rand, oddities bool) rbacv1.PolicyRule {
	if oddities && rng.IntN(40) == 0 {
		return rbacv1.PolicyRule{Verbs: []string{pick(rng, []string{"get", "*"})}, NonResourceURLs: []string{pick(rng, append([]string{"*", "/apis/*", "/healthz*"}, genPaths...))}}
	}
	var r rbacv1.PolicyRule
	for n := 1 + rng.IntN(3); n > 0; n-- {
		r.Verbs = append(r.Verbs, pick(rng, genVerbs))
	}
	res := pick(rng, genResources)
	r.APIGroups = []string{res.group}
	r.Resources = []string{res.resource}
	for n := rng.IntN(3); n > 0; n-- {
		x := pick(rng, genResources)
		if x.group == res.group {
			r.Resources = append(r.Resources, x.resource)
		}
	}
	if oddities {
		switch rng.IntN(30) {
		case 0:
			r.Verbs = []string{"*"}
		case 1:
			r.APIGroups = []string{"*"}
		case 2:
			r.Resources = []string{"*"}
		case 3:
			r.Resources = append(r.Resources, "*/scale", "*/status")
		case 4:
			r.ResourceNames = []string{"n0", "n1"}
		case 5:
			r.Resources = append(r.Resources, "pods/*")
		}
	}
	return r
}

func genSubject(rng *rand.Rand, c genConfig, ns string) rbacv1.Subject {
	switch x := rng.IntN(10); {
	case x < 4:
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("user-%d", rng.IntN(c.users))}
	case x < 7:
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: fmt.Sprintf("team-%d", rng.IntN(c.groups))}
	default:
		saNS := genNS(rng.IntN(c.namespaces))
		if ns != "" && rng.IntN(2) == 0 {
			saNS = ns
		}
		s := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: saNS, Name: fmt.Sprintf("sa-%d", rng.IntN(c.sas))}
		if c.oddities && ns != "" && saNS == ns && rng.IntN(3) == 0 {
			s.Namespace = "" // defaults to the binding's namespace
		}
		return s
	}
}

func genOddSubject(rng *rand.Rand) rbacv1.Subject {
	return pick(rng, []rbacv1.Subject{
		{Kind: rbacv1.GroupKind, Name: GroupAuthenticated},
		{Kind: rbacv1.GroupKind, Name: GroupUnauthenticated},
		{Kind: rbacv1.GroupKind, Name: GroupServiceAccounts},
		{Kind: rbacv1.GroupKind, Name: ServiceAccountGroupPrefix + genNS(0)},
		{Kind: rbacv1.ServiceAccountKind, Name: "sa-1"}, // no namespace
		{Kind: rbacv1.UserKind, Name: ServiceAccountUserPrefix + genNS(1) + ":sa-2"},
		{Kind: rbacv1.UserKind, Name: UserAnonymous},
		{Kind: "Robot", Name: "r2d2"},
	})
}

// genCluster makes a cluster of the given size, deterministic for a seed.
func genCluster(rng *rand.Rand, c genConfig) Objects {
	var o Objects
	for i := 0; i < c.clusterRoles; i++ {
		cr := rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cr-%d", i), Labels: map[string]string{}}}
		for n := 2 + rng.IntN(6); n > 0; n-- {
			cr.Rules = append(cr.Rules, genRule(rng, c.oddities))
		}
		if c.oddities && i%10 == 0 {
			cr.Labels["agg"] = fmt.Sprint(i / 10 % 3)
		}
		if c.oddities && i%17 == 1 {
			cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"agg": fmt.Sprint(i % 3)}}}}
		}
		o.ClusterRoles = append(o.ClusterRoles, cr)
	}
	for i := 0; i < c.roles; i++ {
		r := rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: genNS(i % c.namespaces), Name: fmt.Sprintf("role-%d", i/c.namespaces)}}
		for n := 2 + rng.IntN(6); n > 0; n-- {
			r.Rules = append(r.Rules, genRule(rng, c.oddities))
		}
		o.Roles = append(o.Roles, r)
	}
	rolesPerNS := max(1, c.roles/c.namespaces)
	for i := 0; i < c.clusterRoleBindings; i++ {
		b := rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("crb-%d", i)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: KindClusterRole, Name: fmt.Sprintf("cr-%d", rng.IntN(c.clusterRoles))},
		}
		for n := 1 + rng.IntN(3); n > 0; n-- {
			b.Subjects = append(b.Subjects, genSubject(rng, c, ""))
		}
		if c.oddities && rng.IntN(15) == 0 {
			b.Subjects = append(b.Subjects, genOddSubject(rng))
		}
		if c.oddities && rng.IntN(40) == 0 {
			b.RoleRef.Name = "missing"
		}
		o.ClusterRoleBindings = append(o.ClusterRoleBindings, b)
	}
	for i := 0; i < c.roleBindings; i++ {
		ns := genNS(rng.IntN(c.namespaces))
		b := rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("rb-%d", i)}}
		if rng.IntN(3) == 0 {
			b.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: KindClusterRole, Name: fmt.Sprintf("cr-%d", rng.IntN(c.clusterRoles))}
		} else {
			b.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: KindRole, Name: fmt.Sprintf("role-%d", rng.IntN(rolesPerNS+1))}
		}
		for n := 1 + rng.IntN(3); n > 0; n-- {
			b.Subjects = append(b.Subjects, genSubject(rng, c, ns))
		}
		if c.oddities && rng.IntN(15) == 0 {
			b.Subjects = append(b.Subjects, genOddSubject(rng))
		}
		o.RoleBindings = append(o.RoleBindings, b)
	}
	return o
}

// genRequest makes a request by a plausible identity of c.
func genRequest(rng *rand.Rand, c genConfig) Request {
	var r Request
	switch x := rng.IntN(20); {
	case x < 8:
		ns := genNS(rng.IntN(c.namespaces))
		r.User = ServiceAccountUserPrefix + ns + ":" + fmt.Sprintf("sa-%d", rng.IntN(c.sas))
		if rng.IntN(2) == 0 {
			r.Groups = []string{GroupServiceAccounts, ServiceAccountGroupPrefix + ns, GroupAuthenticated}
		}
	case x < 17:
		r.User = fmt.Sprintf("user-%d", rng.IntN(c.users))
		for n := rng.IntN(4); n > 0; n-- {
			r.Groups = append(r.Groups, fmt.Sprintf("team-%d", rng.IntN(c.groups)))
		}
	case x < 18:
		r.User = UserAnonymous
	case x < 19:
		r.User, r.Groups = "root", []string{GroupMasters}
	default:
		r.User = fmt.Sprintf("stranger-%d", rng.IntN(100))
	}
	r.Verb = pick(rng, genVerbs[:8])
	if rng.IntN(15) == 0 {
		r.Path = pick(rng, genPaths)
		return r
	}
	res := pick(rng, genResources)
	r.APIGroup = res.group
	r.Resource, r.Subresource = res.resource, ""
	if i := indexByte(res.resource, '/'); i >= 0 {
		r.Resource, r.Subresource = res.resource[:i], res.resource[i+1:]
	}
	if rng.IntN(6) != 0 {
		r.Namespace = genNS(rng.IntN(c.namespaces))
	}
	if r.Verb != "list" && r.Verb != "watch" && r.Verb != "create" && r.Verb != "deletecollection" {
		r.Name = fmt.Sprintf("n%d", rng.IntN(3))
	}
	return r
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
