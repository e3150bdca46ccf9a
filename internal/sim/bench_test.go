package sim

import (
	"io"
	"testing"
	"time"
)

// BenchmarkGenerate measures generation throughput, in audit events per
// second (wall and CPU time), for a demo-sized cluster (20 namespaces) over
// one simulated day: with every stream rendered, and with the audit log
// only. Outputs go to io.Discard: this is the generator, not the disk.
//
//	go test -run '^$' -bench Generate -benchtime 3x -cpu 1 ./internal/sim/
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		out  Writers
	}{
		{"all-streams", Writers{Cluster: io.Discard, Audit: io.Discard, Flows: io.Discard, Exec: io.Discard, GroundTruth: io.Discard}},
		{"audit-only", Writers{Audit: io.Discard}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var events, flows, execs int64
			var wall, cpu time.Duration
			for b.Loop() {
				start, cpu0 := time.Now(), cpuTime()
				sum, err := Generate(Config{Seed: 1, Namespaces: 20, Days: 1, Attacks: []string{"all"}}, bc.out)
				if err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start)
				cpu += cpuTime() - cpu0
				events += sum.AuditEvents
				flows += sum.Flows
				execs += sum.ExecEvents
			}
			b.ReportMetric(float64(events)/wall.Seconds(), "audit-events/s")
			if cpu > 0 {
				b.ReportMetric(float64(events)/cpu.Seconds(), "audit-events/cpu-s")
				b.ReportMetric(float64(events+flows+execs)/cpu.Seconds(), "records/cpu-s")
			}
		})
	}
}

// BenchmarkAuditEvent measures rendering one audit event of a lease
// renewal, the most common event.
func BenchmarkAuditEvent(b *testing.B) {
	w := newWorld(Config{Seed: 1, Namespaces: 1, Days: 1, Start: DefaultStart, LearningPeriod: time.Hour})
	e := newEngine(w, Writers{Audit: io.Discard}, fmtFalco)
	e.newActors()
	s := &source{rng: newRNG(1, "bench")}
	c := call{who: e.act.kubelet[0], verb: "update", uri: rLeases.uri("kube-node-lease", "cp-1", "", "timeout=10s"), ref: rLeases.ref("kube-node-lease", "cp-1", "")}
	t := w.start
	var n int64
	for b.Loop() {
		e.request(s, &c, t, int64(5*time.Millisecond))
		n += int64(len(s.arena))
		s.arena, s.pend, s.head = s.arena[:0], s.pend[:0], 0
		t += int64(10 * time.Second)
	}
	b.SetBytes(n / int64(max(b.N, 1)))
}
