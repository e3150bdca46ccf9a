package main

import "time"

// The cluster's own RBAC objects: the add-ons' (CoreDNS as kubeadm installs
// it, Cilium as its Helm chart does) and the teams'. The Kubernetes defaults
// are in examples/cluster/00-default-*.yaml, copied from upstream.

const rbacAPI = "rbac.authorization.k8s.io/v1"

// rule builds a PolicyRule: groups, resources and verbs are lists;
// names is optional.
func rule(groups, resources, verbs []string, names ...string) obj {
	o := obj{"apiGroups": groups, "resources": resources, "verbs": verbs}
	if len(names) > 0 {
		o["resourceNames"] = names
	}
	return o
}

func nonResource(urls, verbs []string) obj { return obj{"nonResourceURLs": urls, "verbs": verbs} }

func s(v ...string) []string { return v }

type rbacObj struct {
	kind, ns, name string
	created        time.Time
	labels         map[string]string
	rules          list
	roleKind       string // bindings: ClusterRole or Role
	role           string
	subjects       list
}

func saSubject(ns, name string) obj {
	return obj{"kind": "ServiceAccount", "name": name, "namespace": ns}
}
func userSubject(name string) obj {
	return obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}
}
func groupSubject(name string) obj {
	return obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}
}

func (o rbacObj) object(m *model, r *rng, rv rvSource) obj {
	md := meta(o.name, o.ns, o.created, r.uuid(), rv.at(o.created))
	if o.labels != nil {
		md["labels"] = strMap(o.labels)
	}
	out := obj{"apiVersion": rbacAPI, "kind": o.kind, "metadata": md}
	switch o.kind {
	case "Role", "ClusterRole":
		out["rules"] = o.rules
	default:
		out["roleRef"] = obj{"apiGroup": "rbac.authorization.k8s.io", "kind": o.roleKind, "name": o.role}
		out["subjects"] = o.subjects
	}
	return out
}

