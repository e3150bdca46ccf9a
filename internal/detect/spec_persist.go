package detect

import (
	"log/slog"
	"strconv"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// specPersistenceDetector is persistence.change: admission webhooks
// written or removed, CronJobs and DaemonSets written by identities that
// never wrote one, events deleted, and the cluster DNS or EKS identity
// mapping ConfigMaps changed.
type specPersistenceDetector struct {
	sys *specIdentities
	log *slog.Logger
}

func (d *specPersistenceDetector) Rules() []Rule {
	return []Rule{{
		ID: RulePersistenceChange, Category: CategoryPersistence, Severity: Critical,
		MITRE:   []string{"T1546", "T1562.001", "T1053.007", "T1610", "T1070", "T1565.001", "T1098"},
		Summary: "an admission webhook created, changed or deleted; a CronJob or DaemonSet written by an identity that never wrote one; events deleted; the cluster DNS (CoreDNS, kube-dns) or aws-auth ConfigMap changed",
	}}
}

func (d *specPersistenceDetector) API(s *State, r *event.APIRequest, emit Emit) {
	switch r.Resource {
	case "validatingwebhookconfigurations", "mutatingwebhookconfigurations":
		if r.APIGroup == "admissionregistration.k8s.io" && r.Subresource == "" &&
			(specWriteVerb(r.Verb) || r.Verb == "delete" || r.Verb == "deletecollection") {
			d.webhook(s, r, emit)
		}
	case "cronjobs":
		if r.APIGroup == "batch" && r.Subresource == "" && specWriteVerb(r.Verb) {
			d.firstWrite(s, r, "CronJob", emit)
		}
	case "daemonsets":
		if (r.APIGroup == "apps" || r.APIGroup == "extensions") && r.Subresource == "" && specWriteVerb(r.Verb) {
			d.firstWrite(s, r, "DaemonSet", emit)
		}
	case "events":
		if (r.Verb == "delete" || r.Verb == "deletecollection") && (r.APIGroup == "" || r.APIGroup == "events.k8s.io") {
			d.events(r, emit)
		}
	case "configmaps":
		if r.APIGroup == "" && r.Namespace == "kube-system" && (specWriteVerb(r.Verb) || r.Verb == "delete") {
			d.configMap(r, emit)
		}
	}
}

// specKnownCall returns the subject's baseline of exactly this call shape.
func specKnownCall(s *State, r *event.APIRequest, actor string) *baseline.Stat {
	sp := s.Profiles.Subject(actor)
	if sp == nil {
		return nil
	}
	return sp.Calls[baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace}]
}

func (d *specPersistenceDetector) webhook(s *State, r *event.APIRequest, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	actor := r.Actor().Username
	mutating := r.Resource == "mutatingwebhookconfigurations"
	kind := "ValidatingWebhookConfiguration"
	if mutating {
		kind = "MutatingWebhookConfiguration"
	}
	var (
		sev   Severity
		what  string
		mitre []string
		ev    = []Evidence{specAuditEvidence(r, specRequestLine(r))}
	)
	switch r.Verb {
	case "delete", "deletecollection":
		sev, what, mitre = Critical, "the admission policy it enforced stops applying", []string{"T1562.001"}
		if !mutating {
			what = "the admission checks it enforced stop applying"
		}
	case "create":
		sev, what, mitre = High, "it sees every object it matches and can reject them", []string{"T1546"}
		if mutating {
			sev, what = Critical, "it sees and rewrites every object it matches, secrets and pods included"
		}
	default:
		sev, what, mitre = Medium, "it changes which requests are checked", []string{"T1546"}
		if mutating {
			sev, what = High, "it changes how objects are rewritten on admission"
		}
	}
	if specWriteVerb(r.Verb) && len(r.RequestObject) > 0 {
		objs, err := specDecodeBody(r.RequestObject)
		if err != nil {
			d.log.Debug("persistence.change: undecodable webhook body", "auditID", r.AuditID, "err", err)
		}
		var ignore []string
		for i := range objs {
			for _, w := range objs[i].Webhooks {
				if w.FailurePolicy == "Ignore" {
					ignore = append(ignore, w.Name)
				}
			}
		}
		if len(ignore) > 0 && r.Verb != "create" {
			sev, what = Critical, "failurePolicy Ignore on "+specJoinMax(ignore, 3)+": the webhook now fails open, so stopping its backend disables it"
			mitre = []string{"T1562.001"}
		}
	} else if specWriteVerb(r.Verb) {
		ev = append(ev, specAuditEvidence(r, specBodyMissing))
	}
	// Operators that manage their own webhooks (cert injectors patching
	// caBundle, policy engines re-registering) repeat the same call.
	if st := specKnownCall(s, r, actor); st != nil {
		sev = specLower(sev)
		if r.Verb == "update" || r.Verb == "patch" {
			sev = max(specLower(sev), Low)
		}
		ev = append(ev, Evidence{Kind: "baseline", Time: st.Last, Detail: actor + " made this call " +
			strconv.FormatUint(st.Count, 10) + " times before"})
	}
	emit(Alert{
		Time: r.Time, Rule: RulePersistenceChange, Category: CategoryPersistence, Severity: sev, Score: 40,
		Subject:  actor,
		Message:  specActorText(r) + " " + specPastTense(r.Verb) + " " + kind + " " + specName(r, nil) + ": " + what,
		Evidence: ev, MITRE: mitre,
		Key: kind + "/" + r.Name + " " + r.Verb,
	})
}

