package netpol

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// MinPort and MaxPort bound the port numbers a NetworkPolicy can name.
const (
	MinPort int32 = 1
	MaxPort int32 = 65535
)

// PortRange is an inclusive range of port numbers.
type PortRange struct {
	From int32 `json:"from"`
	To   int32 `json:"to"`
}

// MarshalText renders r as "80" or "8000-8080".
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses the form MarshalText writes.
func (r *PortRange) UnmarshalText(b []byte) error {
	from, to, isRange := strings.Cut(string(b), "-")
	f, err := strconv.ParseInt(from, 10, 32)
	if err != nil {
		return fmt.Errorf("port range %q: %w", b, err)
	}
	t := f
	if isRange {
		if t, err = strconv.ParseInt(to, 10, 32); err != nil {
			return fmt.Errorf("port range %q: %w", b, err)
		}
	}
	r.From, r.To = int32(f), int32(t)
	return nil
}

func (r PortRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(int(r.From))
	}
	return strconv.Itoa(int(r.From)) + "-" + strconv.Itoa(int(r.To))
}

// PortSet is a set of (protocol, port) pairs: sorted, disjoint, non-adjacent
// ranges per protocol. OtherProtocols is set when traffic without ports
// (ICMP and any protocol other than TCP, UDP and SCTP) is included too,
// which only a rule without a ports list allows.
type PortSet struct {
	TCP            []PortRange `json:"tcp,omitempty"`
	UDP            []PortRange `json:"udp,omitempty"`
	SCTP           []PortRange `json:"sctp,omitempty"`
	OtherProtocols bool        `json:"otherProtocols,omitempty"`
}

var fullRange = []PortRange{{MinPort, MaxPort}}

// AllPorts returns the set of every port of every protocol.
func AllPorts() PortSet {
	return PortSet{TCP: fullRange, UDP: fullRange, SCTP: fullRange, OtherProtocols: true}
}

// normProto returns the protocol with the API default (TCP) applied.
func normProto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (s *PortSet) ranges(proto corev1.Protocol) *[]PortRange {
	switch normProto(proto) {
	case corev1.ProtocolTCP:
		return &s.TCP
	case corev1.ProtocolUDP:
		return &s.UDP
	case corev1.ProtocolSCTP:
		return &s.SCTP
	}
	return nil
}

// Contains reports whether port of proto is in s. Port 0 stands for "no
// port or unknown port": it is contained only when every port of proto is.
// For protocols other than TCP, UDP and SCTP, the port is ignored.
func (s PortSet) Contains(proto corev1.Protocol, port int32) bool {
	r := s.ranges(proto)
	if r == nil {
		return s.OtherProtocols
	}
	if port == 0 {
		return s.Full(proto)
	}
	return rangesContain(*r, port)
}

