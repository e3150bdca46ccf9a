package flow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHubbleGolden decodes the real Hubble captures in shared/fixtures and
// compares one summary line per delivered flow with testdata/*.golden.
//
// The expected counts were computed independently of this package (a short
// Python script over the fixtures applying the documented rules: skip L7 /
// no-IP / no-L4 records; is_reply, then reply, then TCP SYN, then the port
// heuristic; same 5-tuple and verdict within 2 s is a duplicate).
func TestHubbleGolden(t *testing.T) {
	for _, tc := range []struct {
		file                                             string
		delivered, replies, duplicates, skipped, records int64
	}{
		// 5 request/reply pairs, replies marked with the deprecated field only.
		{file: "basic-sample-10-flows.json", delivered: 5, replies: 5, records: 10},
		// L7 HTTP records skipped; policy-verdict + trace + overlay records
		// of one packet folded into one flow.
		{file: "basic-sample-400-tcp-flows.json", delivered: 58, replies: 104, duplicates: 173, skipped: 65, records: 400},
		// UDP DNS to kube-dns: L7 DNS records skipped, answers are replies.
		{file: "basic-sample-400-udp-flows.json", delivered: 111, replies: 74, duplicates: 67, skipped: 148, records: 400},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(fixtureDir, "hubble", tc.file))
			if err != nil {
				t.Fatalf("fixture missing: %v", err)
			}
			out, st, err := decodeAll(t, Options{}, tc.file, in)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, st)
			if st.Rejected != 0 {
				t.Errorf("rejected %d records: %v", st.Rejected, st.Errors)
			}
			if st.Records != tc.records || st.Delivered != tc.delivered || st.Replies != tc.replies ||
				st.Duplicates != tc.duplicates || st.Skipped != tc.skipped {
				t.Errorf("got %s\nwant records=%d delivered=%d replies=%d duplicates=%d skipped=%d",
					statsLine(st), tc.records, tc.delivered, tc.replies, tc.duplicates, tc.skipped)
			}
			if int64(len(out)) != st.Delivered {
				t.Errorf("callback saw %d flows, Stats.Delivered = %d", len(out), st.Delivered)
			}
			got := strings.Join(append(out, statsLine(st)), "\n") + "\n"
			golden(t, strings.TrimSuffix(tc.file, ".json")+".golden", []byte(got))
		})
	}
}
