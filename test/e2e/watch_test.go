package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/cluster/watch"
)

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWatcher runs the live inventory against the real API server: it sees
// a namespace, service account, role, binding and pod created after its
// first sync; resolves the address patched into the pod's status; and after
// the pod is deleted, still resolves that address as of a time before the
// delete, and no longer after it.
func TestWatcher(t *testing.T) {
	e := need(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var changes atomic.Int32
	w, err := watch.New(watch.Options{
		Kubeconfig: e.adminKubeconfig,
		Resync:     time.Minute,
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnChange:   func() { changes.Add(1) },
		Debounce:   200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	eventually(t, time.Minute, "the watcher's first sync", w.Synced)
	t.Logf("first sync after %s: %d cluster roles (bootstrap policy)", time.Since(start).Round(time.Millisecond), len(w.Snapshot().ClusterRoles))
	eventually(t, 10*time.Second, "OnChange after the first sync", func() bool { return changes.Load() >= 1 })
	afterSync := changes.Load()

	const ns = "e2e-watch"
	c := e.admin
	mustCreate(t, func() error {
		_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := c.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "app-reader", Annotations: map[string]string{corev1.LastAppliedConfigAnnotation: `{"kind":"Role"}`}},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "app-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "app-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "app"}},
		}, metav1.CreateOptions{})
		return err
	})
	var pod *corev1.Pod
	mustCreate(t, func() error {
		var err error
		pod, err = c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				ServiceAccountName:           "app",
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
			},
		}, metav1.CreateOptions{})
		return err
	})

	// (1a) Snapshot sees all five.
	eventually(t, 10*time.Second, "the new objects in the snapshot", func() bool {
		inv := w.Snapshot()
		return has(inv.Namespaces, "", ns) && has(inv.ServiceAccounts, ns, "app") && has(inv.Roles, ns, "app-reader") &&
			has(inv.RoleBindings, ns, "app-reader") && has(inv.Pods, ns, "web")
	})
	inv := w.Snapshot()
	for _, r := range inv.Roles {
		if r.Name == "app-reader" {
			if _, ok := r.Annotations[corev1.LastAppliedConfigAnnotation]; ok || len(r.ManagedFields) > 0 {
				t.Errorf("stored Role keeps managedFields or the last-applied annotation: %+v", r.ObjectMeta)
			}
			if r.Kind != "Role" || r.APIVersion != "rbac.authorization.k8s.io/v1" {
				t.Errorf("stored Role TypeMeta = %+v", r.TypeMeta)
			}
		}
	}
	eventually(t, 10*time.Second, "OnChange after the RBAC and namespace changes", func() bool { return changes.Load() > afterSync })

	// (1b) The pod gets an address through the status subresource, as a
	// kubelet would report it.
	ip := netip.MustParseAddr("10.244.1.23")
	patch := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"startTime":%q}}`,
		ip, ip, time.Now().UTC().Format(time.RFC3339))
	if _, err := c.CoreV1().Pods(ns).Patch(ctx, "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("patching the pod's status: %v", err)
	}
	idx := w.Index()
	eventually(t, 10*time.Second, "the pod's address in the index", func() bool {
		p, ok := idx.PodAt(ip, time.Time{})
		return ok && p.UID == pod.UID
	})
	if ep := idx.ResolveIP(ip, time.Time{}); ep.Kind != cluster.EndpointPod || ep.Workload.String() != "Pod/e2e-watch/web" {
		t.Errorf("ResolveIP(%s) = %s %s; want pod Pod/e2e-watch/web", ip, ep.Kind, ep.Workload)
	}

	// (1c) Deleted, the pod still explains its address before the delete.
	// The API server's timestamps (startTime, deletionTimestamp, which
	// bound the pod's lifetime in the index) have second precision: keep
	// more than a second on either side of the instant asked about.
	time.Sleep(1100 * time.Millisecond)
	beforeDelete := time.Now()
	time.Sleep(1100 * time.Millisecond)
	if err := c.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the pod's delete in the index", func() bool { _, ok := idx.Pod(ns, "web"); return !ok })
	afterDelete := time.Now()
	if p, ok := idx.PodAt(ip, beforeDelete); !ok || p.UID != pod.UID {
		t.Errorf("PodAt(%s, before the delete) = %v, %v; want the deleted pod", ip, p, ok)
	}
	if p, ok := idx.PodAt(ip, afterDelete); ok {
		t.Errorf("PodAt(%s, after the delete) = %s; want none", ip, p.Name)
	}
	if w.Index() != idx {
		t.Error("Index() changed: want one long-lived index")
	}
	for _, ch := range w.Changes() {
		if ch.Namespace == ns {
			t.Logf("change: %s %s %s/%s", ch.Op, ch.Kind, ch.Namespace, ch.Name)
		}
	}
	if !slices.ContainsFunc(w.Changes(), func(ch watch.Change) bool {
		return ch.Kind == "Pod" && ch.Namespace == ns && ch.Name == "web" && ch.Op == watch.OpDelete
	}) {
		t.Errorf("Changes lacks the pod's delete: %+v", w.Changes())
	}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

// has reports whether objs holds namespace/name.
func has[T any, P interface {
	*T
	metav1.Object
}](objs []T, ns, name string) bool {
	for i := range objs {
		p := P(&objs[i])
		if p.GetNamespace() == ns && p.GetName() == name {
			return true
		}
	}
	return false
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
