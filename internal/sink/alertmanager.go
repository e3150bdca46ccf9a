package sink

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// alertmanager posts to Prometheus Alertmanager's v2 API
// (POST {url}/api/v2/alerts, a JSON array of postableAlert as defined in
// alertmanager's api/v2/openapi.yaml).
type alertmanager struct {
	name         string
	post         *poster
	resolve      time.Duration
	generatorURL string
	now          func() time.Time
}

func (a *alertmanager) Name() string { return a.name }

// amAlert is one postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amTime is RFC 3339 with milliseconds, the format of go-openapi's
// strfmt.DateTime that Alertmanager parses.
const amTime = "2006-01-02T15:04:05.000Z07:00"

// Limits that keep one alert's payload small.
const (
	maxAnnotation   = 1024
	maxEvidenceRefs = 3
)

func (a *alertmanager) Send(ctx context.Context, alerts []detect.Alert) error {
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	out := make([]amAlert, len(alerts))
	for i := range alerts {
		out[i] = a.convert(&alerts[i], now())
	}
	body, err := marshalJSON(out)
	if err != nil {
		return err
	}
	return a.post.post(ctx, body)
}

// convert maps an alert to Alertmanager's model. Labels identify it:
// Alertmanager groups, routes, silences and deduplicates on them, so they
// hold the low-cardinality facts (rule, severity, category, where, who)
// plus kubedelta_id, without which two findings of one rule against one
// subject (different resources, different peers) would merge into one
// Alertmanager alert. Annotations carry the text.
func (a *alertmanager) convert(al *detect.Alert, now time.Time) amAlert {
	labels := map[string]string{
		"alertname": al.Rule,
		"severity":  al.Severity.String(),
	}
	add := func(m map[string]string, k, v string) {
		if v != "" {
			m[k] = truncate(strings.ToValidUTF8(v, "\uFFFD"), maxAnnotation)
		}
	}
	if al.Rule == "" {
		labels["alertname"] = "kubedelta"
	}
	add(labels, "category", al.Category)
	add(labels, "namespace", al.Namespace)
	add(labels, "workload", al.Workload)
	add(labels, "subject", al.Subject)
	add(labels, "kubedelta_id", al.ID)

	ann := map[string]string{}
	add(ann, "summary", al.Message)
	add(ann, "mitre", strings.Join(al.MITRE, ", "))
	if al.Count > 0 {
		ann["count"] = strconv.FormatUint(al.Count, 10)
	}
	var ev []string
	for i, e := range al.Evidence {
		if i == maxEvidenceRefs {
			break
		}
		line := e.Kind
		if e.Ref != "" {
			line += " " + e.Ref
		}
		if e.Detail != "" {
			line += ": " + e.Detail
		}
		ev = append(ev, line)
	}
	add(ann, "evidence", strings.Join(ev, "\n"))

	starts := al.FirstSeen
	if starts.IsZero() {
		starts = al.Time
	}
	if starts.IsZero() {
		starts = now
	}
	last := al.LastSeen
	if last.Before(starts) {
		last = starts
	}
	// An alert that stops repeating resolves resolve after its last
	// sighting; a later publish of the same alert moves endsAt on.
	ends := last.Add(a.resolve)
	out := amAlert{
		Labels:      labels,
		Annotations: ann,
		StartsAt:    starts.UTC().Format(amTime),
		EndsAt:      ends.UTC().Format(amTime),
	}
	if a.generatorURL != "" && al.ID != "" {
		out.GeneratorURL = withQuery(a.generatorURL, "id", al.ID)
	}
	return out
}

// withQuery adds k=v to a URL's query.
func withQuery(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
