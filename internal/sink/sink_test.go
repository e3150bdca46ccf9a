package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestPackageComment(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package sink ") {
			found = true
		}
	}
	if !found {
		t.Error("package sink has no package comment")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SinkConfig
		want string // substring of the error; "" means valid
	}{
		{"stdout", SinkConfig{Type: "stdout"}, ""},
		{"webhook", SinkConfig{Type: "webhook", URL: "https://hooks.example.com/x", Headers: map[string]string{"Authorization": "Bearer t"}}, ""},
		{"alertmanager", SinkConfig{Type: "alertmanager", URL: "http://am:9093", MinSeverity: detect.High, Categories: []string{"exec", "rbac"}, GeneratorURL: "https://kubedelta.example.com/alerts"}, ""},
		{"slack", SinkConfig{Type: "slack", URL: "https://hooks.slack.com/services/T/B/secret", Timeout: 5 * time.Second}, ""},
		{"no type", SinkConfig{}, `type: required`},
		{"bad type", SinkConfig{Type: "pagerduty"}, `unknown type "pagerduty"`},
		{"no url", SinkConfig{Type: "webhook"}, "url: required"},
		{"bad scheme", SinkConfig{Type: "slack", URL: "ftp://x/y"}, `scheme "ftp"`},
		{"no host", SinkConfig{Type: "webhook", URL: "http:///path"}, "no host"},
		{"stdout url", SinkConfig{Type: "stdout", URL: "http://x"}, "not used by the stdout sink"},
		{"category typo", SinkConfig{Type: "stdout", Categories: []string{"secrets"}}, `unknown category "secrets"`},
		{"severity range", SinkConfig{Type: "stdout", MinSeverity: 9}, "minSeverity: out of range"},
		{"header name", SinkConfig{Type: "webhook", URL: "http://x", Headers: map[string]string{"Bad Name": "v"}}, "invalid header name"},
		{"header value", SinkConfig{Type: "webhook", URL: "http://x", Headers: map[string]string{"X-Token": "hunter2\r\nX-Evil: 1"}}, `value of "X-Token" contains a line break`},
		{"negative timeout", SinkConfig{Type: "webhook", URL: "http://x", Timeout: -1}, "timeout: negative"},
		{"generatorURL relative", SinkConfig{Type: "alertmanager", URL: "http://x", GeneratorURL: "/alerts"}, "absolute URL"},
		{"generatorURL on slack", SinkConfig{Type: "slack", URL: "http://x", GeneratorURL: "http://y"}, "only used by the alertmanager sink"},
		{"name with space", SinkConfig{Type: "stdout", Name: "my sink"}, "name: must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := New(tt.cfg, nil); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConfig) {
				t.Fatalf("error = %v, want ErrConfig containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks a header value or URL secret: %v", err)
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	// The server's config file decodes into SinkConfig: severities by name.
	var c SinkConfig
	if err := json.Unmarshal([]byte(`{"type":"slack","url":"https://h/x","minSeverity":"high","categories":["exec"]}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.MinSeverity != detect.High || c.Filter().Categories[0] != "exec" {
		t.Fatalf("decoded %+v", c)
	}
	if err := json.Unmarshal([]byte(`{"type":"slack","minSeverity":"urgent"}`), &c); err == nil {
		t.Fatal("unknown severity accepted")
	}
}

func TestFilterMatch(t *testing.T) {
	a := alertWithID("x", detect.Medium, detect.CategoryExec)
	tests := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{MinSeverity: detect.Medium}, true},
		{Filter{MinSeverity: detect.High}, false},
		{Filter{Categories: []string{"rbac", "exec"}}, true},
		{Filter{Categories: []string{"rbac"}}, false},
		{Filter{MinSeverity: detect.Low, Categories: []string{"exec"}}, true},
		{Filter{MinSeverity: detect.Critical, Categories: []string{"exec"}}, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(&a); got != tt.want {
			t.Errorf("%+v.Match(medium exec) = %v, want %v", tt.f, got, tt.want)
		}
	}
}

// TestPayloads sends the same alerts through each HTTP sink to a real
// server and compares what arrived with testdata/<type>.golden.
func TestPayloads(t *testing.T) {
	for _, typ := range []string{TypeWebhook, TypeAlertmanager, TypeSlack} {
		t.Run(typ, func(t *testing.T) {
			rec := newRecorder(t, nil)
			cfg := SinkConfig{Type: typ, URL: rec.URL + "/hook"}
			if typ == TypeAlertmanager {
				cfg.URL = rec.URL
				cfg.GeneratorURL = "https://kubedelta.example.com/api/v1/alerts"
			}
			s, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(context.Background(), testAlerts()); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			wantPath := "/hook"
			if typ == TypeAlertmanager {
				wantPath = "/api/v2/alerts"
			}
			if reqs[0].path != wantPath {
				t.Errorf("path %q, want %q", reqs[0].path, wantPath)
			}
			if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, reqs[0].body, "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			pretty.WriteByte('\n')
			golden(t, filepath.Join("testdata", typ+".golden"), pretty.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestAlertmanagerModel checks the semantics the golden file only shows.
// Mirrors the postableAlert model of prometheus/alertmanager
// api/v2/openapi.yaml and its validation in types/types.go (Alert.Validate:
// labels required, endsAt after startsAt).
func TestAlertmanagerModel(t *testing.T) {
	am := &alertmanager{resolve: time.Hour, now: func() time.Time { return t0 }}
	al := testAlerts()[2]
	got := am.convert(&al, t0)
	if got.StartsAt != "2025-03-14T09:26:53.000Z" {
		t.Errorf("startsAt = %s, want firstSeen", got.StartsAt)
	}
	if got.EndsAt != "2025-03-14T10:36:53.000Z" {
		t.Errorf("endsAt = %s, want lastSeen + 1h", got.EndsAt)
	}
	for _, k := range []string{"alertname", "severity", "category", "namespace", "workload", "kubedelta_id"} {
		if got.Labels[k] == "" {
			t.Errorf("label %s missing: %v", k, got.Labels)
		}
	}
	if _, ok := got.Labels["subject"]; ok {
		t.Errorf("empty subject became a label: %v", got.Labels)
	}
	// An alert without times (not from the aggregator) starts now.
	bare := detect.Alert{Rule: "r", Severity: detect.Low, Message: "m"}
	got = am.convert(&bare, t0)
	if got.StartsAt != "2025-03-14T09:26:53.000Z" || got.EndsAt != "2025-03-14T10:26:53.000Z" {
		t.Errorf("bare alert: startsAt %s endsAt %s", got.StartsAt, got.EndsAt)
	}
	// Republishing with a later LastSeen moves endsAt on.
	al.LastSeen = al.LastSeen.Add(3 * time.Hour)
	if got := am.convert(&al, t0); got.EndsAt != "2025-03-14T13:36:53.000Z" {
		t.Errorf("endsAt after repeat = %s", got.EndsAt)
	}
}

func TestSlackEscapesAndLimits(t *testing.T) {
	msg := slackPayload(testAlerts())
	for _, s := range append([]string{msg.Text}, blockTexts(msg)...) {
		if strings.Contains(s, "<!channel>") {
			t.Errorf("mention not escaped: %q", s)
		}
	}
	if !strings.Contains(msg.Text, "&lt;!channel&gt; &amp; more") {
		t.Errorf("text lacks the escaped message: %q", msg.Text)
	}
	var many []detect.Alert
	for i := range 100 {
		a := alertWithID(strings.Repeat("x", 5000)+string(rune('a'+i%26)), detect.High, detect.CategoryExec)
		many = append(many, a)
	}
	msg = slackPayload(many)
	if len(msg.Blocks) > 50 {
		t.Errorf("%d blocks, Slack allows 50", len(msg.Blocks))
	}
	for _, b := range msg.Blocks {
		if b.Text != nil && len(b.Text.Text) > slackMaxSection {
			t.Errorf("section of %d bytes, Slack allows %d", len(b.Text.Text), slackMaxSection)
		}
	}
	if !strings.Contains(msg.Blocks[len(msg.Blocks)-1].Elements[0].Text, "and 55 more") {
		t.Errorf("last block does not count the rest: %+v", msg.Blocks[len(msg.Blocks)-1])
	}
	if len(msg.Text) > slackMaxText+100 || !strings.Contains(msg.Text, "more") {
		t.Errorf("text of %d bytes not capped", len(msg.Text))
	}
}

func blockTexts(m slackMessage) []string {
	var out []string
	for _, b := range m.Blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	s, err := New(SinkConfig{Type: TypeStdout, Out: &buf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), testAlerts()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var a detect.Alert
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if a.ID != testAlerts()[i].ID || a.Severity != testAlerts()[i].Severity {
			t.Errorf("line %d decoded to %s/%s", i+1, a.ID, a.Severity)
		}
	}
	if !strings.Contains(lines[1], "<!channel> & more") {
		t.Errorf("JSON lines should not HTML-escape: %s", lines[1])
	}
}

// TestSecretsStayOut: header values and the URL path (Slack's secret) are
// sent but appear in no log record and no error.
func TestSecretsStayOut(t *testing.T) {
	rec := newRecorder(t, func(int, http.ResponseWriter) int { return http.StatusInternalServerError })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(SinkConfig{Type: TypeWebhook, URL: rec.URL + "/services/T0/B0/hunter2path",
		Headers: map[string]string{"Authorization": "Bearer hunter2token"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDispatcher([]Target{{Sink: s}}, Options{BatchWait: time.Millisecond, MaxElapsed: time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d.Publish(testAlerts()[0])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	waitFor(t, 5*time.Second, "give-up", func() bool { return d.Stats()[0].Failed == 1 })
	cancel()
	<-done
	reqs := rec.requests()
	if got := reqs[0].header.Get("Authorization"); got != "Bearer hunter2token" {
		t.Errorf("Authorization header not sent: %q", got)
	}
	all := logs.String() + d.Stats()[0].LastError
	if strings.Contains(all, "hunter2") {
		t.Errorf("secret leaked into logs or stats:\n%s", all)
	}
	if !strings.Contains(logs.String(), "Authorization") {
		t.Errorf("header names should be logged at debug:\n%s", logs.String())
	}

	// A transport error names the host, not the path.
	closed := newRecorder(t, nil)
	closed.Close()
	s, _ = New(SinkConfig{Type: TypeSlack, URL: closed.URL + "/services/hunter2"}, nil)
	err = s.Send(context.Background(), testAlerts()[:1])
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("transport error = %v: want the host and no path", err)
	}
	if errors.Is(err, ErrPermanent) {
		t.Errorf("connection refused must be retried: %v", err)
	}
}

func TestHTTPErrorClass(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{
		{301, true}, {302, true}, {307, true}, {400, true}, {401, true}, {403, true}, {404, true}, {413, true}, {422, true},
		{408, false}, {429, false}, {500, false}, {502, false}, {503, false}, {504, false},
	}
	for _, tt := range tests {
		err := error(&HTTPError{StatusCode: tt.status})
		if got := errors.Is(err, ErrPermanent); got != tt.permanent {
			t.Errorf("status %d: permanent = %v, want %v", tt.status, got, tt.permanent)
		}
	}
}

// Mirrors RFC 9110 section 10.2.3: Retry-After is delay-seconds or an HTTP-date.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-3", 0},
		{"99999999", 24 * time.Hour},
		{"Thu, 02 Jan 2025 03:04:35 GMT", 30 * time.Second},
		{"Thu, 02 Jan 2025 03:00:00 GMT", 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghij", 6, "abc…"},
		{"ééééé", 7, "éé…"},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want || len(got) > tt.n {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
