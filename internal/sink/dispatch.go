package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// Target is a sink with the filter that decides which alerts it gets.
type Target struct {
	Sink   Sink
	Filter Filter
}

// Options tune a Dispatcher. Zero values take the defaults.
type Options struct {
	// QueueSize bounds each sink's queue of undelivered alerts
	// (default 10,000). Past it, new alerts are dropped and counted.
	QueueSize int
	// BatchSize is the most alerts one Send gets (default 100).
	BatchSize int
	// BatchWait is how long the first queued alert waits for others to
	// fill a batch (default 1 s).
	BatchWait time.Duration
	// BackoffBase and BackoffMax shape the retry delay: a uniformly random
	// duration in [0, min(BackoffMax, BackoffBase·2^attempt)) ("full
	// jitter"), or the receiver's Retry-After if longer. Defaults 500 ms, 30 s.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxElapsed is how long one batch is retried before it is given up
	// and counted as failed (default 5 min).
	MaxElapsed time.Duration
	// DrainTimeout bounds the last delivery attempts after Run's context
	// is cancelled (default 5 s); what is still queued then is counted
	// as failed.
	DrainTimeout time.Duration
	// Logger receives delivery failures and give-ups; nil discards.
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultQueueSize    = 10000
	DefaultBatchSize    = 100
	DefaultBatchWait    = time.Second
	DefaultBackoffBase  = 500 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	DefaultMaxElapsed   = 5 * time.Minute
	DefaultDrainTimeout = 5 * time.Second
)

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	def(&o.BatchWait, DefaultBatchWait)
	def(&o.BackoffBase, DefaultBackoffBase)
	def(&o.BackoffMax, DefaultBackoffMax)
	def(&o.MaxElapsed, DefaultMaxElapsed)
	def(&o.DrainTimeout, DefaultDrainTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrAlreadyRun is returned by a second call of Dispatcher.Run.
var ErrAlreadyRun = errors.New("dispatcher already run")

// Dispatcher fans alerts out to sinks. Each sink has its own bounded queue
// and one goroutine that batches, sends and retries, so a slow or failing
// sink delays nobody else, and Publish never blocks.
//
// When a sink's queue is full, Publish drops the new alert for that sink
// (and counts it) rather than the oldest queued one: the queue then holds
// the start of an incident, which is what a responder needs first and
// which later alerts usually follow from; every alert stays in the alert
// store and query API either way; and dropping the oldest would only churn
// memory while the sink is down. An alert republished while its previous
// version is still queued (same ID, e.g. a later LastSeen) replaces that
// version in place instead of taking a second slot.
type Dispatcher struct {
	opts    Options
	workers []*worker
	mu      sync.Mutex
	ran     bool
}

// NewDispatcher returns a dispatcher for the targets. Sink names must be
// unique: they label stats and metrics.
func NewDispatcher(targets []Target, opts Options) (*Dispatcher, error) {
	opts = opts.withDefaults()
	d := &Dispatcher{opts: opts}
	seen := map[string]bool{}
	for i, t := range targets {
		if t.Sink == nil {
			return nil, fmt.Errorf("%w: target %d has no sink", ErrConfig, i)
		}
		name := t.Sink.Name()
		if seen[name] {
			return nil, fmt.Errorf("%w: two sinks named %q: give each a distinct name", ErrConfig, name)
		}
		seen[name] = true
		d.workers = append(d.workers, &worker{
			sink:   t.Sink,
			filter: t.Filter,
			opts:   opts,
			log:    opts.Logger.With("sink", name),
			wake:   make(chan struct{}, 1),
			pos:    map[string]uint64{},
			rand:   rand.Int64N,
		})
	}
	return d, nil
}

// Publish queues a for every sink whose filter matches. It never blocks.
// Alerts published before Run are delivered once Run starts; alerts
// published after Run has returned are counted as dropped.
func (d *Dispatcher) Publish(a detect.Alert) {
	// The caller may keep and extend its alert (the Aggregator appends
	// evidence): share no backing arrays with it.
	a.Evidence = slices.Clone(a.Evidence)
	a.MITRE = slices.Clone(a.MITRE)
	for _, w := range d.workers {
		w.publish(&a)
	}
}

// Run delivers until ctx is cancelled, then makes a last bounded attempt
// (Options.DrainTimeout) to deliver what is queued, and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.ran {
		d.mu.Unlock()
		return ErrAlreadyRun
	}
	d.ran = true
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return nil
}

