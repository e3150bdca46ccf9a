package watch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestSnapshotContents: every watched kind lands in its Inventory field,
// sorted by namespace and name, with TypeMeta set (as in a dump) and
// without managedFields or the last-applied annotation.
func TestSnapshotContents(t *testing.T) {
	applied := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{
		Name: "view-extra", UID: "cr1",
		Annotations:   map[string]string{corev1.LastAppliedConfigAnnotation: `{"big":"manifest"}`, "team": "sre"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
	}}
	objs := []runtime.Object{
		namespace("b"), namespace("a"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "sa"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		pod("b", "p", "u1", "10.0.0.1", time.Now()), pod("a", "q", "u2", "10.0.0.2", time.Now()), pod("a", "p", "u3", "10.0.0.3", time.Now()),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "svc"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}},
		role("a", "r"), applied,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "rb"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "deny"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "d"}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "d-1"}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "s"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "ds"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "token"}, Data: map[string][]byte{"k": []byte("v")}},
	}
	w, _ := started(t, Options{}, objs...)
	inv := w.Snapshot()

	counts := map[string]int{
		"Namespace": len(inv.Namespaces), "ServiceAccount": len(inv.ServiceAccounts), "Node": len(inv.Nodes),
		"Pod": len(inv.Pods), "Service": len(inv.Services), "Role": len(inv.Roles), "ClusterRole": len(inv.ClusterRoles),
		"RoleBinding": len(inv.RoleBindings), "ClusterRoleBinding": len(inv.ClusterRoleBindings),
		"NetworkPolicy": len(inv.NetworkPolicies), "Deployment": len(inv.Deployments), "ReplicaSet": len(inv.ReplicaSets),
		"StatefulSet": len(inv.StatefulSets), "DaemonSet": len(inv.DaemonSets), "Job": len(inv.Jobs), "CronJob": len(inv.CronJobs),
	}
	want := map[string]int{
		"Namespace": 2, "ServiceAccount": 1, "Node": 1, "Pod": 3, "Service": 1, "Role": 1, "ClusterRole": 1,
		"RoleBinding": 1, "ClusterRoleBinding": 1, "NetworkPolicy": 1, "Deployment": 1, "ReplicaSet": 1,
		"StatefulSet": 1, "DaemonSet": 1, "Job": 0, "CronJob": 0,
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("objects per kind = %v\nwant                %v", counts, want)
	}
	var order []string
	for _, p := range inv.Pods {
		order = append(order, p.Namespace+"/"+p.Name)
	}
	if got := strings.Join(order, " "); got != "a/p a/q b/p" {
		t.Errorf("pod order = %s; want a/p a/q b/p", got)
	}
	if inv.Namespaces[0].Name != "a" {
		t.Errorf("first namespace = %s; want a", inv.Namespaces[0].Name)
	}
	for _, tm := range []metav1.TypeMeta{inv.Pods[0].TypeMeta, inv.ClusterRoles[0].TypeMeta, inv.NetworkPolicies[0].TypeMeta, inv.Deployments[0].TypeMeta} {
		if tm.APIVersion == "" || tm.Kind == "" {
			t.Errorf("TypeMeta not set: %+v", tm)
		}
	}
	if got := inv.ClusterRoles[0].TypeMeta; got.APIVersion != "rbac.authorization.k8s.io/v1" || got.Kind != "ClusterRole" {
		t.Errorf("ClusterRole TypeMeta = %+v", got)
	}
	cr := inv.ClusterRoles[0]
	if len(cr.ManagedFields) != 0 {
		t.Error("managedFields kept")
	}
	if _, ok := cr.Annotations[corev1.LastAppliedConfigAnnotation]; ok || cr.Annotations["team"] != "sre" {
		t.Errorf("annotations = %v; want the last-applied one removed, the others kept", cr.Annotations)
	}

	// The slices are the caller's.
	inv.Pods[0].Name = "mutated"
	if again := w.Snapshot(); again.Pods[0].Name != "p" {
		t.Error("a Snapshot's slice is shared with the watcher")
	}
	// The index of the first sync knows the services as well as the pods.
	if svc, ok := w.Index().ServiceByClusterIP(netip.MustParseAddr("10.96.0.10")); !ok || svc.Name != "svc" {
		t.Errorf("ServiceByClusterIP = %v, %v; want a/svc", svc, ok)
	}
}

