package netpol

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// refEval is a deliberately naive evaluator written straight from the API
// comments (k8s.io/api networking/v1 types.go), with apimachinery's own
// selector matching and net.ParseCIDR: no classes, no bitsets, no caches.
// The engine must agree with it on every pair.
type refEval struct {
	nsLabels map[string]labels.Set
	pols     []networkingv1.NetworkPolicy
}

func newRefEval(nss []corev1.Namespace, pols []networkingv1.NetworkPolicy) *refEval {
	r := &refEval{nsLabels: map[string]labels.Set{}, pols: pols}
	for _, ns := range nss {
		l := labels.Set{}
		for k, v := range ns.Labels {
			l[k] = v
		}
		l["kubernetes.io/metadata.name"] = ns.Name
		r.nsLabels[ns.Name] = l
	}
	return r
}

func (r *refEval) allowed(src, dst Peer, port int32, proto corev1.Protocol) bool {
	if src.Pod != nil && dst.Pod != nil && src.Pod.Namespace == dst.Pod.Namespace && src.Pod.Name == dst.Pod.Name {
		return true
	}
	isPod := func(p Peer) bool { return p.Pod != nil && !p.Pod.Spec.HostNetwork }
	ok := true
	if isPod(src) {
		ok = r.side(src.Pod, dst, dst, port, proto, networkingv1.PolicyTypeEgress)
	}
	if ok && isPod(dst) {
		ok = r.side(dst.Pod, src, dst, port, proto, networkingv1.PolicyTypeIngress)
	}
	return ok
}

func policyTypes(np *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(np.Spec.PolicyTypes) > 0 {
		return np.Spec.PolicyTypes
	}
	t := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(np.Spec.Egress) > 0 {
		t = append(t, networkingv1.PolicyTypeEgress)
	}
	return t
}

func selMatches(ls *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		panic(err)
	}
	return s.Matches(labels.Set(l))
}

func (r *refEval) side(target *corev1.Pod, other, dst Peer, port int32, proto corev1.Protocol, dir networkingv1.PolicyType) bool {
	isolated, allowed := false, false
	for i := range r.pols {
		np := &r.pols[i]
		affects := false
		for _, t := range policyTypes(np) {
			affects = affects || t == dir
		}
		if !affects || np.Namespace != target.Namespace || !selMatches(&np.Spec.PodSelector, target.Labels) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, rule := range np.Spec.Ingress {
				allowed = allowed || (r.peersMatch(np, rule.From, other) && r.portsMatch(rule.Ports, dst, port, proto))
			}
		} else {
			for _, rule := range np.Spec.Egress {
				allowed = allowed || (r.peersMatch(np, rule.To, other) && r.portsMatch(rule.Ports, dst, port, proto))
			}
		}
	}
	return !isolated || allowed
}

