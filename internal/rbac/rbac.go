// Package rbac evaluates Kubernetes RBAC exactly as the kube-apiserver's RBAC
// authorizer does: rule matching, binding resolution, ClusterRole aggregation,
// implied groups, who-can queries and the risk catalogue of permissions.
package rbac

// Request is one authorization question, in the attributes the RBAC
// authorizer sees (k8s.io/apiserver authorizer.Attributes).
type Request struct {
	User   string   `json:"user"`
	Groups []string `json:"groups,omitempty"`

	Verb        string `json:"verb"`
	APIGroup    string `json:"apiGroup"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	// Path is set for non-resource requests (Resource empty), e.g. /healthz.
	Path string `json:"path,omitempty"`
}

// IsResource reports whether r is a resource request.
func (r Request) IsResource() bool { return r.Path == "" }

// Ref names a Kubernetes object: a binding or a role.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Decision is the answer to a Request.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Binding and Role name what allowed the request; RuleIndex is the index
	// of the matching rule in Role's effective rules. Unset when denied, or
	// when allowed by system:masters (then Reason says so).
	Binding   *Ref   `json:"binding,omitempty"`
	Role      *Ref   `json:"role,omitempty"`
	RuleIndex int    `json:"ruleIndex,omitempty"`
	Reason    string `json:"reason,omitempty"`
}
