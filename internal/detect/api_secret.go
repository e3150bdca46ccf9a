package detect

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiSecretDetector raises secret.access for secrets listed cluster-wide or
// in kube-system, read by an identity that never read secrets before, or
// read in bulk (many distinct names in a short window).
type apiSecretDetector struct {
	ids       *apiIdentities
	threshold int
	seed      maphash.Seed

	mu    sync.Mutex
	reads *apiWindows
}

func newAPISecretDetector(o APIOptions, ids *apiIdentities) *apiSecretDetector {
	return &apiSecretDetector{
		ids:       ids,
		threshold: o.SecretBurstThreshold,
		seed:      maphash.MakeSeed(),
		reads:     newAPIWindows("secret.access readers", o.SecretBurstWindow, max(4*o.SecretBurstThreshold, 32), o.MaxTracked, o.Logger),
	}
}

// Rules implements Detector.
func (*apiSecretDetector) Rules() []Rule {
	return []Rule{{ID: RuleSecretAccess, Category: CategorySecret, Severity: Critical, MITRE: []string{"T1552.007", "T1613"},
		Summary: "secrets listed cluster-wide or in kube-system, read by an identity that never read secrets, or many distinct secrets read in a short window"}}
}

// API implements APIDetector.
func (d *apiSecretDetector) API(s *State, r *event.APIRequest, emit Emit) {
	if r.Resource != "secrets" || r.APIGroup != "" || r.Subresource != "" || !apiReadVerb(r.Verb) {
		return
	}
	if baseline.OutcomeOf(r) != baseline.OutcomeAuthorized {
		return // denied reads are rbac.denied's
	}
	a := r.Actor()
	kind := d.ids.kind(a)
	if kind == apiSystem || kind == apiAnonymous {
		// Controllers and nodes read secrets by design (the node authorizer
		// limits kubelets to their pods' secrets); anonymous reads are
		// api.unauthenticated's.
		return
	}
	t := apiTime(r)
	var sp *baseline.SubjectProfile
	learning := true
	if s.Profiles != nil {
		if sp = s.Profiles.Subject(a.Username); sp != nil {
			learning = s.Learning(t, sp.Seen.First, sp.Seen.Count)
		}
	}
	// Broad reads by an identity still learning (the global window, or its
	// own warm-up) are what the baseline is for: an operator that watches
	// every secret (cert-manager, an ingress controller) would otherwise be
	// the loudest alert of every benign week.
	broad := !learning && r.Verb != "get" && (r.Namespace == "" || r.Namespace == "kube-system")
	first := !learning && !apiReadSecretsBefore(sp, r)
	if broad || first {
		emit(d.accessAlert(s, r, kind, sp, broad, first, learning))
	}
	d.burst(s, r, kind, t, emit)
}

// apiReadSecretsBefore reports whether the subject's baseline has any read
// of secrets. The exact call is tried first (the usual answer); the scan
// only runs for a call shape the subject never made.
func apiReadSecretsBefore(sp *baseline.SubjectProfile, r *event.APIRequest) bool {
	if sp == nil {
		return false
	}
	if sp.Calls[baseline.CallKey{Verb: r.Verb, Resource: "secrets", Namespace: r.Namespace}] != nil {
		return true
	}
	for k := range sp.Calls {
		if k.Resource == "secrets" && k.APIGroup == "" && k.Subresource == "" && apiReadVerb(k.Verb) {
			return true
		}
	}
	return false
}

func (d *apiSecretDetector) accessAlert(s *State, r *event.APIRequest, kind apiIDKind, sp *baseline.SubjectProfile, broad, first, learning bool) Alert {
	var sev Severity
	var score float64
	var b strings.Builder
	b.WriteString(apiActorName(r) + " (" + apiKindWord(kind) + ") ")
	key := "first read"
	mitre := []string{"T1552.007"}
	if broad {
		key = "broad " + r.Verb + " " + r.Namespace
		mitre = append(mitre, "T1613")
		sev, score = High, 30
		if kind == apiServiceAccount {
			sev, score = Critical, 40
		}
		where := "in every namespace"
		if r.Namespace != "" {
			where = "in " + r.Namespace
		}
		b.WriteString(r.Verb + " secrets " + where + ": every credential there in one call")
		if known := sp != nil && !learning && sp.Calls[baseline.CallKey{Verb: r.Verb, Resource: "secrets", Namespace: r.Namespace}] != nil; known {
			sev, score = Low, 5
			b.WriteString(" (it has done so since " + sp.Seen.First.UTC().Format(time.DateOnly) + "; allowlist it if this is its job)")
		} else if first {
			b.WriteString(", and it never read a secret before")
			score += 10
		}
	} else {
		sev, score = Medium, 10
		if kind == apiServiceAccount {
			sev, score = High, 20
		}
		b.WriteString("read secrets for the first time: " + apiDescribe(r) +
			" (baseline since " + sp.Seen.First.UTC().Format(time.DateOnly) + " has no secret reads)")
	}
	return Alert{
		Time:      apiTime(r),
		Rule:      RuleSecretAccess,
		Category:  CategorySecret,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message:   b.String(),
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     mitre,
		Key:       key,
	}
}

// burst counts distinct secrets (a list or watch of a namespace counts as
// that namespace's every secret) per subject in a sliding window.
func (d *apiSecretDetector) burst(s *State, r *event.APIRequest, kind apiIDKind, t time.Time, emit Emit) {
	var item string
	switch {
	case r.Namespace == "":
		return // cluster-wide: already an alert of its own
	case r.Verb == "get" && r.Name != "":
		if strings.HasPrefix(r.Name, "sh.helm.release.v1.") {
			return // Helm keeps release history in secrets and reads it in bulk
		}
		item = r.Namespace + "/" + r.Name
	default:
		item = r.Namespace + "/*"
	}
	user := r.Actor().Username
	d.mu.Lock()
	defer d.mu.Unlock()
	e, fresh := d.reads.add(user, maphash.String(d.seed, item), t)
	if fresh {
		e.sample(item)
		e.addEvidence(apiEvidence(r, ""))
	}
	if e.distinct() < d.threshold || e.fired {
		return
	}
	e.fired = true
	sev, score := High, float64(min(e.distinct(), 50))
	if kind == apiServiceAccount {
		sev, score = Critical, score+20
	}
	emit(Alert{
		Time:      t,
		Rule:      RuleSecretAccess,
		Category:  CategorySecret,
		Severity:  sev,
		Score:     score,
		Subject:   user,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message: apiActorName(r) + " (" + apiKindWord(kind) + ") read " + apiPlural(e.distinct(), "distinct secret") +
			" in " + apiShortDuration(e.last.Sub(e.start)) + " (" + apiJoinList(e.samples, e.more) + "): credential harvesting",
		Evidence: append([]Evidence(nil), e.evidence...),
		MITRE:    []string{"T1552.007"},
		Key:      "burst",
	})
}
