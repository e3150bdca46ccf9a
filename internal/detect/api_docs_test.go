package detect

import (
	"os"
	"strings"
	"testing"
)

// TestAPIRulesDocumented keeps docs/detections/api.md in step with the
// code: a section per rule, its MITRE techniques in the summary table, and
// a row per command class.
func TestAPIRulesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/detections/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, d := range APIDetectors(APIOptions{}) {
		for _, r := range d.Rules() {
			if !strings.Contains(doc, "\n## `"+r.ID+"`\n") {
				t.Errorf("docs/detections/api.md has no section for %s", r.ID)
			}
			row := ""
			for _, line := range strings.Split(doc, "\n") {
				if strings.HasPrefix(line, "| [`"+r.ID+"`]") {
					row = line
				}
			}
			if row == "" {
				t.Errorf("docs/detections/api.md: %s missing from the summary table", r.ID)
			}
			for _, m := range r.MITRE {
				if !strings.Contains(row, m) && !strings.Contains(row, strings.SplitN(m, ".", 2)[0]) {
					t.Errorf("docs/detections/api.md: %s row lacks %s", r.ID, m)
				}
			}
			if r.Summary == "" || r.Category == "" {
				t.Errorf("%s: empty summary or category", r.ID)
			}
		}
	}
	for _, c := range []string{CmdReverseShell, CmdTTYUpgrade, CmdDownloadExec, CmdDecodeExec, CmdEscapeToHost, CmdCredentialFile,
		CmdCloudMetadata, CmdMiner, CmdHistoryTamper, CmdToolTransfer, CmdInteractiveShell} {
		if !strings.Contains(doc, "| `"+c+"` |") {
			t.Errorf("docs/detections/api.md: command class %s not in the table", c)
		}
	}
}
