package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// churnInventory models a busy cluster's history: ips addresses, each held
// by holders pods in turn (10 minutes each, a minute apart), so that
// lookups hit addresses with a real reuse history.
func churnInventory(ips, holders int) *Inventory {
	inv := &Inventory{Pods: make([]corev1.Pod, 0, ips*holders)}
	for h := range holders {
		for i := range ips {
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			start := t0.Add(time.Duration(h) * 11 * time.Minute)
			p := testPod("ns", fmt.Sprintf("p-%d-%d", i, h), start, ip.String())
			p.UID = types.UID(fmt.Sprintf("%d-%d", i, h))
			if h < holders-1 {
				p.DeletionTimestamp = ptr(metav1.NewTime(start.Add(10 * time.Minute)))
			}
			inv.Pods = append(inv.Pods, *p)
		}
	}
	return inv
}

type lookup struct {
	ip netip.Addr
	at time.Time
}

func lookups(ips, holders, n int) []lookup {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]lookup, n)
	span := time.Duration(holders) * 11 * time.Minute
	for i := range out {
		k := r.IntN(ips)
		out[i] = lookup{
			ip: netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}),
			at: t0.Add(time.Duration(r.Int64N(int64(span)))),
		}
	}
	return out
}

// BenchmarkPodAt: 20,000 addresses × 5 holders (100,000 pods), lookups at
// random times. Flows arrive at up to 1M/s: a lookup must stay well under
// a microsecond and allocate nothing.
func BenchmarkPodAt(b *testing.B) {
	const ips, holders = 20000, 5
	x := NewIndex(churnInventory(ips, holders))
	ls := lookups(ips, holders, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	found := 0
	for i := 0; b.Loop(); i++ {
		l := ls[i&(len(ls)-1)]
		if _, ok := x.PodAt(l.ip, l.at); ok {
			found++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	if found == 0 {
		b.Fatal("no lookup found a pod")
	}
}

// BenchmarkPodAtParallel is BenchmarkPodAt from every core at once (the read
// lock is shared).
func BenchmarkPodAtParallel(b *testing.B) {
	const ips, holders = 20000, 5
	x := NewIndex(churnInventory(ips, holders))
	ls := lookups(ips, holders, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(ls))
		for pb.Next() {
			l := ls[i&(len(ls)-1)]
			x.PodAt(l.ip, l.at)
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkResolveIP mixes pod addresses with addresses that fall through to
// the service, node and external maps.
func BenchmarkResolveIP(b *testing.B) {
	const ips, holders = 20000, 5
	x := NewIndex(churnInventory(ips, holders))
	ls := lookups(ips, holders, 1<<16)
	for i := range ls {
		if i%4 == 3 {
			ls[i].ip = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) // external
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		l := ls[i&(len(ls)-1)]
		x.ResolveIP(l.ip, l.at)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// dumpOfPods renders n realistic pods as a `kubectl get pods -A -o yaml`
// List, or as its JSON form.
func dumpOfPods(b *testing.B, n int, asJSON bool) []byte {
	b.Helper()
	items := make([]corev1.Pod, n)
	for i := range items {
		p := testPod(fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("web-7d4b9c8f5-%05d", i), t0,
			netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i)}).String())
		p.Labels = map[string]string{"app.kubernetes.io/name": "web", "pod-template-hash": "7d4b9c8f5"}
		p.OwnerReferences = owned("ReplicaSet", "web-7d4b9c8f5", true)
		p.Spec = corev1.PodSpec{
			NodeName:           "node-a",
			ServiceAccountName: "web",
			Containers: []corev1.Container{{
				Name: "web", Image: "registry.example.com/web:1.2.3",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "PORT", Value: "8080"}},
			}},
		}
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)},
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "web", Ready: true, Image: "registry.example.com/web:1.2.3",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}},
		}}
		items[i] = *p
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}
	var out []byte
	var err error
	if asJSON {
		out, err = json.MarshalIndent(list, "", "    ")
	} else {
		out, err = yaml.Marshal(list)
	}
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func benchmarkLoad(b *testing.B, asJSON bool) {
	const pods = 5000
	data := dumpOfPods(b, pods, asJSON)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		inv := &Inventory{}
		if err := LoadReader(bytes.NewReader(data), "bench", inv); err != nil {
			b.Fatal(err)
		}
		if len(inv.Pods) != pods {
			b.Fatalf("%d pods", len(inv.Pods))
		}
	}
	b.ReportMetric(float64(b.N*pods)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkLoadYAML reads a 5,000-pod `kubectl get pods -A -o yaml` List.
func BenchmarkLoadYAML(b *testing.B) { benchmarkLoad(b, false) }

// BenchmarkLoadJSON reads the same List as `-o json` writes it.
func BenchmarkLoadJSON(b *testing.B) { benchmarkLoad(b, true) }

// BenchmarkNewIndex indexes 100,000 pods.
func BenchmarkNewIndex(b *testing.B) {
	inv := churnInventory(20000, 5)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		NewIndex(inv)
	}
	b.ReportMetric(float64(b.N*len(inv.Pods))/b.Elapsed().Seconds(), "pods/s")
}
