package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
)

// A person whose baseline has exec sessions opening a shell again is
// routine debugging (low); the first time, it is worth a look (medium).
func TestExecShellRoutineForPerson(t *testing.T) {
	uri := "/api/v1/namespaces/shop/pods/web-1/exec?command=sh&container=web&stdin=true&stdout=true&tty=true"
	for _, tt := range []struct {
		name    string
		routine bool
		want    Severity
	}{{"first exec of this person", false, Medium}, {"person who debugs with exec", true, Low}} {
		t.Run(tt.name, func(t *testing.T) {
			s := apiState()
			if tt.routine {
				s.Profiles.ObserveCall("alice", baseline.CallKey{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "shop"},
					"kubectl/v1.37.2", netip.MustParseAddr("192.0.2.10"), apiT0.Add(-48*time.Hour))
			}
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleExecSuspicious), s, false, apiReq("alice", "create", uri, 101, 0)), RuleExecSuspicious)
			if len(got) != 1 {
				t.Fatalf("want 1 alert, got %d", len(got))
			}
			if got[0].Severity != tt.want {
				t.Errorf("severity %s, want %s (%s)", got[0].Severity, tt.want, got[0].Message)
			}
		})
	}
}
