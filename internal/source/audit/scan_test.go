package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestScanStringEveryByte places every byte value at every offset of a
// string long enough for the word-at-a-time path, and checks scanString
// against a byte-by-byte definition.
func TestScanStringEveryByte(t *testing.T) {
	for c := range 256 {
		for off := range 17 {
			s := []byte(`"` + strings.Repeat("a", off) + string(rune(0)) + strings.Repeat("x", 20) + `"`)
			s[1+off] = byte(c)
			end, flags, err := scanString(s, 0)
			switch {
			case c == '"':
				if err != nil || end != off+2 {
					t.Fatalf("byte %#x at %d: end %d err %v, want end %d", c, off, end, err, off+2)
				}
			case c == '\\':
				if err == nil || !strings.Contains(err.Error(), "invalid escape") {
					t.Fatalf("backslash before 'x' at %d: err %v, want invalid escape", off, err)
				}
			case c < 0x20:
				var se *syntaxError
				if !errors.As(err, &se) || se.pos != 1+off {
					t.Fatalf("control byte %#x at %d: err %v, want one at offset %d", c, off, err, 1+off)
				}
			default:
				wantFlags := uint8(0)
				if c >= 0x80 {
					wantFlags = strNonASCII
				}
				if err != nil || end != len(s) || flags != wantFlags {
					t.Fatalf("byte %#x at %d: end %d flags %d err %v", c, off, end, flags, err)
				}
			}
		}
	}
}

// TestAppendUnquoted compares unescaping with encoding/json, including
// surrogate pairs, lone surrogates and invalid UTF-8.
func TestAppendUnquoted(t *testing.T) {
	cases := []string{
		`plain`, `a\"b\\c\/d\be\ff\ng\rh\ti`, `\u00e9\u4e16\ud83d\ude00`, `\ud83d`, `\ud83dx`, `\ude00\ud83d`,
		`\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\u0000`, "caf\xc3\xa9", "bad \xff\xfe utf8", "trunc \xe4\xb8",
		`\uD83D\uDE00`, "mixed \xff \\n \\u00e9", `\uFFFD`, "\xed\xa0\x80",
	}
	for _, c := range cases {
		quoted := []byte(`"` + c + `"`)
		end, flags, err := scanString(quoted, 0)
		if err != nil || end != len(quoted) {
			t.Fatalf("scanString(%q): %d %v", c, end, err)
		}
		var want string
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", c, err)
		}
		if got := string(appendUnquoted(nil, quoted[1:end-1], flags)); got != want {
			t.Errorf("appendUnquoted(%q) = %q, want %q", c, got, want)
		}
	}
}

// TestParseTime checks the fast path against time.Parse(time.RFC3339Nano)
// (the API server writes metav1.MicroTime in RFC 3339 with microseconds).
func TestParseTime(t *testing.T) {
	cases := []string{
		"2026-11-24T02:03:42.214848Z", "2026-11-24T02:03:42Z", "2026-11-24T02:03:42.1Z",
		"2026-11-24T02:03:42.123456789Z", "2026-11-24T02:03:42.1234567891Z", "2024-02-29T23:59:59.999999Z",
		"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-11-24T24:00:00Z", "2026-11-24T23:60:00Z", "2026-11-24T23:59:60Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "1969-12-31T23:59:59.5Z", "1900-03-01T00:00:00Z", "2000-02-29T12:00:00Z",
		"2026-11-24T02:03:42.214848+02:00", "2026-11-24T02:03:42-07:30", "2026-11-24T02:03:42.Z",
		"2026-11-24T02:03:42.12aZ", "2026-11-24 02:03:42Z", "2026-11-24T02:03:42z", "2026-11-24T02:03:42",
		"+2026-11-24T02:03:42Z", "2026-1-24T02:03:42Z", "", "Z", "2026-11-24T02:03:42,5Z", "１９９９-01-01T00:00:00Z",
	}
	for _, c := range cases {
		got, gotErr := parseTime([]byte(c))
		want, wantErr := time.Parse(time.RFC3339Nano, c)
		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("parseTime(%q): err %v, time.Parse err %v", c, gotErr, wantErr)
			continue
		}
		if gotErr == nil && (!got.Equal(want) || got.Location() != time.UTC) {
			t.Errorf("parseTime(%q) = %v, want %v in UTC", c, got, want)
		}
	}
}

// TestDaysFromCivil compares the calendar arithmetic with time.Date over a
// wide range of dates.
func TestDaysFromCivil(t *testing.T) {
	for y := 0; y <= 9999; y += 7 {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, 15, daysIn(m, y)} {
				want := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
				if got := daysFromCivil(y, m, d); got != want {
					t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, want)
				}
			}
		}
	}
}

// TestSkipValueDepth checks the nesting limit against encoding/json, which
// accepts 10000 levels and rejects 10001.
func TestSkipValueDepth(t *testing.T) {
	var sc valueScanner
	for _, n := range []int{maxDepth, maxDepth + 1} {
		doc := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		_, err := sc.skipValue(doc, 0, 0)
		jsonOK := json.Unmarshal(doc, new(any)) == nil
		if (err == nil) != jsonOK {
			t.Errorf("depth %d: skipValue err %v, encoding/json accepts: %v", n, err, jsonOK)
		}
	}
}
