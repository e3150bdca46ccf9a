package detect

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Rule ids of the object-spec, inventory-novelty, network and process
// detectors (docs/detections/workloads.md).
const (
	RuleRBACEscalation         = "rbac.escalation"
	RuleWorkloadRiskySpec      = "workload.risky-spec"
	RulePersistenceChange      = "persistence.change"
	RuleWorkloadFirstSeen      = "workload.first-seen"
	RuleImageFirstSeen         = "image.first-seen"
	RuleImageUntrustedRegistry = "image.untrusted-registry"
	RuleNetNovelConnection     = "net.novel-connection"
	RuleNetNovelEgress         = "net.novel-egress"
	RuleNetDenied              = "net.denied"
	RuleExecNovelCommand       = "exec.novel-command"
)

// SpecOptions tune the detectors that read audit request bodies
// (rbac.escalation, workload.risky-spec, persistence.change) and the
// inventory novelty rules (workload.first-seen, image.first-seen,
// image.untrusted-registry). The zero value means the defaults.
type SpecOptions struct {
	// SystemIdentities are extra user names treated like Kubernetes' own
	// components (their writes are not judged): exact names, or prefixes
	// ending in "*" such as "eks:*". Built in: system:apiserver,
	// system:kube-controller-manager, system:kube-scheduler,
	// system:kube-proxy, system:node:*, system:serviceaccount:kube-system:*,
	// and the managed control planes' eks:*, aksService, acsService,
	// masterclient and nodeclient.
	SystemIdentities []string
	// Logger receives debug records about request bodies that could not be
	// decoded; nil discards.
	Logger *slog.Logger
}

// SpecDetectors returns the detectors that judge what an audited write
// does (the object in its request body) and what appears in the cluster
// for the first time. They keep no state of their own: everything they
// compare against is in State, so they are safe for concurrent use.
func SpecDetectors(opts SpecOptions) []Detector {
	sys := newSpecIdentities(opts.SystemIdentities)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return []Detector{
		&specEscalationDetector{sys: sys, log: log},
		&specWorkloadDetector{sys: sys, log: log},
		&specPersistenceDetector{sys: sys, log: log},
	}
}

// specIdentities classifies users as control-plane components or not.
type specIdentities struct {
	exact    map[string]bool
	prefixes []string
}

func newSpecIdentities(extra []string) *specIdentities {
	ids := &specIdentities{exact: map[string]bool{
		"system:apiserver":               true,
		"system:kube-controller-manager": true,
		"system:kube-scheduler":          true,
		"system:kube-proxy":              true,
		"aksService":                     true,
		"acsService":                     true,
		"masterclient":                   true,
		"nodeclient":                     true,
	}, prefixes: []string{"system:node:", "system:serviceaccount:kube-system:", "eks:"}}
	for _, s := range extra {
		if p, ok := strings.CutSuffix(s, "*"); ok {
			ids.prefixes = append(ids.prefixes, p)
		} else if s != "" {
			ids.exact[s] = true
		}
	}
	return ids
}

// system reports whether user is a control-plane identity: the API server,
// controller manager, scheduler, kube-proxy, kubelets, kube-system service
// accounts (the controllers'), managed control planes, and the configured
// extras. Anonymous and bootstrap-token users are not.
func (ids *specIdentities) system(user string) bool {
	if ids.exact[user] {
		return true
	}
	for _, p := range ids.prefixes {
		if strings.HasPrefix(user, p) {
			return true
		}
	}
	return false
}