// TestSnapshotUnderChurn: snapshots taken while pods and roles come and go
// are well formed (sorted, no duplicates), race-free, and the last one
// matches the API server.
func TestSnapshotUnderChurn(t *testing.T) {
	ctx := context.Background()
	w, client := started(t, Options{}, namespace("a"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			inv := w.Snapshot()
			names := make([]string, len(inv.Pods))
			for j := range inv.Pods {
				names[j] = inv.Pods[j].Name
			}
			if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Errorf("snapshot %d: pods not sorted or duplicated: %v", i, names)
				return
			}
			_ = w.Changes()
		}
	})
	for i := range 60 {
		name := fmt.Sprintf("p%03d", i)
		if _, err := client.CoreV1().Pods("a").Create(ctx, pod("a", name, "u"+name, fmt.Sprintf("10.3.0.%d", i+1), time.Now()), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.RbacV1().Roles("a").Create(ctx, role("a", name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := client.CoreV1().Pods("a").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "all roles", func() bool { return len(w.Snapshot().Roles) == 60 })
	waitFor(t, "all pods", func() bool { return len(w.Snapshot().Pods) == 40 })
	close(stop)
	wg.Wait()

	list, err := client.CoreV1().Pods("a").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var api, ours []string
	for _, p := range list.Items {
		api = append(api, p.Name)
	}
	for _, p := range w.Snapshot().Pods {
		ours = append(ours, p.Name)
		if _, ok := w.Index().Pod("a", p.Name); !ok {
			t.Errorf("pod %s in the snapshot but not current in the index", p.Name)
		}
	}
	slices.Sort(api)
	if !slices.Equal(api, ours) {
		t.Errorf("snapshot pods differ from the API server's:\n ours %v\n api  %v", ours, api)
	}
}

func TestTransform(t *testing.T) {
	tm := newTypeMetaSetter(kindSpecs())
	p := pod("a", "p", "u", "", time.Now())
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}}
	p.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: "{}"}
	for range 2 { // idempotent
		out, err := tm.transform(p)
		if err != nil {
			t.Fatal(err)
		}
		got := out.(*corev1.Pod)
		if got.ManagedFields != nil || got.Annotations != nil || got.Kind != "Pod" || got.APIVersion != "v1" {
			t.Errorf("transformed pod meta = %+v %+v", got.TypeMeta, got.ObjectMeta)
		}
	}
	// Anything that is not an object (a tombstone) passes unchanged.
	in := "not an object"
	if out, err := tm.transform(in); err != nil || out != in {
		t.Errorf("transform(string) = %v, %v", out, err)
	}
}

// TestResourcesAreTheRBACRules: the resources Resources reports are those
// the watcher lists, with no Secrets.
func TestResourcesAreTheRBACRules(t *testing.T) {
	var got []string
	for _, gr := range Resources() {
		got = append(got, gr.String())
	}
	want := []string{"namespaces", "serviceaccounts", "nodes", "pods", "services",
		"roles.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io",
		"rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
		"networkpolicies.networking.k8s.io", "deployments.apps", "replicasets.apps", "statefulsets.apps",
		"daemonsets.apps", "jobs.batch", "cronjobs.batch"}
	if !slices.Equal(got, want) {
		t.Errorf("Resources() = %v\nwant %v", got, want)
	}

	// The watcher lists exactly these: record the fake client's actions.
	client := fake.NewClientset()
	w, err := NewForClient(client, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "sync", w.Synced)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range client.Actions() {
		gr := schema.GroupResource{Group: a.GetResource().Group, Resource: a.GetResource().Resource}.String()
		if v := a.GetVerb(); v != "list" && v != "watch" {
			t.Errorf("the watcher did %s on %s; want only list and watch", v, gr)
		}
		seen[gr] = true
	}
	if len(seen) != len(want) {
		t.Errorf("the watcher touched %d resources; want %d: %v", len(seen), len(want), seen)
	}
	for _, gr := range want {
		if !seen[gr] {
			t.Errorf("the watcher never listed %s", gr)
		}
	}
}

// TestRunBeforeSync: a kind the API server refuses to list keeps Run from
// syncing; the log says what to grant, and Run returns ErrNotSynced with
// the context's cause when it ends.
func TestRunBeforeSync(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "clusterroles", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, "", errors.New("RBAC: access denied"))
	})
	var logs syncBuffer
	w, err := NewForClient(client, Options{Logger: bufLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = w.Run(ctx)
	if !errors.Is(err, ErrNotSynced) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "clusterroles") {
		t.Errorf("Run = %v; want ErrNotSynced naming clusterroles, wrapping the deadline", err)
	}
	if w.Synced() || w.Index() != nil {
		t.Error("Synced or Index set without a sync")
	}
	if !strings.Contains(logs.String(), "grant the watcher's identity list and watch") || !strings.Contains(logs.String(), "resource=clusterroles") {
		t.Errorf("log does not say what to grant:\n%s", logs.String())
	}
	if err := w.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v; want ErrRunning", err)
	}
}

func TestNewConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(good, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("clusters: [this is not"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")

	// Not in a pod, no $KUBECONFIG, no ~/.kube/config.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", dir)

	tests := []struct {
		name, kubeconfig, env string
		want                  string // substring of the error; "" means success
	}{
		{name: "explicit", kubeconfig: good},
		{name: "from $KUBECONFIG", env: good},
		{name: "missing file", kubeconfig: missing, want: missing},
		{name: "bad file", kubeconfig: bad, want: bad},
		{name: "nothing", want: "give the kubeconfig's path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			w, err := New(Options{Kubeconfig: tt.kubeconfig})
			if tt.want == "" {
				if err != nil || w == nil {
					t.Fatalf("New = %v, %v", w, err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v; want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := NewForClient(fake.NewClientset(), Options{Debounce: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative Debounce: %v; want ErrConfig", err)
	}
}
