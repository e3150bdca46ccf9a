package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestRuleAllows mirrors k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac_test.go
// TestRuleMatches and the subresource cases of TestAuthorizer, plus the helper
// semantics of pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches,
// APIGroupMatches, ResourceMatches, ResourceNameMatches, NonResourceURLMatches).
func TestRuleAllows(t *testing.T) {
	type check struct {
		req  Request
		want bool
	}
	r := func(verb, group, resource, name string) Request {
		return res("", "", verb, group, resource, "ns", name)
	}
	u := func(verb, path string) Request { return nonRes("", "", verb, path) }
	tests := []struct {
		name   string
		rule   rbacv1.PolicyRule
		checks []check
	}{
		{"star verb, exact match other", rule("*", "group1", "resource1", ""), []check{
			{r("verb1", "group1", "resource1", ""), true},
			{r("verb2", "group1", "resource1", ""), true},
			{r("verb1", "group2", "resource1", ""), false},
			{r("verb1", "group1", "resource2", ""), false},
		}},
		{"star group, exact match other", rule("verb1", "*", "resource1", ""), []check{
			{r("verb1", "group1", "resource1", ""), true},
			{r("verb1", "", "resource1", ""), true},
			{r("verb2", "group1", "resource1", ""), false},
			{r("verb1", "group1", "resource2", ""), false},
		}},
		{"star resource, exact match other", rule("verb1", "group1", "*", ""), []check{
			{r("verb1", "group1", "resource1", ""), true},
			{r("verb1", "group1", "resource2/sub", ""), true},
			{r("verb1", "group2", "resource1", ""), false},
			{r("verb2", "group1", "resource1", ""), false},
		}},
		{"tuple expansion", rule("verb1,verb2", "group1,group2", "resource1,resource2", ""), []check{
			{r("verb1", "group1", "resource1", ""), true},
			{r("verb2", "group2", "resource2", ""), true},
			{r("verb2", "group1", "resource2", ""), true},
			{r("verb3", "group1", "resource1", ""), false},
		}},
		{"subresource expansion", rule("*", "*", "resource1/subresource1", ""), []check{
			{r("verb1", "group1", "resource1/subresource1", ""), true},
			{r("verb1", "group1", "resource1/subresource2", ""), false},
			{r("verb1", "group1", "resource2/subresource1", ""), false},
			{r("verb1", "group1", "resource1", ""), false},
		}},
		// TestAuthorizer "test subresource resolution": "pods" does not cover pods/status and vice versa.
		{"resource does not cover its subresources", rule("*", "*", "pods", ""), []check{
			{r("get", "", "pods", ""), true},
			{r("get", "", "pods/status", ""), false},
		}},
		{"star subresource", rule("get", "*", "*/scale", ""), []check{
			{r("get", "apps", "deployments/scale", ""), true},
			{r("get", "", "replicationcontrollers/scale", ""), true},
			{r("get", "apps", "deployments", ""), false},
			{r("get", "apps", "deployments/status", ""), false},
			{r("get", "apps", "deployments/scalex", ""), false},
		}},
		// "pods/*" is not a pattern upstream: only "*" and "*/sub" are.
		{"resource slash star is literal", rule("get", "", "pods/*", ""), []check{
			{r("get", "", "pods/log", ""), false},
			{r("get", "", "pods", ""), false},
			{r("get", "", "pods/*", ""), true},
		}},
		{"verbs and resources are case-sensitive", rule("get", "", "pods", ""), []check{
			{r("GET", "", "pods", ""), false},
			{r("get", "", "Pods", ""), false},
		}},
		{"empty API group is the core group only", rule("get", "", "pods", ""), []check{
			{r("get", "", "pods", ""), true},
			{r("get", "apps", "pods", ""), false},
		}},
		{"resourceNames restrict", withNames(rule("get,list,create", "", "secrets", ""), "a", "b"), []check{
			{r("get", "", "secrets", "a"), true},
			{r("get", "", "secrets", "b"), true},
			{r("get", "", "secrets", "c"), false},
			// a request without a name (list, create) does not match a rule with resourceNames
			{r("list", "", "secrets", ""), false},
			{r("create", "", "secrets", ""), false},
		}},
		{"resource rule does not match non-resource request", rule("get", "*", "*", ""), []check{
			{u("get", "/healthz"), false},
		}},
		{"star nonresource", rule("verb1", "", "", "*"), []check{
			{u("verb1", "/foo"), true},
			{u("verb1", "/foo/bar/one"), true},
			{u("verb2", "/foo"), false},
			{r("verb1", "", "pods", ""), false},
		}},
		{"star nonresource subpath", rule("get", "", "", "/apis/*"), []check{
			{u("get", "/apis"), false},
			{u("get", "/apis/"), true},
			{u("get", "/apis/v1"), true},
			{u("get", "/apis/v1/foobar"), true},
			{u("get", "/api/v1"), false},
			{u("get", "/apisx"), false},
		}},
		{"prefix without slash", rule("get", "", "", "/healthz*"), []check{
			{u("get", "/healthz"), true},
			{u("get", "/healthz/etcd"), true},
			{u("get", "/healthzzz"), true},
			{u("get", "/health"), false},
		}},
		{"exact nonresource", rule("get", "", "", "/version,/version/"), []check{
			{u("get", "/version"), true},
			{u("get", "/version/"), true},
			{u("get", "/version/x"), false},
		}},
		{"non-resource rule does not match resource requests", rule("*", "", "", "/apis"), []check{
			{r("get", "", "apis", ""), false},
		}},
		{"empty rule matches nothing", rbacv1.PolicyRule{}, []check{
			{r("get", "", "pods", ""), false},
			{u("get", "/"), false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compileRule(tt.rule)
			for _, ch := range tt.checks {
				if got := RuleAllows(tt.rule, ch.req); got != ch.want {
					t.Errorf("RuleAllows(%+v, %+v) = %v, want %v", tt.rule, ch.req, got, ch.want)
				}
				if got := c.allows(&ch.req, verbBit(ch.req.Verb)); got != ch.want {
					t.Errorf("compiled(%+v).allows(%+v) = %v, want %v", tt.rule, ch.req, got, ch.want)
				}
			}
		})
	}
}

// FuzzCompiledRule checks that the compiled matcher agrees with RuleAllows,
// which transcribes the upstream helpers, on arbitrary rules and requests.
func FuzzCompiledRule(f *testing.F) {
	f.Add("get,*", "*,", "pods,*/scale,pods/*", "n1", "/apis/*,/healthz", "get", "apps", "deployments", "scale", "n1", "")
	f.Add("*", "", "*/", "", "*", "list", "", "pods", "", "", "/x")
	f.Add("get", "", "", "", "/a**", "get", "", "", "", "", "/a")
	f.Fuzz(func(t *testing.T, verbs, groups, resources, names, urls, verb, group, resource, sub, name, path string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		pr := rbacv1.PolicyRule{Verbs: split(verbs), APIGroups: split(groups), Resources: split(resources), ResourceNames: split(names), NonResourceURLs: split(urls)}
		req := Request{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, Path: path}
		c := compileRule(pr)
		if a, b := RuleAllows(pr, req), c.allows(&req, verbBit(req.Verb)); a != b {
			t.Fatalf("rule %+v request %+v: RuleAllows %v, compiled %v", pr, req, a, b)
		}
	})
}
