package netpol

import (
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// endpoint is a resolved Peer: an address, or a pod of a class.
type endpoint struct {
	addr bool
	ip   netip.Addr
	pod  *corev1.Pod
	id   int32  // class id; -1 for a pod whose class is not in the engine
	c    *class // the class (synthesized when id is -1)
	eph  *ephemeral
}

// ephemeral describes a pod whose class the engine does not have (a pod not
// passed to New, or an address of a pod with a membership no class has).
type ephemeral struct {
	ns       int32 // -1 when the namespace is unknown
	nsName   string
	nsLabels map[string]string
	ports    *portSig
	members  bitset
}

// CanConnect reports whether from may open a connection to to on port with
// proto (empty means TCP), and which policies decide it. A connection needs
// the source's egress and the destination's ingress to allow it; a side not
// selected by any policy for its direction allows everything, and an address
// that is not a pod has no policies of its own.
func (e *Engine) CanConnect(from, to Peer, port PortRef, proto corev1.Protocol) Verdict {
	proto = normProto(proto)
	if samePod(from.Pod, to.Pod) {
		return Verdict{Allowed: true, Self: true, Egress: DirVerdict{Allowed: true}, Ingress: DirVerdict{Allowed: true}}
	}
	src := e.resolvePeer(from)
	dst := e.resolvePeer(to)
	num := port.Port
	if port.Name != "" {
		num = 0
		if !dst.addr {
			num = resolveNamedPort(dst.pod, port.Name, proto)
		}
	}
	var v Verdict
	if src.addr {
		v.Egress.Allowed = true
	} else {
		v.Egress = e.dirVerdict(src.c.egressRules, src.c.egressRefs, &dst, &dst, num, proto)
	}
	if dst.addr {
		v.Ingress.Allowed = true
	} else {
		v.Ingress = e.dirVerdict(dst.c.ingressRules, dst.c.ingressRefs, &src, &dst, num, proto)
	}
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

// Allowed is CanConnect without the explanation.
func (e *Engine) Allowed(from, to Peer, port PortRef, proto corev1.Protocol) bool {
	return e.CanConnect(from, to, port, proto).Allowed
}

func samePod(a, b *corev1.Pod) bool {
	if a == nil || b == nil {
		return false
	}
	if a == b {
		return true
	}
	if a.UID != "" && b.UID != "" {
		return a.UID == b.UID
	}
	return a.Name == b.Name && podNamespace(a) == podNamespace(b)
}

// dirVerdict evaluates the rules selecting a pod for one direction against
// the other end (peer); ports resolve on dst.
func (e *Engine) dirVerdict(rules []int32, refs []Ref, peer, dst *endpoint, port int32, proto corev1.Protocol) DirVerdict {
	if len(refs) == 0 {
		return DirVerdict{Allowed: true}
	}
	v := DirVerdict{Isolated: true}
	lastPolicy := int32(-1)
	for _, ri := range rules {
		r := &e.rules[ri]
		if !e.peerMatches(r, peer) {
			continue
		}
		ps, tmp := e.portsFor(r, dst)
		if tmp != nil {
			ps = tmp
		}
		if !ps.Contains(proto, port) {
			continue
		}
		v.Allowed = true
		if r.policy != lastPolicy {
			v.Policies = append(v.Policies, e.policies[r.policy].ref)
			lastPolicy = r.policy
		}
		v.Rules = append(v.Rules, RuleRef{Policy: e.policies[r.policy].ref, Direction: r.dir, Index: r.index})
	}
	if !v.Allowed {
		v.Policies = refs
	}
	return v
}

// peerMatches reports whether r's peers include the endpoint.
func (e *Engine) peerMatches(r *rule, x *endpoint) bool {
	if r.allPeers {
		return true
	}
	if x.addr {
		if !x.ip.IsValid() {
			return false
		}
		for _, b := range r.blocks {
			if e.blocks[b].contains(x.ip) {
				return true
			}
		}
		return false
	}
	if x.id >= 0 {
		return r.peerBits.has(int(x.id))
	}
	p := &e.policies[r.policy]
	for _, pr := range r.peers {
		if pr.block >= 0 {
			if x.eph.members.has(int(pr.block)) {
				return true
			}
			continue
		}
		if pr.ns == nil {
			if x.eph.ns != p.ns {
				continue
			}
		} else if !pr.ns.matches(x.eph.nsLabels) {
			continue
		}
		if pr.pod == nil || pr.pod.matches(x.c.labels) {
			return true
		}
	}
	return false
}

// portsFor returns r's port set towards dst: from the engine's table, or a
// freshly resolved set (second result) for a pod the engine does not know.
func (e *Engine) portsFor(r *rule, dst *endpoint) (*PortSet, *PortSet) {
	switch {
	case dst.addr:
		return e.ports.get(r.external), nil
	case len(r.ports.named) == 0:
		return e.ports.get(r.fixed), nil
	case dst.c.portSig >= 0:
		return e.ports.get(r.resolved[dst.c.portSig]), nil
	}
	ps := resolvePorts(&r.ports, dst.eph.ports)
	return nil, &ps
}

// resolvePeer finds the class of a pod peer, or makes an address endpoint.
func (e *Engine) resolvePeer(p Peer) endpoint {
	if p.Pod == nil {
		return endpoint{addr: true, ip: p.IP.Unmap()}
	}
	if p.Pod.Spec.HostNetwork {
		ip := p.IP
		if !ip.IsValid() {
			if ips := podIPs(p.Pod); len(ips) > 0 {
				ip = ips[0]
			} else if a, err := netip.ParseAddr(p.Pod.Status.HostIP); err == nil {
				ip = a
			}
		}
		return endpoint{addr: true, ip: ip.Unmap(), pod: p.Pod}
	}
	ns := podNamespace(p.Pod)
	ip := p.IP.Unmap()
	idx, ok := e.podPtr[p.Pod]
	if !ok {
		idx, ok = e.podIndex[podKey{ns, p.Pod.Name}]
	}
	if ok {
		pi := &e.pods[idx]
		if pi.class >= 0 && (!ip.IsValid() || (len(pi.ips) == 1 && pi.ips[0] == ip)) {
			return endpoint{pod: p.Pod, id: pi.class, c: &e.classes[pi.class]}
		}
	}
	return e.slowEndpoint(p.Pod, ns, ip)
}

// slowEndpoint computes the class of a pod from scratch; it is used for pods
// not passed to New and for a pod address with other ipBlock memberships.
func (e *Engine) slowEndpoint(p *corev1.Pod, nsName string, ip netip.Addr) endpoint {
	ips := podIPs(p)
	if ip.IsValid() {
		ips = []netip.Addr{ip}
	}
	members := newBitset(len(e.blocks))
	for _, a := range ips {
		members.or(blockMembership(e.blocks, a))
	}
	eph := &ephemeral{ns: -1, nsName: nsName, members: members}
	nsIdx, known := e.nsIndex[nsName]
	if known {
		eph.ns = nsIdx
		eph.nsLabels = e.namespaces[nsIdx].labels
	} else {
		eph.nsLabels = map[string]string{labelMetadataName: nsName}
	}
	cs := e.specOf(p, nsIdx, members)
	eph.ports = &portSig{byName: cs.ports}
	ps, psKnown := e.portSigKey[portsKey(cs.ports)]
	is, isKnown := e.ipSigID(members, false)
	if known && psKnown && isKnown {
		key := strconv.Itoa(int(nsIdx)) + "\x01" + labelsKey(cs.labels) + "\x01" + strconv.Itoa(int(ps)) + "\x01" + strconv.Itoa(int(is))
		if c, ok := e.classKey[key]; ok {
			return endpoint{pod: p, id: c, c: &e.classes[c]}
		}
	}
	c := &class{ns: eph.ns, labels: cs.labels, portSig: -1, ipSig: -1}
	if psKnown {
		c.portSig = ps
	}
	if known {
		for _, pi := range e.namespaces[nsIdx].policies {
			pol := &e.policies[pi]
			if pol.sel == nil || !pol.sel.matches(cs.labels) {
				continue
			}
			if pol.ingress {
				c.ingressRefs = append(c.ingressRefs, pol.ref)
				c.ingressRules = append(c.ingressRules, pol.ingressRules...)
			}
			if pol.egress {
				c.egressRefs = append(c.egressRefs, pol.ref)
				c.egressRules = append(c.egressRules, pol.egressRules...)
			}
		}
	}
	return endpoint{pod: p, id: -1, c: c, eph: eph}
}
