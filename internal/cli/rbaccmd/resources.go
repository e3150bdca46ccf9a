package rbaccmd

import (
	"fmt"
	"strings"
)

// builtinGroups maps the plural names of Kubernetes' built-in resources to
// their API group, so `can-i create deployments` means apps/deployments as it
// does for kubectl (which asks discovery; offline we know the built-ins).
var builtinGroups = map[string]string{
	"bindings": "", "componentstatuses": "", "configmaps": "", "endpoints": "", "events": "",
	"limitranges": "", "namespaces": "", "nodes": "", "persistentvolumeclaims": "",
	"persistentvolumes": "", "pods": "", "podtemplates": "", "replicationcontrollers": "",
	"resourcequotas": "", "secrets": "", "serviceaccounts": "", "services": "",
	"mutatingwebhookconfigurations": "admissionregistration.k8s.io", "validatingwebhookconfigurations": "admissionregistration.k8s.io",
	"validatingadmissionpolicies": "admissionregistration.k8s.io", "validatingadmissionpolicybindings": "admissionregistration.k8s.io",
	"mutatingadmissionpolicies": "admissionregistration.k8s.io", "mutatingadmissionpolicybindings": "admissionregistration.k8s.io",
	"customresourcedefinitions": "apiextensions.k8s.io", "apiservices": "apiregistration.k8s.io",
	"controllerrevisions": "apps", "daemonsets": "apps", "deployments": "apps", "replicasets": "apps", "statefulsets": "apps",
	"selfsubjectreviews": "authentication.k8s.io", "tokenreviews": "authentication.k8s.io",
	"localsubjectaccessreviews": "authorization.k8s.io", "selfsubjectaccessreviews": "authorization.k8s.io",
	"selfsubjectrulesreviews": "authorization.k8s.io", "subjectaccessreviews": "authorization.k8s.io",
	"horizontalpodautoscalers": "autoscaling", "cronjobs": "batch", "jobs": "batch",
	"certificatesigningrequests": "certificates.k8s.io", "clustertrustbundles": "certificates.k8s.io",
	"leases": "coordination.k8s.io", "endpointslices": "discovery.k8s.io",
	"flowschemas": "flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations": "flowcontrol.apiserver.k8s.io",
	"ingressclasses": "networking.k8s.io", "ingresses": "networking.k8s.io", "networkpolicies": "networking.k8s.io",
	"ipaddresses": "networking.k8s.io", "servicecidrs": "networking.k8s.io",
	"runtimeclasses": "node.k8s.io", "poddisruptionbudgets": "policy",
	"clusterrolebindings": "rbac.authorization.k8s.io", "clusterroles": "rbac.authorization.k8s.io",
	"rolebindings": "rbac.authorization.k8s.io", "roles": "rbac.authorization.k8s.io",
	"deviceclasses": "resource.k8s.io", "resourceclaims": "resource.k8s.io", "resourceclaimtemplates": "resource.k8s.io",
	"resourceslices": "resource.k8s.io", "priorityclasses": "scheduling.k8s.io",
	"csidrivers": "storage.k8s.io", "csinodes": "storage.k8s.io", "csistoragecapacities": "storage.k8s.io",
	"storageclasses": "storage.k8s.io", "volumeattachments": "storage.k8s.io", "volumeattributesclasses": "storage.k8s.io",
}

// shortNames are kubectl's short names and singular forms for built-ins.
var shortNames = map[string]string{
	"cs": "componentstatuses", "cm": "configmaps", "ep": "endpoints", "ev": "events", "limits": "limitranges",
	"ns": "namespaces", "no": "nodes", "pvc": "persistentvolumeclaims", "pv": "persistentvolumes", "po": "pods",
	"rc": "replicationcontrollers", "quota": "resourcequotas", "sa": "serviceaccounts", "svc": "services",
	"crd": "customresourcedefinitions", "crds": "customresourcedefinitions", "ds": "daemonsets", "deploy": "deployments",
	"rs": "replicasets", "sts": "statefulsets", "hpa": "horizontalpodautoscalers", "cj": "cronjobs",
	"csr": "certificatesigningrequests", "ing": "ingresses", "netpol": "networkpolicies", "pdb": "poddisruptionbudgets",
	"pc": "priorityclasses", "sc": "storageclasses",
	"pod": "pods", "secret": "secrets", "configmap": "configmaps", "service": "services", "node": "nodes",
	"namespace": "namespaces", "deployment": "deployments", "serviceaccount": "serviceaccounts",
	"role": "roles", "clusterrole": "clusterroles", "rolebinding": "rolebindings", "clusterrolebinding": "clusterrolebindings",
	"job": "jobs", "cronjob": "cronjobs", "daemonset": "daemonsets", "statefulset": "statefulsets", "replicaset": "replicasets",
}

// resourceArg is a parsed RESOURCE[.GROUP][/SUBRESOURCE] argument.
type resourceArg struct {
	Resource, Group, Subresource string
	// Guessed is set when the group was not given and the resource is not a
	// known built-in (the core group is assumed).
	Guessed bool
}

// parseResource parses RESOURCE[.GROUP][/SUBRESOURCE] the way kubectl reads
// a resource type: the first dot separates the group; short names and
// singular forms of built-ins are expanded; a missing group is looked up.
func parseResource(arg string) (resourceArg, error) {
	if arg == "" {
		return resourceArg{}, fmt.Errorf("empty resource")
	}
	var ra resourceArg
	typ, sub, _ := strings.Cut(arg, "/")
	ra.Subresource = sub
	if typ == "*" {
		ra.Resource, ra.Group = "*", "*"
		return ra, nil
	}
	res, group, hasGroup := strings.Cut(typ, ".")
	res = strings.ToLower(res)
	if full, ok := shortNames[res]; ok {
		res = full
	}
	ra.Resource = res
	if hasGroup {
		if group == "core" {
			group = ""
		}
		ra.Group = group
		return ra, nil
	}
	g, ok := builtinGroups[res]
	ra.Group = g
	ra.Guessed = !ok
	return ra, nil
}
