package detect

const (
	apiGroupRBAC      = "rbac.authorization.k8s.io"
	apiGroupAuthz     = "authorization.k8s.io"
	apiGroupCerts     = "certificates.k8s.io"
	apiGroupAdmission = "admissionregistration.k8s.io"
)

// apiWriteVerb reports whether verb changes state.
func apiWriteVerb(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// apiReadVerb reports whether verb reads objects.
func apiReadVerb(verb string) bool {
	switch verb {
	case "get", "list", "watch":
		return true
	}
	return false
}

// apiRBACResource reports whether group/resource is an RBAC object.
func apiRBACResource(group, resource string) bool {
	if group != apiGroupRBAC {
		return false
	}
	switch resource {
	case "roles", "clusterroles", "rolebindings", "clusterrolebindings":
		return true
	}
	return false
}

// apiWorkloadResource reports whether group/resource runs containers.
func apiWorkloadResource(group, resource string) bool {
	switch group {
	case "":
		return resource == "pods" || resource == "replicationcontrollers"
	case "apps":
		switch resource {
		case "deployments", "daemonsets", "statefulsets", "replicasets":
			return true
		}
	case "batch":
		return resource == "jobs" || resource == "cronjobs"
	}
	return false
}

// apiReview reports whether the request asks the API server what its caller
// may do: kubectl auth can-i, and every permission enumerator.
func apiReview(group, resource string) bool {
	return group == apiGroupAuthz && (resource == "selfsubjectrulesreviews" || resource == "selfsubjectaccessreviews")
}

// apiSensitive says why an API action touches something an attacker
// wants — credentials, code execution, privilege — or "" when it does not.
// The list follows the risk catalogue of internal/rbac (docs/rbac-risks.md).
func apiSensitive(verb, group, resource, sub string) string {
	if verb == "impersonate" {
		return "impersonation of other identities"
	}
	switch group {
	case "":
		switch resource {
		case "secrets":
			return "secret values"
		case "pods":
			switch sub {
			case "exec", "attach":
				return "command execution in containers"
			case "portforward":
				return "network access into pods"
			case "ephemeralcontainers":
				return "debug containers in running pods"
			}
		case "serviceaccounts":
			if sub == "token" {
				return "service account tokens"
			}
		case "nodes":
			if sub == "proxy" {
				return "the kubelet API (nodes/proxy)"
			}
		}
	case apiGroupRBAC:
		if apiRBACResource(group, resource) && (apiWriteVerb(verb) || verb == "escalate" || verb == "bind") {
			return "RBAC permissions"
		}
	case apiGroupCerts:
		if resource == "certificatesigningrequests" && (apiWriteVerb(verb) || verb == "approve") {
			return "client certificates"
		}
	case apiGroupAdmission:
		switch resource {
		case "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
			"validatingadmissionpolicies", "validatingadmissionpolicybindings",
			"mutatingadmissionpolicies", "mutatingadmissionpolicybindings":
			if apiWriteVerb(verb) {
				return "admission control"
			}
		}
	}
	return ""
}
