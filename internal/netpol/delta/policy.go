package delta

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names and annotations of suggested policies.
const (
	// AnnotationPrefix starts every annotation Suggest writes.
	AnnotationPrefix = "kubedelta.io/"
	// ManagedByLabel marks suggested policies.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	labelNamespace = "kubernetes.io/metadata.name"
	maxNameLength  = 253
)

// rule is a rule under construction with its evidence.
type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
	ev    evidence
	what  string // for the evidence annotation when there is no flow
}

// policies renders every plan, in namespace then workload order.
func (p *planner) policies(w Window) []networkingv1.NetworkPolicy {
	out := make([]networkingv1.NetworkPolicy, 0, len(p.order))
	for _, name := range p.order {
		out = append(out, p.policy(p.plans[name], w))
	}
	return out
}

// PolicyName is the name Suggest gives a workload's policy:
// "kubedelta-<kind>-<name>".
func PolicyName(workload string) string {
	parts := strings.Split(workload, "/")
	kind, name := "workload", workload
	if len(parts) == 3 {
		kind, name = parts[0], parts[2]
	}
	n := "kubedelta-" + strings.ToLower(kind) + "-" + name
	if len(n) > maxNameLength {
		n = strings.TrimRight(n[:maxNameLength], "-.")
	}
	return n
}

func (p *planner) policy(pl *plan, w Window) networkingv1.NetworkPolicy {
	np := networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name: PolicyName(pl.workload), Namespace: pl.ns,
			Labels: map[string]string{ManagedByLabel: "kubedelta"},
			Annotations: map[string]string{
				AnnotationPrefix + "workload": pl.workload,
				AnnotationPrefix + "evidence": "flows from " + w.From.UTC().Format(time.RFC3339) + " to " + w.To.UTC().Format(time.RFC3339),
			},
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: pl.selector},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
	for i, r := range p.rules(pl, pl.ingress, false) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: r.peers, Ports: r.ports})
		np.Annotations[AnnotationPrefix+"ingress-"+strconv.Itoa(i)] = r.evidenceText()
	}
	for i, r := range p.rules(pl, pl.egress, true) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: r.peers, Ports: r.ports})
		np.Annotations[AnnotationPrefix+"egress-"+strconv.Itoa(i)] = r.evidenceText()
	}
	return np
}

func (r *rule) evidenceText() string {
	if r.ev.flows == 0 {
		return r.what
	}
	peers := sortedSet(r.ev.peers)
	return fmt.Sprintf("flows=%d bytes=%d first=%s last=%s peers=%s", r.ev.flows, r.ev.bytes,
		r.ev.first.UTC().Format(time.RFC3339), r.ev.last.UTC().Format(time.RFC3339), listText(shortNames(peers), 5))
}

// rules builds one direction's rules: one per peer workload, then node
// and external addresses grouped by identical address sets, then (egress)
// the cluster DNS.
func (p *planner) rules(pl *plan, side *sideAcc, egress bool) []rule {
	var out []rule
	peers := make([]string, 0, len(side.pods))
	for w := range side.pods {
		peers = append(peers, w)
	}
	slices.Sort(peers)
	// Peer workloads allowed the same ports share a rule.
	byPorts := map[string]int{}
	for _, w := range peers {
		pp := side.pods[w]
		key := portsKey(pp.ports)
		i, ok := byPorts[key]
		if !ok {
			i = len(out)
			byPorts[key] = i
			out = append(out, rule{ports: npPorts(pp.ports)})
		}
		out[i].peers = append(out[i].peers, p.podPeer(pl, pp.ep))
		out[i].ev.merge(pp.ev)
	}
	out = append(out, p.addrRules(pl, side, side.nodes, egress, false)...)
	out = append(out, p.addrRules(pl, side, side.external, egress, true)...)
	if egress {
		out = append(out, p.dnsRule(side.dns))
	}
	return out
}

// podPeer selects a peer workload's pods: its stable labels, in its
// namespace.
func (p *planner) podPeer(pl *plan, ep *Endpoint) networkingv1.NetworkPolicyPeer {
	sel := p.selector(ep.Workload)
	var peer networkingv1.NetworkPolicyPeer
	if sel.ok {
		peer.PodSelector = &metav1.LabelSelector{MatchLabels: sel.labels}
	} else {
		peer.PodSelector = &metav1.LabelSelector{}
		p.note("%s: no label that all its pods keep; %s allows every pod of namespace %s in its place", ep.Workload, pl.workload, ep.Namespace)
	}
	if ep.Namespace != pl.ns {
		peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{labelNamespace: ep.Namespace}}
	}
	return peer
}

