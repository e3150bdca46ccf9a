package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// Request shapes follow the real fixture
// /work/shared/fixtures/audit/kube-apiserver-v1.37.2.jsonl.gz (alice's and
// probe-sa's 403s). Outcome classification mirrors the kube-apiserver's
// authorization filter (k8s.io/apiserver pkg/endpoints/filters/authorization.go:
// the decision annotation is "forbid" for a 403 from the authorizer), which
// baseline.OutcomeOf implements.
func TestRBACDenied(t *testing.T) {
	sa := "system:serviceaccount:shop:cart"
	admissionDenied := apiReq("alice", "create", "/api/v1/namespaces/shop/pods", 403, 0)
	admissionDenied.Decision = "allow" // a PodSecurity or webhook rejection: authorized, then refused
	impersonated := apiReq("admin", "get", "/api/v1/namespaces/shop/secrets/db", 403, 0)
	impersonated.Impersonated = event.Identity{Username: "bob", Groups: []string{"system:authenticated"}}
	tests := []struct {
		name     string
		r        *event.APIRequest
		want     bool
		sev      Severity
		key      string
		subject  string
		contains string
	}{
		{"service account denied secrets in kube-system", apiReq(sa, "list", "/api/v1/namespaces/kube-system/secrets?limit=500", 403, 0),
			true, High, "list secrets kube-system", sa, "workload identity should never be denied"},
		{"user denied secrets cluster-wide (fixture)", apiReq("alice", "list", "/api/v1/secrets?limit=500", 403, 0),
			true, Medium, "list secrets", "alice", "list secrets cluster-wide, which reaches secret values"},
		{"user denied exec (fixture)", apiReq("alice", "create", "/api/v1/namespaces/probe-ns/pods/p1/exec?command=id&stdout=true", 403, 0),
			true, Medium, "create pods/exec probe-ns", "alice", "command execution"},
		{"user denied an ordinary read", apiReq("alice", "get", "/api/v1/namespaces/probe-ns/pods/p1", 403, 0),
			true, Low, "get pods probe-ns", "alice", "alice (user) was denied get pods p1 -n probe-ns"},
		{"service account denied an ordinary read", apiReq(sa, "list", "/apis/apps/v1/namespaces/shop/deployments", 403, 0),
			true, Medium, "list deployments.apps shop", sa, ""},
		{"user denied RBAC write", apiReq("alice", "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 403, 0),
			true, Medium, "create clusterrolebindings.rbac.authorization.k8s.io", "alice", "RBAC permissions"},
		{"node denied a secret (node authorizer race)", apiReq("system:node:worker-1", "get", "/api/v1/namespaces/shop/secrets/db", 403, 0),
			true, Info, "get secrets shop", "system:node:worker-1", "start-up race"},
		{"non-resource denied", apiReq("alice", "get", "/metrics", 403, 0),
			true, Low, "get /metrics", "alice", ""},
		{"impersonated identity is the subject", impersonated,
			true, Medium, "get secrets shop", "bob", "impersonated by admin"},
		{"allowed", apiReq("alice", "get", "/api/v1/namespaces/shop/pods/p1", 200, 0), false, 0, "", "", ""},
		{"not found is authorized", apiReq("alice", "get", "/api/v1/namespaces/shop/secrets/nope", 404, 0), false, 0, "", "", ""},
		{"admission rejection is not an RBAC denial", admissionDenied, false, 0, "", "", ""},
		{"failed authentication is not a denial", apiReq("", "get", "/api/v1/secrets", 401, 0), false, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleRBACDenied), apiState(), false, tt.r), RuleRBACDenied)
			if !tt.want {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %v", got[0].Message)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want 1 alert, got %d", len(got))
			}
			a := got[0]
			apiCheckAlert(t, a)
			if a.Severity != tt.sev || a.Key != "denied" || a.Subject != tt.subject || a.Category != CategoryRBAC {
				t.Errorf("got severity %v key %q subject %q category %q, want %v %q %q", a.Severity, a.Key, a.Subject, a.Category, tt.sev, "denied", tt.subject)
			}
			// The action (what the evidence and the docs call it).
			if got := apiActionKey(tt.r); got != tt.key {
				t.Errorf("action %q, want %q", got, tt.key)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
			if a.Evidence[0].Ref != tt.r.AuditID {
				t.Errorf("evidence ref %q, want the auditID %q", a.Evidence[0].Ref, tt.r.AuditID)
			}
		})
	}
}

