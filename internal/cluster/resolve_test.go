package cluster

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func dumpIndex(t *testing.T) (*Inventory, *Index) {
	t.Helper()
	inv, err := Load([]string{"testdata/load/dump.yaml"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inv, NewIndex(inv)
}

func TestResolveIPOnDump(t *testing.T) {
	_, x := dumpIndex(t)
	dumpTime := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		ip       string
		at       time.Time
		kind     EndpointKind
		workload string // for pods and nodes
		object   string // pod, service or node name
	}{
		// Deployment through its ReplicaSet, both addresses of a
		// dual-stack pod.
		{"10.244.1.5", dumpTime, EndpointPod, "Deployment/shop/checkout", "checkout-6d5f8b7c9-x2x9k"},
		{"fd00:10:244:1::5", dumpTime, EndpointPod, "Deployment/shop/checkout", "checkout-6d5f8b7c9-x2x9k"},
		{"10.244.1.5", time.Time{}, EndpointPod, "Deployment/shop/checkout", "checkout-6d5f8b7c9-x2x9k"},
		// Before the pod started, its address was nobody's.
		{"10.244.1.5", dumpTime.Add(-time.Hour), EndpointExternal, "", ""},
		// ReplicaSet missing from the dump: name minus pod-template-hash.
		{"10.244.2.9", dumpTime, EndpointPod, "Deployment/shop/cart", "cart-5c7d9f8b6-q2w3e"},
		// CronJob through its Job, while the pod ran; a finished pod
		// holds nothing afterwards.
		{"10.244.2.7", time.Date(2025, 6, 1, 9, 0, 30, 0, time.UTC), EndpointPod, "CronJob/shop/report", "report-29145600-7xk2p"},
		{"10.244.2.7", dumpTime, EndpointExternal, "", ""},
		// Job missing, named <cronjob>-<unix minutes>.
		{"10.244.2.11", dumpTime, EndpointPod, "CronJob/shop/cleanup", "cleanup-29145630-m4n5b"},
		// Job missing, not a scheduled name: the Job is the workload.
		{"10.244.1.12", dumpTime, EndpointPod, "Job/shop/cart-migrate", "cart-migrate-7r8t9"},
		{"10.244.2.20", dumpTime, EndpointPod, "StatefulSet/shop/db", "db-0"},
		{"10.244.1.33", dumpTime, EndpointPod, "Pod/shop/debug", "debug"},
		{"10.244.2.40", dumpTime, EndpointPod, "ReplicaSet/shop/legacy-7f9c", "legacy-7f9c-zz8lq"},
		// hostNetwork pods (kube-proxy, the static kube-apiserver) share
		// the node's address: it resolves to the node.
		{"10.0.1.10", dumpTime, EndpointNode, "Node/node-a", "node-a"},
		{"203.0.113.10", dumpTime, EndpointNode, "Node/node-a", "node-a"},
		{"10.0.1.11", dumpTime, EndpointNode, "Node/node-b", "node-b"},
		{"10.96.12.34", dumpTime, EndpointService, "", "checkout"},
		{"fd00:10:96::1234", dumpTime, EndpointService, "", "checkout"},
		{"198.51.100.7", dumpTime, EndpointService, "", "checkout"}, // load balancer ingress
		{"10.96.0.1", time.Time{}, EndpointService, "", "kubernetes"},
		{"8.8.8.8", dumpTime, EndpointExternal, "", ""},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		ep := x.ResolveIP(ip, tt.at)
		var object string
		switch {
		case ep.Pod != nil:
			object = ep.Pod.Name
		case ep.Service != nil:
			object = ep.Service.Name
		case ep.Node != nil:
			object = ep.Node.Name
		}
		if ep.Kind != tt.kind || ep.Workload.String() != tt.workload || object != tt.object || ep.IP != ip {
			t.Errorf("ResolveIP(%s, %v) = %s %q %q; want %s %q %q", tt.ip, tt.at, ep.Kind, ep.Workload, object, tt.kind, tt.workload, tt.object)
		}
	}
}

func TestIndexLookupsOnDump(t *testing.T) {
	inv, x := dumpIndex(t)
	dumpTime := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

	svc, ok := x.ServiceByClusterIP(netip.MustParseAddr("10.96.12.34"))
	if !ok || svc.Name != "checkout" {
		t.Fatalf("ServiceByClusterIP = %v, %v", svc, ok)
	}
	if _, ok := x.ServiceByClusterIP(netip.MustParseAddr("198.51.100.7")); ok {
		t.Error("a load balancer IP is not a cluster IP")
	}
	backends := []struct {
		svc  string
		at   time.Time
		want []string
	}{
		{"checkout", dumpTime, []string{"checkout-6d5f8b7c9-x2x9k"}},
		{"checkout", time.Time{}, []string{"checkout-6d5f8b7c9-x2x9k"}},
		{"checkout", dumpTime.Add(-time.Hour), nil}, // before the pod started
		{"db", dumpTime, []string{"db-0"}},          // headless services select too
		{"kubernetes", dumpTime, nil},               // no selector
	}
	for _, b := range backends {
		s := findService(t, inv, b.svc)
		if got := names(x.Backends(s, b.at)); !slices.Equal(got, b.want) {
			t.Errorf("Backends(%s, %v) = %v, want %v", b.svc, b.at, got, b.want)
		}
	}

	if got := names(x.PodsInNamespace("kube-system")); !slices.Equal(got, []string{"kube-apiserver-node-a", "kube-proxy-x7k2m"}) {
		t.Errorf("PodsInNamespace(kube-system) = %v", got)
	}
	// A finished pod is not current.
	if got := names(x.PodsInNamespace("shop")); slices.Contains(got, "report-29145600-7xk2p") || len(got) != 7 {
		t.Errorf("PodsInNamespace(shop) = %v", got)
	}
	if p, ok := x.Pod("shop", "db-0"); !ok || p.Spec.Hostname != "db-0" {
		t.Errorf("Pod(shop, db-0) = %v, %v", p, ok)
	}
	if ns, ok := x.Namespace("monitoring"); !ok || ns.Labels[corev1.LabelMetadataName] != "monitoring" {
		t.Errorf("implicit namespace monitoring = %v, %v", ns, ok)
	}
	if _, ok := x.Namespace("telemetry"); ok {
		t.Error("a namespace referenced only by a skipped object was created")
	}
	for _, p := range []string{"kube-apiserver-node-a", "kube-proxy-x7k2m"} {
		pod, _ := x.Pod("kube-system", p)
		if w := x.WorkloadOf(pod).String(); w != map[string]string{
			"kube-apiserver-node-a": "StaticPod/kube-system/kube-apiserver",
			"kube-proxy-x7k2m":      "DaemonSet/kube-system/kube-proxy",
		}[p] {
			t.Errorf("WorkloadOf(%s) = %s", p, w)
		}
	}
}

func findService(t *testing.T, inv *Inventory, name string) *corev1.Service {
	t.Helper()
	for i := range inv.Services {
		if inv.Services[i].Name == name {
			return &inv.Services[i]
		}
	}
	t.Fatalf("service %s not in the dump", name)
	return nil
}
