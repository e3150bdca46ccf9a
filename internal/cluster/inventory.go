// Package cluster loads and indexes the cluster inventory: the Kubernetes
// objects (RBAC, workloads, pods, services, network policies, nodes) that
// every analyzer resolves events against.
package cluster

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// Inventory is a snapshot of cluster objects. Slices keep the order objects
// were read in (files in lexical order, documents in file order).
type Inventory struct {
	Namespaces      []corev1.Namespace
	ServiceAccounts []corev1.ServiceAccount
	Nodes           []corev1.Node
	Pods            []corev1.Pod
	Services        []corev1.Service

	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding

	NetworkPolicies []networkingv1.NetworkPolicy

	Deployments  []appsv1.Deployment
	ReplicaSets  []appsv1.ReplicaSet
	StatefulSets []appsv1.StatefulSet
	DaemonSets   []appsv1.DaemonSet
	Jobs         []batchv1.Job
	CronJobs     []batchv1.CronJob

	// Skipped counts documents of kinds the inventory does not keep, by
	// "apiVersion/kind".
	Skipped map[string]int

	// Duplicates counts, by kind, objects that replaced an earlier object
	// with the same kind, namespace and name (for Pods: and UID), e.g. when
	// the same dump is given twice. The later object wins and keeps the
	// earlier one's position.
	Duplicates map[string]int

	// ImplicitNamespaces lists, in first-reference order, the namespaces
	// that objects live in but that no Namespace object in the input
	// describes. Each has a synthesized entry in Namespaces (phase Active,
	// label kubernetes.io/metadata.name); a Namespace object read later
	// replaces it and removes it from this list.
	ImplicitNamespaces []string

	// keys finds an already loaded object by identity; built lazily.
	keys *objectKeys
}
