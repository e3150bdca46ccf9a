package sink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// fast are options that keep the tests quick: 20 ms batches, millisecond
// backoff.
func fast() Options {
	return Options{BatchWait: 20 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond, MaxElapsed: 5 * time.Second, DrainTimeout: time.Second}
}

// start runs d until the test ends (or stop is called) and returns stop,
// which cancels Run and waits for it.
func start(t *testing.T, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func webhookTarget(t *testing.T, url string, f Filter) Target {
	t.Helper()
	s, err := New(SinkConfig{Type: TypeWebhook, URL: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Target{Sink: s, Filter: f}
}

func newDispatcher(t *testing.T, opts Options, targets ...Target) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeliverBatch(t *testing.T) {
	rec := newRecorder(t, nil)
	d := newDispatcher(t, fast(), webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	for _, a := range testAlerts() {
		d.Publish(a)
	}
	waitFor(t, 5*time.Second, "delivery", func() bool { return d.Stats()[0].Sent == 3 })
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want the 3 alerts in one batch", len(reqs))
	}
	got := alertsIn(t, reqs[0].body)
	for i, a := range testAlerts() {
		if got[i].ID != a.ID || got[i].Message != a.Message || got[i].Count != a.Count {
			t.Errorf("alert %d: got %+v", i, got[i])
		}
	}
	st := d.Stats()[0]
	if st.Queued != 3 || st.Requests != 1 || st.Retries != 0 || st.Failed != 0 || st.Pending != 0 || st.LastSuccess.IsZero() {
		t.Errorf("stats %+v", st)
	}
}

func TestBatchSizeAndWait(t *testing.T) {
	rec := newRecorder(t, nil)
	opts := fast()
	opts.BatchSize = 100
	opts.BatchWait = time.Hour // only full batches go before the drain
	d := newDispatcher(t, opts, webhookTarget(t, rec.URL, Filter{}))
	stop := start(t, d)
	for i := range 250 {
		d.Publish(alertWithID(fmt.Sprint(i), detect.Low, detect.CategoryAPI))
	}
	waitFor(t, 5*time.Second, "two full batches", func() bool { return d.Stats()[0].Sent == 200 })
	if p := d.Stats()[0].Pending; p != 50 {
		t.Fatalf("pending %d, want 50 waiting for BatchWait", p)
	}
	stop() // the drain sends the rest
	reqs := rec.requests()
	var sizes []int
	for _, r := range reqs {
		sizes = append(sizes, len(alertsIn(t, r.body)))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("batch sizes %v, want [100 100 50]", sizes)
	}
	if st := d.Stats()[0]; st.Sent != 250 || st.Failed != 0 {
		t.Errorf("after drain: %+v", st)
	}
}

func TestRetryOn500ThenSuccess(t *testing.T) {
	rec := newRecorder(t, func(n int, _ http.ResponseWriter) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	d := newDispatcher(t, fast(), webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	d.Publish(testAlerts()[0])
	waitFor(t, 5*time.Second, "delivery after retries", func() bool { return d.Stats()[0].Sent == 1 })
	st := d.Stats()[0]
	if st.Requests != 3 || st.Retries != 2 || st.Failed != 0 {
		t.Errorf("stats %+v, want 3 requests, 2 retries", st)
	}
	if st.LastError == "" || st.LastErrorTime.IsZero() {
		t.Errorf("last error not recorded: %+v", st)
	}
	reqs := rec.requests()
	for i := 1; i < len(reqs); i++ {
		if string(reqs[i].body) != string(reqs[0].body) {
			t.Errorf("retry %d sent a different body", i)
		}
	}
}

func TestRetryAfter429(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter) int {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	d := newDispatcher(t, fast(), webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	d.Publish(testAlerts()[0])
	waitFor(t, 5*time.Second, "delivery after 429", func() bool { return d.Stats()[0].Sent == 1 })
	reqs := rec.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	// The backoff window here is at most 10 ms: only Retry-After explains a
	// one-second gap.
	if gap := reqs[1].at.Sub(reqs[0].at); gap < time.Second {
		t.Errorf("retried after %v, want >= Retry-After (1s)", gap)
	}
}

func TestPermanent4xxGivesUp(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			rec := newRecorder(t, func(_ int, w http.ResponseWriter) int {
				w.Header().Set("Location", "/elsewhere")
				return status
			})
			d := newDispatcher(t, fast(), webhookTarget(t, rec.URL, Filter{}))
			start(t, d)
			d.Publish(testAlerts()[0])
			d.Publish(testAlerts()[1])
			waitFor(t, 5*time.Second, "give-up", func() bool { return d.Stats()[0].Failed == 2 })
			time.Sleep(50 * time.Millisecond) // would-be retries have time to show
			reqs := rec.requests()
			if len(reqs) != 1 || reqs[0].path != "/" {
				t.Errorf("%d requests, want 1 to / (no retry, no redirect on %d)", len(reqs), status)
			}
			if st := d.Stats()[0]; st.Sent != 0 || st.Retries != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	rec := newRecorder(t, func(int, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	opts := fast()
	opts.MaxElapsed = 100 * time.Millisecond
	d := newDispatcher(t, opts, webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	d.Publish(testAlerts()[0])
	waitFor(t, 5*time.Second, "give-up", func() bool { return d.Stats()[0].Failed == 1 })
	st := d.Stats()[0]
	if st.Requests < 2 || st.Sent != 0 {
		t.Errorf("stats %+v: want several attempts, nothing sent", st)
	}
	// The dispatcher moves on: the next alert is tried.
	before := st.Requests
	d.Publish(testAlerts()[1])
	waitFor(t, 5*time.Second, "next batch tried", func() bool { return d.Stats()[0].Requests > before })
}

// blockingSink blocks in Send until released.
type blockingSink struct {
	name    string
	release chan struct{}
	calls   atomic.Int64
	sent    atomic.Int64
}

func (b *blockingSink) Name() string { return b.name }
func (b *blockingSink) Send(ctx context.Context, alerts []detect.Alert) error {
	b.calls.Add(1)
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.sent.Add(int64(len(alerts)))
	return nil
}

func TestQueueFullDropsNewAndNeverBlocks(t *testing.T) {
	bs := &blockingSink{name: "slow", release: make(chan struct{})}
	rec := newRecorder(t, nil)
	opts := fast()
	opts.QueueSize = 5
	opts.BatchSize = 1
	opts.BatchWait = time.Millisecond
	d := newDispatcher(t, opts, Target{Sink: bs}, webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	d.Publish(alertWithID("first", detect.High, detect.CategoryExec))
	waitFor(t, 5*time.Second, "first send in flight", func() bool { return bs.calls.Load() == 1 })
	// Each Publish returns at once, and the healthy sink keeps delivering
	// while the stuck one's queue fills up.
	var slowest time.Duration
	for i := range 8 {
		began := time.Now()
		d.Publish(alertWithID(fmt.Sprint(i), detect.High, detect.CategoryExec))
		slowest = max(slowest, time.Since(began))
		waitFor(t, 5*time.Second, "healthy sink delivery", func() bool { return d.Stats()[1].Sent == uint64(i+2) })
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("Publish blocked for %v behind a stuck sink", slowest)
	}
	st := d.Stats()[0]
	if st.Pending != 5 || st.Dropped != 3 || st.Queued != 6 {
		t.Fatalf("stuck sink stats %+v: want 5 pending, 3 dropped, 6 queued", st)
	}
	if st := d.Stats()[1]; st.Dropped != 0 || st.Sent != 9 {
		t.Errorf("healthy sink stats %+v", st)
	}
	close(bs.release)
	waitFor(t, 5*time.Second, "stuck sink catches up", func() bool { return d.Stats()[0].Sent == 6 })
	// Dropped were the newest: the queue kept "first" and 0..4.
	if bs.sent.Load() != 6 {
		t.Errorf("sink saw %d alerts, want 6", bs.sent.Load())
	}
}

func TestFilters(t *testing.T) {
	all := newRecorder(t, nil)
	execHigh := newRecorder(t, nil)
	d := newDispatcher(t, fast(),
		webhookTarget(t, all.URL, Filter{}),
		Target{Sink: mustNew(t, SinkConfig{Type: TypeWebhook, Name: "exec-high", URL: execHigh.URL}), Filter: Filter{MinSeverity: detect.High, Categories: []string{detect.CategoryExec, detect.CategorySecret}}},
	)
	start(t, d)
	d.Publish(alertWithID("a", detect.Critical, detect.CategoryExec)) // both
	d.Publish(alertWithID("b", detect.Medium, detect.CategoryExec))   // severity too low
	d.Publish(alertWithID("c", detect.Critical, detect.CategoryRBAC)) // wrong category
	d.Publish(alertWithID("d", detect.High, detect.CategorySecret))   // both
	d.Publish(alertWithID("e", detect.Info, detect.CategoryNetwork))  // all only
	waitFor(t, 5*time.Second, "delivery", func() bool { return d.Stats()[0].Sent == 5 && d.Stats()[1].Sent == 2 })
	var ids []string
	for _, r := range execHigh.requests() {
		for _, a := range alertsIn(t, r.body) {
			ids = append(ids, a.ID)
		}
	}
	if fmt.Sprint(ids) != "[a d]" {
		t.Errorf("filtered sink got %v, want [a d]", ids)
	}
	if st := d.Stats()[1]; st.Filtered != 3 || st.Sink != "exec-high" {
		t.Errorf("filtered sink stats %+v", st)
	}
}

func mustNew(t *testing.T, c SinkConfig) Sink {
	t.Helper()
	s, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCoalesceRepublished(t *testing.T) {
	rec := newRecorder(t, nil)
	opts := fast()
	opts.BatchWait = 200 * time.Millisecond
	d := newDispatcher(t, opts, webhookTarget(t, rec.URL, Filter{}))
	start(t, d)
	a := testAlerts()[0]
	d.Publish(a)
	a.Count, a.LastSeen = 7, a.LastSeen.Add(time.Hour)
	d.Publish(a)
	d.Publish(testAlerts()[1])
	waitFor(t, 5*time.Second, "delivery", func() bool { return d.Stats()[0].Sent == 2 })
	got := alertsIn(t, rec.requests()[0].body)
	if len(got) != 2 || got[0].Count != 7 || got[1].ID != testAlerts()[1].ID {
		t.Errorf("got %d alerts, first count %d: want the republished version in its original slot", len(got), got[0].Count)
	}
	if st := d.Stats()[0]; st.Coalesced != 1 || st.Queued != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestPublishCopiesSlices(t *testing.T) {
	bs := &blockingSink{name: "b", release: make(chan struct{})}
	d := newDispatcher(t, fast(), Target{Sink: bs})
	a := testAlerts()[0]
	d.Publish(a)
	a.Evidence[0].Detail = "changed by the caller"
	if got := d.workers[0].queue[0].Evidence[0].Detail; got == "changed by the caller" {
		t.Error("the queued alert shares its evidence with the caller")
	}
}

func TestShutdown(t *testing.T) {
	rec := newRecorder(t, nil)
	opts := fast()
	opts.BatchWait = time.Hour
	d := newDispatcher(t, opts, webhookTarget(t, rec.URL, Filter{}))
	stop := start(t, d)
	d.Publish(testAlerts()[0])
	time.Sleep(20 * time.Millisecond)
	stop()
	if st := d.Stats()[0]; st.Sent != 1 {
		t.Errorf("queued alert not delivered at shutdown: %+v", st)
	}
	d.Publish(testAlerts()[1])
	if st := d.Stats()[0]; st.Dropped != 1 {
		t.Errorf("publish after Run returned: %+v, want dropped", st)
	}
	if err := d.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run = %v", err)
	}
}

func TestShutdownBoundedByDrainTimeout(t *testing.T) {
	bs := &blockingSink{name: "stuck", release: make(chan struct{})}
	opts := fast()
	opts.DrainTimeout = 100 * time.Millisecond
	opts.BatchSize = 1
	d := newDispatcher(t, opts, Target{Sink: bs})
	stop := start(t, d)
	for i := range 3 {
		d.Publish(alertWithID(fmt.Sprint(i), detect.High, detect.CategoryExec))
	}
	waitFor(t, 5*time.Second, "send in flight", func() bool { return bs.calls.Load() == 1 })
	began := time.Now()
	stop()
	if el := time.Since(began); el > 2*time.Second {
		t.Errorf("shutdown took %v with DrainTimeout 100ms", el)
	}
	if st := d.Stats()[0]; st.Failed != 3 || st.Pending != 0 {
		t.Errorf("stats %+v: want all 3 failed at shutdown", st)
	}
}

func TestDuplicateNames(t *testing.T) {
	a := mustNew(t, SinkConfig{Type: TypeWebhook, URL: "http://127.0.0.1:1/a"})
	b := mustNew(t, SinkConfig{Type: TypeWebhook, URL: "http://127.0.0.1:1/b"})
	if _, err := NewDispatcher([]Target{{Sink: a}, {Sink: b}}, Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("duplicate names: err = %v", err)
	}
	if _, err := NewDispatcher([]Target{{}}, Options{}); !errors.Is(err, ErrConfig) {
		t.Errorf("nil sink: err = %v", err)
	}
}

// TestBackoff checks the full-jitter window (AWS Architecture Blog,
// "Exponential Backoff And Jitter": sleep = random(0, min(cap, base·2^n))).
func TestBackoff(t *testing.T) {
	w := &worker{opts: Options{}.withDefaults()}
	var window int64
	w.rand = func(n int64) int64 { window = n; return n - 1 }
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for attempt, wd := range want {
		d := w.backoff(attempt, 0)
		if time.Duration(window) != wd || d != wd-1 {
			t.Errorf("attempt %d: window %v delay %v, want window %v", attempt, time.Duration(window), d, wd)
		}
	}
	w.backoff(500, 0)
	if time.Duration(window) != 30*time.Second {
		t.Errorf("attempt 500: window %v, want the cap", time.Duration(window))
	}
	w.rand = func(int64) int64 { return 0 }
	if d := w.backoff(0, 7*time.Second); d != 7*time.Second {
		t.Errorf("Retry-After 7s: delay %v", d)
	}
}

func TestTargets(t *testing.T) {
	ts, err := Targets([]SinkConfig{{Type: TypeStdout}, {Type: TypeSlack, URL: "https://h/x", MinSeverity: detect.High}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[1].Filter.MinSeverity != detect.High || ts[1].Sink.Name() != "slack" {
		t.Errorf("targets %+v", ts)
	}
	if _, err := Targets([]SinkConfig{{Type: TypeStdout}, {Type: "x"}}, nil); err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "sinks[1]") {
		t.Errorf("bad second config: %v", err)
	}
}
