package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// canIRequest is one line of `kubedelta rbac can-i --batch`.
type canIRequest struct {
	User        string   `json:"user"`
	Groups      []string `json:"groups,omitempty"`
	Verb        string   `json:"verb"`
	APIGroup    string   `json:"apiGroup,omitempty"`
	Resource    string   `json:"resource,omitempty"`
	Subresource string   `json:"subresource,omitempty"`
	Namespace   string   `json:"namespace,omitempty"`
	Name        string   `json:"name,omitempty"`
	Path        string   `json:"path,omitempty"`
}

type canIAnswer struct {
	canIRequest
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

func (r canIRequest) String() string {
	who := r.User
	if len(r.Groups) > 0 {
		who += " [" + strings.Join(r.Groups, ",") + "]"
	}
	if r.Path != "" {
		return fmt.Sprintf("%s: %s %s", who, r.Verb, r.Path)
	}
	res := r.Resource
	if r.APIGroup != "" {
		res += "." + r.APIGroup
	}
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	if r.Name != "" {
		res += " " + r.Name
	}
	return fmt.Sprintf("%s: %s %s -n %q", who, r.Verb, res, r.Namespace)
}

// TestRBACAgreesWithAPIServer: `kubedelta rbac can-i` over a `kubectl get -A
// -o yaml` dump answers every request of a table as the real API server's
// SubjectAccessReview does. The table covers Roles and ClusterRoles bound
// by RoleBindings and ClusterRoleBindings, users, groups and service
// accounts, resourceNames, subresources (exact, pods/*), wildcards,
// non-resource URLs (exact and prefix*), the bootstrap policy, and
// aggregated ClusterRoles (view, and one of ours), whose rules only the
// controller manager fills.
//
// The expected answers are the API server's, not ours: this mirrors
// k8s.io/kubernetes test/integration/auth/rbac_test.go (SubjectAccessReview
// against a real RBAC authorizer) and the table style of
// plugin/pkg/auth/authorizer/rbac/rbac_test.go TestAuthorizer.
func TestRBACAgreesWithAPIServer(t *testing.T) {
	e := need(t)
	ctx := context.Background()
	createRBACFixtures(t, ctx, e.admin)

	// The aggregation controller fills aggregated roles asynchronously.
	eventually(t, time.Minute, "aggregated ClusterRoles filled by the controller manager", func() bool {
		view, err1 := e.admin.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		mon, err2 := e.admin.RbacV1().ClusterRoles().Get(ctx, "e2e-monitoring", metav1.GetOptions{})
		return err1 == nil && err2 == nil && len(view.Rules) > 0 && len(mon.Rules) == 2
	})

	reqs := rbacRequests()
	if len(reqs) < 30 {
		t.Fatalf("only %d requests; the table should have 30 or more", len(reqs))
	}
	// The API server's answers.
	want := make([]bool, len(reqs))
	for i, r := range reqs {
		allowed, err := subjectAccessReview(ctx, e.admin, r)
		if err != nil {
			t.Fatalf("SubjectAccessReview for %s: %v", r, err)
		}
		want[i] = allowed
	}

	dump := filepath.Join(e.dir, "dump.yaml")
	if err := e.kubectlDump(ctx, dump); err != nil {
		t.Fatal(err)
	}
	got, err := e.canIBatch(ctx, dump, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) {
		t.Fatalf("kubedelta answered %d requests; want %d", len(got), len(reqs))
	}
	allowed := 0
	for i, r := range reqs {
		if want[i] {
			allowed++
		}
		if got[i].Allowed != want[i] {
			t.Errorf("%s: kubedelta says allowed=%v (%s), the API server says allowed=%v", r, got[i].Allowed, got[i].Reason, want[i])
		}
	}
	t.Logf("%d requests compared with SubjectAccessReview: %d allowed, %d denied", len(reqs), allowed, len(reqs)-allowed)
	// A table that the API server answers all one way checks little.
	if allowed < 10 || len(reqs)-allowed < 10 {
		t.Errorf("the table is lopsided: %d allowed, %d denied; want 10 or more of each", allowed, len(reqs)-allowed)
	}
}

func subjectAccessReview(ctx context.Context, c kubernetes.Interface, r canIRequest) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: r.User, Groups: authGroups(r)}}
	if r.Path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: r.Path, Verb: r.Verb}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: r.Namespace, Verb: r.Verb, Group: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Name: r.Name,
		}
	}
	out, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return out.Status.Allowed, nil
}

// authGroups are the groups the API server's authenticators would add: a
// SubjectAccessReview evaluates exactly the groups it is given, while
// kubedelta adds the implied ones itself.
func authGroups(r canIRequest) []string {
	gs := append([]string(nil), r.Groups...)
	gs = append(gs, "system:authenticated")
	if rest, ok := strings.CutPrefix(r.User, "system:serviceaccount:"); ok {
		ns, _, _ := strings.Cut(rest, ":")
		gs = append(gs, "system:serviceaccounts", "system:serviceaccounts:"+ns)
	}
	return gs
}

