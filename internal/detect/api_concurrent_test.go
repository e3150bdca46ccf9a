package detect

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// TestAPIDetectorsConcurrent feeds one set of detectors from several
// goroutines (the server's partitions share them): run with -race. The
// baseline is only read here, as the pipeline learns after detecting.
func TestAPIDetectorsConcurrent(t *testing.T) {
	ds := APIDetectors(APIOptions{MaxTracked: 64})
	s := apiCartState()
	agg := NewAggregator(s.Config)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				user := fmt.Sprintf("system:serviceaccount:ns-%d:sa-%d", g, i%7)
				at := time.Duration(i) * time.Second
				reqs := []*event.APIRequest{
					apiReq(user, "list", fmt.Sprintf("/api/v1/namespaces/ns-%d/secrets", i%13), 403, at),
					apiReq(user, "get", fmt.Sprintf("/api/v1/namespaces/shop/secrets/s-%d", i%17), 200, at),
					apiReq(user, "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/r", 201, at),
					apiReq(user, "create", "/api/v1/namespaces/shop/pods/p", 201, at),
					apiReq(user, "create", "/api/v1/namespaces/shop/pods/p/exec?command=sh", 101, at),
				}
				for _, r := range reqs {
					for _, d := range ds {
						d.(APIDetector).API(s, r, func(a Alert) { agg.Add(a, Facts{}) })
					}
				}
				for _, d := range ds {
					if x, ok := d.(ExecDetector); ok {
						x.Exec(s, apiProc("/bin/cat", "/etc/shadow"), func(a Alert) { agg.Add(a, Facts{}) })
					}
				}
			}
		}()
	}
	wg.Wait()
	rules := map[string]bool{}
	for _, a := range agg.Alerts() {
		rules[a.Rule] = true
	}
	for _, want := range []string{RuleRBACDenied, RuleRBACDeniedBurst, RuleSecretAccess, RuleSequenceRBACThenWkl, RuleExecSuspicious} {
		if !rules[want] {
			t.Errorf("no %s alert from the concurrent run", want)
		}
	}
}
