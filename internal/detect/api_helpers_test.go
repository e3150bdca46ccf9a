package detect

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiT0 is when the test clusters' baselines start.
var apiT0 = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// apiState returns detector state with an empty baseline and the default
// config (warm-up 15 minutes / 20 events, no global learning window).
func apiState() *State {
	return &State{Profiles: baseline.NewProfiles(), Config: DefaultConfig()}
}

// apiReq builds an audit event the way the kube-apiserver fills one for
// uri (request attributes as k8s.io/apiserver's RequestInfoFactory derives
// them, simplified), at ResponseComplete with the authorization decision
// the code implies. at is an offset from apiT0.
func apiReq(user, verb, uri string, code int, at time.Duration) *event.APIRequest {
	r := &event.APIRequest{
		AuditID:    "id-" + user + "-" + verb + "-" + uri + "-" + at.String(),
		Stage:      event.StageResponseComplete,
		Level:      "Metadata",
		Time:       apiT0.Add(at),
		Received:   apiT0.Add(at),
		User:       event.Identity{Username: user, Groups: []string{"system:authenticated"}},
		SourceIPs:  []string{"10.244.1.17"},
		UserAgent:  "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07",
		Verb:       verb,
		RequestURI: uri,
		Code:       code,
		Decision:   "allow",
	}
	switch {
	case code == 403:
		r.Decision = "forbid"
		r.Reason = "Forbidden"
	case code == 401:
		r.Decision = ""
		r.Stage = event.StageResponseStarted
		r.User = event.Identity{}
		r.Reason = "Authentication failed, attempted: bearer"
	}
	if strings.HasPrefix(user, "system:serviceaccount:") {
		r.User.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + strings.Split(user, ":")[2], "system:authenticated"}
		r.UserAgent = "cart/v2.3.1 (linux/amd64) kubernetes/$Format"
	}
	if user == "system:anonymous" {
		r.User.Groups = []string{"system:unauthenticated"}
	}
	p, _, _ := strings.Cut(uri, "?")
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		r.APIVersion, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		r.APIGroup, r.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		r.Path = p
		return r
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		r.Namespace, parts = parts[1], parts[2:]
	} else if len(parts) == 2 && parts[0] == "namespaces" {
		r.Namespace = parts[1]
	}
	if len(parts) > 0 {
		r.Resource = parts[0]
	}
	if len(parts) > 1 {
		r.Name = parts[1]
	}
	if len(parts) > 2 {
		r.Subresource = parts[2]
	}
	return r
}

// apiLearn fills the baseline as the pipeline would for every request: the
// subject's call shape, agent and source address.
func apiLearn(s *State, reqs ...*event.APIRequest) {
	for _, r := range reqs {
		var ip netip.Addr
		if len(r.SourceIPs) > 0 {
			ip, _ = netip.ParseAddr(r.SourceIPs[0])
		}
		s.Profiles.ObserveCall(r.Actor().Username,
			baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace},
			r.UserAgent, ip, r.Time)
	}
}

// apiLearnRoutine gives user a day of routine: n repetitions of each of
// the requests, spread over the day before apiT0 (so warm-up is over).
func apiLearnRoutine(s *State, user string, n int, uris ...[2]string) {
	for i := range n {
		for _, u := range uris {
			apiLearn(s, apiReq(user, u[0], u[1], 200, -24*time.Hour+time.Duration(i)*time.Minute))
		}
	}
}

// apiRun feeds the requests to the detector (learning each afterwards when
// learn is set, as the pipeline does) and returns what it emitted.
func apiRun(t testing.TB, d Detector, s *State, learn bool, reqs ...*event.APIRequest) []Alert {
	t.Helper()
	ad, ok := d.(APIDetector)
	if !ok {
		t.Fatalf("%T is not an APIDetector", d)
	}
	var out []Alert
	for _, r := range reqs {
		ad.API(s, r, func(a Alert) { out = append(out, a) })
		if learn {
			apiLearn(s, r)
		}
	}
	return out
}

// apiDetector returns the detector of APIDetectors that owns rule.
func apiDetector(t testing.TB, opts APIOptions, rule string) Detector {
	t.Helper()
	for _, d := range APIDetectors(opts) {
		for _, r := range d.Rules() {
			if r.ID == rule {
				return d
			}
		}
	}
	t.Fatalf("no detector for %s", rule)
	return nil
}

// apiRules lists the rule ids of alerts.
func apiRules(as []Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Rule)
	}
	return out
}

// apiOnly keeps the alerts of one rule.
func apiOnly(as []Alert, rule string) []Alert {
	var out []Alert
	for _, a := range as {
		if a.Rule == rule {
			out = append(out, a)
		}
	}
	return out
}

// apiCheckAlert verifies the fields every alert must carry.
func apiCheckAlert(t *testing.T, a Alert) {
	t.Helper()
	if a.Time.IsZero() || a.Rule == "" || a.Category == "" || a.Message == "" || len(a.MITRE) == 0 || len(a.Evidence) == 0 {
		t.Errorf("incomplete alert: %+v", a)
	}
	if len(a.Evidence) > maxEvidence {
		t.Errorf("%d evidence records, want ≤ %d", len(a.Evidence), maxEvidence)
	}
	if strings.Contains(a.Message, "\n") {
		t.Errorf("message spans lines: %q", a.Message)
	}
}

func apiAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