// Stats returns one entry per sink, in target order.
func (d *Dispatcher) Stats() []Stats {
	out := make([]Stats, len(d.workers))
	for i, w := range d.workers {
		out[i] = w.stats()
	}
	return out
}

// Stats are one sink's delivery counters. Alert counts: every matching
// Publish is Queued+Coalesced or Dropped; every queued alert ends up Sent
// or Failed, or is still Pending.
type Stats struct {
	Sink string `json:"sink"`
	// Pending is the queue's current length, Capacity its bound.
	Pending  int `json:"pending"`
	Capacity int `json:"capacity"`
	// Filtered counts alerts the sink's filter rejected.
	Filtered uint64 `json:"filtered"`
	// Queued counts alerts that took a queue slot; Coalesced those that
	// replaced a queued version of themselves.
	Queued    uint64 `json:"queued"`
	Coalesced uint64 `json:"coalesced"`
	// Dropped counts alerts refused because the queue was full (or the
	// dispatcher had stopped).
	Dropped uint64 `json:"dropped"`
	// Sent counts alerts delivered; Failed those given up on (permanent
	// error, retries exhausted, or still undelivered at shutdown).
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"`
	// Requests counts Send calls, Retries the ones that repeated a batch.
	Requests uint64 `json:"requests"`
	Retries  uint64 `json:"retries"`
	// LastError is the last send error's text (never header values).
	LastError     string    `json:"lastError,omitempty"`
	LastErrorTime time.Time `json:"lastErrorTime,omitzero"`
	LastSuccess   time.Time `json:"lastSuccess,omitzero"`
}

// worker owns one sink's queue.
type worker struct {
	sink   Sink
	filter Filter
	opts   Options
	log    *slog.Logger
	wake   chan struct{}
	rand   func(int64) int64

	mu sync.Mutex
	// queue holds alerts base, base+1, … (absolute positions); pos maps a
	// queued alert's ID to its position for coalescing.
	queue   []detect.Alert
	base    uint64
	pos     map[string]uint64
	oldest  time.Time // when the queue last became non-empty
	stopped bool
	st      Stats
}

func (w *worker) publish(a *detect.Alert) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case !w.filter.Match(a):
		w.st.Filtered++
		return
	case w.stopped:
		w.st.Dropped++
		return
	}
	if a.ID != "" {
		if p, ok := w.pos[a.ID]; ok {
			w.queue[p-w.base] = *a
			w.st.Coalesced++
			return
		}
	}
	if len(w.queue) >= w.opts.QueueSize {
		w.st.Dropped++
		return
	}
	if len(w.queue) == 0 {
		w.oldest = time.Now()
	}
	if a.ID != "" {
		w.pos[a.ID] = w.base + uint64(len(w.queue))
	}
	w.queue = append(w.queue, *a)
	w.st.Queued++
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take removes up to n alerts from the head of the queue.
func (w *worker) take(n int) []detect.Alert {
	w.mu.Lock()
	defer w.mu.Unlock()
	n = min(n, len(w.queue))
	batch := slices.Clone(w.queue[:n])
	for i := range batch {
		if id := batch[i].ID; id != "" {
			delete(w.pos, id)
		}
	}
	clear(w.queue[:n]) // release the strings for the collector
	w.queue = w.queue[n:]
	w.base += uint64(n)
	if len(w.queue) == 0 {
		w.queue = w.queue[:0:0]
	} else {
		w.oldest = time.Now()
	}
	return batch
}

