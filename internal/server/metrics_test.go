package server_test

import (
	"bufio"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/server"
)

// sample is one line of the text exposition format.
type sample struct {
	name   string
	labels map[string]string
	order  []string
	value  float64
}

type family struct {
	typ, help string
	samples   []sample
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition parses the Prometheus text format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/) strictly
// enough to catch what Prometheus would reject: every sample belongs to a
// family declared by # TYPE before it, names and label names are valid,
// label values are quoted with \\, \" and \n escapes, values are floats.
func parseExposition(text string) (map[string]*family, error) {
	fams := map[string]*family{}
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if l == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(l, "# "); ok {
			kind, rest, _ := strings.Cut(rest, " ")
			name, text, _ := strings.Cut(rest, " ")
			if !metricName.MatchString(name) {
				return nil, fmt.Errorf("line %d: bad metric name %q", line, name)
			}
			f := fams[name]
			if f == nil {
				f = &family{}
				fams[name] = f
			}
			switch kind {
			case "HELP":
				f.help = text
			case "TYPE":
				if f.typ != "" {
					return nil, fmt.Errorf("line %d: second TYPE for %s", line, name)
				}
				if !slices.Contains([]string{"counter", "gauge", "histogram", "summary", "untyped"}, text) {
					return nil, fmt.Errorf("line %d: bad type %q", line, text)
				}
				f.typ = text
			}
			continue
		}
		s, err := parseSample(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %q", line, err, l)
		}
		base := s.name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(s.name, suf); ok && fams[b] != nil && fams[b].typ == "histogram" {
				base = b
			}
		}
		f := fams[base]
		if f == nil || f.typ == "" {
			return nil, fmt.Errorf("line %d: sample %s before its # TYPE", line, s.name)
		}
		f.samples = append(f.samples, s)
	}
	return fams, sc.Err()
}

func parseSample(l string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(l, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name = l[:i]
	if !metricName.MatchString(s.name) {
		return s, fmt.Errorf("bad name")
	}
	rest := l[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			if rest != "" && rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq < 0 || len(rest) < eq+2 || rest[eq+1] != '"' {
				return s, fmt.Errorf("bad label")
			}
			name := rest[:eq]
			if !labelName.MatchString(name) {
				return s, fmt.Errorf("bad label name %q", name)
			}
			rest = rest[eq+2:]
			var v strings.Builder
			for {
				if rest == "" {
					return s, fmt.Errorf("unterminated label value")
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\\' {
					if rest == "" {
						return s, fmt.Errorf("bad escape")
					}
					switch rest[0] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return s, fmt.Errorf("bad escape \\%c", rest[0])
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(c)
			}
			if _, dup := s.labels[name]; dup {
				return s, fmt.Errorf("duplicate label %s", name)
			}
			s.labels[name] = v.String()
			s.order = append(s.order, name)
			if rest != "" && rest[0] == ',' {
				rest = rest[1:]
			}
		}
	}
	v, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return s, fmt.Errorf("no space before the value")
	}
	f, err := strconv.ParseFloat(strings.Replace(v, "+Inf", "Inf", 1), 64)
	if err != nil {
		return s, fmt.Errorf("bad value %q", v)
	}
	s.value = f
	return s, nil
}

