package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// processor is the single goroutine that turns WAL records into analysis:
// it replays the WAL after the last processed record, decodes each record
// with the decoders that validated it, drops audit requests already
// processed, feeds the pipeline, records new alerts, and periodically saves
// a snapshot of everything it derived (baseline, aggregator, counters,
// dedup set) at a WAL position, then releases the WAL up to it.
//
// Restoring the snapshot and replaying the WAL after its position gives
// the same state as never stopping, because the state and its position are
// saved together and the processing of a record depends only on the state
// and the record. What is not in the snapshot is the detectors' own short
// sliding windows (bursts, sequences: minutes) and the flow decoder's
// two-second observation dedup; a crash starts those afresh.
type processor struct {
	s    *Server
	wake chan struct{}
	stop chan context.Context

	pipe     *analyze.Pipeline
	cfg      *detect.Config
	index    *cluster.Index
	authz    *rbac.Authorizer
	dedup    *dedupSet
	dec      decoders
	seq      uint64 // last record processed
	snapSeq  uint64 // position of the last snapshot
	lastSnap time.Time
	records  int   // records since the last snapshot
	bytes    int64 // their size

	// stored is what the alert store holds of each alert, to write only
	// changed alerts at snapshot time.
	stored map[string]alertVersion
	// known are the alerts in the store at start: new alerts raised again
	// while replaying records of a previous process are not re-sent.
	known map[string]bool
	// cur is the record being processed.
	cur struct {
		rec       *record
		seq       uint64
		raised    bool
		replaying bool
	}

	lastEvent atomic.Int64 // Unix nanoseconds of the last processed event
	// maxEvent is the latest event time processed (Unix nanoseconds), the
	// clock of forgetting old alerts: event time, not wall time, so that
	// replaying the same records always forgets at the same points.
	maxEvent int64
	procSeq  atomic.Uint64
}

// alertVersion is what changes when an aggregated alert repeats.
type alertVersion struct {
	count    uint64
	last     time.Time
	severity detect.Severity
	evidence int
}

func versionOf(a *detect.Alert) alertVersion {
	return alertVersion{count: a.Count, last: a.LastSeen, severity: a.Severity, evidence: len(a.Evidence)}
}

// chunkRecords bounds one Replay call, so that snapshots are taken outside
// the store's iteration.
const chunkRecords = 256

func newProcessor(s *Server) *processor {
	return &processor{s: s, wake: make(chan struct{}, 1), stop: make(chan context.Context, 1)}
}

// Counter names in Snapshot.Counters that are not metrics.
const (
	stateLearnUntil = "state|learn_until_unix_nano"
	stateMaxEvent   = "state|max_event_unix_nano"
)

// forgetEvery is how often, in event time, alerts not seen for the
// retention leave the live aggregator.
const forgetEvery = time.Hour

