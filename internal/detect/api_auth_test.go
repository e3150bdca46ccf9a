package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Failed authentication is audited once, at ResponseStarted with code 401
// and no user (mirrors k8s.io/apiserver pkg/endpoints/filters/authn_audit.go
// and its authn_audit_test.go TestFailedAuthnAudit). Anonymous requests
// carry user system:anonymous and group system:unauthenticated
// (k8s.io/apiserver pkg/authentication/request/anonymous); the endpoints
// exempted are those the default ClusterRoles system:public-info-viewer
// and system:service-account-issuer-discovery grant to everyone
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go).
func TestAPIUnauthenticated(t *testing.T) {
	public401 := apiReq("", "list", "/api/v1/secrets", 401, 0)
	public401.SourceIPs = []string{"198.51.100.23"}
	impersonatedAnon := apiReq("admin", "list", "/api/v1/namespaces/shop/pods", 200, 0)
	impersonatedAnon.Impersonated = event.Identity{Username: "nobody", Groups: []string{"system:unauthenticated"}}
	anon := func(verb, uri string, code int) *event.APIRequest {
		return apiReq("system:anonymous", verb, uri, code, 0)
	}
	tests := []struct {
		name     string
		r        *event.APIRequest
		want     bool
		sev      Severity
		key      string
		contains string
	}{
		{"401 from the pod network", apiReq("", "get", "/api/v1/namespaces/shop/pods", 401, 0), true, Low,
			"401 from 10.244.1.17", "rejected with 401 (Authentication failed, attempted: bearer) for get pods -n shop"},
		{"401 from the internet", public401, true, Medium, "401 from 198.51.100.23", "from the public address 198.51.100.23"},
		{"anonymous lists pods", anon("list", "/api/v1/namespaces/default/pods", 200), true, High,
			"anonymous list pods default", "anonymous request allowed: list pods -n default"},
		{"anonymous creates a pod", anon("create", "/api/v1/namespaces/default/pods", 201), true, Critical,
			"anonymous create pods default", "can change the cluster"},
		{"anonymous reads a secret", anon("get", "/api/v1/namespaces/default/secrets/db", 200), true, Critical,
			"anonymous get secrets default", "secret values"},
		{"anonymous metrics", anon("get", "/metrics", 200), true, High, "anonymous get /metrics", ""},
		{"anonymous discovery", anon("get", "/apis/apps/v1", 200), true, Medium, "anonymous get /apis/apps/v1", "discovery"},
		{"impersonating the unauthenticated group", impersonatedAnon, true, High, "anonymous list pods shop", ""},
		{"anonymous healthz", anon("get", "/healthz", 200), false, 0, "", ""},
		{"anonymous livez check", anon("get", "/livez/ping", 200), false, 0, "", ""},
		{"anonymous readyz verbose", anon("get", "/readyz?verbose", 200), false, 0, "", ""},
		{"anonymous version", anon("get", "/version", 200), false, 0, "", ""},
		{"anonymous OIDC discovery", anon("get", "/.well-known/openid-configuration", 200), false, 0, "", ""},
		{"anonymous JWKS", anon("get", "/openid/v1/jwks", 200), false, 0, "", ""},
		{"anonymous denied is rbac.denied's", anon("list", "/api/v1/secrets", 403), false, 0, "", ""},
		{"authenticated user", apiReq("alice", "list", "/api/v1/namespaces/default/pods", 200, 0), false, 0, "", ""},
		{"service account", apiReq("system:serviceaccount:shop:cart", "get", "/api/v1/namespaces/shop/configmaps/c", 200, 0), false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apiRun(t, apiDetector(t, APIOptions{}, RuleAPIUnauthenticated), apiState(), false, tt.r)
			if !tt.want {
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
			if a.Rule != RuleAPIUnauthenticated || a.Severity != tt.sev || a.Key != tt.key {
				t.Errorf("got %s %v key %q, want %v %q", a.Rule, a.Severity, a.Key, tt.sev, tt.key)
			}
			if !strings.Contains(a.Message, tt.contains) {
				t.Errorf("message %q does not contain %q", a.Message, tt.contains)
			}
		})
	}
}

// TestAPIUnauthenticatedDedup: repeated 401s from one address are one
// alert whose count is the number of attempts (credential guessing shows
// as a count).
func TestAPIUnauthenticatedDedup(t *testing.T) {
	d := apiDetector(t, APIOptions{}, RuleAPIUnauthenticated)
	s := apiState()
	agg := NewAggregator(s.Config)
	for i := range 3 {
		r := apiReq("", "get", "/api/v1/namespaces/kube-system/secrets", 401, time.Duration(i)*time.Second)
		d.(APIDetector).API(s, r, func(a Alert) { agg.Add(a, Facts{}) })
	}
	got := agg.Alerts()
	if len(got) != 1 || got[0].Count != 3 || len(got[0].Evidence) != 3 {
		t.Fatalf("want one alert counted 3 times with 3 evidence records, got %+v", got)
	}
}

func TestAPIPublicAddr(t *testing.T) {
	for ip, want := range map[string]bool{
		"8.8.8.8": true, "2001:db8::1": true, "10.1.2.3": false, "192.168.1.1": false, "172.16.0.1": false,
		"127.0.0.1": false, "::1": false, "169.254.169.254": false, "100.64.3.4": false, "100.128.0.1": true,
		"fd00:ec2::254": false, "::ffff:10.0.0.1": false,
	} {
		if got := apiPublicAddr(apiAddr(t, ip)); got != want {
			t.Errorf("apiPublicAddr(%s) = %v, want %v", ip, got, want)
		}
	}
}
