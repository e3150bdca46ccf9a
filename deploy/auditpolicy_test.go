package deploy_test

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// policy mirrors audit.k8s.io/v1 Policy (k8s.io/apiserver
// pkg/apis/audit/v1/types.go; k8s.io/apiserver is not a dependency).
// Decoding is strict: a misspelt field (userGroup, namespace, …) would make
// the API server reject the file at start-up, or worse, silently widen a
// rule, and fails here.
type policy struct {
	APIVersion        string         `json:"apiVersion"`
	Kind              string         `json:"kind"`
	Metadata          map[string]any `json:"metadata,omitempty"`
	Rules             []policyRule   `json:"rules"`
	OmitStages        []string       `json:"omitStages,omitempty"`
	OmitManagedFields bool           `json:"omitManagedFields,omitempty"`
}

type policyRule struct {
	Level             string           `json:"level"`
	Users             []string         `json:"users,omitempty"`
	UserGroups        []string         `json:"userGroups,omitempty"`
	Verbs             []string         `json:"verbs,omitempty"`
	Resources         []groupResources `json:"resources,omitempty"`
	Namespaces        []string         `json:"namespaces,omitempty"`
	NonResourceURLs   []string         `json:"nonResourceURLs,omitempty"`
	OmitStages        []string         `json:"omitStages,omitempty"`
	OmitManagedFields *bool            `json:"omitManagedFields,omitempty"`
}

