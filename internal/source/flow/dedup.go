package flow

import (
	"encoding/binary"
	"hash/maphash"

	"github.com/kubedelta/kubedelta/internal/event"
)

// maxDedupEntries bounds the dedup table (about 12 MB at its fullest).
// Entries are forgotten oldest first, by delivery order, never by time:
// exports of several nodes are decoded one file after the other, so the
// second node's observations of an hour must still find the first's.
const maxDedupEntries = 1 << 18

// A flow key identifies one direction of one flow: addresses, ports,
// protocol and verdict. The verdict is part of the key: a flow forwarded by
// the source node and dropped by the destination node is two facts, and the
// drop must never be folded into the forward. Keys are kept as 64-bit
// hashes with a per-decoder random seed; a collision (odds about n/2^64 for
// n live keys) would merely let one flow count as a repeat of another.
func flowKey(seed maphash.Seed, f *event.Flow) uint64 {
	var b [40]byte
	src, dst := f.Src.IP.As16(), f.Dst.IP.As16()
	copy(b[0:16], src[:])
	copy(b[16:32], dst[:])
	binary.LittleEndian.PutUint16(b[32:], f.Src.Port)
	binary.LittleEndian.PutUint16(b[34:], f.Dst.Port)
	b[36] = byte(f.Protocol)
	b[37] = byte(f.Verdict)
	if f.Src.IP.Is4() {
		b[38] = 4
	}
	if f.Dst.IP.Is4() {
		b[39] = 4
	}
	return maphash.Bytes(seed, b[:])
}

type dedupEntry struct {
	key uint64
	at  int64 // unix nanoseconds of the delivered observation
}

// dedup remembers, per flow key, when it last delivered that flow, and
// calls an observation a duplicate when it lies within window of it.
type dedup struct {
	window int64
	seed   maphash.Seed
	last   map[uint64]int64
	fifo   []dedupEntry // ring buffer in delivery order
	head   int
	n      int
}

func newDedup(window int64) dedup {
	return dedup{window: window, seed: maphash.MakeSeed(), last: make(map[uint64]int64)}
}

// duplicate reports whether f repeats a flow delivered within the window,
// and records f as delivered when it does not.
func (d *dedup) duplicate(f *event.Flow) bool {
	if d.window <= 0 {
		return false
	}
	k := flowKey(d.seed, f)
	at := f.Time.UnixNano()
	if prev, ok := d.last[k]; ok {
		diff := at - prev
		if diff < 0 {
			diff = -diff
		}
		if diff >= 0 && diff < d.window { // diff < 0 only on overflow
			return true
		}
	}
	d.last[k] = at
	d.push(dedupEntry{key: k, at: at})
	return false
}

func (d *dedup) push(e dedupEntry) {
	if d.n == maxDedupEntries {
		d.pop()
	}
	if d.n == len(d.fifo) {
		grown := make([]dedupEntry, max(64, 2*len(d.fifo)))
		for i := 0; i < d.n; i++ {
			grown[i] = d.fifo[(d.head+i)%len(d.fifo)]
		}
		d.fifo, d.head = grown, 0
	}
	d.fifo[(d.head+d.n)%len(d.fifo)] = e
	d.n++
}

func (d *dedup) pop() {
	e := d.fifo[d.head]
	if at, ok := d.last[e.key]; ok && at == e.at {
		delete(d.last, e.key)
	}
	d.head = (d.head + 1) % len(d.fifo)
	d.n--
}
