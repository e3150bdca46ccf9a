package audit

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSeenSetRotation checks the documented window: a fingerprint is
// remembered for at least limit and at most 2*limit further insertions.
func TestSeenSetRotation(t *testing.T) {
	const limit = 1000
	s := newSeenSet(limit)
	rng := rand.New(rand.NewPCG(1, 2))
	fps := make([]uint64, 3*limit+1)
	for i := range fps {
		fps[i] = rng.Uint64()
	}
	for i, fp := range fps {
		if !s.add(fp) {
			t.Fatalf("fingerprint %d reported as seen on first insertion", i)
		}
		// Everything inserted during the last limit insertions is known.
		for _, j := range []int{i, i - 1, i - limit/2, i - limit + 1} {
			if j >= 0 && s.add(fps[j]) {
				t.Fatalf("after %d insertions, fingerprint %d (within the window) was forgotten", i+1, j)
			}
		}
	}
	// 3001 insertions: rotations after 1000 and 2000 and 3000; generations
	// now hold [2000, 3000) and [3000]. 0..1999 are forgotten.
	if !s.add(fps[0]) || !s.add(fps[1999]) {
		t.Error("fingerprints older than 2*limit insertions are still remembered")
	}
	for _, tab := range []fpTable{s.young, s.old} {
		if len(tab.slots) > 2*2048 || tab.n > limit {
			t.Errorf("generation grew past its bound: %d slots, %d entries", len(tab.slots), tab.n)
		}
	}
}

// TestSeenSetDefaultBound checks the memory bound stated in dedup.go for the
// default limit: at most 2 * 2^22 slots of 8 bytes (64 MiB).
func TestSeenSetDefaultBound(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 5M fingerprints")
	}
	s := newSeenSet(defaultDedupLimit)
	for i := range uint64(5_000_000) {
		s.add(i*0x9e3779b97f4a7c15 + 1)
	}
	bytes := 8 * (len(s.young.slots) + len(s.old.slots))
	if bytes > 64<<20 {
		t.Errorf("dedup memory %d bytes, bound is 64 MiB", bytes)
	}
	if s.young.n+s.old.n < defaultDedupLimit {
		t.Errorf("remembers %d fingerprints, want at least %d", s.young.n+s.old.n, defaultDedupLimit)
	}
}

// TestDecoderDedupWindow checks the window through the decoder: a copy of a
// request is a duplicate within the window and delivered again after it.
func TestDecoderDedupWindow(t *testing.T) {
	var lines []string
	for i := range 40 {
		lines = append(lines, stageEvent(fmt.Sprintf("id%02d", i), rc, "get", "/healthz", ""))
	}
	d := NewDecoder(Options{})
	d.seen = newSeenSet(8)
	input := strings.Join(lines[:5], "\n") + "\n" + lines[0] + "\n" + strings.Join(lines[5:], "\n") + "\n" + lines[0]
	got := decodeString(t, d, input)
	if st := d.Stats(); st.Duplicates != 1 || len(got) != 41 {
		t.Errorf("delivered %d, %d duplicates; want 41 and 1 (the early copy is a duplicate, the late one is past the window)", len(got), st.Duplicates)
	}
}
