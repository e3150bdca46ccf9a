package cluster

import (
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// typedObject is the pointer type of a k8s.io/api object with its TypeMeta.
type typedObject[T any] interface {
	object[T]
	SetGroupVersionKind(schema.GroupVersionKind)
}

// kindHandler decodes one object of a kept kind (as JSON) and returns the
// step that inserts it into an inventory. Decoding touches no shared state,
// so handlers run concurrently; the insert steps run in input order.
type kindHandler func(data []byte) (add func(*Inventory), err error)

// handlerFor returns the handler for the kinds the inventory keeps, at the
// apiVersion it keeps them at. Older versions (extensions/v1beta1,
// rbac.authorization.k8s.io/v1beta1, batch/v1beta1) are not converted.
func handlerFor(apiVersion, kind string) (kindHandler, bool) {
	switch apiVersion {
	case "v1":
		switch kind {
		case "Namespace":
			return decodeNamespace, true
		case "ServiceAccount":
			return keep[corev1.ServiceAccount](kind, "", true, func(i *Inventory) *[]corev1.ServiceAccount { return &i.ServiceAccounts }), true
		case "Node":
			return keep[corev1.Node](kind, "", false, func(i *Inventory) *[]corev1.Node { return &i.Nodes }), true
		case "Pod":
			return keep[corev1.Pod](kind, "", true, func(i *Inventory) *[]corev1.Pod { return &i.Pods }), true
		case "Service":
			return keep[corev1.Service](kind, "", true, func(i *Inventory) *[]corev1.Service { return &i.Services }), true
		}
	case rbacv1.SchemeGroupVersion.String():
		switch kind {
		case "Role":
			return keep[rbacv1.Role](kind, rbacv1.GroupName, true, func(i *Inventory) *[]rbacv1.Role { return &i.Roles }), true
		case "ClusterRole":
			return keep[rbacv1.ClusterRole](kind, rbacv1.GroupName, false, func(i *Inventory) *[]rbacv1.ClusterRole { return &i.ClusterRoles }), true
		case "RoleBinding":
			return keep[rbacv1.RoleBinding](kind, rbacv1.GroupName, true, func(i *Inventory) *[]rbacv1.RoleBinding { return &i.RoleBindings }), true
		case "ClusterRoleBinding":
			return keep[rbacv1.ClusterRoleBinding](kind, rbacv1.GroupName, false, func(i *Inventory) *[]rbacv1.ClusterRoleBinding { return &i.ClusterRoleBindings }), true
		}
	case networkingv1.SchemeGroupVersion.String():
		if kind == "NetworkPolicy" {
			return keep[networkingv1.NetworkPolicy](kind, networkingv1.GroupName, true, func(i *Inventory) *[]networkingv1.NetworkPolicy { return &i.NetworkPolicies }), true
		}
	case appsv1.SchemeGroupVersion.String():
		switch kind {
		case "Deployment":
			return keep[appsv1.Deployment](kind, appsv1.GroupName, true, func(i *Inventory) *[]appsv1.Deployment { return &i.Deployments }), true
		case "ReplicaSet":
			return keep[appsv1.ReplicaSet](kind, appsv1.GroupName, true, func(i *Inventory) *[]appsv1.ReplicaSet { return &i.ReplicaSets }), true
		case "StatefulSet":
			return keep[appsv1.StatefulSet](kind, appsv1.GroupName, true, func(i *Inventory) *[]appsv1.StatefulSet { return &i.StatefulSets }), true
		case "DaemonSet":
			return keep[appsv1.DaemonSet](kind, appsv1.GroupName, true, func(i *Inventory) *[]appsv1.DaemonSet { return &i.DaemonSets }), true
		}
	case batchv1.SchemeGroupVersion.String():
		switch kind {
		case "Job":
			return keep[batchv1.Job](kind, batchv1.GroupName, true, func(i *Inventory) *[]batchv1.Job { return &i.Jobs }), true
		case "CronJob":
			return keep[batchv1.CronJob](kind, batchv1.GroupName, true, func(i *Inventory) *[]batchv1.CronJob { return &i.CronJobs }), true
		}
	}
	return nil, false
}

// keptKind reports whether the inventory keeps kind at some apiVersion, so
// that a known kind at an unknown apiVersion can be told apart from a kind
// the inventory does not care about.
func keptKind(kind string) bool {
	switch kind {
	case "Namespace", "ServiceAccount", "Node", "Pod", "Service",
		"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
		"NetworkPolicy",
		"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
		"Job", "CronJob":
		return true
	}
	return false
}

// keep builds the handler of one kind: decode leniently (unknown fields are
// ignored, wrong types are errors), require a name, set the canonical
// TypeMeta (List items may omit it), and insert.
func keep[T any, P typedObject[T]](kind, group string, namespaced bool, slice func(*Inventory) *[]T) kindHandler {
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: kind}
	return func(data []byte) (func(*Inventory), error) {
		obj := new(T)
		if err := json.Unmarshal(data, obj); err != nil {
			return nil, decodeError(err)
		}
		p := P(obj)
		if p.GetName() == "" {
			return nil, ErrNoName
		}
		p.SetGroupVersionKind(gvk)
		return func(inv *Inventory) {
			addObject[T, P](inv, kind, namespaced, slice(inv), *obj)
		}, nil
	}
}

func decodeNamespace(data []byte) (func(*Inventory), error) {
	ns := new(corev1.Namespace)
	if err := json.Unmarshal(data, ns); err != nil {
		return nil, decodeError(err)
	}
	if ns.Name == "" {
		return nil, ErrNoName
	}
	ns.APIVersion, ns.Kind = "v1", "Namespace"
	return func(inv *Inventory) { inv.addNamespace(*ns) }, nil
}
