package flow

import "unicode/utf8"

// Interning bounds: enough for every namespace, pod, label and DNS name of a
// large cluster, small enough that hostile input cannot grow a decoder
// without bound. Past the bound strings are still decoded, just not shared.
const (
	maxInternedStrings = 1 << 17
	maxInternedSets    = 1 << 15
)

// interner shares the strings (and string lists) a decoder produces, so that
// a stream of flows between the same pods costs no allocation per record.
type interner struct {
	strs map[string]string
	sets [numSetKinds]map[string][]string
}

func newInterner() interner {
	in := interner{strs: make(map[string]string)}
	for i := range in.sets {
		in.sets[i] = make(map[string][]string)
	}
	return in
}

// str returns b as a string, valid UTF-8 (invalid bytes become U+FFFD, as
// encoding/json does), shared with earlier identical values.
func (in *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	key := s
	if !utf8.ValidString(s) {
		s = string(fixUTF8(b))
	}
	if len(in.strs) < maxInternedStrings {
		in.strs[key] = s
	}
	return s
}

// set looks up a previously built list by the raw bytes it was built from.
func (in *interner) set(kind int, raw []byte) ([]string, bool) {
	s, ok := in.sets[kind][string(raw)]
	return s, ok
}

// putSet remembers list under its raw bytes. The list must not be modified
// afterwards: it is shared by every flow built from the same raw bytes.
func (in *interner) putSet(kind int, raw []byte, list []string) {
	if len(in.sets[kind]) < maxInternedSets {
		in.sets[kind][string(raw)] = list
	}
}

// fixUTF8 replaces every byte that does not start a valid UTF-8 sequence
// with U+FFFD, byte by byte, as encoding/json does when it decodes a string.
func fixUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
			i++
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return out
}
