package flow

import (
	"net/netip"
	"time"
)

// Byte-level helpers shared by the scanners. None of them allocates on the
// common path (IPv4 addresses, decimal numbers, RFC 3339 times in UTC).

// parseAddr parses an IPv4 or IPv6 address. IPv4 dotted quads are parsed
// here without allocating, with netip's rules (exactly four decimal octets,
// no leading zeros); anything else goes to netip.ParseAddr. IPv4-mapped IPv6
// addresses are unmapped and zones dropped, so one host has one key.
func parseAddr(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if len(b) == 0 || len(b) > 64 || !hasColon(b) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func hasColon(b []byte) bool {
	for _, c := range b {
		if c == ':' {
			return true
		}
	}
	return false
}

// parseIPv4 parses a dotted quad exactly as netip.ParseAddr does.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	if len(b) < 7 || len(b) > 15 {
		return netip.Addr{}, false
	}
	part, i := 0, 0
	for part < 4 {
		start := i
		v := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int(b[i]-'0')
			i++
			if i-start > 3 {
				return netip.Addr{}, false
			}
		}
		n := i - start
		if n == 0 || v > 255 || (n > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		ip[part] = byte(v)
		part++
		if part < 4 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseUint parses unsigned decimal digits (leading zeros allowed) up to max.
func parseUint(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseRFC3339 parses an RFC 3339 timestamp. The common shape
// (YYYY-MM-DDTHH:MM:SS[.fraction]Z with up to nine fraction digits) is
// parsed here; anything else is handed to time.Parse, which therefore has
// the last word on every input the fast path does not fully accept.
func parseRFC3339(b []byte) (time.Time, bool) {
	if t, ok := fastRFC3339(b); ok {
		return t, true
	}
	if len(b) > 64 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func fastRFC3339(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < 1 || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := b[19 : len(b)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := digits(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for n := len(rest) - 1; n < 9; n++ {
			frac *= 10
		}
		nsec = frac
	}
	days := daysFromCivil(year, month, day)
	return time.Unix(days*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 for a proleptic Gregorian date
// with year >= 1 (the well-known era arithmetic).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// looksLikeReply is the port heuristic used when a source says nothing
// about direction (VPC flow logs, Hubble records without is_reply, with no
// SYN to go by). A record is taken for a reply only when its source port
// looks like a service port and its destination port like a client's
// ephemeral port:
//
//   - source port below 1024 and destination port 1024 or above, or
//   - source port below 32768 and destination port 32768 or above (Linux
//     picks ephemeral ports from 32768-60999, Windows from 49152; the
//     Kubernetes NodePort range 30000-32767 stays on the service side).
//
// Everything else, including two ports in the same class, is delivered as a
// request: a wrong guess then shows up as an extra edge instead of a lost
// one. docs/formats/flows.md discusses the failure modes.
func looksLikeReply(sport, dport uint16) bool {
	if sport == 0 || dport == 0 {
		return false
	}
	return (sport < 1024 && dport >= 1024) || (sport < 32768 && dport >= 32768)
}

// trimSpace trims ASCII spaces, tabs and line ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
