package rbac

import (
	"fmt"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// aggregate returns the effective rules of every ClusterRole (by index in
// roles) after ClusterRole aggregation, and the problems met.
//
// It mirrors k8s.io/kubernetes pkg/controller/clusterroleaggregation: a
// ClusterRole with an aggregationRule gets, as its rules, the union of the
// rules of every other ClusterRole matched by any of its selectors —
// selectors in order, matched roles by name, rules in order, duplicates
// (semantic equality) dropped. Its own rules are replaced. The controller
// re-syncs every aggregated role whenever any ClusterRole changes, so chains
// (view → edit → admin) settle; we iterate, in name order, to that fixed
// point, starting from the rules as given (a live cluster's dump already holds
// the controller's output; manifests usually hold none).
func aggregate(roles []rbacv1.ClusterRole) ([][]rbacv1.PolicyRule, []string) {
	rules := make([][]rbacv1.PolicyRule, len(roles))
	for i := range roles {
		rules[i] = roles[i].Rules
	}
	type aggregated struct {
		idx       int
		selectors []labels.Selector
	}
	var aggs []aggregated
	var problems []string
	for i := range roles {
		ar := roles[i].AggregationRule
		if ar == nil {
			continue
		}
		a := aggregated{idx: i}
		ok := true
		for j := range ar.ClusterRoleSelectors {
			sel, err := metav1.LabelSelectorAsSelector(&ar.ClusterRoleSelectors[j])
			if err != nil {
				// The controller fails the sync and leaves the role as it is.
				problems = append(problems, fmt.Sprintf("ClusterRole %q: aggregationRule.clusterRoleSelectors[%d] is invalid (%v); its rules are kept as given, the aggregation controller would not update it", roles[i].Name, j, err))
				ok = false
				break
			}
			a.selectors = append(a.selectors, sel)
		}
		if ok {
			aggs = append(aggs, a)
		}
	}
	if len(aggs) == 0 {
		return rules, problems
	}
	sort.Slice(aggs, func(x, y int) bool { return roles[aggs[x].idx].Name < roles[aggs[y].idx].Name })

	// Candidates in name order, so matched roles come out sorted by name.
	byName := make([]int, len(roles))
	for i := range byName {
		byName[i] = i
	}
	sort.SliceStable(byName, func(x, y int) bool { return roles[byName[x]].Name < roles[byName[y]].Name })

	// Each pass can carry rules one more step along a chain, so a fixed point
	// is reached within len(aggs)+1 passes unless the selectors form a cycle
	// that keeps changing.
	maxPasses := len(aggs) + 2
	converged := false
	for pass := 0; pass < maxPasses; pass++ {
		changed := false
		for _, a := range aggs {
			self := roles[a.idx].Name
			next := []rbacv1.PolicyRule{}
			for _, sel := range a.selectors {
				for _, k := range byName {
					if roles[k].Name == self || !sel.Matches(labels.Set(roles[k].Labels)) {
						continue
					}
					for _, r := range rules[k] {
						if !containsRule(next, r) {
							next = append(next, r)
						}
					}
				}
			}
			if !rulesEqual(next, rules[a.idx]) {
				rules[a.idx] = next
				changed = true
			}
		}
		if !changed {
			converged = true
			break
		}
	}
	if !converged {
		problems = append(problems, fmt.Sprintf("ClusterRole aggregation did not settle after %d passes: the aggregationRule selectors form a cycle; effective rules of aggregated roles may differ from the cluster's", maxPasses))
	}
	return rules, problems
}

func containsRule(list []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for i := range list {
		if ruleEqual(list[i], r) {
			return true
		}
	}
	return false
}

func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !ruleEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}
