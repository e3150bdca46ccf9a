package baseline

import (
	"net/netip"
	"time"
)

// PeerKind says what a network peer is.
type PeerKind uint8

// Peer kinds.
const (
	PeerUnknown PeerKind = iota
	PeerWorkload
	PeerNode
	PeerExternal
)

// Peer is one end of a network edge, resolved as of the flow's time.
type Peer struct {
	Kind PeerKind
	// Workload is "Kind/namespace/name" for PeerWorkload, "Node/name" for
	// PeerNode.
	Workload  string
	Namespace string
	// IP is the address (always set); for external peers the profile keys
	// on CIDR, not IP.
	IP netip.Addr
	// Name is a DNS name the flow carried for the address, if any.
	Name string
}

// CallKey is an API call shape without the object name: what novelty of API
// usage is judged on.
type CallKey struct {
	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
}

// SubjectProfile is what one identity normally does.
type SubjectProfile struct {
	Seen      Stat
	Calls     map[CallKey]*Stat
	Agents    map[string]*Stat
	SourceIPs map[netip.Addr]*Stat
}

// EdgeKey is one kind of connection a workload makes: to a workload, a node
// or an external CIDR, on a port and protocol.
type EdgeKey struct {
	// Peer is the peer workload ("Kind/ns/name"), "Node/name", or an
	// external CIDR ("203.0.113.0/24").
	Peer     string
	Port     uint16
	Protocol uint8
}

// EdgeStat is an edge's count plus volume.
type EdgeStat struct {
	Stat
	Bytes   uint64
	Packets uint64
}

// ProcessKey is one kind of process in a container: the executable and the
// shape of its arguments (see ArgShape).
type ProcessKey struct {
	Container  string `json:"container"`
	Executable string `json:"executable"`
	ArgShape   string `json:"argShape"`
}

// WorkloadProfile is what one workload normally does.
type WorkloadProfile struct {
	Seen      Stat
	Egress    map[EdgeKey]*EdgeStat
	Ingress   map[EdgeKey]*EdgeStat
	Processes map[ProcessKey]*Stat
}

// ImageKey is an image by registry and repository; Tag and Digest record
// what was seen for it.
type ImageKey struct {
	Registry, Repository string
}

// NamespaceProfile is what normally exists in a namespace.
type NamespaceProfile struct {
	Workloads map[string]*Stat
	// Images maps a repository to the tags and digests seen for it.
	Images map[ImageKey]map[string]*Stat
}

// Profiles is the whole learned baseline: per subject, per workload, per
// namespace, and the registries the cluster pulls from. Entries only ever
// aggregate: count, first seen, last seen (and bytes for edges).
type Profiles struct {
	// Start and End span every event added.
	Start, End time.Time
	Subjects   map[string]*SubjectProfile
	Workloads  map[string]*WorkloadProfile
	Namespaces map[string]*NamespaceProfile
	Registries map[string]*Stat
}

// NewProfiles returns an empty baseline.
func NewProfiles() *Profiles {
	return &Profiles{
		Subjects:   map[string]*SubjectProfile{},
		Workloads:  map[string]*WorkloadProfile{},
		Namespaces: map[string]*NamespaceProfile{},
		Registries: map[string]*Stat{},
	}
}

func (p *Profiles) span(t time.Time) {
	if p.Start.IsZero() || t.Before(p.Start) {
		p.Start = t
	}
	if t.After(p.End) {
		p.End = t
	}
}

// Subject returns the profile of user, or nil if never seen.
func (p *Profiles) Subject(user string) *SubjectProfile { return p.Subjects[user] }

// Workload returns the profile of a workload, or nil if never seen.
func (p *Profiles) Workload(w string) *WorkloadProfile { return p.Workloads[w] }

// Namespace returns the profile of a namespace, or nil if never seen.
func (p *Profiles) Namespace(ns string) *NamespaceProfile { return p.Namespaces[ns] }

func observe[K comparable](m map[K]*Stat, k K, t time.Time) {
	if s := m[k]; s != nil {
		s.Observe(t)
		return
	}
	s := &Stat{}
	s.Observe(t)
	m[k] = s
}

