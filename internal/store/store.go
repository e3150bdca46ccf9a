// Package store is kubedelta's embedded store: one Pebble database that
// holds the server's write-ahead log of accepted batches, the processing
// snapshot, alerts and a bounded retention of raw events. *Store implements
// server.Store; docs/storage.md describes the layout, the durability policy
// and sizing.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kubedelta/kubedelta/internal/server"
)

// Sentinel errors. ErrWALFull and ErrNotFound are the server's, so callers
// can test for them without importing this package.
var (
	ErrWALFull  = server.ErrWALFull
	ErrNotFound = server.ErrNotFound
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store closed")
	// ErrTooLarge is returned by Append for a record bigger than the whole
	// WAL bound: retrying cannot help.
	ErrTooLarge = errors.New("record larger than the write-ahead log bound")
	// ErrSchema is returned by Open for a store written by a newer kubedelta
	// (or not by kubedelta at all).
	ErrSchema = errors.New("unsupported store schema")
	// ErrInvalid is returned for arguments that break the store's contract:
	// releasing records no snapshot covers, an empty alert ID, a bad kind.
	ErrInvalid = errors.New("invalid store request")
)

// SyncPolicy says when an Append is durable.
type SyncPolicy int

const (
	// SyncAlways (the default): every Append is fsynced before it returns.
	// Concurrent Appends share fsyncs (Pebble's commit pipeline syncs once for
	// every write queued behind the one being synced).
	SyncAlways SyncPolicy = iota
	// SyncBatch is group commit with a window: Appends are still fsynced
	// before they return, but syncs are at least GroupCommitWindow apart, so
	// more concurrent writes share each one. Fewer IOPS, higher latency per
	// Append at low load.
	SyncBatch
)

// String returns "always" or "batch".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncBatch:
		return "batch"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// ParseSyncPolicy parses "always" or "batch" (a flag value).
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "always", "":
		return SyncAlways, nil
	case "batch":
		return SyncBatch, nil
	}
	return 0, fmt.Errorf("%w: sync policy %q: want always or batch", ErrInvalid, s)
}

// Defaults.
const (
	DefaultMaxWALBytes       = 1 << 30
	DefaultRetention         = 7 * 24 * time.Hour
	DefaultGroupCommitWindow = 500 * time.Microsecond
	// memTableSize bounds Pebble's write buffer; up to 4 of them can be
	// queued for flush. 32 MiB holds a few hundred 64 KiB webhook batches.
	memTableSize = 32 << 20
	cacheSize    = 32 << 20
)

// pebbleFormat pins Pebble's on-disk format so that a Pebble upgrade does not
// silently ratchet a store to a format an older kubedelta cannot open.
const pebbleFormat = pebble.FormatValueSeparation

// Options configure Open. The zero value is usable.
type Options struct {
	// MaxWALBytes bounds the unreleased WAL records (their payload bytes);
	// Append fails with ErrWALFull beyond it. Default 1 GiB.
	MaxWALBytes int64
	// Sync is the durability policy of Append. Default SyncAlways.
	Sync SyncPolicy
	// GroupCommitWindow is the minimum time between fsyncs under SyncBatch.
	// Default 500µs.
	GroupCommitWindow time.Duration
	// Retention is how long Run keeps raw events. Default 7 days; negative
	// keeps them forever.
	Retention time.Duration
	// Logger receives the store's and Pebble's messages. Default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxWALBytes <= 0 {
		o.MaxWALBytes = DefaultMaxWALBytes
	}
	if o.GroupCommitWindow <= 0 {
		o.GroupCommitWindow = DefaultGroupCommitWindow
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the embedded store. It is safe for concurrent use.
type Store struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger
	dir  string

	// life keeps db open while operations are in flight.
	life lifetime

	wal walState

	// alertMu serializes read-modify-write of alerts (upsert keeps acks).
	alertMu sync.Mutex
	now     func() time.Time
}

var _ server.Store = (*Store)(nil)

// schemaVersion is the layout this code writes. migrations[v] upgrades a
// store from version v to v+1 inside the batch that also records the new
// version; len(migrations) must equal schemaVersion.
const schemaVersion = 1

// migration upgrades the store by one schema version. The batch is indexed:
// reads through it see the database plus the migration's own writes.
type migration func(b *pebble.Batch) error

func defaultMigrations() []migration {
	return []migration{
		// 0 → 1: version 0 is a store with no version key, i.e. a new one.
		func(*pebble.Batch) error { return nil },
	}
}

// Open opens (creating if needed) the store in dir, typically
// <data-dir>/store. Only one process can hold a store open: a second Open of
// the same directory fails while the first is running.
func Open(dir string, opts Options) (*Store, error) {
	return open(dir, opts, defaultMigrations())
}