// addonRBAC is what kubeadm (for CoreDNS) and the Cilium chart install.
func addonRBAC(m *model) []rbacObj {
	kubeadm := m.created.Add(4 * time.Second)
	cilium := at("2026-03-02T09:16:40Z")
	ciliumLabels := map[string]string{"app.kubernetes.io/part-of": "cilium", "app.kubernetes.io/managed-by": "Helm"}
	core := s("")
	return []rbacObj{
		{kind: "ClusterRole", name: "system:coredns", created: kubeadm, rules: list{
			rule(core, s("endpoints", "services", "pods", "namespaces"), s("list", "watch")),
			rule(s("discovery.k8s.io"), s("endpointslices"), s("list", "watch")),
		}},
		{kind: "ClusterRoleBinding", name: "system:coredns", created: kubeadm, roleKind: "ClusterRole", role: "system:coredns",
			subjects: list{saSubject("kube-system", "coredns")}},
		{kind: "ClusterRole", name: "cilium", created: cilium, labels: ciliumLabels, rules: list{
			rule(s("networking.k8s.io"), s("networkpolicies"), s("get", "list", "watch")),
			rule(s("discovery.k8s.io"), s("endpointslices"), s("get", "list", "watch")),
			rule(core, s("namespaces", "services", "pods", "endpoints", "nodes"), s("get", "list", "watch")),
			rule(s("apiextensions.k8s.io"), s("customresourcedefinitions"), s("list", "watch", "get")),
			rule(s("cilium.io"), s("ciliumloadbalancerippools", "ciliumbgppeeringpolicies", "ciliumbgpnodeconfigs",
				"ciliumbgpadvertisements", "ciliumbgppeerconfigs", "ciliumclusterwideenvoyconfigs",
				"ciliumclusterwidenetworkpolicies", "ciliumegressgatewaypolicies", "ciliumendpoints",
				"ciliumendpointslices", "ciliumenvoyconfigs", "ciliumidentities", "ciliumlocalredirectpolicies",
				"ciliumnetworkpolicies", "ciliumnodes", "ciliumnodeconfigs", "ciliumcidrgroups",
				"ciliuml2announcementpolicies", "ciliumpodippools"), s("list", "watch")),
			rule(s("cilium.io"), s("ciliumidentities", "ciliumendpoints", "ciliumnodes"), s("create")),
			rule(s("cilium.io"), s("ciliumidentities"), s("update")),
			rule(s("cilium.io"), s("ciliumendpoints"), s("delete", "get")),
			rule(s("cilium.io"), s("ciliumnodes", "ciliumnodes/status"), s("get", "update")),
			rule(s("cilium.io"), s("ciliumendpoints", "ciliuml2announcementpolicies/status", "ciliumbgpnodeconfigs/status"), s("patch")),
		}},
		{kind: "ClusterRoleBinding", name: "cilium", created: cilium, labels: ciliumLabels, roleKind: "ClusterRole", role: "cilium",
			subjects: list{saSubject("kube-system", "cilium")}},
		{kind: "ClusterRole", name: "cilium-operator", created: cilium, labels: ciliumLabels, rules: list{
			rule(core, s("pods"), s("get", "list", "watch", "delete")),
			rule(core, s("configmaps"), s("patch"), "cilium-config"),
			rule(core, s("nodes"), s("list", "watch")),
			rule(core, s("nodes", "nodes/status"), s("patch")),
			rule(s("discovery.k8s.io"), s("endpointslices"), s("get", "list", "watch")),
			rule(core, s("services/status"), s("update", "patch")),
			rule(core, s("namespaces"), s("get", "list", "watch")),
			rule(core, s("services", "endpoints"), s("get", "list", "watch")),
			rule(s("cilium.io"), s("ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"), s("create", "update", "deletecollection", "patch", "get", "list", "watch")),
			rule(s("cilium.io"), s("ciliumnetworkpolicies/status", "ciliumclusterwidenetworkpolicies/status"), s("patch", "update")),
			rule(s("cilium.io"), s("ciliumendpoints", "ciliumidentities"), s("delete", "list", "watch")),
			rule(s("cilium.io"), s("ciliumidentities"), s("update")),
			rule(s("cilium.io"), s("ciliumnodes"), s("create", "update", "get", "list", "watch", "delete")),
			rule(s("cilium.io"), s("ciliumnodes/status"), s("update")),
			rule(s("cilium.io"), s("ciliumendpointslices", "ciliumenvoyconfigs", "ciliumbgppeerconfigs", "ciliumbgpadvertisements", "ciliumbgpnodeconfigs"), s("create", "update", "get", "list", "watch", "delete", "patch")),
			rule(s("apiextensions.k8s.io"), s("customresourcedefinitions"), s("create", "get", "list", "watch")),
			rule(s("coordination.k8s.io"), s("leases"), s("create", "get", "update")),
		}},
		{kind: "ClusterRoleBinding", name: "cilium-operator", created: cilium, labels: ciliumLabels, roleKind: "ClusterRole", role: "cilium-operator",
			subjects: list{saSubject("kube-system", "cilium-operator")}},
	}
}

// storyRBAC is what the teams granted, over-provisioned the way real
// clusters are (see examples/README.md for who uses what).
func storyRBAC() []rbacObj {
	core := s("")
	return []rbacObj{
		// The CI pipeline's account: cluster-admin "to get deploys working".
		{kind: "ClusterRoleBinding", name: "ci-deployer", created: at("2026-04-14T10:35:47Z"), roleKind: "ClusterRole", role: "cluster-admin",
			subjects: list{saSubject("ci", "deployer")}},
		// The storefront reads its config; it was given the whole of edit.
		{kind: "RoleBinding", ns: "shop", name: "web-edit", created: at("2026-03-04T13:05:12Z"), roleKind: "ClusterRole", role: "edit",
			subjects: list{saSubject("shop", "web")}},
		// The storefront developers.
		{kind: "RoleBinding", ns: "shop", name: "devs-edit", created: at("2026-03-06T09:40:00Z"), roleKind: "ClusterRole", role: "edit",
			subjects: list{groupSubject("devs")}},
		// Prometheus service discovery, plus a secrets permission nobody remembers adding.
		{kind: "ClusterRole", name: "prometheus", created: at("2026-03-05T08:47:31Z"), labels: map[string]string{"app": "prometheus"}, rules: list{
			rule(core, s("nodes", "pods", "services", "endpoints"), s("list", "watch")),
			rule(s("discovery.k8s.io"), s("endpointslices"), s("list", "watch")),
			rule(core, s("secrets"), s("list")),
			nonResource(s("/metrics"), s("get")),
		}},
		{kind: "ClusterRoleBinding", name: "prometheus", created: at("2026-03-05T08:47:31Z"), labels: map[string]string{"app": "prometheus"},
			roleKind: "ClusterRole", role: "prometheus", subjects: list{saSubject("monitoring", "prometheus")}},
		// The backup operator reads one secret in its own namespace; it may read every secret in the cluster.
		{kind: "ClusterRole", name: "secret-reader", created: at("2026-05-19T15:22:08Z"), rules: list{
			rule(core, s("secrets"), s("get", "list", "watch")),
		}},
		{kind: "ClusterRoleBinding", name: "backup-operator-secrets", created: at("2026-05-19T15:22:08Z"), roleKind: "ClusterRole", role: "secret-reader",
			subjects: list{saSubject("data", "backup-operator")}},
		// People.
		{kind: "ClusterRoleBinding", name: "bob-view", created: at("2026-06-02T08:15:33Z"), roleKind: "ClusterRole", role: "view",
			subjects: list{userSubject("bob")}},
		{kind: "RoleBinding", ns: "data", name: "carol-admin", created: at("2026-03-04T14:20:19Z"), roleKind: "ClusterRole", role: "admin",
			subjects: list{userSubject("carol")}},
		// The pipeline the deployer replaced; never cleaned up.
		{kind: "Role", ns: "ci", name: "pipeline", created: at("2026-04-14T10:33:02Z"), rules: list{
			rule(s("batch"), s("jobs"), s("create", "delete", "get", "list", "watch")),
			rule(core, s("pods"), s("get", "list", "watch")),
			rule(core, s("pods/log"), s("get")),
			rule(core, s("configmaps"), s("get", "list", "create", "update")),
		}},
		{kind: "RoleBinding", ns: "ci", name: "old-pipeline", created: at("2026-04-14T10:33:02Z"), roleKind: "Role", role: "pipeline",
			subjects: list{saSubject("ci", "old-pipeline")}},
	}
}

