package netpol

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The benchmark cluster: 10,000 pods, 2,000 policies, 200 namespaces.
const (
	benchNS       = 200
	benchPods     = 10000
	benchPolicies = 2000
)

func BenchmarkNew(b *testing.B) {
	nss, pods, pols := genCluster(1, benchNS, benchPods, benchPolicies)
	b.ResetTimer()
	for b.Loop() {
		New(nss, pods, pols, Options{})
	}
	b.ReportMetric(float64(len(pods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkReach measures the full report, engine construction included.
func BenchmarkReach(b *testing.B) {
	nss, pods, pols := genCluster(1, benchNS, benchPods, benchPolicies)
	var rep *ReachReport
	b.ResetTimer()
	for b.Loop() {
		rep = New(nss, pods, pols, Options{}).Reach()
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	active := float64(rep.Stats.ActivePods)
	b.ReportMetric(sec, "s/report")
	b.ReportMetric(active*active/sec, "podpairs/s")
	b.ReportMetric(float64(rep.Stats.Classes), "classes")
}

// BenchmarkReachPodClasses is the worst case for equivalence classes: a
// policy selects on a label unique to every pod, so each pod is its own
// class.
func BenchmarkReachPodClasses(b *testing.B) {
	nss, pods, pols := genCluster(1, benchNS, benchPods, benchPolicies)
	for i := range pods {
		pods[i].Labels["pod-name"] = pods[i].Name
	}
	pols = append(pols, mustPolicies(b, `
metadata: {namespace: ns-000, name: one-pod}
spec: {podSelector: {matchLabels: {pod-name: ns-000-none}}}`)...)
	var rep *ReachReport
	b.ResetTimer()
	for b.Loop() {
		rep = New(nss, pods, pols, Options{}).Reach()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/report")
	b.ReportMetric(float64(rep.Stats.Classes), "classes")
}

func BenchmarkCanConnect(b *testing.B) {
	nss, pods, pols := genCluster(1, benchNS, benchPods, benchPolicies)
	e := New(nss, pods, pols, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	type q struct {
		from, to Peer
		port     int32
	}
	qs := make([]q, 4096)
	for i := range qs {
		qs[i] = q{Peer{Pod: &pods[rng.IntN(len(pods))]}, Peer{Pod: &pods[rng.IntN(len(pods))]}, []int32{8080, 9090, 53, 443}[rng.IntN(4)]}
	}
	allowed := 0
	for _, x := range qs {
		if e.Allowed(x.from, x.to, PortRef{Port: x.port}, corev1.ProtocolTCP) {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(qs) {
		b.Fatalf("degenerate benchmark: %d of %d queries allowed", allowed, len(qs))
	}
	start := time.Now()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		x := &qs[i&4095]
		e.CanConnect(x.from, x.to, PortRef{Port: x.port}, corev1.ProtocolTCP)
		i++
	}
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "checks/s")
}

// BenchmarkReachScale is the scale table of docs/benchmarks.md: the full
// reach report for 1k, 10k and 50k pods (policies and namespaces scaled in
// the same proportion as the 10k cluster: one policy per five pods, one
// namespace per fifty).
func BenchmarkReachScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(strconv.Itoa(n)+"pods", func(b *testing.B) {
			nss, pods, pols := genCluster(1, max(1, n/50), n, n/5)
			var rep *ReachReport
			b.ResetTimer()
			for b.Loop() {
				rep = New(nss, pods, pols, Options{}).Reach()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/report")
			b.ReportMetric(float64(rep.Stats.Classes), "classes")
		})
	}
}
