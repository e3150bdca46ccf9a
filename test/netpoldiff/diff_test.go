package netpoldiff

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/netpol"
)

// The world of the upstream e2e suite (k8s.io/kubernetes
// test/e2e/network/netpol model.go): namespaces x, y, z labeled ns=<name>,
// pods a, b, c labeled pod=<name>, serving 80 and 81 over TCP, UDP and SCTP
// on ports named serve-<port>-<proto>. Pod IPs are 10.0.<ns>.<pod>. Some
// pods carry an extra label "tier" so that selectors on a key not every pod
// has are exercised.
func world() ([]corev1.Namespace, []corev1.Pod) {
	var nss []corev1.Namespace
	var pods []corev1.Pod
	for i, ns := range []string{"x", "y", "z"} {
		nss = append(nss, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
			"ns": ns, "kubernetes.io/metadata.name": ns}}})
		for j, name := range []string{"a", "b", "c"} {
			p := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"pod": name}},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.%d.%d", i+1, j+1)},
			}
			if j == 0 {
				p.Labels["tier"] = "front"
			}
			c := corev1.Container{Name: "serve"}
			for _, port := range []int32{80, 81} {
				for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
					c.Ports = append(c.Ports, corev1.ContainerPort{
						Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto})
				}
			}
			p.Spec.Containers = []corev1.Container{c}
			pods = append(pods, p)
		}
	}
	return nss, pods
}

var protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// randomPolicies draws policies from pools chosen so that every NetworkPolicy
// feature occurs often. NotIn is used only on keys every object has (see
// TestKnownDifferences for why).
func randomPolicies(rng *rand.Rand, n int) []networkingv1.NetworkPolicy {
	pick := rng.IntN
	req := func(k string, op metav1.LabelSelectorOperator, v ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: k, Operator: op, Values: v}
	}
	podSels := []*metav1.LabelSelector{
		nil, {}, {MatchLabels: map[string]string{"pod": "a"}}, {MatchLabels: map[string]string{"pod": "c"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("pod", metav1.LabelSelectorOpIn, "b", "c")}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("pod", metav1.LabelSelectorOpNotIn, "a")}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpExists)}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpDoesNotExist)}},
		{MatchLabels: map[string]string{"pod": "b"}, MatchExpressions: []metav1.LabelSelectorRequirement{req("tier", metav1.LabelSelectorOpDoesNotExist)}},
	}
	nsSels := []*metav1.LabelSelector{
		nil, nil, {}, {MatchLabels: map[string]string{"ns": "y"}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("kubernetes.io/metadata.name", metav1.LabelSelectorOpNotIn, "x")}},
		{MatchExpressions: []metav1.LabelSelectorRequirement{req("ns", metav1.LabelSelectorOpIn, "x", "z")}},
	}
	blocks := []networkingv1.IPBlock{
		{CIDR: "10.0.2.2/32"}, {CIDR: "0.0.0.0/4", Except: []string{"10.0.1.2/32"}},
		{CIDR: "10.0.0.0/16", Except: []string{"10.0.3.0/24", "10.0.1.0/30"}}, {CIDR: "192.168.0.0/16"},
		{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}, {CIDR: "10.0.1.0/24"},
	}
	port := func() networkingv1.NetworkPolicyPort {
		var p networkingv1.NetworkPolicyPort
		if pick(3) > 0 {
			pr := protocols[pick(3)]
			p.Protocol = &pr
		}
		switch pick(5) {
		case 0: // protocol only: every port
		case 1:
			v := intstr.FromString(fmt.Sprintf("serve-%d-%s", 80+pick(2), strings.ToLower(string(protocols[pick(3)]))))
			p.Port = &v
		case 2:
			v, end := intstr.FromInt32(int32(79+pick(2))), int32(81+pick(2))
			p.Port, p.EndPort = &v, &end
		default:
			v := intstr.FromInt32(int32(80 + pick(3)))
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

// forCyclonus applies API-server defaulting, which cyclonus expects to have
// happened (its BuildTarget rejects a policy without policyTypes):
// k8s.io/kubernetes pkg/apis/networking/v1 defaults.go.
func forCyclonus(pols []networkingv1.NetworkPolicy) []*networkingv1.NetworkPolicy {
	var out []*networkingv1.NetworkPolicy
	for i := range pols {
		np := pols[i].DeepCopy()
		if len(np.Spec.PolicyTypes) == 0 {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			if len(np.Spec.Egress) != 0 {
				np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			}
		}
		out = append(out, np)
	}
	return out
}

// endpoint is a pod or an external address of the diff world.
type endpoint struct {
	name string
	pod  *corev1.Pod
	ns   *corev1.Namespace
	ip   string
}

func endpoints(nss []corev1.Namespace, pods []corev1.Pod) []endpoint {
	var out []endpoint
	for i := range pods {
		for j := range nss {
			if nss[j].Name == pods[i].Namespace {
				out = append(out, endpoint{name: pods[i].Namespace + "/" + pods[i].Name, pod: &pods[i], ns: &nss[j], ip: pods[i].Status.PodIP})
			}
		}
	}
	for _, ip := range []string{"192.168.7.7", "8.8.8.8", "10.0.9.9"} {
		out = append(out, endpoint{name: ip, ip: ip})
	}
	return out
}

func (x endpoint) cyclonus() *matcher.TrafficPeer {
	p := &matcher.TrafficPeer{IP: x.ip}
	if x.pod != nil {
		p.Internal = &matcher.InternalPeer{PodLabels: x.pod.Labels, NamespaceLabels: x.ns.Labels, Namespace: x.pod.Namespace}
	}
	return p
}

func (x endpoint) ours() netpol.Peer {
	if x.pod != nil {
		return netpol.Peer{Pod: x.pod}
	}
	return netpol.Peer{IP: netip.MustParseAddr(x.ip)}
}

// portName is the name of dst's container port (port, proto): cyclonus
// takes named-port resolution as an input of the traffic.
func portName(dst endpoint, port int32, proto corev1.Protocol) string {
	if dst.pod == nil {
		return ""
	}
	for _, c := range dst.pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.ContainerPort == port && cp.Protocol == proto {
				return cp.Name
			}
		}
	}
	return ""
}

