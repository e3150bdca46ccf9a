package proc

import (
	"strings"
	"testing"
)

// TestGolden decodes every fixture with format detection and compares the
// summaries and counters with testdata/<fixture>.golden (go test -update
// rewrites them).
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format Format
	}{
		{"falco.jsonl", FormatFalco},
		{"falcosidekick.jsonl", FormatFalco},
		{"tetragon.jsonl", FormatTetragon},
	} {
		t.Run(tc.file, func(t *testing.T) {
			input := readTestdata(t, tc.file)
			out, st, err := decodeAll(t, Options{}, tc.file, input)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, st)
			if st.Rejected != 0 || st.Delivered == 0 {
				t.Fatalf("fixture should decode cleanly: %s %v", statsLine(st), st.Errors)
			}
			// The forced format gives the same result as detection.
			forced, fst, err := decodeAll(t, Options{Format: tc.format, Strict: true}, tc.file, input)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(forced, "\n") != strings.Join(out, "\n") || fst.Delivered != st.Delivered {
				t.Fatalf("forced format %q decodes differently from detection", tc.format)
			}
			golden(t, strings.TrimSuffix(tc.file, ".jsonl")+".golden", []byte(strings.Join(out, "\n")+"\n"+statsLine(st)+"\n"))
		})
	}
}
