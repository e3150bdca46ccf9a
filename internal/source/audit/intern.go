package audit

// Interning bounds. Audit logs repeat a small vocabulary (verbs, resources,
// user names, groups, user agents, namespaces, object names of leases and
// endpoints) millions of times; interning turns those into shared strings
// and makes decoding allocation-free. The tables are bounded so that a
// high-cardinality field cannot grow them without limit: when one is full it
// is cleared and refills with what is current.
const (
	maxInternEntries = 1 << 16
	maxInternBytes   = 8 << 20
	maxInternLen     = 512 // longer strings are copied, not interned
)

// interner maps byte strings to shared strings. Lookups with m[string(b)]
// do not allocate.
type interner struct {
	m     map[string]string
	bytes int
}

func (t *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) > maxInternLen {
		return s
	}
	if t.m == nil || len(t.m) >= maxInternEntries || t.bytes+len(s) > maxInternBytes {
		t.m = make(map[string]string, 256)
		t.bytes = 0
	}
	t.m[s] = s
	t.bytes += len(s)
	return s
}

// listInterner maps the raw JSON text of a string array (user.groups,
// sourceIPs) to its decoded, shared []string. Callers must not modify the
// returned slices; their capacity equals their length, so an append copies.
type listInterner struct {
	m     map[string][]string
	bytes int
}

func (t *listInterner) get(raw []byte) ([]string, bool) {
	l, ok := t.m[string(raw)]
	return l, ok
}

func (t *listInterner) put(raw []byte, l []string) {
	if len(raw) > maxInternLen {
		return
	}
	if t.m == nil || len(t.m) >= maxInternEntries || t.bytes+len(raw) > maxInternBytes {
		t.m = make(map[string][]string, 64)
		t.bytes = 0
	}
	t.m[string(raw)] = l
	t.bytes += len(raw)
}
