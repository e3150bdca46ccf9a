package rbac

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Risk is one catalogue entry a rule grants.
type Risk struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Reason says what in the rule grants it, e.g.
	// `allows "list" on secrets cluster-wide`.
	Reason string `json:"reason"`
}

// RiskDef documents a catalogue entry.
type RiskDef struct {
	ID string `json:"id"`
	// What the permission is, e.g. "list or watch secrets".
	What string `json:"what"`
	// Why it matters, one line.
	Why string `json:"why"`
	// Severity when granted cluster-wide (ClusterRoleBinding) or in kube-system.
	Severity Severity `json:"severity"`
	// NamespacedSeverity when granted by a RoleBinding in another namespace.
	// Unused when ClusterScoped.
	NamespacedSeverity Severity `json:"namespacedSeverity"`
	// ClusterScoped entries concern cluster-scoped objects (nodes, webhooks,
	// impersonated users...): a RoleBinding cannot grant them.
	ClusterScoped bool `json:"clusterScoped,omitempty"`
	// Namespaces, when set, limits the entry to grants in these namespaces
	// ("" = cluster-wide).
	Namespaces []string `json:"namespaces,omitempty"`

	probes []probe
	// structural, when set, replaces probes: a property of the rule itself.
	structural func(rbacv1.PolicyRule) (string, bool)
}

// probe is a set of requests; the entry is granted when the rule allows any.
type probe struct {
	verbs     []string
	group     string
	resources []string // "res" or "res/sub"; "res/*" means any subresource the rule names
}

// kubeSystem is where control-plane credentials and configuration live;
// namespaced grants there are rated like cluster-wide ones.
const kubeSystem = "kube-system"

func withVerbs(ps []probe, verbs []string) []probe {
	out := make([]probe, len(ps))
	for i, p := range ps {
		p.verbs = verbs
		out[i] = p
	}
	return out
}

func mkProbe(group string, verbs []string, resources ...string) probe {
	return probe{verbs: verbs, group: group, resources: resources}
}

func vs(verbs ...string) []string { return verbs }

