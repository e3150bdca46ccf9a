package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small YAML writer for the cluster dump, in the block style of
// sigs.k8s.io/yaml (go-yaml v2), which `kubectl get -o yaml` prints: keys
// sorted, sequences not indented below their key. Strings are written plain
// only when they are made of characters that cannot change their meaning
// and do not read as another type; everything else is double-quoted with
// JSON escapes, which YAML's double-quoted style accepts.

type yamlWriter struct {
	b  []byte
	tf timeFmt
}

func (y *yamlWriter) indent(n int) {
	for i := 0; i < n; i++ {
		y.b = append(y.b, ' ')
	}
}

func (y *yamlWriter) mapAt(m obj, ind int) {
	keys := sortedKeys(m)
	for _, k := range keys {
		y.indent(ind)
		y.key(k, m[k], ind)
	}
}

func sortedKeys(m obj) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// key writes "k: v" for a key whose line is already indented.
func (y *yamlWriter) key(k string, v any, ind int) {
	y.b = y.scalarStr(y.b, k)
	y.b = append(y.b, ':')
	switch x := v.(type) {
	case obj:
		if len(x) == 0 {
			y.b = append(y.b, " {}\n"...)
			return
		}
		y.b = append(y.b, '\n')
		y.mapAt(x, ind+2)
	case list:
		if len(x) == 0 {
			y.b = append(y.b, " []\n"...)
			return
		}
		y.b = append(y.b, '\n')
		y.seq(x, ind)
	default:
		y.b = append(y.b, ' ')
		y.scalar(v)
		y.b = append(y.b, '\n')
	}
}

func (y *yamlWriter) seq(l list, ind int) {
	for _, item := range l {
		y.indent(ind)
		y.b = append(y.b, "- "...)
		switch x := item.(type) {
		case obj:
			if len(x) == 0 {
				y.b = append(y.b, "{}\n"...)
				continue
			}
			for i, k := range sortedKeys(x) {
				if i > 0 {
					y.indent(ind + 2)
				}
				y.key(k, x[k], ind+2)
			}
		case list:
			panic("sim: yaml: nested sequences are not used")
		default:
			y.scalar(item)
			y.b = append(y.b, '\n')
		}
	}
}

func (y *yamlWriter) scalar(v any) {
	switch x := v.(type) {
	case nil:
		y.b = append(y.b, "null"...)
	case string:
		y.b = y.scalarStr(y.b, x)
	case bool:
		y.b = strconv.AppendBool(y.b, x)
	case int:
		y.b = strconv.AppendInt(y.b, int64(x), 10)
	case int64:
		y.b = strconv.AppendInt(y.b, x, 10)
	case timeVal:
		y.b = append(y.b, '"')
		y.b = y.tf.seconds(y.b, int64(x))
		y.b = append(y.b, '"')
	default:
		panic(fmt.Sprintf("sim: yaml: unsupported value %T", v))
	}
}

// scalarStr appends s plain when that is safe, else double-quoted.
func (y *yamlWriter) scalarStr(b []byte, s string) []byte {
	if plainSafe(s) {
		return append(b, s...)
	}
	return yamlQuoted(b, s)
}

// yamlQuoted appends s as a YAML double-quoted scalar: JSON's escapes, plus
// \u escapes for the characters YAML does not allow in a document (DEL, C1
// controls, surrogates, U+FFFE and U+FFFF; YAML 1.1's printable set).
func yamlQuoted(b []byte, s string) []byte {
	if !strings.ContainsFunc(s, notYAMLPrintable) {
		return appendStr(b, s, false)
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\t':
			b = append(b, '\\', 't')
		case notYAMLPrintable(r) || r < 0x20:
			if r > 0xffff {
				b = append(b, fmt.Sprintf("\\U%08X", r)...)
			} else {
				b = append(b, fmt.Sprintf("\\u%04X", r)...)
			}
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

func notYAMLPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return false
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError:
		return true
	case r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff, r == 0xfeff:
		return true
	}
	return false
}

// plainSafe reports whether s can be written as a plain scalar that go-yaml
// v2 reads back as the same string: it starts with a letter or '/', has only
// letters, digits and . _ / - characters, and is not one of the words YAML
// 1.1 resolves to a boolean or null.
func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL":
		return false
	}
	return true
}
