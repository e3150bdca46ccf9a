package store

import (
	"encoding/binary"
	"math"
	"time"
)

// Key layout (docs/storage.md has the table). Every key starts with a one-byte
// family; fixed-width big-endian integers keep numeric and byte order equal.
var (
	keyVersion  = []byte("v") // schema version, 4 bytes big-endian
	keyReleased = []byte("r") // highest released WAL seq, 8 bytes big-endian
	keySnapshot = []byte("s") // the processing snapshot (snapshot.go)

	prefixWAL       = []byte("w/") // w/<seq BE8> → record
	prefixWALSize   = []byte("l/") // l/<seq BE8> → record length, 4 bytes BE
	prefixAlert     = []byte("a/") // a/<id> → StoredAlert JSON
	prefixAlertTime = []byte("t/") // t/<time BE8>/<id> → empty
	prefixEvent     = []byte("e/") // e/<kind>/<time BE8>/<id> → raw event
)

func walKey(seq uint64) []byte { return seqKey(prefixWAL, seq) }

// walSizeKey is the key of the length of record seq: Open rebuilds the WAL
// accounting from these small keys without reading the records.
func walSizeKey(seq uint64) []byte { return seqKey(prefixWALSize, seq) }

func seqKey(prefix []byte, seq uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], seq)
	return k
}

// walSeq decodes a WAL record or size key; ok is false for a key of the
// wrong shape.
func walSeq(prefix, k []byte) (uint64, bool) {
	if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != string(prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

func alertKey(id string) []byte {
	return append(append(make([]byte, 0, len(prefixAlert)+len(id)), prefixAlert...), id...)
}

func alertTimeKey(t time.Time, id string) []byte {
	k := make([]byte, 0, len(prefixAlertTime)+9+len(id))
	k = append(k, prefixAlertTime...)
	k = appendTime(k, t)
	k = append(k, '/')
	return append(k, id...)
}

// alertTimeBound is the first index key at or after t.
func alertTimeBound(t time.Time) []byte {
	return appendTime(append([]byte(nil), prefixAlertTime...), t)
}

// alertTimeID returns the alert ID of a time index key.
func alertTimeID(k []byte) (string, bool) {
	n := len(prefixAlertTime) + 9
	if len(k) < n || string(k[:len(prefixAlertTime)]) != string(prefixAlertTime) || k[n-1] != '/' {
		return "", false
	}
	return string(k[n:]), true
}

func eventKindPrefix(kind string) []byte {
	k := make([]byte, 0, len(prefixEvent)+len(kind)+1)
	k = append(k, prefixEvent...)
	k = append(k, kind...)
	return append(k, '/')
}

func eventKey(kind string, t time.Time, id string) []byte {
	k := eventKindPrefix(kind)
	k = appendTime(k, t)
	k = append(k, '/')
	return append(k, id...)
}

// eventTimeBound is the first key of kind at or after t.
func eventTimeBound(kind string, t time.Time) []byte {
	return appendTime(eventKindPrefix(kind), t)
}

// eventKind returns the kind of an event key: the bytes between "e/" and the
// next '/'.
func eventKind(k []byte) (string, bool) {
	if len(k) <= len(prefixEvent) || string(k[:len(prefixEvent)]) != string(prefixEvent) {
		return "", false
	}
	for i := len(prefixEvent); i < len(k); i++ {
		if k[i] == '/' {
			if i == len(prefixEvent) {
				return "", false
			}
			return string(k[len(prefixEvent):i]), true
		}
	}
	return "", false
}

// Times before 1678 or after 2262 do not fit UnixNano; they sort first or last.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// timeOrder maps a time to a uint64 whose order is the time's order.
func timeOrder(t time.Time) uint64 {
	var n int64
	switch {
	case t.Before(minNanoTime):
		n = math.MinInt64
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ (1 << 63)
}

func appendTime(k []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(k, timeOrder(t))
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}
