package sink

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// labelName is Prometheus's label name syntax (prometheus/common model
// LabelNameRE), which Alertmanager's v2 API validates.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// FuzzEncoders feeds arbitrary alert text (user names and messages come
// from audit data an attacker may control) through every encoder: the
// output must be valid JSON that Alertmanager and Slack accept, and Slack's
// text must not carry a live mention or link.
func FuzzEncoders(f *testing.F) {
	for _, a := range testAlerts() {
		f.Add(a.Rule, a.Subject, a.Namespace, a.Workload, a.Message, uint8(a.Severity))
	}
	f.Add("", "", "", "", "", uint8(0))
	f.Add("r", "<@U123>", "ns", "w", "<!here> \xff\xfe & <https://evil|click>", uint8(4))
	f.Fuzz(func(t *testing.T, rule, subject, ns, workload, msg string, sev uint8) {
		al := detect.Alert{
			ID: "0123456789abcdef", Rule: rule, Subject: subject, Namespace: ns, Workload: workload,
			Message: msg, Severity: detect.Severity(sev % 5), Category: detect.CategoryAPI,
			Time: t0, FirstSeen: t0, LastSeen: t0, Count: 2,
			Evidence: []detect.Evidence{{Kind: "audit", Ref: subject, Detail: msg}},
		}
		am := &alertmanager{resolve: time.Hour}
		b, err := marshalJSON([]amAlert{am.convert(&al, t0)})
		if err != nil {
			t.Fatal(err)
		}
		var back []amAlert
		if err := json.Unmarshal(b, &back); err != nil || len(back) != 1 {
			t.Fatalf("alertmanager payload does not decode: %v", err)
		}
		if back[0].Labels["alertname"] == "" {
			t.Error("empty alertname")
		}
		for k, v := range back[0].Labels {
			if !labelName.MatchString(k) || !utf8.ValidString(v) || v == "" {
				t.Errorf("invalid label %q=%q", k, v)
			}
			if len(v) > maxAnnotation {
				t.Errorf("label %s of %d bytes", k, len(v))
			}
		}
		if _, err := time.Parse(time.RFC3339, back[0].StartsAt); err != nil {
			t.Error(err)
		}
		if back[0].EndsAt <= back[0].StartsAt {
			t.Errorf("endsAt %s not after startsAt %s", back[0].EndsAt, back[0].StartsAt)
		}

		msgs := slackPayload([]detect.Alert{al})
		b, err = marshalJSON(msgs)
		if err != nil {
			t.Fatal(err)
		}
		var sm slackMessage
		if err := json.Unmarshal(b, &sm); err != nil {
			t.Fatalf("slack payload does not decode: %v", err)
		}
		for _, s := range append([]string{sm.Text}, blockTexts(sm)...) {
			if strings.ContainsAny(s, "<>") || !utf8.ValidString(s) {
				t.Errorf("slack text with raw < or > or invalid UTF-8: %q", s)
			}
		}

		var out strings.Builder
		s := newStdout("stdout", &out)
		if err := s.Send(context.Background(), []detect.Alert{al}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), "\n"); n != 1 {
			t.Errorf("stdout wrote %d lines for one alert", n)
		}
	})
}
