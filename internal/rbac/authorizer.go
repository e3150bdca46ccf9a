package rbac

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Object kinds used in Ref.Kind.
const (
	KindRole               = "Role"
	KindClusterRole        = "ClusterRole"
	KindRoleBinding        = "RoleBinding"
	KindClusterRoleBinding = "ClusterRoleBinding"
)

// AnnotationAutoupdate marks the objects of the default bootstrap policy that
// the kube-apiserver reconciles at start-up.
const AnnotationAutoupdate = "rbac.authorization.kubernetes.io/autoupdate"

// Objects are the RBAC objects of a cluster. Slice order is the order in which
// bindings are visited (the kube-apiserver visits its informer cache, whose
// order is unspecified; ours is deterministic).
type Objects struct {
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
}

// Grant is one rule bound to a subject: "Subject may do Rule in Namespace
// (everywhere if empty) because Binding binds Role".
type Grant struct {
	Subject Subject `json:"subject"`
	Binding Ref     `json:"binding"`
	Role    Ref     `json:"role"`
	// Namespace where the rule applies; "" means cluster-wide (a
	// ClusterRoleBinding).
	Namespace string `json:"namespace,omitempty"`
	// RuleIndex is the index of Rule in Role's effective rules.
	RuleIndex int               `json:"ruleIndex"`
	Rule      rbacv1.PolicyRule `json:"rule"`
	// System is set for bindings of the default policy or of other system
	// components: annotated rbac.authorization.kubernetes.io/autoupdate=true
	// or named system:*.
	System bool `json:"system,omitempty"`
}

// Authorizer answers RBAC questions over a fixed set of objects. It is
// immutable after NewAuthorizer and safe for concurrent use.
type Authorizer struct {
	// bindings: ClusterRoleBindings first, then RoleBindings; index order is
	// visiting order within each kind.
	bindings  []binding
	cluster   subjectIndex
	perNS     map[string]*subjectIndex
	nsOrder   map[string][]int32 // RoleBindings per namespace, in order
	roles     map[Ref][]rbacv1.PolicyRule
	bySubject map[Subject][]int32
	subjects  []Subject
	problems  []string
}

type binding struct {
	ref      Ref
	roleRef  Ref
	ns       string // "" for ClusterRoleBindings
	system   bool
	missing  string // why the role cannot be resolved; "" when it can
	subjects []Subject
	reasons  []string // per subject: upstream's "allowed by" text
	rules    []rbacv1.PolicyRule
	compiled []compiledRule
	// verbMask is the union of the rules' verb masks: a request whose verb
	// has a bit outside it cannot match any rule of the binding.
	verbMask uint32
}

// mayAllow is a cheap filter: false when no rule of b can allow a request
// with verb bit vbit.
func (b *binding) mayAllow(vbit uint32) bool {
	return vbit == 0 || b.verbMask&vbit != 0
}

// subjectIndex maps identities to the bindings (indices, ascending) naming them.
type subjectIndex struct {
	users      map[string][]int32 // User names and service-account user names
	groups     map[string][]int32
	saNSGroups map[string][]int32 // NS of groups system:serviceaccounts:NS
}

func newSubjectIndex() *subjectIndex {
	return &subjectIndex{users: map[string][]int32{}, groups: map[string][]int32{}, saNSGroups: map[string][]int32{}}
}

func appendUnique(m map[string][]int32, k string, bi int32) {
	l := m[k]
	if n := len(l); n > 0 && l[n-1] == bi {
		return
	}
	m[k] = append(l, bi)
}

func (x *subjectIndex) add(s Subject, bi int32) {
	switch s.Kind {
	case rbacv1.UserKind:
		appendUnique(x.users, s.Name, bi)
	case rbacv1.ServiceAccountKind:
		appendUnique(x.users, s.UserName(), bi)
	case rbacv1.GroupKind:
		appendUnique(x.groups, s.Name, bi)
		if ns, ok := strings.CutPrefix(s.Name, ServiceAccountGroupPrefix); ok {
			appendUnique(x.saNSGroups, ns, bi)
		}
	}
}

