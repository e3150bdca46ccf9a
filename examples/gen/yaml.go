package main

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
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
	// What go-yaml v2 would resolve to something other than a string.
	yamlInt   = regexp.MustCompile(`^[-+]?(0|[1-9][0-9_]*|0[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$`)
	yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$`)
	yamlTime  = regexp.MustCompile(`^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?$`)
	yamlWords = map[string]bool{
		"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
		"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
		"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
		"null": true, "Null": true, "NULL": true, "~": true,
	}
)

// quote returns s as a YAML scalar: plain when that reads back as the same
// string, double-quoted when the plain form would be another type (as
// go-yaml v2 does: "true", "0", timestamps), single-quoted when the plain
// form would break the syntax ('*').
func quote(s string) string {
	if s == "" || yamlWords[s] || yamlInt.MatchString(s) || yamlFloat.MatchString(s) || yamlTime.MatchString(s) {
		return strconv.Quote(s)
	}
	if strings.ContainsAny(s, "\n\t\r") {
		panic(fmt.Sprintf("yaml: multi-line string %q is not used by the example", s))
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
