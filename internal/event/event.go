// Package event holds kubedelta's normalized records: the plain, typed values
// every source decodes into and every analyzer and detector consumes.
//
// It is a leaf package: it imports no other internal package.
package event

import "time"

// Audit stages, as written by the kube-apiserver (audit.k8s.io/v1 Stage).
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// Identity is an authenticated Kubernetes user as the API server saw it.
type Identity struct {
	Username string
	UID      string
	Groups   []string
}

// IsZero reports whether no user name is set.
func (i Identity) IsZero() bool { return i.Username == "" }

// APIRequest is one Kubernetes API request, normalized from an audit event
// (audit.k8s.io/v1 Event). Request and response bodies are never kept raw:
// decoders redact them before an APIRequest exists.
type APIRequest struct {
	AuditID string
	Stage   string
	Level   string
	// Time is the stage timestamp (when this stage was reached); Received is
	// requestReceivedTimestamp.
	Time     time.Time
	Received time.Time

	// User is the authenticated identity; Impersonated, when set, is the
	// identity the request acted as (impersonatedUser). Actor returns the one
	// RBAC evaluated.
	User         Identity
	Impersonated Identity

	SourceIPs []string
	UserAgent string

	Verb       string
	RequestURI string
	// Resource request attributes (objectRef). Empty Resource means a
	// non-resource request; then Path holds the URL path.
	APIGroup    string
	APIVersion  string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Path        string

	// Code is responseStatus.code (0 when the stage has no response yet).
	Code int
	// Reason is responseStatus.reason or message, shortened.
	Reason string
	// Decision and AuthzReason are the authorization.k8s.io/decision and
	// authorization.k8s.io/reason annotations.
	Decision    string
	AuthzReason string

	// RequestObject and ResponseObject are the bodies at RequestResponse or
	// Request level, as JSON, already redacted (no Secret data, no tokens).
	// Decoders only fill them when asked to.
	RequestObject  []byte
	ResponseObject []byte
}

// Actor is the identity RBAC authorized: the impersonated user when the
// request impersonated one, else the authenticated user.
func (r *APIRequest) Actor() Identity {
	if !r.Impersonated.IsZero() {
		return r.Impersonated
	}
	return r.User
}

// IsResource reports whether the request names an API resource (as opposed
// to a non-resource URL such as /healthz).
func (r *APIRequest) IsResource() bool { return r.Resource != "" }

// Succeeded reports whether the API server answered with a 2xx or 3xx code.
func (r *APIRequest) Succeeded() bool { return r.Code >= 200 && r.Code < 400 }

// Forbidden reports whether the request was denied by authorization (403).
func (r *APIRequest) Forbidden() bool { return r.Code == 403 }
