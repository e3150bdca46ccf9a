package store

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/server"
)

func snapshotAt(seq uint64) server.Snapshot {
	return server.Snapshot{Seq: seq, Counters: map[string]int64{"records": int64(seq)}}
}

type replayed struct {
	seq uint64
	rec []byte
}

func replayAll(t *testing.T, s *Store, after uint64) []replayed {
	t.Helper()
	var out []replayed
	if err := s.Replay(after, func(seq uint64, rec []byte) error {
		out = append(out, replayed{seq, rec})
		return nil
	}); err != nil {
		t.Fatalf("Replay(%d): %v", after, err)
	}
	return out
}

func mustAppend(t testing.TB, s *Store, rec []byte) uint64 {
	t.Helper()
	seq, err := s.Append(rec)
	if err != nil {
		t.Fatalf("Append(%d bytes): %v", len(rec), err)
	}
	return seq
}

func TestAppendReplay(t *testing.T) {
	recs := [][]byte{
		[]byte(`{"kind":"EventList","items":[]}`),
		{},
		bytes.Repeat([]byte("x"), 10<<20+4096), // the API server's batch limit plus slack
		[]byte("audit\x00binary\xff"),
	}
	s := openTest(t, Options{})
	for i, r := range recs {
		if seq := mustAppend(t, s, r); seq != uint64(i+1) {
			t.Fatalf("Append #%d = seq %d, want %d", i, seq, i+1)
		}
	}
	for _, tc := range []struct {
		name  string
		after uint64
		want  []uint64
	}{
		{"from the start", 0, []uint64{1, 2, 3, 4}},
		{"after a record", 2, []uint64{3, 4}},
		{"after the last", 4, nil},
		{"after the end", 99, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := replayAll(t, s, tc.after)
			if len(got) != len(tc.want) {
				t.Fatalf("Replay(%d) returned %d records, want %d", tc.after, len(got), len(tc.want))
			}
			for i, r := range got {
				if r.seq != tc.want[i] || !bytes.Equal(r.rec, recs[r.seq-1]) {
					t.Errorf("record %d: seq %d (%d bytes), want seq %d (%d bytes)", i, r.seq, len(r.rec), tc.want[i], len(recs[tc.want[i]-1]))
				}
			}
		})
	}
	t.Run("the callback owns the record", func(t *testing.T) {
		first := replayAll(t, s, 0)
		first[0].rec[0] = '!'
		if again := replayAll(t, s, 0); !bytes.Equal(again[0].rec, recs[0]) {
			t.Fatalf("mutating a replayed record changed the store: %q", again[0].rec)
		}
	})
	t.Run("a callback error stops the replay", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := s.Replay(0, func(uint64, []byte) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("Replay = %v after %d calls, want stop after 1", err, n)
		}
	})
}

func TestAppendCopiesInput(t *testing.T) {
	s := openTest(t, Options{})
	rec := []byte("original")
	mustAppend(t, s, rec)
	copy(rec, "mutated!")
	if got := replayAll(t, s, 0); string(got[0].rec) != "original" {
		t.Fatalf("record = %q, want original", got[0].rec)
	}
}