// networkPolicies: data denies ingress by default and admits the shop, cart
// to redis by named port, and Prometheus' scrapes; monitoring limits
// Prometheus' egress; shop and the rest have none (everything allowed).
func networkPolicies() []obj {
	nsSel := func(ns string) obj {
		return obj{"matchLabels": obj{"kubernetes.io/metadata.name": ns}}
	}
	pol := func(ns, name string, created string, spec obj) obj {
		return obj{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
			"metadata": obj{"name": name, "namespace": ns, "creationTimestamp": created}, "spec": spec}
	}
	tcp := func(p any) obj { return obj{"port": p, "protocol": "TCP"} }
	return []obj{
		pol("data", "default-deny-ingress", "2026-03-04T13:10:02Z", obj{
			"podSelector": obj{}, "policyTypes": list{"Ingress"}}),
		pol("data", "allow-shop-to-postgres", "2026-03-04T13:10:02Z", obj{
			"podSelector": obj{"matchLabels": obj{"app": "postgres"}}, "policyTypes": list{"Ingress"},
			"ingress": list{obj{"from": list{obj{"namespaceSelector": nsSel("shop")}}, "ports": list{tcp(5432)}}}}),
		pol("data", "allow-cart-to-redis", "2026-03-04T13:10:03Z", obj{
			"podSelector": obj{"matchLabels": obj{"app": "redis"}}, "policyTypes": list{"Ingress"},
			"ingress": list{obj{"from": list{obj{"namespaceSelector": nsSel("shop"), "podSelector": obj{"matchLabels": obj{"app": "cart"}}}},
				"ports": list{tcp("redis")}}}}),
		pol("data", "allow-prometheus-scrape", "2026-03-05T09:02:45Z", obj{
			"podSelector": obj{}, "policyTypes": list{"Ingress"},
			"ingress": list{obj{"from": list{obj{"namespaceSelector": nsSel("monitoring"), "podSelector": obj{"matchLabels": obj{"app": "prometheus"}}}},
				"ports": list{tcp("metrics")}}}}),
		pol("monitoring", "prometheus-egress", "2026-03-05T09:02:45Z", obj{
			"podSelector": obj{"matchLabels": obj{"app": "prometheus"}}, "policyTypes": list{"Egress"},
			"egress": list{
				obj{"to": list{obj{"namespaceSelector": obj{}}}, "ports": list{tcp("metrics")}},
				obj{"to": list{obj{"namespaceSelector": nsSel("kube-system"), "podSelector": obj{"matchLabels": obj{"k8s-app": "kube-dns"}}}},
					"ports": list{obj{"port": 53, "protocol": "UDP"}, tcp(53)}},
				obj{"to": list{obj{"ipBlock": obj{"cidr": apiServerIP + "/32"}}}, "ports": list{tcp(apiServerPort)}},
			}}),
	}
}
