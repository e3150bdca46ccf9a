package cluster

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// testPod is a running pod started at start holding ips.
func testPod(ns, name string, start time.Time, ips ...string) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID(ns + "-" + name + "-" + start.Format("150405")),
			CreationTimestamp: metav1.NewTime(start.Add(-time.Second)),
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: ptr(metav1.NewTime(start))},
	}
	for i, ip := range ips {
		if i == 0 {
			p.Status.PodIP = ip
		}
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func deleted(p *corev1.Pod, at time.Time) *corev1.Pod {
	p.DeletionTimestamp = ptr(metav1.NewTime(at))
	return p
}

func podName(p *corev1.Pod) string {
	if p == nil {
		return ""
	}
	return p.Name
}

func inventoryOf(pods ...*corev1.Pod) *Inventory {
	inv := &Inventory{}
	for _, p := range pods {
		inv.Pods = append(inv.Pods, *p)
	}
	return inv
}

var ip5 = netip.MustParseAddr("10.0.0.5")

// IP reuse: pod A holds 10.0.0.5 from t0 to t1, nobody until t2, then pod B.
func TestPodAtIPReuse(t *testing.T) {
	t1, t2 := t0.Add(10*time.Minute), t0.Add(15*time.Minute)
	a := deleted(testPod("shop", "a", t0, "10.0.0.5"), t1)
	b := testPod("shop", "b", t2, "10.0.0.5")
	lookups := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Nanosecond), ""},
		{t0, "a"},
		{t0.Add(time.Minute), "a"},
		{t1.Add(-time.Nanosecond), "a"},
		{t1, ""}, // lifetimes are [from, to)
		{t1.Add(time.Minute), ""},
		{t2, "b"},
		{t2.Add(24 * time.Hour), "b"},
		{time.Time{}, "b"}, // now
	}
	for _, order := range []struct {
		name string
		pods []*corev1.Pod
	}{{"in start order", []*corev1.Pod{a, b}}, {"reversed", []*corev1.Pod{b, a}}} {
		x := NewIndex(inventoryOf(order.pods...))
		for _, l := range lookups {
			p, ok := x.PodAt(ip5, l.at)
			if podName(p) != l.want || ok != (l.want != "") {
				t.Errorf("%s: PodAt(%s, %s) = %q, %v; want %q", order.name, ip5, l.at.Format(time.TimeOnly), podName(p), ok, l.want)
			}
		}
	}
}

func TestPodAtLifetimes(t *testing.T) {
	finished := testPod("batch", "job-pod", t0, "10.0.0.5")
	finished.Status.Phase = corev1.PodSucceeded
	finished.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(time.Minute))}}},
		{Name: "b", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(2 * time.Minute))}}},
	}
	noStart := testPod("x", "no-start", t0, "10.0.0.6")
	noStart.Status.StartTime = nil // falls back on creationTimestamp
	noTimes := testPod("x", "handwritten", t0, "10.0.0.7")
	noTimes.Status.StartTime, noTimes.CreationTimestamp = nil, metav1.Time{}
	// A newer pod took the address before the older one's recorded end:
	// the address is the newer pod's from its start.
	old := deleted(testPod("x", "old", t0, "10.0.0.8"), t0.Add(time.Hour))
	newer := testPod("x", "newer", t0.Add(time.Minute), "10.0.0.8")
	x := NewIndex(inventoryOf(finished, noStart, noTimes, old, newer))

	tests := []struct {
		ip   string
		at   time.Time
		want string
	}{
		{"10.0.0.5", t0.Add(90 * time.Second), "job-pod"},
		{"10.0.0.5", t0.Add(2 * time.Minute), ""}, // ended with its last container
		{"10.0.0.5", time.Time{}, ""},             // finished pods hold nothing now
		{"10.0.0.6", t0.Add(-time.Second), "no-start"},
		{"10.0.0.6", t0.Add(-time.Second - time.Nanosecond), ""},
		{"10.0.0.7", time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), "handwritten"},
		{"10.0.0.8", t0.Add(30 * time.Second), "old"},
		{"10.0.0.8", t0.Add(2 * time.Minute), "newer"},
		{"10.0.0.8", time.Time{}, "newer"},
	}
	for _, tt := range tests {
		p, _ := x.PodAt(netip.MustParseAddr(tt.ip), tt.at)
		if podName(p) != tt.want {
			t.Errorf("PodAt(%s, %v) = %q, want %q", tt.ip, tt.at, podName(p), tt.want)
		}
	}
}

