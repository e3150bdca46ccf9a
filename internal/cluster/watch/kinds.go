package watch

import (
	"maps"
	"reflect"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

// kindSpec describes one watched kind.
type kindSpec struct {
	slot     int // position in store.objects
	gvk      schema.GroupVersionKind
	resource string // plural, as in RBAC rules: "pods"
	goType   reflect.Type
	informer func(factory) informer
	// rebuild: changes call OnChange (the server derives its RBAC
	// authorizer and policy engine from these kinds).
	rebuild bool
	// significant reports whether an update changed something the
	// analyzers use; nil means any change (a new resourceVersion) does.
	// Kinds with a busy status (pods, nodes, controllers) use it so that
	// status churn does not flood Changes.
	significant func(old, cur metav1.Object) bool
	// fill copies the stored objects of this kind, sorted, into inv.
	fill func(inv *cluster.Inventory, objs map[objKey]any)
}

// factory and informer shorten the kind table.
type (
	factory  = informers.SharedInformerFactory
	informer = cache.SharedIndexInformer
)

// kindSpecs lists the inventory's kinds, in the order Snapshot documents
// them; rebuild marks the kinds OnChange reports. Secrets are deliberately
// absent: their values must never reach kubedelta.
func kindSpecs() []*kindSpec {
	specs := []*kindSpec{
		spec[corev1.Namespace]("", "Namespace", "namespaces", true, nil,
			func(f factory) informer { return f.Core().V1().Namespaces().Informer() },
			func(i *cluster.Inventory) *[]corev1.Namespace { return &i.Namespaces }),
		spec[corev1.ServiceAccount]("", "ServiceAccount", "serviceaccounts", false, nil,
			func(f factory) informer { return f.Core().V1().ServiceAccounts().Informer() },
			func(i *cluster.Inventory) *[]corev1.ServiceAccount { return &i.ServiceAccounts }),
		spec[corev1.Node]("", "Node", "nodes", false, nodeChanged,
			func(f factory) informer { return f.Core().V1().Nodes().Informer() },
			func(i *cluster.Inventory) *[]corev1.Node { return &i.Nodes }),
		spec[corev1.Pod]("", "Pod", "pods", false, podChanged,
			func(f factory) informer { return f.Core().V1().Pods().Informer() },
			func(i *cluster.Inventory) *[]corev1.Pod { return &i.Pods }),
		spec[corev1.Service]("", "Service", "services", false, nil,
			func(f factory) informer { return f.Core().V1().Services().Informer() },
			func(i *cluster.Inventory) *[]corev1.Service { return &i.Services }),
		spec[rbacv1.Role](rbacv1.GroupName, "Role", "roles", true, nil,
			func(f factory) informer { return f.Rbac().V1().Roles().Informer() },
			func(i *cluster.Inventory) *[]rbacv1.Role { return &i.Roles }),
		spec[rbacv1.ClusterRole](rbacv1.GroupName, "ClusterRole", "clusterroles", true, nil,
			func(f factory) informer { return f.Rbac().V1().ClusterRoles().Informer() },
			func(i *cluster.Inventory) *[]rbacv1.ClusterRole { return &i.ClusterRoles }),
		spec[rbacv1.RoleBinding](rbacv1.GroupName, "RoleBinding", "rolebindings", true, nil,
			func(f factory) informer { return f.Rbac().V1().RoleBindings().Informer() },
			func(i *cluster.Inventory) *[]rbacv1.RoleBinding { return &i.RoleBindings }),
		spec[rbacv1.ClusterRoleBinding](rbacv1.GroupName, "ClusterRoleBinding", "clusterrolebindings", true, nil,
			func(f factory) informer { return f.Rbac().V1().ClusterRoleBindings().Informer() },
			func(i *cluster.Inventory) *[]rbacv1.ClusterRoleBinding { return &i.ClusterRoleBindings }),
		spec[networkingv1.NetworkPolicy](networkingv1.GroupName, "NetworkPolicy", "networkpolicies", true, nil,
			func(f factory) informer { return f.Networking().V1().NetworkPolicies().Informer() },
			func(i *cluster.Inventory) *[]networkingv1.NetworkPolicy { return &i.NetworkPolicies }),
		spec[appsv1.Deployment](appsv1.GroupName, "Deployment", "deployments", false, specChanged,
			func(f factory) informer { return f.Apps().V1().Deployments().Informer() },
			func(i *cluster.Inventory) *[]appsv1.Deployment { return &i.Deployments }),
		spec[appsv1.ReplicaSet](appsv1.GroupName, "ReplicaSet", "replicasets", false, specChanged,
			func(f factory) informer { return f.Apps().V1().ReplicaSets().Informer() },
			func(i *cluster.Inventory) *[]appsv1.ReplicaSet { return &i.ReplicaSets }),
		spec[appsv1.StatefulSet](appsv1.GroupName, "StatefulSet", "statefulsets", false, specChanged,
			func(f factory) informer { return f.Apps().V1().StatefulSets().Informer() },
			func(i *cluster.Inventory) *[]appsv1.StatefulSet { return &i.StatefulSets }),
		spec[appsv1.DaemonSet](appsv1.GroupName, "DaemonSet", "daemonsets", false, specChanged,
			func(f factory) informer { return f.Apps().V1().DaemonSets().Informer() },
			func(i *cluster.Inventory) *[]appsv1.DaemonSet { return &i.DaemonSets }),
		spec[batchv1.Job](batchv1.GroupName, "Job", "jobs", false, specChanged,
			func(f factory) informer { return f.Batch().V1().Jobs().Informer() },
			func(i *cluster.Inventory) *[]batchv1.Job { return &i.Jobs }),
		spec[batchv1.CronJob](batchv1.GroupName, "CronJob", "cronjobs", false, specChanged,
			func(f factory) informer { return f.Batch().V1().CronJobs().Informer() },
			func(i *cluster.Inventory) *[]batchv1.CronJob { return &i.CronJobs }),
	}
	for i, s := range specs {
		s.slot = i
	}
	return specs
}

// spec builds the kindSpec of the API type T.
func spec[T any, P interface {
	*T
	metav1.Object
}](group, kind, resource string, rebuild bool, significant func(old, cur metav1.Object) bool,
	inf func(factory) informer, slice func(*cluster.Inventory) *[]T) *kindSpec {
	return &kindSpec{
		gvk:         schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind},
		resource:    resource,
		goType:      reflect.TypeFor[*T](),
		informer:    inf,
		rebuild:     rebuild,
		significant: significant,
		fill: func(inv *cluster.Inventory, objs map[objKey]any) {
			keys := slices.SortedFunc(maps.Keys(objs), compareKeys)
			out := make([]T, 0, len(keys))
			for _, k := range keys {
				if p, ok := objs[k].(P); ok {
					out = append(out, *p)
				}
			}
			*slice(inv) = out
		},
	}
}