// restore loads the snapshot (if any) and builds the pipeline on it.
func (p *processor) restore() error {
	s := p.s
	snap, ok, err := s.store.LoadSnapshot()
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	cfg := *s.opts.Detection // the pipeline sets LearnUntil on its copy
	prof := s.opts.Baseline
	if prof == nil {
		prof = baseline.NewProfiles()
	}
	p.dedup, err = newDedupSet(s.opts.DedupEntries)
	if err != nil {
		return err
	}
	var aggState []byte
	if ok {
		if prof, err = baseline.Load(bytes.NewReader(snap.Baseline), "snapshot baseline"); err != nil {
			return fmt.Errorf("restore snapshot at WAL position %d: %w", snap.Seq, err)
		}
		if len(snap.Dedup) > 0 {
			if p.dedup, err = unmarshalDedupSet(snap.Dedup, s.opts.DedupEntries); err != nil {
				return fmt.Errorf("restore snapshot at WAL position %d: %w", snap.Seq, err)
			}
		}
		if v, ok := snap.Counters[stateLearnUntil]; ok && v != 0 {
			cfg.LearnUntil = time.Unix(0, v).UTC()
		}
		p.maxEvent = snap.Counters[stateMaxEvent]
		s.metrics.restore(snap.Counters)
		aggState = snap.Aggregator
		p.seq, p.snapSeq = snap.Seq, snap.Seq
	}
	p.index, p.authz = s.opts.Inventory()
	p.cfg = &cfg
	p.pipe = analyze.New(analyze.Options{
		Config: p.cfg, Baseline: prof, Index: p.index, Authorizer: p.authz, Detectors: s.opts.Detectors,
		ArgShape: analyze.ArgShape,
	})
	if aggState != nil {
		if err := p.pipe.Aggregator().RestoreState(aggState); err != nil {
			return fmt.Errorf("restore snapshot at WAL position %d: %w", snap.Seq, err)
		}
	}
	p.pipe.Aggregator().OnNew(p.onNew)
	p.stored = map[string]alertVersion{}
	for _, a := range p.pipe.Alerts() {
		p.stored[a.ID] = versionOf(&a)
	}
	stored, err := s.store.ListAlerts(AlertFilter{IncludeAcked: true})
	if err != nil {
		return fmt.Errorf("list stored alerts: %w", err)
	}
	p.known = make(map[string]bool, len(stored))
	for _, a := range stored {
		p.known[a.ID] = true
	}
	p.dec = newDecoders(s.log)
	p.procSeq.Store(p.seq)
	p.lastSnap = s.opts.Now()
	pendingBytes, pendingRecs := s.store.Pending()
	s.log.Info("processing state restored", "snapshot", ok, "walPosition", p.seq,
		"alerts", p.pipe.Aggregator().Len(), "pendingRecords", pendingRecs, "pendingBytes", pendingBytes)
	return nil
}

// onNew is called by the aggregator, under its lock, for every new alert.
func (p *processor) onNew(a detect.Alert) {
	s := p.s
	s.metrics.alerts.with(a.Category, a.Severity.String()).Add(1)
	p.cur.raised = true
	// Stored now for the query API; p.stored does not record it, so the
	// next snapshot writes it again with its ranked score (as Alerts
	// ranks it) and whatever repeats it had by then.
	if err := s.store.PutAlerts([]detect.Alert{a}); err != nil {
		s.log.Error("storing a new alert failed; it is stored again at the next snapshot", "id", a.ID, "rule", a.Rule, "error", err)
	}
	if p.cur.replaying && p.known[a.ID] {
		return // raised and sent before the crash
	}
	if s.opts.Publisher != nil {
		s.opts.Publisher.Publish(a)
	}
}

// errChunk ends one Replay call.
var errChunk = errors.New("chunk done")

// run processes records until ctx is cancelled or a stop is requested.
func (p *processor) run(ctx context.Context) error {
	if w := p.s.opts.WaitInventory; w != nil {
		w(ctx)
		p.refreshInventory()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		caughtUp, err := p.drain(ctx)
		if err != nil {
			p.s.log.Error("processing the WAL failed; retrying", "position", p.seq, "error", err)
			select {
			case <-ctx.Done():
				return p.snapshot()
			case <-time.After(time.Second):
			}
			continue
		}
		if caughtUp && !p.s.ready.Load() {
			p.setReady()
		}
		if p.snapshotDue() {
			if err := p.snapshot(); err != nil {
				p.s.log.Error("snapshot failed; the WAL is kept until one succeeds", "position", p.seq, "error", err)
			}
		}
		if !caughtUp {
			continue
		}
		select {
		case <-ctx.Done():
			return p.snapshot()
		case sctx := <-p.stop:
			return p.finish(sctx)
		case <-p.wake:
		case <-tick.C:
		}
	}
}

// drainThenStop asks the processor to process what is in the WAL (until
// ctx ends), snapshot and return.
func (p *processor) drainThenStop(ctx context.Context) {
	select {
	case p.stop <- ctx:
	default:
	}
}