// TestMetricsExposition scrapes a server that has seen traffic and checks
// the families, types and label names the dashboards and alert rules use.
func TestMetricsExposition(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ts := startServer(t, t.TempDir(), serverConfig{opts: server.Options{SinkStats: func() []server.SinkStats {
		return []server.SinkStats{{Name: `odd "name"\`, Sent: 3, Failed: 1, Dropped: 2}}
	}}})
	lines := auditLines(t)
	for _, b := range batches(lines, 400) {
		if code, body := ts.post(server.PathAudit, b); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	ts.post(server.PathAudit, []byte("{"))
	ts.do("GET", server.PathAudit, nil, nil)
	ts.waitProcessed()
	code, body := ts.do("GET", server.PathMetrics, nil, nil)
	if code != 200 {
		t.Fatal(code)
	}
	fams, err := parseExposition(string(body))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want := map[string]struct {
		typ    string
		labels []string
	}{
		"kubedelta_ingest_events_total":            {"counter", []string{"kind", "result"}},
		"kubedelta_ingest_requests_total":          {"counter", []string{"endpoint", "code"}},
		"kubedelta_ingest_rejected_requests_total": {"counter", []string{"endpoint", "reason"}},
		"kubedelta_ingest_ack_seconds":             {"histogram", []string{"endpoint"}},
		"kubedelta_wal_pending_bytes":              {"gauge", nil},
		"kubedelta_wal_pending_records":            {"gauge", nil},
		"kubedelta_processing_lag_seconds":         {"gauge", nil},
		"kubedelta_processed_events_total":         {"counter", []string{"kind"}},
		"kubedelta_dropped_events_total":           {"counter", []string{"kind", "reason"}},
		"kubedelta_alerts_total":                   {"counter", []string{"category", "severity"}},
		"kubedelta_audit_denials_total":            {"counter", []string{"subject_kind"}},
		"kubedelta_sink_sent_total":                {"counter", []string{"sink"}},
		"kubedelta_sink_failed_total":              {"counter", []string{"sink"}},
		"kubedelta_sink_dropped_total":             {"counter", []string{"sink"}},
		"kubedelta_ready":                          {"gauge", nil},
	}
	for name, w := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing", name)
			continue
		}
		if f.typ != w.typ || f.help == "" {
			t.Errorf("%s: type %q help %q, want type %q and a help text", name, f.typ, f.help, w.typ)
		}
		if len(f.samples) == 0 {
			t.Errorf("%s: no samples", name)
		}
		for _, s := range f.samples {
			got := slices.DeleteFunc(slices.Clone(s.order), func(l string) bool { return l == "le" })
			if !slices.Equal(got, w.labels) {
				t.Errorf("%s: labels %v, want %v", s.name, s.order, w.labels)
				break
			}
		}
	}
	if len(fams) != len(want) {
		for name := range fams {
			if _, ok := want[name]; !ok {
				t.Errorf("unexpected family %s (add it to the test and docs/server.md)", name)
			}
		}
	}
	value := func(name string, labels ...string) float64 {
		base := strings.TrimSuffix(strings.TrimSuffix(name, "_count"), "_sum")
		for _, s := range fams[base].samples {
			if s.name != name {
				continue
			}
			ok := true
			for i := 0; i < len(labels); i += 2 {
				ok = ok && s.labels[labels[i]] == labels[i+1]
			}
			if ok {
				return s.value
			}
		}
		return math.NaN()
	}
	if v := value("kubedelta_ingest_events_total", "kind", "audit", "result", "accepted"); v != float64(len(lines)) {
		t.Errorf("accepted audit events %v, want %d", v, len(lines))
	}
	if v := value("kubedelta_processed_events_total", "kind", "audit"); v != float64(ts.stats().Audit.Processed) {
		t.Errorf("processed %v, stats say %d", v, ts.stats().Audit.Processed)
	}
	if v := value("kubedelta_sink_dropped_total", "sink", `odd "name"\`); v != 2 {
		t.Errorf("sink label escaping: dropped %v, want 2", v)
	}
	if v := value("kubedelta_audit_denials_total", "subject_kind", "serviceaccount"); !(v > 0) {
		t.Errorf("no service account denials counted (%v)", v)
	}
	// Histogram: cumulative buckets, +Inf equal to _count.
	var prev float64
	var inf float64
	for _, s := range fams["kubedelta_ingest_ack_seconds"].samples {
		if s.name == "kubedelta_ingest_ack_seconds_bucket" && s.labels["endpoint"] == "audit" {
			if s.value < prev {
				t.Errorf("bucket le=%s decreases", s.labels["le"])
			}
			prev = s.value
			if s.labels["le"] == "+Inf" {
				inf = s.value
			}
		}
	}
	if c := value("kubedelta_ingest_ack_seconds_count", "endpoint", "audit"); inf != c || c < float64(len(batches(lines, 400))) {
		t.Errorf("ack histogram: +Inf bucket %v, count %v, want equal and at least the batches posted", inf, c)
	}
}
