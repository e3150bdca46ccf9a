package rbac

import (
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Well-known user and group names (k8s.io/apiserver/pkg/authentication/user and
// .../serviceaccount).
const (
	// GroupMasters is the privileged group: the kube-apiserver's
	// privileged-group authorizer allows it everything before RBAC runs.
	GroupMasters = "system:masters"
	// GroupAuthenticated is added to every authenticated user.
	GroupAuthenticated = "system:authenticated"
	// GroupUnauthenticated is the group of the anonymous user.
	GroupUnauthenticated = "system:unauthenticated"
	// UserAnonymous is the user name of unauthenticated requests.
	UserAnonymous = "system:anonymous"
	// GroupServiceAccounts contains every service account.
	GroupServiceAccounts = "system:serviceaccounts"
	// ServiceAccountGroupPrefix prefixes the per-namespace service-account group.
	ServiceAccountGroupPrefix = "system:serviceaccounts:"
	// ServiceAccountUserPrefix prefixes service-account user names
	// (system:serviceaccount:NAMESPACE:NAME).
	ServiceAccountUserPrefix = "system:serviceaccount:"
)

// ErrInvalidSubject is returned by ParseSubject for malformed input.
var ErrInvalidSubject = errors.New("invalid RBAC subject")

// Subject is a binding subject: Kind is one of the rbacv1 kinds User, Group or
// ServiceAccount; Namespace is set only for ServiceAccount.
type Subject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String renders s as KIND:NAMESPACE:NAME, e.g. "ServiceAccount:ns:name" or
// "User::alice"; ParseSubject reverses it.
func (s Subject) String() string {
	return s.Kind + ":" + s.Namespace + ":" + s.Name
}

// UserName is the user name a ServiceAccount subject authenticates as
// (system:serviceaccount:NS:NAME); for a User it is the name; for a Group it
// is empty.
func (s Subject) UserName() string {
	switch s.Kind {
	case rbacv1.UserKind:
		return s.Name
	case rbacv1.ServiceAccountKind:
		return ServiceAccountUserPrefix + s.Namespace + ":" + s.Name
	}
	return ""
}

// ParseSubject parses "KIND:NAMESPACE:NAME". The kind is case-insensitive and
// may be abbreviated: user|u, group|g, serviceaccount|sa. User and Group
// subjects take an empty namespace ("User::alice", "Group::system:masters");
// their name may itself contain colons. A ServiceAccount needs a namespace
// and a name without colons.
func ParseSubject(s string) (Subject, error) {
	kindPart, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Subject{}, fmt.Errorf("%w %q: want KIND:NAMESPACE:NAME, e.g. User::alice or ServiceAccount:default:builder", ErrInvalidSubject, s)
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok {
		return Subject{}, fmt.Errorf("%w %q: missing NAMESPACE field (use an empty one for users and groups: %s::%s)", ErrInvalidSubject, s, kindPart, rest)
	}
	var kind string
	switch strings.ToLower(kindPart) {
	case "user", "u":
		kind = rbacv1.UserKind
	case "group", "g":
		kind = rbacv1.GroupKind
	case "serviceaccount", "sa":
		kind = rbacv1.ServiceAccountKind
	default:
		return Subject{}, fmt.Errorf("%w %q: kind %q is not User, Group or ServiceAccount", ErrInvalidSubject, s, kindPart)
	}
	if name == "" {
		return Subject{}, fmt.Errorf("%w %q: empty name", ErrInvalidSubject, s)
	}
	switch kind {
	case rbacv1.ServiceAccountKind:
		if ns == "" {
			return Subject{}, fmt.Errorf("%w %q: a ServiceAccount needs a namespace", ErrInvalidSubject, s)
		}
		if strings.Contains(name, ":") {
			return Subject{}, fmt.Errorf("%w %q: a ServiceAccount name cannot contain ':'", ErrInvalidSubject, s)
		}
	default:
		if ns != "" {
			return Subject{}, fmt.Errorf("%w %q: a %s has no namespace (write %s::%s)", ErrInvalidSubject, s, kind, kind, name)
		}
	}
	return Subject{Kind: kind, Namespace: ns, Name: name}, nil
}

// Matches reports whether s applies to the identity (user, groups) after
// implied groups are added, as appliesToUser in
// k8s.io/kubernetes pkg/registry/rbac/validation/rule.go does. A
// ServiceAccount subject must carry its namespace here (bindings default an
// empty one to the binding's namespace before comparing).
func (s Subject) Matches(user string, groups []string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return user == s.Name
	case rbacv1.GroupKind:
		id := newIdentity(user, groups)
		return id.inGroup(s.Name)
	case rbacv1.ServiceAccountKind:
		return s.Namespace != "" && matchesSAUser(s.Namespace, s.Name, user)
	}
	return false
}

// matchesSAUser reports user == system:serviceaccount:ns:name without
// building the string.
func matchesSAUser(ns, name, user string) bool {
	if len(user) != len(ServiceAccountUserPrefix)+len(ns)+1+len(name) {
		return false
	}
	rest, ok := strings.CutPrefix(user, ServiceAccountUserPrefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, ns)
	if !ok || len(rest) == 0 || rest[0] != ':' {
		return false
	}
	return rest[1:] == name
}

// serviceAccountNamespace returns NS for a user name
// system:serviceaccount:NS:NAME (both parts non-empty, NAME without ':').
func serviceAccountNamespace(user string) (string, bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountUserPrefix)
	if !ok {
		return "", false
	}
	ns, name, ok := strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", false
	}
	return ns, true
}

