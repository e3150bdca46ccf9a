package flow

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jscan is a small JSON scanner over one record (one line). The decoders
// walk the members they need and skip the rest; skipped subtrees are checked
// for balanced brackets and terminated strings only, which is what lets a
// 2 KB Hubble record be read in about a microsecond.
//
// Values that are kept follow encoding/json: escapes are decoded, invalid
// UTF-8 becomes U+FFFD, raw control characters are rejected, null means
// absent. The scanner does not allocate once its buffers have grown.
type jscan struct {
	b       []byte
	i       int
	err     *fieldError
	path    []string // enclosing field names, for error messages
	lastKey []byte   // the member key read last, named by fieldKey
	stack   []byte   // open brackets while skipping
	sbuf    []byte   // decoded string value; valid until the next string read
	kbuf    []byte   // decoded key; valid until the next key read
}

func (s *jscan) reset(b []byte) {
	s.b, s.i, s.err, s.path = b, 0, nil, s.path[:0]
}

// push and pop maintain the path of enclosing fields that error messages
// name ("flow.IP.source"); they do not allocate once the stack has grown.
func (s *jscan) push(name string) { s.path = append(s.path, name) }
func (s *jscan) pop()             { s.path = s.path[:len(s.path)-1] }

// fail records the first error and returns false, so parsers can write
// `return s.fail(...)`. The field is named relative to the current path.
func (s *jscan) fail(field, msg string) bool {
	if s.err == nil {
		s.err = errField(s.fieldPath(field), msg)
	}
	return false
}

// fieldKey, passed as a field name, stands for the key read last: callers
// that handle several spellings of a key (node_name, nodeName) or skip
// unknown members name the key as written without converting it to a
// string on the happy path.
const fieldKey = "\x00key"

func (s *jscan) fieldPath(field string) string {
	if field == fieldKey {
		field = string(s.lastKey)
	}
	if len(s.path) == 0 {
		return field
	}
	p := strings.Join(s.path, ".")
	if field == "" {
		return p
	}
	return p + "." + field
}

// syntax records a JSON syntax error at the current offset.
func (s *jscan) syntax(field string) bool {
	what := "end of line"
	if s.i < len(s.b) {
		what = strconv.QuoteRune(rune(s.b[s.i]))
		if s.b[s.i] >= utf8.RuneSelf {
			what = "byte " + strconv.Itoa(int(s.b[s.i]))
		}
	}
	return s.fail(field, "invalid JSON at byte "+strconv.Itoa(s.i+1)+": unexpected "+what)
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jscan) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end checks that nothing but white space follows the top-level value.
func (s *jscan) end() bool {
	s.ws()
	if s.i != len(s.b) {
		return s.syntax("")
	}
	return true
}

// scanStr moves past the string starting at s.i (which holds '"') and
// returns the bounds of its raw content and whether it contains escapes.
// It looks at eight bytes at a time for a quote or a backslash.
func (s *jscan) scanStr() (start, end int, esc, ok bool) {
	b := s.b
	start = s.i + 1
	i := start
	for {
		for i+8 <= len(b) {
			m := quoteOrBackslash(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			s.i = len(b)
			return 0, 0, false, false
		}
		if b[i] == '"' {
			s.i = i + 1
			return start, i, esc, true
		}
		esc = true
		i += 2 // the backslash and the byte it escapes
	}
}

// quoteOrBackslash has the high bit set in the lowest byte of v that is a
// '"' or a '\\' (bytes above the first match may be set spuriously).
func quoteOrBackslash(v uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := v ^ (lo * '"')
	bs := v ^ (lo * '\\')
	return ((q-lo)&^q | (bs-lo)&^bs) & hi
}

// str reads a string value (or null). The returned bytes are valid until
// the next string read.
func (s *jscan) str(field string) (v []byte, present, ok bool) {
	s.ws()
	switch s.peek() {
	case '"':
	case 'n':
		return nil, false, s.null(field)
	default:
		return nil, false, s.typeErr(field, "a string")
	}
	start, end, esc, ok := s.scanStr()
	if !ok {
		return nil, false, s.fail(field, "unterminated string")
	}
	raw := s.b[start:end]
	if !esc {
		for _, c := range raw {
			if c < 0x20 {
				return nil, false, s.fail(field, "control character in string")
			}
		}
		return raw, true, true
	}
	out, ok := unquote(s.sbuf[:0], raw)
	if !ok {
		return nil, false, s.fail(field, "invalid escape in string")
	}
	s.sbuf = out
	return out, true, true
}

// key reads an object key and the colon after it.
func (s *jscan) key() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, s.syntax("")
	}
	start, end, esc, ok := s.scanStr()
	if !ok {
		return nil, s.fail("", "unterminated string")
	}
	k := s.b[start:end]
	if esc {
		out, ok := unquote(s.kbuf[:0], k)
		if !ok {
			return nil, s.fail("", "invalid escape in key")
		}
		s.kbuf = out
		k = out
	}
	s.lastKey = k
	s.ws()
	if s.peek() != ':' {
		return nil, s.syntax("")
	}
	s.i++
	return k, true
}

// obj opens an object value (or reads null).
func (s *jscan) obj(field string) (present, ok bool) {
	s.ws()
	switch s.peek() {
	case '{':
		s.i++
		return true, true
	case 'n':
		return false, s.null(field)
	}
	return false, s.typeErr(field, "an object")
}