// catalogue builds the catalogue afresh, so that Catalogue's callers cannot
// change what RulesRisks uses.
func catalogue() []RiskDef {
	writeVerbs := []string{"create", "update", "patch"}
	updateVerbs := []string{"update", "patch"}
	// controllers that create pods
	workloads := []probe{
		{group: "", resources: []string{"replicationcontrollers"}},
		{group: "apps", resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}},
		{group: "extensions", resources: []string{"deployments", "replicasets", "daemonsets"}},
		{group: "batch", resources: []string{"jobs", "cronjobs"}},
	}

	return []RiskDef{
		{ID: "wildcard-all", What: `verbs, apiGroups and resources all "*"`, Why: "equivalent to cluster-admin where bound, including every future resource", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			structural: func(r rbacv1.PolicyRule) (string, bool) {
				return `verbs, apiGroups and resources are all "*"`, slices.Contains(r.Verbs, "*") && slices.Contains(r.APIGroups, "*") && slices.Contains(r.Resources, "*")
			}},
		{ID: "wildcard-verbs", What: `verbs "*" on resources`, Why: "grants every verb, including escalate, bind, impersonate and verbs added later", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			structural: func(r rbacv1.PolicyRule) (string, bool) {
				return `verbs "*"`, len(r.Resources) > 0 && slices.Contains(r.Verbs, "*")
			}},
		{ID: "wildcard-resources", What: `resources "*"`, Why: "grants every resource of the groups, secrets and subresources such as pods/exec included, and resources added later", Severity: SeverityHigh, NamespacedSeverity: SeverityMedium,
			structural: func(r rbacv1.PolicyRule) (string, bool) { return `resources "*"`, slices.Contains(r.Resources, "*") }},
		{ID: "wildcard-apigroups", What: `apiGroups "*"`, Why: "grants the resources in every API group, including custom resources installed later", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			structural: func(r rbacv1.PolicyRule) (string, bool) {
				return `apiGroups "*"`, len(r.Resources) > 0 && slices.Contains(r.APIGroups, "*")
			}},
		{ID: "nonresource-wildcard", What: `nonResourceURLs "*"`, Why: "reaches every non-resource endpoint, /debug/pprof and /logs included where enabled", Severity: SeverityLow, ClusterScoped: true,
			structural: func(r rbacv1.PolicyRule) (string, bool) {
				return `nonResourceURLs "*"`, slices.Contains(r.NonResourceURLs, "*")
			}},

		{ID: "rbac-escalate", What: "escalate on roles or clusterroles", Why: "lets the holder write roles with permissions it does not have, then use them", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("rbac.authorization.k8s.io", vs("escalate"), "roles", "clusterroles")}},
		{ID: "rbac-bind", What: "bind on roles or clusterroles", Why: "lets the holder bind any role, cluster-admin included, to itself", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("rbac.authorization.k8s.io", vs("bind"), "roles", "clusterroles")}},
		{ID: "impersonate-users", What: "impersonate users or groups", Why: "act as any user or group, system:masters included", Severity: SeverityCritical, ClusterScoped: true,
			probes: []probe{mkProbe("", vs("impersonate"), "users", "groups")}},
		{ID: "impersonate-serviceaccounts", What: "impersonate serviceaccounts", Why: "act as any service account of the scope, with all its permissions", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("impersonate"), "serviceaccounts")}},
		{ID: "impersonate-uids-extras", What: "impersonate uids or userextras", Why: "forge the UID and extra attributes of an impersonated user (scopes, node or pod bindings)", Severity: SeverityMedium, ClusterScoped: true,
			probes: []probe{mkProbe("authentication.k8s.io", vs("impersonate"), "uids", "userextras/*")}},

		{ID: "secrets-list", What: "list or watch secrets", Why: "list and watch return every secret's value, service-account tokens included", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("list", "watch"), "secrets")}},
		{ID: "secrets-get", What: "get secrets", Why: "reads secret values by name; names are often predictable", Severity: SeverityHigh, NamespacedSeverity: SeverityMedium,
			probes: []probe{mkProbe("", vs("get"), "secrets")}},
		{ID: "secrets-write", What: "create, update or patch secrets", Why: "mint service-account token secrets, replace credentials and TLS keys that workloads trust", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			probes: []probe{mkProbe("", writeVerbs, "secrets")}},

		{ID: "pods-exec", What: "create or get pods/exec", Why: "run commands in any container of the scope, with its service-account token and mounted secrets", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("create", "get"), "pods/exec")}},
		{ID: "pods-attach", What: "create or get pods/attach", Why: "attach to a container's stdin/stdout: same reach as exec for interactive containers", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("create", "get"), "pods/attach")}},
		{ID: "pods-portforward", What: "create or get pods/portforward", Why: "reach any pod port through the API server, bypassing network policies", Severity: SeverityHigh, NamespacedSeverity: SeverityMedium,
			probes: []probe{mkProbe("", vs("create", "get"), "pods/portforward")}},
		{ID: "pods-ephemeralcontainers", What: "update or patch pods/ephemeralcontainers", Why: "add a container with any image and command to a running pod", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", updateVerbs, "pods/ephemeralcontainers")}},
		{ID: "proxy-subresources", What: "pods/proxy or services/proxy", Why: "send HTTP to in-cluster endpoints through the API server, bypassing network policies", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			probes: []probe{mkProbe("", vs("get", "create", "update", "patch", "delete"), "pods/proxy", "services/proxy")}},
		{ID: "pods-create", What: "create pods", Why: "run any image as any service account of the namespace, mounting its secrets (host access where admission allows)", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("create"), "pods")}},
		{ID: "workloads-create", What: "create a pod-creating workload (deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs, replicationcontrollers)", Why: "the controller creates the pods: same reach as creating pods", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: withVerbs(workloads, vs("create"))},
		{ID: "workloads-update", What: "update or patch pods or pod-creating workloads", Why: "change the image, command or service account of running workloads", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: append(withVerbs(workloads, updateVerbs), mkProbe("", updateVerbs, "pods"))},
		{ID: "pods-log", What: "get pods/log", Why: "logs often carry tokens, passwords and personal data", Severity: SeverityLow, NamespacedSeverity: SeverityInfo,
			probes: []probe{mkProbe("", vs("get"), "pods/log")}},

		{ID: "serviceaccounts-token", What: "create serviceaccounts/token", Why: "mint a token for any service account of the scope and act as it", Severity: SeverityCritical, NamespacedSeverity: SeverityHigh,
			probes: []probe{mkProbe("", vs("create"), "serviceaccounts/token")}},
		{ID: "nodes-proxy", What: "nodes/proxy", Why: "full kubelet API: exec into any pod on the node, unaudited by the API server", Severity: SeverityCritical, ClusterScoped: true,
			probes: []probe{mkProbe("", vs("get", "create", "update", "patch", "delete"), "nodes/proxy")}},
		{ID: "nodes-status", What: "update or patch nodes/status", Why: "falsify node addresses, capacity and conditions: misdirect kubelet traffic and scheduling", Severity: SeverityMedium, ClusterScoped: true,
			probes: []probe{mkProbe("", updateVerbs, "nodes/status")}},
		{ID: "nodes-write", What: "update or patch nodes", Why: "change node labels and taints to attract or evict workloads", Severity: SeverityMedium, ClusterScoped: true,
			probes: []probe{mkProbe("", updateVerbs, "nodes")}},
		{ID: "persistentvolumes-create", What: "create persistentvolumes", Why: "a hostPath volume exposes a node's filesystem to whoever claims it", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("", vs("create"), "persistentvolumes")}},

		{ID: "csr-create", What: "create certificatesigningrequests", Why: "request client certificates; harmless alone, critical with approval rights", Severity: SeverityLow, ClusterScoped: true,
			probes: []probe{mkProbe("certificates.k8s.io", vs("create"), "certificatesigningrequests")}},
		{ID: "csr-approve", What: "update certificatesigningrequests/approval", Why: "approve certificate requests: with signer approval, issue a client certificate for any user or group", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("certificates.k8s.io", updateVerbs, "certificatesigningrequests/approval")}},
		{ID: "signers-approve", What: "approve on signers", Why: "the signer half of CSR approval (kubernetes.io/kube-apiserver-client issues certificates for any identity)", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("certificates.k8s.io", vs("approve"), "signers")}},
		{ID: "signers-sign", What: "sign on signers", Why: "issue certificates as a signer", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("certificates.k8s.io", vs("sign"), "signers")}},
		{ID: "tokenreviews-create", What: "create tokenreviews", Why: "a token oracle: check stolen tokens and learn whose they are", Severity: SeverityLow, ClusterScoped: true,
			probes: []probe{mkProbe("authentication.k8s.io", vs("create"), "tokenreviews")}},

		{ID: "admission-webhooks-write", What: "write validating or mutating webhook configurations", Why: "a mutating webhook sees and rewrites every object (secrets, pods) cluster-wide; removing one disables policy", Severity: SeverityCritical, ClusterScoped: true,
			probes: []probe{mkProbe("admissionregistration.k8s.io", vs("create", "update", "patch", "delete"), "validatingwebhookconfigurations", "mutatingwebhookconfigurations")}},
		{ID: "admission-policies-write", What: "write admission policies or their bindings", Why: "disable or rewrite in-process admission policy (or mutate objects with MutatingAdmissionPolicy)", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("admissionregistration.k8s.io", vs("create", "update", "patch", "delete"), "validatingadmissionpolicies", "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings")}},
		{ID: "apiservices-write", What: "write apiservices", Why: "route an API group to any service, which then receives its requests and the callers' identities", Severity: SeverityHigh, ClusterScoped: true,
			probes: []probe{mkProbe("apiregistration.k8s.io", writeVerbs, "apiservices")}},
		{ID: "crds-write", What: "write customresourcedefinitions", Why: "a conversion webhook receives every object of the resource; deleting a CRD deletes all its objects", Severity: SeverityMedium, ClusterScoped: true,
			probes: []probe{mkProbe("apiextensions.k8s.io", vs("create", "update", "patch", "delete"), "customresourcedefinitions")}},
		{ID: "rbac-roles-write", What: "create, update or patch roles or clusterroles", Why: "bounded by escalation checks, but aggregation labels extend admin/edit/view for every holder", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			probes: []probe{mkProbe("rbac.authorization.k8s.io", writeVerbs, "roles", "clusterroles")}},
		{ID: "rbac-bindings-write", What: "create, update or patch rolebindings or clusterrolebindings", Why: "hand the holder's own permissions to any identity (persistence)", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			probes: []probe{mkProbe("rbac.authorization.k8s.io", writeVerbs, "rolebindings", "clusterrolebindings")}},
		{ID: "namespaces-write", What: "update or patch namespaces", Why: "relabel a namespace's pod-security level to privileged", Severity: SeverityMedium, NamespacedSeverity: SeverityMedium,
			probes: []probe{mkProbe("", updateVerbs, "namespaces")}},
		{ID: "endpoints-write", What: "write endpoints or endpointslices", Why: "redirect a service's traffic to any address (CVE-2021-25740)", Severity: SeverityMedium, NamespacedSeverity: SeverityLow,
			probes: []probe{mkProbe("", writeVerbs, "endpoints"), mkProbe("discovery.k8s.io", writeVerbs, "endpointslices")}},
		{ID: "kube-system-configmaps-write", What: "write configmaps in kube-system", Why: "control-plane configuration lives there (CoreDNS, kube-proxy, kubeadm, aws-auth which maps cloud identities to groups)", Severity: SeverityHigh, Namespaces: []string{"", kubeSystem},
			probes: []probe{mkProbe("", writeVerbs, "configmaps")}},
	}
}

