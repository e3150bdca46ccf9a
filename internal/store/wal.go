package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// The WAL: records under w/<seq>. Sequence numbers are assigned under a
// mutex, but the writes themselves run concurrently so that Pebble can
// share one fsync among them; so records can land out of order. Replay
// therefore only reads up to the visible mark, below which every sequence
// number is settled (written, or failed and never acknowledged), and Append
// returns only once its record is below the mark: whatever Append
// acknowledged, the next Replay sees.

const (
	recInFlight uint8 = iota
	recPresent
	recAbsent // the write failed, or a gap found on Open
)

type walRec struct {
	size  uint32
	state uint8
}

type walState struct {
	mu sync.Mutex
	// settled is broadcast when visible advances.
	settled sync.Cond
	// relMu serializes Release.
	relMu sync.Mutex

	next     uint64 // the next seq to assign
	visible  uint64 // every seq <= visible is settled
	released uint64 // every seq <= released is deleted
	snapSeq  uint64 // Seq of the last saved snapshot
	// recs[i] describes seq released+1+i, up to next-1.
	recs    []walRec
	bytes   int64 // payload bytes of present, unreleased records
	records int64
	max     int64
}

// load rebuilds the in-memory WAL state from the released mark and a scan of
// the l/ keys: 14 bytes per record, whatever the records' size.
func (w *walState) load(db *pebble.DB, maxBytes int64) error {
	w.max = maxBytes
	released, err := getUint64(db, keyReleased)
	if err != nil {
		return fmt.Errorf("read WAL release mark: %w", err)
	}
	w.released = released
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: walSizeKey(released + 1), UpperBound: prefixEnd(prefixWALSize)})
	if err != nil {
		return fmt.Errorf("scan WAL: %w", err)
	}
	last := released
	for ok := it.First(); ok; ok = it.Next() {
		seq, ok := walSeq(prefixWALSize, it.Key())
		v := it.Value()
		if !ok || len(v) != 4 {
			_ = it.Close()
			return fmt.Errorf("%w: WAL size entry %q = %x", ErrCorrupt, it.Key(), v)
		}
		for last+1 < seq {
			last++
			w.recs = append(w.recs, walRec{state: recAbsent})
		}
		n := binary.BigEndian.Uint32(v)
		w.recs = append(w.recs, walRec{size: n, state: recPresent})
		w.bytes += int64(n)
		w.records++
		last = seq
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("scan WAL: %w", err)
	}
	w.next = last + 1
	w.visible = last
	return nil
}

// raiseFloor makes sure no seq at or below floor is ever assigned (a
// snapshot may name a seq whose record was lost or released).
func (w *walState) raiseFloor(floor uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.next <= floor {
		w.recs = append(w.recs, walRec{state: recAbsent})
		w.next++
	}
	w.visible = w.next - 1
}

func (w *walState) reserve(size int) (uint64, error) {
	if int64(size) > w.max || size > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %d bytes, bound %d bytes: raise the WAL bound or send smaller batches", ErrTooLarge, size, w.max)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.bytes+int64(size) > w.max {
		return 0, fmt.Errorf("%w: %d bytes in %d records are waiting to be processed (bound %d bytes)", ErrWALFull, w.bytes, w.records, w.max)
	}
	seq := w.next
	w.next++
	w.recs = append(w.recs, walRec{size: uint32(size), state: recInFlight})
	w.bytes += int64(size)
	w.records++
	return seq, nil
}

// settle records the outcome of seq's write and waits until seq is visible.
func (w *walState) settle(seq uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &w.recs[seq-w.released-1]
	if ok {
		r.state = recPresent
	} else {
		r.state = recAbsent
		w.bytes -= int64(r.size)
		w.records--
	}
	advanced := false
	for w.visible+1 < w.next && w.recs[w.visible-w.released].state != recInFlight {
		w.visible++
		advanced = true
	}
	if advanced {
		w.settled.Broadcast()
	}
	for w.visible < seq {
		w.settled.Wait()
	}
}

func (w *walState) visibleSeq() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.visible
}

func (w *walState) pending() (int64, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes, w.records
}

func (w *walState) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{
		WALPendingBytes:   w.bytes,
		WALPendingRecords: w.records,
		LastSeq:           w.next - 1,
		ReleasedSeq:       w.released,
		SnapshotSeq:       w.snapSeq,
	}
}

