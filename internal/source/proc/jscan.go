package proc

import (
	"encoding/json"
	"unicode/utf8"
)

// scanner is the validating JSON scanner of the fast paths. It reads one
// record in a single pass without building a tree. It never reports an
// error: when it meets anything it does not handle exactly as
// encoding/json would (a syntax error, a type mismatch, an escaped or
// mixed-case key that encoding/json might match case-insensitively), it
// gives up and the record is decoded again by the reference path, which
// produces the result or the precise error. The fuzz tests hold the two
// paths to the same results.
type scanner struct {
	b []byte
	i int
}

// maxScanDepth bounds the nesting the scanner follows; deeper records go
// to the reference path (encoding/json allows 10000).
const maxScanDepth = 64

func (s *scanner) reset(b []byte) { s.b, s.i = b, 0 }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// open consumes the '{' of an object.
func (s *scanner) open() bool {
	if s.peek() == '{' {
		s.i++
		return true
	}
	return false
}

// member reads the next member key of an object and the colon after it,
// leaving the scanner on the value. first is true right after '{'. At the
// closing brace it returns end.
func (s *scanner) member(first bool) (key []byte, end, ok bool) {
	s.ws()
	c := s.peek()
	if c == '}' {
		s.i++
		return nil, true, true
	}
	if !first {
		if c != ',' {
			return nil, false, false
		}
		s.i++
		s.ws()
		c = s.peek()
	}
	if c != '"' {
		return nil, false, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			key = s.b[start:j]
			s.i = j + 1
			s.ws()
			if s.peek() != ':' {
				return nil, false, false
			}
			s.i++
			s.ws()
			return key, false, true
		case c == '\\' || c < 0x20:
			return nil, false, false // escaped keys: leave matching to encoding/json
		}
	}
	return nil, false, false
}

// other skips the value of a member the caller does not read. The key must
// be one encoding/json could not match to a field either: lower-case ASCII
// keys cannot fold onto another lower-case key, anything else gives up.
func (s *scanner) other(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return s.skip(0)
}

// end reports whether only white space follows the value.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// skip validates and skips one value.
func (s *scanner) skip(depth int) bool {
	switch c := s.peek(); {
	case c == '"':
		_, _, ok := s.strRaw()
		return ok
	case c == '{':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		for first := true; ; first = false {
			_, end, ok := s.member(first)
			if !ok {
				return false
			}
			if end {
				return true
			}
			if !s.skip(depth + 1) {
				return false
			}
		}
	case c == '[':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.num()
		return ok
	}
	return false
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// null consumes a null literal if one is next.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.lit("null")
}

// num scans a number and returns its literal.
func (s *scanner) num() ([]byte, bool) {
	b, j := s.b, s.i
	digits := func() int {
		n := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
			n++
		}
		return n
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case digits() == 0:
		return nil, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return nil, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	lit := b[s.i:j]
	s.i = j
	return lit, true
}

// strRaw scans a string and returns its content between the quotes; plain
// is true when it is printable ASCII without escapes (the content is the
// value).
func (s *scanner) strRaw() (raw []byte, plain, ok bool) {
	start := s.i + 1
	plain = true
	for j := start; j < len(s.b); j++ {
		for j < len(s.b) && strPlain[s.b[j]] {
			j++
		}
		if j == len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], plain, true
		case c == '\\':
			plain = false
			j++
			if j >= len(s.b) {
				return nil, false, false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) || !isHex(s.b[j+1]) || !isHex(s.b[j+2]) || !isHex(s.b[j+3]) || !isHex(s.b[j+4]) {
					return nil, false, false
				}
				j += 4
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		case c >= 0x80:
			plain = false
		}
	}
	return nil, false, false
}

// strPlain marks the bytes a string may hold that need no attention:
// printable ASCII other than the quote and the backslash.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// strBytes scans a string value and returns its decoded bytes: the input
// itself when it needs no decoding, else a decoded copy.
func (s *scanner) strBytes() ([]byte, bool) {
	start := s.i
	raw, plain, ok := s.strRaw()
	if !ok {
		return nil, false
	}
	if plain || (!hasBackslash(raw) && utf8.Valid(raw)) {
		return raw, true
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return nil, false
	}
	return []byte(v), true
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// interner shares the strings that repeat from record to record
// (namespaces, pods, images, nodes, labels, binaries, rule names), up to a
// bound, so that decoding them does not allocate.
type interner struct {
	m map[string]string
}

const (
	maxInterned    = 1 << 16 // distinct strings kept
	maxInternedLen = 256     // longer strings are not kept
)

func (in *interner) bytes(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= maxInternedLen {
		if in.m == nil {
			in.m = make(map[string]string, 256)
		}
		if len(in.m) < maxInterned {
			in.m[s] = s
		}
	}
	return s
}