// Catalogue returns the risk catalogue, in documentation order.
func Catalogue() []RiskDef {
	return catalogue()
}

// riskCatalogue is the copy RulesRisks reads; nothing writes it.
var riskCatalogue = catalogue()

// RulesRisks returns every catalogue entry rule grants, most severe first.
// namespace is where the rule applies: "" for cluster-wide (a
// ClusterRoleBinding), else the RoleBinding's namespace. Cluster-wide grants,
// and grants in kube-system, take an entry's Severity; other namespaces take
// its NamespacedSeverity, and entries about cluster-scoped objects are not
// granted there at all. Wildcards grant the specific entries ("*" verbs on
// "*" resources grants secrets-list). A rule restricted by resourceNames
// grants an entry one severity lower, and its Reason names the names.
func RulesRisks(rule rbacv1.PolicyRule, namespace string) []Risk {
	var out []Risk
	for i := range riskCatalogue {
		def := &riskCatalogue[i]
		if def.ClusterScoped && namespace != "" {
			continue
		}
		if len(def.Namespaces) > 0 && !slices.Contains(def.Namespaces, namespace) {
			continue
		}
		sev := def.Severity
		if namespace != "" && namespace != kubeSystem {
			sev = def.NamespacedSeverity
		}
		var what string
		var ok, restricted bool
		if def.structural != nil {
			what, ok = def.structural(rule)
			restricted = ok && len(rule.ResourceNames) > 0
		} else {
			what, ok, restricted = probesGrant(def.probes, rule)
		}
		if !ok {
			continue
		}
		reason := what + " " + scopeText(namespace)
		if restricted {
			sev = sev.lower()
			reason += fmt.Sprintf(" (only names %s)", strings.Join(rule.ResourceNames, ", "))
		}
		out = append(out, Risk{ID: def.ID, Severity: sev, Reason: reason})
	}
	slices.SortStableFunc(out, func(a, b Risk) int { return cmp.Compare(b.Severity, a.Severity) })
	return out
}

