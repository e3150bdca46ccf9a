package watch

import (
	"cmp"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

// objKey identifies an object within its kind.
type objKey struct{ namespace, name string }

func compareKeys(a, b objKey) int {
	if c := cmp.Compare(a.namespace, b.namespace); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// store holds the current object of every kind, by kind slot. The objects
// are the informers' cached ones (shared, read-only), so the store costs
// map entries, not copies.
type store struct {
	specs   []*kindSpec
	objects []map[objKey]any
}

func newStore(specs []*kindSpec) store {
	s := store{specs: specs, objects: make([]map[objKey]any, len(specs))}
	for i := range s.objects {
		s.objects[i] = make(map[objKey]any)
	}
	return s
}

// inventory copies the objects into a new Inventory, each kind sorted by
// namespace and name.
func (s *store) inventory() *cluster.Inventory {
	inv := &cluster.Inventory{}
	for _, spec := range s.specs {
		spec.fill(inv, s.objects[spec.slot])
	}
	return inv
}

func (s *store) count() int {
	n := 0
	for _, m := range s.objects {
		n += len(m)
	}
	return n
}
