package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func labelled(cr rbacv1.ClusterRole, kv ...string) rbacv1.ClusterRole {
	cr.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		cr.Labels[kv[i]] = kv[i+1]
	}
	return cr
}

func aggregating(cr rbacv1.ClusterRole, selectors ...map[string]string) rbacv1.ClusterRole {
	cr.AggregationRule = &rbacv1.AggregationRule{}
	for _, s := range selectors {
		cr.AggregationRule.ClusterRoleSelectors = append(cr.AggregationRule.ClusterRoleSelectors, metav1.LabelSelector{MatchLabels: s})
	}
	return cr
}

func ruleStrings(rules []rbacv1.PolicyRule) string {
	var b []string
	for _, r := range rules {
		b = append(b, strings.Join(r.Verbs, ",")+" "+strings.Join(r.Resources, ","))
	}
	return strings.Join(b, "; ")
}

// TestAggregate mirrors k8s.io/kubernetes
// pkg/controller/clusterroleaggregation/clusterroleaggregation_controller_test.go
// TestSyncClusterRole (own rules replaced, self skipped, selectors in order,
// matched roles by name, duplicates dropped) and adds the chains the
// controller resolves over repeated syncs.
func TestAggregate(t *testing.T) {
	sel := func(k string) map[string]string { return map[string]string{k: "true"} }
	tests := []struct {
		name  string
		roles []rbacv1.ClusterRole
		want  map[string]string // role → rules
	}{
		{
			name: "own rules replaced by the union, sorted by role name",
			roles: []rbacv1.ClusterRole{
				aggregating(clusterRole("agg", rule("delete", "", "everything", "")), sel("a")),
				labelled(clusterRole("z", rule("get", "", "zebras", "")), "a", "true"),
				labelled(clusterRole("b", rule("get", "", "bees", "")), "a", "true"),
				labelled(clusterRole("c", rule("get", "", "cats", "")), "a", "false"),
			},
			want: map[string]string{"agg": "get bees; get zebras", "z": "get zebras"},
		},
		{
			name: "self is skipped, duplicates dropped across selectors",
			roles: []rbacv1.ClusterRole{
				labelled(aggregating(clusterRole("agg", rule("get", "", "own", "")), sel("a"), sel("b")), "a", "true"),
				labelled(clusterRole("x", rule("get", "", "pods", ""), rule("list", "", "pods", "")), "a", "true"),
				labelled(clusterRole("y", rule("list", "", "pods", ""), rule("watch", "", "pods", "")), "b", "true"),
			},
			want: map[string]string{"agg": "get pods; list pods; watch pods"},
		},
		{
			name: "empty selector list empties the role",
			roles: []rbacv1.ClusterRole{
				aggregating(clusterRole("agg", rule("get", "", "own", ""))),
			},
			want: map[string]string{"agg": ""},
		},
		{
			name: "empty selector matches every role",
			roles: []rbacv1.ClusterRole{
				aggregating(clusterRole("agg"), map[string]string{}),
				clusterRole("x", rule("get", "", "pods", "")),
			},
			want: map[string]string{"agg": "get pods"},
		},
		{
			name: "chains resolve whatever the input order (view → edit → admin)",
			roles: []rbacv1.ClusterRole{
				aggregating(clusterRole("admin"), sel("to-admin")),
				labelled(aggregating(clusterRole("edit"), sel("to-edit")), "to-admin", "true"),
				labelled(aggregating(clusterRole("view"), sel("to-view")), "to-edit", "true"),
				labelled(clusterRole("agg-admin", rule("create", "", "roles", "")), "to-admin", "true"),
				labelled(clusterRole("agg-edit", rule("create", "", "pods", "")), "to-edit", "true"),
				labelled(clusterRole("agg-view", rule("get", "", "pods", "")), "to-view", "true"),
			},
			want: map[string]string{
				"view":  "get pods",
				"edit":  "create pods; get pods",
				"admin": "create roles; create pods; get pods",
			},
		},
		{
			name: "mutual selection settles",
			roles: []rbacv1.ClusterRole{
				labelled(aggregating(clusterRole("a", rule("get", "", "stale", "")), sel("b")), "a", "true"),
				labelled(aggregating(clusterRole("b"), sel("a")), "b", "true"),
				labelled(clusterRole("leaf", rule("get", "", "pods", "")), "b", "true"),
			},
			// a is synced first (name order), dropping its stale rule before b copies it.
			want: map[string]string{"a": "get pods", "b": "get pods"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAuthorizer(Objects{ClusterRoles: tt.roles})
			for name, want := range tt.want {
				rules, ok := a.EffectiveRules(Ref{Kind: KindClusterRole, Name: name})
				if !ok {
					t.Fatalf("role %s missing", name)
				}
				if got := ruleStrings(rules); got != want {
					t.Errorf("%s: rules %q, want %q", name, got, want)
				}
			}
		})
	}
}