// Append stores rec as the next WAL record and returns its sequence number
// once it is durable (per the sync policy) and visible to Replay. It fails
// with ErrWALFull when the unreleased records would exceed MaxWALBytes, and
// with ErrTooLarge when rec alone does. rec may be reused after Append
// returns.
func (s *Store) Append(rec []byte) (uint64, error) {
	if err := s.life.acquire(); err != nil {
		return 0, err
	}
	defer s.life.release()
	seq, err := s.wal.reserve(len(rec))
	if err != nil {
		return 0, err
	}
	// Both policies wait for the fsync; SyncBatch only spaces fsyncs apart
	// (Options.WALMinSyncInterval, set in Open).
	b := s.db.NewBatchWithSize(len(rec) + 64)
	_ = b.Set(walKey(seq), rec, nil)
	_ = b.Set(walSizeKey(seq), binary.BigEndian.AppendUint32(nil, uint32(len(rec))), nil)
	werr := b.Commit(pebble.Sync)
	if werr == nil {
		_ = b.Close() // like pebble.DB.Set: a failed batch is not recycled
	}
	s.wal.settle(seq, werr == nil)
	if werr != nil {
		return 0, fmt.Errorf("store: append WAL record %d: %w", seq, werr)
	}
	return seq, nil
}

// Replay calls fn for every record with seq > after, in order, up to the
// last record visible when Replay starts. fn owns rec. An error from fn
// stops the replay and is returned as is. fn may call the store (e.g.
// SaveSnapshot and Release every N records).
func (s *Store) Replay(after uint64, fn func(seq uint64, rec []byte) error) error {
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	upTo := s.wal.visibleSeq()
	if upTo <= after {
		return nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: walKey(after + 1), UpperBound: walKey(upTo + 1)})
	if err != nil {
		return fmt.Errorf("store: replay WAL after %d: %w", after, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if s.life.closed.Load() {
			return ErrClosed
		}
		seq, ok := walSeq(prefixWAL, it.Key())
		if !ok {
			return fmt.Errorf("%w: WAL key %q", ErrCorrupt, it.Key())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("store: replay WAL record %d: %w", seq, err)
		}
		if err := fn(seq, bytes.Clone(v)); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: replay WAL after %d: %w", after, err)
	}
	return nil
}

// Release drops the records with seq <= upTo. upTo must be covered by the
// last saved snapshot (SaveSnapshot first, then Release: a crash between the
// two replays records the snapshot already includes, which Replay(after
// snapshot.Seq) skips). Releasing what is already released is a no-op.
func (s *Store) Release(upTo uint64) error {
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	w := &s.wal
	w.relMu.Lock()
	defer w.relMu.Unlock()

	w.mu.Lock()
	if upTo <= w.released {
		w.mu.Unlock()
		return nil
	}
	if upTo > w.snapSeq {
		w.mu.Unlock()
		return fmt.Errorf("%w: release WAL up to %d, but the last snapshot covers only up to %d: save a snapshot first", ErrInvalid, upTo, w.snapSeq)
	}
	// snapSeq <= visible, so every record up to upTo is settled.
	n := upTo - w.released
	var freedBytes, freedRecs int64
	for _, r := range w.recs[:n] {
		if r.state == recPresent {
			freedBytes += int64(r.size)
			freedRecs++
		}
	}
	w.mu.Unlock()

	b := s.db.NewBatch()
	defer b.Close()
	_ = b.DeleteRange(walKey(0), walKey(upTo+1), nil)
	_ = b.DeleteRange(walSizeKey(0), walSizeKey(upTo+1), nil)
	_ = b.Set(keyReleased, binary.BigEndian.AppendUint64(nil, upTo), nil)
	// No fsync: if the release is lost in a crash, the records are released
	// again after the next snapshot; the snapshot (synced) already covers them.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("store: release WAL up to %d: %w", upTo, err)
	}

	w.mu.Lock()
	w.recs = w.recs[n:]
	w.released = upTo
	w.bytes -= freedBytes
	w.records -= freedRecs
	w.mu.Unlock()
	return nil
}

// Pending returns the payload bytes and the number of records not yet
// released.
func (s *Store) Pending() (bytes int64, records int64) { return s.wal.pending() }

func getUint64(db *pebble.DB, key []byte) (uint64, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("key %q holds %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