// ready reports the queue length and when a batch is due.
func (w *worker) ready() (n int, due time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue), w.oldest.Add(w.opts.BatchWait)
}

func (w *worker) run(ctx context.Context) {
	defer w.drain()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		n, due := w.ready()
		switch {
		case n == 0:
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			continue
		case n < w.opts.BatchSize:
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return
				case <-w.wake:
					timer.Stop()
					continue
				case <-timer.C:
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		w.deliver(ctx, w.take(w.opts.BatchSize))
	}
}

// deliver sends one batch, retrying until it succeeds, fails permanently,
// runs out of MaxElapsed, or ctx is cancelled. A request in flight when ctx
// is cancelled gets DrainTimeout to finish.
func (w *worker) deliver(ctx context.Context, batch []detect.Alert) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := w.attempt(ctx, batch, attempt > 0)
		if err == nil {
			return
		}
		var reason string
		delay := w.backoff(attempt, retryAfter(err))
		switch {
		case errors.Is(err, ErrPermanent):
			reason = "permanent error"
		case time.Since(start)+delay > w.opts.MaxElapsed:
			reason = "retries exhausted"
		case ctx.Err() != nil:
			reason = "shutting down"
		}
		if reason != "" {
			w.giveUp(batch, reason, err, attempt+1)
			return
		}
		w.log.Warn("alert delivery failed, retrying", "alerts", len(batch), "attempt", attempt+1, "retryIn", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			w.giveUp(batch, "shutting down", err, attempt+1)
			return
		case <-t.C:
		}
	}
}

// attempt sends once on behalf of deliver. It detaches from ctx so that
// cancelling Run does not abort a request mid-flight: the request gets
// DrainTimeout more instead.
func (w *worker) attempt(ctx context.Context, batch []detect.Alert, retry bool) error {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.opts.DrainTimeout, cancel) })
	defer stop()
	return w.send(sctx, batch, retry)
}

// send calls the sink once and updates the counters.
func (w *worker) send(ctx context.Context, batch []detect.Alert, retry bool) error {
	err := w.sink.Send(ctx, batch)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.st.Requests++
	if retry {
		w.st.Retries++
	}
	if err != nil {
		w.st.LastError = err.Error()
		w.st.LastErrorTime = time.Now()
		return err
	}
	w.st.Sent += uint64(len(batch))
	w.st.LastSuccess = time.Now()
	return nil
}

func (w *worker) giveUp(batch []detect.Alert, reason string, err error, attempts int) {
	w.mu.Lock()
	w.st.Failed += uint64(len(batch))
	w.mu.Unlock()
	w.log.Error("alert delivery given up", "reason", reason, "alerts", len(batch), "attempts", attempts, "err", err)
}

// backoff is the delay before retry attempt+1: full jitter over an
// exponentially growing window, or the receiver's Retry-After if longer.
func (w *worker) backoff(attempt int, retryAfter time.Duration) time.Duration {
	window := w.opts.BackoffBase
	for i := 0; i < attempt && window < w.opts.BackoffMax; i++ {
		window *= 2
	}
	window = min(window, w.opts.BackoffMax)
	d := time.Duration(w.rand(int64(window)))
	return max(d, retryAfter)
}

// drain runs after ctx is cancelled: refuse new alerts, then give what is
// queued one attempt each within DrainTimeout; the rest counts as failed.
func (w *worker) drain() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	deadline := time.Now().Add(w.opts.DrainTimeout)
	for {
		batch := w.take(w.opts.BatchSize)
		if len(batch) == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.giveUp(batch, "undelivered at shutdown", context.DeadlineExceeded, 0)
			continue
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := w.send(ctx, batch, false)
		cancel()
		if err != nil {
			w.giveUp(batch, "undelivered at shutdown", err, 1)
		}
	}
}

func (w *worker) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.st
	s.Sink = w.sink.Name()
	s.Pending = len(w.queue)
	s.Capacity = w.opts.QueueSize
	return s
}
