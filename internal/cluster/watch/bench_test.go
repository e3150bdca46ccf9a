package watch

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

// benchWatcher is a watcher whose handlers are driven directly, without
// informers, with an index as after the first sync.
func benchWatcher(b *testing.B) *Watcher {
	b.Helper()
	w, err := NewForClient(fake.NewClientset(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	w.index = cluster.NewIndex(nil)
	return w
}

// BenchmarkPodEvents: the handler cost of a pod's life (add, status update
// with its address, delete) on a watcher holding 10,000 pods: events
// applied per second bound the pod churn one watcher keeps up with.
func BenchmarkPodEvents(b *testing.B) {
	w := benchWatcher(b)
	spec := w.specOf(b, "Pod")
	base := time.Now().Add(-time.Hour)
	for i := range 10000 {
		w.upsert(spec, nil, pod("bench", fmt.Sprintf("resident-%d", i), fmt.Sprintf("r%d", i), netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}).String(), base), false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name, uid := fmt.Sprintf("p-%d", i), fmt.Sprintf("u%d", i)
		p := pod("churn", name, uid, "", base)
		w.upsert(spec, nil, p, false)
		q := pod("churn", name, uid, netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}).String(), base)
		w.upsert(spec, p, q, false)
		w.remove(spec, q)
	}
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSnapshot: a Snapshot of 10,000 pods, 2,000 roles and 500
// namespaces, what OnChange's consumer pays per rebuild.
func BenchmarkSnapshot(b *testing.B) {
	w := benchWatcher(b)
	pods, roles, nss := w.specOf(b, "Pod"), w.specOf(b, "Role"), w.specOf(b, "Namespace")
	for i := range 500 {
		w.upsert(nss, nil, namespace(fmt.Sprintf("ns-%d", i)), true)
	}
	for i := range 2000 {
		w.upsert(roles, nil, role(fmt.Sprintf("ns-%d", i%500), fmt.Sprintf("r-%d", i)), true)
	}
	for i := range 10000 {
		w.upsert(pods, nil, pod(fmt.Sprintf("ns-%d", i%500), fmt.Sprintf("p-%d", i), fmt.Sprintf("u%d", i), "", time.Now()), true)
	}
	objects := w.count()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if inv := w.Snapshot(); len(inv.Pods) != 10000 {
			b.Fatalf("snapshot has %d pods", len(inv.Pods))
		}
	}
	b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
}
