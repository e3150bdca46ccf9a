package netpol

import "math/bits"

// bitset is a fixed-size set of small non-negative integers (class indexes).
// All bitsets combined in one operation have the same length.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

// fill sets the bits 0..n-1.
func (b bitset) fill(n int) {
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n & 63; r != 0 {
		b[len(b)-1] = (1 << uint(r)) - 1
	}
}

func (b bitset) clone() bitset {
	c := make(bitset, len(b))
	copy(c, b)
	return c
}

func (b bitset) isEmpty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

func (b bitset) equal(o bitset) bool {
	for i, w := range b {
		if w != o[i] {
			return false
		}
	}
	return true
}

// or sets b to b ∪ o.
func (b bitset) or(o bitset) {
	for i, w := range o {
		b[i] |= w
	}
}

// and returns b ∩ o and whether it is non-empty.
func (b bitset) and(o bitset) (bitset, bool) {
	r := make(bitset, len(b))
	any := uint64(0)
	for i, w := range b {
		r[i] = w & o[i]
		any |= r[i]
	}
	return r, any != 0
}

// andNot returns b \ o and whether it is non-empty.
func (b bitset) andNot(o bitset) (bitset, bool) {
	r := make(bitset, len(b))
	any := uint64(0)
	for i, w := range b {
		r[i] = w &^ o[i]
		any |= r[i]
	}
	return r, any != 0
}

// each calls f for every member in increasing order.
func (b bitset) each(f func(i int)) {
	for wi, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			f(wi<<6 + t)
			w &= w - 1
		}
	}
}