// addrRules turns addresses per port into ipBlock rules: external
// addresses aggregated into networks, node addresses as they are; ports
// with the same networks share a rule.
func (p *planner) addrRules(pl *plan, side *sideAcc, m map[portKey]*addrAcc, egress, external bool) []rule {
	type group struct {
		cidrs []netip.Prefix
		ports map[portKey]string
		ev    evidence
	}
	groups := map[string]*group{}
	var order []string
	for pk, a := range m {
		addrs := make([]netip.Addr, 0, len(a.addrs))
		for ip := range a.addrs {
			addrs = append(addrs, ip)
		}
		var cidrs []netip.Prefix
		if external {
			cidrs = aggregateCIDRs(addrs, p.opts.CIDRPrefixV4, p.opts.CIDRPrefixV6, p.opts.MaxCIDRs)
			if exact := aggregateCIDRs(addrs, p.opts.CIDRPrefixV4, p.opts.CIDRPrefixV6, 0); len(exact) > len(cidrs) {
				p.note("%s: %d external networks on %s widened to %d (at most %d per rule)",
					pl.workload, len(exact), portText(pk.port, pk.proto), len(cidrs), p.opts.MaxCIDRs)
			}
		} else {
			cidrs = aggregateCIDRs(addrs, 32, 128, 0)
		}
		strs := make([]string, len(cidrs))
		for i, c := range cidrs {
			strs[i] = c.String()
		}
		key := strings.Join(strs, ",")
		g := groups[key]
		if g == nil {
			g = &group{cidrs: cidrs, ports: map[portKey]string{}}
			groups[key] = g
			order = append(order, key)
		}
		name := ""
		if !egress {
			name = side.names[pk]
		}
		g.ports[pk] = name
		g.ev.merge(a.ev)
	}
	slices.Sort(order)
	out := make([]rule, 0, len(order))
	for _, key := range order {
		g := groups[key]
		r := rule{ports: npPorts(g.ports), ev: g.ev}
		for _, c := range g.cidrs {
			blk := &networkingv1.IPBlock{CIDR: c.String()}
			if external {
				for _, x := range exceptFor(c, p.opts.PodNetworks) {
					blk.Except = append(blk.Except, x.String())
				}
			}
			r.peers = append(r.peers, networkingv1.NetworkPolicyPeer{IPBlock: blk})
		}
		out = append(out, r)
	}
	return out
}

// dnsRule lets a workload resolve names through the cluster DNS, whether
// or not the flows show it (a policy that breaks DNS breaks everything).
func (p *planner) dnsRule(ev evidence) rule {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	port := intstr.FromInt32(53)
	return rule{
		peers: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelNamespace: p.opts.DNSNamespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: p.opts.DNSLabels},
		}},
		ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &port}, {Protocol: &tcp, Port: &port}},
		ev:    ev,
		what:  "cluster DNS, always allowed; no flow to it observed",
	}
}

// portsKey identifies a port set with its names.
func portsKey(m map[portKey]string) string {
	var b strings.Builder
	for _, np := range npPorts(m) {
		b.WriteString(string(*np.Protocol))
		if np.Port != nil {
			b.WriteString(np.Port.String())
		}
		b.WriteByte(',')
	}
	return b.String()
}

// npPorts renders ports sorted by protocol and number.
func npPorts(m map[portKey]string) []networkingv1.NetworkPolicyPort {
	keys := make([]portKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b portKey) int {
		return cmp.Or(strings.Compare(a.proto.String(), b.proto.String()), cmp.Compare(a.port, b.port))
	})
	out := make([]networkingv1.NetworkPolicyPort, 0, len(keys))
	for _, k := range keys {
		proto := k8sProtocol(k.proto)
		np := networkingv1.NetworkPolicyPort{Protocol: &proto}
		switch {
		case m[k] != "":
			v := intstr.FromString(m[k])
			np.Port = &v
		case k.port != 0:
			v := intstr.FromInt32(int32(k.port))
			np.Port = &v
		}
		out = append(out, np)
	}
	return out
}
