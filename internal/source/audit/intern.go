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
	if s, ok := wellKnown(b); ok {
		return s
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

// wellKnown returns the constant for the most frequent values (kind,
// apiVersion, level, stage, verb, decision), which a switch finds faster
// than a map.
func wellKnown(b []byte) (string, bool) {
	switch string(b) {
	case "Event":
		return "Event", true
	case "audit.k8s.io/v1":
		return "audit.k8s.io/v1", true
	case "Metadata":
		return "Metadata", true
	case "Request":
		return "Request", true
	case "RequestResponse":
		return "RequestResponse", true
	case "ResponseComplete":
		return "ResponseComplete", true
	case "ResponseStarted":
		return "ResponseStarted", true
	case "RequestReceived":
		return "RequestReceived", true
	case "get":
		return "get", true
	case "list":
		return "list", true
	case "watch":
		return "watch", true
	case "create":
		return "create", true
	case "update":
		return "update", true
	case "patch":
		return "patch", true
	case "delete":
		return "delete", true
	case "allow":
		return "allow", true
	case "forbid":
		return "forbid", true
	case "v1":
		return "v1", true
	}
	return "", false
}