func scopeText(namespace string) string {
	if namespace == "" {
		return "cluster-wide"
	}
	return "in namespace " + namespace
}

// probesGrant reports whether rule allows any request of ps; restricted when
// only with a name from rule.ResourceNames.
func probesGrant(ps []probe, rule rbacv1.PolicyRule) (what string, ok, restricted bool) {
	var names []string
	if len(rule.ResourceNames) > 0 {
		names = rule.ResourceNames[:1]
	}
	for _, pr := range ps {
		for _, res := range pr.resources {
			resource, sub, _ := strings.Cut(res, "/")
			subs := []string{sub}
			if sub == "*" {
				subs = subresourcesNamed(rule, resource)
			}
			for _, s := range subs {
				for _, verb := range pr.verbs {
					r := Request{Verb: verb, APIGroup: pr.group, Resource: resource, Subresource: s}
					if RuleAllows(rule, r) {
						return describeProbe(verb, pr.group, resource, s), true, false
					}
					for _, n := range names {
						r.Name = n
						if RuleAllows(rule, r) {
							return describeProbe(verb, pr.group, resource, s), true, true
						}
					}
				}
			}
		}
	}
	return "", false, false
}

// subresourcesNamed lists the subresources of resource that rule could
// match: those it names as "resource/sub" or "*/sub", or a placeholder when
// it has "*" (any subresource matches).
func subresourcesNamed(rule rbacv1.PolicyRule, resource string) []string {
	var out []string
	for _, rr := range rule.Resources {
		if rr == "*" {
			out = append(out, "any")
			continue
		}
		res, sub, ok := strings.Cut(rr, "/")
		if ok && (res == resource || res == "*") {
			out = append(out, sub)
		}
	}
	return out
}

func describeProbe(verb, group, resource, sub string) string {
	res := resource
	if sub != "" {
		res += "/" + sub
	}
	if group != "" {
		res += "." + group
	}
	return fmt.Sprintf("allows %q on %s", verb, res)
}
