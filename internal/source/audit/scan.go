package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the JSON primitives the decoder is built on: a string
// scanner with a word-at-a-time fast path, an unescaper that matches
// encoding/json exactly (invalid UTF-8 and lone surrogates become U+FFFD), a
// number scanner, and valueScanner, a validating, resumable skipper for
// values the decoder does not read (request bodies, user.extra, ...).
//
// Nothing here recurses and every loop advances through the input, so no
// input can make the decoder panic, overflow the stack or loop forever.

// maxDepth is the deepest nesting accepted, counted from the top-level value.
// It is encoding/json's limit, so both decoders agree on what is valid.
const maxDepth = 10000

// errEnd means the input ended between two tokens before the value was
// complete. Only that condition may be resumed by feeding more input (the
// next line of a pretty-printed document); every other error is final.
var errEnd = errors.New("unexpected end of input")

// syntaxError is a JSON syntax error at byte offset pos of the buffer being
// parsed.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func synErr(pos int, format string, args ...any) error {
	return &syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// quoteChar renders the byte at b[i] for an error message.
func quoteChar(b []byte, i int) string {
	if i >= len(b) {
		return "end of input"
	}
	c := b[i]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// String flags reported by scanString.
const (
	strEscaped  = 1 << iota // holds a backslash escape
	strNonASCII             // holds a byte >= 0x80 (may be invalid UTF-8)
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialBytes returns a mask whose lowest set bit is the high bit of the
// first of the 8 bytes in x (little-endian) that is a quote, a backslash, a
// control character or a non-ASCII byte; 0 if there is none. (Bits above the
// lowest may be spurious, from borrows; only the lowest is used.)
func specialBytes(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((x-lsb*0x20)&^x | (q-lsb)&^q | (s-lsb)&^s | x) & msb
}

// scanString scans the JSON string whose opening quote is b[i] and returns
// the index just past its closing quote, and strEscaped/strNonASCII flags.
func scanString(b []byte, i int) (end int, flags uint8, err error) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return j, flags, synErr(i, "unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, flags, nil
		case c == '\\':
			flags |= strEscaped
			if j+1 >= len(b) {
				return j, flags, synErr(i, "unterminated string")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || hex4(b[j+2:j+6]) < 0 {
					return j, flags, synErr(j, "invalid \\u escape in string")
				}
				j += 6
			default:
				return j, flags, synErr(j, "invalid escape %s in string", quoteChar(b, j+1))
			}
		case c < 0x20:
			return j, flags, synErr(j, "invalid control character 0x%02x in string", c)
		case c >= 0x80:
			flags |= strNonASCII
			j++
		default:
			j++
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendUnquoted appends the decoded content of a scanned JSON string (s
// excludes the quotes) to dst. It follows encoding/json: escapes are
// decoded, surrogate pairs joined, and lone surrogates and invalid UTF-8
// bytes replaced by U+FFFD.
func appendUnquoted(dst, s []byte, flags uint8) []byte {
	if flags&strEscaped == 0 && (flags&strNonASCII == 0 || utf8.Valid(s)) {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i += 2
			switch s[i-1] {
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
				r := hex4(s[i:])
				if r < 0 { // cannot happen after scanString
					r = utf8.RuneError
				} else {
					i += 4
				}
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:])); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, s[i-1])
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// scanNumber scans a JSON number starting at b[i] and returns the index past
// it.
func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	default:
		return j, synErr(j, "invalid character %s looking for a value", quoteChar(b, j))
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || !isDigit(b[j]) {
			return j, synErr(j, "invalid character %s after decimal point in number", quoteChar(b, j))
		}
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || !isDigit(b[j]) {
			return j, synErr(j, "invalid character %s in exponent of number", quoteChar(b, j))
		}
		for j++; j < len(b) && isDigit(b[j]); j++ {
		}
	}
	return j, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanLiteral scans true, false or null at b[i].
func scanLiteral(b []byte, i int) (int, error) {
	var lit string
	switch b[i] {
	case 't':
		lit = "true"
	case 'f':
		lit = "false"
	default:
		lit = "null"
	}
	for k := 1; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, synErr(i+k, "invalid character %s in literal %s", quoteChar(b, i+k), lit)
		}
	}
	return i + len(lit), nil
}