// kubectlDump writes what `kubectl get -A -o yaml` returns for the kinds
// kubedelta reads.
func (e *env) kubectlDump(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, envOr("KUBECTL", "kubectl"), "--kubeconfig", e.adminKubeconfig,
		"get", "-A", "-o", "yaml",
		"namespaces,serviceaccounts,pods,services,roles,clusterroles,rolebindings,clusterrolebindings,networkpolicies")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("kubectl get -A -o yaml: %w: %s", err, stderr.String())
	}
	return os.WriteFile(path, out, 0o600)
}

// canIBatch runs `kubedelta rbac can-i --cluster dump --batch -`.
func (e *env) canIBatch(ctx context.Context, dump string, reqs []canIRequest) ([]canIAnswer, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, e.kubedelta, "rbac", "can-i", "--cluster", dump, "--batch", "-")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubedelta rbac can-i --batch: %w: %s", err, stderr.String())
	}
	var answers []canIAnswer
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var a canIAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("kubedelta rbac can-i output line %q: %w", sc.Text(), err)
		}
		answers = append(answers, a)
	}
	return answers, sc.Err()
}

// createRBACFixtures creates the namespaces, roles and bindings the table
// asks about.
func createRBACFixtures(t *testing.T, ctx context.Context, c kubernetes.Interface) {
	t.Helper()
	aggLabel := map[string]string{"e2e.kubedelta.io/aggregate-to-monitoring": "true"}
	for _, ns := range []string{"e2e-shop", "e2e-data"} {
		mustCreate(t, func() error {
			_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		})
	}
	mustCreate(t, func() error {
		_, err := c.CoreV1().ServiceAccounts("e2e-shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{})
		return err
	})
	rule := func(groups, resources, verbs []string, names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
	}
	core, apps := []string{""}, []string{"apps"}
	roles := []rbacv1.Role{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
			rule(core, []string{"pods"}, []string{"get", "list", "watch"}), rule(core, []string{"pods/log"}, []string{"get"})}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "app-config"}, Rules: []rbacv1.PolicyRule{
			rule(core, []string{"configmaps"}, []string{"get", "update"}, "app-config")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "debugger"}, Rules: []rbacv1.PolicyRule{
			rule(core, []string{"pods/*"}, []string{"create", "get"})}},
	}
	for i := range roles {
		mustCreate(t, func() error {
			_, err := c.RbacV1().Roles(roles[i].Namespace).Create(ctx, &roles[i], metav1.CreateOptions{})
			return err
		})
	}
	clusterRoles := []rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-monitoring"}, AggregationRule: &rbacv1.AggregationRule{
			ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: aggLabel}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-metrics-reader", Labels: aggLabel}, Rules: []rbacv1.PolicyRule{
			{NonResourceURLs: []string{"/metrics", "/debug/*"}, Verbs: []string{"get"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-nodes-reader", Labels: aggLabel}, Rules: []rbacv1.PolicyRule{
			rule(core, []string{"nodes"}, []string{"get", "list"})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-one-secret"}, Rules: []rbacv1.PolicyRule{
			rule(core, []string{"secrets"}, []string{"get"}, "db-password")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-apps-reader"}, Rules: []rbacv1.PolicyRule{
			rule(apps, []string{"*"}, []string{"get"})}},
	}
	for i := range clusterRoles {
		mustCreate(t, func() error {
			_, err := c.RbacV1().ClusterRoles().Create(ctx, &clusterRoles[i], metav1.CreateOptions{})
			return err
		})
	}
	roleRef := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
	}
	user := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	group := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: n}
	}
	bindings := []rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "deployer-pods"}, RoleRef: roleRef("Role", "pod-reader"),
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "e2e-shop", Name: "deployer"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "alice-config"}, RoleRef: roleRef("Role", "app-config"), Subjects: []rbacv1.Subject{user("alice")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "devs-view"}, RoleRef: roleRef("ClusterRole", "view"), Subjects: []rbacv1.Subject{group("devs")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-shop", Name: "dave-debug"}, RoleRef: roleRef("Role", "debugger"), Subjects: []rbacv1.Subject{user("dave")}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-data", Name: "carol-secret"}, RoleRef: roleRef("ClusterRole", "e2e-one-secret"), Subjects: []rbacv1.Subject{user("carol")}},
		// A binding to a role that does not exist grants nothing.
		{ObjectMeta: metav1.ObjectMeta{Namespace: "e2e-data", Name: "dangling"}, RoleRef: roleRef("Role", "missing"), Subjects: []rbacv1.Subject{user("alice")}},
	}
	for i := range bindings {
		mustCreate(t, func() error {
			_, err := c.RbacV1().RoleBindings(bindings[i].Namespace).Create(ctx, &bindings[i], metav1.CreateOptions{})
			return err
		})
	}
	crbs := []rbacv1.ClusterRoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-bob-monitoring"}, RoleRef: roleRef("ClusterRole", "e2e-monitoring"), Subjects: []rbacv1.Subject{user("bob")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "e2e-ops-apps"}, RoleRef: roleRef("ClusterRole", "e2e-apps-reader"), Subjects: []rbacv1.Subject{group("ops")}},
	}
	for i := range crbs {
		mustCreate(t, func() error {
			_, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &crbs[i], metav1.CreateOptions{})
			return err
		})
	}
}