// podTemplateController reports whether user creates pods (or Jobs, or
// ReplicaSets) from a template somebody else wrote: the workload
// controllers, the controller manager itself, and kubelets (mirror pods of
// static manifests). Their creations are judged at the template's write.
func specPodTemplateController(user string) bool {
	switch user {
	case "system:kube-controller-manager",
		"system:serviceaccount:kube-system:replicaset-controller",
		"system:serviceaccount:kube-system:replication-controller",
		"system:serviceaccount:kube-system:daemon-set-controller",
		"system:serviceaccount:kube-system:statefulset-controller",
		"system:serviceaccount:kube-system:job-controller",
		"system:serviceaccount:kube-system:cronjob-controller",
		"system:serviceaccount:kube-system:deployment-controller":
		return true
	}
	return strings.HasPrefix(user, "system:node:")
}

// specJudged reports whether r is a completed, successful request worth
// judging: not an earlier stage of a request reported again later, not a
// failed or rejected one (rbac.denied covers those), not a server-side dry
// run (nothing changed). 1xx codes are upgraded streams (exec through
// nodes/proxy).
func specJudged(r *event.APIRequest) bool {
	if r.Stage == event.StageRequestReceived {
		return false
	}
	if r.Code >= 400 {
		return false
	}
	return !specDryRun(r.RequestURI)
}

// specDryRun reports a server-side dry run: a dryRun query parameter with a
// value (the API server accepts only "All"; anything else fails the
// request). Only a real parameter counts, so that "dryRun=" inside another
// parameter's value does not hide a write.
func specDryRun(uri string) bool {
	_, q, ok := strings.Cut(uri, "?")
	for ok {
		var p string
		p, q, ok = strings.Cut(q, "&")
		if v, found := strings.CutPrefix(p, "dryRun="); found && v != "" {
			return true
		}
	}
	return false
}

// specWriteVerb reports the verbs that change objects.
func specWriteVerb(verb string) bool {
	switch verb {
	case "create", "update", "patch":
		return true
	}
	return false
}

// specAuditEvidence is the evidence record of one audit event.
func specAuditEvidence(r *event.APIRequest, detail string) Evidence {
	return Evidence{Kind: "audit", Time: r.Time, Ref: r.AuditID, Detail: detail}
}

// specObjectText names the object a request addressed: "clusterrolebindings/x",
// "deployments shop/cart".
func specObjectText(r *event.APIRequest) string {
	res := r.Resource
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	name := r.Name
	if name == "" {
		name = "(unnamed)"
	}
	if r.Namespace != "" {
		return res + " " + r.Namespace + "/" + name
	}
	return res + " " + name
}

// specRequestLine is the one-line evidence detail of a write:
// "alice patch deployments shop/cart → 200 (kubectl/v1.32.4)".
func specRequestLine(r *event.APIRequest) string {
	var b strings.Builder
	b.WriteString(r.User.Username)
	if !r.Impersonated.IsZero() {
		b.WriteString(" as ")
		b.WriteString(r.Impersonated.Username)
	}
	b.WriteByte(' ')
	b.WriteString(r.Verb)
	b.WriteByte(' ')
	b.WriteString(specObjectText(r))
	if r.Code != 0 {
		b.WriteString(" → ")
		b.WriteString(strconv.Itoa(r.Code))
	}
	if r.UserAgent != "" {
		b.WriteString(" (")
		b.WriteString(specClip(r.UserAgent, 60))
		b.WriteByte(')')
	}
	return b.String()
}

// specBodyMissing is the evidence note when the audit policy logged no
// request body for a request whose body decides the finding.
const specBodyMissing = "request body not in the audit log (level Metadata): judged from the object reference alone; log this resource at level Request to see its content"

// specRaise raises a severity by n levels, capped at critical.
func specRaise(s Severity, n int) Severity { return min(s+Severity(n), Critical) }

// specLower lowers a severity by one level, down to info.
func specLower(s Severity) Severity { return max(s-1, Info) }

// specClip shortens s to at most n bytes on a rune boundary, marking the cut.
func specClip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// specNovel reports whether novelty alerts are due for an entity with stat
// first/count at t (the framework's learning and warm-up).
func specNovel(s *State, t, first time.Time, n uint64) bool {
	return !s.Learning(t, first, n)
}