// TestRBACDeniedRanking: a service account denied a secret outranks a user
// denied a pod.
func TestRBACDeniedRanking(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleRBACDenied)
	s := apiState()
	agg := NewAggregator(s.Config)
	for _, r := range []*event.APIRequest{
		apiReq("alice", "get", "/api/v1/namespaces/shop/pods/p1", 403, 0),
		apiReq("system:serviceaccount:shop:cart", "get", "/api/v1/namespaces/shop/secrets/db", 403, time.Second),
		apiReq("bob", "get", "/api/v1/namespaces/shop/secrets/db", 403, 2*time.Second),
	} {
		d.(APIDetector).API(s, r, func(a Alert) { agg.Add(a, Facts{}) })
	}
	got := agg.Alerts()
	if len(got) != 3 || got[0].Subject != "system:serviceaccount:shop:cart" || got[1].Subject != "bob" || got[2].Subject != "alice" {
		t.Fatalf("ranking: %v", apiSubjects(got))
	}
}

func apiSubjects(as []Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Subject)
	}
	return out
}

// TestRBACDeniedDedup: denials of one subject fold into one alert (the
// issue: "aggregated per subject"), counted, with each distinct action in
// the evidence.
func TestRBACDeniedDedup(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleRBACDenied)
	s := apiState()
	agg := NewAggregator(s.Config)
	for i, uri := range []string{"/api/v1/secrets", "/api/v1/secrets?limit=500", "/api/v1/namespaces/kube-system/secrets"} {
		d.(APIDetector).API(s, apiReq("alice", "list", uri, 403, time.Duration(i)*time.Minute), func(a Alert) { agg.Add(a, Facts{}) })
	}
	d.(APIDetector).API(s, apiReq("bob", "list", "/api/v1/secrets", 403, 0), func(a Alert) { agg.Add(a, Facts{}) })
	got := apiOnly(agg.Alerts(), RuleRBACDenied)
	if len(got) != 2 {
		t.Fatalf("want one alert per subject (2), got %d", len(got))
	}
	counts := map[string]uint64{}
	evidence := map[string]int{}
	for _, a := range got {
		counts[a.Subject] = a.Count
		evidence[a.Subject] = len(a.Evidence)
	}
	if counts["alice"] != 3 || counts["bob"] != 1 {
		t.Errorf("counts %v, want alice ×3 and bob ×1", counts)
	}
	if evidence["alice"] != 3 {
		t.Errorf("alice's alert carries %d evidence records, want 3", evidence["alice"])
	}
}

// denials returns n forbidden requests by user for distinct resources,
// step apart, from addr.
func apiDenials(user, addr string, n int, start, step time.Duration) []*event.APIRequest {
	res := []string{
		"/api/v1/namespaces/kube-system/secrets", "/api/v1/configmaps", "/api/v1/nodes",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles", "/api/v1/namespaces/default/serviceaccounts",
		"/apis/apps/v1/daemonsets", "/api/v1/persistentvolumes", "/apis/batch/v1/cronjobs",
		"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
	}
	var out []*event.APIRequest
	for i := range n {
		uri := res[i%len(res)]
		if i >= len(res) {
			uri = fmt.Sprintf("/api/v1/namespaces/ns-%d/secrets", i)
		}
		r := apiReq(user, "list", uri, 403, start+time.Duration(i)*step)
		r.SourceIPs = []string{addr}
		out = append(out, r)
	}
	return out
}

