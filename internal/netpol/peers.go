package netpol

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Allowance is what the policies selecting a pod allow it, rule by rule.
// `netpol unused` compares it with observed flows: a flow is attributed to
// the rules listed in CanConnect's Verdict (DirVerdict.Rules); a Grant no
// flow was attributed to is an unused allowance.
type Allowance struct {
	IngressIsolated bool `json:"ingressIsolated"`
	EgressIsolated  bool `json:"egressIsolated"`
	// Ingress: who may connect to the pod; Egress: whom it may connect to.
	// Empty for a direction that is not isolated (everything is allowed).
	Ingress []Grant `json:"ingress,omitempty"`
	Egress  []Grant `json:"egress,omitempty"`
}

// Grant is one rule as it applies to a pod.
type Grant struct {
	Rule RuleRef `json:"rule"`
	// Peers: the pods and addresses the rule admits (active pods only).
	Peers PeerSet `json:"peers"`
	// Ports: for ingress, resolved on the pod; for egress, the numeric
	// ports, plus NamedPorts that resolve on each destination.
	Ports      PortSet  `json:"ports"`
	NamedPorts []string `json:"namedPorts,omitempty"`
}

// PeerSet describes a set of peers.
type PeerSet struct {
	// All: every pod and every address (a rule without from/to).
	All        bool     `json:"all,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
	Workloads  []string `json:"workloads,omitempty"`
	Pods       int      `json:"pods"`
	// IPBlocks as "CIDR" or "CIDR except CIDR, ...".
	IPBlocks []string `json:"ipBlocks,omitempty"`
}

// AllowedPeers returns the rules that apply to pod, with the peers and
// ports each admits. Host-network pods are never selected: their Allowance
// is empty and not isolated.
func (e *Engine) AllowedPeers(pod *corev1.Pod) Allowance {
	x := e.resolvePeer(Peer{Pod: pod})
	if x.addr {
		return Allowance{}
	}
	a := Allowance{IngressIsolated: len(x.c.ingressRefs) > 0, EgressIsolated: len(x.c.egressRefs) > 0}
	d := e.engineDescriber()
	for _, ri := range x.c.ingressRules {
		r := &e.rules[ri]
		ps, tmp := e.portsFor(r, &x)
		if tmp != nil {
			ps = tmp
		}
		a.Ingress = append(a.Ingress, Grant{Rule: e.ruleRef(r), Peers: e.peerSet(d, r), Ports: *ps})
	}
	for _, ri := range x.c.egressRules {
		r := &e.rules[ri]
		g := Grant{Rule: e.ruleRef(r), Peers: e.peerSet(d, r), Ports: *e.ports.get(r.external)}
		for _, n := range r.ports.named {
			g.NamedPorts = append(g.NamedPorts, n.name+"/"+string(n.proto))
		}
		a.Egress = append(a.Egress, g)
	}
	return a
}

func (e *Engine) ruleRef(r *rule) RuleRef {
	return RuleRef{Policy: e.policies[r.policy].ref, Direction: r.dir, Index: r.index}
}

func (e *Engine) peerSet(d *describer, r *rule) PeerSet {
	if r.allPeers {
		ps := PeerSet{All: true}
		d.r.active.each(func(c int) { ps.Pods += e.classes[c].active })
		return ps
	}
	var ps PeerSet
	if bits, ok := r.peerBits.and(d.r.active); ok {
		var g ReachGroup
		d.describe(&g, bits)
		ps.Namespaces, ps.Workloads, ps.Pods = g.Namespaces, g.Workloads, g.Pods
		if g.AllPods {
			ps.Namespaces = d.activeNamespaces()
		}
	}
	for _, b := range r.blocks {
		ps.IPBlocks = append(ps.IPBlocks, e.blocks[b].key)
	}
	return ps
}

// engineDescriber builds a describer over the engine's active classes.
func (e *Engine) engineDescriber() *describer {
	n := len(e.classes)
	r := &reacher{e: e, n: n, active: newBitset(n)}
	cw := make([][]string, n)
	for i := range e.pods {
		pi := &e.pods[i]
		if pi.class < 0 || !pi.active {
			continue
		}
		r.active.set(int(pi.class))
		if !slices.Contains(cw[pi.class], pi.workload) {
			cw[pi.class] = append(cw[pi.class], pi.workload)
		}
	}
	return r.newDescriber(cw)
}

func (d *describer) activeNamespaces() []string {
	var out []string
	for i, n := range d.nsActive {
		if n > 0 {
			out = append(out, d.r.e.namespaces[i].name)
		}
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
