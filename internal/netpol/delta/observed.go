package delta

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/kubedelta/kubedelta/internal/event"
)

// peerLabel names a peer in observations: its workload, or its external
// network (see ObservedPeer).
func peerLabel(ep *Endpoint) string {
	if ep.Kind == KindExternal {
		return externalNet(ep.IP).String()
	}
	return ep.Label()
}

// externalNet is the network external addresses are grouped by.
func externalNet(ip netip.Addr) netip.Prefix {
	bits := 24
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.PrefixFrom(ip, ip.BitLen())
	}
	return p
}

type obsKey struct {
	peer  string
	port  uint16
	proto event.Protocol
}

type obsAcc struct {
	p        ObservedPeer
	addrs    map[netip.Addr]bool
	verdicts map[string]bool
}

func addObs(m map[obsKey]*obsAcc, peer *Endpoint, e *Edge, verdict string) {
	k := obsKey{peerLabel(peer), e.Port, e.Protocol}
	o := m[k]
	if o == nil {
		o = &obsAcc{
			p:     ObservedPeer{Peer: k.peer, Kind: peer.Kind, Port: e.Port, Protocol: e.Protocol.String(), FirstSeen: e.First, LastSeen: e.Last},
			addrs: map[netip.Addr]bool{}, verdicts: map[string]bool{},
		}
		m[k] = o
	}
	if peer.Kind == KindExternal {
		o.addrs[peer.IP] = true
		if peer.Name != "" && !slices.Contains(o.p.Names, peer.Name) && len(o.p.Names) < 5 {
			o.p.Names = append(o.p.Names, peer.Name)
		}
	}
	o.p.Count += e.Flows
	o.p.Bytes += e.Bytes
	o.p.Packets += e.Packets
	o.p.Dropped += e.Dropped
	if e.First.Before(o.p.FirstSeen) {
		o.p.FirstSeen = e.First
	}
	if e.Last.After(o.p.LastSeen) {
		o.p.LastSeen = e.Last
	}
	o.verdicts[verdict] = true
}

func (o *obsAcc) finish() ObservedPeer {
	p := o.p
	if len(o.addrs) == 1 {
		for a := range o.addrs {
			p.Peer = a.String()
		}
	} else if len(o.addrs) > 1 {
		p.Addresses = len(o.addrs)
	}
	switch len(o.verdicts) {
	case 1:
		for v := range o.verdicts {
			p.Verdict = v
		}
	default:
		p.Verdict = "mixed"
	}
	slices.Sort(p.Names)
	return p
}

func observedList(m map[obsKey]*obsAcc) []ObservedPeer {
	out := make([]ObservedPeer, 0, len(m))
	for _, o := range m {
		out = append(out, o.finish())
	}
	slices.SortFunc(out, func(a, b ObservedPeer) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(shortName(a.Peer), shortName(b.Peer)),
			strings.Compare(a.Peer, b.Peer), strings.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	return out
}

// findings aggregates denied or unresolved edges by workload.
type findings struct {
	m     map[findingKey]*EdgeFinding
	order []findingKey
}

type findingKey struct {
	src, dst string
	port     uint16
	proto    event.Protocol
}

func newFindings() *findings { return &findings{m: map[findingKey]*EdgeFinding{}} }

func (f *findings) add(e *Edge, why string) {
	k := findingKey{e.Src.Label(), e.Dst.Label(), e.Port, e.Protocol}
	x := f.m[k]
	if x == nil {
		x = &EdgeFinding{Src: k.src, Dst: k.dst, Port: e.Port, Protocol: e.Protocol.String(), FirstSeen: e.First, LastSeen: e.Last, Why: why}
		f.m[k] = x
		f.order = append(f.order, k)
	}
	x.Count += e.Flows
	x.Bytes += e.Bytes
	x.Dropped += e.Dropped
	if e.First.Before(x.FirstSeen) {
		x.FirstSeen = e.First
	}
	if e.Last.After(x.LastSeen) {
		x.LastSeen = e.Last
	}
}

func (f *findings) list() []EdgeFinding {
	out := make([]EdgeFinding, 0, len(f.order))
	for _, k := range f.order {
		out = append(out, *f.m[k])
	}
	slices.SortFunc(out, func(a, b EdgeFinding) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Src, b.Src), strings.Compare(a.Dst, b.Dst), cmp.Compare(a.Port, b.Port))
	})
	return out
}