// firstWrite reports a CronJob or DaemonSet written by an identity whose
// baseline has no write of that resource anywhere (after learning and the
// identity's warm-up).
func (d *specPersistenceDetector) firstWrite(s *State, r *event.APIRequest, kind string, emit Emit) {
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	actor := r.Actor().Username
	sp := s.Profiles.Subject(actor)
	if sp == nil || !specNovel(s, r.Time, sp.Seen.First, sp.Seen.Count) {
		return // a new identity is warming up
	}
	for k := range sp.Calls {
		if k.Resource == r.Resource && k.Subresource == "" && specWriteVerb(k.Verb) {
			return
		}
	}
	sev, why, mitre := Medium, "a scheduled job is a classic foothold that survives pod restarts", []string{"T1053.007"}
	if kind == "DaemonSet" {
		why, mitre = "a DaemonSet runs a pod on every node, including new ones", []string{"T1610"}
	}
	if specSystemNamespace(r.Namespace) {
		sev = High
	}
	name := specName(r, nil)
	emit(Alert{
		Time: r.Time, Rule: RulePersistenceChange, Category: CategoryPersistence, Severity: sev, Score: 30,
		Subject: actor, Namespace: r.Namespace, Workload: kind + "/" + r.Namespace + "/" + name,
		Message: specActorText(r) + " " + specPastTense(r.Verb) + " " + kind + " " + r.Namespace + "/" + name +
			", the first " + kind + " write by this identity since " + sp.Seen.First.UTC().Format("2006-01-02") + ": " + why,
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r)),
			{Kind: "baseline", Time: sp.Seen.Last, Detail: actor + ": " + strconv.FormatUint(sp.Seen.Count, 10) +
				" requests in the baseline, none writing " + r.Resource}},
		MITRE: mitre,
		Key:   "first-write " + r.Resource,
	})
}

func (d *specPersistenceDetector) events(r *event.APIRequest, emit Emit) {
	// The namespace controller deletes a namespace's events with it.
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	sev, what := Medium, "event "+r.Name
	if r.Verb == "deletecollection" || r.Name == "" {
		sev, what = High, "all events"
	}
	where := " in " + r.Namespace
	if r.Namespace == "" {
		where, sev = " in every namespace", High
	}
	emit(Alert{
		Time: r.Time, Rule: RulePersistenceChange, Category: CategoryPersistence, Severity: sev, Score: 20,
		Subject: r.Actor().Username, Namespace: r.Namespace,
		Message:  specActorText(r) + " deleted " + what + where + ": events expire on their own, deleting them hides what happened",
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r))},
		MITRE:    []string{"T1070"},
		Key:      "events " + r.Namespace,
	})
}

func (d *specPersistenceDetector) configMap(r *event.APIRequest, emit Emit) {
	var sev Severity
	var what string
	var mitre []string
	switch r.Name {
	case "coredns", "kube-dns", "coredns-custom", "node-local-dns":
		sev, what, mitre = High, "the cluster DNS configuration: any service or external name can be pointed at another address", []string{"T1565.001"}
	case "aws-auth":
		sev, what, mitre = Critical, "the EKS identity mapping: it maps cloud identities to Kubernetes users and groups, system:masters included", []string{"T1098"}
	default:
		return
	}
	if d.sys.systemRequest(r) || !specJudged(r) {
		return
	}
	emit(Alert{
		Time: r.Time, Rule: RulePersistenceChange, Category: CategoryPersistence, Severity: sev, Score: 40,
		Subject: r.Actor().Username, Namespace: r.Namespace,
		Message:  specActorText(r) + " " + specPastTense(r.Verb) + " ConfigMap kube-system/" + r.Name + ", " + what,
		Evidence: []Evidence{specAuditEvidence(r, specRequestLine(r))},
		MITRE:    mitre,
		Key:      "configmap " + r.Name,
	})
}