// NewAuthorizer compiles o: resolves ClusterRole aggregation, resolves every
// binding's role, and indexes bindings by user, group and service account.
// Problems found on the way (missing roles, duplicate objects, subjects that
// can never match) are kept for Problems.
func NewAuthorizer(o Objects) *Authorizer {
	a := &Authorizer{
		perNS:     map[string]*subjectIndex{},
		nsOrder:   map[string][]int32{},
		roles:     map[Ref][]rbacv1.PolicyRule{},
		bySubject: map[Subject][]int32{},
	}
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	clusterRoles := lastOfEach(o.ClusterRoles, func(r *rbacv1.ClusterRole) string { return r.Name }, func(k string) {
		report("ClusterRole %q appears more than once; the last one is used", k)
	})
	effective, aggProblems := aggregate(clusterRoles)
	problems = append(problems, aggProblems...)
	for i := range clusterRoles {
		a.roles[Ref{Kind: KindClusterRole, Name: clusterRoles[i].Name}] = effective[i]
	}
	roles := lastOfEach(o.Roles, func(r *rbacv1.Role) string { return r.Namespace + "/" + r.Name }, func(k string) {
		report("Role %s appears more than once; the last one is used", k)
	})
	for i := range roles {
		a.roles[Ref{Kind: KindRole, Namespace: roles[i].Namespace, Name: roles[i].Name}] = roles[i].Rules
	}

	crbs := lastOfEach(o.ClusterRoleBindings, func(b *rbacv1.ClusterRoleBinding) string { return b.Name }, func(k string) {
		report("ClusterRoleBinding %q appears more than once; the last one is used", k)
	})
	rbs := lastOfEach(o.RoleBindings, func(b *rbacv1.RoleBinding) string { return b.Namespace + "/" + b.Name }, func(k string) {
		report("RoleBinding %s appears more than once; the last one is used", k)
	})
	a.bindings = make([]binding, 0, len(crbs)+len(rbs))
	a.cluster = *newSubjectIndex()
	for i := range crbs {
		b := &crbs[i]
		a.addBinding(Ref{Kind: KindClusterRoleBinding, Name: b.Name}, "", b.Annotations, b.RoleRef, b.Subjects, report)
	}
	for i := range rbs {
		b := &rbs[i]
		if b.Namespace == "" {
			report("RoleBinding %q has no namespace; it is ignored", b.Name)
			continue
		}
		a.addBinding(Ref{Kind: KindRoleBinding, Namespace: b.Namespace, Name: b.Name}, b.Namespace, b.Annotations, b.RoleRef, b.Subjects, report)
	}

	for s := range a.bySubject {
		a.subjects = append(a.subjects, s)
	}
	slices.SortFunc(a.subjects, compareSubjects)
	sort.Strings(problems)
	a.problems = slices.Compact(problems)
	return a
}

// lastOfEach drops all but the last object of each key, keeping order.
func lastOfEach[T any](in []T, key func(*T) string, dup func(string)) []T {
	last := make(map[string]int, len(in))
	for i := range in {
		k := key(&in[i])
		if _, seen := last[k]; seen {
			dup(k)
		}
		last[k] = i
	}
	if len(last) == len(in) {
		return in
	}
	out := make([]T, 0, len(last))
	for i := range in {
		if last[key(&in[i])] == i {
			out = append(out, in[i])
		}
	}
	return out
}

