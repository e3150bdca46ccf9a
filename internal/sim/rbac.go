package sim

import "time"

// obj is a Kubernetes object or part of one, as kubectl prints it: keys are
// written in sorted order (yaml.go).
type obj = map[string]any

// list is a YAML sequence.
type list = []any

func rule(groups, resources, verbs []string) obj {
	return obj{"apiGroups": strs(groups), "resources": strs(resources), "verbs": strs(verbs)}
}

func strs(s []string) list {
	l := make(list, len(s))
	for i, v := range s {
		l[i] = v
	}
	return l
}

func sl(s ...string) []string { return s }

func (w *world) meta(name, ns string, created int64, uid string) obj {
	m := obj{"name": name, "uid": uid, "creationTimestamp": timeVal(created), "resourceVersion": w.rv(created)}
	if ns != "" {
		m["namespace"] = ns
	}
	return m
}

// timeVal is a metav1.Time value for the YAML writer.
type timeVal int64

// rv approximates the cluster's resourceVersion at t: etcd's revision grows
// by a few dozen writes a minute.
func (w *world) rv(t int64) string {
	return itoa((t-w.created)/int64(2*time.Second) + 180)
}

func (w *world) clusterRole(name string, created int64, uid string, rules ...obj) {
	w.clusterRoles = append(w.clusterRoles, obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": w.meta(name, "", created, uid), "rules": toList(rules)})
}

func toList(objs []obj) list {
	l := make(list, len(objs))
	for i, o := range objs {
		l[i] = o
	}
	return l
}

func subject(kind, name, ns string) obj {
	s := obj{"kind": kind, "name": name}
	switch kind {
	case "ServiceAccount":
		s["namespace"] = ns
	default:
		s["apiGroup"] = "rbac.authorization.k8s.io"
	}
	return s
}

func (w *world) crb(name, role string, created int64, uid string, subjects ...obj) {
	w.crbs = append(w.crbs, obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": w.meta(name, "", created, uid),
		"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
		"subjects": toList(subjects)})
}

func (w *world) rb(ns, name, roleKind, role string, created int64, uid string, subjects ...obj) {
	w.roleBindings = append(w.roleBindings, obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
		"metadata": w.meta(name, ns, created, uid),
		"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": roleKind, "name": role},
		"subjects": toList(subjects)})
}

