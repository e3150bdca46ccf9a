package store

import (
	"bytes"
	"testing"
	"time"
)

func TestTimeOrder(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	// Non-decreasing; times outside UnixNano's range clamp to the ends.
	for i := 1; i < len(times); i++ {
		if timeOrder(times[i-1]) > timeOrder(times[i]) {
			t.Errorf("timeOrder(%v) > timeOrder(%v)", times[i-1], times[i])
		}
	}
	if timeOrder(times[0]) != 0 || timeOrder(times[len(times)-1]) != 1<<64-1 {
		t.Errorf("out-of-range times do not clamp to the ends: %x, %x", timeOrder(times[0]), timeOrder(times[len(times)-1]))
	}
	if timeOrder(time.Unix(0, -1)) >= timeOrder(time.Unix(0, 0)) {
		t.Error("negative Unix times sort after zero")
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("w/"), []byte("w0")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := prefixEnd(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzKeys checks that the key decoders invert the encoders and that key
// order is time order, whatever the IDs.
func FuzzKeys(f *testing.F) {
	f.Add(int64(0), int64(1), "a", "b", uint64(1))
	f.Add(int64(-5), int64(5), "", "x/y", uint64(1<<63))
	f.Fuzz(func(t *testing.T, a, b int64, idA, idB string, seq uint64) {
		ta, tb := time.Unix(0, a), time.Unix(0, b)
		ka, kb := alertTimeKey(ta, idA), alertTimeKey(tb, idB)
		if id, ok := alertTimeID(ka); !ok || id != idA {
			t.Fatalf("alertTimeID(alertTimeKey(%q)) = %q, %v", idA, id, ok)
		}
		if a < b && bytes.Compare(ka, kb) >= 0 {
			t.Fatalf("time %d < %d but key %x >= %x", a, b, ka, kb)
		}
		if bytes.Compare(alertTimeBound(ta), ka) > 0 || (a < b && bytes.Compare(kb, alertTimeBound(tb)) < 0) {
			t.Fatal("time bound is not the first key at its time")
		}
		ea := eventKey("audit", ta, idA)
		if kind, ok := eventKind(ea); !ok || kind != "audit" {
			t.Fatalf("eventKind = %q, %v", kind, ok)
		}
		if a < b && bytes.Compare(ea, eventTimeBound("audit", tb)) >= 0 {
			t.Fatal("event key not below a later bound")
		}
		if got, ok := walSeq(prefixWAL, walKey(seq)); !ok || got != seq {
			t.Fatalf("walSeq(walKey(%d)) = %d, %v", seq, got, ok)
		}
		if _, ok := walSeq(prefixWAL, walSizeKey(seq)); ok {
			t.Fatal("a size key decoded as a record key")
		}
	})
}