// identity is an authenticated user with the groups the kube-apiserver's
// authenticators would have added. It never allocates.
type identity struct {
	user   string
	groups []string
	// implied groups not already in groups
	addAuthenticated   bool
	addUnauthenticated bool
	addSAGroup         bool   // system:serviceaccounts
	addSANamespace     bool   // system:serviceaccounts:<saNamespace>
	saNamespace        string // set for service-account users
	masters            bool   // explicit member of system:masters
}

func newIdentity(user string, groups []string) identity {
	id := identity{user: user, groups: groups}
	hasAuth, hasUnauth, hasSA, hasSANS := false, false, false, false
	saNS, isSA := serviceAccountNamespace(user)
	for _, g := range groups {
		switch g {
		case GroupAuthenticated:
			hasAuth = true
		case GroupUnauthenticated:
			hasUnauth = true
		case GroupServiceAccounts:
			hasSA = true
		case GroupMasters:
			id.masters = true
		default:
			if isSA && len(g) == len(ServiceAccountGroupPrefix)+len(saNS) &&
				strings.HasPrefix(g, ServiceAccountGroupPrefix) && g[len(ServiceAccountGroupPrefix):] == saNS {
				hasSANS = true
			}
		}
	}
	// k8s.io/apiserver/pkg/authentication/group/authenticated_group_adder.go:
	// every authenticated user but system:anonymous gets system:authenticated,
	// unless it already has system:authenticated or system:unauthenticated.
	if user == UserAnonymous {
		// The anonymous authenticator puts system:anonymous in system:unauthenticated.
		id.addUnauthenticated = !hasUnauth
	} else if !hasAuth && !hasUnauth {
		id.addAuthenticated = true
	}
	if isSA {
		// serviceaccount.MakeGroupNames: system:serviceaccounts and
		// system:serviceaccounts:NS come with every service-account token.
		id.saNamespace = saNS
		id.addSAGroup = !hasSA
		id.addSANamespace = !hasSANS
	}
	return id
}

func (id *identity) inGroup(g string) bool {
	for _, x := range id.groups {
		if x == g {
			return true
		}
	}
	switch {
	case id.addAuthenticated && g == GroupAuthenticated:
		return true
	case id.addUnauthenticated && g == GroupUnauthenticated:
		return true
	case id.addSAGroup && g == GroupServiceAccounts:
		return true
	case id.addSANamespace && len(g) == len(ServiceAccountGroupPrefix)+len(id.saNamespace) &&
		strings.HasPrefix(g, ServiceAccountGroupPrefix) && g[len(ServiceAccountGroupPrefix):] == id.saNamespace:
		return true
	}
	return false
}

// ImpliedGroups returns groups plus the groups the kube-apiserver adds during
// authentication: system:authenticated for every user but system:anonymous
// (unless system:authenticated or system:unauthenticated is already present),
// system:unauthenticated for system:anonymous, and system:serviceaccounts and
// system:serviceaccounts:NS for a service account system:serviceaccount:NS:NAME.
// It returns groups itself (no copy) when nothing is implied.
func ImpliedGroups(user string, groups []string) []string {
	id := newIdentity(user, groups)
	if !id.addAuthenticated && !id.addUnauthenticated && !id.addSAGroup && !id.addSANamespace {
		return groups
	}
	out := make([]string, len(groups), len(groups)+3)
	copy(out, groups)
	if id.addSAGroup {
		out = append(out, GroupServiceAccounts)
	}
	if id.addSANamespace {
		out = append(out, ServiceAccountGroupPrefix+id.saNamespace)
	}
	if id.addAuthenticated {
		out = append(out, GroupAuthenticated)
	}
	if id.addUnauthenticated {
		out = append(out, GroupUnauthenticated)
	}
	return out
}

// compareSubjects orders subjects by kind, namespace, name.
func compareSubjects(a, b Subject) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}
