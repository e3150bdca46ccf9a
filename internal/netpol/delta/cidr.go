package delta

import (
	"net/netip"
	"slices"
)

// aggregateCIDRs turns addresses into as few networks as the evidence
// supports: each address becomes its network of v4Bits (IPv4) or v6Bits
// (IPv6) bits; duplicates and networks inside others are dropped; two
// halves of a network both present become the network. While more than
// max networks remain (max > 0), the longest prefixes of the family with
// the most networks are shortened by one bit, which widens the allowance;
// the caller says so; both families at /0 stop it. The result is sorted,
// IPv4 first.
func aggregateCIDRs(addrs []netip.Addr, v4Bits, v6Bits, max int) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		bits := v4Bits
		if a.Is6() {
			bits = v6Bits
		}
		if p, err := a.Prefix(min(bits, a.BitLen())); err == nil {
			ps = append(ps, p)
		}
	}
	ps = mergePrefixes(ps)
	for max > 0 && len(ps) > max {
		n := len(ps)
		ps = shortenLongest(ps)
		if len(ps) == n && ps[0].Bits() == 0 && ps[n-1].Bits() == 0 {
			break // 0.0.0.0/0 and ::/0: as wide as it gets
		}
	}
	return ps
}

// mergePrefixes sorts, removes duplicates and contained networks, and
// joins sibling halves, until nothing changes.
func mergePrefixes(ps []netip.Prefix) []netip.Prefix {
	for {
		slices.SortFunc(ps, comparePrefix)
		out := ps[:0]
		changed := false
		for _, p := range ps {
			if n := len(out); n > 0 {
				last := out[n-1]
				if last.Overlaps(p) {
					// Sorted by address then length: last contains p.
					changed = changed || last != p
					continue
				}
				if parent, ok := siblings(last, p); ok {
					out[n-1] = parent
					changed = true
					continue
				}
			}
			out = append(out, p)
		}
		ps = out
		if !changed {
			return ps
		}
	}
}

// siblings reports whether a and b are the two halves of one network.
func siblings(a, b netip.Prefix) (netip.Prefix, bool) {
	if a.Bits() != b.Bits() || a.Bits() == 0 || a.Addr().Is4() != b.Addr().Is4() {
		return netip.Prefix{}, false
	}
	pa, _ := a.Addr().Prefix(a.Bits() - 1)
	pb, _ := b.Addr().Prefix(b.Bits() - 1)
	return pa, pa == pb
}

// shortenLongest widens the longest prefixes of the family with more
// networks by one bit.
func shortenLongest(ps []netip.Prefix) []netip.Prefix {
	n4 := 0
	for _, p := range ps {
		if p.Addr().Is4() {
			n4++
		}
	}
	v4 := n4 >= len(ps)-n4
	longest := -1
	for _, p := range ps {
		if p.Addr().Is4() == v4 && p.Bits() > longest {
			longest = p.Bits()
		}
	}
	if longest <= 0 {
		v4 = !v4 // that family is one /0 already: shorten the other
		for _, p := range ps {
			if p.Addr().Is4() == v4 && p.Bits() > longest {
				longest = p.Bits()
			}
		}
		if longest <= 0 {
			return ps
		}
	}
	for i, p := range ps {
		if p.Addr().Is4() == v4 && p.Bits() == longest {
			ps[i], _ = p.Addr().Prefix(longest - 1)
		}
	}
	return mergePrefixes(ps)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// exceptFor returns the networks of nets that lie inside p and are not p
// itself: the pod networks an external ipBlock must except so that it
// stays external (ipBlocks also match pod addresses).
func exceptFor(p netip.Prefix, nets []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range nets {
		if n.Addr().Is4() != p.Addr().Is4() || n.Bits() <= p.Bits() {
			continue
		}
		if p.Contains(n.Addr()) {
			out = append(out, n)
		}
	}
	return slices.DeleteFunc(mergePrefixes(out), func(n netip.Prefix) bool { return n == p })
}
