package netpol

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestConcurrentUse runs every query of one engine from several goroutines;
// under -race it proves the engine is read-only after New.
func TestConcurrentUse(t *testing.T) {
	nss, pods, pols := genCluster(5, 10, 300, 100)
	e := New(nss, pods, pols, Options{})
	want := e.Reach()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				a, b := &pods[(i*7+g)%len(pods)], &pods[(i*13+g*3)%len(pods)]
				v1 := e.CanConnect(Peer{Pod: a}, Peer{Pod: b}, PortRef{Name: "http"}, corev1.ProtocolTCP)
				v2 := e.CanConnect(Peer{Pod: a}, Peer{Pod: b}, PortRef{Port: 8080}, corev1.ProtocolTCP)
				if v1.Allowed != v2.Allowed && b.Status.PodIP != "" {
					t.Errorf("%s/%s -> %s/%s: http and 8080 disagree", a.Namespace, a.Name, b.Namespace, b.Name)
					return
				}
				e.AllowedPeers(a)
			}
			if got := e.Reach(); len(got.Workloads) != len(want.Workloads) {
				t.Errorf("Reach changed between calls: %d vs %d workloads", len(got.Workloads), len(want.Workloads))
			}
		}()
	}
	wg.Wait()
}