func TestPendingAndRelease(t *testing.T) {
	type step struct {
		op              string // append N bytes, snapshot, release, reopen
		n               int
		seq             uint64
		wantBytes, recs int64
		wantErr         error
	}
	steps := []step{
		{op: "append", n: 100, wantBytes: 100, recs: 1},
		{op: "append", n: 50, wantBytes: 150, recs: 2},
		{op: "append", n: 0, wantBytes: 150, recs: 3},
		{op: "append", n: 7, wantBytes: 157, recs: 4},
		{op: "release", seq: 1, wantBytes: 157, recs: 4, wantErr: ErrInvalid}, // no snapshot yet
		{op: "snapshot", seq: 2, wantBytes: 157, recs: 4},
		{op: "release", seq: 3, wantBytes: 157, recs: 4, wantErr: ErrInvalid}, // beyond the snapshot
		{op: "release", seq: 2, wantBytes: 7, recs: 2},
		{op: "release", seq: 1, wantBytes: 7, recs: 2}, // already released: no-op
		{op: "reopen", wantBytes: 7, recs: 2},
		{op: "snapshot", seq: 1, wantBytes: 7, recs: 2, wantErr: ErrInvalid}, // behind the release
		{op: "snapshot", seq: 5, wantBytes: 7, recs: 2, wantErr: ErrInvalid}, // ahead of the WAL
		{op: "snapshot", seq: 4, wantBytes: 7, recs: 2},
		{op: "release", seq: 4, wantBytes: 0, recs: 0},
		{op: "reopen", wantBytes: 0, recs: 0},
		{op: "append", n: 10, wantBytes: 10, recs: 1},
	}
	dir := t.TempDir()
	s := openAt(t, dir, Options{})
	for i, st := range steps {
		var err error
		switch st.op {
		case "append":
			_, err = s.Append(make([]byte, st.n))
		case "snapshot":
			err = s.SaveSnapshot(snapshotAt(st.seq))
		case "release":
			err = s.Release(st.seq)
		case "reopen":
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, dir, Options{})
		}
		if !errors.Is(err, st.wantErr) || (err != nil) != (st.wantErr != nil) {
			t.Fatalf("step %d %s %d: err %v, want %v", i, st.op, st.seq, err, st.wantErr)
		}
		if b, r := s.Pending(); b != st.wantBytes || r != st.recs {
			t.Fatalf("step %d %s: Pending = %d bytes, %d records; want %d, %d", i, st.op, b, r, st.wantBytes, st.recs)
		}
	}
	// Released records are gone; the rest replay; seqs continue.
	got := replayAll(t, s, 0)
	if len(got) != 1 || got[0].seq != 5 {
		t.Fatalf("after release, replay = %+v, want only seq 5", got)
	}
	if st := s.Stats(); st.LastSeq != 5 || st.ReleasedSeq != 4 || st.SnapshotSeq != 4 || st.DiskBytes == 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestWALFullAndRecovery(t *testing.T) {
	s := openTest(t, Options{MaxWALBytes: 1000})
	mustAppend(t, s, make([]byte, 400))
	mustAppend(t, s, make([]byte, 400))
	_, err := s.Append(make([]byte, 201))
	if !errors.Is(err, server.ErrWALFull) {
		t.Fatalf("Append over the bound = %v, want ErrWALFull", err)
	}
	if b, r := s.Pending(); b != 800 || r != 2 {
		t.Fatalf("a refused Append changed Pending: %d bytes %d records", b, r)
	}
	if seq := mustAppend(t, s, make([]byte, 200)); seq != 3 {
		t.Fatalf("Append exactly at the bound = seq %d, want 3", seq)
	}
	if _, err := s.Append(make([]byte, 1001)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of a record over the whole bound = %v, want ErrTooLarge", err)
	}
	if err := s.SaveSnapshot(snapshotAt(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(2); err != nil {
		t.Fatal(err)
	}
	if seq := mustAppend(t, s, make([]byte, 800)); seq != 4 {
		t.Fatalf("Append after Release = seq %d, want 4 (seqs are never reused)", seq)
	}
	if b, r := s.Pending(); b != 1000 || r != 2 {
		t.Fatalf("Pending = %d bytes %d records, want 1000, 2", b, r)
	}
}

func TestSeqNeverReused(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		appends              int
		snapshot, release    uint64
		wantNext             uint64
		wantPendingAfterOpen int64
	}{
		{"nothing released", 3, 0, 0, 4, 3},
		{"everything released", 3, 3, 3, 4, 0},
		{"snapshot only", 3, 3, 0, 4, 3},
		{"partly released", 5, 4, 2, 6, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openAt(t, dir, Options{})
			for range tc.appends {
				mustAppend(t, s, []byte("r"))
			}
			if tc.snapshot > 0 {
				if err := s.SaveSnapshot(snapshotAt(tc.snapshot)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.release > 0 {
				if err := s.Release(tc.release); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, dir, Options{})
			if _, r := s.Pending(); r != tc.wantPendingAfterOpen {
				t.Errorf("Pending records after reopen = %d, want %d", r, tc.wantPendingAfterOpen)
			}
			if seq := mustAppend(t, s, []byte("next")); seq != tc.wantNext {
				t.Fatalf("Append after reopen = seq %d, want %d", seq, tc.wantNext)
			}
		})
	}
}

// TestConcurrentAppendReplay runs writers against a processor that replays,
// snapshots and releases as it goes: every acknowledged record is processed
// exactly once, in sequence order, and an acknowledged record is visible to
// Replay as soon as Append returns.
func TestConcurrentAppendReplay(t *testing.T) {
	const writers, perWriter = 8, 150
	s := openTest(t, Options{MaxWALBytes: 1 << 20})
	var (
		mu    sync.Mutex
		acked = map[uint64]string{}
	)
	done := make(chan struct{})
	procErr := make(chan error, 1)
	seen := map[uint64]string{}
	go func() {
		var last uint64
		drain := func() error {
			return s.Replay(last, func(seq uint64, rec []byte) error {
				if seq <= last {
					return fmt.Errorf("seq %d replayed after %d", seq, last)
				}
				if _, dup := seen[seq]; dup {
					return fmt.Errorf("seq %d processed twice", seq)
				}
				seen[seq], last = string(rec), seq
				if seq%16 == 0 {
					if err := s.SaveSnapshot(snapshotAt(seq)); err != nil {
						return err
					}
					return s.Release(seq)
				}
				return nil
			})
		}
		for {
			select {
			case <-done:
				procErr <- drain()
				return
			default:
			}
			if err := drain(); err != nil {
				procErr <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				rec := fmt.Sprintf("w%d-%d", w, i)
				seq, err := s.Append([]byte(rec))
				if errors.Is(err, ErrWALFull) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				if v := s.wal.visibleSeq(); v < seq {
					errs <- fmt.Errorf("Append returned seq %d but only %d is visible", seq, v)
					return
				}
				mu.Lock()
				acked[seq] = rec
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(done)
	if err := <-procErr; err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(acked) {
		t.Fatalf("processed %d records, acknowledged %d", len(seen), len(acked))
	}
	for seq, rec := range acked {
		if seen[seq] != rec {
			t.Fatalf("seq %d: processed %q, acknowledged %q", seq, seen[seq], rec)
		}
	}
}

// TestSettleOutOfOrder drives the visibility mark directly: a record whose
// write finishes before an earlier one's waits for it, and a failed write
// settles without counting.
func TestSettleOutOfOrder(t *testing.T) {
	var w walState
	w.settled.L = &w.mu
	w.next, w.max = 1, 100
	s1, _ := w.reserve(10)
	s2, _ := w.reserve(20)
	s3, _ := w.reserve(30)
	if _, err := w.reserve(41); !errors.Is(err, ErrWALFull) {
		t.Fatalf("reserve over the bound = %v", err)
	}
	done3, done2 := make(chan struct{}), make(chan struct{})
	go func() { w.settle(s3, true); close(done3) }()
	go func() { w.settle(s2, false); close(done2) }()
	select {
	case <-done3:
		t.Fatal("seq 3 became visible before seq 1 settled")
	case <-done2:
		t.Fatal("seq 2 became visible before seq 1 settled")
	case <-time.After(50 * time.Millisecond):
	}
	if v := w.visibleSeq(); v != 0 {
		t.Fatalf("visible = %d before seq 1 settled", v)
	}
	w.settle(s1, true)
	<-done2
	<-done3
	if v := w.visibleSeq(); v != 3 {
		t.Fatalf("visible = %d, want 3", v)
	}
	if b, r := w.pending(); b != 40 || r != 2 {
		t.Fatalf("pending = %d bytes %d records, want 40, 2 (the failed write does not count)", b, r)
	}
}
