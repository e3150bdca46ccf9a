package detect

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// wkCSR returns a base64 PEM certificate request for cn in orgs, as
// `kubectl create -f csr.yaml` sends it in spec.request.
func wkCSR(t *testing.T, cn string, orgs ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: orgs},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func wkEscalation() []Detector {
	return []Detector{&specEscalationDetector{sys: newSpecIdentities(nil), log: wkLog()}}
}

// TestEscalationBindings covers bindings, roles and the system: objects.
// The escalation checks mirror what the kube-apiserver's RBAC storage lets
// through only with bind/escalate (k8s.io/kubernetes
// pkg/registry/rbac/validation/rule.go ConfirmNoEscalation): a person who
// can write bindings of cluster-admin or wildcard roles owns the cluster.
func TestEscalationBindings(t *testing.T) {
	const rg = "rbac.authorization.k8s.io"
	withExecRole := func(s *State) {
		s.Authorizer = rbac.NewAuthorizer(rbac.Objects{Roles: []rbacv1.Role{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "debugger"},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}},
		}, {
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "reader"},
			Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
		}}})
	}
	cases := []wkCase{
		{name: "cluster-admin binding", rule: RuleRBACEscalation, sev: Critical, message: "binding ClusterRole cluster-admin to ServiceAccount default/builder",
			req: wkBody(wkReq("alice", "create", rg, "clusterrolebindings", "", "pwn"),
				`{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"pwn"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"builder","namespace":"default"}]}`)},
		{name: "edit in a namespace, no inventory", rule: RuleRBACEscalation, sev: High, message: "edit: secrets, pods/exec",
			req: wkBody(wkReq("alice", "create", rg, "rolebindings", "shop", "ci-edit"),
				`{"metadata":{"name":"ci-edit","namespace":"shop"},"roleRef":{"kind":"ClusterRole","name":"edit"},"subjects":[{"kind":"User","name":"bob"}]}`)},
		{name: "role judged from the inventory", rule: RuleRBACEscalation, sev: High, message: "pods-exec",
			setup: withExecRole,
			req: wkBody(wkReq("alice", "create", rg, "rolebindings", "shop", "dbg"),
				`{"metadata":{"name":"dbg"},"roleRef":{"kind":"Role","name":"debugger"},"subjects":[{"kind":"User","name":"bob"}]}`)},
		{name: "harmless role from the inventory", setup: withExecRole,
			req: wkBody(wkReq("alice", "create", rg, "rolebindings", "shop", "rd"),
				`{"metadata":{"name":"rd"},"roleRef":{"kind":"Role","name":"reader"},"subjects":[{"kind":"User","name":"bob"}]}`)},
		{name: "view for one user", req: wkBody(wkReq("alice", "create", rg, "rolebindings", "shop", "v"),
			`{"roleRef":{"kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"bob"}]}`)},
		{name: "view for anonymous", rule: RuleRBACEscalation, sev: High, message: "granted to anonymous requests",
			req: wkBody(wkReq("alice", "create", rg, "clusterrolebindings", "", "open"),
				`{"roleRef":{"kind":"ClusterRole","name":"view"},"subjects":[{"kind":"Group","name":"system:unauthenticated"}]}`)},
		{name: "unknown role for every service account", rule: RuleRBACEscalation, sev: Medium, message: "granted to every service account",
			req: wkBody(wkReq("alice", "create", rg, "clusterrolebindings", "", "all-sa"),
				`{"roleRef":{"kind":"ClusterRole","name":"custom"},"subjects":[{"kind":"Group","name":"system:serviceaccounts"}]}`)},
		{name: "patch of subjects, roleRef from the response", rule: RuleRBACEscalation, sev: Critical, message: "cluster-admin",
			req: func() *event.APIRequest {
				r := wkBody(wkReq("alice", "patch", rg, "clusterrolebindings", "", "admins"), `{"subjects":[{"kind":"User","name":"mallory"}]}`)
				r.ResponseObject = []byte(`{"metadata":{"name":"admins"},"roleRef":{"kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"User","name":"mallory"}]}`)
				return r
			}()},
		// The fixture's `kubectl create rolebinding` at level Metadata.
		{name: "metadata level", rule: RuleRBACEscalation, sev: Low, message: "role is unknown",
			req: wkReq("admin", "create", rg, "rolebindings", "probe-ns", "probe-sa-pod-reader")},
		{name: "metadata level, as every sync", req: wkReq("system:serviceaccount:argocd:argocd-application-controller", "patch", rg, "rolebindings", "shop", "web-edit"),
			setup: func(s *State) {
				wkLearnSubject(s.Profiles, "system:serviceaccount:argocd:argocd-application-controller",
					baseline.CallKey{Verb: "patch", APIGroup: rg, Resource: "rolebindings", Namespace: "shop"})
			}},
		{name: "bootstrap by the API server", req: wkReq("system:apiserver", "create", rg, "clusterrolebindings", "", "system:controller:job-controller")},
		{name: "denied", req: func() *event.APIRequest {
			r := wkBody(wkReq("alice", "create", rg, "clusterrolebindings", "", "pwn"), `{"roleRef":{"kind":"ClusterRole","name":"cluster-admin"}}`)
			r.Code, r.Decision = 403, "forbid"
			return r
		}()},
		{name: "dry run", req: func() *event.APIRequest {
			r := wkBody(wkReq("alice", "create", rg, "clusterrolebindings", "", "pwn"), `{"roleRef":{"kind":"ClusterRole","name":"cluster-admin"}}`)
			r.RequestURI += "?dryRun=All"
			return r
		}()},
		{name: "system binding deleted", rule: RuleRBACEscalation, sev: High, message: "built-in system: binding",
			req: wkReq("alice", "delete", rg, "clusterrolebindings", "", "system:public-info-viewer")},
		{name: "ordinary binding deleted", req: wkReq("alice", "delete", rg, "rolebindings", "shop", "old")},

		{name: "wildcard cluster role", rule: RuleRBACEscalation, sev: Critical, message: "wildcard-all",
			req: wkBody(wkReq("alice", "create", rg, "clusterroles", "", "ops-all"),
				`{"metadata":{"name":"ops-all"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`)},
		{name: "exec role in a namespace", rule: RuleRBACEscalation, sev: High, message: "pods-exec",
			req: wkBody(wkReq("alice", "create", rg, "roles", "shop", "exec"),
				`{"rules":[{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["get","create"]}]}`)},
		{name: "aggregated into edit", rule: RuleRBACEscalation, sev: Critical, message: "aggregated into the edit role",
			req: wkBody(wkReq("alice", "create", rg, "clusterroles", "", "agg"),
				`{"metadata":{"labels":{"rbac.authorization.k8s.io/aggregate-to-edit":"true"}},"rules":[{"apiGroups":[""],"resources":["pods/exec"],"verbs":["create"]}]}`)},
		{name: "JSON patch adding escalate", rule: RuleRBACEscalation, sev: Critical, message: "rbac-escalate",
			req: wkBody(wkReq("alice", "patch", rg, "clusterroles", "", "ops"),
				`[{"op":"add","path":"/rules/-","value":{"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"verbs":["escalate"]}}]`)},
		{name: "reader role", req: wkBody(wkReq("alice", "create", rg, "roles", "shop", "r"),
			`{"rules":[{"apiGroups":[""],"resources":["pods","configmaps"],"verbs":["get","list","watch"]}]}`)},
		{name: "system role changed by a person", rule: RuleRBACEscalation, sev: High, message: "built-in system: role",
			req: wkBody(wkReq("alice", "update", rg, "clusterroles", "", "system:node"),
				`{"metadata":{"name":"system:node"},"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}]}`)},
		{name: "aggregation controller", req: wkBody(wkReq("system:serviceaccount:kube-system:clusterrole-aggregation-controller", "update", rg, "clusterroles", "", "admin"),
			`{"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`)},
		{name: "lease renewals are ignored", req: wkReq("system:kube-scheduler", "update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler")},
	}
	wkRunCases(t, wkEscalation(), cases)
}