func TestPodAtDualStackAndHostNetwork(t *testing.T) {
	dual := testPod("shop", "dual", t0, "10.244.1.5", "fd00:10:244:1::5")
	host := testPod("kube-system", "kube-proxy-x", t0, "10.0.1.10")
	host.Spec.HostNetwork = true
	host.Spec.NodeName = "node-a"
	host.Status.HostIP = "10.0.1.10"
	x := NewIndex(inventoryOf(dual, host))
	at := t0.Add(time.Minute)
	for _, ip := range []string{"10.244.1.5", "fd00:10:244:1::5", "::ffff:10.244.1.5", "fd00:10:244:1::5%eth0"} {
		if p, ok := x.PodAt(netip.MustParseAddr(ip), at); !ok || p.Name != "dual" {
			t.Errorf("PodAt(%s) = %q, %v; want dual", ip, podName(p), ok)
		}
	}
	if p, ok := x.PodAt(netip.MustParseAddr("10.0.1.10"), at); ok {
		t.Errorf("PodAt(hostNetwork IP) = %q, want none: the address is the node's", p.Name)
	}
	// No Node object: the node is known from the pod's status.hostIP.
	ep := x.ResolveIP(netip.MustParseAddr("10.0.1.10"), at)
	if ep.Kind != EndpointNode || ep.Workload.String() != "Node/node-a" || ep.Node != nil {
		t.Errorf("ResolveIP(host IP) = %+v, want node-a without a Node object", ep)
	}
}

func TestLiveUpdates(t *testing.T) {
	x := NewIndex(nil)
	t1, t2 := t0.Add(10*time.Minute), t0.Add(15*time.Minute)

	// A pending pod has no IP yet; the update that assigns one indexes it.
	a := testPod("shop", "a", t0)
	x.AddPod(a)
	if _, ok := x.PodAt(ip5, t0.Add(time.Second)); ok {
		t.Fatal("pending pod without IP resolved")
	}
	a2 := testPod("shop", "a", t0, "10.0.0.5")
	x.AddPod(a2)
	if p, _ := x.PodAt(ip5, t0.Add(time.Second)); p != a2 {
		t.Fatalf("after update PodAt = %v, want the updated object", podName(p))
	}
	x.DeletePod("shop", "a", t1)
	if _, ok := x.Pod("shop", "a"); ok {
		t.Error("deleted pod is still current")
	}
	if p, _ := x.PodAt(ip5, t1.Add(-time.Second)); podName(p) != "a" {
		t.Error("deleted pod's past lost")
	}
	if _, ok := x.PodAt(ip5, time.Time{}); ok {
		t.Error("deleted pod still holds its address now")
	}

	// The address is reused; a StatefulSet-style pod is recreated under the
	// same name without a delete event in between.
	b := testPod("shop", "b", t2, "10.0.0.5")
	x.AddPod(b)
	web := testPod("shop", "web-0", t0, "10.0.0.9")
	x.AddPod(web)
	web2 := testPod("shop", "web-0", t2, "10.0.0.10")
	x.AddPod(web2)
	checks := []struct {
		ip   string
		at   time.Time
		want *corev1.Pod
	}{
		{"10.0.0.5", t0.Add(time.Minute), a2},
		{"10.0.0.5", t2.Add(time.Minute), b},
		{"10.0.0.9", t1, web},
		{"10.0.0.9", t2, nil}, // the old web-0 ended when the new one started
		{"10.0.0.10", t2, web2},
	}
	for _, c := range checks {
		if p, _ := x.PodAt(netip.MustParseAddr(c.ip), c.at); p != c.want {
			t.Errorf("PodAt(%s, %s) = %q, want %q", c.ip, c.at.Format(time.TimeOnly), podName(p), podName(c.want))
		}
	}
	if p, _ := x.Pod("shop", "web-0"); p != web2 {
		t.Errorf("Pod(web-0) = %v, want the recreated pod", p.UID)
	}
	if got := names(x.PodsInNamespace("shop")); !slices.Equal(got, []string{"b", "web-0"}) {
		t.Errorf("PodsInNamespace = %v", got)
	}

	// Prune forgets what ended before the cutoff, never live pods.
	if n := x.Prune(t2); n != 2 {
		t.Errorf("Prune removed %d pods, want 2 (a and the first web-0)", n)
	}
	if _, ok := x.PodAt(ip5, t0.Add(time.Minute)); ok {
		t.Error("pruned holder still resolves")
	}
	if p, _ := x.PodAt(ip5, t2.Add(time.Minute)); p != b {
		t.Error("live holder pruned")
	}
	if n := x.Prune(t2.Add(time.Hour)); n != 0 {
		t.Errorf("second Prune removed %d live pods", n)
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// Lookups run while informer updates do; run with -race.
func TestIndexConcurrentUse(t *testing.T) {
	x := NewIndex(nil)
	var wg sync.WaitGroup
	const pods = 200
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range pods {
			ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			p := testPod("load", "p", t0.Add(time.Duration(i)*time.Second), ip.String())
			p.UID = types.UID(ip.String())
			x.AddPod(p)
			if i%10 == 0 {
				x.Prune(t0)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 5 * pods {
			ip := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
			if p, ok := x.PodAt(ip, time.Time{}); ok && p.Status.PodIP != ip.String() {
				t.Errorf("PodAt(%s) returned a pod with IP %s", ip, p.Status.PodIP)
				return
			}
			x.ResolveIP(ip, t0.Add(time.Hour))
			x.PodsInNamespace("load")
		}
	}()
	wg.Wait()
	// Every pod was named load/p: only the last one is current.
	if got := x.PodsInNamespace("load"); len(got) != 1 || got[0].Status.PodIP != "10.1.0.199" {
		t.Errorf("current pods = %v, want only the last one", names(got))
	}
}
