package servecmd

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubedelta/kubedelta/internal/cluster/watch"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// TestLiveInventory runs the live inventory on a fake clientset: after the
// first sync the server's seam returns the watcher's index and an
// authorizer of the cluster's RBAC, and a new binding yields a new
// authorizer that allows what it grants.
func TestLiveInventory(t *testing.T) {
	now := time.Now()
	objs := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "u1", CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.1.7", PodIPs: []corev1.PodIP{{IP: "10.244.1.7"}}},
		},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}},
	}
	client := fake.NewClientset(objs...)
	li, err := newLiveInventoryWith(func(o watch.Options) (*watch.Watcher, error) {
		o.Debounce = 10 * time.Millisecond
		return watch.NewForClient(client, o)
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	inv := li.inventory()
	if idx, authz := inv(); idx != nil || authz != nil {
		t.Fatal("an inventory before the first sync")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- li.w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	li.waitSynced(ctx)
	deadline := time.Now().Add(10 * time.Second)
	var idx, authz = inv()
	for authz == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		idx, authz = inv()
	}
	if idx == nil || authz == nil {
		t.Fatalf("after sync: index %v, authorizer %v", idx, authz)
	}
	if p, ok := idx.PodAt(netip.MustParseAddr("10.244.1.7"), now); !ok || p.Name != "web-1" {
		t.Errorf("the index does not resolve the pod's address: %v %v", p, ok)
	}
	req := rbac.Request{User: "alice", Verb: "get", Resource: "pods", Namespace: "shop"}
	if authz.Authorize(req).Allowed {
		t.Fatal("alice allowed before any binding")
	}
	_, err = client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reads"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		if _, a := inv(); a != authz && a.Authorize(req).Allowed {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the new binding never reached the authorizer")
}
