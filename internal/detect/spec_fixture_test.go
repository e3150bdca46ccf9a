package detect

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// wkFixture is the real kube-apiserver audit log shared by the project's
// tests (see /work/shared/fixtures/README.md; CI checks shared/ out beside
// the repository).
const wkFixture = "../../../shared/fixtures/audit/kube-apiserver-v1.37.2.jsonl.gz"

// TestSpecDetectorsOnRealLog runs the audit-reading detectors over a real
// API server's log: its bootstrap (the API server creating every default
// role and binding), controllers, and a person creating a namespace, a
// service account, a role and binding, pods and a token. Only the person's
// writes may be reported.
func TestSpecDetectorsOnRealLog(t *testing.T) {
	if _, err := os.Stat(wkFixture); err != nil {
		t.Skipf("shared fixture missing: %v", err)
	}
	s := wkState()
	ds := SpecDetectors(SpecOptions{})
	var got []string
	var n int
	d := audit.NewDecoder(audit.Options{KeepObjects: true})
	err := d.DecodeFiles([]string{wkFixture}, func(r *event.APIRequest) error {
		n++
		for _, a := range wkRun(s, ds, r) {
			wkCheckAlert(t, a)
			got = append(got, fmt.Sprintf("%s %s %s %s", a.Rule, a.Severity, a.Subject, a.Key))
		}
		s.Profiles.ObserveCall(r.Actor().Username, baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup,
			Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace}, r.UserAgent, netip.Addr{}, r.Time)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rbac.escalation low admin Role/probe-ns/pod-reader unjudged",
		"rbac.escalation low admin RoleBinding/probe-ns/probe-sa-pod-reader unjudged",
		"rbac.escalation high admin token probe-ns/probe-sa",
		// The second token: admin did it before (the baseline learns).
		"rbac.escalation medium admin token probe-ns/probe-sa",
	}
	if !slices.Equal(got, want) {
		t.Errorf("over %d events got\n%q\nwant\n%q", n, got, want)
	}
	if n < 1000 {
		t.Errorf("only %d events decoded", n)
	}
}
