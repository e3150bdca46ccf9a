package rbac

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// WhoCanEntry is one subject allowed to make a request, and the binding and
// role that allow it. The system:masters entry has zero Binding and Role: it
// is allowed by the privileged-group authorizer, not by RBAC.
type WhoCanEntry struct {
	Subject Subject `json:"subject"`
	Binding Ref     `json:"binding"`
	Role    Ref     `json:"role"`
}

// WhoCan returns every subject some binding allows to make r (r.User and
// r.Groups are ignored): subjects of ClusterRoleBindings whose role has a rule
// allowing r, plus, for a namespaced request, subjects of RoleBindings in
// r.Namespace. It always includes Group system:masters. An identity is allowed
// r exactly when one of the returned subjects Matches it (implied groups
// included). Sorted by subject, binding, role; one entry per (subject,
// binding).
func (a *Authorizer) WhoCan(r Request) []WhoCanEntry {
	out := []WhoCanEntry{{Subject: Subject{Kind: rbacv1.GroupKind, Name: GroupMasters}}}
	vbit := verbBit(r.Verb)
	add := func(bi int32) {
		b := &a.bindings[bi]
		if !b.mayAllow(vbit) || !b.allowsAny(&r, vbit) {
			return
		}
		for _, s := range b.subjects {
			if s.Kind != "" {
				out = append(out, WhoCanEntry{Subject: s, Binding: b.ref, Role: b.roleRef})
			}
		}
	}
	for bi := range a.bindings {
		if a.bindings[bi].ns != "" {
			break // ClusterRoleBindings come first
		}
		add(int32(bi))
	}
	if ns := requestNamespace(&r); ns != "" {
		for _, bi := range a.nsOrder[ns] {
			add(bi)
		}
	}
	slices.SortFunc(out, compareWhoCan)
	return slices.CompactFunc(out, func(x, y WhoCanEntry) bool { return compareWhoCan(x, y) == 0 })
}

func (b *binding) allowsAny(r *Request, vbit uint32) bool {
	for i := range b.compiled {
		if b.compiled[i].allows(r, vbit) {
			return true
		}
	}
	return false
}

func compareWhoCan(x, y WhoCanEntry) int {
	if c := compareSubjects(x.Subject, y.Subject); c != 0 {
		return c
	}
	if c := compareRefs(x.Binding, y.Binding); c != 0 {
		return c
	}
	return compareRefs(x.Role, y.Role)
}

func compareRefs(x, y Ref) int {
	if c := strings.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(x.Namespace, y.Namespace); c != 0 {
		return c
	}
	return strings.Compare(x.Name, y.Name)
}
