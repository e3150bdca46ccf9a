package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Covers the shapes of Elastic's "Kubernetes Secrets List Across Cluster
// or Sensitive Namespaces" and "Kubernetes Rapid Secret GET Activity
// Against Multiple Objects" (elastic/detection-rules
// rules/integrations/kubernetes), judged against the baseline instead of
// fixed user lists.
func TestSecretAccess(t *testing.T) {
	withSecretRoutine := func() *State {
		s := apiCartState()
		apiLearnRoutine(s, "system:serviceaccount:cert-manager:cert-manager", 30,
			[2]string{"watch", "/api/v1/secrets"}, [2]string{"list", "/api/v1/secrets"})
		apiLearnRoutine(s, apiCartSA, 30, [2]string{"get", "/api/v1/namespaces/shop/secrets/tls"})
		return s
	}
	learning := func() *State {
		s := apiCartState()
		s.Config.LearnUntil = apiT0.Add(time.Hour)
		return s
	}
	tests := []struct {
		name     string
		state    func() *State
		r        *event.APIRequest
		sev      Severity // 0: no alert
		key      string
		contains string
	}{
		{"service account lists every secret", apiCartState, apiReq(apiCartSA, "list", "/api/v1/secrets?limit=500", 200, 0),
			Critical, "broad list ", "list secrets in every namespace: every credential there in one call, and it never read a secret before"},
		{"user lists kube-system secrets", apiCartState, apiReq("alice", "list", "/api/v1/namespaces/kube-system/secrets", 200, 0),
			High, "broad list kube-system", "list secrets in kube-system"},
		// Learning is what the window is for: an operator that watches every
		// secret must not be the loudest alert of a benign week.
		{"broad list during learning is learned, not alerted", learning, apiReq("alice", "watch", "/api/v1/secrets?watch=true", 200, 0),
			0, "", ""},
		{"operator whose baseline watches every secret", withSecretRoutine, apiReq("system:serviceaccount:cert-manager:cert-manager", "watch", "/api/v1/secrets", 200, 0),
			Low, "broad watch ", "it has done so since 2026-11-23"},
		{"service account reads its first secret", apiCartState, apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/secrets/db", 200, 0),
			High, "first read", "read secrets for the first time: get secrets db -n shop"},
		{"user reads a first secret", apiCartState, apiFrom(apiReq("alice", "get", "/api/v1/namespaces/dev/secrets/token", 200, 0), "192.0.2.10", ""),
			Medium, "first read", ""},
		{"service account reads another secret it may", withSecretRoutine, apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/secrets/db", 200, 0),
			0, "", ""},
		{"first read during learning", learning, apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/secrets/db", 200, 0), 0, "", ""},
		{"controller manager lists every secret", apiCartState, apiReq("system:kube-controller-manager", "list", "/api/v1/secrets", 200, 0), 0, "", ""},
		{"kube-system controller", apiCartState, apiReq("system:serviceaccount:kube-system:namespace-controller", "list", "/api/v1/namespaces/kube-system/secrets", 200, 0), 0, "", ""},
		{"node reads its pod's secret", apiCartState, apiReq("system:node:worker-1", "get", "/api/v1/namespaces/shop/secrets/db", 200, 0), 0, "", ""},
		{"denied read is rbac.denied's", apiCartState, apiReq(apiCartSA, "list", "/api/v1/secrets", 403, 0), 0, "", ""},
		{"writes are not reads", apiCartState, apiReq(apiCartSA, "create", "/api/v1/namespaces/shop/secrets", 201, 0), 0, "", ""},
		{"configmaps are not secrets", apiCartState, apiReq(apiCartSA, "list", "/api/v1/configmaps", 200, 0), 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, APIOptions{}, RuleSecretAccess), tt.state(), false, tt.r)
			if tt.sev == 0 {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %q", got[0].Message)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want 1 alert, got %d", len(got))
			}
			a := got[0]
			apiCheckAlert(t, a)
			if a.Rule != RuleSecretAccess || a.Severity != tt.sev || a.Key != tt.key {
				t.Errorf("got %s %v key %q, want %v %q (%s)", a.Rule, a.Severity, a.Key, tt.sev, tt.key, a.Message)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
		})
	}
}

func TestSecretAccessBurst(t *testing.T) {
	gets := func(user string, n int, name func(int) string, step time.Duration) []*event.APIRequest {
		var out []*event.APIRequest
		for i := range n {
			out = append(out, apiReq(user, "get", "/api/v1/namespaces/shop/secrets/"+name(i), 200, time.Duration(i)*step))
		}
		return out
	}
	distinct := func(i int) string { return fmt.Sprintf("secret-%d", i) }
	var lists []*event.APIRequest
	for i := range 12 {
		lists = append(lists, apiReq("bob", "list", fmt.Sprintf("/api/v1/namespaces/team-%d/secrets", i), 200, time.Duration(i)*time.Second))
	}
	tests := []struct {
		name     string
		reqs     []*event.APIRequest
		sev      Severity
		contains string
	}{
		{"user reads ten secrets in a minute", gets("bob", 12, distinct, 5*time.Second), High,
			"bob (user) read 10 distinct secrets in 45s (shop/secret-0, shop/secret-1"},
		{"service account harvests", gets("system:serviceaccount:shop:web", 10, distinct, time.Second), Critical, "credential harvesting"},
		{"lists across namespaces", lists, High, "team-0/*, team-1/*"},
		{"nine stay under the threshold", gets("bob", 9, distinct, time.Second), 0, ""},
		{"one secret read over and over", gets("bob", 50, func(int) string { return "db" }, time.Second), 0, ""},
		{"slow reads", gets("bob", 12, distinct, time.Minute), 0, ""},
		{"helm release history", gets("bob", 20, func(i int) string { return fmt.Sprintf("sh.helm.release.v1.shop.v%d", i) }, time.Second), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, APIOptions{}, RuleSecretAccess), apiState(), false, tt.reqs...)
			if tt.sev == 0 {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %q", got[0].Message)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want 1 alert, got %d: %v", len(got), got)
			}
			a := got[0]
			apiCheckAlert(t, a)
			if a.Severity != tt.sev || a.Key != "burst" || !strings.Contains(a.Message, tt.contains) {
				t.Errorf("got %v key %q %q, want %v containing %q", a.Severity, a.Key, a.Message, tt.sev, tt.contains)
			}
		})
	}
}