func TestEscalationIdentity(t *testing.T) {
	impersonate := func(r *event.APIRequest, user string, groups ...string) *event.APIRequest {
		r.Impersonated = event.Identity{Username: user, Groups: groups}
		return r
	}
	tokenFor := func(user, ns, sa string) *event.APIRequest {
		return wkSub(wkReq(user, "create", "", "serviceaccounts", ns, sa), "token")
	}
	knownTokens := func(s *State) {
		wkLearnSubject(s.Profiles, "system:serviceaccount:ci:deployer",
			baseline.CallKey{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: "shop"})
	}
	csr := func(user, signer, request string) *event.APIRequest {
		return wkBody(wkReq(user, "create", "certificates.k8s.io", "certificatesigningrequests", "", "req-1"),
			`{"metadata":{"name":"req-1"},"spec":{"signerName":"`+signer+`","request":"`+request+`","usages":["client auth"]}}`)
	}
	approval := func(user, condition string) *event.APIRequest {
		return wkBody(wkSub(wkReq(user, "update", "certificates.k8s.io", "certificatesigningrequests", "", "req-1"), "approval"),
			`{"metadata":{"name":"req-1"},"spec":{"signerName":"kubernetes.io/kube-apiserver-client"},"status":{"conditions":[{"type":"`+condition+`","status":"True"}]}}`)
	}
	proxy := func(user, path string) *event.APIRequest {
		r := wkSub(wkReq(user, "get", "", "nodes", "", "node-1"), "proxy")
		r.RequestURI += path
		return r
	}
	cases := []wkCase{
		{name: "impersonating a controller", rule: RuleRBACEscalation, sev: Critical, message: "alice impersonated system:serviceaccount:kube-system:replicaset-controller",
			req: impersonate(wkReq("alice", "list", "", "secrets", "kube-system", ""), "system:serviceaccount:kube-system:replicaset-controller")},
		{name: "impersonating system:masters", rule: RuleRBACEscalation, sev: Critical, message: "system:masters",
			req: impersonate(wkReq("alice", "get", "", "pods", "shop", "x"), "bob", "system:masters")},
		{name: "impersonating a node", rule: RuleRBACEscalation, sev: High, message: "node identity",
			req: impersonate(wkReq("alice", "get", "", "secrets", "shop", "db"), "system:node:node-1", "system:nodes")},
		// The fixture's `kubectl auth can-i --as alice` by admin.
		{name: "impersonating an ordinary user",
			req: impersonate(wkReq("admin", "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), "alice", "system:authenticated")},

		// The fixture's `kubectl create token probe-sa -n probe-ns`.
		{name: "token by a person", rule: RuleRBACEscalation, sev: High, message: "admin requested a token for service account probe-ns/probe-sa",
			req: tokenFor("admin", "probe-ns", "probe-sa")},
		{name: "token in kube-system", rule: RuleRBACEscalation, sev: Critical, message: "a kube-system account (the control plane's)",
			req: tokenFor("alice", "kube-system", "clusterrole-aggregation-controller")},
		{name: "token as usual", rule: RuleRBACEscalation, sev: Medium, message: "shop/api", setup: knownTokens,
			req: tokenFor("system:serviceaccount:ci:deployer", "shop", "api")},
		{name: "kubelet minting a projected token", req: tokenFor("system:node:node-1", "shop", "api")},
		{name: "controller manager", req: tokenFor("system:kube-controller-manager", "kube-system", "attachdetach-controller")},

		{name: "CSR for system:masters", rule: RuleRBACEscalation, sev: Critical, message: "in group system:masters",
			req: csr("alice", "kubernetes.io/kube-apiserver-client", wkCSR(t, "mallory", "system:masters"))},
		{name: "client CSR", rule: RuleRBACEscalation, sev: High, message: "client certificate for the API server as bob",
			req: csr("alice", "kubernetes.io/kube-apiserver-client", wkCSR(t, "bob", "dev"))},
		{name: "CSR, body redacted", rule: RuleRBACEscalation, sev: Medium, message: "signer example.com/serving",
			req: csr("alice", "example.com/serving", "<redacted>")},
		{name: "kubelet CSR", req: csr("system:node:node-1", "kubernetes.io/kube-apiserver-client-kubelet", wkCSR(t, "system:node:node-1", "system:nodes"))},
		{name: "bootstrap CSR", req: csr("system:bootstrap:abcdef", "kubernetes.io/kube-apiserver-client-kubelet", wkCSR(t, "system:node:node-9", "system:nodes"))},
		{name: "CSR approved by a person", rule: RuleRBACEscalation, sev: High, message: "alice approved CertificateSigningRequest req-1",
			req: approval("alice", "Approved")},
		{name: "CSR denied by a person", req: approval("alice", "Denied")},
		{name: "CSR approved by the controller", req: approval("system:serviceaccount:kube-system:certificate-controller", "Approved")},

		{name: "kubelet exec through nodes/proxy", rule: RuleRBACEscalation, sev: Critical, message: "(exec)",
			req: proxy("system:serviceaccount:shop:api", "/exec/kube-system/etcd-node-1/etcd?command=sh&input=1")},
		{name: "kubelet metrics, first time", rule: RuleRBACEscalation, sev: Low, message: "(metrics)",
			req: proxy("system:serviceaccount:monitoring:prometheus", "/metrics/cadvisor")},
		{name: "kubelet metrics, as always", req: proxy("system:serviceaccount:monitoring:prometheus", "/metrics/cadvisor"),
			setup: func(s *State) {
				wkLearnSubject(s.Profiles, "system:serviceaccount:monitoring:prometheus",
					baseline.CallKey{Verb: "get", Resource: "nodes", Subresource: "proxy"})
			}},
	}
	wkRunCases(t, wkEscalation(), cases)
}

// TestEscalationImpersonationAuthorizer: without a telling name, the
// inventory decides whether the impersonated identity is privileged.
func TestEscalationImpersonationAuthorizer(t *testing.T) {
	s := wkState()
	s.Authorizer = rbac.NewAuthorizer(rbac.Objects{
		ClusterRoles: []rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "impersonator"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"users", "groups"}}}}},
		ClusterRoleBindings: []rbacv1.ClusterRoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			RoleRef:  rbacv1.RoleRef{Kind: "ClusterRole", Name: "impersonator"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "proxy-admin"}}}},
	})
	r := wkReq("alice", "get", "", "pods", "shop", "x")
	r.Impersonated = event.Identity{Username: "proxy-admin"}
	a := wkOne(t, wkRun(s, wkEscalation(), r), RuleRBACEscalation)
	if a.Severity != Critical || !strings.Contains(a.Message, "impersonate-users") {
		t.Errorf("got %s %q", a.Severity, a.Message)
	}
	r.Impersonated = event.Identity{Username: "bob"}
	if got := wkRun(s, wkEscalation(), r); len(got) != 0 {
		t.Errorf("bob holds nothing: %s", wkDescribe(got))
	}
}

func TestKubeletEndpoint(t *testing.T) {
	for _, tc := range []struct {
		uri   string
		class string
		sev   Severity
	}{
		{"/api/v1/nodes/n1/proxy/exec/ns/pod/c?command=id", "exec", Critical},
		{"/api/v1/nodes/n1/proxy/run/ns/pod/c", "run", Critical},
		{"/api/v1/nodes/n1/proxy/pods", "pods", High},
		{"/api/v1/nodes/n1/proxy/containerLogs/ns/pod/c", "containerLogs", High},
		{"/api/v1/nodes/n1/proxy/stats/summary", "stats", Low},
		{"/api/v1/nodes/n1/proxy/metrics", "metrics", Low},
		{"/api/v1/nodes/n1/proxy/healthz?timeout=1s", "healthz", Low},
		{"/api/v1/nodes/n1/proxy/", "other", Medium},
		{"/api/v1/nodes/n1/proxy", "root", Medium},
	} {
		if c, s := specKubeletEndpoint(tc.uri); c != tc.class || s != tc.sev {
			t.Errorf("%s: %s %s, want %s %s", tc.uri, c, s, tc.class, tc.sev)
		}
	}
}
