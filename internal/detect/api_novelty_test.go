package detect

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

const apiCartSA = "system:serviceaccount:shop:cart"

// apiCartState is a cluster whose baseline has a day of routine for the
// cart service account (reads its config, lists pods, watches endpoints,
// from 10.244.1.17 with its own client) and for alice (reads pods in dev
// with kubectl from 192.0.2.10).
func apiCartState() *State {
	s := apiState()
	apiLearnRoutine(s, apiCartSA, 30,
		[2]string{"get", "/api/v1/namespaces/shop/configmaps/cart"},
		[2]string{"list", "/api/v1/namespaces/shop/pods"},
		[2]string{"watch", "/api/v1/namespaces/shop/endpoints"})
	for i := range 30 {
		r := apiReq("alice", "get", "/api/v1/namespaces/dev/pods/web-1", 200, -24*time.Hour+time.Duration(i)*time.Minute)
		r.SourceIPs = []string{"192.0.2.10"}
		apiLearn(s, r)
	}
	return s
}

// apiFrom sets a request's source address and user agent.
func apiFrom(r *event.APIRequest, ip, agent string) *event.APIRequest {
	if ip != "" {
		r.SourceIPs = []string{ip}
	}
	if agent != "" {
		r.UserAgent = agent
	}
	return r
}

// Novelty follows the framework's contract (State.Learning): nothing is
// novel during the global learning window or an entity's warm-up.
func TestAPINovelCall(t *testing.T) {
	alice := func(verb, uri string, code int) *event.APIRequest {
		return apiFrom(apiReq("alice", verb, uri, code, 0), "192.0.2.10", "")
	}
	tests := []struct {
		name     string
		r        *event.APIRequest
		sev      Severity // 0: no alert
		key      string
		contains string
	}{
		{"service account reads secrets for the first time", apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/secrets/db", 200, 0),
			High, "read secrets", "made a call outside its baseline: get secrets db -n shop, which reaches secret values (baseline: 3 call shapes since 2026-11-23)"},
		{"service account in a new namespace", apiReq(apiCartSA, "list", "/api/v1/namespaces/billing/pods", 200, 0),
			Medium, "read pods", "in a namespace it never used"},
		{"service account writes", apiReq(apiCartSA, "create", "/apis/apps/v1/namespaces/shop/deployments", 201, 0),
			Medium, "create deployments.apps", ""},
		{"user execs for the first time", alice("create", "/api/v1/namespaces/dev/pods/web-1/exec?command=ls", 101),
			Medium, "create pods/exec", "command execution"},
		{"user lists configmaps for the first time", alice("list", "/api/v1/namespaces/dev/configmaps", 200),
			Low, "read configmaps", ""},
		{"known call", apiReq(apiCartSA, "list", "/api/v1/namespaces/shop/pods", 200, 0), 0, "", ""},
		{"denied call is rbac.denied's", apiReq(apiCartSA, "list", "/api/v1/namespaces/shop/secrets", 403, 0), 0, "", ""},
		{"never-seen subject is warming up", apiReq("system:serviceaccount:shop:new", "get", "/api/v1/namespaces/shop/secrets/db", 200, 0), 0, "", ""},
		{"control plane is not judged", apiReq("system:kube-controller-manager", "delete", "/api/v1/namespaces/shop/pods/x", 200, 0), 0, "", ""},
		{"kube-system controller is not judged", apiReq("system:serviceaccount:kube-system:generic-garbage-collector", "delete", "/apis/apps/v1/namespaces/shop/replicasets/x", 200, 0), 0, "", ""},
		{"non-resource requests are not call shapes", apiReq(apiCartSA, "get", "/version", 200, 0), 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleAPINovelCall), apiCartState(), false, tt.r), RuleAPINovelCall)
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
			if a.Severity != tt.sev || a.Key != tt.key {
				t.Errorf("got %v key %q, want %v %q", a.Severity, a.Key, tt.sev, tt.key)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
		})
	}
}

