package delta

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// deployPod is a Running pod of Deployment deploy: the index names its
// workload from the pod-template-hash label, as for a dump without owner
// references.
func deployPod(ns, deploy, ip string, labels map[string]string, ports ...corev1.ContainerPort) corev1.Pod {
	l := map[string]string{"pod-template-hash": "5d8f7c9b4"}
	for k, v := range labels {
		l[k] = v
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: deploy + "-5d8f7c9b4-" + suffix(ip), Labels: l,
			UID: types.UID("uid-" + ns + "-" + ip), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)),
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: ports}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			StartTime: &metav1.Time{Time: t0.Add(-time.Hour)},
		},
	}
}

func suffix(ip string) string {
	b := []byte("xxxxx")
	for i, c := range []byte(ip) {
		b[i%5] = "abcdefghijklmnopqrstuvwxyz0123456789"[(int(b[i%5])+int(c)+i)%36]
	}
	return string(b)
}

func namedPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func namespaces(names ...string) []corev1.Namespace {
	out := make([]corev1.Namespace, len(names))
	for i, n := range names {
		out[i] = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"kubernetes.io/metadata.name": n}}}
	}
	return out
}

func node(name, ip, podCIDR string) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{PodCIDR: podCIDR, PodCIDRs: []string{podCIDR}},
		Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}},
	}
}

// world is a loaded test cluster.
type world struct {
	inv *cluster.Inventory
	idx *cluster.Index
	eng *netpol.Engine
}

func newWorld(inv *cluster.Inventory) *world {
	idx := cluster.NewIndex(inv)
	eng := netpol.New(inv.Namespaces, inv.Pods, inv.NetworkPolicies, netpol.Options{
		WorkloadName: func(p *corev1.Pod) string { return idx.WorkloadOf(p).String() },
	})
	return &world{inv: inv, idx: idx, eng: eng}
}

// ingest aggregates flows over the world's index.
func (w *world) ingest(flows ...event.Flow) *Edges {
	g := NewIngester(w.idx, PodNetworks(w.inv))
	for i := range flows {
		g.Add(&flows[i])
	}
	return g.Edges()
}

// tcp is a flow from src to dst:port at t0+minutes.
func tcp(src, dst string, port uint16, minutes int) event.Flow {
	return event.Flow{
		Time: t0.Add(time.Duration(minutes) * time.Minute), Protocol: event.ProtoTCP,
		Src:   event.Endpoint{IP: netip.MustParseAddr(src), Port: 40000},
		Dst:   event.Endpoint{IP: netip.MustParseAddr(dst), Port: port},
		Bytes: 100, Packets: 2, Verdict: event.VerdictForwarded,
	}
}

func udp(src, dst string, port uint16, minutes int) event.Flow {
	f := tcp(src, dst, port, minutes)
	f.Protocol = event.ProtoUDP
	return f
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func npPort(proto corev1.Protocol, port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port}
}

func policy(ns, name string, podSel *metav1.LabelSelector, types []networkingv1.PolicyType, in []networkingv1.NetworkPolicyIngressRule, eg []networkingv1.NetworkPolicyEgressRule) networkingv1.NetworkPolicy {
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: *podSel, PolicyTypes: types, Ingress: in, Egress: eg},
	}
}

var ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}

func findWorkload(t *testing.T, rep *Report, w string) WorkloadReport {
	t.Helper()
	for _, wr := range rep.Workloads {
		if wr.Workload == w {
			return wr
		}
	}
	t.Fatalf("workload %s not in the report", w)
	return WorkloadReport{}
}

func findPolicy(t *testing.T, sg *Suggestion, name string) networkingv1.NetworkPolicy {
	t.Helper()
	for _, p := range sg.Policies {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("policy %s not suggested", name)
	return networkingv1.NetworkPolicy{}
}

type netpolOptions = netpol.Options