type groupResources struct {
	Group         string   `json:"group,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// Audit levels, lowest first.
var levels = []string{"None", "Metadata", "Request", "RequestResponse"}

func levelRank(l string) int { return slices.Index(levels, l) }

// auditRequest is what the policy checker sees of a request.
type auditRequest struct {
	user                                       string
	groups                                     []string
	verb, group, resource, sub, ns, name, path string
}

func (r auditRequest) isResource() bool { return r.path == "" }

// level evaluates the policy as the API server does: the first matching
// rule wins, and no match means None. Mirrors k8s.io/apiserver
// pkg/audit/policy/checker.go (ruleMatches, ruleMatchesResource,
// ruleMatchesNonResource, pathMatches).
func (p *policy) level(r auditRequest) (string, int) {
	for i := range p.Rules {
		if p.Rules[i].matches(r) {
			return p.Rules[i].Level, i
		}
	}
	return "None", -1
}

func (rule *policyRule) matches(r auditRequest) bool {
	if len(rule.Users) > 0 && !slices.Contains(rule.Users, r.user) {
		return false
	}
	if len(rule.UserGroups) > 0 && !slices.ContainsFunc(r.groups, func(g string) bool { return slices.Contains(rule.UserGroups, g) }) {
		return false
	}
	if len(rule.Verbs) > 0 && !slices.Contains(rule.Verbs, r.verb) {
		return false
	}
	if len(rule.Namespaces) > 0 || len(rule.Resources) > 0 {
		return rule.matchesResource(r)
	}
	if len(rule.NonResourceURLs) > 0 {
		if r.isResource() {
			return false
		}
		for _, spec := range rule.NonResourceURLs {
			if spec == "*" || spec == r.path || strings.HasSuffix(spec, "*") && strings.HasPrefix(r.path, strings.TrimRight(spec, "*")) {
				return true
			}
		}
		return false
	}
	return true
}

func (rule *policyRule) matchesResource(r auditRequest) bool {
	if !r.isResource() {
		return false
	}
	if len(rule.Namespaces) > 0 && !slices.Contains(rule.Namespaces, r.ns) {
		return false
	}
	if len(rule.Resources) == 0 {
		return true
	}
	combined := r.resource
	if r.sub != "" {
		combined += "/" + r.sub
	}
	for _, gr := range rule.Resources {
		if gr.Group != r.group {
			continue
		}
		if len(gr.Resources) == 0 {
			return true
		}
		if len(gr.ResourceNames) > 0 && !slices.Contains(gr.ResourceNames, r.name) {
			continue
		}
		for _, res := range gr.Resources {
			switch {
			case res == combined, res == "*":
				return true
			case r.sub != "" && strings.HasPrefix(res, "*/") && r.sub == strings.TrimPrefix(res, "*/"):
				return true
			case strings.HasSuffix(res, "/*") && r.resource == strings.TrimSuffix(res, "/*"):
				return true
			}
		}
	}
	return false
}

func loadPolicy(t *testing.T) *policy {
	t.Helper()
	b, err := os.ReadFile("audit-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p policy
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		t.Fatalf("audit-policy.yaml: %v", err)
	}
	return &p
}

func TestAuditPolicyWellFormed(t *testing.T) {
	p := loadPolicy(t)
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Fatalf("apiVersion %q kind %q", p.APIVersion, p.Kind)
	}
	if !slices.Contains(p.OmitStages, "RequestReceived") {
		t.Errorf("omitStages %v: want RequestReceived", p.OmitStages)
	}
	stages := []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	for i, r := range p.Rules {
		if levelRank(r.Level) < 0 {
			t.Errorf("rule %d: level %q", i, r.Level)
		}
		for _, s := range r.OmitStages {
			if !slices.Contains(stages, s) {
				t.Errorf("rule %d: stage %q", i, s)
			}
		}
		for _, v := range r.Verbs {
			if !slices.Contains(verbs, v) {
				t.Errorf("rule %d: verb %q", i, v)
			}
		}
		// The API server's validation (pkg/apis/audit/validation): non-resource
		// URLs exclude resources and namespaces.
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			t.Errorf("rule %d mixes nonResourceURLs with resources or namespaces", i)
		}
		for _, gr := range r.Resources {
			for _, res := range gr.Resources {
				if strings.Count(res, "/") > 1 || res == "" {
					t.Errorf("rule %d: resource %q", i, res)
				}
			}
		}
	}
	last := p.Rules[len(p.Rules)-1]
	if last.Level != "Metadata" || len(last.Users)+len(last.UserGroups)+len(last.Verbs)+len(last.Resources)+len(last.Namespaces)+len(last.NonResourceURLs) != 0 {
		t.Errorf("last rule %+v: want a catch-all Metadata", last)
	}
}

// sensitive are resources whose bodies hold credentials or secret values.
var sensitive = []struct{ group, resource, sub string }{
	{"", "secrets", ""},
	{"", "configmaps", ""},
	{"", "serviceaccounts", "token"},
	{"authentication.k8s.io", "tokenreviews", ""},
}

// TestAuditPolicyNeverLogsSecretBodies checks two ways that no Secret (or
// token) body is logged: by evaluating every verb from every kind of
// identity, and statically, that no rule above Metadata could match these
// resources whatever its position.
func TestAuditPolicyNeverLogsSecretBodies(t *testing.T) {
	p := loadPolicy(t)
	identities := []auditRequest{
		{user: "alice@example.com", groups: []string{"system:authenticated"}},
		{user: "system:node:node-1", groups: []string{"system:nodes", "system:authenticated"}},
		{user: "system:serviceaccount:kube-system:replicaset-controller", groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}},
		{user: "system:kube-controller-manager", groups: []string{"system:authenticated"}},
		{user: "system:apiserver", groups: []string{"system:masters"}},
		{user: "system:anonymous", groups: []string{"system:unauthenticated"}},
	}
	for _, s := range sensitive {
		for _, id := range identities {
			for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"} {
				for _, ns := range []string{"", "kube-system", "payments"} {
					r := id
					r.verb, r.group, r.resource, r.sub, r.ns, r.name = verb, s.group, s.resource, s.sub, ns, "x"
					if l, i := p.level(r); levelRank(l) > levelRank("Metadata") {
						t.Errorf("%s %s %s/%s in %q: level %s by rule %d", r.user, verb, s.resource, s.sub, ns, l, i)
					}
				}
			}
		}
	}
	// Statically: a rule logging bodies must name its resources, and none
	// of them may cover a sensitive one.
	for i, rule := range p.Rules {
		if levelRank(rule.Level) <= levelRank("Metadata") {
			continue
		}
		if len(rule.Resources) == 0 {
			t.Errorf("rule %d logs bodies (%s) without naming resources", i, rule.Level)
			continue
		}
		for _, s := range sensitive {
			probe := policyRule{Resources: rule.Resources}
			if probe.matchesResource(auditRequest{group: s.group, resource: s.resource, sub: s.sub, name: "x"}) {
				t.Errorf("rule %d (%s) covers %s/%s", i, rule.Level, s.resource, s.sub)
			}
		}
	}
}

// TestAuditPolicyLevels is the policy's intent as a table of requests.
func TestAuditPolicyLevels(t *testing.T) {
	p := loadPolicy(t)
	node := auditRequest{user: "system:node:node-1", groups: []string{"system:nodes", "system:authenticated"}}
	kcm := auditRequest{user: "system:kube-controller-manager", groups: []string{"system:authenticated"}}
	alice := auditRequest{user: "alice@example.com", groups: []string{"devs", "system:authenticated"}}
	ci := auditRequest{user: "system:serviceaccount:ci:deployer", groups: []string{"system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"}}
	proxy := auditRequest{user: "system:serviceaccount:kube-system:kube-proxy", groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}
	with := func(id auditRequest, verb, group, resource, sub, ns string) auditRequest {
		id.verb, id.group, id.resource, id.sub, id.ns = verb, group, resource, sub, ns
		return id
	}
	nonResource := func(id auditRequest, verb, path string) auditRequest {
		id.verb, id.path = verb, path
		return id
	}
	tests := []struct {
		name string
		req  auditRequest
		want string
	}{
		// Noise dropped.
		{"kubelet lease renewal", with(node, "update", "coordination.k8s.io", "leases", "", "kube-node-lease"), "None"},
		{"controller-manager leader election", with(kcm, "update", "coordination.k8s.io", "leases", "", "kube-system"), "None"},
		{"kube-proxy watches endpointslices", with(proxy, "watch", "discovery.k8s.io", "endpointslices", "", ""), "None"},
		{"kubelet reads its node", with(node, "get", "", "nodes", "", ""), "None"},
		{"anyone lists events", with(alice, "list", "", "events", "", "payments"), "None"},
		{"kubelet writes an event", with(node, "create", "", "events", "", "payments"), "None"},
		{"readiness probe", nonResource(auditRequest{user: "system:anonymous", groups: []string{"system:unauthenticated"}}, "get", "/readyz"), "None"},
		// Noise-shaped requests that are not noise stay.
		{"a person updates a node lease", with(alice, "update", "coordination.k8s.io", "leases", "", "kube-node-lease"), "Metadata"},
		{"a kubelet deletes a lease", with(node, "delete", "coordination.k8s.io", "leases", "", "kube-node-lease"), "Metadata"},
		{"a CI account updates a kube-system lease", with(ci, "update", "coordination.k8s.io", "leases", "", "kube-system"), "Metadata"},
		{"a person writes an event", with(alice, "create", "", "events", "", "payments"), "Metadata"},
		{"a person reads endpoints", with(alice, "get", "", "endpoints", "", "payments"), "Metadata"},
		{"a kubelet patches its node status", with(node, "patch", "", "nodes", "status", ""), "Metadata"},
		{"metrics scrape", nonResource(alice, "get", "/metrics"), "Metadata"},
		// Sensitive: never a body.
		{"read a secret", with(alice, "get", "", "secrets", "", "payments"), "Metadata"},
		{"create a secret", with(ci, "create", "", "secrets", "", "payments"), "Metadata"},
		{"token request", with(ci, "create", "", "serviceaccounts", "token", "payments"), "Metadata"},
		{"token review", with(kcm, "create", "authentication.k8s.io", "tokenreviews", "", ""), "Metadata"},
		{"pod logs", with(alice, "get", "", "pods", "log", "payments"), "Metadata"},
		// Specs detection reads.
		{"create a pod", with(ci, "create", "", "pods", "", "payments"), "RequestResponse"},
		{"exec over SPDY", with(alice, "create", "", "pods", "exec", "payments"), "RequestResponse"},
		{"exec over WebSocket", with(alice, "get", "", "pods", "exec", "payments"), "RequestResponse"},
		{"attach", with(alice, "create", "", "pods", "attach", "payments"), "RequestResponse"},
		{"port-forward", with(alice, "create", "", "pods", "portforward", "payments"), "RequestResponse"},
		{"ephemeral container", with(alice, "patch", "", "pods", "ephemeralcontainers", "payments"), "RequestResponse"},
		{"patch a deployment", with(ci, "patch", "apps", "deployments", "", "payments"), "RequestResponse"},
		{"create a cronjob", with(ci, "create", "batch", "cronjobs", "", "payments"), "RequestResponse"},
		{"bind cluster-admin", with(alice, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ""), "RequestResponse"},
		{"add a mutating webhook", with(alice, "create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", ""), "RequestResponse"},
		{"submit a CSR", with(alice, "create", "certificates.k8s.io", "certificatesigningrequests", "", ""), "RequestResponse"},
		{"approve a CSR", with(alice, "update", "certificates.k8s.io", "certificatesigningrequests", "approval", ""), "RequestResponse"},
		// Reads stay cheap.
		{"list pods", with(alice, "list", "", "pods", "", ""), "Metadata"},
		{"kubelet updates pod status", with(node, "patch", "", "pods", "status", "payments"), "Metadata"},
		{"get a deployment", with(alice, "get", "apps", "deployments", "", "payments"), "Metadata"},
		{"list clusterroles", with(alice, "list", "rbac.authorization.k8s.io", "clusterroles", "", ""), "Metadata"},
		{"scale a deployment", with(ci, "patch", "apps", "deployments", "scale", "payments"), "Metadata"},
	}
	for _, tt := range tests {
		if got, i := p.level(tt.req); got != tt.want {
			t.Errorf("%s: level %s (rule %d), want %s", tt.name, got, i, tt.want)
		}
	}
}

// kubeconfig mirrors the fields of client-go's clientcmd/api/v1 Config
// (k8s.io/client-go tools/clientcmd/api/v1/types.go) that a webhook
// kubeconfig uses; client-go is not a dependency. Strict decoding catches
// misspelt keys, which clientcmd would ignore.
type kubeconfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Clusters   []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority,omitempty"`
			CertificateAuthorityData string `json:"certificate-authority-data,omitempty"`
			InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify,omitempty"`
			TLSServerName            string `json:"tls-server-name,omitempty"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			ClientCertificate     string `json:"client-certificate,omitempty"`
			ClientCertificateData string `json:"client-certificate-data,omitempty"`
			ClientKey             string `json:"client-key,omitempty"`
			ClientKeyData         string `json:"client-key-data,omitempty"`
			Token                 string `json:"token,omitempty"`
			TokenFile             string `json:"tokenFile,omitempty"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	CurrentContext string `json:"current-context"`
}

