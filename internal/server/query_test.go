package server

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

func TestParseAlertFilter(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f, err := parseAlertFilter(url.Values{"severity": {"high"}, "category": {"rbac,secret", "exec"}, "namespace": {"shop"},
		"since": {"2h"}, "until": {"2026-11-24T11:00:00Z"}, "limit": {"0"}, "acked": {"true"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := AlertFilter{MinSeverity: detect.High, Categories: []string{"rbac", "secret", "exec"}, Namespace: "shop",
		Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour), IncludeAcked: true, Limit: maxAlertLimit}
	if !slices.Equal(f.Categories, want.Categories) || f.MinSeverity != want.MinSeverity || f.Namespace != want.Namespace ||
		!f.Since.Equal(want.Since) || !f.Until.Equal(want.Until) || f.Limit != want.Limit || !f.IncludeAcked {
		t.Errorf("filter %+v, want %+v", f, want)
	}
	if f, _ := parseAlertFilter(url.Values{}, now); f.Limit != defaultAlertLimit || f.IncludeAcked {
		t.Errorf("defaults: %+v", f)
	}
	for _, q := range []url.Values{
		{"severity": {"urgent"}}, {"since": {"yesterday"}}, {"until": {"-5m"}}, {"limit": {"-1"}}, {"limit": {"x"}},
		{"acked": {"maybe"}}, {"sevrity": {"high"}},
	} {
		if _, err := parseAlertFilter(q, now); err == nil {
			t.Errorf("%v: no error", q)
		}
	}
}

// FuzzParseAlertFilter: query strings never panic and a parsed limit is
// always within bounds.
func FuzzParseAlertFilter(f *testing.F) {
	for _, s := range []string{"severity=high&category=rbac,secret&limit=5", "since=2h&until=2026-11-24T11:00:00Z", "limit=0&acked=true", "a=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		fl, err := parseAlertFilter(q, time.Unix(1e9, 0))
		if err == nil && (fl.Limit <= 0 || fl.Limit > maxAlertLimit) {
			t.Fatalf("%q: limit %d out of bounds", s, fl.Limit)
		}
	})
}