// ObserveCall records an API call by user at t.
func (p *Profiles) ObserveCall(user string, k CallKey, agent string, ip netip.Addr, t time.Time) {
	p.span(t)
	sp := p.Subjects[user]
	if sp == nil {
		sp = &SubjectProfile{Calls: map[CallKey]*Stat{}, Agents: map[string]*Stat{}, SourceIPs: map[netip.Addr]*Stat{}}
		p.Subjects[user] = sp
	}
	sp.Seen.Observe(t)
	observe(sp.Calls, k, t)
	if agent != "" {
		observe(sp.Agents, agent, t)
	}
	if ip.IsValid() {
		observe(sp.SourceIPs, ip, t)
	}
}

func (p *Profiles) workload(w string) *WorkloadProfile {
	wp := p.Workloads[w]
	if wp == nil {
		wp = &WorkloadProfile{Egress: map[EdgeKey]*EdgeStat{}, Ingress: map[EdgeKey]*EdgeStat{}, Processes: map[ProcessKey]*Stat{}}
		p.Workloads[w] = wp
	}
	return wp
}

// ObserveEdge records a connection from src to dst on port/proto with its
// volume. Either side may be external (keyed by the CIDR it falls in,
// prefix bits per address family given by v4Bits and v6Bits).
func (p *Profiles) ObserveEdge(src, dst Peer, port uint16, proto uint8, bytes, packets uint64, t time.Time, v4Bits, v6Bits int) {
	p.span(t)
	add := func(m map[EdgeKey]*EdgeStat, k EdgeKey) {
		es := m[k]
		if es == nil {
			es = &EdgeStat{}
			m[k] = es
		}
		es.Observe(t)
		es.Bytes += bytes
		es.Packets += packets
	}
	if src.Kind == PeerWorkload || src.Kind == PeerNode {
		wp := p.workload(src.Workload)
		wp.Seen.Observe(t)
		add(wp.Egress, EdgeKey{Peer: PeerKey(dst, v4Bits, v6Bits), Port: port, Protocol: proto})
	}
	if dst.Kind == PeerWorkload || dst.Kind == PeerNode {
		wp := p.workload(dst.Workload)
		wp.Seen.Observe(t)
		add(wp.Ingress, EdgeKey{Peer: PeerKey(src, v4Bits, v6Bits), Port: port, Protocol: proto})
	}
}

// PeerKey is how a peer appears in edge keys: its workload, or the CIDR an
// external or unresolved address falls in.
func PeerKey(p Peer, v4Bits, v6Bits int) string {
	if p.Kind == PeerWorkload || p.Kind == PeerNode {
		return p.Workload
	}
	bits := v6Bits
	if p.IP.Is4() || p.IP.Is4In6() {
		bits = v4Bits
	}
	pre, err := p.IP.Unmap().Prefix(bits)
	if err != nil {
		return p.IP.String()
	}
	return pre.String()
}

// ObserveProcess records a process in a workload's container.
func (p *Profiles) ObserveProcess(workload string, k ProcessKey, t time.Time) {
	p.span(t)
	wp := p.workload(workload)
	wp.Seen.Observe(t)
	observe(wp.Processes, k, t)
}

// ObserveWorkload records that a workload runs image in namespace at t.
// image is split into registry, repository and tag or digest.
func (p *Profiles) ObserveWorkload(namespace, workload, image string, t time.Time) {
	p.span(t)
	np := p.Namespaces[namespace]
	if np == nil {
		np = &NamespaceProfile{Workloads: map[string]*Stat{}, Images: map[ImageKey]map[string]*Stat{}}
		p.Namespaces[namespace] = np
	}
	if workload != "" {
		observe(np.Workloads, workload, t)
	}
	if image == "" {
		return
	}
	ref := ParseImage(image)
	k := ImageKey{Registry: ref.Registry, Repository: ref.Repository}
	vs := np.Images[k]
	if vs == nil {
		vs = map[string]*Stat{}
		np.Images[k] = vs
	}
	observe(vs, ref.Version(), t)
	observe(p.Registries, ref.Registry, t)
}
