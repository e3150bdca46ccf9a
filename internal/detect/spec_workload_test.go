package detect

import (
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

func wkRisky() []Detector {
	return []Detector{&specWorkloadDetector{sys: newSpecIdentities(nil), log: wkLog()}}
}

// wkPod is a `kubectl run` pod body with extra spec JSON fields.
func wkPod(name, podFields, securityContext string) string {
	sc := ""
	if securityContext != "" {
		sc = `,"securityContext":` + securityContext
	}
	if podFields != "" {
		podFields += ","
	}
	return `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"` + name + `","labels":{"run":"` + name + `"}},"spec":{` + podFields +
		`"containers":[{"name":"` + name + `","image":"docker.io/library/alpine:3.20","command":["sleep","infinity"],"resources":{}` + sc +
		`}],"restartPolicy":"Always","dnsPolicy":"ClusterFirst"},"status":{}}`
}

// wkDeployment is a Deployment body whose pod template has the given spec.
func wkDeployment(name, podSpec string) string {
	return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `","namespace":"shop"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"` + name +
		`"}},"template":{"metadata":{"labels":{"app":"` + name + `"}},"spec":` + podSpec + `}}}`
}

// TestRiskySpec: the pod-spec checks mirror the Pod Security Standards'
// baseline and restricted policies (k8s.io/pod-security-admission
// policy/check_privileged.go, check_hostNamespaces.go, check_hostPathVolumes.go,
// check_capabilities_baseline.go, check_runAsUser.go) and the peer rules
// listed in docs/detections/workloads.md.
func TestRiskySpec(t *testing.T) {
	cases := []wkCase{
		{name: "privileged pod", rule: RuleWorkloadRiskySpec, sev: High, message: `alice created Pod shop/dbg: privileged container "dbg" — a container that can take over its node`,
			req: wkBody(wkReq("alice", "create", "", "pods", "shop", "dbg"), wkPod("dbg", "", `{"privileged":true}`))},
		{name: "privileged with hostPID", rule: RuleWorkloadRiskySpec, sev: Critical, message: "one nsenter away from a root shell",
			req: wkBody(wkReq("alice", "create", "", "pods", "shop", "dbg"), wkPod("dbg", `"hostPID":true`, `{"privileged":true}`))},
		{name: "docker socket in a deployment", rule: RuleWorkloadRiskySpec, sev: Critical, message: "hostPath /var/run/docker.sock (the Docker socket",
			req: wkBody(wkReq("system:serviceaccount:ci:deployer", "create", "apps", "deployments", "shop", "builder"),
				wkDeployment("builder", `{"containers":[{"name":"b","image":"docker:27","volumeMounts":[{"name":"sock","mountPath":"/var/run/docker.sock","readOnly":true}]}],"volumes":[{"name":"sock","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}}]}`))},
		{name: "parent of the runtime socket", rule: RuleWorkloadRiskySpec, sev: Critical, message: "hostPath /run (holds /run/docker.sock, the Docker socket",
			req: wkBody(wkReq("alice", "create", "apps", "daemonsets", "shop", "agent"),
				wkDeployment("agent", `{"containers":[{"name":"a","image":"agent:1"}],"volumes":[{"name":"run","hostPath":{"path":"/run/"}}]}`))},
		{name: "read-only /etc", rule: RuleWorkloadRiskySpec, sev: High, message: "hostPath /etc (holds /etc/kubernetes/manifests",
			req: wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "cfg"),
				wkDeployment("cfg", `{"containers":[{"name":"a","image":"a:1","volumeMounts":[{"name":"etc","mountPath":"/host/etc","readOnly":true}]}],"volumes":[{"name":"etc","hostPath":{"path":"/etc"}}]}`))},
		{name: "node root in a cronjob", rule: RuleWorkloadRiskySpec, sev: Critical, message: "CronJob shop/backup: hostPath / (the node's whole filesystem)",
			req: wkBody(wkReq("alice", "create", "batch", "cronjobs", "shop", "backup"),
				`{"metadata":{"name":"backup"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:1"}],"volumes":[{"name":"h","hostPath":{"path":"/"}}]}}}}}}`)},
		{name: "SYS_ADMIN", rule: RuleWorkloadRiskySpec, sev: High, message: "capability SYS_ADMIN",
			req: wkBody(wkReq("alice", "create", "", "pods", "shop", "fuse"), wkPod("fuse", "", `{"capabilities":{"add":["CAP_SYS_ADMIN"]}}`))},
		{name: "NET_RAW only", rule: RuleWorkloadRiskySpec, sev: Low, message: "capability NET_RAW",
			req: wkBody(wkReq("alice", "create", "", "pods", "shop", "ping"), wkPod("ping", "", `{"capabilities":{"add":["NET_RAW"],"drop":["ALL"]}}`))},
		{name: "root and escalation", rule: RuleWorkloadRiskySpec, sev: Low, message: "runs as root",
			req: wkBody(wkReq("alice", "create", "", "pods", "shop", "r"), wkPod("r", "", `{"runAsUser":0,"allowPrivilegeEscalation":true}`))},
		{name: "host network", rule: RuleWorkloadRiskySpec, sev: Medium, message: "hostNetwork",
			req: wkBody(wkReq("alice", "create", "apps", "statefulsets", "shop", "db"),
				`{"spec":{"template":{"spec":{"hostNetwork":true,"hostIPC":true,"containers":[{"name":"db","image":"postgres:16"}]}}}}`)},
		{name: "strategic merge patch", rule: RuleWorkloadRiskySpec, sev: High, message: `Deployment shop/api: privileged container "api"`,
			req: wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "api"),
				`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"api"}],"containers":[{"name":"api","securityContext":{"privileged":true}}]}}}}`)},
		{name: "JSON patch", rule: RuleWorkloadRiskySpec, sev: High, message: "hostPID",
			req: wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "api"),
				`[{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/spec/template/spec/hostPID","value":true}]`)},
		{name: "JSON patch of a capability", rule: RuleWorkloadRiskySpec, sev: Critical, message: "SYS_MODULE",
			req: wkBody(wkReq("alice", "patch", "apps", "daemonsets", "shop", "x"),
				`[{"op":"add","path":"/spec/template/spec/containers/0/securityContext","value":{"capabilities":{"add":["SYS_MODULE"]}}}]`)},
		{name: "privileged debug container", rule: RuleWorkloadRiskySpec, sev: High, message: `privileged container "debugger-x"`,
			req: wkBody(wkSub(wkReq("alice", "patch", "", "pods", "shop", "api-1"), "ephemeralcontainers"),
				`{"spec":{"containers":[{"name":"api","image":"api:1","securityContext":{"privileged":true}}],"ephemeralContainers":[{"name":"debugger-x","image":"busybox","securityContext":{"privileged":true}}]}}`)},
		// The fixture's bare pod, written by a person into kube-system at Metadata level.
		{name: "pod in kube-system", rule: RuleWorkloadRiskySpec, sev: Medium, message: "a non-system identity writing into kube-system — a workload that runs next to the control plane",
			req: wkReq("admin", "create", "", "pods", "kube-system", "p1")},
		{name: "NodePort service", rule: RuleWorkloadRiskySpec, sev: Medium, message: "type NodePort (ports 30080)",
			req: wkBody(wkReq("alice", "create", "", "services", "shop", "web"),
				`{"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080,"nodePort":30080}]}}`)},
		{name: "externalIPs", rule: RuleWorkloadRiskySpec, sev: High, message: "CVE-2020-8554",
			req: wkBody(wkReq("alice", "create", "", "services", "shop", "mitm"),
				`{"spec":{"ports":[{"port":443}],"externalIPs":["8.8.8.8"]}}`)},

		{name: "controller's service account", rule: RuleWorkloadRiskySpec, sev: High, message: "the service account of the clusterrole-aggregation-controller",
			req: wkBody(wkReq("alice", "create", "", "pods", "kube-system", "helper"), wkPod("helper", `"serviceAccountName":"clusterrole-aggregation-controller"`, ""))},
		{name: "add-on's own service account", rule: RuleWorkloadRiskySpec, sev: Medium, message: "a non-system identity writing into kube-system",
			req: wkBody(wkReq("alice", "create", "apps", "deployments", "kube-system", "metrics-server"),
				wkDeployment("metrics-server", `{"serviceAccountName":"metrics-server","containers":[{"name":"m","image":"registry.k8s.io/metrics-server/metrics-server:v0.7.2"}]}`))},
		{name: "ordinary deployment", req: wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "web"),
			wkDeployment("web", `{"containers":[{"name":"web","image":"nginx:1.27","securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},"volumeMounts":[{"name":"certs","mountPath":"/etc/ssl/certs","readOnly":true}]}],"volumes":[{"name":"certs","hostPath":{"path":"/etc/ssl/certs"}},{"name":"tmp","emptyDir":{}}]}`))},
		{name: "pod from a privileged template", req: wkBody(wkReq("system:serviceaccount:kube-system:daemon-set-controller", "create", "", "pods", "kube-system", "cilium-x7k2p"),
			wkPod("cilium", `"hostNetwork":true`, `{"privileged":true}`))},
		{name: "mirror pod of a static manifest", req: wkBody(wkReq("system:node:cp-1", "create", "", "pods", "kube-system", "etcd-cp-1"),
			wkPod("etcd", `"hostNetwork":true`, ""))},
		{name: "scale subresource", req: wkBody(wkSub(wkReq("alice", "update", "apps", "deployments", "shop", "web"), "scale"), `{"spec":{"replicas":3}}`)},
		{name: "rollout restart", req: wkBody(wkReq("alice", "patch", "apps", "deployments", "shop", "web"),
			`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-24T02:04:05Z"}}}}}`)},
		{name: "rejected by admission", req: func() *event.APIRequest {
			r := wkBody(wkReq("alice", "create", "", "pods", "shop", "dbg"), wkPod("dbg", "", `{"privileged":true}`))
			r.Code = 403
			return r
		}()},
		{name: "ClusterIP service", req: wkBody(wkReq("alice", "create", "", "services", "shop", "web"), `{"spec":{"ports":[{"port":80}]}}`)},
		{name: "custom resource named jobs", req: wkBody(wkReq("alice", "create", "example.com", "jobs", "shop", "j"), wkPod("j", "", `{"privileged":true}`))},
		{name: "malformed body", req: wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "x"), `{"spec":{"template":"nope"}}`)},
	}
	wkRunCases(t, wkRisky(), cases)
}

