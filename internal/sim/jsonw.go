package sim

import (
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON appends for the hot paths: every record is built with
// these into a reused buffer, never with encoding/json.

// appendStr appends s as a JSON string. With html set, <, > and & are
// escaped as \u003c, \u003e and \u0026, as Go's encoding/json does (the
// kube-apiserver's audit log); protojson (Hubble, Tetragon) leaves them.
func appendStr[T ~string | ~[]byte](b []byte, s T, html bool) []byte {
	b = append(b, '"')
	safe := &jsonSafe
	if html {
		safe = &jsonSafeHTML
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe and jsonSafeHTML mark the bytes a JSON string holds as they are.
var jsonSafe, jsonSafeHTML = func() (a, h [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		if c != '"' && c != '\\' {
			a[c] = true
			h[c] = c != '<' && c != '>' && c != '&'
		}
	}
	return a, h
}()

// appendKey appends "key": for a key that needs no escaping.
func appendKey(b []byte, key string) []byte {
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendKV appends ,"key":"value" (or without the comma when first).
func appendKV(b []byte, key, val string, html bool) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' && b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = appendKey(b, key)
	return appendStr(b, val, html)
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendStrList appends a JSON array of strings.
func appendStrList(b []byte, l []string, html bool) []byte {
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, s, html)
	}
	return append(b, ']')
}

// timeFmt formats Unix nanosecond times, caching the date and clock of the
// last second formatted: records come in time order, so most share it.
type timeFmt struct {
	sec    int64
	prefix [19]byte // 2006-01-02T15:04:05
	valid  bool
}

func (f *timeFmt) secPrefix(ns int64) []byte {
	sec := floorDiv(ns, 1e9)
	if !f.valid || sec != f.sec {
		f.sec, f.valid = sec, true
		formatSecond(f.prefix[:], sec)
	}
	return f.prefix[:]
}

// micro appends a metav1.MicroTime: six fractional digits, always.
func (f *timeFmt) micro(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = append(b, f.secPrefix(ns)...)
	b = append(b, '.')
	b = appendFrac(b, floorMod(ns, 1e9)/1e3, 6)
	return append(b, 'Z', '"')
}

// nano appends an RFC 3339 time with nine fractional digits (Falco).
func (f *timeFmt) nano(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = append(b, f.secPrefix(ns)...)
	b = append(b, '.')
	b = appendFrac(b, floorMod(ns, 1e9), 9)
	return append(b, 'Z', '"')
}

// proto appends a google.protobuf.Timestamp as protojson writes it: 0, 3, 6
// or 9 fractional digits, as few as represent the value.
func (f *timeFmt) proto(b []byte, ns int64) []byte {
	b = append(b, '"')
	b = append(b, f.secPrefix(ns)...)
	frac := floorMod(ns, 1e9)
	switch {
	case frac == 0:
	case frac%1e6 == 0:
		b = append(b, '.')
		b = appendFrac(b, frac/1e6, 3)
	case frac%1e3 == 0:
		b = append(b, '.')
		b = appendFrac(b, frac/1e3, 6)
	default:
		b = append(b, '.')
		b = appendFrac(b, frac, 9)
	}
	return append(b, 'Z', '"')
}

// seconds appends an RFC 3339 time without fraction, unquoted
// (metav1.Time in manifests).
func (f *timeFmt) seconds(b []byte, ns int64) []byte {
	b = append(b, f.secPrefix(ns)...)
	return append(b, 'Z')
}

func appendFrac(b []byte, v int64, digits int) []byte {
	var tmp [9]byte
	for i := digits - 1; i >= 0; i-- {
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[:digits]...)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// formatSecond writes the UTC "YYYY-MM-DDTHH:MM:SS" of a Unix second.
func formatSecond(dst []byte, sec int64) {
	days := floorDiv(sec, 86400)
	rem := sec - days*86400
	y, m, d := civilFromDays(days)
	put := func(i, v, n int) {
		for j := n - 1; j >= 0; j-- {
			dst[i+j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	dst[4] = '-'
	put(5, m, 2)
	dst[7] = '-'
	put(8, d, 2)
	dst[10] = 'T'
	put(11, int(rem/3600), 2)
	dst[13] = ':'
	put(14, int(rem%3600/60), 2)
	dst[16] = ':'
	put(17, int(rem%60), 2)
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mp >= 10 {
		mm = mp - 9
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}