func (w *world) role(ns, name string, created int64, uid string, rules ...obj) {
	w.roles = append(w.roles, obj{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": w.meta(name, ns, created, uid), "rules": toList(rules)})
}

// addRBAC adds the RBAC objects of the add-ons, the people, CI and the
// applications, as real clusters have them: least privilege for some, far
// too much for others.
func (w *world) addRBAC(r *rng) {
	c := w.created
	any3 := sl("get", "list", "watch")
	w.clusterRole("system:coredns", c+int64(4*time.Second), r.uuid(),
		rule(sl(""), sl("endpoints", "services", "pods", "namespaces"), sl("list", "watch")),
		rule(sl("discovery.k8s.io"), sl("endpointslices"), sl("list", "watch")))
	w.crb("system:coredns", "system:coredns", c+int64(4*time.Second), r.uuid(), subject("ServiceAccount", "coredns", "kube-system"))
	w.clusterRole("cilium", c+int64(3*time.Minute), r.uuid(),
		rule(sl("networking.k8s.io"), sl("networkpolicies"), any3),
		rule(sl("discovery.k8s.io"), sl("endpointslices"), any3),
		rule(sl(""), sl("namespaces", "services", "pods", "endpoints", "nodes"), any3),
		rule(sl("cilium.io"), sl("ciliumendpoints", "ciliumidentities", "ciliumnodes", "ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"), sl("get", "list", "watch", "create", "update", "patch", "delete")))
	w.crb("cilium", "cilium", c+int64(3*time.Minute), r.uuid(), subject("ServiceAccount", "cilium", "kube-system"))
	w.clusterRole("cilium-operator", c+int64(3*time.Minute), r.uuid(),
		rule(sl(""), sl("pods"), sl("get", "list", "watch", "delete")),
		rule(sl(""), sl("nodes", "services", "namespaces"), any3),
		rule(sl("cilium.io"), sl("*"), sl("*")),
		rule(sl("coordination.k8s.io"), sl("leases"), sl("create", "get", "update")))
	w.crb("cilium-operator", "cilium-operator", c+int64(3*time.Minute), r.uuid(), subject("ServiceAccount", "cilium-operator", "kube-system"))

	mon := w.prometheus.created
	w.clusterRole("prometheus", mon, r.uuid(),
		rule(sl(""), sl("nodes", "nodes/metrics", "services", "endpoints", "pods"), any3),
		rule(sl("discovery.k8s.io"), sl("endpointslices"), any3),
		obj{"nonResourceURLs": strs(sl("/metrics")), "verbs": strs(sl("get"))})
	w.crb("prometheus", "prometheus", mon, r.uuid(), subject("ServiceAccount", "prometheus", "monitoring"))
	w.clusterRole("ingress-nginx", w.ingress.created, r.uuid(),
		rule(sl(""), sl("configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"), sl("list", "watch")),
		rule(sl(""), sl("services"), any3),
		rule(sl("networking.k8s.io"), sl("ingresses", "ingressclasses"), any3),
		rule(sl("discovery.k8s.io"), sl("endpointslices"), any3))
	w.crb("ingress-nginx", "ingress-nginx", w.ingress.created, r.uuid(), subject("ServiceAccount", "ingress-nginx-controller", "ingress-nginx"))
	w.role("ingress-nginx", "ingress-nginx", w.ingress.created, r.uuid(),
		rule(sl("coordination.k8s.io"), sl("leases"), sl("get", "update", "create")))
	w.rb("ingress-nginx", "ingress-nginx", "Role", "ingress-nginx", w.ingress.created, r.uuid(), subject("ServiceAccount", "ingress-nginx-controller", "ingress-nginx"))
	w.clusterRole("cert-manager-controller-certificates", w.certManager.created, r.uuid(),
		rule(sl("cert-manager.io"), sl("certificates", "certificates/status", "certificaterequests", "issuers", "clusterissuers"), sl("get", "list", "watch", "update", "create", "delete", "patch")),
		rule(sl(""), sl("secrets"), sl("get", "list", "watch", "create", "update", "delete", "patch")))
	w.crb("cert-manager-controller-certificates", "cert-manager-controller-certificates", w.certManager.created, r.uuid(), subject("ServiceAccount", "cert-manager", "cert-manager"))
	w.role("kube-system", "cert-manager:leaderelection", w.certManager.created, r.uuid(),
		rule(sl("coordination.k8s.io"), sl("leases"), sl("get", "create", "update", "patch")))
	w.rb("kube-system", "cert-manager:leaderelection", "Role", "cert-manager:leaderelection", w.certManager.created, r.uuid(), subject("ServiceAccount", "cert-manager", "cert-manager"))

	// The backup operator may read every Secret in the cluster; it reads one.
	w.clusterRole("backup-operator", w.backupOp.created, r.uuid(),
		rule(sl(""), sl("secrets"), sl("get", "list", "watch")),
		rule(sl(""), sl("persistentvolumeclaims"), any3),
		rule(sl("coordination.k8s.io"), sl("leases"), sl("get", "create", "update")))
	w.crb("backup-operator", "backup-operator", w.backupOp.created, r.uuid(), subject("ServiceAccount", "backup-operator", "platform"))

	// CI deploys with a long-lived token of ci/deployer, bound to
	// cluster-admin "to make deployments work".
	w.crb("ci-deployer", "cluster-admin", w.ciDeployer.created, r.uuid(), subject("ServiceAccount", "deployer", "ci"))
	w.crb("kubeadm:cluster-admins", "cluster-admin", c, r.uuid(), subject("Group", "kubeadm:cluster-admins", ""))
	w.crb("sre-admins", "cluster-admin", w.day(2), r.uuid(), subject("Group", "sre", ""))
	w.crb("auditors-view", "view", w.day(30), r.uuid(), subject("Group", "auditors", ""))

	for i, ns := range w.apps {
		api := ns.api
		subj := saSubj(ns.name, api.sa.name)
		if i%4 == 0 {
			// Over-provisioned: edit on the whole namespace, for an
			// application that reads one ConfigMap.
			w.rb(ns.name, api.name+"-edit", "ClusterRole", "edit", api.created, r.uuid(), subject("ServiceAccount", api.sa.name, ns.name))
			api.apiReason = rbReason(api.name+"-edit", ns.name, "ClusterRole", "edit", subj)
			api.overGranted = true
		} else {
			w.role(ns.name, api.name+"-config", api.created, r.uuid(),
				obj{"apiGroups": strs(sl("")), "resources": strs(sl("configmaps")), "resourceNames": strs(sl(api.configMap)), "verbs": strs(sl("get", "watch"))})
			w.rb(ns.name, api.name+"-config", "Role", api.name+"-config", api.created, r.uuid(), subject("ServiceAccount", api.sa.name, ns.name))
			api.apiReason = rbReason(api.name+"-config", ns.name, "Role", api.name+"-config", subj)
		}
	}
	for _, p := range w.people {
		for _, ns := range p.namespaces {
			name := "dev-" + userShort(p.name) + "-edit"
			if w.hasRoleBinding(ns.name, name) {
				continue
			}
			w.rb(ns.name, name, "ClusterRole", "edit", ns.created+int64(time.Hour), r.uuid(), subject("User", p.name, ""))
		}
	}
}

func (w *world) hasRoleBinding(ns, name string) bool {
	for _, b := range w.roleBindings {
		m := b["metadata"].(obj)
		if m["namespace"] == ns && m["name"] == name {
			return true
		}
	}
	return false
}

func userShort(email string) string {
	for i := 0; i < len(email); i++ {
		if email[i] == '@' {
			return email[:i]
		}
	}
	return email
}

// devReason is the authorization reason of a person's request in ns.
func (p *person) reasonIn(ns string) string {
	if p.reason != "" {
		return p.reason
	}
	return rbReason("dev-"+userShort(p.name)+"-edit", ns, "ClusterRole", "edit", userSubj(p.name))
}

// addNetworkPolicies gives every third application namespace a default
// deny of ingress, with traffic allowed inside the namespace, from the
// ingress controller to the web front end, and from Prometheus to the
// metrics port.
func (w *world) addNetworkPolicies() {
	r := newRNG(w.cfg.Seed, "netpol")
	for _, ns := range w.apps {
		if !ns.netpol {
			continue
		}
		t := ns.created + int64(6*time.Hour)
		np := func(name string, spec obj) {
			w.netpols = append(w.netpols, obj{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
				"metadata": w.meta(name, ns.name, t, r.uuid()), "spec": spec})
		}
		nsSel := func(name string) obj {
			return obj{"namespaceSelector": obj{"matchLabels": obj{"kubernetes.io/metadata.name": name}}}
		}
		np("default-deny-ingress", obj{"podSelector": obj{}, "policyTypes": strs(sl("Ingress"))})
		np("allow-same-namespace", obj{"podSelector": obj{}, "ingress": list{obj{"from": list{obj{"podSelector": obj{}}}}}, "policyTypes": strs(sl("Ingress"))})
		np("allow-ingress-controller", obj{"podSelector": obj{"matchLabels": obj{"app": ns.web.name}},
			"ingress":     list{obj{"from": list{nsSel("ingress-nginx")}, "ports": list{obj{"port": 8080, "protocol": "TCP"}}}},
			"policyTypes": strs(sl("Ingress"))})
		prom := nsSel("monitoring")
		prom["podSelector"] = obj{"matchLabels": obj{"app": "prometheus"}}
		np("allow-prometheus-scrape", obj{"podSelector": obj{},
			"ingress":     list{obj{"from": list{prom}, "ports": list{obj{"port": 9090, "protocol": "TCP"}}}},
			"policyTypes": strs(sl("Ingress"))})
	}
}

// allowed evaluates the policies addNetworkPolicies writes for a connection
// from src (nil: outside the cluster) to dst on port, with the policy that
// admits it ("" when none applies or it is denied).
func allowed(src, dst *pod, port int) (ok bool, policy string) {
	ns := dst.w.ns
	if !ns.netpol {
		return true, ""
	}
	switch {
	case src == nil:
		return false, ""
	case src.w.ns == ns:
		return true, "allow-same-namespace"
	case src.w.role == roleIngress && dst.w == ns.web && port == 8080:
		return true, "allow-ingress-controller"
	case src.w.name == "prometheus" && src.w.ns.name == "monitoring" && port == 9090:
		return true, "allow-prometheus-scrape"
	}
	return false, ""
}
