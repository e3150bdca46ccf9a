package watch

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// TestIndexFollowsPodsAcrossDeleteAndIPReuse: the Index resolves an
// address to the pod that held it at the time asked, after that pod is
// deleted and after another pod took the address.
func TestIndexFollowsPodsAcrossDeleteAndIPReuse(t *testing.T) {
	ctx := context.Background()
	ip := netip.MustParseAddr("10.0.0.5")
	base := time.Now().Add(-time.Hour)
	w, client := started(t, Options{}, pod("team", "web-0", "uid-a", ip.String(), base))
	idx := w.Index()
	if idx == nil {
		t.Fatal("Index() is nil after sync")
	}

	if p, ok := idx.PodAt(ip, time.Time{}); !ok || p.UID != "uid-a" {
		t.Fatalf("before delete: PodAt(now) = %v, %v; want uid-a", p, ok)
	}

	beforeDelete := time.Now()
	if err := client.CoreV1().Pods("team").Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod's delete", func() bool { _, ok := idx.Pod("team", "web-0"); return !ok })
	afterDelete := time.Now()

	if p, ok := idx.PodAt(ip, beforeDelete); !ok || p.UID != "uid-a" {
		t.Errorf("after delete: PodAt(before the delete) = %v, %v; want uid-a", p, ok)
	}
	if p, ok := idx.PodAt(ip, time.Time{}); ok {
		t.Errorf("after delete: PodAt(now) = %s; want no pod", p.UID)
	}
	if p, ok := idx.PodAt(ip, afterDelete); ok {
		t.Errorf("after delete: PodAt(after the delete) = %s; want no pod", p.UID)
	}

	// Another pod, of another workload, gets the address.
	reused := pod("team", "api-7f9c", "uid-b", ip.String(), time.Now())
	if _, err := client.CoreV1().Pods("team").Create(ctx, reused, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new pod", func() bool { _, ok := idx.Pod("team", "api-7f9c"); return ok })
	if p, ok := idx.PodAt(ip, time.Time{}); !ok || p.UID != "uid-b" {
		t.Errorf("after reuse: PodAt(now) = %v, %v; want uid-b", p, ok)
	}
	if p, ok := idx.PodAt(ip, beforeDelete); !ok || p.UID != "uid-a" {
		t.Errorf("after reuse: PodAt(before the delete) = %v, %v; want uid-a", p, ok)
	}
	if w.Index() != idx {
		t.Error("Index() returned a different index: want one long-lived index")
	}
}

// TestIndexStatusPatchAndRecreatedName: a pod that gets its address by a
// status update resolves; a StatefulSet-style pod recreated under the same
// name (new UID, new address) ends the old one's lifetime.
func TestIndexStatusPatchAndRecreatedName(t *testing.T) {
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	w, client := started(t, Options{}, pod("db", "pg-0", "uid-1", "", base))
	idx := w.Index()

	p, err := client.CoreV1().Pods("db").Get(ctx, "pg-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.PodIP = "10.1.0.7"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.7"}}
	if _, err := client.CoreV1().Pods("db").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	old := netip.MustParseAddr("10.1.0.7")
	waitFor(t, "the status update", func() bool { _, ok := idx.PodAt(old, time.Time{}); return ok })

	// Recreated: the watch sees a delete then an add; both must leave the
	// old address resolvable in the past only.
	if err := client.CoreV1().Pods("db").Delete(ctx, "pg-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delete", func() bool { _, ok := idx.Pod("db", "pg-0"); return !ok })
	if _, err := client.CoreV1().Pods("db").Create(ctx, pod("db", "pg-0", "uid-2", "10.1.0.9", time.Now()), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recreated pod", func() bool { q, ok := idx.Pod("db", "pg-0"); return ok && q.UID == "uid-2" })
	if _, ok := idx.PodAt(old, time.Time{}); ok {
		t.Error("the old address still resolves now")
	}
	if q, ok := idx.PodAt(old, base.Add(time.Minute)); !ok || q.UID != "uid-1" {
		t.Errorf("PodAt(old address, during the old pod) = %v, %v; want uid-1", q, ok)
	}
	if q, ok := idx.PodAt(netip.MustParseAddr("10.1.0.9"), time.Time{}); !ok || q.UID != "uid-2" {
		t.Errorf("PodAt(new address) = %v, %v; want uid-2", q, ok)
	}
}

// TestUpdateWithNewUIDReplacesPod: when the watch missed a delete and a
// relist finds another pod under the name, client-go delivers an update
// from the old pod to the new one; the index and Changes treat it as a
// delete and an add.
func TestUpdateWithNewUIDReplacesPod(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	w, _ := started(t, Options{})
	w.Index().AddPod(pod("db", "pg-0", "uid-1", "10.1.0.7", base))
	spec := w.specOf(t, "Pod")
	old := pod("db", "pg-0", "uid-1", "10.1.0.7", base)
	cur := pod("db", "pg-0", "uid-2", "10.1.0.8", time.Now())
	w.upsert(spec, old, cur, false)

	if q, ok := w.Index().Pod("db", "pg-0"); !ok || q.UID != "uid-2" {
		t.Fatalf("current pg-0 = %v, %v; want uid-2", q, ok)
	}
	if _, ok := w.Index().PodAt(netip.MustParseAddr("10.1.0.7"), time.Time{}); ok {
		t.Error("the replaced pod's address still resolves now")
	}
	got := w.Changes()
	if len(got) != 2 || got[0].Op != OpDelete || got[0].UID != "uid-1" || got[1].Op != OpAdd || got[1].UID != "uid-2" {
		t.Errorf("Changes = %+v; want delete uid-1, add uid-2", got)
	}
}

// TestPruneForgetsOldPods: pods gone for longer than PodRetention leave the
// index; live pods stay.
func TestPruneForgetsOldPods(t *testing.T) {
	ctx := context.Background()
	base := time.Now().Add(-3 * time.Hour)
	w, client := started(t, Options{PodRetention: time.Hour},
		pod("a", "gone", "uid-g", "10.2.0.1", base), pod("a", "live", "uid-l", "10.2.0.2", base))
	if err := client.CoreV1().Pods("a").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	idx := w.Index()
	waitFor(t, "the delete", func() bool { _, ok := idx.Pod("a", "gone"); return !ok })
	during := base.Add(time.Minute)

	if n := w.prune(); n != 0 {
		t.Errorf("prune right after the delete forgot %d pods; want 0", n)
	}
	if _, ok := idx.PodAt(netip.MustParseAddr("10.2.0.1"), during); !ok {
		t.Fatal("deleted pod not resolvable before pruning")
	}
	w.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n := w.prune(); n != 1 {
		t.Errorf("prune two hours later forgot %d pods; want 1", n)
	}
	if _, ok := idx.PodAt(netip.MustParseAddr("10.2.0.1"), during); ok {
		t.Error("pruned pod still resolves")
	}
	if _, ok := idx.PodAt(netip.MustParseAddr("10.2.0.2"), time.Time{}); !ok {
		t.Error("live pod was pruned")
	}
}

func (w *Watcher) specOf(t testing.TB, kind string) *kindSpec {
	t.Helper()
	for _, ki := range w.informers {
		if ki.spec.gvk.Kind == kind {
			return ki.spec
		}
	}
	t.Fatalf("no kind %s", kind)
	return nil
}

// TestTombstones: a delete the watch missed arrives as a tombstone, with
// the last known object or only its key. Either removes the object; a
// tombstone of an older pod does not remove the newer pod that took its
// name. The lifetime of a pod deleted while unobserved ends at its
// deletionTimestamp when it has one.
func TestTombstones(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	w, _ := started(t, Options{})
	spec := w.specOf(t, "Pod")
	add := func(p *corev1.Pod) { w.upsert(spec, nil, p, false) }

	// With the last known state, terminating since base+10m.
	last := pod("a", "p1", "u1", "10.4.0.1", base)
	last.DeletionTimestamp = &metav1.Time{Time: base.Add(10 * time.Minute)}
	add(last)
	w.remove(spec, cache.DeletedFinalStateUnknown{Key: "a/p1", Obj: last})
	if _, ok := w.Index().Pod("a", "p1"); ok {
		t.Error("p1 still current after its tombstone")
	}
	if _, ok := w.Index().PodAt(netip.MustParseAddr("10.4.0.1"), base.Add(11*time.Minute)); ok {
		t.Error("p1 resolves after its deletionTimestamp")
	}
	if _, ok := w.Index().PodAt(netip.MustParseAddr("10.4.0.1"), base.Add(9*time.Minute)); !ok {
		t.Error("p1 does not resolve before its deletionTimestamp")
	}

	// Key only.
	add(pod("a", "p2", "u2", "10.4.0.2", base))
	w.remove(spec, cache.DeletedFinalStateUnknown{Key: "a/p2"})
	if _, ok := w.Index().Pod("a", "p2"); ok {
		t.Error("p2 still current after a key-only tombstone")
	}

	// A late tombstone of an older pod under a reused name.
	add(pod("a", "p3", "old", "10.4.0.3", base))
	add(pod("a", "p3", "new", "10.4.0.4", base.Add(time.Minute)))
	w.remove(spec, cache.DeletedFinalStateUnknown{Key: "a/p3", Obj: pod("a", "p3", "old", "10.4.0.3", base)})
	if q, ok := w.Index().Pod("a", "p3"); !ok || q.UID != "new" {
		t.Errorf("current p3 = %v, %v; want the new pod to survive the old one's tombstone", q, ok)
	}
	if !has(w.Snapshot().Pods, "a", "p3") {
		t.Error("the new p3 left the snapshot")
	}
	if has(w.Snapshot().Pods, "a", "p1") || has(w.Snapshot().Pods, "a", "p2") {
		t.Error("tombstoned pods still in the snapshot")
	}
}

func has(pods []corev1.Pod, ns, name string) bool {
	for i := range pods {
		if pods[i].Namespace == ns && pods[i].Name == name {
			return true
		}
	}
	return false
}