// TestAPINoveltyLearning: the same novel request raises nothing during the
// global learning window, during the subject's warm-up (too recent, or too
// few events), and an alert once both are over; learned, it is not novel
// again.
func TestAPINoveltyLearning(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleAPINovelCall)
	novel := func(agent string) *event.APIRequest {
		return apiFrom(apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/secrets/db", 200, 0), "", agent)
	}
	count := func(s *State, agent string) int { return len(apiRun(t, d, s, false, novel(agent))) }

	s := apiCartState()
	s.Config.LearnUntil = apiT0.Add(time.Hour)
	if n := count(s, "kubectl/v1.32.4"); n != 0 {
		t.Errorf("learning window: %d alerts", n)
	}

	s = apiState() // seen for 10 minutes only
	for i := range 30 {
		apiLearn(s, apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/configmaps/cart", 200, -10*time.Minute+time.Duration(i)*time.Second))
	}
	if n := count(s, ""); n != 0 {
		t.Errorf("warm-up by time: %d alerts", n)
	}

	s = apiState() // seen long ago, but only 5 events
	apiLearnRoutine(s, apiCartSA, 5, [2]string{"get", "/api/v1/namespaces/shop/configmaps/cart"})
	if n := count(s, ""); n != 0 {
		t.Errorf("warm-up by events: %d alerts", n)
	}

	s = apiCartState()
	got := apiRun(t, d, s, true, novel("kubectl/v1.32.4"), novel("kubectl/v1.32.4"))
	if len(apiOnly(got, RuleAPINovelCall)) != 1 || len(apiOnly(got, RuleAPINovelAgent)) != 1 {
		t.Errorf("after learning: want one novel call and one novel agent (then learned), got %v", apiRules(got))
	}
}

// TestAPINovelAgentWarmUp: a token stolen before its account was ever used
// is still a stolen token. During a subject's warm-up (but not during the
// global learning window) a service account used with a person's tool or
// from a public address is reported; other novelties wait for its history.
func TestAPINovelAgentWarmUp(t *testing.T) {
	fresh := "system:serviceaccount:shop:fresh"
	warm := func() *State {
		s := apiState()
		apiLearn(s, apiReq(fresh, "get", "/api/v1/namespaces/shop/configmaps/c", 200, -time.Minute))
		apiLearn(s, apiFrom(apiReq("dave", "get", "/api/v1/namespaces/dev/pods", 200, -time.Minute), "192.0.2.20", ""))
		return s
	}
	tests := []struct {
		name  string
		state func() *State
		r     *event.APIRequest
		sev   Severity // 0: none
	}{
		{"service account with kubectl", warm, apiFrom(apiReq(fresh, "list", "/api/v1/namespaces/shop/secrets", 403, 0), "", "kubectl/v1.32.4"), High},
		{"never-seen service account from a public address", apiState, apiFrom(apiReq(fresh, "create", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", 201, 0), "203.0.113.66", ""), High},
		{"service account from another private network", warm, apiFrom(apiReq(fresh, "get", "/api/v1/namespaces/shop/configmaps/c", 200, 0), "192.168.9.9", ""), 0},
		{"service account with another library", warm, apiFrom(apiReq(fresh, "get", "/api/v1/namespaces/shop/configmaps/c", 200, 0), "", "Go-http-client/2.0"), 0},
		{"user with a new client", warm, apiFrom(apiReq("dave", "get", "/api/v1/namespaces/dev/pods", 200, 0), "192.0.2.20", "python-requests/2.31"), 0},
		{"user with an attack tool", warm, apiFrom(apiReq("dave", "get", "/api/v1/namespaces/dev/pods", 200, 0), "192.0.2.20", "trufflehog/3.63"), High},
		{"global learning window", func() *State { s := warm(); s.Config.LearnUntil = apiT0.Add(time.Hour); return s },
			apiFrom(apiReq(fresh, "list", "/api/v1/namespaces/shop/secrets", 403, 0), "203.0.113.66", "kubectl/v1.32.4"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleAPINovelAgent), tt.state(), false, tt.r), RuleAPINovelAgent)
			if tt.sev == 0 {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %q", got[0].Message)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tt.sev {
				t.Fatalf("got %+v, want one %v alert", got, tt.sev)
			}
			apiCheckAlert(t, got[0])
		})
	}
}

func TestAPINovelAgent(t *testing.T) {
	cart := func(ip, agent string) *event.APIRequest {
		return apiFrom(apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/configmaps/cart", 200, 0), ip, agent)
	}
	alice := func(ip, agent string) *event.APIRequest {
		if ip == "" {
			ip = "192.0.2.10"
		}
		return apiFrom(apiReq("alice", "get", "/api/v1/namespaces/dev/pods/web-1", 200, 0), ip, agent)
	}
	tests := []struct {
		name     string
		r        *event.APIRequest
		sev      Severity // 0: no alert
		key      string
		contains string
	}{
		{"service account token with kubectl", cart("", "kubectl/v1.30.2 (darwin/arm64) kubernetes/abc"), High, "agent kubectl",
			"a person's tool with a workload's token"},
		{"service account token with curl", cart("", "curl/8.5.0"), High, "agent curl", "likely in someone else's hands"},
		{"service account with another library", cart("", "Go-http-client/2.0"), Medium, "agent go-http-client", ""},
		{"service account client upgraded", cart("", "cart/v2.4.0 (linux/amd64) kubernetes/$Format"), 0, "", ""},
		{"service account from a public address", cart("203.0.113.50", ""), High, "address 203.0.113.0/24", "203.0.113.50, a public address"},
		{"service account from a new pod address", cart("10.244.7.3", ""), 0, "", ""},
		{"service account from another private network", cart("192.168.5.5", ""), Medium, "address 192.168.5.0/24", ""},
		{"user with a new client", alice("", "python-requests/2.31.0"), Low, "agent python-requests", ""},
		{"user from a nearby address", alice("192.0.2.77", ""), 0, "", ""},
		{"user from a new network", alice("198.51.100.8", ""), Low, "address 198.51.100.0/24", ""},
		{"user with a new client from a new network", alice("198.51.100.8", "python-requests/2.31.0"), Medium,
			"agent python-requests address 198.51.100.0/24", "with a client it never used (python-requests/2.31.0) and from 198.51.100.8"},
		{"user runs an enumeration tool", alice("", "access_matrix/v0.0.0 (linux/amd64)"), High, "agent access_matrix", "attack or secret-scanning tool"},
		{"known client and address", cart("", ""), 0, "", ""},
		{"kubelet is not judged", apiFrom(apiReq("system:node:worker-1", "get", "/api/v1/nodes/worker-1", 200, 0), "203.0.113.1", "curl/8"), 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleAPINovelAgent), apiCartState(), false, tt.r), RuleAPINovelAgent)
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
			if a.Severity != tt.sev || a.Key != tt.key {
				t.Errorf("got %v key %q, want %v %q (%s)", a.Severity, a.Key, tt.sev, tt.key, a.Message)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
		})
	}
}