func (p *processor) finish(ctx context.Context) error {
	for ctx.Err() == nil {
		caughtUp, err := p.drain(ctx)
		if err != nil || caughtUp {
			break
		}
		if p.snapshotDue() {
			if err := p.snapshot(); err != nil {
				break
			}
		}
	}
	return p.snapshot()
}

func (p *processor) snapshotDue() bool {
	o := &p.s.opts
	return p.seq != p.snapSeq && (p.records >= o.SnapshotRecords || p.bytes >= o.SnapshotBytes || o.Now().Sub(p.lastSnap) >= o.SnapshotInterval)
}

// drain processes up to chunkRecords records and reports whether it
// reached the end of the WAL.
func (p *processor) drain(ctx context.Context) (caughtUp bool, err error) {
	n := 0
	err = p.s.store.Replay(p.seq, func(seq uint64, raw []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if seq <= p.seq {
			return nil
		}
		// A missing sequence number is an Append that failed (never
		// acknowledged): Replay shows every record acknowledged so far.
		p.process(seq, raw)
		p.bytes += int64(len(raw))
		n++
		if n >= chunkRecords || p.snapshotDue() {
			return errChunk
		}
		return nil
	})
	switch {
	case errors.Is(err, errChunk):
		return false, nil
	case err != nil && ctx.Err() != nil:
		return true, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// process handles one WAL record. A record this build cannot read is
// counted and skipped: it cannot become readable later.
func (p *processor) process(seq uint64, raw []byte) {
	s := p.s
	p.refreshInventory()
	rec, err := parseRecord(raw)
	if err != nil {
		s.log.Error("skipping an unreadable WAL record", "position", seq, "error", err)
		s.metrics.dropped.with("unknown", "malformed").Add(1)
		p.advance(seq)
		return
	}
	p.cur.rec, p.cur.seq, p.cur.raised = &rec, seq, false
	p.cur.replaying = rec.Boot != s.boot
	if !p.cur.replaying {
		s.metrics.inflight[rec.Kind].Add(-int64(rec.Events))
	}
	s.metrics.accepted.with(rec.Kind.String()).Add(int64(rec.Events))
	name := "wal:" + strconv.FormatUint(seq, 10)
	switch rec.Kind {
	case KindAudit:
		p.processAudit(&rec, name)
	case KindFlows:
		p.processFlows(&rec, name)
	case KindExec:
		p.processExec(&rec, name)
	}
	p.retain(seq, &rec)
	p.cur.rec = nil
	p.advance(seq)
	if !s.ready.Load() && !p.cur.replaying {
		// Everything before this process's first record is replayed.
		p.setReady()
	}
}

// setReady marks the WAL of earlier processes replayed.
func (p *processor) setReady() {
	p.s.ready.Store(true)
	p.known = nil // only needed while replaying
	p.s.log.Info("ready: snapshot restored and WAL replayed", "position", p.seq)
}

func (p *processor) advance(seq uint64) {
	p.seq = seq
	p.records++
	p.procSeq.Store(seq)
}

// refreshInventory rebuilds the pipeline around a new inventory, keeping
// its baseline, aggregator and detectors.
func (p *processor) refreshInventory() {
	idx, authz := p.s.opts.Inventory()
	if idx == p.index && authz == p.authz {
		return
	}
	state, err := p.pipe.Aggregator().MarshalState()
	if err != nil {
		p.s.log.Error("inventory changed but the pipeline could not be rebuilt", "error", err)
		return
	}
	np := analyze.New(analyze.Options{
		Config: p.cfg, Baseline: p.pipe.Profiles(), Index: idx, Authorizer: authz, Detectors: p.s.opts.Detectors,
		ArgShape: analyze.ArgShape,
	})
	if err := np.Aggregator().RestoreState(state); err != nil {
		p.s.log.Error("inventory changed but the pipeline could not be rebuilt", "error", err)
		return
	}
	np.Aggregator().OnNew(p.onNew)
	p.pipe, p.index, p.authz = np, idx, authz
	p.s.log.Debug("inventory changed: pipeline rebuilt", "position", p.seq)
}

// seen notes the time of a processed event for the lag gauge.
func (p *processor) seen(t time.Time) {
	if t.IsZero() {
		return
	}
	ns := t.UnixNano()
	p.lastEvent.Store(ns)
	if ns <= p.maxEvent {
		return
	}
	// Crossing an hour boundary of event time: forget the alerts not seen
	// within the retention before it.
	old := p.maxEvent
	p.maxEvent = ns
	if old == 0 || ns/int64(forgetEvery) == old/int64(forgetEvery) {
		return
	}
	boundary := time.Unix(0, ns/int64(forgetEvery)*int64(forgetEvery))
	if n := p.pipe.Aggregator().Forget(boundary.Add(-p.s.opts.Retention)); n > 0 {
		p.s.log.Debug("forgot alerts not seen within the retention", "count", n, "before", boundary.Add(-p.s.opts.Retention))
	}
}

// lag is now minus the last processed event's time.
func (p *processor) lag() time.Duration {
	v := p.lastEvent.Load()
	if v == 0 {
		return 0
	}
	return eventAge(p.s.opts.Now(), time.Unix(0, v))
}

// retain keeps the record's body in the event store per the retention
// mode.
func (p *processor) retain(seq uint64, rec *record) {
	s := p.s
	switch s.opts.Retain {
	case RetainNone:
		return
	case RetainEvidence:
		if !p.cur.raised {
			return
		}
	}
	ev := RawEvent{Time: rec.Received, ID: strconv.FormatUint(seq, 10), Data: rec.Body}
	if err := s.store.PutEvents(rec.Kind.String(), []RawEvent{ev}); err != nil {
		s.log.Warn("retaining a raw batch failed", "position", seq, "error", err)
	}
}

// snapshot writes changed alerts, saves the state at p.seq and releases
// the WAL up to it. Alerts are written first: a crash between the two
// leaves the store ahead of the snapshot, and replaying brings the
// aggregator to the same values, which are written again.
func (p *processor) snapshot() error {
	s := p.s
	now := s.opts.Now()
	if p.seq == p.snapSeq {
		p.lastSnap = now
		return nil
	}
	start := time.Now()
	var changed []detect.Alert
	cur := p.pipe.Alerts()
	live := make(map[string]alertVersion, len(cur))
	for i := range cur {
		v := versionOf(&cur[i])
		live[cur[i].ID] = v
		if old, ok := p.stored[cur[i].ID]; !ok || old != v {
			changed = append(changed, cur[i])
		}
	}
	if len(changed) > 0 {
		if err := s.store.PutAlerts(changed); err != nil {
			return fmt.Errorf("store alerts: %w", err)
		}
	}
	p.stored = live
	var base bytes.Buffer
	if err := p.pipe.Profiles().Save(&base, false); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	agg, err := p.pipe.Aggregator().MarshalState()
	if err != nil {
		return err
	}
	counters := s.metrics.save()
	if lu := p.cfg.LearnUntil; !lu.IsZero() {
		counters[stateLearnUntil] = lu.UnixNano()
	}
	counters[stateMaxEvent] = p.maxEvent
	snap := Snapshot{Seq: p.seq, Baseline: base.Bytes(), Aggregator: agg, Counters: counters, Dedup: p.dedup.marshal()}
	if err := s.store.SaveSnapshot(snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	p.snapSeq, p.records, p.bytes, p.lastSnap = p.seq, 0, 0, now
	if err := s.store.Release(p.seq); err != nil {
		return fmt.Errorf("release WAL: %w", err)
	}
	s.log.Debug("snapshot saved", "position", p.seq, "baselineBytes", base.Len(), "aggregatorBytes", len(agg),
		"dedupEntries", p.dedup.len(), "changedAlerts", len(changed), "took", time.Since(start))
	return nil
}