func TestWebhookKubeconfig(t *testing.T) {
	b, err := os.ReadFile("webhook-kubeconfig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kc kubeconfig
	if err := yaml.UnmarshalStrict(b, &kc); err != nil {
		t.Fatalf("webhook-kubeconfig.yaml: %v", err)
	}
	if kc.APIVersion != "v1" || kc.Kind != "Config" || len(kc.Clusters) != 1 || len(kc.Users) != 1 || len(kc.Contexts) != 1 {
		t.Fatalf("%+v", kc)
	}
	ctx := kc.Contexts[0]
	if kc.CurrentContext != ctx.Name || ctx.Context.Cluster != kc.Clusters[0].Name || ctx.Context.User != kc.Users[0].Name {
		t.Errorf("current-context %q does not tie the cluster and user together: %+v", kc.CurrentContext, ctx)
	}
	c := kc.Clusters[0].Cluster
	u, err := url.Parse(c.Server)
	if err != nil || u.Scheme != "https" || u.Host != "kubedelta.kubedelta.svc:8443" || u.Path != "/audit/webhook" {
		t.Errorf("server %q: want https://kubedelta.kubedelta.svc:8443/audit/webhook", c.Server)
	}
	if c.InsecureSkipTLSVerify || c.CertificateAuthority == "" && c.CertificateAuthorityData == "" {
		t.Errorf("the API server must verify kubedelta's certificate: %+v", c)
	}
	usr := kc.Users[0].User
	hasToken := usr.Token != "" || usr.TokenFile != ""
	hasCert := (usr.ClientCertificate != "" || usr.ClientCertificateData != "") && (usr.ClientKey != "" || usr.ClientKeyData != "")
	if !hasToken && !hasCert {
		t.Errorf("no credentials: %+v", usr)
	}
	if usr.Token != "" {
		t.Error("a literal token in a file meant to be copied around: use tokenFile")
	}
	// The file documents the API server flags that go with it.
	for _, flag := range []string{"--audit-policy-file=", "--audit-webhook-config-file=", "--audit-webhook-mode=batch", "--audit-webhook-batch-max-size="} {
		if !strings.Contains(string(b), flag) {
			t.Errorf("webhook-kubeconfig.yaml does not document %s", flag)
		}
	}
}
