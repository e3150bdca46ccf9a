package flow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestScanStr compares the eight-bytes-at-a-time string scanner with
// encoding/json on strings whose quotes and backslashes fall on every
// offset around the 8-byte boundaries.
func TestScanStr(t *testing.T) {
	pieces := []string{`\"`, `\\`, `\\\"`, `\u00e9`, `x`, `é`, `\n`}
	for _, p := range pieces {
		for pad := 0; pad < 20; pad++ {
			for tail := 0; tail < 10; tail++ {
				content := strings.Repeat("a", pad) + p + strings.Repeat("b", tail)
				line := `"` + content + `",1`
				var want string
				if err := json.Unmarshal([]byte(`"`+content+`"`), &want); err != nil {
					t.Fatalf("bad test string %q: %v", content, err)
				}
				var s jscan
				s.reset([]byte(line))
				got, present, ok := s.str("f")
				if !ok || !present || string(got) != want || s.i != len(content)+2 {
					t.Errorf("str(%s) = %q, %v, %v, end %d; want %q, end %d", line, got, present, ok, s.i, want, len(content)+2)
				}
			}
		}
	}
	for _, bad := range []string{`"abc`, `"abcdefghijklmnop\"`, `"abcdefgh\`, `"\`} {
		var s jscan
		s.reset([]byte(bad))
		if _, _, ok := s.str("f"); ok {
			t.Errorf("unterminated %s accepted", bad)
		}
	}
}

func TestLooksLikeReply(t *testing.T) {
	for _, tc := range []struct {
		sport, dport uint16
		want         bool
	}{
		{443, 45000, true},    // HTTPS answer to a Linux client
		{53, 1500, true},      // DNS answer to a low client port
		{8080, 50123, true},   // service port above 1024
		{30080, 45000, true},  // NodePort answer
		{45000, 443, false},   // request
		{45000, 30080, false}, // request to a NodePort
		{50123, 50051, false}, // two high ports: delivered
		{50051, 50123, false}, // the reply too (known failure mode)
		{1000, 2000, true},    // privileged source port towards an unprivileged one
		{2000, 3000, false},   // both unprivileged, both below 32768: delivered
		{0, 45000, false},
		{443, 0, false},
	} {
		if got := looksLikeReply(tc.sport, tc.dport); got != tc.want {
			t.Errorf("looksLikeReply(%d, %d) = %v, want %v", tc.sport, tc.dport, got, tc.want)
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339 in UTC, or "" for an error
	}{
		{"2021-06-16T16:52:13.136834446Z", "2021-06-16T16:52:13.136834446Z"},
		{"2021-06-16T16:52:13Z", "2021-06-16T16:52:13Z"},
		{"2021-06-16T16:52:13.1Z", "2021-06-16T16:52:13.1Z"},
		{"2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"},
		{"2024-03-01T10:00:00.5+02:00", "2024-03-01T08:00:00.5Z"},
		{"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2024-13-01T00:00:00Z", ""},
		{"2024-03-01T10:00:60Z", ""},
		{"2024-03-01 10:00:00Z", ""},
		{"yesterday", ""},
	} {
		got, ok := parseRFC3339([]byte(tc.in))
		if tc.want == "" {
			if ok {
				t.Errorf("parseRFC3339(%q) accepted: %v", tc.in, got)
			}
			continue
		}
		if !ok || got.Format(time.RFC3339Nano) != tc.want || got.Location() != time.UTC {
			t.Errorf("parseRFC3339(%q) = %v, %v; want %s UTC", tc.in, got, ok, tc.want)
		}
	}
}
