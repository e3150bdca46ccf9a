package detect

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// FuzzSpecBody feeds arbitrary request and response bodies, as any verb
// on every resource the spec rules decode, to all audit-reading detectors:
// they must not panic, and whatever they report must be a well-formed
// alert.
func FuzzSpecBody(f *testing.F) {
	for _, seed := range []string{
		wkPod("dbg", `"hostPID":true`, `{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}}`),
		wkDeployment("b", `{"containers":[{"name":"b","image":"evil.example/x:1"}],"volumes":[{"name":"s","hostPath":{"path":"/var/run/docker.sock"}}]}`),
		`{"roleRef":{"kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","name":"system:unauthenticated"}]}`,
		`{"metadata":{"labels":{"rbac.authorization.k8s.io/aggregate-to-admin":"true"}},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`,
		`[{"op":"add","path":"/spec/template/spec/containers/0/securityContext","value":{"privileged":true}}]`,
		`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"},{"op":"add","path":"/rules/-","value":{"verbs":["escalate"]}}]`,
		`{"spec":{"type":"NodePort","externalIPs":["1.2.3.4"],"ports":[{"port":80,"nodePort":30080}]}}`,
		`{"spec":{"signerName":"kubernetes.io/kube-apiserver-client","request":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K"},"status":{"conditions":[{"type":"Approved"}]}}`,
		`{"webhooks":[{"name":"w","failurePolicy":"Ignore"}]}`,
		`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"volumes":[{"hostPath":{"path":"/"}}]}}}}}}`,
		`"<redacted: malformed body>"`, `[1,2,`, `{"spec":{"template":null}}`, `[{"op":"add","path":"/a/~2/0/-","value":{}}]`,
	} {
		for _, target := range []string{"pods", "deployments", "cronjobs", "clusterrolebindings", "clusterroles",
			"mutatingwebhookconfigurations", "services", "certificatesigningrequests"} {
			f.Add(seed, target, "create", false)
		}
		f.Add(seed, "rolebindings", "patch", true)
		f.Add(seed, "pods", "patch", true)
	}
	s := wkState()
	wkShop(s)
	wkLearnSubject(s.Profiles, "alice")
	s.Authorizer = rbac.NewAuthorizer(rbac.Objects{ClusterRoles: []rbacv1.ClusterRole{{
		ObjectMeta: metav1.ObjectMeta{Name: "custom"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}},
	}}})
	ds := SpecDetectors(SpecOptions{})
	groups := map[string]string{
		"deployments": "apps", "cronjobs": "batch", "clusterrolebindings": "rbac.authorization.k8s.io",
		"rolebindings": "rbac.authorization.k8s.io", "clusterroles": "rbac.authorization.k8s.io",
		"mutatingwebhookconfigurations": "admissionregistration.k8s.io", "certificatesigningrequests": "certificates.k8s.io",
	}
	f.Fuzz(func(t *testing.T, body, resource, verb string, response bool) {
		ns := "shop"
		if strings.HasPrefix(resource, "cluster") || strings.Contains(resource, "webhook") || resource == "certificatesigningrequests" {
			ns = ""
		}
		r := wkReq("alice", verb, groups[resource], resource, ns, "x")
		r.Impersonated.Username = "system:serviceaccount:kube-system:job-controller"
		r.RequestObject = []byte(body)
		if response {
			r.ResponseObject = []byte(body)
		}
		for _, a := range wkRun(s, ds, r) {
			wkCheckAlert(t, a)
		}
		specDecodeBody([]byte(body)) // must not panic on anything
	})
}