func open(dir string, opts Options, migrations []migration) (*Store, error) {
	opts = opts.withDefaults()
	if opts.Sync != SyncAlways && opts.Sync != SyncBatch {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, opts.Sync)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	po := &pebble.Options{
		FormatMajorVersion: pebbleFormat,
		MemTableSize:       memTableSize,
		Logger:             pebbleLogger{opts.Logger},
	}
	if opts.Sync == SyncBatch {
		w := opts.GroupCommitWindow
		po.WALMinSyncInterval = func() time.Duration { return w }
	}
	cache := pebble.NewCache(cacheSize)
	defer cache.Unref() // the DB holds its own reference
	po.Cache = cache
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("store: open %s (is another kubedelta using this data directory?): %w", dir, err)
	}
	s := &Store{db: db, opts: opts, log: opts.Logger, dir: dir, now: time.Now}
	s.life.idle.L = &s.life.mu
	s.wal.settled.L = &s.wal.mu
	if err := s.migrate(migrations); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.wal.load(db, opts.MaxWALBytes); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", dir, err)
	}
	if err := s.loadSnapshotSeq(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %s: %w", dir, err)
	}
	pb, pr := s.wal.pending()
	s.log.Info("store opened", "dir", dir, "schema", schemaVersion, "sync", opts.Sync.String(),
		"walPendingBytes", pb, "walPendingRecords", pr, "nextSeq", s.wal.next)
	return s, nil
}

// migrate checks the schema version and runs the migrations up to
// len(migrations) in one synced batch.
func (s *Store) migrate(migrations []migration) error {
	target := len(migrations)
	have, err := s.schemaVersion()
	if err != nil {
		return err
	}
	if have > target {
		return fmt.Errorf("%w: %s has schema version %d, this kubedelta supports up to %d: run a newer kubedelta, or point --data-dir at a new directory",
			ErrSchema, s.dir, have, target)
	}
	if have == target {
		return nil
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	for v := have; v < target; v++ {
		if err := migrations[v](b); err != nil {
			return fmt.Errorf("store: %s: migrate schema %d to %d: %w", s.dir, v, v+1, err)
		}
	}
	if err := b.Set(keyVersion, binary.BigEndian.AppendUint32(nil, uint32(target)), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: %s: record schema version %d: %w", s.dir, target, err)
	}
	if have > 0 {
		s.log.Info("store schema migrated", "dir", s.dir, "from", have, "to", target)
	}
	return nil
}

func (s *Store) schemaVersion() (int, error) {
	v, closer, err := s.db.Get(keyVersion)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: %s: read schema version: %w", s.dir, err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return 0, fmt.Errorf("%w: %s: schema version key holds %d bytes, want 4 (not a kubedelta store?)", ErrSchema, s.dir, len(v))
	}
	return int(binary.BigEndian.Uint32(v)), nil
}

// lifetime counts operations in flight so that Close waits for them. Unlike
// a sync.RWMutex it lets an operation start inside another (a Replay callback
// that saves a snapshot) without deadlocking against a pending Close: once
// Close has begun, new operations fail with ErrClosed instead of queueing.
type lifetime struct {
	mu     sync.Mutex
	idle   sync.Cond
	active int
	closed atomic.Bool
}

func (l *lifetime) acquire() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	l.active++
	return nil
}

func (l *lifetime) release() {
	l.mu.Lock()
	l.active--
	if l.active == 0 {
		l.idle.Broadcast()
	}
	l.mu.Unlock()
}

// close marks the lifetime closed and waits for operations in flight; it
// reports false if it was already closed.
func (l *lifetime) close() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return false
	}
	l.closed.Store(true)
	for l.active > 0 {
		l.idle.Wait()
	}
	return true
}

// Close waits for operations in flight and closes the database; every
// acknowledged write is already in Pebble's log. Operations started after
// Close begins fail with ErrClosed. Closing twice is a no-op.
func (s *Store) Close() error {
	if !s.life.close() {
		return nil
	}
	pb, pr := s.wal.pending()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.dir, err)
	}
	s.log.Info("store closed", "dir", s.dir, "walPendingBytes", pb, "walPendingRecords", pr)
	return nil
}

// Stats is a point-in-time view of the store for metrics.
type Stats struct {
	WALPendingBytes   int64
	WALPendingRecords int64
	// WALMaxBytes is the bound Append enforces.
	WALMaxBytes int64
	// LastSeq is the last assigned WAL sequence number.
	LastSeq uint64
	// ReleasedSeq is the highest released sequence number.
	ReleasedSeq uint64
	// SnapshotSeq is the Seq of the last saved snapshot.
	SnapshotSeq uint64
	// DiskBytes is the space the database uses on disk.
	DiskBytes uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := s.wal.stats()
	st.WALMaxBytes = s.opts.MaxWALBytes
	if s.life.acquire() == nil {
		st.DiskBytes = s.db.Metrics().DiskSpaceUsage()
		s.life.release()
	}
	return st
}

// Run prunes raw events older than the retention, once at start and then
// periodically, until ctx is cancelled. It returns nil on cancellation.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.Retention < 0 {
		<-ctx.Done()
		return nil
	}
	every := min(max(s.opts.Retention/24, time.Minute), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cutoff := s.now().Add(-s.opts.Retention)
		n, err := s.PruneEvents(cutoff)
		switch {
		case errors.Is(err, ErrClosed):
			return nil
		case err != nil:
			s.log.Error("pruning raw events failed; retrying later", "cutoff", cutoff, "err", err)
		case n > 0:
			s.log.Info("pruned raw events", "cutoff", cutoff, "deleted", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pebbleLogger sends Pebble's messages to slog. Pebble calls Fatalf when it
// cannot continue safely (e.g. a failed WAL write): it must not return.
type pebbleLogger struct{ l *slog.Logger }

// Infof is Pebble's routine chatter (WAL recovery, file lists): debug level.
func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble", "detail", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble", "detail", fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble fatal error", "detail", msg)
	panic("pebble: " + msg)
}
