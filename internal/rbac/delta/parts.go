package delta

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// unusedParts splits one granted rule into the parts no attributed request
// used. A rule's (apiGroup, resource) combinations and its verbs are
// independent grants, so each combination is checked on its own; wildcard
// elements cannot be subtracted from, so a partly used wildcard is reported
// whole, with what it was used for.
func unusedParts(g rbac.Grant, at *attribution, idx []int) []UnusedRule {
	if len(g.Rule.NonResourceURLs) > 0 {
		return unusedURLParts(g, at, idx)
	}
	var (
		fully   = map[string][]string{} // group → never-used resources
		partial = map[string]map[string][]string{}
		wild    []UnusedRule
		nCombos int
	)
	verbWild := slices.Contains(g.Rule.Verbs, rbacv1.VerbAll)
	for _, grp := range g.Rule.APIGroups {
		for _, res := range g.Rule.Resources {
			nCombos++
			sub := rbacv1.PolicyRule{
				Verbs: g.Rule.Verbs, APIGroups: []string{grp},
				Resources: []string{res}, ResourceNames: g.Rule.ResourceNames,
			}
			used := map[string]bool{}
			var uses []string
			for _, i := range idx {
				e := at.entries[i]
				if rbac.RuleAllows(sub, requestOf(e.APIKey, nil)) {
					used[e.Verb] = true
					uses = append(uses, describeUse(e.Verb, e.Resource, e.Subresource))
				}
			}
			if len(used) == 0 {
				fully[grp] = append(fully[grp], res)
				continue
			}
			if verbWild || grp == rbacv1.APIGroupAll || strings.Contains(res, "*") {
				slices.Sort(uses)
				uses = slices.Compact(uses)
				wild = append(wild, newUnused(g, sub,
					"wildcard grant used only for "+limitList(uses, 6)))
				continue
			}
			var unused []string
			for _, v := range g.Rule.Verbs {
				if !used[v] {
					unused = append(unused, v)
				}
			}
			if len(unused) == 0 {
				continue
			}
			slices.Sort(unused)
			key := strings.Join(unused, ",")
			if partial[grp] == nil {
				partial[grp] = map[string][]string{}
			}
			partial[grp][key] = append(partial[grp][key], res)
		}
	}
	var out []UnusedRule
	nFully := 0
	for _, rs := range fully {
		nFully += len(rs)
	}
	if nFully == nCombos && nCombos > 0 {
		return []UnusedRule{newUnused(g, g.Rule, "never used")}
	}
	for _, grp := range sortedKeys(fully) {
		sub := rbacv1.PolicyRule{Verbs: g.Rule.Verbs, APIGroups: []string{grp},
			Resources: fully[grp], ResourceNames: g.Rule.ResourceNames}
		out = append(out, newUnused(g, sub, "never used"))
	}
	for _, grp := range sortedKeys(partial) {
		for _, key := range sortedKeys(partial[grp]) {
			sub := rbacv1.PolicyRule{Verbs: strings.Split(key, ","), APIGroups: []string{grp},
				Resources: partial[grp][key], ResourceNames: g.Rule.ResourceNames}
			out = append(out, newUnused(g, sub, "verbs never used (other verbs on these resources were)"))
		}
	}
	return append(out, wild...)
}

func unusedURLParts(g rbac.Grant, at *attribution, idx []int) []UnusedRule {
	var never []string
	var out []UnusedRule
	verbWild := slices.Contains(g.Rule.Verbs, rbacv1.VerbAll)
	for _, p := range g.Rule.NonResourceURLs {
		sub := rbacv1.PolicyRule{Verbs: g.Rule.Verbs, NonResourceURLs: []string{p}}
		used := map[string]bool{}
		for _, i := range idx {
			e := at.entries[i]
			if e.Path != "" && rbac.RuleAllows(sub, requestOf(e.APIKey, nil)) {
				used[e.Verb] = true
			}
		}
		if len(used) == 0 {
			never = append(never, p)
			continue
		}
		if verbWild {
			continue // a used wildcard verb on a URL: nothing narrower to say
		}
		var unused []string
		for _, v := range g.Rule.Verbs {
			if !used[v] {
				unused = append(unused, v)
			}
		}
		if len(unused) > 0 {
			out = append(out, newUnused(g, rbacv1.PolicyRule{Verbs: unused, NonResourceURLs: []string{p}},
				"verbs never used on this URL"))
		}
	}
	if len(never) > 0 {
		out = append([]UnusedRule{newUnused(g, rbacv1.PolicyRule{Verbs: g.Rule.Verbs, NonResourceURLs: never}, "never used")}, out...)
	}
	return out
}

func newUnused(g rbac.Grant, r rbacv1.PolicyRule, why string) UnusedRule {
	u := UnusedRule{
		Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources,
		ResourceNames: r.ResourceNames, NonResourceURLs: r.NonResourceURLs,
		Namespace: g.Namespace, Binding: g.Binding, Role: g.Role,
	}
	risks := rbac.RulesRisks(r, g.Namespace)
	sort.SliceStable(risks, func(i, j int) bool { return risks[i].Severity > risks[j].Severity })
	if len(risks) > 0 {
		u.severity = risks[0].Severity
		var reasons []string
		for _, rk := range risks {
			if len(reasons) == 3 {
				reasons = append(reasons, fmt.Sprintf("and %d more", len(risks)-3))
				break
			}
			reasons = append(reasons, rk.Reason)
		}
		why += "; " + strings.Join(reasons, "; ")
	}
	u.Risk = u.severity.String()
	u.Why = why
	return u
}

func describeUse(verb, resource, sub string) string {
	if sub != "" {
		resource += "/" + sub
	}
	return verb + " " + resource
}

func limitList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
