package detect

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// Helpers shared by the spec, network and process detector tests. Names
// carry a "wk" prefix: other detector families' tests share the package.

// wkT0 is when every test baseline starts; wkNow is two days later, well
// past the default warm-up.
var (
	wkT0  = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	wkNow = wkT0.Add(48 * time.Hour)
)

// wkState returns a state with an empty baseline and the default config
// (no global learning window, 15 minutes and 20 events of warm-up).
func wkState() *State {
	return &State{Profiles: baseline.NewProfiles(), Config: DefaultConfig()}
}

// wkSink collects emitted alerts.
type wkSink struct{ alerts []Alert }

func (k *wkSink) emit(a Alert) { k.alerts = append(k.alerts, a) }

// wkRun shows r to every detector of ds that reads audit events.
func wkRun(s *State, ds []Detector, r *event.APIRequest) []Alert {
	var k wkSink
	for _, d := range ds {
		if x, ok := d.(APIDetector); ok {
			x.API(s, r, k.emit)
		}
	}
	return k.alerts
}

// wkReq is a completed, allowed audit request as the audit decoder
// produces it (shapes from the kube-apiserver v1.37 fixture).
func wkReq(user, verb, group, resource, ns, name string) *event.APIRequest {
	uri := "/api/v1/"
	if group != "" {
		uri = "/apis/" + group + "/v1/"
	}
	if ns != "" {
		uri += "namespaces/" + ns + "/"
	}
	uri += resource
	if name != "" && verb != "create" {
		uri += "/" + name
	}
	groups := []string{"system:authenticated"}
	if ns2, _, ok := strings.Cut(strings.TrimPrefix(user, "system:serviceaccount:"), ":"); ok && strings.HasPrefix(user, "system:serviceaccount:") {
		groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns2, "system:authenticated"}
	}
	code := 200
	if verb == "create" {
		code = 201
	}
	return &event.APIRequest{
		AuditID: fmt.Sprintf("%08x-4ba8-4ebd-8ebe-eaca3ccd4241", len(user)*7919+len(resource)*31+len(name)),
		Stage:   event.StageResponseComplete, Level: "Metadata",
		Time: wkNow, Received: wkNow.Add(-5 * time.Millisecond),
		User:      event.Identity{Username: user, UID: "uid-" + user, Groups: groups},
		SourceIPs: []string{"10.0.0.15"}, UserAgent: "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07",
		Verb: verb, RequestURI: uri, APIGroup: group, APIVersion: "v1", Resource: resource,
		Namespace: ns, Name: name, Code: code, Decision: "allow",
	}
}

// wkBody sets the request body (level Request).
func wkBody(r *event.APIRequest, body string) *event.APIRequest {
	r.Level = "Request"
	r.RequestObject = []byte(body)
	return r
}

// wkSub splits "resource/subresource".
func wkSub(r *event.APIRequest, sub string) *event.APIRequest {
	r.Subresource = sub
	r.RequestURI += "/" + sub
	return r
}

// wkLearnSubject gives user a warmed-up baseline: calls spread over the
// day before wkNow.
func wkLearnSubject(p *baseline.Profiles, user string, calls ...baseline.CallKey) {
	if len(calls) == 0 {
		calls = []baseline.CallKey{{Verb: "get", Resource: "pods", Namespace: "shop"}}
	}
	for i := range 50 {
		for _, c := range calls {
			p.ObserveCall(user, c, "kubectl/v1.32.4", netip.MustParseAddr("10.0.0.15"), wkT0.Add(time.Duration(i)*30*time.Minute))
		}
	}
}

// wkLearnNamespace gives a namespace a warmed-up profile with workloads
// and their images.
func wkLearnNamespace(p *baseline.Profiles, ns string, workloadImages ...string) {
	for i := range 30 {
		t := wkT0.Add(time.Duration(i) * time.Hour)
		for j := 0; j+1 < len(workloadImages); j += 2 {
			p.ObserveWorkload(ns, workloadImages[j], workloadImages[j+1], t)
		}
	}
}

// wkOne returns the single alert of rule, failing otherwise.
func wkOne(t *testing.T, alerts []Alert, rule string) Alert {
	t.Helper()
	var got []Alert
	for _, a := range alerts {
		if a.Rule == rule {
			got = append(got, a)
		}
	}
	if len(got) != 1 {
		t.Fatalf("want one %s alert, got %d: %s", rule, len(got), wkDescribe(alerts))
	}
	return got[0]
}

func wkDescribe(alerts []Alert) string {
	var b strings.Builder
	for _, a := range alerts {
		fmt.Fprintf(&b, "\n  %s %s score=%.0f key=%q: %s", a.Rule, a.Severity, a.Score, a.Key, a.Message)
	}
	return b.String()
}

// wkCheckAlert asserts what every alert must carry.
func wkCheckAlert(t *testing.T, a Alert) {
	t.Helper()
	known := []string{RuleRBACEscalation, RuleWorkloadRiskySpec, RulePersistenceChange, RuleWorkloadFirstSeen,
		RuleImageFirstSeen, RuleImageUntrustedRegistry, RuleNetNovelConnection, RuleNetNovelEgress, RuleNetDenied, RuleExecNovelCommand}
	switch {
	case !slices.Contains(known, a.Rule):
		t.Errorf("unknown rule %q", a.Rule)
	case a.Time.IsZero():
		t.Errorf("%s: no time", a.Rule)
	case a.Category == "":
		t.Errorf("%s: no category", a.Rule)
	case a.Message == "" || strings.Contains(a.Message, "\n"):
		t.Errorf("%s: message must be one line: %q", a.Rule, a.Message)
	case len(a.Evidence) == 0 || len(a.Evidence) > maxEvidence:
		t.Errorf("%s: %d evidence records, want 1..%d", a.Rule, len(a.Evidence), maxEvidence)
	case len(a.MITRE) == 0:
		t.Errorf("%s: no MITRE technique", a.Rule)
	case a.Key == "":
		t.Errorf("%s: no key", a.Rule)
	case a.Score < 0 || a.Score > 99:
		t.Errorf("%s: score %v outside 0..99", a.Rule, a.Score)
	case a.Severity < Info || a.Severity > Critical:
		t.Errorf("%s: severity %d", a.Rule, a.Severity)
	}
	for _, m := range a.MITRE {
		if !strings.HasPrefix(m, "T1") {
			t.Errorf("%s: MITRE id %q", a.Rule, m)
		}
	}
}

// wkCase is one table entry of the audit-driven rules: the request, and
// the alert expected (rule "" = no alert from the detectors under test).
type wkCase struct {
	name    string
	setup   func(s *State)
	req     *event.APIRequest
	rule    string
	sev     Severity
	message string // a substring the message must contain
}

func wkRunCases(t *testing.T, ds []Detector, cases []wkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := wkState()
			if tc.setup != nil {
				tc.setup(s)
			}
			alerts := wkRun(s, ds, tc.req)
			if tc.rule == "" {
				if len(alerts) != 0 {
					t.Fatalf("want no alert, got %s", wkDescribe(alerts))
				}
				return
			}
			a := wkOne(t, alerts, tc.rule)
			wkCheckAlert(t, a)
			if a.Severity != tc.sev {
				t.Errorf("severity %s, want %s: %s", a.Severity, tc.sev, a.Message)
			}
			if !strings.Contains(a.Message, tc.message) {
				t.Errorf("message %q does not contain %q", a.Message, tc.message)
			}
		})
	}
}

func wkLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
