package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// RuleAllows reports whether rule allows r, with exactly the semantics of
// RuleAllows in k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/rbac.go and
// the helpers in pkg/apis/rbac/v1/evaluation_helpers.go:
//
//   - verbs and API groups match exactly or through "*";
//   - a resource request names "resource" or "resource/subresource"; a rule
//     resource matches when it is "*", equal to that, or "*/subresource"
//     (nothing else is a pattern: "pods/*" only matches a subresource named "*");
//   - a rule with resourceNames only matches requests that name one of them
//     (a list or create without a name does not match);
//   - a non-resource request matches a URL equal to the path, "*", or ending in
//     "*" whose prefix starts the path ("/apis/*" matches "/apis/v1" but not "/apis").
//
// Matching is case-sensitive, as upstream. The namespace is not looked at:
// bindings decide where a rule applies.
func RuleAllows(rule rbacv1.PolicyRule, r Request) bool {
	if !hasOrStar(rule.Verbs, r.Verb) {
		return false
	}
	if !r.IsResource() {
		return nonResourceURLMatches(rule.NonResourceURLs, r.Path)
	}
	if !hasOrStar(rule.APIGroups, r.APIGroup) {
		return false
	}
	if !resourceMatches(rule.Resources, r.Resource, r.Subresource) {
		return false
	}
	return resourceNameMatches(rule.ResourceNames, r.Name)
}

func hasOrStar(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

// isCombined reports whether rr == res or, with a subresource, res + "/" + sub,
// without building the string.
func isCombined(rr, res, sub string) bool {
	if sub == "" {
		return rr == res
	}
	return len(rr) == len(res)+1+len(sub) && rr[len(res)] == '/' &&
		rr[:len(res)] == res && rr[len(res)+1:] == sub
}

func resourceMatches(list []string, res, sub string) bool {
	for _, rr := range list {
		if rr == "*" || isCombined(rr, res, sub) {
			return true
		}
		if sub != "" && len(rr) == len(sub)+2 && rr[0] == '*' && rr[1] == '/' && rr[2:] == sub {
			return true
		}
	}
	return false
}

func resourceNameMatches(names []string, name string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func nonResourceURLMatches(urls []string, path string) bool {
	for _, u := range urls {
		if u == "*" || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")) {
			return true
		}
	}
	return false
}

// compiledRule is a PolicyRule prepared for fast matching: wildcards become
// flags, "*/sub" entries are split out, non-resource URL prefixes trimmed.
// Its verdicts equal RuleAllows on the original rule.
type compiledRule struct {
	allVerbs, allGroups, allResources, allURLs bool

	// verbMask has the bit of every well-known verb the rule allows (all
	// bits with "*"); verbs without a bit are matched through verbs.
	verbMask uint32

	verbs     []string
	groups    []string
	resources []string // exact "res" or "res/sub"
	starSubs  []string // "sub" of every "*/sub"
	names     []string // nil: any name
	urls      []string // exact non-resource URLs
	prefixes  []string // trimmed "prefix*" non-resource URLs
}

func compileRule(r rbacv1.PolicyRule) compiledRule {
	var c compiledRule
	for _, v := range r.Verbs {
		if v == rbacv1.VerbAll {
			c.allVerbs = true
			c.verbMask = allVerbBits
		}
		c.verbMask |= verbBit(v)
		c.verbs = append(c.verbs, v)
	}
	for _, g := range r.APIGroups {
		if g == rbacv1.APIGroupAll {
			c.allGroups = true
		}
		c.groups = append(c.groups, g)
	}
	for _, res := range r.Resources {
		switch {
		case res == rbacv1.ResourceAll:
			c.allResources = true
		case strings.HasPrefix(res, "*/"):
			c.starSubs = append(c.starSubs, res[2:])
			// "*/sub" is also an exact match for a resource literally named
			// "*" with subresource "sub"; keep it for exactness.
			c.resources = append(c.resources, res)
		default:
			c.resources = append(c.resources, res)
		}
	}
	if len(r.ResourceNames) > 0 {
		c.names = append([]string(nil), r.ResourceNames...)
	}
	for _, u := range r.NonResourceURLs {
		switch {
		case u == rbacv1.NonResourceAll:
			c.allURLs = true
		case strings.HasSuffix(u, "*"):
			c.prefixes = append(c.prefixes, strings.TrimRight(u, "*"))
			c.urls = append(c.urls, u)
		default:
			c.urls = append(c.urls, u)
		}
	}
	return c
}

// allows reports whether the rule allows r; vbit is verbBit(r.Verb).
func (c *compiledRule) allows(r *Request, vbit uint32) bool {
	if vbit != 0 {
		if c.verbMask&vbit == 0 {
			return false
		}
	} else if !c.allVerbs && !contains(c.verbs, r.Verb) {
		return false
	}
	if r.Path != "" {
		if c.allURLs {
			return true
		}
		if contains(c.urls, r.Path) {
			return true
		}
		for _, p := range c.prefixes {
			if strings.HasPrefix(r.Path, p) {
				return true
			}
		}
		return false
	}
	if !c.allGroups && !contains(c.groups, r.APIGroup) {
		return false
	}
	if !c.allResources && !c.resourceMatches(r.Resource, r.Subresource) {
		return false
	}
	if c.names == nil {
		return true
	}
	return contains(c.names, r.Name)
}

// allVerbBits is the mask of a rule with verbs "*".
const allVerbBits = ^uint32(0)

// verbBit numbers the verbs the API server uses, so that verb checks on the
// hot path are a mask test; 0 for any other verb (matched by string).
func verbBit(v string) uint32 {
	switch v {
	case "get":
		return 1 << 0
	case "list":
		return 1 << 1
	case "watch":
		return 1 << 2
	case "create":
		return 1 << 3
	case "update":
		return 1 << 4
	case "patch":
		return 1 << 5
	case "delete":
		return 1 << 6
	case "deletecollection":
		return 1 << 7
	case "impersonate":
		return 1 << 8
	case "escalate":
		return 1 << 9
	case "bind":
		return 1 << 10
	case "approve":
		return 1 << 11
	case "sign":
		return 1 << 12
	case "proxy":
		return 1 << 13
	case "use":
		return 1 << 14
	case "post": // the rest are verbs of non-resource requests
		return 1 << 15
	case "put":
		return 1 << 16
	case "head":
		return 1 << 17
	case "options":
		return 1 << 18
	}
	return 0
}

func (c *compiledRule) resourceMatches(res, sub string) bool {
	for _, rr := range c.resources {
		if isCombined(rr, res, sub) {
			return true
		}
	}
	if sub != "" {
		return contains(c.starSubs, sub)
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ruleEqual compares two rules field by field, treating nil and empty lists
// as equal (equality.Semantic.DeepEqual, as the aggregation controller uses).
func ruleEqual(a, b rbacv1.PolicyRule) bool {
	return strsEqual(a.Verbs, b.Verbs) && strsEqual(a.APIGroups, b.APIGroups) &&
		strsEqual(a.Resources, b.Resources) && strsEqual(a.ResourceNames, b.ResourceNames) &&
		strsEqual(a.NonResourceURLs, b.NonResourceURLs)
}

func strsEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