// diff compares every ordered pair (a pod with itself excluded: cyclonus
// has no rule for it, we always allow it), ports 80-82 and every protocol.
func diff(t *testing.T, nss []corev1.Namespace, pods []corev1.Pod, pols []networkingv1.NetworkPolicy) (checks, allowed int) {
	t.Helper()
	e := netpol.New(nss, pods, pols, netpol.Options{})
	if len(e.Issues()) > 0 {
		t.Fatalf("generator produced invalid policies: %v", e.Issues())
	}
	cy := matcher.BuildNetworkPolicies(false, forCyclonus(pols))
	eps := endpoints(nss, pods)
	for _, src := range eps {
		for _, dst := range eps {
			if src.name == dst.name {
				continue
			}
			for _, port := range []int32{80, 81, 82} {
				for _, proto := range protocols {
					want := cy.IsTrafficAllowed(&matcher.Traffic{
						Source: src.cyclonus(), Destination: dst.cyclonus(),
						ResolvedPort: int(port), ResolvedPortName: portName(dst, port, proto), Protocol: proto,
					}).IsAllowed()
					got := e.CanConnect(src.ours(), dst.ours(), netpol.PortRef{Port: port}, proto)
					checks++
					if want {
						allowed++
					}
					if got.Allowed != want {
						t.Fatalf("%s -> %s %d/%s: kubedelta %v, cyclonus %v\nverdict: %+v\npolicies:\n%s",
							src.name, dst.name, port, proto, got.Allowed, want, got, dump(pols))
					}
				}
			}
		}
	}
	return checks, allowed
}

func dump(pols []networkingv1.NetworkPolicy) string {
	var b strings.Builder
	for _, p := range pols {
		fmt.Fprintf(&b, "%s/%s types=%v podSelector=%v\n  ingress=%+v\n  egress=%+v\n", p.Namespace, p.Name, p.Spec.PolicyTypes, p.Spec.PodSelector, p.Spec.Ingress, p.Spec.Egress)
	}
	return b.String()
}