// rbacRequests is the table. Expected answers come from the API server.
func rbacRequests() []canIRequest {
	const sa = "system:serviceaccount:e2e-shop:deployer"
	res := func(user string, groups []string, verb, group, resource, sub, ns, name string) canIRequest {
		return canIRequest{User: user, Groups: groups, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name}
	}
	url := func(user, verb, path string) canIRequest { return canIRequest{User: user, Verb: verb, Path: path} }
	devs, ops, masters := []string{"devs"}, []string{"ops"}, []string{"system:masters"}
	return []canIRequest{
		// A service account through a Role and RoleBinding.
		res(sa, nil, "get", "", "pods", "", "e2e-shop", "web"),
		res(sa, nil, "list", "", "pods", "", "e2e-shop", ""),
		res(sa, nil, "get", "", "pods", "log", "e2e-shop", "web"),
		res(sa, nil, "create", "", "pods", "exec", "e2e-shop", "web"),
		res(sa, nil, "delete", "", "pods", "", "e2e-shop", "web"),
		res(sa, nil, "get", "", "pods", "", "e2e-data", "web"),
		res(sa, nil, "list", "", "pods", "", "", ""),
		// resourceNames.
		res("alice", nil, "get", "", "configmaps", "", "e2e-shop", "app-config"),
		res("alice", nil, "update", "", "configmaps", "", "e2e-shop", "app-config"),
		res("alice", nil, "get", "", "configmaps", "", "e2e-shop", "other"),
		res("alice", nil, "list", "", "configmaps", "", "e2e-shop", ""),
		res("alice", nil, "delete", "", "configmaps", "", "e2e-shop", "app-config"),
		res("alice", nil, "get", "", "pods", "", "e2e-data", ""), // dangling binding
		res("carol", nil, "get", "", "secrets", "", "e2e-data", "db-password"),
		res("carol", nil, "get", "", "secrets", "", "e2e-data", "other"),
		res("carol", nil, "list", "", "secrets", "", "e2e-data", ""),
		res("carol", nil, "get", "", "secrets", "", "e2e-shop", "db-password"),
		// The aggregated view ClusterRole, bound in one namespace to a group.
		res("frank", devs, "get", "apps", "deployments", "", "e2e-shop", "web"),
		res("frank", devs, "watch", "", "services", "", "e2e-shop", ""),
		res("frank", devs, "get", "", "pods", "log", "e2e-shop", "web"),
		res("frank", devs, "list", "", "secrets", "", "e2e-shop", ""),
		res("frank", devs, "create", "", "pods", "", "e2e-shop", ""),
		res("frank", devs, "get", "", "pods", "", "e2e-data", ""),
		res("frank", nil, "get", "apps", "deployments", "", "e2e-shop", "web"),
		// Our aggregated ClusterRole: non-resource URLs and nodes.
		url("bob", "get", "/metrics"),
		url("bob", "post", "/metrics"),
		url("bob", "get", "/debug/pprof/heap"),
		url("bob", "get", "/metrics/cadvisor"),
		res("bob", nil, "get", "", "nodes", "", "", "node-1"),
		res("bob", nil, "list", "", "nodes", "", "", ""),
		res("bob", nil, "delete", "", "nodes", "", "", "node-1"),
		// Resource wildcard in a group, subresources included.
		res("gina", ops, "get", "apps", "deployments", "", "e2e-data", "db"),
		res("gina", ops, "get", "apps", "deployments", "scale", "e2e-shop", "web"),
		res("gina", ops, "get", "apps", "statefulsets", "status", "", ""),
		res("gina", ops, "update", "apps", "deployments", "", "e2e-shop", "web"),
		res("gina", ops, "get", "", "pods", "", "e2e-shop", ""),
		// pods/* matches every subresource of pods, not pods itself.
		res("dave", nil, "create", "", "pods", "exec", "e2e-shop", "web"),
		res("dave", nil, "create", "", "pods", "portforward", "e2e-shop", "web"),
		res("dave", nil, "get", "", "pods", "", "e2e-shop", "web"),
		res("dave", nil, "create", "", "pods", "exec", "e2e-data", "web"),
		// The bootstrap policy: discovery, self reviews, cluster-admin.
		url("nobody", "get", "/version"),
		url("nobody", "get", "/healthz"),
		url("nobody", "get", "/apis/apps/v1"),
		res("nobody", nil, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", ""),
		res("nobody", nil, "list", "", "namespaces", "", "", ""),
		res("root", masters, "delete", "", "nodes", "", "", "node-1"),
		res("root", masters, "impersonate", "", "users", "", "", "someone"),
		url("root", "delete", "/anything"),
	}
}
