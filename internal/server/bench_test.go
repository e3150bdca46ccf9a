package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/loadgen"
	"github.com/kubedelta/kubedelta/internal/server"
)

// BenchmarkServe measures the whole server in one process: the load
// generator posts b.N batches of 400 example audit events (unique copies)
// to the webhook, and the clock stops when every event is processed by the
// pipeline with every detector on. events/s is the end-to-end rate.
func BenchmarkServe(b *testing.B) {
	tpl, err := loadgen.ReadTemplates(exampleAudit, 0)
	if err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, b.TempDir(), serverConfig{opts: server.Options{SnapshotInterval: 10 * time.Second}, quiet: true})
	// Warm up (and learn the baseline) on one pass over the templates.
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Target: ts.base, Events: int64(len(tpl)), Templates: tpl}); err != nil {
		b.Fatal(err)
	}
	ts.waitProcessed()
	before := ts.stats().Audit.Accepted
	b.ResetTimer()
	r, err := loadgen.Run(context.Background(), loadgen.Config{Target: ts.base, Events: int64(b.N) * 400, Templates: tpl, Duration: time.Hour, Concurrency: 16})
	if err != nil {
		b.Fatal(err)
	}
	st := ts.waitProcessed()
	b.StopTimer()
	events := st.Audit.Accepted - before
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ack-ms")
}