func TestRBACDeniedBurst(t *testing.T) {
	sa := "system:serviceaccount:shop:cart"
	reviews := func(user string, n int) []*event.APIRequest {
		var out []*event.APIRequest
		for i := range n {
			out = append(out, apiReq(user, "create", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 201, time.Duration(i)*5*time.Second))
		}
		return out
	}
	var manyIdentities []*event.APIRequest
	for i, u := range []string{"system:serviceaccount:a:x", "system:serviceaccount:b:y", "carol"} {
		// Two denials each, of different actions.
		manyIdentities = append(manyIdentities, apiDenials(u, "203.0.113.9", 2*(i+1), time.Duration(i)*time.Second, 10*time.Second)[2*i:]...)
	}
	var sameTwice []*event.APIRequest
	for i := range 10 {
		sameTwice = append(sameTwice, apiReq("alice", "list", "/api/v1/secrets", 403, time.Duration(i)*time.Second))
	}
	tests := []struct {
		name     string
		reqs     []*event.APIRequest
		subjects []string // subjects of the burst alerts, in order
		sev      Severity
		contains string
	}{
		{"service account enumerates", apiDenials(sa, "10.244.1.17", 5, 0, 20*time.Second), []string{sa}, Critical,
			"was denied 5 requests across 5 distinct probes in 1m (list secrets -n kube-system, list configmaps cluster-wide"},
		{"user enumerates", apiDenials("mallory", "198.51.100.4", 7, 0, 10*time.Second), []string{"mallory"}, High, "permission enumeration"},
		{"user asks can-i six times", reviews("alice", 6), []string{"alice"}, High, "asked for its permissions 5 times"},
		{"same action repeated is not enumeration", sameTwice, nil, 0, ""},
		{"four distinct denials stay under the threshold", apiDenials("alice", "10.0.0.1", 4, 0, time.Second), nil, 0, ""},
		{"five denials spread over half an hour", apiDenials("alice", "10.0.0.1", 5, 0, 6*time.Minute), nil, 0, ""},
		{"control-plane start-up denials", apiDenials("system:kube-scheduler", "10.0.0.2", 10, 0, time.Second), nil, 0, ""},
		{"kube-system controller", apiDenials("system:serviceaccount:kube-system:replicaset-controller", "10.0.0.2", 10, 0, time.Second), nil, 0, ""},
		{"three identities from one address", manyIdentities, []string{""}, Critical, "3 identities (system:serviceaccount:a:x, system:serviceaccount:b:y, carol) from 203.0.113.9"},
		{"anonymous scanner", apiDenials("system:anonymous", "198.51.100.77", 6, 0, time.Second), []string{"system:anonymous"}, High, "anonymous clients from 198.51.100.77"},
		{"clients on the API server's host", apiLoopback(manyIdentities), nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleRBACDeniedBurst), apiState(), false, tt.reqs...), RuleRBACDeniedBurst)
			if len(got) != len(tt.subjects) {
				t.Fatalf("want %d bursts, got %d: %v", len(tt.subjects), len(got), got)
			}
			for i, a := range got {
				apiCheckAlert(t, a)
				if a.Subject != tt.subjects[i] || a.Severity != tt.sev {
					t.Errorf("burst %d: subject %q severity %v, want %q %v", i, a.Subject, a.Severity, tt.subjects[i], tt.sev)
				}
				if !strings.Contains(a.Message, tt.contains) {
					t.Errorf("message %q does not contain %q", a.Message, tt.contains)
				}
			}
		})
	}
}

func apiLoopback(reqs []*event.APIRequest) []*event.APIRequest {
	var out []*event.APIRequest
	for _, r := range reqs {
		c := *r
		c.SourceIPs = []string{"127.0.0.1"}
		out = append(out, &c)
	}
	return out
}

