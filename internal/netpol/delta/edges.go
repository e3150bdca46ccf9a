package delta

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Kind says what one end of an edge is.
type Kind uint8

// Endpoint kinds.
const (
	// KindPod: a pod (running, or gone but known from the cluster objects'
	// history or from the flow itself) of a workload.
	KindPod Kind = iota + 1
	// KindNode: a node address, which host-network pods share.
	KindNode
	// KindService: a Service address whose backends at the flow's time were
	// not the pods of exactly one workload.
	KindService
	// KindExternal: an address outside the cluster.
	KindExternal
	// KindUnresolved: an address in the pod network that no known pod held
	// at the flow's time and that the flow did not name.
	KindUnresolved
)

// String returns "pod", "node", "service", "external" or "unresolved".
func (k Kind) String() string {
	switch k {
	case KindPod:
		return "pod"
	case KindNode:
		return "node"
	case KindService:
		return "service"
	case KindExternal:
		return "external"
	case KindUnresolved:
		return "unresolved"
	}
	return "unknown"
}

// MarshalText writes the String form.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Endpoint is one end of observed edges. Pods of one workload that differ
// only in labels set per pod or per run (see StableLabels) share an
// Endpoint: the first pod seen represents them for policy evaluation.
type Endpoint struct {
	Kind Kind
	// Workload is "Kind/namespace/name" for pods, "Node/name" for nodes,
	// "Service/namespace/name" for services; empty for addresses.
	Workload  string
	Namespace string
	// Pod is the representative pod (KindPod): its labels, namespace and
	// container ports decide how policies treat it. Do not modify.
	Pod *corev1.Pod
	// IP is the address seen: the representative pod's, or the node's,
	// service's or external address.
	IP netip.Addr
	// Name is a DNS name a flow carried for the address, if any.
	Name string
	// FromFlow: the pod is not in the cluster objects; its identity and
	// labels come from the flow (Hubble names pods and their labels).
	FromFlow bool
}

// Label names the endpoint in reports: the workload, node or service, or
// the address.
func (e *Endpoint) Label() string {
	if e.Workload != "" {
		return e.Workload
	}
	return e.IP.String()
}

// EdgeKey identifies one distinct connection: endpoints (indexes into the
// Edges' endpoint table), destination port and protocol.
type EdgeKey struct {
	Src, Dst int32
	Port     uint16
	Proto    event.Protocol
}

// edgeStat is one edge and the aggregate of its flows, in one cache line.
// Times are Unix nanoseconds; next chains the edges of one (source,
// destination) pair.
type edgeStat struct {
	key                            EdgeKey
	next                           int32
	flows, bytes, packets, dropped uint64
	first, last                    int64
}

// Edge is one distinct connection with its aggregate.
type Edge struct {
	Src, Dst *Endpoint
	Port     uint16
	Protocol event.Protocol
	// Flows counts the flow records; Dropped those the network reported
	// dropped (a Hubble DROPPED verdict, an AWS REJECT).
	Flows, Bytes, Packets, Dropped uint64
	First, Last                    time.Time
}

// Edges aggregates observed flows by (source, destination, port,
// protocol). Build it with an Ingester. It is not safe for concurrent use.
type Edges struct {
	endpoints []Endpoint
	variants  map[string]int32 // endpoint interning key -> index
	// pairs maps (source, destination) to its first edge; the pair's
	// edges (one per port and protocol) are chained through edgeStat.next.
	// A 64-bit key keeps the per-flow lookup on the fast map path.
	pairs    map[uint64]int32
	stats    []edgeStat
	flows    int64
	from, to int64
}

// NewEdges returns an empty aggregate.
func NewEdges() *Edges {
	return &Edges{variants: map[string]int32{}, pairs: map[uint64]int32{}}
}

// Flows is the number of flows added.
func (es *Edges) Flows() int64 { return es.flows }

// Len is the number of distinct edges.
func (es *Edges) Len() int { return len(es.stats) }

// Window is the span of the flows' times (zero when empty).
func (es *Edges) Window() (from, to time.Time) {
	if es.flows == 0 {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, es.from).UTC(), time.Unix(0, es.to).UTC()
}

// Endpoint returns endpoint i of the table. Do not modify it.
func (es *Edges) Endpoint(i int32) *Endpoint { return &es.endpoints[i] }

// intern returns the index of the endpoint with key, adding ep if new.
func (es *Edges) intern(key string, ep Endpoint) int32 {
	if i, ok := es.variants[key]; ok {
		return i
	}
	i := int32(len(es.endpoints))
	es.endpoints = append(es.endpoints, ep)
	es.variants[key] = i
	return i
}

// observe adds one flow.
func (es *Edges) observe(k EdgeKey, bytes, packets uint64, dropped bool, t int64) {
	if es.flows == 0 || t < es.from {
		es.from = t
	}
	if es.flows == 0 || t > es.to {
		es.to = t
	}
	es.flows++
	pair := uint64(uint32(k.Src))<<32 | uint64(uint32(k.Dst))
	head, ok := es.pairs[pair]
	if !ok {
		head = -1
	}
	i := head
	for i >= 0 && (es.stats[i].key.Port != k.Port || es.stats[i].key.Proto != k.Proto) {
		i = es.stats[i].next
	}
	if i < 0 {
		i = int32(len(es.stats))
		es.pairs[pair] = i
		es.stats = append(es.stats, edgeStat{key: k, first: t, last: t, next: head})
	}
	s := &es.stats[i]
	s.flows++
	s.bytes += bytes
	s.packets += packets
	if dropped {
		s.dropped++
	}
	if t < s.first {
		s.first = t
	}
	if t > s.last {
		s.last = t
	}
}

// List returns every edge, sorted by source, destination, protocol and
// port labels (a stable order for reports).
func (es *Edges) List() []Edge {
	out := make([]Edge, len(es.stats))
	for i := range es.stats {
		s := &es.stats[i]
		k := s.key
		out[i] = Edge{
			Src: &es.endpoints[k.Src], Dst: &es.endpoints[k.Dst], Port: k.Port, Protocol: k.Proto,
			Flows: s.flows, Bytes: s.bytes, Packets: s.packets, Dropped: s.dropped,
			First: time.Unix(0, s.first).UTC(), Last: time.Unix(0, s.last).UTC(),
		}
	}
	slices.SortFunc(out, compareEdges)
	return out
}

func compareEdges(a, b Edge) int {
	return cmp.Or(
		compareEndpoints(a.Src, b.Src),
		compareEndpoints(a.Dst, b.Dst),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Port, b.Port),
	)
}

func compareEndpoints(a, b *Endpoint) int {
	return cmp.Or(
		strings.Compare(a.Workload, b.Workload),
		a.IP.Compare(b.IP),
		strings.Compare(podName(a.Pod), podName(b.Pod)),
	)
}

func podName(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return p.Name
}
