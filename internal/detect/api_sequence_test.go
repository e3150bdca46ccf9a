package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// apiBody attaches a Request-level body.
func apiBody(r *event.APIRequest, body string) *event.APIRequest {
	r.RequestObject = []byte(body)
	r.Level = "Request"
	return r
}

// Mirrors the sequence of Elastic's "Kubernetes Sensitive RBAC Change
// Followed by Workload Modification" (elastic/detection-rules), with the
// grant rated by internal/rbac's risk catalogue when the body is logged.
func TestSequenceRBACThenWorkload(t *testing.T) {
	crb := func(user string, at time.Duration) *event.APIRequest {
		return apiBody(apiReq(user, "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/pwn", 201, at),
			`{"kind":"ClusterRoleBinding","metadata":{"name":"pwn"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"pwn","namespace":"default"}]}`)
	}
	deploy := func(user string, at time.Duration, code int) *event.APIRequest {
		return apiReq(user, "create", "/apis/apps/v1/namespaces/default/deployments/miner", code, at)
	}
	wildcard := apiBody(apiReq("alice", "create", "/apis/rbac.authorization.k8s.io/v1/clusterroles/all", 201, 0),
		`{"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`)
	harmless := apiBody(apiReq("alice", "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles/view-cm", 201, 0),
		`{"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]}]}`)
	routine := func() *State {
		s := apiState()
		apiLearnRoutine(s, "system:serviceaccount:argocd:argocd-application-controller", 30,
			[2]string{"patch", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings/cart"},
			[2]string{"patch", "/apis/apps/v1/namespaces/shop/deployments/cart"})
		return s
	}
	argo := "system:serviceaccount:argocd:argocd-application-controller"
	status := apiReq("alice", "update", "/apis/apps/v1/namespaces/default/deployments/miner/status", 200, 2*time.Minute)
	tests := []struct {
		name     string
		state    func() *State
		reqs     []*event.APIRequest
		sev      Severity // 0: none
		key      string
		workload string
		contains string
	}{
		{"binding to cluster-admin then a deployment", apiState, []*event.APIRequest{crb("alice", 0), deploy("alice", 2*time.Minute, 201)}, Critical,
			"clusterrolebindings/pwn", "Deployment/default/miner",
			"alice (user) changed RBAC — create clusterrolebindings.rbac.authorization.k8s.io pwn (binds ClusterRole cluster-admin to ServiceAccount default/pwn) — and 2m later did create deployments.apps miner -n default: a fresh grant"},
		{"wildcard role then a pod", apiState, []*event.APIRequest{wildcard, apiReq("alice", "create", "/api/v1/namespaces/default/pods/x", 201, time.Minute)}, Critical,
			"clusterroles/all", "Pod/default/x", ""},
		{"metadata-level role then a daemonset", apiState, []*event.APIRequest{apiReq("alice", "patch", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles/r", 200, 0),
			apiReq("alice", "patch", "/apis/apps/v1/namespaces/dev/daemonsets/ds", 200, 9*time.Minute)}, High, "roles/dev/r", "DaemonSet/dev/ds", "9m later"},
		{"harmless role then a cronjob", apiState, []*event.APIRequest{harmless, apiReq("alice", "create", "/apis/batch/v1/namespaces/dev/cronjobs/c", 201, time.Minute)}, High,
			"roles/dev/view-cm", "CronJob/dev/c", ""},
		{"service account does both", apiState, []*event.APIRequest{apiReq(apiCartSA, "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings/rb", 201, 0),
			apiReq(apiCartSA, "create", "/apis/batch/v1/namespaces/shop/jobs/j", 201, time.Minute)}, Critical, "rolebindings/shop/rb", "Job/shop/j", ""},
		{"GitOps routine", routine, []*event.APIRequest{apiReq(argo, "patch", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings/cart", 200, 0),
			apiReq(argo, "patch", "/apis/apps/v1/namespaces/shop/deployments/cart", 200, time.Minute)}, Low, "rolebindings/shop/cart", "Deployment/shop/cart", "part of its baseline"},
		{"too late", apiState, []*event.APIRequest{crb("alice", 0), deploy("alice", 11*time.Minute, 201)}, 0, "", "", ""},
		{"workload first", apiState, []*event.APIRequest{deploy("alice", 0, 201), crb("alice", time.Minute)}, 0, "", "", ""},
		{"another identity", apiState, []*event.APIRequest{crb("alice", 0), deploy("bob", time.Minute, 201)}, 0, "", "", ""},
		{"rejected workload", apiState, []*event.APIRequest{crb("alice", 0), deploy("alice", time.Minute, 422)}, 0, "", "", ""},
		{"denied RBAC change", apiState, []*event.APIRequest{apiReq("alice", "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/pwn", 403, 0), deploy("alice", time.Minute, 201)}, 0, "", "", ""},
		{"status update", apiState, []*event.APIRequest{crb("alice", 0), status}, 0, "", "", ""},
		{"reads are not changes", apiState, []*event.APIRequest{apiReq("alice", "get", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x", 200, 0), deploy("alice", time.Minute, 201)}, 0, "", "", ""},
		{"API server bootstrap and controllers", apiState, []*event.APIRequest{crb("system:apiserver", 0), apiReq("system:apiserver", "create", "/api/v1/namespaces/kube-system/pods/x", 201, time.Minute)}, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, APIOptions{}, RuleSequenceRBACThenWkl), tt.state(), false, tt.reqs...)
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
			if a.Rule != RuleSequenceRBACThenWkl || a.Severity != tt.sev || a.Key != tt.key || a.Workload != tt.workload {
				t.Errorf("got %s %v key %q workload %q, want %v %q %q (%s)", a.Rule, a.Severity, a.Key, a.Workload, tt.sev, tt.key, tt.workload, a.Message)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
			if len(a.Evidence) != 2 {
				t.Errorf("want both requests as evidence, got %d", len(a.Evidence))
			}
		})
	}
}

// TestSequenceDedupAndBound: several workload changes after one RBAC
// change fold into one alert; state stays within MaxTracked.
func TestSequenceDedupAndBound(t *testing.T) {
	d := newAPISequenceDetector(APIOptions{MaxTracked: 10}.withDefaults(), newAPIIdentities(nil))
	s := apiState()
	agg := NewAggregator(s.Config)
	emit := func(a Alert) { agg.Add(a, Facts{}) }
	d.API(s, apiReq("alice", "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/pwn", 201, 0), emit)
	for i := range 3 {
		d.API(s, apiReq("alice", "create", "/api/v1/namespaces/default/pods/x", 201, time.Duration(i+1)*time.Minute), emit)
	}
	if got := agg.Alerts(); len(got) != 1 || got[0].Count != 3 {
		t.Fatalf("want one alert counted 3 times, got %+v", got)
	}
	for i := range 100 {
		d.API(s, apiReq(fmt.Sprintf("user-%d", i), "create", "/apis/rbac.authorization.k8s.io/v1/clusterroles/r", 201, time.Duration(i)*time.Second), emit)
	}
	if n := len(d.changes); n > 10 {
		t.Fatalf("tracking %d identities, want ≤ 10", n)
	}
}