func (a *Authorizer) addBinding(ref Ref, ns string, annotations map[string]string, rr rbacv1.RoleRef, subjects []rbacv1.Subject, report func(string, ...any)) {
	if len(a.bindings) >= math.MaxInt32 {
		report("too many bindings; %s %q and later ones are ignored", ref.Kind, ref.Name)
		return
	}
	bi := int32(len(a.bindings))
	b := binding{
		ref:    ref,
		ns:     ns,
		system: annotations[AnnotationAutoupdate] == "true" || strings.HasPrefix(ref.Name, "system:"),
	}
	where := describeBinding(ref)
	switch rr.Kind {
	case KindClusterRole:
		b.roleRef = Ref{Kind: KindClusterRole, Name: rr.Name}
	case KindRole:
		b.roleRef = Ref{Kind: KindRole, Namespace: ns, Name: rr.Name}
		if ns == "" {
			b.missing = fmt.Sprintf("a ClusterRoleBinding cannot reference Role %q", rr.Name)
		}
	default:
		b.roleRef = Ref{Kind: rr.Kind, Namespace: ns, Name: rr.Name}
		b.missing = fmt.Sprintf("unsupported role reference kind %q", rr.Kind)
	}
	if b.missing == "" {
		rules, ok := a.roles[b.roleRef]
		if !ok {
			if b.roleRef.Kind == KindRole {
				b.missing = fmt.Sprintf("role.rbac.authorization.k8s.io %q not found in namespace %q", rr.Name, ns)
			} else {
				b.missing = fmt.Sprintf("clusterrole.rbac.authorization.k8s.io %q not found", rr.Name)
			}
		} else {
			b.rules = rules
			b.compiled = make([]compiledRule, len(rules))
			for i := range rules {
				b.compiled[i] = compileRule(rules[i])
				b.verbMask |= b.compiled[i].verbMask
			}
		}
	}
	if b.missing != "" {
		report("%s: %s; it grants nothing", where, b.missing)
	}

	idx := &a.cluster
	if ns != "" {
		idx = a.perNS[ns]
		if idx == nil {
			idx = newSubjectIndex()
			a.perNS[ns] = idx
		}
		a.nsOrder[ns] = append(a.nsOrder[ns], bi)
	}
	b.subjects = make([]Subject, len(subjects))
	b.reasons = make([]string, len(subjects))
	for i, s := range subjects {
		sub := Subject{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}
		switch s.Kind {
		case rbacv1.UserKind, rbacv1.GroupKind:
			sub.Namespace = ""
		case rbacv1.ServiceAccountKind:
			if sub.Namespace == "" {
				// appliesToUser defaults the namespace to the one being
				// authorized: the binding's for RoleBindings, none for
				// ClusterRoleBindings (so it never matches).
				sub.Namespace = ns
			}
			if sub.Namespace == "" {
				report("%s: subjects[%d] ServiceAccount %q has no namespace and never matches", where, i, s.Name)
				sub = Subject{}
			}
		default:
			report("%s: subjects[%d] has unsupported kind %q and never matches", where, i, s.Kind)
			sub = Subject{}
		}
		b.subjects[i] = sub
		if sub.Kind == "" {
			continue
		}
		b.reasons[i] = fmt.Sprintf("RBAC: allowed by %s of %s %q to %s", where, b.roleRef.Kind, b.roleRef.Name, describeSubject(sub))
		idx.add(sub, bi)
		if l := a.bySubject[sub]; len(l) == 0 || l[len(l)-1] != bi {
			a.bySubject[sub] = append(l, bi)
		}
	}
	a.bindings = append(a.bindings, b)
}

func describeBinding(r Ref) string {
	if r.Kind == KindRoleBinding {
		return fmt.Sprintf("RoleBinding %q", r.Namespace+"/"+r.Name)
	}
	return fmt.Sprintf("ClusterRoleBinding %q", r.Name)
}

func describeSubject(s Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+s.Namespace)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// firstSubject returns the index of the first subject of b that applies to
// id, or -1 (appliesTo in pkg/registry/rbac/validation/rule.go).
func (b *binding) firstSubject(id *identity) int {
	for i := range b.subjects {
		s := &b.subjects[i]
		switch s.Kind {
		case rbacv1.UserKind:
			if id.user == s.Name {
				return i
			}
		case rbacv1.GroupKind:
			if id.inGroup(s.Name) {
				return i
			}
		case rbacv1.ServiceAccountKind:
			if matchesSAUser(s.Namespace, s.Name, id.user) {
				return i
			}
		}
	}
	return -1
}

