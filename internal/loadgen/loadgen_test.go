package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

func TestCheckLoopback(t *testing.T) {
	for target, ok := range map[string]bool{
		"http://127.0.0.1:8080":   true,
		"https://localhost:8443":  true,
		"http://[::1]:80":         true,
		"http://127.9.9.9:1":      true,
		"http://10.0.0.1:8080":    false,
		"http://example.com:8080": false,
		"http://0.0.0.0:8080":     false,
		"ftp://127.0.0.1":         false,
		"127.0.0.1:8080":          false,
		"":                        false,
	} {
		err := checkLoopback(target)
		if (err == nil) != ok {
			t.Errorf("%q: error %v, want ok=%v", target, err, ok)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v is not ErrConfig", target, err)
		}
	}
}

// TestGeneratedBatchesDecode checks that generated batches are valid
// EventLists whose events are all new requests, across passes over the
// templates, with the pairs of stages of one request kept paired.
func TestGeneratedBatchesDecode(t *testing.T) {
	tpl := Synthesize(50, 7)
	// A long-running request with two stages sharing an auditID.
	watch := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"w-1","stage":"%s","requestURI":"/api/v1/pods?watch=true","verb":"watch","user":{"username":"u"},"objectRef":{"resource":"pods","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-11-16T23:59:59.000000Z","stageTimestamp":"2026-11-17T00:00:01.000000Z"}`
	tpl = append(tpl, []byte(sprintf(watch, "ResponseStarted")), []byte(sprintf(watch, "ResponseComplete")))
	g, err := newGenerator(tpl)
	if err != nil {
		t.Fatal(err)
	}
	dec := audit.NewDecoder(audit.Options{})
	var buf bytes.Buffer
	days := map[string]int{}
	const total = 52 * 3
	for from := int64(0); from < total; from += 13 {
		buf.Reset()
		g.batch(&buf, from, 13)
		err := dec.DecodeEventList(buf.Bytes(), "gen", func(r *event.APIRequest) error {
			days[r.Time.Format("2006-01-02")]++
			return nil
		})
		if err != nil {
			t.Fatalf("batch at %d: %v", from, err)
		}
	}
	st := dec.Stats()
	if st.Rejected != 0 || st.Records != total {
		t.Fatalf("stats %+v: want %d records, none rejected", st, total)
	}
	// One of each watch pair is a duplicate of the other (same request),
	// nothing else.
	if st.Duplicates != 3 || st.Delivered != total-3 {
		t.Errorf("delivered %d, duplicates %d: want %d and 3", st.Delivered, st.Duplicates, total-3)
	}
	if len(days) < 3 {
		t.Errorf("timestamps do not advance by pass: %v", days)
	}
}

func sprintf(format, s string) string {
	return string(bytes.Replace([]byte(format), []byte("%s"), []byte(s), 1))
}

// TestRunBounds runs against a minimal loopback receiver and checks the
// event bound, the counters and that latency is measured.
func TestRunBounds(t *testing.T) {
	var events atomic.Int64
	var calls atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		events.Add(int64(bytes.Count(b, []byte(`"kind":"Event"`))))
		if calls.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	r, err := Run(context.Background(), Config{Target: "http://" + ln.Addr().String(), Events: 1000, BatchSize: 100, Concurrency: 3, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Batches != 10 || events.Load() != 1000 {
		t.Errorf("%d batches, %d events received: want 10 and 1000", r.Batches, events.Load())
	}
	if r.Status[429] != 2 || r.Failed != 2 || r.Events != 800 {
		t.Errorf("result %+v: want 2 batches answered 429 and 800 events acknowledged", r)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
		t.Errorf("latencies p50 %v p99 %v max %v", r.P50, r.P99, r.Max)
	}
	// The time bound.
	start := time.Now()
	r, err = Run(context.Background(), Config{Target: "http://" + ln.Addr().String(), Events: MaxEvents, Duration: 300 * time.Millisecond, Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second || r.Events > 1000 {
		t.Errorf("time bound: ran %v, sent %d events at 1000/s for 0.3s", el, r.Events)
	}
	if _, err := Run(context.Background(), Config{Target: "http://192.0.2.1:80"}); !errors.Is(err, ErrConfig) {
		t.Errorf("non-loopback target: %v", err)
	}
}

func TestPeakRSS(t *testing.T) {
	n, err := PeakRSS(1)
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if n <= 0 {
		t.Errorf("VmHWM %d", n)
	}
}

func BenchmarkGenerate(b *testing.B) {
	g, err := newGenerator(Synthesize(2000, 1))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ResetTimer()
	var bytesOut int64
	for i := range b.N {
		buf.Reset()
		g.batch(&buf, int64(i)*400, 400)
		bytesOut += int64(buf.Len())
	}
	b.ReportMetric(float64(b.N)*400/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytesOut)/float64(b.N*400), "bytes/event")
}
