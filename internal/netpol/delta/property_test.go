package delta

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// randomCluster builds a small random cluster: namespaces with random
// labels, workloads whose pods share (or do not share) labels and name
// their ports consistently or not, CoreDNS, and random policies mixing
// default denies, selectors, namespace selectors, named ports and ipBlocks.
func randomCluster(r *rand.Rand) (*cluster.Inventory, []netip.Addr) {
	inv := &cluster.Inventory{Nodes: []corev1.Node{node("n1", "10.0.0.1", "10.244.0.0/24"), node("n2", "10.0.0.2", "10.244.1.0/24")}}
	nss := []string{"kube-system", "a", "b", "c"}[:2+r.IntN(3)]
	for _, ns := range nss {
		n := namespaces(ns)[0]
		if r.IntN(2) == 0 {
			n.Labels["team"] = []string{"x", "y"}[r.IntN(2)]
		}
		inv.Namespaces = append(inv.Namespaces, n)
	}
	var ips []netip.Addr
	next := 10
	addPod := func(ns, deploy string, labels map[string]string, ports ...corev1.ContainerPort) {
		ip := fmt.Sprintf("10.244.%d.%d", next%2, next)
		next++
		p := deployPod(ns, deploy, ip, labels, ports...)
		if r.IntN(10) == 0 {
			p.Status.Phase = corev1.PodSucceeded
		}
		inv.Pods = append(inv.Pods, p)
		ips = append(ips, netip.MustParseAddr(ip))
	}
	addPod("kube-system", "coredns", map[string]string{"k8s-app": "kube-dns"}, corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP})
	for _, ns := range nss[1:] {
		for w := range 1 + r.IntN(3) {
			name := fmt.Sprintf("w%d", w)
			for range 1 + r.IntN(3) {
				labels := map[string]string{}
				switch r.IntN(6) {
				case 0: // no stable label shared by all pods
					labels["tier"] = []string{"front", "back"}[r.IntN(2)]
				case 1: // labels another workload may share
					labels["tier"] = "front"
				default:
					labels["app"] = name
					if r.IntN(2) == 0 {
						labels["tier"] = "back"
					}
				}
				var ports []corev1.ContainerPort
				if r.IntN(3) > 0 {
					ports = append(ports, namedPort("http", 8080))
				} else {
					ports = append(ports, namedPort("http", 8081)) // the name means another number
				}
				if r.IntN(2) == 0 {
					ports = append(ports, namedPort("metrics", 9090))
				}
				addPod(ns, name, labels, ports...)
			}
		}
	}
	for _, ns := range nss {
		for i := range r.IntN(4) {
			inv.NetworkPolicies = append(inv.NetworkPolicies, randomPolicy(r, ns, fmt.Sprintf("p%d", i), nss))
		}
	}
	return inv, ips
}

func randomPolicy(r *rand.Rand, ns, name string, nss []string) networkingv1.NetworkPolicy {
	pick := func() *metav1.LabelSelector {
		switch r.IntN(4) {
		case 0:
			return sel()
		case 1:
			return sel("app", fmt.Sprintf("w%d", r.IntN(3)))
		case 2:
			return sel("tier", "front")
		}
		return sel("k8s-app", "kube-dns")
	}
	peer := func() networkingv1.NetworkPolicyPeer {
		switch r.IntN(5) {
		case 0:
			return networkingv1.NetworkPolicyPeer{PodSelector: pick()}
		case 1:
			return networkingv1.NetworkPolicyPeer{NamespaceSelector: sel("kubernetes.io/metadata.name", nss[r.IntN(len(nss))]), PodSelector: pick()}
		case 2:
			return networkingv1.NetworkPolicyPeer{NamespaceSelector: sel("team", "x")}
		case 3:
			return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}
		}
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.244.0.0/23"}}
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, intstr.FromString("http"))}
		case 2:
			return []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, intstr.FromInt32(8080)), npPort(corev1.ProtocolUDP, intstr.FromInt32(53))}
		}
		return []networkingv1.NetworkPolicyPort{npPort(corev1.ProtocolTCP, intstr.FromInt32(443))}
	}
	types := [][]networkingv1.PolicyType{
		{networkingv1.PolicyTypeIngress},
		{networkingv1.PolicyTypeEgress},
		{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
	}[r.IntN(3)]
	var in []networkingv1.NetworkPolicyIngressRule
	var eg []networkingv1.NetworkPolicyEgressRule
	for range r.IntN(3) {
		in = append(in, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{peer()}, Ports: ports()})
		eg = append(eg, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer()}, Ports: ports()})
	}
	return policy(ns, name, pick(), types, in, eg)
}