// apiPod is a running pod at ip, owned by a ReplicaSet, started a day
// before apiT0.
func apiPod(ns, name, sa, ip string, hostNetwork bool) *corev1.Pod {
	start := metav1.NewTime(apiT0.Add(-24 * time.Hour))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), CreationTimestamp: start,
			Labels: map[string]string{"pod-template-hash": "7d9f"}},
		Spec: corev1.PodSpec{ServiceAccountName: sa, HostNetwork: hostNetwork, NodeName: "worker-1",
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.0.11",
			StartTime: &start},
	}
}

// TestAPINovelAgentInventory: with a cluster inventory, a service account
// at a new address is judged by who held the address: its own pod (a
// restart) is fine, another workload's pod is a stolen token.
func TestAPINovelAgentInventory(t *testing.T) {
	idx := cluster.NewIndex(nil)
	idx.AddPod(apiPod("shop", "cart-7d9f-abcde", "cart", "10.244.9.9", false))
	idx.AddPod(apiPod("shop", "web-7d9f-xyz12", "web", "10.244.3.3", false))
	idx.AddPod(apiPod("shop", "cart-agent-7d9f-host1", "cart", "10.0.0.11", true))
	tests := []struct {
		ip       string
		sev      Severity
		contains string
	}{
		{"10.244.9.9", 0, ""},
		{"10.244.3.3", High, "pod shop/web-7d9f-xyz12 which runs as service account web"},
		{"10.0.0.11", 0, ""}, // a host-network pod of cart on that node
		{"10.99.0.1", Medium, "outside the cluster's pods and nodes"},
		{"203.0.113.50", High, "a public address outside the cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			s := apiCartState()
			s.Index = idx
			r := apiFrom(apiReq(apiCartSA, "get", "/api/v1/namespaces/shop/configmaps/cart", 200, 0), tt.ip, "")
			got := apiOnly(apiRun(t, apiDetector(t, APIOptions{}, RuleAPINovelAgent), s, false, r), RuleAPINovelAgent)
			if tt.sev == 0 {
				if len(got) != 0 {
					t.Fatalf("want no alert, got %q", got[0].Message)
				}
				return
			}
			if len(got) != 1 || got[0].Severity != tt.sev || !strings.Contains(got[0].Message, tt.contains) {
				t.Fatalf("got %+v, want %v containing %q", got, tt.sev, tt.contains)
			}
		})
	}
}

func TestAPIProduct(t *testing.T) {
	for ua, want := range map[string]string{
		"kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07":                                                                         "kubectl",
		"kube-controller-manager/v1.30.1 (linux/amd64) kubernetes/6911225/system:serviceaccount:kube-system:deployment-controller": "kube-controller-manager",
		"Go-http-client/2.0":            "go-http-client",
		"Mozilla/5.0 (X11; Linux)":      "mozilla",
		"argocd-application-controller": "argocd-application-controller",
		"curl 7":                        "curl",
	} {
		if got := apiProduct(ua); got != want {
			t.Errorf("apiProduct(%q) = %q, want %q", ua, got, want)
		}
	}
}
