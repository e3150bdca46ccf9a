package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// DefaultDedupEntries is the default size of one generation of the set of
// processed audit requests: each request is remembered for at least this
// many further requests (about 10 s at 50,000 events/s, hours at the rates
// of most clusters; the API server retries a failed batch after its
// --audit-webhook-initial-backoff, 10 s by default).
const DefaultDedupEntries = 1 << 19

// ErrDedupState reports a dedup set in a snapshot that cannot be read.
var ErrDedupState = errors.New("invalid dedup state")

// dedupSet remembers which audit requests were processed, so that a batch
// the API server retries (or a record replayed after a crash) counts once.
//
// A request is identified as the audit decoder identifies it (auditID,
// request URI, user, verb and receive time, see audit.Decoder's
// fingerprint): the stage is deliberately not part of the key, because the
// stage filter delivers exactly one stage per request (ResponseComplete, or
// ResponseStarted for a long-running one) and a later stage of a delivered
// request must count as a duplicate, even across a restart.
//
// Keys are 64-bit truncated SHA-256 hashes keyed with a random secret kept
// in the snapshot, so clients that choose their Audit-ID cannot craft
// collisions. Memory is bounded by two generations of at most limit
// entries each; the set is saved with every snapshot.
type dedupSet struct {
	key        [16]byte
	limit      int
	young, old fpTable
	buf        []byte
}

func newDedupSet(limit int) (*dedupSet, error) {
	if limit <= 0 {
		limit = DefaultDedupEntries
	}
	d := &dedupSet{limit: max(limit, 8)}
	if _, err := rand.Read(d.key[:]); err != nil {
		return nil, fmt.Errorf("dedup key: %w", err)
	}
	return d, nil
}

// fingerprint hashes the identity of a request.
func (d *dedupSet) fingerprint(r *event.APIRequest) uint64 {
	b := append(d.buf[:0], d.key[:]...)
	for _, s := range [...]string{r.AuditID, r.RequestURI, r.User.Username, r.Verb} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	var ts int64
	if !r.Received.IsZero() {
		ts = r.Received.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	d.buf = b
	sum := sha256.Sum256(b)
	fp := binary.LittleEndian.Uint64(sum[:8])
	if fp == 0 {
		fp = 1 // 0 marks an empty slot
	}
	return fp
}

// add records r and reports whether it was new.
func (d *dedupSet) add(r *event.APIRequest) bool {
	fp := d.fingerprint(r)
	if d.young.has(fp) || d.old.has(fp) {
		return false
	}
	if d.young.n >= d.limit {
		d.old, d.young = d.young, d.old
		d.young.clear()
	}
	d.young.insert(fp, 2*d.limit)
	return true
}

// len is the number of requests remembered.
func (d *dedupSet) len() int { return d.young.n + d.old.n }

// The saved form: "KDDS", version 1, the key, the limit, then the old and the
// young generation, each a count and that many little-endian uint64s.
const dedupMagic = "KDDS"

func (d *dedupSet) marshal() []byte {
	b := make([]byte, 0, 4+1+16+8+16+8*d.len())
	b = append(b, dedupMagic...)
	b = append(b, 1)
	b = append(b, d.key[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(d.limit))
	for _, t := range []*fpTable{&d.old, &d.young} {
		b = binary.LittleEndian.AppendUint64(b, uint64(t.n))
		for _, fp := range t.slots {
			if fp != 0 {
				b = binary.LittleEndian.AppendUint64(b, fp)
			}
		}
	}
	return b
}

// unmarshalDedupSet restores a set saved by marshal. limit is the configured
// generation size; a set saved with another size is kept whole and adapts
// at its next generation change.
func unmarshalDedupSet(b []byte, limit int) (*dedupSet, error) {
	if limit <= 0 {
		limit = DefaultDedupEntries
	}
	if len(b) < 4+1+16+8 || string(b[:4]) != dedupMagic {
		return nil, fmt.Errorf("%w: no header", ErrDedupState)
	}
	if b[4] != 1 {
		return nil, fmt.Errorf("%w: version %d, this build reads version 1", ErrDedupState, b[4])
	}
	d := &dedupSet{limit: max(limit, 8)}
	copy(d.key[:], b[5:21])
	p := 29
	for _, t := range []*fpTable{&d.old, &d.young} {
		if len(b) < p+8 {
			return nil, fmt.Errorf("%w: truncated", ErrDedupState)
		}
		n := binary.LittleEndian.Uint64(b[p:])
		p += 8
		if n > uint64(len(b)-p)/8 {
			return nil, fmt.Errorf("%w: %d entries announced, %d bytes left", ErrDedupState, n, len(b)-p)
		}
		for range n {
			fp := binary.LittleEndian.Uint64(b[p:])
			p += 8
			if fp == 0 || t.has(fp) {
				return nil, fmt.Errorf("%w: bad entry", ErrDedupState)
			}
			t.insert(fp, 1<<62)
		}
	}
	if p != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrDedupState, len(b)-p)
	}
	return d, nil
}

// fpTable is a linear-probing set of non-zero, uniformly distributed
// 64-bit fingerprints, kept at most half full.
type fpTable struct {
	slots []uint64
	n     int
}

func (t *fpTable) has(fp uint64) bool {
	if len(t.slots) == 0 {
		return false
	}
	mask := uint64(len(t.slots) - 1)
	for i := fp & mask; ; i = (i + 1) & mask {
		switch t.slots[i] {
		case fp:
			return true
		case 0:
			return false
		}
	}
}

// insert adds fp, known absent, growing the table up to maxSlots.
func (t *fpTable) insert(fp uint64, maxSlots int) {
	if 2*(t.n+1) > len(t.slots) && len(t.slots) < maxSlots {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	i := fp & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = fp
	t.n++
}

func (t *fpTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(2*len(old), 64))
	t.n = 0
	for _, fp := range old {
		if fp != 0 {
			t.insert(fp, len(t.slots))
		}
	}
}

func (t *fpTable) clear() {
	clear(t.slots)
	t.n = 0
}

// longRunning reports whether the API server writes a ResponseStarted stage
// for r: verbs watch and proxy; subresources attach, exec, log, portforward
// and proxy; non-resource paths under /debug/pprof/. It mirrors
// k8s.io/apiserver/pkg/server/filters BasicLongRunningRequestCheck as
// configured in k8s.io/kubernetes pkg/controlplane/apiserver/config.go, and
// audit.Decoder's stage filter, which the processor reproduces because it
// decodes with every stage (its dedup must survive restarts, the decoder's
// does not).
func longRunning(r *event.APIRequest) bool {
	switch r.Verb {
	case "watch", "proxy":
		return true
	}
	if r.Resource != "" {
		switch r.Subresource {
		case "attach", "exec", "log", "portforward", "proxy":
			return true
		}
		return false
	}
	const pprof = "/debug/pprof/"
	return len(r.Path) > len(pprof) && r.Path[:len(pprof)] == pprof
}

// stageDelivered reports whether the stage filter delivers r: the stage that
// completes a request (ResponseComplete, Panic), or ResponseStarted for a
// long-running request (its ResponseComplete can come hours later).
func stageDelivered(r *event.APIRequest) bool {
	switch r.Stage {
	case event.StageResponseComplete, event.StagePanic:
		return true
	case event.StageResponseStarted:
		return longRunning(r)
	}
	return false
}

// eventAge is now minus t, or 0 for a zero t.
func eventAge(now, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return now.Sub(t)
}
