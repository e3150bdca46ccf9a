package netpol

// resolve computes, once, which classes each policy selects, which classes
// each rule's peers match, the port set of each rule per destination
// portSig, and the rules that apply to each class.
func (b *builder) resolve() {
	e := b.e
	n := len(e.classes)
	for pi := range e.policies {
		p := &e.policies[pi]
		p.selected = newBitset(n)
		if p.sel == nil {
			continue
		}
		p.selectedClasses = b.podSelMatches(p.sel, p.ns)
		for _, c := range p.selectedClasses {
			p.selected.set(int(c))
		}
	}
	blockBits := make([]bitset, len(e.blocks))
	for ri := range e.rules {
		r := &e.rules[ri]
		p := &e.policies[r.policy]
		r.peerBits = newBitset(n)
		if r.allPeers {
			r.peerBits.fill(n)
		}
		for _, pr := range r.peers {
			if pr.block >= 0 {
				if blockBits[pr.block] == nil {
					blockBits[pr.block] = b.blockClasses(pr.block)
				}
				r.peerBits.or(blockBits[pr.block])
				continue
			}
			for _, ns := range b.peerNamespaces(pr, p.ns) {
				for _, c := range b.podSelMatches(pr.pod, ns) {
					r.peerBits.set(int(c))
				}
			}
		}
		r.external = e.ports.intern(resolvePorts(&r.ports, nil))
		if len(r.ports.named) == 0 {
			r.fixed = r.external
			continue
		}
		r.resolved = make([]portID, len(e.portSigs))
		for si := range e.portSigs {
			r.resolved[si] = e.ports.intern(resolvePorts(&r.ports, &e.portSigs[si]))
		}
	}
	for pi := range e.policies {
		p := &e.policies[pi]
		for _, c := range p.selectedClasses {
			cl := &e.classes[c]
			if p.ingress {
				cl.ingressPolicies = append(cl.ingressPolicies, int32(pi))
				cl.ingressRefs = append(cl.ingressRefs, p.ref)
				cl.ingressRules = append(cl.ingressRules, p.ingressRules...)
			}
			if p.egress {
				cl.egressPolicies = append(cl.egressPolicies, int32(pi))
				cl.egressRefs = append(cl.egressRefs, p.ref)
				cl.egressRules = append(cl.egressRules, p.egressRules...)
			}
		}
	}
}

// podSelMatches returns the classes of namespace ns that sel matches (every
// class when sel is nil).
func (b *builder) podSelMatches(sel *selector, ns int32) []int32 {
	e := b.e
	if sel == nil || sel.empty() {
		return e.namespaces[ns].classes
	}
	k := podSelKey{sel.key, ns}
	if m, ok := b.podSelCache[k]; ok {
		return m
	}
	var m []int32
	for _, c := range e.namespaces[ns].classes {
		if sel.matches(e.classes[c].labels) {
			m = append(m, c)
		}
	}
	b.podSelCache[k] = m
	return m
}

// peerNamespaces returns the namespaces a selector peer covers: the
// policy's own without namespaceSelector (NetworkPolicyPeer comments).
func (b *builder) peerNamespaces(pr peer, policyNS int32) []int32 {
	if pr.ns == nil {
		return []int32{policyNS}
	}
	if m, ok := b.nsSelCache[pr.ns.key]; ok {
		return m
	}
	m := []int32{}
	for i := range b.e.namespaces {
		if pr.ns.matches(b.e.namespaces[i].labels) {
			m = append(m, int32(i))
		}
	}
	b.nsSelCache[pr.ns.key] = m
	return m
}

// blockClasses returns the classes whose pods have an address in block.
func (b *builder) blockClasses(block int32) bitset {
	e := b.e
	bits := newBitset(len(e.classes))
	for c := range e.classes {
		if e.ipSigs[e.classes[c].ipSig].has(int(block)) {
			bits.set(c)
		}
	}
	return bits
}
