package store

import (
	"bytes"
	"errors"
	"maps"
	"testing"

	"github.com/kubedelta/kubedelta/internal/server"
)

func snapshotsEqual(a, b server.Snapshot) bool {
	return a.Seq == b.Seq && bytes.Equal(a.Baseline, b.Baseline) && bytes.Equal(a.Aggregator, b.Aggregator) &&
		bytes.Equal(a.Dedup, b.Dedup) && maps.Equal(a.Counters, b.Counters)
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap server.Snapshot
	}{
		{"empty", server.Snapshot{}},
		{"seq only", server.Snapshot{Seq: 1<<64 - 1}},
		{"counters", server.Snapshot{Seq: 7, Counters: map[string]int64{"audit_events": 12, "malformed": 0, "negative": -3, "": 1}}},
		{"blobs", server.Snapshot{Seq: 9, Baseline: []byte(`{"apiVersion":"kubedelta/v1"}`), Aggregator: []byte{0, 1, 2}, Dedup: bytes.Repeat([]byte{0xff}, 70000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSnapshot(encodeSnapshot(tc.snap))
			if err != nil {
				t.Fatal(err)
			}
			if got.Counters == nil {
				t.Fatal("decoded Counters is nil")
			}
			if !snapshotsEqual(got, tc.snap) {
				t.Fatalf("round trip = %+v, want %+v", got, tc.snap)
			}
		})
	}
}

func TestSnapshotEncodingIsDeterministic(t *testing.T) {
	c := map[string]int64{}
	for _, k := range []string{"d", "a", "c", "b", "e", "f", "g"} {
		c[k] = int64(len(k))
	}
	first := encodeSnapshot(server.Snapshot{Seq: 1, Counters: c})
	for range 20 {
		if !bytes.Equal(encodeSnapshot(server.Snapshot{Seq: 1, Counters: c}), first) {
			t.Fatal("encoding depends on map order")
		}
	}
}

func TestDecodeSnapshotRejectsCorruption(t *testing.T) {
	good := encodeSnapshot(server.Snapshot{Seq: 3, Counters: map[string]int64{"a": 1, "b": 2}, Baseline: []byte("base")})
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"bad magic", append([]byte("XXXX"), good[4:]...)},
		{"flipped seq", flip(6)},
		{"flipped blob", flip(len(good) - 6)},
		{"flipped checksum", flip(len(good) - 1)},
		{"trailing bytes under a valid checksum", reseal(append(bytes.Clone(good[:len(good)-4]), 0))},
		{"counters out of order", reseal(swapCounters(good))},
		{"huge counter count", reseal(append([]byte("KDS1\x00\x00\x00\x00\x00\x00\x00\x01"), 0xff, 0xff, 0xff, 0x0f))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSnapshot(tc.in); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeSnapshot = %v, want ErrCorrupt", err)
			}
		})
	}
}

// reseal replaces the checksum so that the structure checks are reached.
func reseal(body []byte) []byte {
	return encodeChecksum(body)
}

// swapCounters exchanges the names of the two one-letter counters "a" and "b".
func swapCounters(sealed []byte) []byte {
	b := bytes.Clone(sealed[:len(sealed)-4])
	i := bytes.Index(b, []byte{1, 'a'})
	j := bytes.Index(b, []byte{1, 'b'})
	b[i+1], b[j+1] = 'b', 'a'
	return b
}

func TestSaveLoadSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	if _, ok, err := s.LoadSnapshot(); ok || err != nil {
		t.Fatalf("LoadSnapshot on a new store = ok %v, %v", ok, err)
	}
	for range 3 {
		mustAppend(t, s, []byte("r"))
	}
	want := server.Snapshot{Seq: 2, Counters: map[string]int64{"n": 2}, Baseline: []byte("b"), Aggregator: []byte("a"), Dedup: []byte("d")}
	if err := s.SaveSnapshot(server.Snapshot{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSnapshot(want); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir, Options{})
	got, ok, err := s.LoadSnapshot()
	if err != nil || !ok {
		t.Fatalf("LoadSnapshot = %v, %v", ok, err)
	}
	if !snapshotsEqual(got, want) {
		t.Fatalf("LoadSnapshot = %+v, want %+v (the latest save)", got, want)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(server.Snapshot{}))
	f.Add(encodeSnapshot(server.Snapshot{Seq: 5, Counters: map[string]int64{"x": -1, "y": 1 << 40}, Baseline: []byte("b"), Dedup: []byte{0}}))
	f.Add([]byte("KDS1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		snap, err := decodeSnapshot(in)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes: the format has one
		// spelling per value.
		if again := encodeSnapshot(snap); !bytes.Equal(again, in) {
			t.Fatalf("decode/encode changed the bytes:\n in %x\nout %x", in, again)
		}
	})
}