// randomFlows draws flows between pods, pods gone from the dump (named by
// the flow), nodes, unknown pod-network addresses and external addresses.
func randomFlows(r *rand.Rand, ips []netip.Addr, n int) []event.Flow {
	external := []string{"198.51.100.7", "198.51.100.99", "203.0.113.66", "192.0.2.1", "2001:db8::5", "2001:db8:1::9"}
	end := func() event.Endpoint {
		switch k := r.IntN(20); {
		case k < 14:
			return event.Endpoint{IP: ips[r.IntN(len(ips))]}
		case k < 16:
			return event.Endpoint{IP: netip.MustParseAddr(external[r.IntN(len(external))])}
		case k == 16:
			return event.Endpoint{IP: netip.MustParseAddr([]string{"10.0.0.1", "10.0.0.2"}[r.IntN(2)])}
		case k == 17:
			return event.Endpoint{IP: netip.MustParseAddr("10.244.1.250")} // unresolved
		}
		ns := []string{"a", "b", "zz"}[r.IntN(3)]
		return event.Endpoint{ // a pod gone before the dump
			IP: netip.MustParseAddr(fmt.Sprintf("10.244.0.%d", 200+r.IntN(20))), Namespace: ns,
			Pod:    fmt.Sprintf("w%d-5d8f7c9b4-gone%d", r.IntN(3), r.IntN(3)),
			Labels: []string{fmt.Sprintf("app=w%d", r.IntN(3)), "pod-template-hash=5d8f7c9b4"},
		}
	}
	ports := []struct {
		port  uint16
		proto event.Protocol
	}{{53, event.ProtoUDP}, {53, event.ProtoTCP}, {8080, event.ProtoTCP}, {8081, event.ProtoTCP}, {9090, event.ProtoTCP}, {443, event.ProtoTCP}, {5432, event.ProtoTCP}, {0, event.ProtoICMP}, {5000, event.ProtoSCTP}}
	out := make([]event.Flow, n)
	for i := range out {
		pp := ports[r.IntN(len(ports))]
		f := event.Flow{Time: t0.Add(time.Duration(r.IntN(86400)) * time.Second), Src: end(), Dst: end(), Protocol: pp.proto, Bytes: uint64(r.IntN(5000)), Packets: 3, Verdict: event.VerdictForwarded}
		f.Dst.Port = pp.port
		if r.IntN(10) == 0 {
			f.Verdict = event.VerdictDropped
		}
		out[i] = f
	}
	return out
}

func randomOptions(r *rand.Rand, inv *cluster.Inventory) SuggestOptions {
	o := SuggestOptions{
		IncludeDenied: r.IntN(2) == 0, IncludeDropped: r.IntN(3) == 0,
		CIDRPrefixV4: 8 + r.IntN(25), CIDRPrefixV6: 32 + r.IntN(97), MaxCIDRs: r.IntN(4) - 1,
		PodNetworks: PodNetworks(inv),
	}
	if o.MaxCIDRs == 0 {
		o.MaxCIDRs = 1
	}
	switch r.IntN(3) {
	case 0:
		o.ExcludeNamespaces = []string{}
	case 1:
		o.Namespaces = []string{"a", "kube-system"}
	}
	if r.IntN(3) == 0 {
		o.Exclude = []Exclusion{{Prefix: netip.MustParsePrefix("203.0.113.0/24")}, {Workload: "a/w1"}}
	}
	return o
}

// TestSuggestProperty: over random clusters, flows and options, Suggest
// never fails its own check, and an independent check finds every flow it
// was meant to allow allowed.
func TestSuggestProperty(t *testing.T) {
	n := 300
	if s := os.Getenv("KUBEDELTA_PROPERTY_SEEDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 50
	}
	for seed := range uint64(n) {
		propertyCase(t, seed, 1)
	}
}

func propertyCase(t *testing.T, seed, seed2 uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed2))
	inv, ips := randomCluster(r)
	w := newWorld(inv)
	edges := w.ingest(randomFlows(r, ips, 20+r.IntN(120))...)
	opts := randomOptions(r, inv)
	sg, err := Suggest(w.inv, w.idx, w.eng, edges, opts)
	if err != nil {
		t.Fatalf("seed %d/%d: %v", seed, seed2, err)
	}
	checkSuggestion(t, w, sg, opts, edges)
	if t.Failed() {
		t.Fatalf("seed %d/%d failed", seed, seed2)
	}
}

// FuzzSuggestProperty drives the property with fuzzed seeds.
func FuzzSuggestProperty(f *testing.F) {
	for _, s := range [][2]uint64{{1, 1}, {7, 3}, {42, 9}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b uint64) { propertyCase(t, a, b) })
}
