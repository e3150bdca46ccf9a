package netpol

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// policy is a compiled NetworkPolicy.
type policy struct {
	ref Ref
	ns  int32
	// sel is spec.podSelector; nil when invalid (selects nothing).
	sel              *selector
	ingress, egress  bool // effective policyTypes
	ingressRules     []int32
	egressRules      []int32
	selected         bitset // classes selected (only pods in ns)
	selectedClasses  []int32
	hasNamedPortRule bool
}

// rule is one compiled ingress or egress rule.
type rule struct {
	policy int32
	dir    Direction
	index  int
	// allPeers: from/to empty or absent, every source/destination matches.
	allPeers bool
	peers    []peer
	// peerBits: classes matched by any peer (selectors and ipBlocks).
	peerBits bitset
	// blocks: ipBlock ids of the peers, to match addresses outside pods.
	blocks []int32
	ports  portSpec
	// fixed is the port set when ports has no named port; resolved holds
	// it by destination portSig otherwise.
	fixed    portID
	resolved []portID
	// external is the port set towards a destination that is not a pod:
	// named ports resolve to nothing there.
	external portID
}

// peer is one compiled NetworkPolicyPeer.
type peer struct {
	// ns: namespaceSelector; nil means the policy's own namespace.
	ns *selector
	// pod: podSelector; nil means every pod.
	pod   *selector
	block int32 // ipBlock id, or -1
}

// portSpec is a compiled ports list.
type portSpec struct {
	all     bool // no ports listed: every port of every protocol
	numeric PortSet
	named   []namedPort
}

type namedPort struct {
	name  string
	proto corev1.Protocol
}

// builder holds state used only while New runs.
type builder struct {
	e *Engine
	// selector caches, by selector key.
	sels map[string]*selector
	// podSelCache caches pod selector evaluations per namespace;
	// nsSelCache namespace selector evaluations.
	podSelCache map[podSelKey][]int32
	nsSelCache  map[string][]int32
}

type podSelKey struct {
	sel string
	ns  int32
}

func newBuilder(e *Engine) *builder {
	return &builder{
		e:           e,
		sels:        map[string]*selector{},
		podSelCache: map[podSelKey][]int32{},
		nsSelCache:  map[string][]int32{},
	}
}

func (b *builder) issue(p Ref, field, format string, args ...any) {
	b.e.issues = append(b.e.issues, Issue{Policy: p, Field: field, Detail: fmt.Sprintf(format, args...)})
}

// compileSel compiles and interns a label selector; nil on error (reported).
func (b *builder) compileSel(ref Ref, field string, ls *metav1.LabelSelector) *selector {
	s, err := compileSelector(ls)
	if err != nil {
		b.issue(ref, field, "%v", err)
		return nil
	}
	if prev, ok := b.sels[s.key]; ok {
		return prev
	}
	b.sels[s.key] = s
	s.keys(b.e.labelKeys)
	return s
}

func (b *builder) compilePolicy(np *networkingv1.NetworkPolicy) {
	e := b.e
	ns := np.Namespace
	if ns == "" {
		ns = metadataDefaultNamespace
	}
	ref := Ref{Namespace: ns, Name: np.Name}
	p := policy{ref: ref, ns: e.addNamespace(ns, nil)}
	pid := int32(len(e.policies))
	p.sel = b.compileSel(ref, "spec.podSelector", &np.Spec.PodSelector)

	// policyTypes defaulting: k8s.io/kubernetes pkg/apis/networking/v1
	// defaults.go SetDefaults_NetworkPolicy.
	if len(np.Spec.PolicyTypes) == 0 {
		p.ingress = true
		p.egress = len(np.Spec.Egress) != 0
	}
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ingress = true
		case networkingv1.PolicyTypeEgress:
			p.egress = true
		default:
			b.issue(ref, fmt.Sprintf("spec.policyTypes[%d]", i), "unsupported value %q: must be Ingress or Egress", t)
		}
	}
	if p.ingress {
		for i := range np.Spec.Ingress {
			r := &np.Spec.Ingress[i]
			field := fmt.Sprintf("spec.ingress[%d]", i)
			p.ingressRules = append(p.ingressRules, b.compileRule(pid, &p, Ingress, i, field, "from", r.From, r.Ports))
		}
	}
	if p.egress {
		for i := range np.Spec.Egress {
			r := &np.Spec.Egress[i]
			field := fmt.Sprintf("spec.egress[%d]", i)
			p.egressRules = append(p.egressRules, b.compileRule(pid, &p, Egress, i, field, "to", r.To, r.Ports))
		}
	}
	e.policies = append(e.policies, p)
	e.namespaces[p.ns].policies = append(e.namespaces[p.ns].policies, pid)
	e.namespaces[p.ns].hasPolicy = true
}

func (b *builder) compileRule(pid int32, p *policy, dir Direction, index int, field, peersField string,
	peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) int32 {
	e := b.e
	r := rule{policy: pid, dir: dir, index: index, allPeers: len(peers) == 0}
	for i := range peers {
		pr := &peers[i]
		pf := fmt.Sprintf("%s.%s[%d]", field, peersField, i)
		if cp, ok := b.compilePeer(p.ref, pf, pr); ok {
			r.peers = append(r.peers, cp)
			if cp.block >= 0 {
				r.blocks = append(r.blocks, cp.block)
			}
		}
	}
	r.ports = b.compilePorts(p.ref, field+".ports", ports)
	if len(r.ports.named) > 0 {
		p.hasNamedPortRule = true
	}
	id := int32(len(e.rules))
	e.rules = append(e.rules, r)
	return id
}

