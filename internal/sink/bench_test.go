package sink

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// countingSink counts what it is sent.
type countingSink struct{ n atomic.Int64 }

func (c *countingSink) Name() string { return "count" }
func (c *countingSink) Send(_ context.Context, a []detect.Alert) error {
	c.n.Add(int64(len(a)))
	return nil
}

// BenchmarkPublish measures the cost Publish adds to the processing loop,
// with three sinks of which one filters most alerts out.
func BenchmarkPublish(b *testing.B) {
	c1, c2, c3 := &countingSink{}, &countingSink{}, &countingSink{}
	d, err := NewDispatcher([]Target{
		{Sink: named{c1, "a"}},
		{Sink: named{c2, "b"}, Filter: Filter{MinSeverity: detect.High}},
		{Sink: named{c3, "c"}, Filter: Filter{Categories: []string{detect.CategoryExec}}},
	}, Options{QueueSize: 1 << 20, BatchWait: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	alerts := make([]detect.Alert, 1024)
	for i := range alerts {
		alerts[i] = testAlerts()[i%3]
		alerts[i].ID = fmt.Sprintf("%016x", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d.Publish(alerts[i%len(alerts)])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	cancel()
	<-done
	if got := c1.n.Load(); got+int64(d.Stats()[0].Coalesced)+int64(d.Stats()[0].Dropped) != int64(b.N) {
		b.Fatalf("sent %d + coalesced + dropped != %d published", got, b.N)
	}
}

type named struct {
	Sink
	name string
}

func (n named) Name() string { return n.name }

// BenchmarkDeliverAlertmanager measures end-to-end delivery over loopback
// HTTP in batches of 100, encoding included.
func BenchmarkDeliverAlertmanager(b *testing.B) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer srv.Close()
	s, err := New(SinkConfig{Type: TypeAlertmanager, URL: srv.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]detect.Alert, 100)
	for i := range batch {
		batch[i] = testAlerts()[i%3]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "alerts/s")
	if got.Load() != int64(b.N) {
		b.Fatalf("server saw %d requests, want %d", got.Load(), b.N)
	}
}
