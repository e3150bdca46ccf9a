package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Defaults of Options.
const (
	// DefaultMaxBodyBytes is the largest ingest body accepted: the API
	// server's 10 MiB request limit plus slack for encoding overhead.
	DefaultMaxBodyBytes = 10<<20 + 1<<20
	// DefaultSnapshotInterval, DefaultSnapshotRecords and
	// DefaultSnapshotBytes: the processor saves a snapshot (and releases
	// the WAL) after this long, this many records or this many bytes of
	// records, whichever comes first. The byte bound keeps the processed
	// part of the WAL well below its bound (1 GiB by default) at high
	// rates.
	DefaultSnapshotInterval = 10 * time.Second
	DefaultSnapshotRecords  = 2000
	DefaultSnapshotBytes    = 128 << 20
	// DefaultRetention is how long retained raw events are kept.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultMaxConcurrentIngest bounds the ingest requests read and
	// validated at once, and with DefaultMaxBodyBytes the memory they hold.
	DefaultMaxConcurrentIngest = 32
	// DefaultShutdownTimeout bounds the graceful shutdown of the HTTP server.
	DefaultShutdownTimeout = 10 * time.Second
)

// Retain selects which raw ingest bodies the event store keeps as evidence.
type Retain string

// Retention modes.
const (
	// RetainEvidence keeps the bodies of the batches that raised or
	// updated an alert (the default): the evidence behind every alert, at a
	// cost that grows with alerts, not with traffic.
	RetainEvidence Retain = "evidence"
	// RetainAll keeps every body for the retention period.
	RetainAll Retain = "all"
	// RetainNone keeps no raw bodies.
	RetainNone Retain = "none"
)

// Inventory returns the cluster inventory as of now: the index that
// resolves addresses and pods, and the RBAC authorizer; either may be nil.
// It is called before each WAL record is processed; a live implementation
// (client-go informers) mutates the Index in place as pods come and go and
// returns a new Authorizer when RBAC objects change.
type Inventory func() (*cluster.Index, *rbac.Authorizer)

// StaticInventory is an Inventory that never changes (from --cluster files).
func StaticInventory(idx *cluster.Index, authz *rbac.Authorizer) Inventory {
	return func() (*cluster.Index, *rbac.Authorizer) { return idx, authz }
}

// Publisher receives every new alert as it is raised (the sink
// dispatcher). Publish must not block.
type Publisher interface {
	Publish(detect.Alert)
}