func (b *builder) compilePeer(ref Ref, field string, pr *networkingv1.NetworkPolicyPeer) (peer, bool) {
	cp := peer{block: -1}
	if pr.IPBlock != nil {
		if pr.PodSelector != nil || pr.NamespaceSelector != nil {
			b.issue(ref, field, "may not specify both ipBlock and another peer")
			return cp, false
		}
		blk, err := parseIPBlock(pr.IPBlock)
		if err != nil {
			b.issue(ref, field+".ipBlock", "%v", err)
			return cp, false
		}
		cp.block = b.internBlock(blk)
		return cp, true
	}
	if pr.PodSelector == nil && pr.NamespaceSelector == nil {
		b.issue(ref, field, "must specify a peer: podSelector, namespaceSelector or ipBlock")
		return cp, false
	}
	if pr.NamespaceSelector != nil {
		if cp.ns = b.compileSel(ref, field+".namespaceSelector", pr.NamespaceSelector); cp.ns == nil {
			return cp, false
		}
	}
	if pr.PodSelector != nil {
		if cp.pod = b.compileSel(ref, field+".podSelector", pr.PodSelector); cp.pod == nil {
			return cp, false
		}
		if cp.pod.empty() {
			cp.pod = nil
		}
	}
	return cp, true
}

func (b *builder) internBlock(blk *ipBlock) int32 {
	for i, x := range b.e.blocks {
		if x.key == blk.key {
			return int32(i)
		}
	}
	b.e.blocks = append(b.e.blocks, blk)
	return int32(len(b.e.blocks) - 1)
}

// compilePorts compiles a ports list following the NetworkPolicyPort API
// comments (k8s.io/api networking/v1 types.go) and its validation
// (k8s.io/kubernetes pkg/apis/networking/validation ValidateNetworkPolicyPort).
func (b *builder) compilePorts(ref Ref, field string, ports []networkingv1.NetworkPolicyPort) portSpec {
	if len(ports) == 0 {
		return portSpec{all: true}
	}
	var ps portSpec
	for i := range ports {
		pp := &ports[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		proto := corev1.ProtocolTCP
		if pp.Protocol != nil {
			proto = *pp.Protocol
		}
		rs := ps.numeric.ranges(proto)
		if rs == nil {
			b.issue(ref, f+".protocol", "unsupported value %q: must be TCP, UDP or SCTP", proto)
			continue
		}
		switch {
		case pp.Port == nil:
			if pp.EndPort != nil {
				b.issue(ref, f+".endPort", "may not be set without port")
				continue
			}
			*rs = append(*rs, PortRange{MinPort, MaxPort})
		case pp.Port.Type == intstr.String:
			if pp.EndPort != nil {
				b.issue(ref, f+".endPort", "may not be set when port is a named port (%q)", pp.Port.StrVal)
				continue
			}
			if errs := validation.IsValidPortName(pp.Port.StrVal); len(errs) > 0 {
				b.issue(ref, f+".port", "invalid named port %q: %s", pp.Port.StrVal, errs[0])
				continue
			}
			ps.named = append(ps.named, namedPort{name: pp.Port.StrVal, proto: proto})
			b.e.portNames[pp.Port.StrVal] = struct{}{}
		default:
			from := pp.Port.IntVal
			to := from
			if pp.EndPort != nil {
				to = *pp.EndPort
			}
			if from < MinPort || from > MaxPort || to < from || to > MaxPort {
				b.issue(ref, f, "invalid port range %d-%d: ports are 1-65535 and endPort may not be less than port", from, to)
				continue
			}
			*rs = append(*rs, PortRange{from, to})
		}
	}
	ps.numeric.TCP = normalizeRanges(ps.numeric.TCP)
	ps.numeric.UDP = normalizeRanges(ps.numeric.UDP)
	ps.numeric.SCTP = normalizeRanges(ps.numeric.SCTP)
	return ps
}

// resolvePorts returns the port set of s towards a pod with the named ports
// of sig (nil for a destination that is not a pod). Named ports resolve on
// the destination pod for ingress and egress rules alike (NetworkPolicyPort
// comments); a name the destination does not define, or defines for another
// protocol, matches nothing.
func resolvePorts(s *portSpec, sig *portSig) PortSet {
	if s.all {
		return AllPorts()
	}
	out := s.numeric
	if sig == nil || len(s.named) == 0 {
		return out
	}
	var add PortSet
	for _, n := range s.named {
		t, ok := sig.byName[n.name]
		if !ok || t.proto != n.proto {
			continue
		}
		rs := add.ranges(n.proto)
		*rs = append(*rs, PortRange{t.port, t.port})
	}
	add.TCP = normalizeRanges(add.TCP)
	add.UDP = normalizeRanges(add.UDP)
	add.SCTP = normalizeRanges(add.SCTP)
	return out.Union(add)
}