func rangesContain(rs []PortRange, port int32) bool {
	// Binary search for the first range ending at or after port.
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs[m].To < port {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(rs) && rs[lo].From <= port
}

// Full reports whether every port of proto is in s.
func (s PortSet) Full(proto corev1.Protocol) bool {
	r := s.ranges(proto)
	if r == nil {
		return s.OtherProtocols
	}
	return len(*r) == 1 && (*r)[0] == PortRange{MinPort, MaxPort}
}

// IsEmpty reports whether s contains nothing.
func (s PortSet) IsEmpty() bool {
	return len(s.TCP) == 0 && len(s.UDP) == 0 && len(s.SCTP) == 0 && !s.OtherProtocols
}

// IsAll reports whether s contains every port of every protocol.
func (s PortSet) IsAll() bool {
	return s.Full(corev1.ProtocolTCP) && s.Full(corev1.ProtocolUDP) && s.Full(corev1.ProtocolSCTP) && s.OtherProtocols
}

// String renders s as "all", "none" or e.g. "TCP:80,8080-8090 UDP:53".
func (s PortSet) String() string {
	if s.IsAll() {
		return "all"
	}
	if s.IsEmpty() {
		return "none"
	}
	var b strings.Builder
	add := func(name string, rs []PortRange) {
		if len(rs) == 0 {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		b.WriteByte(':')
		if len(rs) == 1 && rs[0] == (PortRange{MinPort, MaxPort}) {
			b.WriteString("all")
			return
		}
		for i, r := range rs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(r.String())
		}
	}
	add("TCP", s.TCP)
	add("UDP", s.UDP)
	add("SCTP", s.SCTP)
	if s.OtherProtocols {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("other-protocols")
	}
	return b.String()
}

// normalizeRanges sorts rs and merges overlapping and adjacent ranges.
func normalizeRanges(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b PortRange) int { return int(a.From) - int(b.From) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.From <= last.To+1 {
			last.To = max(last.To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

func unionRanges(a, b []PortRange) []PortRange {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	return normalizeRanges(append(slices.Clone(a), b...))
}

func intersectRanges(a, b []PortRange) []PortRange {
	var out []PortRange
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		from, to := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if from <= to {
			out = append(out, PortRange{from, to})
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// Union returns s ∪ o.
func (s PortSet) Union(o PortSet) PortSet {
	return PortSet{
		TCP:            unionRanges(s.TCP, o.TCP),
		UDP:            unionRanges(s.UDP, o.UDP),
		SCTP:           unionRanges(s.SCTP, o.SCTP),
		OtherProtocols: s.OtherProtocols || o.OtherProtocols,
	}
}

// Intersect returns s ∩ o.
func (s PortSet) Intersect(o PortSet) PortSet {
	return PortSet{
		TCP:            intersectRanges(s.TCP, o.TCP),
		UDP:            intersectRanges(s.UDP, o.UDP),
		SCTP:           intersectRanges(s.SCTP, o.SCTP),
		OtherProtocols: s.OtherProtocols && o.OtherProtocols,
	}
}

// portID names an interned PortSet in a portTable.
type portID int32

const (
	psNone portID = 0
	psAll  portID = 1
)

// portTable interns port sets so that partitions compare and combine them by
// id, and memoizes unions and intersections (clusters use few distinct sets).
// It is not safe for concurrent mutation; the engine fills it in New and
// Reach uses its own copy-on-write extension (see reach.go).
type portTable struct {
	sets  []PortSet
	ids   map[string]portID
	union map[[2]portID]portID
	inter map[[2]portID]portID
}

func newPortTable() *portTable {
	t := &portTable{
		ids:   map[string]portID{},
		union: map[[2]portID]portID{},
		inter: map[[2]portID]portID{},
	}
	t.intern(PortSet{})
	t.intern(AllPorts())
	return t
}

func (t *portTable) intern(s PortSet) portID {
	k := s.String()
	if id, ok := t.ids[k]; ok {
		return id
	}
	id := portID(len(t.sets))
	t.sets = append(t.sets, s)
	t.ids[k] = id
	return id
}

func (t *portTable) get(id portID) *PortSet { return &t.sets[id] }

func (t *portTable) unionID(a, b portID) portID {
	switch {
	case a == b || b == psNone || a == psAll:
		return a
	case a == psNone || b == psAll:
		return b
	}
	if a > b {
		a, b = b, a
	}
	k := [2]portID{a, b}
	if id, ok := t.union[k]; ok {
		return id
	}
	id := t.intern(t.sets[a].Union(t.sets[b]))
	t.union[k] = id
	return id
}

func (t *portTable) interID(a, b portID) portID {
	switch {
	case a == b || b == psAll || a == psNone:
		return a
	case a == psAll || b == psNone:
		return b
	}
	if a > b {
		a, b = b, a
	}
	k := [2]portID{a, b}
	if id, ok := t.inter[k]; ok {
		return id
	}
	id := t.intern(t.sets[a].Intersect(t.sets[b]))
	t.inter[k] = id
	return id
}
