package main

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// obj is a Kubernetes object or a part of one, as kubectl prints it: keys are
// written in sorted order, like `kubectl get -o yaml` does (it goes through
// map[string]interface{}).
type obj = map[string]any

// list is a YAML sequence.
type list = []any

// encodeYAML writes v in the block style of sigs.k8s.io/yaml (go-yaml v2),
// which is what `kubectl get -o yaml` prints: sequences are not indented
// below their key, strings are quoted only when they would otherwise read as
// another type or break the syntax.
func encodeYAML(buf *bytes.Buffer, v obj) {
	writeMapAt(buf, v, 0)
}

// writeKey writes "key: value" at indent. inline marks the first key of a
// sequence item, which follows the "- " already on the line.
func writeKey(buf *bytes.Buffer, k string, v any, ind int, inline bool) {
	if !inline {
		buf.WriteString(strings.Repeat(" ", ind))
	}
	buf.WriteString(quote(k))
	buf.WriteByte(':')
	switch x := v.(type) {
	case obj:
		if len(x) == 0 {
			buf.WriteString(" {}\n")
			return
		}
		buf.WriteByte('\n')
		writeMapAt(buf, x, ind+2)
	case list:
		if len(x) == 0 {
			buf.WriteString(" []\n")
			return
		}
		buf.WriteByte('\n')
		writeList(buf, x, ind)
	case []string:
		if len(x) == 0 {
			buf.WriteString(" []\n")
			return
		}
		buf.WriteByte('\n')
		l := make(list, len(x))
		for i, s := range x {
			l[i] = s
		}
		writeList(buf, l, ind)
	default:
		buf.WriteByte(' ')
		buf.WriteString(scalar(v))
		buf.WriteByte('\n')
	}
}

// writeMapAt writes every key of m at indent.
func writeMapAt(buf *bytes.Buffer, m obj, indent int) {
	for _, k := range sortedKeys(m) {
		writeKey(buf, k, m[k], indent, false)
	}
}

func writeList(buf *bytes.Buffer, l list, indent int) {
	pad := strings.Repeat(" ", indent)
	for _, item := range l {
		buf.WriteString(pad)
		buf.WriteString("- ")
		switch x := item.(type) {
		case obj:
			if len(x) == 0 {
				buf.WriteString("{}\n")
				continue
			}
			keys := sortedKeys(x)
			for i, k := range keys {
				if i == 0 {
					writeKey(buf, k, x[k], indent+2, true)
				} else {
					writeKey(buf, k, x[k], indent+2, false)
				}
			}
		case list, []string:
			panic("yaml: nested sequences are not used by the example")
		default:
			buf.WriteString(scalar(item))
			buf.WriteByte('\n')
		}
	}
}

func sortedKeys(m obj) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	panic(fmt.Sprintf("yaml: unsupported value %T", v))
}

var (
	yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	yamlTime  = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$`)
	// yamlWords are the plain scalars go-yaml v2 resolves by name.
	yamlWords = map[string]bool{
		"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
		"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
		"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
		"null": true, "Null": true, "NULL": true, "~": true, "<<": true,
		".nan": true, ".NaN": true, ".NAN": true, ".inf": true, ".Inf": true, ".INF": true,
		"+.inf": true, "+.Inf": true, "+.INF": true, "-.inf": true, "-.Inf": true, "-.INF": true,
	}
)

// resolvesNonString reports whether go-yaml v2 (which sigs.k8s.io/yaml
// uses) reads the plain scalar s as something other than a string: a bool,
// null, a number in any base it accepts, or a timestamp.
func resolvesNonString(s string) bool {
	if s == "" || yamlWords[s] {
		return true
	}
	switch c := s[0]; {
	case c == '.':
		_, err := strconv.ParseFloat(s, 64)
		return err == nil
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		if yamlTime.MatchString(s) {
			return true
		}
		plain := strings.ReplaceAll(s, "_", "")
		if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return true
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return true
		}
		if yamlFloat.MatchString(plain) {
			return true
		}
		if b, ok := strings.CutPrefix(strings.TrimPrefix(plain, "-"), "0b"); ok {
			_, err := strconv.ParseUint(b, 2, 64)
			return err == nil
		}
	}
	return false
}

// quote returns s as a YAML scalar: plain when that reads back as the same
// string, double-quoted when the plain form would be another type (as
// go-yaml v2 does: "true", "0", timestamps) or s has characters that need
// escapes, single-quoted when the plain form would break the syntax ('*').
func quote(s string) string {
	if resolvesNonString(s) {
		return strconv.Quote(s)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		// Line breaks, tabs, control and format characters: YAML's
		// double-quoted style has Go's escapes.
		return strconv.Quote(s)
	}
	if needsQuotes(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}

func needsQuotes(s string) bool {
	if strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` ") {
		// A leading "-" is fine when followed by a non-space, as in "-p".
		if !(s[0] == '-' && len(s) > 1 && s[1] != ' ') {
			return true
		}
	}
	if strings.HasSuffix(s, " ") || strings.HasSuffix(s, ":") {
		return true
	}
	return strings.Contains(s, ": ") || strings.Contains(s, " #")
}