func TestRiskySpecEvidence(t *testing.T) {
	r := wkBody(wkReq("alice", "create", "apps", "deployments", "shop", "builder"),
		wkDeployment("builder", `{"hostPID":true,"containers":[{"name":"b","image":"evil.example/tools:1","securityContext":{"privileged":true}},{"name":"c","image":"docker:27"}],"volumes":[{"name":"sock","hostPath":{"path":"/var/run/docker.sock"}}]}`))
	a := wkOne(t, wkRun(wkState(), wkRisky(), r), RuleWorkloadRiskySpec)
	wkCheckAlert(t, a)
	if a.Workload != "Deployment/shop/builder" || a.Subject != "alice" || a.Namespace != "shop" {
		t.Errorf("identity: %q %q %q", a.Workload, a.Subject, a.Namespace)
	}
	if a.Key != "hostPID,hostPath:/var/run/docker.sock,privileged+hostPID,privileged:b" {
		t.Errorf("key %q", a.Key)
	}
	if !strings.Contains(a.Evidence[1].Detail, "evil.example/tools:1, docker:27") {
		t.Errorf("images evidence: %+v", a.Evidence)
	}
	if a.MITRE[0] != "T1610" || a.MITRE[1] != "T1611" {
		t.Errorf("MITRE %v", a.MITRE)
	}
}