// TestRBACDeniedBurstNodeAddress: host-network pods share their node's
// address, so several identities denied from it are not one attacker —
// when the inventory says it is a node's.
func TestRBACDeniedBurstNodeAddress(t *testing.T) {
	idx := cluster.NewIndex(nil)
	idx.AddPod(apiPod("monitoring", "node-exporter-abcde", "node-exporter", "10.0.0.11", true))
	var reqs []*event.APIRequest
	for i, u := range []string{"system:serviceaccount:monitoring:node-exporter", "system:serviceaccount:ingress:controller", "system:serviceaccount:cni:agent"} {
		reqs = append(reqs, apiDenials(u, "10.0.0.11", 2*(i+1), time.Duration(i)*time.Second, 10*time.Second)[2*i:]...)
	}
	s := apiState()
	s.Index = idx
	if got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleRBACDeniedBurst), s, false, reqs...), RuleRBACDeniedBurst); len(got) != 0 {
		t.Fatalf("node address: want no burst, got %q", got[0].Message)
	}
	if got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleRBACDeniedBurst), apiState(), false, reqs...), RuleRBACDeniedBurst); len(got) != 1 {
		t.Fatalf("without the inventory the address is unknown: want a burst, got %d", len(got))
	}
}

// TestRBACDeniedBurstEpisodes: a burst raises one alert however long it
// goes on; after a quiet window a new burst raises another, which the
// aggregator folds into the first (count 2).
func TestRBACDeniedBurstEpisodes(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleRBACDeniedBurst)
	s := apiState()
	agg := NewAggregator(s.Config)
	reqs := apiDenials("mallory", "198.51.100.4", 40, 0, 5*time.Second)
	reqs = append(reqs, apiDenials("mallory", "198.51.100.4", 6, time.Hour, 5*time.Second)...)
	got := apiOnly(apiRun(t, d, s, false, reqs...), RuleRBACDeniedBurst)
	if len(got) != 2 {
		t.Fatalf("want 2 bursts (one per episode), got %d", len(got))
	}
	for _, a := range got {
		agg.Add(a, Facts{})
	}
	if al := agg.Alerts(); len(al) != 1 || al[0].Count != 2 {
		t.Fatalf("aggregated: %+v", al)
	}
}

// TestRBACDeniedBurstOptions: the threshold and window are configurable.
func TestRBACDeniedBurstOptions(t *testing.T) {
	d := apiDetector(t, APIOptions{DeniedBurstThreshold: 3, DeniedBurstWindow: time.Hour}, RuleRBACDeniedBurst)
	got := apiOnly(apiRun(t, d, apiState(), false, apiDenials("alice", "10.0.0.1", 3, 0, 10*time.Minute)...), RuleRBACDeniedBurst)
	if len(got) != 1 {
		t.Fatalf("want a burst at 3 denials in 30m with threshold 3 / window 1h, got %d", len(got))
	}
}

// TestRBACDeniedBurstBounded: state stays within MaxTracked whatever the
// number of identities.
func TestRBACDeniedBurstBounded(t *testing.T) {
	d := newAPIDeniedDetector(APIOptions{MaxTracked: 10}.withDefaults(), newAPIIdentities(nil))
	s := apiState()
	for i := range 1000 {
		r := apiReq(fmt.Sprintf("user-%d", i), "list", "/api/v1/secrets", 403, time.Duration(i)*time.Millisecond)
		r.SourceIPs = []string{fmt.Sprintf("10.1.%d.%d", i/250, i%250)}
		d.API(s, r, func(Alert) {})
	}
	if n, m := d.bySubject.len(), d.bySource.len(); n > 10 || m > 10 {
		t.Fatalf("tracked %d subjects and %d sources, want ≤ 10 each", n, m)
	}
	for _, e := range d.bySubject.m {
		if len(e.items) > max(4*DefaultDeniedBurstThreshold, 32) {
			t.Fatalf("window holds %d items", len(e.items))
		}
	}
}