// Options configure a Server.
type Options struct {
	// Store persists the WAL, snapshots, alerts and raw events. Required.
	Store Store
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
	// Inventory is the cluster inventory; nil means none.
	Inventory Inventory
	// WaitInventory, when set, is called by the processor before it
	// processes anything and returns when the inventory is usable (a live
	// inventory's first sync) or it gives up; ingest is served meanwhile
	// (the WAL holds what arrives) and /readyz answers 503.
	WaitInventory func(ctx context.Context)
	// Detection tunes learning and noise; nil means detect.DefaultConfig().
	Detection *detect.Config
	// Baseline is the baseline to start from when no snapshot exists yet
	// (a snapshot's baseline always wins).
	Baseline *baseline.Profiles
	// Detectors run on every event; nil means DefaultDetectors.
	Detectors []detect.Detector
	// Publisher receives new alerts; nil means none.
	Publisher Publisher
	// SinkStats reports the sinks' counters for /metrics and stats.
	SinkStats func() []SinkStats
	// Auth authenticates requests; nil serves without authentication
	// (only for --insecure on a loopback address).
	Auth *Auth
	// MaxBodyBytes is the largest ingest body (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxConcurrentIngest bounds concurrent ingest requests
	// (DefaultMaxConcurrentIngest).
	MaxConcurrentIngest int
	// SnapshotInterval, SnapshotRecords and SnapshotBytes: see the
	// defaults.
	SnapshotInterval time.Duration
	SnapshotRecords  int
	SnapshotBytes    int64
	// DedupEntries is the size of one generation of the audit dedup set
	// (DefaultDedupEntries).
	DedupEntries int
	// Retain and Retention: which raw bodies the event store keeps, and
	// for how long (DefaultRetention); alerts not seen for Retention are
	// also forgotten by the live aggregator (they stay in the store).
	Retain    Retain
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ErrOptions reports invalid Options.
var ErrOptions = errors.New("invalid server options")

// Server is kubedelta's always-on service. Create it with New and run it
// with Serve.
type Server struct {
	opts       Options
	log        *slog.Logger
	store      Store
	metrics    *metrics
	boot       uint64
	proc       *processor
	ingest     chan struct{} // semaphore of concurrent ingest requests
	ready      atomic.Bool
	rejects    *rejectLog
	validators validators
	handler    http.Handler
}

// New checks opts and builds a Server. It does not touch the store: Serve
// restores the snapshot and replays the WAL.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("%w: a store is required", ErrOptions)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Detection == nil {
		opts.Detection = detect.DefaultConfig()
	}
	if opts.Detectors == nil {
		opts.Detectors = DefaultDetectors(opts.Logger)
	}
	if opts.Inventory == nil {
		opts.Inventory = StaticInventory(nil, nil)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxConcurrentIngest <= 0 {
		opts.MaxConcurrentIngest = DefaultMaxConcurrentIngest
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = DefaultSnapshotInterval
	}
	if opts.SnapshotRecords <= 0 {
		opts.SnapshotRecords = DefaultSnapshotRecords
	}
	if opts.SnapshotBytes <= 0 {
		opts.SnapshotBytes = DefaultSnapshotBytes
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	switch opts.Retain {
	case "":
		opts.Retain = RetainEvidence
	case RetainEvidence, RetainAll, RetainNone:
	default:
		return nil, fmt.Errorf("%w: retain %q: want evidence, all or none", ErrOptions, opts.Retain)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("boot id: %w", err)
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		store:   opts.Store,
		metrics: newMetrics(),
		boot:    binary.BigEndian.Uint64(b[:]) | 1, // never 0
		ingest:  make(chan struct{}, opts.MaxConcurrentIngest),
		rejects: newRejectLog(opts.Logger, opts.Now),
	}
	s.proc = newProcessor(s)
	s.handler = s.routes()
	return s, nil
}

// DefaultDetectors returns the detectors `kubedelta analyze` runs
// (analyze.DefaultDetectors: API and RBAC behaviour, object specs and
// inventory novelty, network, processes), with the same options, plus log
// a logger for the warnings of the stateful ones (a state bound reached).
func DefaultDetectors(log *slog.Logger) []detect.Detector {
	var out []detect.Detector
	out = append(out, detect.APIDetectors(detect.APIOptions{Logger: log})...)
	out = append(out, detect.SpecDetectors(detect.SpecOptions{Logger: log})...)
	out = append(out, detect.NetworkDetectors(detect.NetOptions{})...)
	out = append(out, detect.ProcessDetectors(detect.ProcOptions{ArgShape: analyze.ArgShape})...)
	return out
}

// Handler returns the HTTP handler (every endpoint, authentication
// included).
func (s *Server) Handler() http.Handler { return s.handler }

// Ready reports whether the snapshot is restored and the WAL replayed.
func (s *Server) Ready() bool { return s.ready.Load() }

// Serve restores the processing state, starts the processor and serves
// HTTP on ln (TLS when tlsConfig is not nil) until ctx is cancelled; then
// it stops accepting requests, lets the processor finish the WAL records
// already accepted (within the shutdown timeout), saves a final snapshot
// and returns. It does not close the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	if err := s.proc.restore(); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	procCtx, stopProc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProc()
	procDone := make(chan error, 1)
	go func() { procDone <- s.proc.run(procCtx) }()
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(ln) }()
	s.log.Info("serving", "address", ln.Addr().String(), "tls", tlsConfig != nil, "authentication", s.opts.Auth != nil)

	var err error
	select {
	case <-ctx.Done():
	case err = <-httpDone:
		err = fmt.Errorf("http server: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultShutdownTimeout)
	defer cancel()
	if serr := hs.Shutdown(shutCtx); serr != nil && err == nil {
		err = fmt.Errorf("http shutdown: %w", serr)
	}
	// The processor drains what was accepted, then snapshots; past the
	// timeout it snapshots what it has (the rest stays in the WAL).
	s.proc.drainThenStop(shutCtx)
	var perr error
	select {
	case perr = <-procDone:
	case <-shutCtx.Done():
		stopProc()
		perr = <-procDone
	}
	if perr != nil && err == nil {
		err = fmt.Errorf("processor: %w", perr)
	}
	return err
}

// wake tells the processor that a record was appended.
func (s *Server) wake() {
	select {
	case s.proc.wake <- struct{}{}:
	default:
	}
}
