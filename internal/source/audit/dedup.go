package audit

// seenSet remembers 64-bit fingerprints of delivered requests in two
// generations, so that its memory is bounded whatever the event count.
//
// Fingerprints go into the young generation. When it holds limit entries it
// becomes the old generation and the previous old one is cleared and reused
// as the new young one. A fingerprint is therefore remembered for at least
// limit and at most 2*limit further deliveries. Each generation is an
// open-addressing table of at most 2*limit uint64 slots (load <= 1/2), so
// with the default limit of 2^21 (~2M) the set never exceeds 2 * 2^22 * 8
// bytes = 64 MiB, and it starts at a few KiB.
type seenSet struct {
	young, old fpTable
	limit      int
}

const defaultDedupLimit = 1 << 21

func newSeenSet(limit int) *seenSet {
	if limit < 8 {
		limit = 8
	}
	return &seenSet{limit: limit}
}

// add inserts fp and reports whether it was new.
func (s *seenSet) add(fp uint64) bool {
	if fp == 0 {
		fp = 1 // 0 marks an empty slot
	}
	if s.young.has(fp) || s.old.has(fp) {
		return false
	}
	if s.young.n >= s.limit {
		s.old, s.young = s.young, s.old
		s.young.clear()
	}
	s.young.insert(fp, 2*s.limit)
	return true
}

// fpTable is a linear-probing hash set of non-zero fingerprints, which are
// already uniformly distributed hashes, so the low bits index the table.
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

// insert adds fp (known absent), growing the table up to maxSlots.
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
	size := 2 * len(old)
	if size < 1024 {
		size = 1024
	}
	t.slots = make([]uint64, size)
	mask := uint64(size - 1)
	for _, fp := range old {
		if fp == 0 {
			continue
		}
		i := fp & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = fp
	}
}

func (t *fpTable) clear() {
	clear(t.slots)
	t.n = 0
}
