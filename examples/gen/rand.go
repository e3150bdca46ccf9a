package main

import (
	"fmt"
	"hash/fnv"
	"time"
)

// rng is a SplitMix64 generator. It is written out here rather than taken
// from math/rand so that the examples stay byte-identical across Go
// releases: the standard library does not promise stable sequences for its
// helper methods.
type rng struct{ s uint64 }

// newRNG returns a generator for one named stream. Each part of the example
// draws from its own stream, so adding events to one part does not shift the
// random choices of every other part.
func newRNG(seed uint64, stream string) *rng {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return &rng{s: seed ^ h.Sum64()}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("intn: n <= 0")
	}
	return int(r.next() % uint64(n))
}

// rangeInt returns a number in [lo, hi].
func (r *rng) rangeInt(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// dur returns a duration in [lo, hi).
func (r *rng) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.next()%uint64(hi-lo))
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// uuid returns a random (version 4) UUID, as Kubernetes uses for UIDs and
// audit IDs.
func (r *rng) uuid() string {
	a, b := r.next(), r.next()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// hex returns n random lower-case hex digits.
func (r *rng) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.intn(16)]
	}
	return string(b)
}

// suffix returns n characters from the alphabet Kubernetes uses for
// generated name suffixes and pod-template hashes (no vowels, no 0/1/3).
func (r *rng) suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.intn(len(alphabet))]
	}
	return string(b)
}

// mac returns a locally administered unicast MAC address.
func (r *rng) mac() string {
	v := r.next()
	b0 := byte(v>>40)&0xfc | 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b0, byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
