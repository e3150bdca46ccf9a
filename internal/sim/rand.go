package sim

import (
	"hash/fnv"
	"time"
)

// rng is a SplitMix64 generator. It is written out rather than taken from
// math/rand so that the output stays byte-identical across Go releases: the
// standard library does not promise stable sequences for its helpers.
type rng struct{ s uint64 }

// newRNG returns the generator of one named stream. Every part of the
// simulation draws from its own stream, so that a change in one part does
// not shift the random choices of every other part.
func newRNG(seed uint64, stream string) rng {
	h := fnv.New64a()
	h.Write([]byte(stream))
	r := rng{s: seed ^ h.Sum64()}
	r.next()
	return r
}

// fork derives an independent generator for a sub-stream numbered i.
func (r *rng) fork(i uint64) rng {
	return rng{s: r.next() ^ (i * 0x9e3779b97f4a7c15)}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	return int(r.next() % uint64(n))
}

// rangeInt returns a number in [lo, hi].
func (r *rng) rangeInt(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// dur returns a duration in [lo, hi), in nanoseconds.
func (r *rng) dur(lo, hi time.Duration) int64 {
	if hi <= lo {
		return int64(lo)
	}
	return int64(lo) + int64(r.next()%uint64(hi-lo))
}

// exp returns an exponentially distributed duration with the given mean, in
// nanoseconds, capped at 20 means: the gaps of a Poisson process.
func (r *rng) exp(mean time.Duration) int64 {
	// -ln(u) with u in (0, 1], by a cheap series-free method: the float
	// logarithm is deterministic for the same input on every platform Go
	// supports (math.Log is pure Go or an exactly specified instruction).
	u := 1 - r.float()
	x := -ln(u)
	if x > 20 {
		x = 20
	}
	return int64(x * float64(mean))
}

// pick returns a random element of s; s must not be empty.
func pick[T any](r *rng, s []T) T { return s[r.intn(len(s))] }

// uuid returns a random version 4 UUID, as Kubernetes uses for UIDs and
// audit IDs.
func (r *rng) uuid() string {
	var b [36]byte
	r.uuidTo(b[:])
	return string(b[:])
}

const hexDigits = "0123456789abcdef"

// uuidTo writes a version 4 UUID into dst (36 bytes) without allocating.
func (r *rng) uuidTo(dst []byte) {
	a, b := r.next(), r.next()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	j := 0
	for i := 0; i < 16; i++ {
		var v byte
		if i < 8 {
			v = byte(a >> (56 - 8*i))
		} else {
			v = byte(b >> (56 - 8*(i-8)))
		}
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j] = hexDigits[v>>4]
		dst[j+1] = hexDigits[v&15]
		j += 2
	}
}

// hex returns n random lower-case hex digits.
func (r *rng) hex(n int) string {
	b := make([]byte, n)
	var v uint64
	for i := range b {
		if i%16 == 0 {
			v = r.next()
		}
		b[i] = hexDigits[v&15]
		v >>= 4
	}
	return string(b)
}

// suffix returns n characters of the alphabet Kubernetes uses for generated
// name suffixes and pod-template hashes (k8s.io/apimachinery
// pkg/util/rand.String: no vowels, no 0, 1, 3).
func (r *rng) suffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.intn(len(alphabet))]
	}
	return string(b)
}

// ln is the natural logarithm, for exp. It reduces x to [1, 2) by powers of
// two and uses the atanh series there, so that its result depends on nothing
// but IEEE arithmetic.
func ln(x float64) float64 {
	if x <= 0 {
		return -745 // ln of the smallest subnormal
	}
	const ln2 = 0.6931471805599453
	k := 0
	for x >= 2 {
		x /= 2
		k++
	}
	for x < 1 {
		x *= 2
		k--
	}
	// ln(x) = 2 atanh((x-1)/(x+1)), |y| <= 1/3.
	y := (x - 1) / (x + 1)
	y2 := y * y
	sum, term := 0.0, y
	for n := 1; n < 40; n += 2 {
		sum += term / float64(n)
		term *= y2
	}
	return 2*sum + float64(k)*ln2
}
