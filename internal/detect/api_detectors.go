package detect

import (
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Rule ids of the API and RBAC detectors (docs/detections/api.md).
const (
	RuleRBACDenied          = "rbac.denied"
	RuleRBACDeniedBurst     = "rbac.denied-burst"
	RuleAPIUnauthenticated  = "api.unauthenticated"
	RuleAPINovelCall        = "api.novel-call"
	RuleAPINovelAgent       = "api.novel-agent"
	RuleSecretAccess        = "secret.access"
	RuleExecIntoPod         = "exec.into-pod"
	RuleExecSuspicious      = "exec.suspicious-command"
	RuleSequenceRBACThenWkl = "sequence.rbac-then-workload"
)

// Defaults of APIOptions.
const (
	DefaultDeniedBurstThreshold = 5
	DefaultDeniedBurstWindow    = 5 * time.Minute
	DefaultSecretBurstThreshold = 10
	DefaultSecretBurstWindow    = 5 * time.Minute
	DefaultSequenceWindow       = 10 * time.Minute
	DefaultMaxTracked           = 10000
)

// APIOptions tune the API and RBAC detectors. The zero value means the
// defaults; negative or zero numbers are replaced by them.
type APIOptions struct {
	// DeniedBurstThreshold distinct denied actions (verb, resource,
	// namespace) — or permission reviews — by one subject or from one
	// source address within DeniedBurstWindow make an rbac.denied-burst.
	DeniedBurstThreshold int
	DeniedBurstWindow    time.Duration
	// SecretBurstThreshold distinct secrets read by one subject within
	// SecretBurstWindow make a secret.access burst.
	SecretBurstThreshold int
	SecretBurstWindow    time.Duration
	// SequenceWindow is how long after an RBAC change a workload change by
	// the same identity is reported.
	SequenceWindow time.Duration
	// PrivilegedNamespaces are where exec and secret reads rate higher, in
	// addition to kube-system, kube-public, kube-node-lease and namespaces
	// labelled pod-security.kubernetes.io/enforce=privileged in the
	// inventory.
	PrivilegedNamespaces []string
	// SystemIdentities are extra user names treated like Kubernetes' own
	// components (not novel, not enumerating): exact names, or prefixes
	// ending in "*" such as "eks:*".
	SystemIdentities []string
	// MaxTracked bounds the identities (and source addresses) each stateful
	// rule keeps a window for.
	MaxTracked int
	// Logger receives a warning when a state bound is reached; nil discards.
	Logger *slog.Logger
}

func (o APIOptions) withDefaults() APIOptions {
	if o.DeniedBurstThreshold <= 0 {
		o.DeniedBurstThreshold = DefaultDeniedBurstThreshold
	}
	if o.DeniedBurstWindow <= 0 {
		o.DeniedBurstWindow = DefaultDeniedBurstWindow
	}
	if o.SecretBurstThreshold <= 0 {
		o.SecretBurstThreshold = DefaultSecretBurstThreshold
	}
	if o.SecretBurstWindow <= 0 {
		o.SecretBurstWindow = DefaultSecretBurstWindow
	}
	if o.SequenceWindow <= 0 {
		o.SequenceWindow = DefaultSequenceWindow
	}
	if o.MaxTracked <= 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.PrivilegedNamespaces = append([]string{"kube-system", "kube-public", "kube-node-lease"}, o.PrivilegedNamespaces...)
	return o
}

// APIDetectors returns the detectors of API and RBAC behaviour seen in audit
// events (and, for exec.suspicious-command, process events). Each value
// keeps its own bounded state and is safe for concurrent use.
func APIDetectors(opts APIOptions) []Detector {
	o := opts.withDefaults()
	ids := newAPIIdentities(o.SystemIdentities)
	return []Detector{
		newAPIDeniedDetector(o, ids),
		&apiUnauthDetector{},
		&apiNoveltyDetector{ids: ids},
		newAPISecretDetector(o, ids),
		&apiExecDetector{ids: ids, privileged: o.PrivilegedNamespaces},
		newAPISequenceDetector(o, ids),
	}
}

// apiBump raises a severity by n levels, up to critical.
func apiBump(s Severity, n int) Severity {
	return min(s+Severity(n), Critical)
}

// apiPrivilegedNamespace reports whether ns is one of the configured
// privileged namespaces or is labelled privileged by Pod Security Admission
// in the inventory.
func apiPrivilegedNamespace(s *State, privileged []string, ns string) bool {
	if ns == "" {
		return false
	}
	if slices.Contains(privileged, ns) {
		return true
	}
	if s.Index == nil {
		return false
	}
	n, ok := s.Index.Namespace(ns)
	return ok && n.Labels["pod-security.kubernetes.io/enforce"] == "privileged"
}

// apiClip shortens s to at most n bytes (on a rune boundary), marking the cut.
func apiClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !apiRuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func apiRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// apiJoinList joins up to max items with ", ", adding "…" when more exist.
func apiJoinList(items []string, more bool) string {
	s := strings.Join(items, ", ")
	if more {
		s += ", …"
	}
	return s
}
