package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// ipRange is an inclusive range of addresses of one family.
type ipRange struct{ from, to netip.Addr }

// ipBlock is a parsed NetworkPolicy ipBlock: CIDR minus the Except CIDRs.
type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
	key    string
}

// parseIPBlock parses b. Host bits set in a CIDR are ignored, as
// net.ParseCIDR (used by API validation before 1.33) ignored them.
func parseIPBlock(b *networkingv1.IPBlock) (*ipBlock, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(b.CIDR))
	if err != nil {
		return nil, fmt.Errorf("cidr %q: %w", b.CIDR, err)
	}
	p = unmapPrefix(p).Masked()
	blk := &ipBlock{cidr: p}
	keys := []string{p.String()}
	for i, e := range b.Except {
		ep, err := netip.ParsePrefix(strings.TrimSpace(e))
		if err != nil {
			return nil, fmt.Errorf("except[%d] %q: %w", i, e, err)
		}
		ep = unmapPrefix(ep).Masked()
		if ep.Addr().Is4() != p.Addr().Is4() || !p.Overlaps(ep) {
			// API validation rejects an except outside the CIDR; it cannot
			// remove anything, so skipping it changes nothing.
			continue
		}
		blk.except = append(blk.except, ep)
		keys = append(keys, ep.String())
	}
	slices.SortFunc(blk.except, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	slices.Sort(keys[1:])
	blk.key = strings.Join(keys, " except ")
	return blk, nil
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			bits = 0
		}
		return netip.PrefixFrom(p.Addr().Unmap(), bits)
	}
	return p
}

func (b *ipBlock) contains(a netip.Addr) bool {
	if !b.cidr.Contains(a) {
		return false
	}
	for _, e := range b.except {
		if e.Contains(a) {
			return false
		}
	}
	return true
}

// ranges returns the addresses of b as sorted disjoint ranges.
func (b *ipBlock) ranges() []ipRange {
	out := []ipRange{prefixRange(b.cidr)}
	for _, e := range b.except {
		out = subtractRange(out, prefixRange(e))
	}
	return out
}

func prefixRange(p netip.Prefix) ipRange {
	p = p.Masked()
	a := p.Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(a)
	return ipRange{p.Addr(), last}
}

// subtractRange removes x from the sorted disjoint ranges rs.
func subtractRange(rs []ipRange, x ipRange) []ipRange {
	var out []ipRange
	for _, r := range rs {
		if r.to.Less(x.from) || x.to.Less(r.from) || r.from.Is4() != x.from.Is4() {
			out = append(out, r)
			continue
		}
		if r.from.Less(x.from) {
			out = append(out, ipRange{r.from, x.from.Prev()})
		}
		if x.to.Less(r.to) {
			out = append(out, ipRange{x.to.Next(), r.to})
		}
	}
	return out
}

var (
	allIPv4 = ipRange{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255")}
	allIPv6 = ipRange{netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}
)

// rangeCIDRs returns the shortest list of prefixes covering exactly r.
func rangeCIDRs(r ipRange) []netip.Prefix {
	var out []netip.Prefix
	from := r.from
	for {
		bits := from.BitLen()
		for l := 0; l <= bits; l++ {
			p := netip.PrefixFrom(from, l)
			if p.Masked().Addr() != from {
				continue
			}
			pr := prefixRange(p)
			if pr.to.Compare(r.to) > 0 {
				continue
			}
			out = append(out, p)
			from = pr.to
			break
		}
		if from.Compare(r.to) >= 0 {
			return out
		}
		from = from.Next()
	}
}

// ipEntry is a set of address ranges allowed on a set of ports.
type ipEntry struct {
	ranges []ipRange
	ports  portID
}

// ipPartition splits the address space covered by entries into disjoint
// ranges, each with the union of the ports of the entries covering it, and
// groups the ranges by port set. Ranges with no ports are dropped.
func ipPartition(t *portTable, entries []ipEntry) []ipEntry {
	if len(entries) == 0 {
		return nil
	}
	type event struct {
		at    netip.Addr
		entry int
		start bool
	}
	var byPorts = map[portID][]ipRange{}
	for _, v4 := range []bool{true, false} {
		var evs []event
		for i, e := range entries {
			for _, r := range e.ranges {
				if r.from.Is4() != v4 {
					continue
				}
				evs = append(evs, event{at: r.from, entry: i, start: true})
				if n := r.to.Next(); n.IsValid() && n.Is4() == v4 {
					evs = append(evs, event{at: n, entry: i})
				}
			}
		}
		if len(evs) == 0 {
			continue
		}
		slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
		active := make([]int, len(entries))
		last := allIPv6.to
		if v4 {
			last = allIPv4.to
		}
		for i := 0; i < len(evs); {
			at := evs[i].at
			for ; i < len(evs) && evs[i].at == at; i++ {
				if evs[i].start {
					active[evs[i].entry]++
				} else {
					active[evs[i].entry]--
				}
			}
			end := last
			if i < len(evs) {
				end = evs[i].at.Prev()
			}
			ps := psNone
			for j, n := range active {
				if n > 0 {
					ps = t.unionID(ps, entries[j].ports)
				}
			}
			if ps == psNone {
				continue
			}
			rs := byPorts[ps]
			if k := len(rs); k > 0 && rs[k-1].to.Next() == at {
				rs[k-1].to = end
			} else {
				rs = append(rs, ipRange{at, end})
			}
			byPorts[ps] = rs
		}
	}
	out := make([]ipEntry, 0, len(byPorts))
	for ps, rs := range byPorts {
		out = append(out, ipEntry{ranges: rs, ports: ps})
	}
	slices.SortFunc(out, func(a, b ipEntry) int { return a.ranges[0].from.Compare(b.ranges[0].from) })
	return out
}

// rangesCIDRStrings renders ranges as CIDR strings.
func rangesCIDRStrings(rs []ipRange) []string {
	var out []string
	for _, r := range rs {
		for _, p := range rangeCIDRs(r) {
			out = append(out, p.String())
		}
	}
	return out
}

// coversAll reports whether rs is every IPv4 and every IPv6 address.
func coversAll(rs []ipRange) bool {
	has4, has6 := false, false
	for _, r := range rs {
		has4 = has4 || r == allIPv4
		has6 = has6 || r == allIPv6
	}
	return has4 && has6
}