func isNull(b []byte, i int) bool {
	return i+4 <= len(b) && b[i] == 'n' && b[i+1] == 'u' && b[i+2] == 'l' && b[i+3] == 'l'
}

// Scanner states: what the next token must be.
const (
	stValue        = iota // a value
	stValueOrClose        // a value or ']' (just after '[')
	stKeyOrClose          // a key or '}' (just after '{')
	stKey                 // a key (after ',' in an object)
	stColon               // ':' after a key
	stCommaOrClose        // ',' or the container's closing bracket
	stDone                // the value is complete
)

// valueScanner validates one JSON value token by token. Its input may be
// fed in pieces that end between tokens, which is always the case at the end
// of a line: JSON strings cannot hold a raw newline, and numbers and literals
// cannot hold whitespace.
type valueScanner struct {
	stack []byte // open containers, '{' or '['
	state uint8
	base  int // containers enclosing the value in the whole document
}

func (s *valueScanner) reset(base int) {
	s.stack = s.stack[:0]
	s.state = stValue
	s.base = base
}

func (s *valueScanner) push(c byte, i int) error {
	if s.base+len(s.stack)+1 > maxDepth {
		return synErr(i, "exceeded max nesting depth %d", maxDepth)
	}
	s.stack = append(s.stack, c)
	if c == '{' {
		s.state = stKeyOrClose
	} else {
		s.state = stValueOrClose
	}
	return nil
}

// closed records the end of a value: the whole value if no container is
// open, else one element of the innermost container.
func (s *valueScanner) closed() {
	if len(s.stack) == 0 {
		s.state = stDone
	} else {
		s.state = stCommaOrClose
	}
}

// scan advances from b[i]. It returns the index past the value and true when
// the value is complete, or len(b) and false when b ended between tokens.
func (s *valueScanner) scan(b []byte, i int) (int, bool, error) {
	var err error
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return i, false, nil
		}
		c := b[i]
		switch s.state {
		case stValue, stValueOrClose:
			switch {
			case c == ']' && s.state == stValueOrClose:
				s.stack = s.stack[:len(s.stack)-1]
				i++
				s.closed()
			case c == '{' || c == '[':
				if err = s.push(c, i); err != nil {
					return i, false, err
				}
				i++
			case c == '"':
				if i, _, err = scanString(b, i); err != nil {
					return i, false, err
				}
				s.closed()
			case c == 't' || c == 'f' || c == 'n':
				if i, err = scanLiteral(b, i); err != nil {
					return i, false, err
				}
				s.closed()
			default:
				if i, err = scanNumber(b, i); err != nil {
					return i, false, err
				}
				s.closed()
			}
		case stKeyOrClose, stKey:
			switch {
			case c == '}' && s.state == stKeyOrClose:
				s.stack = s.stack[:len(s.stack)-1]
				i++
				s.closed()
			case c == '"':
				if i, _, err = scanString(b, i); err != nil {
					return i, false, err
				}
				s.state = stColon
			default:
				return i, false, synErr(i, "invalid character %s looking for an object key", quoteChar(b, i))
			}
		case stColon:
			if c != ':' {
				return i, false, synErr(i, "invalid character %s after object key", quoteChar(b, i))
			}
			i++
			s.state = stValue
		case stCommaOrClose:
			top := s.stack[len(s.stack)-1]
			switch {
			case c == ',':
				i++
				if top == '{' {
					s.state = stKey
				} else {
					s.state = stValue
				}
			case c == '}' && top == '{', c == ']' && top == '[':
				s.stack = s.stack[:len(s.stack)-1]
				i++
				s.closed()
			default:
				want := "'}'"
				if top == '[' {
					want = "']'"
				}
				return i, false, synErr(i, "invalid character %s, expected ',' or %s", quoteChar(b, i), want)
			}
		}
		if s.state == stDone {
			return i, true, nil
		}
	}
}

// skipValue validates and skips the value at b[i] (whitespace first), which
// sits inside depth open containers. It returns errEnd if b ends first.
func (s *valueScanner) skipValue(b []byte, i, depth int) (int, error) {
	s.reset(depth)
	end, done, err := s.scan(b, i)
	if err != nil {
		return end, err
	}
	if !done {
		return end, errEnd
	}
	return end, nil
}
