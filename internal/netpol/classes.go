package netpol

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// class is an equivalence class of pods: same namespace, same values for
// the label keys policies look at, same named ports that policies name,
// same ipBlock memberships. Every policy treats its pods alike.
type class struct {
	ns      int32
	labels  map[string]string // projected on Engine.labelKeys
	portSig int32
	ipSig   int32
	pods    []int32
	active  int // pods counted in reach: Running, with an IP

	ingressPolicies, egressPolicies []int32
	ingressRefs, egressRefs         []Ref
	ingressRules, egressRules       []int32
}

// portSig is a set of named container ports, projected on the names
// policies use.
type portSig struct {
	byName map[string]portTarget
}

type portTarget struct {
	port  int32
	proto corev1.Protocol
}

// podNamedPorts returns the named ports of p: its containers' and its
// restartable init (sidecar) containers', as kubelet and kube-proxy resolve
// them (k8s.io/kubernetes pkg/api/v1/pod FindPort).
func podNamedPorts(p *corev1.Pod, f func(name string, t portTarget)) {
	add := func(cs []corev1.Container, sidecarOnly bool) {
		for i := range cs {
			c := &cs[i]
			if sidecarOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, cp := range c.Ports {
				if cp.Name != "" {
					f(cp.Name, portTarget{port: cp.ContainerPort, proto: normProto(cp.Protocol)})
				}
			}
		}
	}
	add(p.Spec.Containers, false)
	add(p.Spec.InitContainers, true)
}

// resolveNamedPort finds the number of the named port on p for proto.
func resolveNamedPort(p *corev1.Pod, name string, proto corev1.Protocol) int32 {
	var port int32
	podNamedPorts(p, func(n string, t portTarget) {
		if port == 0 && n == name && t.proto == proto {
			port = t.port
		}
	})
	return port
}

// podIPs returns the pod's addresses (status.podIPs, else status.podIP).
func podIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		add(p.Status.PodIP)
	}
	return out
}

// ipSigger computes ipBlock memberships. Addresses between the same two
// consecutive block boundaries have the same memberships, so they are
// computed once per such interval.
type ipSigger struct {
	e      *Engine
	bounds []netip.Addr
	memo   map[int]bitset
}

func newIPSigger(e *Engine) *ipSigger {
	s := &ipSigger{e: e, memo: map[int]bitset{}}
	for _, b := range e.blocks {
		for _, r := range append([]ipRange{prefixRange(b.cidr)}, exceptRanges(b)...) {
			s.bounds = append(s.bounds, r.from)
			if n := r.to.Next(); n.IsValid() {
				s.bounds = append(s.bounds, n)
			}
		}
	}
	slices.SortFunc(s.bounds, func(a, b netip.Addr) int { return a.Compare(b) })
	s.bounds = slices.Compact(s.bounds)
	return s
}

func exceptRanges(b *ipBlock) []ipRange {
	out := make([]ipRange, len(b.except))
	for i, e := range b.except {
		out[i] = prefixRange(e)
	}
	return out
}

// membership returns the blocks containing any of ips.
func (s *ipSigger) membership(ips []netip.Addr) bitset {
	m := newBitset(len(s.e.blocks))
	for _, ip := range ips {
		iv := sort.Search(len(s.bounds), func(i int) bool { return ip.Less(s.bounds[i]) })
		bm, ok := s.memo[iv]
		if !ok {
			bm = blockMembership(s.e.blocks, ip)
			s.memo[iv] = bm
		}
		m.or(bm)
	}
	return m
}

func blockMembership(blocks []*ipBlock, ip netip.Addr) bitset {
	m := newBitset(len(blocks))
	for i, b := range blocks {
		if b.contains(ip) {
			m.set(i)
		}
	}
	return m
}

// ipSigID interns a membership bitset.
func (e *Engine) ipSigID(m bitset, add bool) (int32, bool) {
	var kb strings.Builder
	for _, w := range m {
		kb.WriteString(strconv.FormatUint(w, 36))
		kb.WriteByte(',')
	}
	k := kb.String()
	if id, ok := e.ipSigKey[k]; ok {
		return id, true
	}
	if !add {
		return -1, false
	}
	id := int32(len(e.ipSigs))
	e.ipSigs = append(e.ipSigs, m)
	e.ipSigKey[k] = id
	return id, true
}

// classSpec is what decides a pod's class.
type classSpec struct {
	ns      int32
	labels  map[string]string
	ports   map[string]portTarget
	members bitset
}

func (e *Engine) specOf(p *corev1.Pod, ns int32, members bitset) classSpec {
	cs := classSpec{ns: ns, labels: map[string]string{}, ports: map[string]portTarget{}, members: members}
	for k, v := range p.Labels {
		if _, ok := e.labelKeys[k]; ok {
			cs.labels[k] = v
		}
	}
	podNamedPorts(p, func(name string, t portTarget) {
		if _, ok := e.portNames[name]; ok {
			if _, dup := cs.ports[name]; !dup {
				cs.ports[name] = t
			}
		}
	})
	return cs
}

func labelsKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

func portsKey(m map[string]portTarget) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		t := m[k]
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(string(t.proto))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(t.port)))
		b.WriteByte(0)
	}
	return b.String()
}

// buildPods assigns every pod to a class.
func (b *builder) buildPods(pods []corev1.Pod) {
	e := b.e
	sigger := newIPSigger(e)
	portSigKey := e.portSigKey
	for i := range pods {
		p := &pods[i]
		ns := e.addNamespace(podNamespace(p), nil)
		pi := podInfo{pod: p, ns: ns, ips: podIPs(p), class: -1, workload: e.workload(p)}
		pi.active = p.Status.Phase == corev1.PodRunning && len(pi.ips) > 0
		id := int32(len(e.pods))
		e.podIndex[podKey{e.namespaces[ns].name, p.Name}] = id
		e.podPtr[p] = id
		if p.Spec.HostNetwork {
			// Host-network pods share their node's network namespace:
			// policies do not select them and podSelectors do not match
			// them; they are addresses like any node's.
			e.pods = append(e.pods, pi)
			continue
		}
		cs := e.specOf(p, ns, sigger.membership(pi.ips))
		pk := portsKey(cs.ports)
		ps, ok := portSigKey[pk]
		if !ok {
			ps = int32(len(e.portSigs))
			e.portSigs = append(e.portSigs, portSig{byName: cs.ports})
			portSigKey[pk] = ps
		}
		is, _ := e.ipSigID(cs.members, true)
		key := strconv.Itoa(int(ns)) + "\x01" + labelsKey(cs.labels) + "\x01" + strconv.Itoa(int(ps)) + "\x01" + strconv.Itoa(int(is))
		c, ok := e.classKey[key]
		if !ok {
			c = int32(len(e.classes))
			e.classes = append(e.classes, class{ns: ns, labels: cs.labels, portSig: ps, ipSig: is})
			e.classKey[key] = c
			e.namespaces[ns].classes = append(e.namespaces[ns].classes, c)
		}
		pi.class = c
		e.classes[c].pods = append(e.classes[c].pods, id)
		if pi.active {
			e.classes[c].active++
		}
		e.pods = append(e.pods, pi)
	}
}
