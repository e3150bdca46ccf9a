package cluster

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// object is the pointer type of a k8s.io/api object: *corev1.Pod and so on.
type object[T any] interface {
	*T
	metav1.Object
}

// objectKey identifies an object within its kind. uid is only set for Pods:
// a StatefulSet pod recreated between two dumps keeps its name but is a
// different pod with a different IP history.
type objectKey struct {
	namespace, name, uid string
}

// objectKeys maps, per kind, an object's identity to its position in the
// inventory's slice for that kind. Each kind's map remembers the slice length
// it was built for and is rebuilt when the slice changed behind its back
// (a caller appended to Inventory.Pods directly).
type objectKeys struct {
	byKind map[string]*kindKeys
}

type kindKeys struct {
	pos map[objectKey]int
	n   int
}

func keyOf[T any, P object[T]](kind string, obj *T) objectKey {
	p := P(obj)
	k := objectKey{namespace: p.GetNamespace(), name: p.GetName()}
	if kind == "Pod" {
		k.uid = string(p.GetUID())
	}
	return k
}

// keysFor returns the identity map for kind, (re)building it from s when
// needed.
func keysFor[T any, P object[T]](inv *Inventory, kind string, s []T) *kindKeys {
	if inv.keys == nil {
		inv.keys = &objectKeys{byKind: make(map[string]*kindKeys)}
	}
	kk := inv.keys.byKind[kind]
	if kk != nil && kk.n == len(s) {
		return kk
	}
	kk = &kindKeys{pos: make(map[objectKey]int, len(s)), n: len(s)}
	for i := range s {
		kk.pos[keyOf[T, P](kind, &s[i])] = i
	}
	inv.keys.byKind[kind] = kk
	return kk
}

// insert adds obj to *s, or replaces the object with the same identity. It
// reports whether an object was replaced.
func insert[T any, P object[T]](inv *Inventory, kind string, s *[]T, obj T) bool {
	kk := keysFor[T, P](inv, kind, *s)
	key := keyOf[T, P](kind, &obj)
	if i, ok := kk.pos[key]; ok {
		(*s)[i] = obj
		return true
	}
	*s = append(*s, obj)
	kk.pos[key] = len(*s) - 1
	kk.n = len(*s)
	return false
}

// addObject normalizes obj's metadata and inserts it: namespaced objects
// without a namespace go to "default" (what kubectl apply does with a
// manifest and the default context), cluster-scoped objects lose any
// namespace, and namespaced objects make their namespace exist.
func addObject[T any, P object[T]](inv *Inventory, kind string, namespaced bool, s *[]T, obj T) {
	p := P(&obj)
	if namespaced {
		if p.GetNamespace() == "" {
			p.SetNamespace(metav1.NamespaceDefault)
		}
	} else if p.GetNamespace() != "" {
		p.SetNamespace("")
	}
	if namespaced {
		inv.ensureNamespace(p.GetNamespace())
	}
	if insert[T, P](inv, kind, s, obj) {
		if inv.Duplicates == nil {
			inv.Duplicates = make(map[string]int)
		}
		inv.Duplicates[kind]++
	}
}

// addNamespace inserts a Namespace object, implying the
// kubernetes.io/metadata.name label the API server sets on every namespace.
// A Namespace that replaces an implicit one is not a duplicate.
func (inv *Inventory) addNamespace(ns corev1.Namespace) {
	ns.Namespace = ""
	setMetadataNameLabel(&ns)
	if i := slices.Index(inv.ImplicitNamespaces, ns.Name); i >= 0 {
		inv.ImplicitNamespaces = slices.Delete(inv.ImplicitNamespaces, i, i+1)
		insert(inv, "Namespace", &inv.Namespaces, ns)
		return
	}
	addObject(inv, "Namespace", false, &inv.Namespaces, ns)
}

// ensureNamespace synthesizes a Namespace object for name unless one exists.
func (inv *Inventory) ensureNamespace(name string) {
	kk := keysFor(inv, "Namespace", inv.Namespaces)
	if _, ok := kk.pos[objectKey{name: name}]; ok {
		return
	}
	ns := corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	setMetadataNameLabel(&ns)
	insert(inv, "Namespace", &inv.Namespaces, ns)
	inv.ImplicitNamespaces = append(inv.ImplicitNamespaces, name)
}

// setMetadataNameLabel sets kubernetes.io/metadata.name to the namespace's
// name, as the API server does on create and update (the label is not
// settable to anything else).
func setMetadataNameLabel(ns *corev1.Namespace) {
	if ns.Labels[corev1.LabelMetadataName] == ns.Name {
		return
	}
	if ns.Labels == nil {
		ns.Labels = make(map[string]string, 1)
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}