// maxInlineLists bounds the candidate lists gathered without allocating.
const maxInlineLists = 16

// visit calls fn, in ascending binding order and once each, for every binding
// of x that names id (directly, through a group, or through an implied
// group). It stops when fn returns false and reports whether it ran to the end.
func visit(x *subjectIndex, id *identity, fn func(bi int32) bool) bool {
	var buf [maxInlineLists][]int32
	lists := buf[:0]
	add := func(l []int32) {
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	add(x.users[id.user])
	for _, g := range id.groups {
		add(x.groups[g])
	}
	if id.addAuthenticated {
		add(x.groups[GroupAuthenticated])
	}
	if id.addUnauthenticated {
		add(x.groups[GroupUnauthenticated])
	}
	if id.addSAGroup {
		add(x.groups[GroupServiceAccounts])
	}
	if id.addSANamespace {
		add(x.saNSGroups[id.saNamespace])
	}
	switch len(lists) {
	case 0:
		return true
	case 1:
		for _, bi := range lists[0] {
			if !fn(bi) {
				return false
			}
		}
		return true
	}
	for {
		low, found := int32(math.MaxInt32), false
		for _, l := range lists {
			if len(l) > 0 && l[0] <= low {
				low, found = l[0], true
			}
		}
		if !found {
			return true
		}
		for i, l := range lists {
			if len(l) > 0 && l[0] == low {
				lists[i] = l[1:]
			}
		}
		if !fn(low) {
			return false
		}
	}
}

// requestNamespace is the namespace whose RoleBindings apply to r: none for
// non-resource requests (the kube-apiserver never gives them one, so
// non-resource URLs are only granted cluster-wide even if a caller sets
// Namespace).
func requestNamespace(r *Request) string {
	if !r.IsResource() {
		return ""
	}
	return r.Namespace
}

// visitAll visits the bindings applying to id for a request in namespace, in
// upstream order: ClusterRoleBindings, then RoleBindings of the namespace.
func (a *Authorizer) visitAll(id *identity, namespace string, fn func(bi int32) bool) {
	if !visit(&a.cluster, id, fn) {
		return
	}
	if namespace == "" {
		return
	}
	if x := a.perNS[namespace]; x != nil {
		visit(x, id, fn)
	}
}

const mastersReason = "allowed: member of group system:masters (the kube-apiserver's privileged-group authorizer runs before RBAC)"

// Authorize decides r as the kube-apiserver's RBAC authorizer would, with the
// groups the authenticators imply added to r.Groups. Members of
// system:masters are allowed everything. When allowed, Binding, Role and
// RuleIndex name the first allowing rule in upstream visiting order.
// Decision.Binding and Decision.Role point into the Authorizer's own data and
// must not be modified. Authorize does not allocate.
func (a *Authorizer) Authorize(r Request) Decision {
	id := newIdentity(r.User, r.Groups)
	if id.masters {
		return Decision{Allowed: true, Reason: mastersReason}
	}
	var d Decision
	var unresolved []string
	vbit := verbBit(r.Verb)
	a.visitAll(&id, requestNamespace(&r), func(bi int32) bool {
		b := &a.bindings[bi]
		if b.missing != "" {
			unresolved = append(unresolved, b.missing)
			return true
		}
		if !b.mayAllow(vbit) {
			return true
		}
		for i := range b.compiled {
			if b.compiled[i].allows(&r, vbit) {
				d = Decision{Allowed: true, Binding: &b.ref, Role: &b.roleRef, RuleIndex: i}
				if si := b.firstSubject(&id); si >= 0 {
					d.Reason = b.reasons[si]
				}
				return false
			}
		}
		return true
	})
	if !d.Allowed && len(unresolved) > 0 {
		// Upstream reports role resolution errors with a denial.
		d.Reason = "RBAC: [" + strings.Join(unresolved, ", ") + "]"
	}
	return d
}

// MatchingGrants returns every grant that allows r, in visiting order (a
// request allowed by several rules lists all of them). A member of
// system:masters is allowed without any grant; the default cluster-admin
// binding to system:masters shows up here if present.
func (a *Authorizer) MatchingGrants(r Request) []Grant {
	id := newIdentity(r.User, r.Groups)
	var out []Grant
	vbit := verbBit(r.Verb)
	a.visitAll(&id, requestNamespace(&r), func(bi int32) bool {
		b := &a.bindings[bi]
		if !b.mayAllow(vbit) {
			return true
		}
		si := -1
		for i := range b.compiled {
			if !b.compiled[i].allows(&r, vbit) {
				continue
			}
			if si < 0 {
				si = b.firstSubject(&id)
			}
			out = append(out, b.grant(si, i))
		}
		return true
	})
	return out
}

func (b *binding) grant(subjectIdx, ruleIdx int) Grant {
	g := Grant{
		Binding:   b.ref,
		Role:      b.roleRef,
		Namespace: b.ns,
		RuleIndex: ruleIdx,
		Rule:      b.rules[ruleIdx],
		System:    b.system,
	}
	if subjectIdx >= 0 {
		g.Subject = b.subjects[subjectIdx]
	}
	return g
}

// GrantsFor returns every rule that applies to the identity in namespace
// ("" = only cluster-wide grants), including through implied groups, in
// visiting order: what upstream's RulesFor(user, namespace) returns.
func (a *Authorizer) GrantsFor(user string, groups []string, namespace string) []Grant {
	id := newIdentity(user, groups)
	var out []Grant
	a.visitAll(&id, namespace, func(bi int32) bool {
		b := &a.bindings[bi]
		si := b.firstSubject(&id)
		for i := range b.rules {
			out = append(out, b.grant(si, i))
		}
		return true
	})
	return out
}

// GrantsOf returns the rules bound to exactly s (not through groups), in
// binding order. A ServiceAccount named without namespace in a RoleBinding
// is the ServiceAccount of the binding's namespace.
func (a *Authorizer) GrantsOf(s Subject) []Grant {
	var out []Grant
	for _, bi := range a.bySubject[s] {
		b := &a.bindings[bi]
		for i := range b.rules {
			g := b.grant(-1, i)
			g.Subject = s
			out = append(out, g)
		}
	}
	return out
}

// Subjects returns every subject named by a binding (service accounts with
// their effective namespace), sorted and deduplicated. Subjects that can
// never match (unknown kinds, namespace-less service accounts in
// ClusterRoleBindings) are left out and reported by Problems.
func (a *Authorizer) Subjects() []Subject {
	return slices.Clone(a.subjects)
}

// EffectiveRules returns the rules of a Role (Kind "Role", Namespace, Name) or
// ClusterRole (Kind "ClusterRole", Name) after aggregation, and whether the
// role exists.
func (a *Authorizer) EffectiveRules(role Ref) ([]rbacv1.PolicyRule, bool) {
	if role.Kind == KindClusterRole {
		role.Namespace = ""
	}
	rules, ok := a.roles[role]
	if !ok {
		return nil, false
	}
	out := make([]rbacv1.PolicyRule, len(rules))
	for i := range rules {
		rules[i].DeepCopyInto(&out[i])
	}
	return out, true
}

// Problems lists what makes the RBAC objects behave other than their author
// probably meant: bindings to missing roles, subjects that never match,
// duplicate objects, invalid aggregation selectors. Sorted.
func (a *Authorizer) Problems() []string {
	return slices.Clone(a.problems)
}