func (r *refEval) peersMatch(np *networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, p Peer) bool {
	if len(peers) == 0 {
		return true
	}
	var ips []string
	switch {
	case p.IP.IsValid():
		ips = []string{p.IP.String()}
	case p.Pod != nil:
		ips = []string{p.Pod.Status.PodIP}
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			_, cidr, _ := net.ParseCIDR(peer.IPBlock.CIDR)
			for _, s := range ips {
				ip := net.ParseIP(s)
				in := ip != nil && cidr.Contains(ip)
				for _, ex := range peer.IPBlock.Except {
					_, e, _ := net.ParseCIDR(ex)
					in = in && !e.Contains(ip)
				}
				if in {
					return true
				}
			}
			continue
		}
		if p.Pod == nil || p.Pod.Spec.HostNetwork {
			continue
		}
		nsOK := p.Pod.Namespace == np.Namespace
		if peer.NamespaceSelector != nil {
			nsOK = selMatches(peer.NamespaceSelector, r.nsLabels[p.Pod.Namespace])
		}
		podOK := peer.PodSelector == nil || selMatches(peer.PodSelector, p.Pod.Labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func (r *refEval) portsMatch(ports []networkingv1.NetworkPolicyPort, dst Peer, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		pproto := corev1.ProtocolTCP
		if pp.Protocol != nil {
			pproto = *pp.Protocol
		}
		if pproto != proto {
			continue
		}
		switch {
		case pp.Port == nil:
			return true
		case pp.Port.Type == intstr.Int:
			end := pp.Port.IntVal
			if pp.EndPort != nil {
				end = *pp.EndPort
			}
			if port >= pp.Port.IntVal && port <= end {
				return true
			}
		default:
			if dst.Pod == nil {
				continue
			}
			for _, c := range dst.Pod.Spec.Containers {
				for _, cp := range c.Ports {
					cpProto := cp.Protocol
					if cpProto == "" {
						cpProto = corev1.ProtocolTCP
					}
					if cp.Name == pp.Port.StrVal && cpProto == proto && cp.ContainerPort == port {
						return true
					}
				}
			}
		}
	}
	return false
}

// xyzWorld is the upstream e2e cluster (k8s.io/kubernetes
// test/e2e/network/netpol model.go): namespaces x, y, z labeled ns=<name>,
// pods a, b, c labeled pod=<name>, each serving 80 and 81 over TCP, UDP and
// SCTP on ports named serve-<port>-<proto>. Pod IPs are 10.0.<ns>.<pod>.
func xyzWorld() ([]corev1.Namespace, []corev1.Pod) {
	var nss []corev1.Namespace
	var pods []corev1.Pod
	for i, ns := range []string{"x", "y", "z"} {
		nss = append(nss, mkNS(ns, "ns="+ns))
		for j, name := range []string{"a", "b", "c"} {
			var ports []string
			for _, port := range []int{80, 81} {
				for _, proto := range []string{"TCP", "UDP", "SCTP"} {
					ports = append(ports, fmt.Sprintf("serve-%d-%s:%d/%s", port, lower(proto), port, proto))
				}
			}
			pods = append(pods, mkPod(ns, name, fmt.Sprintf("10.0.%d.%d", i+1, j+1), kv("pod="+name), ports...))
		}
	}
	return nss, pods
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// randomPolicies draws n policies over the xyz world from small pools, so
// that overlaps, AND/OR peers, named ports, endPort and ipBlocks occur often.
func randomPolicies(rng *rand.Rand, n int) []networkingv1.NetworkPolicy {
	pick := func(k int) int { return rng.IntN(k) }
	podSels := []*metav1.LabelSelector{
		nil, {}, {MatchLabels: map[string]string{"pod": "a"}}, {MatchLabels: map[string]string{"pod": "b"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "pod", Operator: metav1.LabelSelectorOpIn, Values: []string{"b", "c"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "pod", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"a"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "missing", Operator: metav1.LabelSelectorOpDoesNotExist}}},
	}
	nsSels := []*metav1.LabelSelector{
		nil, nil, {}, {MatchLabels: map[string]string{"ns": "y"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"x"}}}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "ns", Operator: metav1.LabelSelectorOpExists}}},
	}
	blocks := []networkingv1.IPBlock{
		{CIDR: "10.0.2.2/32"}, {CIDR: "0.0.0.0/4", Except: []string{"10.0.1.2/32"}},
		{CIDR: "10.0.0.0/16", Except: []string{"10.0.3.0/24"}}, {CIDR: "192.168.0.0/16"}, {CIDR: "10.0.1.0/30"},
	}
	protos := []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	port := func() networkingv1.NetworkPolicyPort {
		var p networkingv1.NetworkPolicyPort
		if pick(3) > 0 {
			pr := protos[pick(3)]
			p.Protocol = &pr
		}
		switch pick(5) {
		case 0: // protocol only
		case 1:
			v := intstr.FromString(fmt.Sprintf("serve-%d-%s", 80+pick(2), lower(string(protos[pick(3)]))))
			p.Port = &v
		case 2:
			v := intstr.FromInt32(80)
			p.Port, p.EndPort = &v, ptr(int32(81))
		default:
			v := intstr.FromInt32(int32(80 + pick(2)))
			p.Port = &v
		}
		return p
	}
	peers := func() []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for range pick(3) {
			if pick(4) == 0 {
				b := blocks[pick(len(blocks))]
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &b})
				continue
			}
			p := networkingv1.NetworkPolicyPeer{PodSelector: podSels[pick(len(podSels))], NamespaceSelector: nsSels[pick(len(nsSels))]}
			if p.PodSelector == nil && p.NamespaceSelector == nil {
				p.PodSelector = &metav1.LabelSelector{}
			}
			out = append(out, p)
		}
		return out
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range pick(3) {
			out = append(out, port())
		}
		return out
	}
	var out []networkingv1.NetworkPolicy
	for i := range n {
		np := networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: []string{"x", "y", "z"}[pick(3)], Name: fmt.Sprintf("p%d", i)}}
		if s := podSels[pick(len(podSels))]; s != nil {
			np.Spec.PodSelector = *s
		}
		for range pick(3) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers(), Ports: ports()})
		}
		for range pick(3) {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers(), Ports: ports()})
		}
		switch pick(4) {
		case 0:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		case 1:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		case 2:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		}
		out = append(out, np)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// checkAgainstReference compares CanConnect and Reach with refEval for every