// Resources returns the API resources the watcher lists and watches, as
// RBAC rules name them: the rules its identity needs (verbs list and
// watch, nothing else).
func Resources() []schema.GroupResource {
	specs := kindSpecs()
	out := make([]schema.GroupResource, len(specs))
	for i, s := range specs {
		out[i] = schema.GroupResource{Group: s.gvk.Group, Resource: s.resource}
	}
	return out
}

// typeMetaSetter sets each watched type's apiVersion and kind, which the
// API server leaves empty in the items of a typed list or watch but which
// the analyzers (and Snapshot's readers) expect, as in a dump.
type typeMetaSetter map[reflect.Type]schema.GroupVersionKind

func newTypeMetaSetter(specs []*kindSpec) typeMetaSetter {
	m := make(typeMetaSetter, len(specs))
	for _, s := range specs {
		m[s.goType] = s.gvk
	}
	return m
}

// lastApplied is the annotation `kubectl apply` stores the whole previous
// manifest in.
const lastApplied = corev1.LastAppliedConfigAnnotation

// transform prepares an object for the cache: managedFields and the
// last-applied annotation removed, TypeMeta set. client-go calls it before
// storing, on a freshly decoded object it may change in place; it is
// idempotent. Anything else (a tombstone) passes unchanged.
func (s typeMetaSetter) transform(obj any) (any, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	m.SetManagedFields(nil)
	if ann := m.GetAnnotations(); ann != nil {
		if _, ok := ann[lastApplied]; ok {
			delete(ann, lastApplied)
			if len(ann) == 0 {
				m.SetAnnotations(nil)
			}
		}
	}
	if ro, ok := obj.(runtime.Object); ok {
		if gvk, ok := s[reflect.TypeOf(obj)]; ok {
			ro.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
	return obj, nil
}

// podChanged: what identity resolution and the detectors use changed
// (addresses, phase, node, labels, owners, deletion, spec generation), not
// the conditions and container statuses the kubelet keeps updating.
func podChanged(old, cur metav1.Object) bool {
	o, c := old.(*corev1.Pod), cur.(*corev1.Pod)
	return metaChanged(old, cur) ||
		o.Status.Phase != c.Status.Phase ||
		o.Status.PodIP != c.Status.PodIP ||
		!slices.Equal(o.Status.PodIPs, c.Status.PodIPs) ||
		o.Spec.NodeName != c.Spec.NodeName
}

// nodeChanged: labels, addresses, taints or schedulability changed, not the
// heartbeats.
func nodeChanged(old, cur metav1.Object) bool {
	o, c := old.(*corev1.Node), cur.(*corev1.Node)
	return metaChanged(old, cur) ||
		!slices.Equal(o.Status.Addresses, c.Status.Addresses) ||
		o.Spec.Unschedulable != c.Spec.Unschedulable ||
		!slices.EqualFunc(o.Spec.Taints, c.Spec.Taints, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value })
}

// specChanged: a controller's spec (its generation), labels, annotations,
// owners or deletion changed, not its status counters.
func specChanged(old, cur metav1.Object) bool { return metaChanged(old, cur) }

// metaChanged compares the metadata every kind's significance includes.
// Node heartbeats touch no annotation, and a Deployment's revision
// annotation changes once per rollout, so annotations count.
func metaChanged(old, cur metav1.Object) bool {
	return old.GetGeneration() != cur.GetGeneration() ||
		old.GetUID() != cur.GetUID() ||
		(old.GetDeletionTimestamp() == nil) != (cur.GetDeletionTimestamp() == nil) ||
		!maps.Equal(old.GetLabels(), cur.GetLabels()) ||
		!maps.Equal(old.GetAnnotations(), cur.GetAnnotations()) ||
		!slices.EqualFunc(old.GetOwnerReferences(), cur.GetOwnerReferences(), ownerRefEqual)
}

func ownerRefEqual(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.Kind == b.Kind && a.Name == b.Name
}