func TestHostPath(t *testing.T) {
	for _, tc := range []struct {
		path     string
		readOnly bool
		sev      Severity
		ok       bool
	}{
		{"/", false, Critical, true},
		{"/", true, High, true},
		{"/var/run/docker.sock", true, Critical, true}, // read-only does not protect a socket
		{"/var/run", false, Critical, true},
		{"/run/containerd", false, Critical, true},
		{"/etc/kubernetes/manifests/", false, Critical, true},
		{"/etc/kubernetes/pki", true, Medium, true},
		{"/var/lib/kubelet/pods", false, High, true},
		{"/proc/sys/kernel", false, High, true},
		{"/etc", false, Critical, true}, // holds /etc/kubernetes/manifests
		{"/etc", true, High, true},
		{"/etc/ssl/certs", true, 0, false},
		{"/etc/localtime", true, 0, false},
		{"/var/log", true, Low, true},
		{"/var/log/pods", true, 0, false},
		{"/sys/fs/bpf", false, 0, false},
		{"/run/xtables.lock", false, 0, false},
		{"/opt/data", false, 0, false},
		{"/home/admin/.ssh", false, Medium, true},
		{"relative/path", false, 0, false},
		{"/var/../var/run/docker.sock", false, Critical, true},
	} {
		sev, why, ok := specHostPath(tc.path, tc.readOnly)
		if ok != tc.ok || sev != tc.sev || ok && why == "" {
			t.Errorf("%s ro=%v: %s %v %q, want %s %v", tc.path, tc.readOnly, sev, ok, why, tc.sev, tc.ok)
		}
	}
}

func TestNestPatchValue(t *testing.T) {
	for _, tc := range []struct{ path, value, want string }{
		{"/spec/hostPID", "true", `{"spec":{"hostPID":true}}`},
		{"/spec/template/spec/containers/0/securityContext", `{"privileged":true}`, `{"spec":{"template":{"spec":{"containers":[{"securityContext":{"privileged":true}}]}}}}`},
		{"/rules/-", `{"verbs":["*"]}`, `{"rules":[{"verbs":["*"]}]}`},
		{"/metadata/labels/a~1b", `"x"`, `{"metadata":{"labels":{"a/b":"x"}}}`},
		{"", "1", ""},
		{"spec", "1", ""},
	} {
		got, ok := specNestPatchValue(tc.path, []byte(tc.value))
		if string(got) != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %s %v, want %s", tc.path, got, ok, tc.want)
		}
	}
}

func TestDryRun(t *testing.T) {
	for uri, want := range map[string]bool{
		"/api/v1/namespaces/shop/pods?dryRun=All":                                true,
		"/api/v1/namespaces/shop/pods?fieldManager=kubectl-run&dryRun=All":       true,
		"/api/v1/namespaces/shop/pods?fieldManager=xdryRun=All":                  false,
		"/api/v1/namespaces/shop/pods?fieldManager=kubectl-create&dryRun=":       false,
		"/api/v1/namespaces/shop/pods":                                           false,
		"/apis/apps/v1/namespaces/dryRun=All/deployments?fieldValidation=Strict": false,
	} {
		if got := specDryRun(uri); got != want {
			t.Errorf("%s: %v, want %v", uri, got, want)
		}
	}
}