func TestDifferentialAgainstCyclonus(t *testing.T) {
	nss, pods := world()
	sets := 500
	if testing.Short() {
		sets = 50
	}
	total, allowed := 0, 0
	for seed := range sets {
		rng := rand.New(rand.NewPCG(uint64(seed), 2026))
		c, a := diff(t, nss, pods, randomPolicies(rng, 1+rng.IntN(8)))
		total, allowed = total+c, allowed+a
	}
	// A generator that allows (or denies) nearly everything would prove
	// little.
	if allowed < total/5 || allowed > total*4/5 {
		t.Fatalf("degenerate generator: %d of %d checks allowed", allowed, total)
	}
	t.Logf("%d policy sets, %d connection checks (%d allowed), no disagreement", sets, total, allowed)
}

// TestKnownDifferences pins the cases where cyclonus departs from
// Kubernetes; the random generator avoids them. Each shows that the harness
// does detect a disagreement.
func TestKnownDifferences(t *testing.T) {
	nss, pods := world()
	eps := endpoints(nss, pods)
	ep := func(name string) endpoint {
		for _, x := range eps {
			if x.name == name {
				return x
			}
		}
		t.Fatalf("no endpoint %s", name)
		return endpoint{}
	}
	ingressFrom := func(sel metav1.LabelSelector) []networkingv1.NetworkPolicy {
		return []networkingv1.NetworkPolicy{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "p"},
			Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &sel}}}}},
		}}
	}
	cases := []struct {
		name, cite   string
		pols         []networkingv1.NetworkPolicy
		from, to     string
		ours, theirs bool
	}{
		{
			name: "NotIn matches objects without the key",
			cite: "k8s.io/apimachinery pkg/labels/selector.go Requirement.Matches (NotIn: !ls.Has(key) => true); cyclonus pkg/kube/labelselector.go returns false",
			pols: ingressFrom(metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"front"}}}}),
			from: "x/b", to: "x/c", ours: true, theirs: false,
		},
		{
			name: "matchLabels with an empty value needs the key",
			cite: "k8s.io/apimachinery pkg/apis/meta/v1 helpers.go LabelSelectorAsSelector (matchLabels k: v => k In (v)); cyclonus compares labels[k] == v, true for a missing key and v == \"\"",
			pols: ingressFrom(metav1.LabelSelector{MatchLabels: map[string]string{"tier": ""}}),
			from: "x/b", to: "x/c", ours: false, theirs: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := netpol.New(nss, pods, tc.pols, netpol.Options{})
			cy := matcher.BuildNetworkPolicies(false, forCyclonus(tc.pols))
			src, dst := ep(tc.from), ep(tc.to)
			theirs := cy.IsTrafficAllowed(&matcher.Traffic{Source: src.cyclonus(), Destination: dst.cyclonus(),
				ResolvedPort: 80, ResolvedPortName: portName(dst, 80, corev1.ProtocolTCP), Protocol: corev1.ProtocolTCP}).IsAllowed()
			ours := e.Allowed(src.ours(), dst.ours(), netpol.PortRef{Port: 80}, corev1.ProtocolTCP)
			if ours != tc.ours || theirs != tc.theirs {
				t.Errorf("%s -> %s: kubedelta %v (want %v), cyclonus %v (want %v); see %s", tc.from, tc.to, ours, tc.ours, theirs, tc.theirs, tc.cite)
			}
		})
	}

	// A pod connecting to itself: cyclonus evaluates it like any pair; we
	// always allow it (upstream e2e ignores loopback, kubernetes#95879).
	deny := []networkingv1.NetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "deny"}}}
	self := ep("x/a")
	cy := matcher.BuildNetworkPolicies(false, forCyclonus(deny))
	if cy.IsTrafficAllowed(&matcher.Traffic{Source: self.cyclonus(), Destination: self.cyclonus(), ResolvedPort: 80, Protocol: corev1.ProtocolTCP}).IsAllowed() ||
		!netpol.New(nss, pods, deny, netpol.Options{}).Allowed(self.ours(), self.ours(), netpol.PortRef{Port: 80}, corev1.ProtocolTCP) {
		t.Error("self traffic: want cyclonus deny, kubedelta allow")
	}
}
