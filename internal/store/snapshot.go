package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kubedelta/kubedelta/internal/server"
)

// The snapshot is one key, s, holding a small binary envelope:
//
//	"KDS1"                      magic and format version
//	seq                         8 bytes big-endian
//	counters                    uvarint n, then n × (uvarint len, name, varint value), names sorted
//	baseline, aggregator, dedup each uvarint len, bytes
//	crc32c                      4 bytes big-endian, of everything before
//
// The blobs are opaque here; they are whatever the processor's components
// serialize. A binary envelope keeps multi-megabyte blobs from being
// base64-inflated and re-parsed.

const snapshotMagic = "KDS1"

// ErrCorrupt is returned when stored data fails its checks.
var ErrCorrupt = errors.New("store data corrupt")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeSnapshot(s server.Snapshot) []byte {
	names := make([]string, 0, len(s.Counters))
	for k := range s.Counters {
		names = append(names, k)
	}
	slices.Sort(names)
	n := len(snapshotMagic) + 8 + 4 + 3*binary.MaxVarintLen64 + len(s.Baseline) + len(s.Aggregator) + len(s.Dedup)
	for _, k := range names {
		n += 2*binary.MaxVarintLen64 + len(k)
	}
	b := make([]byte, 0, n)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, s.Seq)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, k := range names {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendVarint(b, s.Counters[k])
	}
	for _, blob := range [][]byte{s.Baseline, s.Aggregator, s.Dedup} {
		b = binary.AppendUvarint(b, uint64(len(blob)))
		b = append(b, blob...)
	}
	return encodeChecksum(b)
}

// encodeChecksum appends the CRC-32C of b.
func encodeChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSnapshot parses an envelope; the returned blobs are copies. Counters
// is never nil.
func decodeSnapshot(b []byte) (server.Snapshot, error) {
	var s server.Snapshot
	if len(b) < len(snapshotMagic)+8+4 {
		return s, fmt.Errorf("%w: snapshot of %d bytes is truncated", ErrCorrupt, len(b))
	}
	if string(b[:len(snapshotMagic)]) != snapshotMagic {
		return s, fmt.Errorf("%w: snapshot starts with %q, want %q", ErrCorrupt, b[:len(snapshotMagic)], snapshotMagic)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return s, fmt.Errorf("%w: snapshot checksum %08x, want %08x", ErrCorrupt, got, sum)
	}
	r := reader{b: body[len(snapshotMagic):]}
	s.Seq = r.uint64()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each counter takes at least 2 bytes
		return server.Snapshot{}, fmt.Errorf("%w: snapshot claims %d counters in %d bytes", ErrCorrupt, n, len(r.b))
	}
	s.Counters = make(map[string]int64, n)
	prev := ""
	for i := uint64(0); i < n && r.err == nil; i++ {
		name := string(r.bytes())
		v := r.varint()
		if r.err == nil && i > 0 && name <= prev {
			r.err = fmt.Errorf("counter %q out of order after %q", name, prev)
		}
		s.Counters[name] = v
		prev = name
	}
	s.Baseline = r.blob()
	s.Aggregator = r.blob()
	s.Dedup = r.blob()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return server.Snapshot{}, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, r.err)
	}
	return s, nil
}

// reader consumes a byte slice; the first error sticks.
type reader struct {
	b       []byte
	err     error
	scratch [binary.MaxVarintLen64]byte
}

// uvarintLen is the length of v's minimal encoding; the decoder accepts only
// that one, so each value has a single spelling.
func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated %s", what)
	}
}

func (r *reader) uint64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("sequence number")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != uvarintLen(v) {
		r.fail("length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || n != len(binary.AppendVarint(r.scratch[:0], v)) {
		r.fail("counter value")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("field")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// blob returns a copy, nil when empty.
func (r *reader) blob() []byte {
	v := r.bytes()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// SaveSnapshot durably replaces the snapshot. Its Seq must not be ahead of
// the WAL (records not yet appended) nor behind the released mark (records
// already dropped could not be replayed after it).
func (s *Store) SaveSnapshot(snap server.Snapshot) error {
	if err := s.life.acquire(); err != nil {
		return err
	}
	defer s.life.release()
	w := &s.wal
	w.relMu.Lock() // no Release while the snapshot moves
	defer w.relMu.Unlock()
	w.mu.Lock()
	visible, released := w.visible, w.released
	w.mu.Unlock()
	if snap.Seq > visible {
		return fmt.Errorf("%w: snapshot at WAL seq %d, but the WAL ends at %d", ErrInvalid, snap.Seq, visible)
	}
	if snap.Seq < released {
		return fmt.Errorf("%w: snapshot at WAL seq %d, but records up to %d are already released", ErrInvalid, snap.Seq, released)
	}
	if err := s.db.Set(keySnapshot, encodeSnapshot(snap), pebble.Sync); err != nil {
		return fmt.Errorf("store: save snapshot at seq %d: %w", snap.Seq, err)
	}
	w.mu.Lock()
	w.snapSeq = snap.Seq
	w.mu.Unlock()
	return nil
}

// LoadSnapshot returns the last saved snapshot; ok is false if there is none.
func (s *Store) LoadSnapshot() (server.Snapshot, bool, error) {
	if err := s.life.acquire(); err != nil {
		return server.Snapshot{}, false, err
	}
	defer s.life.release()
	snap, ok, err := s.readSnapshot()
	if err != nil {
		return server.Snapshot{}, false, fmt.Errorf("store: %s: load snapshot: %w", s.dir, err)
	}
	return snap, ok, nil
}

func (s *Store) readSnapshot() (server.Snapshot, bool, error) {
	v, closer, err := s.db.Get(keySnapshot)
	if errors.Is(err, pebble.ErrNotFound) {
		return server.Snapshot{}, false, nil
	}
	if err != nil {
		return server.Snapshot{}, false, err
	}
	defer closer.Close()
	snap, err := decodeSnapshot(v)
	if err != nil {
		return server.Snapshot{}, false, err
	}
	return snap, true, nil
}

// loadSnapshotSeq reads the snapshot's Seq on Open: Release checks against
// it, and sequence numbers up to it are never assigned again.
func (s *Store) loadSnapshotSeq() error {
	snap, ok, err := s.readSnapshot()
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	if !ok {
		return nil
	}
	s.wal.raiseFloor(snap.Seq)
	s.wal.mu.Lock()
	s.wal.snapSeq = snap.Seq
	s.wal.mu.Unlock()
	return nil
}
