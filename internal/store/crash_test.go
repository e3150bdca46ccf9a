package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/server"
)

// The crash test re-executes this test binary as a writer process (the
// helper below) that appends from several goroutines and prints each
// acknowledged seq, while a processor goroutine replays, snapshots and
// releases every few records. The parent SIGKILLs it at a random moment,
// reopens the store and checks: the store opens; every acknowledged record
// is either covered by the snapshot or replays with its exact content;
// nothing is both (counted twice); sequence numbers are never reused.

const (
	envCrashDir    = "KUBEDELTA_STORE_CRASH_DIR"
	envCrashRound  = "KUBEDELTA_STORE_CRASH_ROUND"
	envCrashPolicy = "KUBEDELTA_STORE_CRASH_SYNC"
)

// crashPayload is the record for id: the id, a newline, then pseudo-random
// bytes derived from it, up to 64 KiB in all.
func crashPayload(id string) []byte {
	h := fnv.New64a()
	h.Write([]byte(id))
	sum := h.Sum64()
	b := make([]byte, len(id)+1+int(sum%(64<<10)))
	copy(b, id+"\n")
	r := rand.New(rand.NewPCG(sum, sum>>7))
	for i := len(id) + 1; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

func checkPayload(rec []byte) (string, bool) {
	id, _, ok := bytes.Cut(rec, []byte("\n"))
	return string(id), ok && bytes.Equal(rec, crashPayload(string(id)))
}

// The processor's state is the list of processed seqs, kept in the
// snapshot's Baseline blob as uvarint deltas.
func encodeSeqs(seqs []uint64) []byte {
	var b []byte
	var prev uint64
	for _, s := range seqs {
		b = binary.AppendUvarint(b, s-prev)
		prev = s
	}
	return b
}

func decodeSeqs(b []byte) ([]uint64, error) {
	var out []uint64
	var prev uint64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad seq list")
		}
		prev += d
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}

// TestHelperWriter is the child process of TestCrashRecovery; it does
// nothing in a normal test run.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		outMu.Unlock()
	}
	die := func(format string, args ...any) {
		say("ERR "+format, args...)
		os.Exit(3)
	}
	policy, _ := ParseSyncPolicy(os.Getenv(envCrashPolicy))
	s, err := Open(dir, Options{MaxWALBytes: 16 << 20, Sync: policy})
	if err != nil {
		die("open: %v", err)
	}
	snap, _, err := s.LoadSnapshot()
	if err != nil {
		die("load snapshot: %v", err)
	}
	processed, err := decodeSeqs(snap.Baseline)
	if err != nil {
		die("snapshot state: %v", err)
	}
	go func() {
		last := snap.Seq
		for {
			err := s.Replay(last, func(seq uint64, rec []byte) error {
				if _, ok := checkPayload(rec); !ok {
					return fmt.Errorf("record %d is corrupt (%d bytes)", seq, len(rec))
				}
				processed = append(processed, seq)
				last = seq
				if len(processed)%8 == 0 {
					st := server.Snapshot{Seq: seq, Baseline: encodeSeqs(processed), Counters: map[string]int64{"processed": int64(len(processed))}}
					if err := s.SaveSnapshot(st); err != nil {
						return err
					}
					return s.Release(seq)
				}
				return nil
			})
			if err != nil {
				die("processor: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	round := os.Getenv(envCrashRound)
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%s-g%d-i%d", round, g, i)
				seq, err := s.Append(crashPayload(id))
				if errors.Is(err, ErrWALFull) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					die("append: %v", err)
				}
				say("ack %d %s .", seq, id)
			}
		}()
	}
	say("ready")
	select {}
}