// pair of pods, the external address 192.168.1.1, ports 80 and 81 (by
// number) and every protocol.
func checkAgainstReference(t testing.TB, nss []corev1.Namespace, pods []corev1.Pod, pols []networkingv1.NetworkPolicy) {
	t.Helper()
	e := New(nss, pods, pols, Options{})
	ref := newRefEval(nss, pols)
	peers := []Peer{{IP: netip.MustParseAddr("192.168.1.1")}}
	for i := range pods {
		peers = append(peers, Peer{Pod: &pods[i]})
	}
	name := func(p Peer) string {
		if p.Pod == nil {
			return p.IP.String()
		}
		return p.Pod.Namespace + "/" + p.Pod.Name
	}
	reach := e.Reach()
	for _, src := range peers {
		for _, dst := range peers {
			for _, port := range []int32{80, 81} {
				for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
					want := ref.allowed(src, dst, port, proto)
					got := e.CanConnect(src, dst, PortRef{Port: port}, proto)
					if got.Allowed != want {
						t.Fatalf("%s -> %s %d/%s: engine %v, reference %v\nverdict %+v\npolicies:\n%s", name(src), name(dst), port, proto, got.Allowed, want, got, dumpPolicies(pols))
					}
					if src.Pod != nil && dst.Pod != nil && src.Pod != dst.Pod {
						if r := reachAllows(reach, name(src), name(dst), port, proto); r != want {
							t.Fatalf("Reach %s -> %s %d/%s: %v, reference %v\npolicies:\n%s", name(src), name(dst), port, proto, r, want, dumpPolicies(pols))
						}
					}
				}
			}
		}
	}
}

// reachAllows looks a pod pair up in a report whose workloads are pods.
func reachAllows(rep *ReachReport, src, dst string, port int32, proto corev1.Protocol) bool {
	in, out := false, false
	for _, w := range rep.Workloads {
		if w.Workload == dst {
			in = groupsContain(w.Ingress, src, port, proto)
		}
		if w.Workload == src {
			out = groupsContain(w.Egress, dst, port, proto)
		}
	}
	if in != out {
		panic(fmt.Sprintf("Reach is inconsistent for %s -> %s: ingress says %v, egress says %v", src, dst, in, out))
	}
	return in
}

func groupsContain(gs []ReachGroup, w string, port int32, proto corev1.Protocol) bool {
	ns, _, _ := stringsCut(w, "/")
	for _, g := range gs {
		if !g.Ports.Contains(proto, port) {
			continue
		}
		if g.AllPods {
			return true
		}
		for _, n := range g.Namespaces {
			if n == ns {
				return true
			}
		}
		for _, x := range g.Workloads {
			if x == w {
				return true
			}
		}
	}
	return false
}

func stringsCut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func dumpPolicies(pols []networkingv1.NetworkPolicy) string {
	s := ""
	for _, p := range pols {
		s += fmt.Sprintf("%s/%s types=%v sel=%v ingress=%+v egress=%+v\n", p.Namespace, p.Name, p.Spec.PolicyTypes, p.Spec.PodSelector, p.Spec.Ingress, p.Spec.Egress)
	}
	return s
}

func TestAgainstReferenceRandom(t *testing.T) {
	nss, pods := xyzWorld()
	iters := 400
	if testing.Short() {
		iters = 50
	}
	for seed := range iters {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		pols := randomPolicies(rng, 1+rng.IntN(6))
		checkAgainstReference(t, nss, pods, pols)
	}
}

// FuzzEngineAgainstReference drives the random policy generator from fuzz
// input: the engine must agree with the reference and never panic.
func FuzzEngineAgainstReference(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s, uint8(3))
	}
	nss, pods := xyzWorld()
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) {
		rng := rand.New(rand.NewPCG(seed, uint64(n)))
		checkAgainstReference(t, nss, pods, randomPolicies(rng, 1+int(n%8)))
	})
}