// member advances to the next key of the object being read; first is true
// on the first call after obj. It returns a nil key at the closing brace.
func (s *jscan) member(first bool) ([]byte, bool) {
	s.ws()
	c := s.peek()
	if c == '}' {
		s.i++
		return nil, true
	}
	if !first {
		if c != ',' {
			return nil, s.syntax("")
		}
		s.i++
		s.ws()
	}
	return s.key()
}

// arr opens an array value (or reads null).
func (s *jscan) arr(field string) (present, ok bool) {
	s.ws()
	switch s.peek() {
	case '[':
		s.i++
		return true, true
	case 'n':
		return false, s.null(field)
	}
	return false, s.typeErr(field, "an array")
}

// elem reports whether another element follows in the array being read.
func (s *jscan) elem(first bool) (more, ok bool) {
	s.ws()
	c := s.peek()
	if c == ']' && first {
		s.i++
		return false, true
	}
	if first {
		return true, true
	}
	switch c {
	case ']':
		s.i++
		return false, true
	case ',':
		s.i++
		return true, true
	}
	return false, s.syntax("")
}

// uint reads a non-negative integer, as a JSON number or a quoted decimal
// (protojson writes 64-bit integers quoted), up to max.
func (s *jscan) uint(field string, max uint64) (v uint64, present, ok bool) {
	s.ws()
	c := s.peek()
	switch {
	case c == 'n':
		return 0, false, s.null(field)
	case c == '"':
		raw, _, ok := s.str(field)
		if !ok {
			return 0, false, false
		}
		v, ok := parseUint(raw, max)
		if !ok {
			return 0, false, s.fail(field, "invalid unsigned integer "+strconv.Quote(string(raw)))
		}
		return v, true, true
	case c >= '0' && c <= '9':
		start := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		num := s.b[start:s.i]
		if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
			return 0, false, s.fail(field, "not an integer")
		}
		if len(num) > 1 && num[0] == '0' {
			return 0, false, s.syntax(field)
		}
		v, ok := parseUint(num, max)
		if !ok {
			return 0, false, s.fail(field, "out of range: "+string(num))
		}
		return v, true, true
	case c == '-':
		return 0, false, s.fail(field, "negative number")
	}
	return 0, false, s.typeErr(field, "an unsigned integer")
}

// boolean reads true, false or null.
func (s *jscan) boolean(field string) (v, present, ok bool) {
	s.ws()
	switch s.peek() {
	case 't':
		return true, true, s.lit("true", field)
	case 'f':
		return false, true, s.lit("false", field)
	case 'n':
		return false, false, s.null(field)
	}
	return false, false, s.typeErr(field, "a boolean")
}

func (s *jscan) null(field string) bool { return s.lit("null", field) }

func (s *jscan) lit(word, field string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return s.syntax(field)
	}
	s.i += len(word)
	return true
}

func (s *jscan) typeErr(field, want string) bool {
	if s.i >= len(s.b) {
		return s.syntax(field)
	}
	return s.fail(field, "expected "+want)
}

// skip moves past one value of any type.
func (s *jscan) skip(field string) bool {
	s.ws()
	switch s.peek() {
	case '"':
		if _, _, _, ok := s.scanStr(); !ok {
			return s.fail(field, "unterminated string")
		}
		return true
	case '{', '[':
		return s.skipNested(field)
	case 't':
		return s.lit("true", field)
	case 'f':
		return s.lit("false", field)
	case 'n':
		return s.null(field)
	}
	return s.skipNumber(field)
}

func (s *jscan) skipNumber(field string) bool {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	if s.i == start {
		return s.syntax(field)
	}
	return true
}

// skipNested skips an object or array, checking that brackets balance.
func (s *jscan) skipNested(field string) bool {
	st := s.stack[:0]
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, _, _, ok := s.scanStr(); !ok {
				s.stack = st
				return s.fail(field, "unterminated string")
			}
			continue
		case '{', '[':
			st = append(st, c)
		case '}', ']':
			open := byte('{')
			if c == ']' {
				open = '['
			}
			if len(st) == 0 || st[len(st)-1] != open {
				s.stack = st
				return s.syntax(field)
			}
			st = st[:len(st)-1]
			if len(st) == 0 {
				s.i++
				s.stack = st
				return true
			}
		}
		s.i++
	}
	s.stack = st
	return s.syntax(field)
}

// unquote decodes the escapes of a JSON string's raw content into dst, with
// encoding/json's rules: lone surrogates and invalid UTF-8 become U+FFFD,
// raw control characters are an error.
func unquote(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return dst, false
			}
			switch raw[i+1] {
			case '"', '\\', '/':
				dst = append(dst, raw[i+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(raw[i+2:])
				if !ok {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if r2, ok := hex4(raw[i+2:]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								dst = utf8.AppendRune(dst, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < 0x20:
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// enum reads a protobuf enum as protojson writes it: the value's name as a
// string or, with UseEnumNumbers, its number.
func (s *jscan) enum(field string) (name []byte, num uint64, isNum, present, ok bool) {
	s.ws()
	c := s.peek()
	if c >= '0' && c <= '9' {
		num, present, ok = s.uint(field, 1<<31-1)
		return nil, num, true, present, ok
	}
	if c == '"' || c == 'n' {
		name, present, ok = s.str(field)
		return name, 0, false, present, ok
	}
	return nil, 0, false, false, s.typeErr(field, "an enum name or number")
}