// runCrashRound starts the writer, kills it after a random delay once it has
// acknowledged something, and returns the acknowledged seq → id.
func runCrashRound(t *testing.T, dir string, round int, policy SyncPolicy, delay time.Duration) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashRound+"="+strconv.Itoa(round), envCrashPolicy+"="+policy.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	acked := map[uint64]string{}
	var bad []string
	handle := func(line string) {
		switch f := strings.Fields(line); {
		case len(f) == 4 && f[0] == "ack" && f[3] == ".":
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				bad = append(bad, line)
				return
			}
			if prev, dup := acked[seq]; dup {
				bad = append(bad, fmt.Sprintf("seq %d acknowledged twice (%s, %s)", seq, prev, f[2]))
			}
			acked[seq] = f[2]
		case line == "ready", strings.HasPrefix(line, "ack "): // a line cut by the kill
		default:
			bad = append(bad, line)
		}
	}
	timeout := time.After(60 * time.Second)
	// Wait for the first acknowledgement, then let it run for delay.
	for len(acked) == 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("round %d: writer exited before acknowledging anything: %v\nstderr: %s", round, bad, stderr.String())
			}
			handle(line)
		case <-timeout:
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: no acknowledgement within 60s", round)
		}
	}
	kill := time.After(delay)
	for killed := false; ; {
		select {
		case line, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				if !killed {
					t.Fatalf("round %d: writer exited on its own (%v): %v\nstderr: %s", round, err, bad, stderr.String())
				}
				if len(bad) > 0 {
					t.Fatalf("round %d: writer reported: %q\nstderr: %s", round, bad, stderr.String())
				}
				return acked
			}
			handle(line)
		case <-kill:
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(envCrashDir) != "" {
		t.Skip("running as the helper")
	}
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	acked := map[uint64]string{}
	var lastSeq uint64
	for round := range rounds {
		policy := []SyncPolicy{SyncAlways, SyncBatch}[round%2]
		delay := time.Duration(50+rng.IntN(700)) * time.Millisecond
		got := runCrashRound(t, dir, round, policy, delay)
		for seq, id := range got {
			if seq <= lastSeq {
				t.Fatalf("round %d: seq %d reused (the store had reached %d before)", round, seq, lastSeq)
			}
			acked[seq] = id
		}

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		snap, _, err := s.LoadSnapshot()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		processed, err := decodeSeqs(snap.Baseline)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if int64(len(processed)) != snap.Counters["processed"] {
			t.Fatalf("round %d: snapshot state has %d seqs, its counter says %d: state and counters saved apart", round, len(processed), snap.Counters["processed"])
		}
		inState := map[uint64]bool{}
		for i, seq := range processed {
			if seq > snap.Seq || (i > 0 && seq <= processed[i-1]) {
				t.Fatalf("round %d: processed seq %d out of order or beyond the snapshot's %d", round, seq, snap.Seq)
			}
			inState[seq] = true
		}
		replayedIDs := map[uint64]string{}
		var replayedBytes int64
		err = s.Replay(snap.Seq, func(seq uint64, rec []byte) error {
			id, ok := checkPayload(rec)
			if !ok {
				return fmt.Errorf("record %d is corrupt", seq)
			}
			if inState[seq] {
				return fmt.Errorf("record %d is in the snapshot and replays: counted twice", seq)
			}
			replayedIDs[seq] = id
			replayedBytes += int64(len(rec))
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for seq, id := range acked {
			if inState[seq] {
				continue
			}
			if got, ok := replayedIDs[seq]; !ok || got != id {
				t.Fatalf("round %d: acknowledged seq %d (%s) lost: not in the snapshot, replay has %q", round, seq, id, got)
			}
		}
		// Pending recomputed on open covers at least the replayable records
		// (records the snapshot covers but not yet released count too).
		if b, r := s.Pending(); r < int64(len(replayedIDs)) || b < replayedBytes {
			t.Fatalf("round %d: Pending = %d bytes %d records, replay has %d bytes %d records", round, b, r, replayedBytes, len(replayedIDs))
		}
		lastSeq = s.Stats().LastSeq
		t.Logf("round %d (%s, killed after %v): %d acknowledged, snapshot at %d with %d processed, %d to replay",
			round, policy, delay, len(got), snap.Seq, len(processed), len(replayedIDs))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
