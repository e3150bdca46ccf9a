package delta

import (
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// Bounds on what an Ingester caches and keeps.
const (
	// maxCache bounds each lookup cache; a full cache is cleared (the
	// endpoints themselves stay interned).
	maxCache = 100_000
	// maxExternalAddrs bounds the external and unresolved addresses kept
	// one by one; past it, new addresses are kept by their /24 (IPv4) or
	// /64 (IPv6) network, represented by the first address seen.
	maxExternalAddrs = 1 << 20
	// serviceBucket is how long a Service's backends are taken as
	// unchanged when translating flows to its address.
	serviceBucket = int64(time.Minute)
	// ipBucket is the span of the per-address resolution cache: an
	// address's endpoint is cached for one bucket when it is certain to be
	// the same over the whole bucket (see resolveCached).
	ipBucket = int64(time.Minute)
)

// Ingester resolves flows against the cluster index, as of each flow's time,
// and adds them to an Edges aggregate. Resolution order for an address: the
// pod that held it at the time, a Service address (translated to its
// backends' workload and target port when they are one workload's pods), a
// node address; then the pod the flow names (Hubble and generic records can
// carry namespace, pod and labels), an unresolved pod-network address, or
// an external address. It is not safe for concurrent use.
type Ingester struct {
	idx     *cluster.Index
	edges   *Edges
	podNets []netip.Prefix

	pods   map[*corev1.Pod]int32
	hints  map[hintKey]int32
	addrs  map[addrKey]int32
	svcs   map[svcKey]svcTarget
	nAddrs int
	// ip4 and ip6 cache an address's endpoint for one time bucket.
	ip4 map[uint32]cached
	ip6 map[[16]byte]cached
}

// cached is an address's endpoint over one time bucket.
type cached struct {
	bucket int64
	ep     int32
	// external: an address endpoint, which a flow naming a pod at that
	// address must not be given (the flow's hint wins).
	external bool
}

type hintKey struct{ namespace, pod string }

type addrKey struct {
	ip   netip.Addr
	kind Kind
}

type svcKey struct {
	svc    *corev1.Service
	port   uint16
	proto  event.Protocol
	bucket int64
}

type svcTarget struct {
	ep   int32
	port uint16
}

// NewIngester returns an Ingester over idx adding to a new Edges.
// podNetworks are the pod address ranges (see PodNetworks): an address in
// them that no pod held is reported unresolved, not external.
func NewIngester(idx *cluster.Index, podNetworks []netip.Prefix) *Ingester {
	if idx == nil {
		idx = cluster.NewIndex(nil)
	}
	return &Ingester{
		idx: idx, edges: NewEdges(), podNets: podNetworks,
		pods:  map[*corev1.Pod]int32{},
		hints: map[hintKey]int32{},
		addrs: map[addrKey]int32{},
		svcs:  map[svcKey]svcTarget{},
		ip4:   map[uint32]cached{},
		ip6:   map[[16]byte]cached{},
	}
}

// Edges returns the aggregate built so far.
func (g *Ingester) Edges() *Edges { return g.edges }

// Add resolves both ends of f and adds it to its edge. Replies must have
// been dropped already (the flow decoders do).
func (g *Ingester) Add(f *event.Flow) {
	t := f.Time.UnixNano()
	src, _ := g.resolveCached(&f.Src, f, t, 0, false)
	dst, port := g.resolveCached(&f.Dst, f, t, f.Dst.Port, true)
	g.edges.observe(EdgeKey{Src: src, Dst: dst, Port: port, Proto: f.Protocol},
		f.Bytes, f.Packets, f.Verdict == event.VerdictDropped, t)
}

// resolveCached is resolve with a per-address cache over time buckets.
// An entry is only made when the address is certain to resolve to the same
// endpoint over the whole bucket:
//   - a pod: the index returns the same holding at the bucket's first and
//     last instant, and a holding that starts later ends the earlier one,
//     so no other pod held the address in between;
//   - a node address (pods never hold one);
//   - an external address (outside the pod networks, where no pod lives).
//
// Services (translated per port), pods named only by the flow and
// unresolved addresses are resolved every time. Flows without a time
// (resolved against the current holders) are not cached either.
func (g *Ingester) resolveCached(e *event.Endpoint, f *event.Flow, t int64, port uint16, dst bool) (int32, uint16) {
	ip := e.IP
	if !ip.IsValid() || f.Time.IsZero() {
		return g.resolve(e, f, port, dst)
	}
	b := t / ipBucket
	if t < 0 && t%ipBucket != 0 {
		b-- // floor
	}
	var k4 uint32
	var k6 [16]byte
	v4 := ip.Is4()
	if v4 {
		a := ip.As4()
		k4 = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		if c, ok := g.ip4[k4]; ok && c.bucket == b && !(c.external && e.Pod != "") {
			return c.ep, port
		}
	} else {
		k6 = ip.As16()
		if c, ok := g.ip6[k6]; ok && c.bucket == b && !(c.external && e.Pod != "") {
			return c.ep, port
		}
	}
	id, p := g.resolve(e, f, port, dst)
	if !g.cacheable(id, ip, b) {
		return id, p
	}
	c := cached{bucket: b, ep: id, external: g.edges.endpoints[id].Kind == KindExternal}
	if v4 {
		if len(g.ip4) >= maxCache {
			clear(g.ip4)
		}
		g.ip4[k4] = c
	} else {
		if len(g.ip6) >= maxCache {
			clear(g.ip6)
		}
		g.ip6[k6] = c
	}
	return id, p
}

// cacheable reports whether endpoint id, resolved for ip at some time of
// bucket b, is ip's endpoint over the whole bucket.
func (g *Ingester) cacheable(id int32, ip netip.Addr, b int64) bool {
	ep := &g.edges.endpoints[id]
	switch ep.Kind {
	case KindNode, KindExternal:
		if ep.Kind == KindExternal && ep.IP != ip.Unmap() {
			return false // kept by network past maxExternalAddrs
		}
		return true
	case KindPod:
		if ep.FromFlow {
			return false
		}
		first := time.Unix(0, b*ipBucket)
		last := time.Unix(0, (b+1)*ipBucket-1)
		p1, ok1 := g.idx.PodAt(ip, first)
		p2, ok2 := g.idx.PodAt(ip, last)
		return ok1 && ok2 && p1 == p2 && g.pods[p1] == id
	}
	return false
}

// resolve finds the endpoint of e at the flow's time. For a destination, a
// Service address is translated to a backend and port to its target port.
func (g *Ingester) resolve(e *event.Endpoint, f *event.Flow, port uint16, dst bool) (int32, uint16) {
	if e.IP.IsValid() {
		ep := g.idx.ResolveIP(e.IP, f.Time)
		switch ep.Kind {
		case cluster.EndpointPod:
			return g.pod(ep.Pod, ep.Workload, ep.IP), port
		case cluster.EndpointService:
			if dst {
				return g.service(ep.Service, ep.IP, port, f)
			}
			return g.addr(KindService, ep.IP, e, func() (string, string) { return serviceName(ep.Service), ep.Service.Namespace }), port
		case cluster.EndpointNode:
			return g.addr(KindNode, ep.IP, e, func() (string, string) { return ep.Workload.String(), "" }), port
		}
	}
	if e.Pod != "" && e.Namespace != "" {
		return g.hinted(e), port
	}
	ip := e.IP.Unmap()
	for _, n := range g.podNets {
		if n.Contains(ip) {
			return g.addr(KindUnresolved, ip, e, nil), port
		}
	}
	return g.addr(KindExternal, ip, e, nil), port
}

// pod returns the endpoint of a pod from the index.
func (g *Ingester) pod(p *corev1.Pod, w cluster.Workload, ip netip.Addr) int32 {
	if i, ok := g.pods[p]; ok {
		return i
	}
	name := w.String()
	i := g.edges.intern(variantKey(name, p.Namespace, p.Labels), Endpoint{
		Kind: KindPod, Workload: name, Namespace: p.Namespace, Pod: p, IP: ip,
	})
	if len(g.pods) >= maxCache {
		clear(g.pods)
	}
	g.pods[p] = i
	return i
}

// hinted returns the endpoint of a pod the flow names but the index does
// not know (it is gone, or the dump predates it). Its labels come from the
// flow; its container ports (for named ports) from a pod of the same
// workload that the cluster objects hold, if any.
func (g *Ingester) hinted(e *event.Endpoint) int32 {
	k := hintKey{e.Namespace, e.Pod}
	if i, ok := g.hints[k]; ok {
		return i
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: e.Namespace, Name: e.Pod, Labels: map[string]string{}}}
	for _, l := range e.Labels {
		if strings.HasPrefix(l, "reserved:") {
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && k != "" {
			p.Labels[k] = v
		}
	}
	if e.IP.IsValid() {
		p.Status.PodIP = e.IP.String()
		p.Status.PodIPs = []corev1.PodIP{{IP: e.IP.String()}}
	}
	p.Status.Phase = corev1.PodRunning
	w := g.idx.WorkloadOf(p)
	for _, q := range g.idx.PodsInNamespace(e.Namespace) {
		if !q.Spec.HostNetwork && g.idx.WorkloadOf(q) == w {
			p.Spec = q.Spec
			break
		}
	}
	name := w.String()
	i := g.edges.intern(variantKey(name, p.Namespace, p.Labels), Endpoint{
		Kind: KindPod, Workload: name, Namespace: e.Namespace, Pod: p, IP: e.IP.Unmap(), FromFlow: true,
	})
	if len(g.hints) >= maxCache {
		clear(g.hints)
	}
	g.hints[k] = i
	return i
}

// addr returns the endpoint of an address; name, when set, gives the
// workload and namespace of a new endpoint.
func (g *Ingester) addr(kind Kind, ip netip.Addr, e *event.Endpoint, name func() (workload, namespace string)) int32 {
	k := addrKey{ip, kind}
	i, ok := g.addrs[k]
	if !ok && (kind == KindExternal || kind == KindUnresolved) && g.nAddrs >= maxExternalAddrs {
		bits := 24
		if ip.Is6() {
			bits = 64
		}
		if p, err := ip.Prefix(bits); err == nil {
			k.ip = p.Addr()
			i, ok = g.addrs[k]
		}
	}
	if !ok {
		ep := Endpoint{Kind: kind, IP: ip}
		if name != nil {
			ep.Workload, ep.Namespace = name()
		}
		i = g.edges.intern(kind.String()+"\x00"+k.ip.String(), ep)
		g.addrs[k] = i
		if kind == KindExternal || kind == KindUnresolved {
			g.nAddrs++
		}
	}
	if len(e.Names) > 0 {
		if ep := &g.edges.endpoints[i]; ep.Name == "" {
			ep.Name = e.Names[0]
		}
	}
	return i
}

// service translates a flow to a Service address: to the endpoint of its
// backends and the target port when, at the flow's time, they are the pods
// of one workload (policies apply after the Service's address translation);
// else to the Service itself, which policies cannot evaluate.
func (g *Ingester) service(svc *corev1.Service, ip netip.Addr, port uint16, f *event.Flow) (int32, uint16) {
	k := svcKey{svc: svc, port: port, proto: f.Protocol, bucket: f.Time.UnixNano() / serviceBucket}
	if t, ok := g.svcs[k]; ok {
		return t.ep, t.port
	}
	t := svcTarget{port: port}
	backends := g.idx.Backends(svc, f.Time)
	var w cluster.Workload
	one := len(backends) > 0
	for _, b := range backends {
		bw := g.idx.WorkloadOf(b)
		if !w.IsZero() && bw != w {
			one = false
			break
		}
		w = bw
	}
	if one {
		b := backends[0]
		bip, _ := netip.ParseAddr(b.Status.PodIP)
		t.ep = g.pod(b, w, bip.Unmap())
		t.port = targetPort(svc, b, port, f.Protocol)
	} else {
		t.ep = g.addr(KindService, ip, &f.Dst, func() (string, string) { return serviceName(svc), svc.Namespace })
	}
	if len(g.svcs) >= maxCache {
		clear(g.svcs)
	}
	g.svcs[k] = t
	return t.ep, t.port
}

func serviceName(svc *corev1.Service) string { return "Service/" + svc.Namespace + "/" + svc.Name }

// targetPort maps a Service port to the backend's port: spec.ports[].port
// with the flow's protocol to targetPort, by number or by the backend's
// container port name (defaulting to the port itself, as the API does).
func targetPort(svc *corev1.Service, backend *corev1.Pod, port uint16, proto event.Protocol) uint16 {
	for _, sp := range svc.Spec.Ports {
		spProto := sp.Protocol
		if spProto == "" {
			spProto = corev1.ProtocolTCP
		}
		if sp.Port != int32(port) || string(spProto) != proto.String() {
			continue
		}
		switch {
		case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal > 0:
			return uint16(sp.TargetPort.IntVal)
		case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
			if n := containerPort(backend, sp.TargetPort.StrVal, spProto); n > 0 {
				return uint16(n)
			}
		}
		return port
	}
	return port
}

// containerPort finds a named container port (with protocol) on a pod, in
// its containers and restartable init containers.
func containerPort(p *corev1.Pod, name string, proto corev1.Protocol) int32 {
	find := func(cs []corev1.Container, sidecarsOnly bool) int32 {
		for i := range cs {
			if sidecarsOnly && (cs[i].RestartPolicy == nil || *cs[i].RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, cp := range cs[i].Ports {
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				if cp.Name == name && cpProto == proto {
					return cp.ContainerPort
				}
			}
		}
		return 0
	}
	if n := find(p.Spec.Containers, false); n > 0 {
		return n
	}
	return find(p.Spec.InitContainers, true)
}

// portName is the inverse: the name a pod gives a container port number
// with protocol, or "".
func portName(p *corev1.Pod, port int32, proto corev1.Protocol) string {
	if p == nil {
		return ""
	}
	find := func(cs []corev1.Container, sidecarsOnly bool) string {
		for i := range cs {
			if sidecarsOnly && (cs[i].RestartPolicy == nil || *cs[i].RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, cp := range cs[i].Ports {
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				if cp.ContainerPort == port && cpProto == proto && cp.Name != "" {
					return cp.Name
				}
			}
		}
		return ""
	}
	if n := find(p.Spec.Containers, false); n != "" {
		return n
	}
	return find(p.Spec.InitContainers, true)
}

// PodNetworks returns the pod address ranges of a cluster: the nodes'
// spec.podCIDRs, or, when no node has one, the /24 (IPv4) or /64 (IPv6)
// networks of the pods' addresses.
func PodNetworks(inv *cluster.Inventory) []netip.Prefix {
	if inv == nil {
		return nil
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	add := func(p netip.Prefix) {
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for i := range inv.Nodes {
		n := &inv.Nodes[i]
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil {
				add(netip.PrefixFrom(p.Addr().Unmap(), p.Bits()))
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for i := range inv.Pods {
		p := &inv.Pods[i]
		if p.Spec.HostNetwork {
			continue
		}
		for _, s := range podIPStrings(p) {
			if a, err := netip.ParseAddr(s); err == nil {
				a = a.Unmap()
				bits := 24
				if a.Is6() {
					bits = 64
				}
				if pre, err := a.Prefix(bits); err == nil {
					add(pre)
				}
			}
		}
	}
	return out
}

func podIPStrings(p *corev1.Pod) []string {
	if len(p.Status.PodIPs) == 0 {
		if p.Status.PodIP != "" {
			return []string{p.Status.PodIP}
		}
		return nil
	}
	out := make([]string, 0, len(p.Status.PodIPs))
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	return out
}
