package watch

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// handler applies one kind's events to the views. client-go calls a
// handler from one goroutine per informer, in event order.
func (w *Watcher) handler(spec *kindSpec) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if m, ok := obj.(metav1.Object); ok {
				w.upsert(spec, nil, m, initial)
			}
		},
		UpdateFunc: func(old, cur any) {
			o, _ := old.(metav1.Object)
			if c, ok := cur.(metav1.Object); ok {
				w.upsert(spec, o, c, false)
			}
		},
		DeleteFunc: func(obj any) { w.remove(spec, obj) },
	}
}

// upsert stores an added or updated object. old is nil for an add.
func (w *Watcher) upsert(spec *kindSpec, old, cur metav1.Object, initial bool) {
	now := w.now()
	key := objKey{cur.GetNamespace(), cur.GetName()}
	// A resync delivers the cached object again: same resourceVersion.
	resync := old != nil && cur.GetResourceVersion() != "" && old.GetResourceVersion() == cur.GetResourceVersion()
	w.mu.Lock()
	w.store.objects[spec.slot][key] = cur
	pod, isPod := cur.(*corev1.Pod)
	if isPod && w.index != nil && !resync {
		// A pod of a new UID under an old name (the watch missed the
		// delete): AddPod ends the old pod's lifetime where the new one's
		// starts.
		w.index.AddPod(pod)
	}
	var significant bool
	switch {
	case initial || resync:
	case old == nil:
		significant = true
		w.record(now, spec, cur, OpAdd)
	case old.GetUID() != cur.GetUID():
		significant = true
		w.record(now, spec, old, OpDelete)
		w.record(now, spec, cur, OpAdd)
	case spec.significant == nil || spec.significant(old, cur):
		significant = true
		w.record(now, spec, cur, OpUpdate)
	}
	w.mu.Unlock()
	if significant && spec.rebuild {
		w.changed()
	}
}

// remove forgets a deleted object. A tombstone (the watch missed the
// delete; a relist found the object gone) may carry the last known state
// or nothing but the key.
func (w *Watcher) remove(spec *kindSpec, obj any) {
	now := w.now()
	tombstone := false
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		tombstone = true
		obj = t.Obj
		if _, ok := obj.(metav1.Object); !ok {
			ns, name, err := cache.SplitMetaNamespaceKey(t.Key)
			if err != nil {
				return
			}
			obj = &metav1.ObjectMeta{Namespace: ns, Name: name}
		}
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	key := objKey{m.GetNamespace(), m.GetName()}
	w.mu.Lock()
	if prev, ok := w.store.objects[spec.slot][key].(metav1.Object); ok && (m.GetUID() == "" || prev.GetUID() == m.GetUID()) {
		delete(w.store.objects[spec.slot], key)
		if m.GetUID() == "" {
			m = prev
		}
	}
	if pod, ok := m.(*corev1.Pod); ok && w.index != nil {
		w.deletePod(pod, now, tombstone)
	}
	w.record(now, spec, m, OpDelete)
	w.mu.Unlock()
	if spec.rebuild {
		w.changed()
	}
}

// deletePod ends the pod's lifetime in the Index at the time the watcher
// saw the delete, or, when the watch missed it, at the pod's
// deletionTimestamp if it has one (else now). A newer pod that already took
// the name is left alone. Callers hold w.mu.
func (w *Watcher) deletePod(pod *corev1.Pod, seen time.Time, tombstone bool) {
	cur, ok := w.index.Pod(pod.Namespace, pod.Name)
	if !ok || (pod.UID != "" && cur.UID != pod.UID) {
		return
	}
	at := seen
	if tombstone {
		at = time.Time{}
	}
	w.index.DeletePod(pod.Namespace, pod.Name, at)
}

// record appends a change. Callers hold w.mu.
func (w *Watcher) record(t time.Time, spec *kindSpec, m metav1.Object, op Op) {
	w.changes.add(Change{Time: t, Kind: spec.gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: string(m.GetUID()), Op: op})
}

// watchErrorHandler logs why a kind's list or watch failed, with what to
// do about it. client-go retries with backoff.
func (w *Watcher) watchErrorHandler(spec *kindSpec) cache.WatchErrorHandlerWithContext {
	return func(ctx context.Context, _ *cache.Reflector, err error) {
		if ctx.Err() != nil {
			return
		}
		switch {
		case apierrors.IsForbidden(err):
			w.log.Error("the API server forbids listing or watching a kind the inventory needs; grant the watcher's identity list and watch on it",
				"resource", spec.resource, "group", spec.gvk.Group, "error", err)
		case apierrors.IsUnauthorized(err):
			w.log.Error("the API server rejected the watcher's credentials; check the kubeconfig or the service account token",
				"resource", spec.resource, "error", err)
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			w.log.Debug("watch expired; relisting", "resource", spec.resource, "error", err)
		default:
			w.log.Warn("list or watch failed; retrying", "resource", spec.resource, "error", err)
		}
	}
}
