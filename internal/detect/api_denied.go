package detect

import (
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiDeniedDetector raises rbac.denied for each distinct forbidden action of a
// subject and rbac.denied-burst when one subject, or one source address,
// collects many distinct denials or permission reviews in a short window.
type apiDeniedDetector struct {
	ids       *apiIdentities
	threshold int
	seed      maphash.Seed

	mu        sync.Mutex
	bySubject *apiWindows
	bySource  *apiWindows
}

func newAPIDeniedDetector(o APIOptions, ids *apiIdentities) *apiDeniedDetector {
	perKey := max(4*o.DeniedBurstThreshold, 32)
	return &apiDeniedDetector{
		ids:       ids,
		threshold: o.DeniedBurstThreshold,
		seed:      maphash.MakeSeed(),
		bySubject: newAPIWindows("rbac.denied-burst subjects", o.DeniedBurstWindow, perKey, o.MaxTracked, o.Logger),
		bySource:  newAPIWindows("rbac.denied-burst source addresses", o.DeniedBurstWindow, perKey, o.MaxTracked, o.Logger),
	}
}

// Rules implements Detector.
func (d *apiDeniedDetector) Rules() []Rule {
	return []Rule{
		{ID: RuleRBACDenied, Category: CategoryRBAC, Severity: High, MITRE: []string{"T1613", "T1552.007", "T1609", "T1098", "T1610"},
			Summary: "a request was forbidden by authorization (403); service accounts and sensitive resources rank higher"},
		{ID: RuleRBACDeniedBurst, Category: CategoryRBAC, Severity: Critical, MITRE: []string{"T1613"},
			Summary: "one identity or source address was denied many distinct actions, or asked for its own permissions many times, in a short window: permission enumeration"},
	}
}

// API implements APIDetector.
func (d *apiDeniedDetector) API(s *State, r *event.APIRequest, emit Emit) {
	review := false
	if r.Code != 403 && r.Decision != "forbid" {
		if r.Verb != "create" || !apiReview(r.APIGroup, r.Resource) {
			return // the common path: two or three comparisons
		}
		if baseline.OutcomeOf(r) != baseline.OutcomeAuthorized {
			return
		}
		review = true
	} else if baseline.OutcomeOf(r) != baseline.OutcomeForbidden {
		return
	}
	kind := d.ids.kind(r.Actor())
	if !review {
		d.denied(s, r, kind, emit)
	}
	if kind == apiSystem {
		// Control-plane components are denied in bunches while the API
		// server starts (before its RBAC caches fill): not enumeration.
		return
	}
	d.burst(s, r, kind, review, emit)
}

// denied emits rbac.denied for one forbidden request.
func (d *apiDeniedDetector) denied(s *State, r *event.APIRequest, kind apiIDKind, emit Emit) {
	sev, score := Low, 10.0
	switch kind {
	case apiServiceAccount:
		sev, score = Medium, 20
	case apiSystem:
		sev, score = Info, 0
	}
	why := apiSensitive(r.Verb, r.APIGroup, r.Resource, r.Subresource)
	if why != "" && kind != apiSystem {
		sev = apiBump(sev, 1)
		score += 20
	}
	if apiWriteVerb(r.Verb) {
		score += 5
	}
	if r.IsResource() && r.Namespace == "" {
		score += 5
	}
	var b strings.Builder
	b.WriteString(apiActorName(r))
	b.WriteString(" (" + apiKindWord(kind) + ") was denied " + apiDescribe(r))
	if why != "" {
		b.WriteString(", which reaches " + why)
	}
	switch kind {
	case apiServiceAccount:
		b.WriteString(": a workload identity should never be denied — its token may be in other hands, or its RBAC no longer matches its code")
	case apiSystem:
		b.WriteString(": a Kubernetes component, usually a start-up race")
	case apiAnonymous:
		b.WriteString(": an unauthenticated client probing the API")
	}
	emit(Alert{
		Time:      apiTime(r),
		Rule:      RuleRBACDenied,
		Category:  CategoryRBAC,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message:   b.String(),
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     apiMITRE(r),
		// One alert per subject (the issue: "aggregated per subject"); the
		// evidence lists the distinct denied actions.
		Key: "denied",
	})
}

// apiMITRE names the techniques an attempted action belongs to.
func apiMITRE(r *event.APIRequest) []string {
	switch {
	case r.Resource == "secrets" || (r.Resource == "serviceaccounts" && r.Subresource == "token"):
		return []string{"T1552.007"}
	case r.Resource == "pods" && (r.Subresource == "exec" || r.Subresource == "attach"):
		return []string{"T1609"}
	case apiRBACResource(r.APIGroup, r.Resource) || r.Verb == "impersonate":
		return []string{"T1098"}
	case apiWorkloadResource(r.APIGroup, r.Resource) && apiWriteVerb(r.Verb):
		return []string{"T1610"}
	}
	return []string{"T1613"}
}

// burst records a denial or a review in the subject's and the source's
// apiWindows and raises rbac.denied-burst when one fills.
func (d *apiDeniedDetector) burst(s *State, r *event.APIRequest, kind apiIDKind, review bool, emit Emit) {
	t := apiTime(r)
	var h uint64
	if review {
		// Every review counts: one review answers one question.
		h = maphash.String(d.seed, r.AuditID+"\x00"+strconv.FormatInt(t.UnixNano(), 10))
	} else {
		h = maphash.String(d.seed, apiActionKey(r))
	}
	what := apiDescribeAction(r)
	user := r.Actor().Username
	src := apiFirstSource(r)
	ev := apiEvidence(r, "")

	d.mu.Lock()
	defer d.mu.Unlock()
	if kind != apiAnonymous && user != "" {
		e, fresh := d.bySubject.add(user, h, t)
		apiNote(e, fresh, review, what, ev, user)
		if e.distinct() >= d.threshold && !e.fired {
			e.fired = true
			emit(d.subjectAlert(s, r, kind, e))
		}
	}
	if src != "" && (kind == apiAnonymous || apiSharedSource(s, src, t)) {
		e, fresh := d.bySource.add(src, h, t)
		apiNote(e, fresh, review, what, ev, user)
		if e.distinct() >= d.threshold && !e.fired && (len(e.subjects) >= 2 || kind == apiAnonymous) {
			e.fired = true
			emit(d.sourceAlert(s, r, kind, src, e))
		}
	}
}

// apiSharedSource reports whether several identities at one source address
// would mean several credentials in one pair of hands: not for loopback
// (clients on the API server's host) nor node addresses, which every
// host-network pod of the node shares (known when the inventory is given).
func apiSharedSource(s *State, src string, t time.Time) bool {
	ip, err := netip.ParseAddr(src)
	if err != nil {
		return true
	}
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return false
	}
	return s.Index == nil || s.Index.ResolveIP(ip, t).Kind != cluster.EndpointNode
}

// apiNote adds one event's details to an episode.
func apiNote(e *apiEpisode, fresh, review bool, what string, ev Evidence, user string) {
	if review {
		e.reviews++
	} else {
		e.denials++
	}
	if user != "" {
		e.addSubject(user)
	}
	if fresh {
		e.sample(what)
		e.addEvidence(ev)
	}
}

func (d *apiDeniedDetector) subjectAlert(s *State, r *event.APIRequest, kind apiIDKind, e *apiEpisode) Alert {
	sev := High
	score := float64(min(e.distinct(), 50))
	if kind == apiServiceAccount {
		sev = Critical
		score += 20
	}
	user := r.Actor().Username
	msg := user + " (" + apiKindWord(kind) + ") " + apiEpisodeSummary(e) + ": permission enumeration"
	if kind == apiServiceAccount {
		msg += " with a workload's token"
	}
	return Alert{
		Time:      apiTime(r),
		Rule:      RuleRBACDeniedBurst,
		Category:  CategoryRBAC,
		Severity:  sev,
		Score:     score,
		Subject:   user,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message:   msg,
		Evidence:  append([]Evidence(nil), e.evidence...),
		MITRE:     []string{"T1613"},
		Key:       "subject",
	}
}

func (d *apiDeniedDetector) sourceAlert(s *State, r *event.APIRequest, kind apiIDKind, src string, e *apiEpisode) Alert {
	sev := High
	score := float64(min(e.distinct(), 50))
	subject := ""
	who := strconv.Itoa(len(e.subjects)) + " identities (" + strings.Join(e.subjects, ", ") + ")"
	if kind == apiAnonymous && len(e.subjects) <= 1 {
		subject = r.Actor().Username
		who = "anonymous clients"
	}
	for _, u := range e.subjects {
		if _, _, ok := apiServiceAccountOf(u); ok {
			sev = Critical
			score += 20
			break
		}
	}
	return Alert{
		Time:     apiTime(r),
		Rule:     RuleRBACDeniedBurst,
		Category: CategoryRBAC,
		Severity: sev,
		Score:    score,
		Subject:  subject,
		Workload: apiSourceWorkload(s, r),
		Message:  who + " from " + src + " " + apiEpisodeSummary(e) + ": permission enumeration from one address",
		Evidence: append([]Evidence(nil), e.evidence...),
		MITRE:    []string{"T1613"},
		Key:      "source " + src,
	}
}

// apiEpisodeSummary is "was denied 14 requests across 9 actions in 2m (list
// secrets, get configmaps -n kube-system, …)", with reviews counted.
func apiEpisodeSummary(e *apiEpisode) string {
	var b strings.Builder
	switch {
	case e.denials > 0 && e.reviews > 0:
		b.WriteString("was denied " + apiPlural(e.denials, "request") + " and asked for its permissions " + apiPlural(e.reviews, "time"))
	case e.reviews > 0:
		b.WriteString("asked for its permissions " + apiPlural(e.reviews, "time"))
	default:
		b.WriteString("was denied " + apiPlural(e.denials, "request"))
	}
	if e.denials > 0 {
		b.WriteString(" across " + apiPlural(e.distinct(), "distinct probe"))
	}
	b.WriteString(" in " + apiShortDuration(e.last.Sub(e.start)))
	b.WriteString(" (" + apiJoinList(e.samples, e.more) + ")")
	return b.String()
}

// apiDescribeAction is describe without the object name: what a burst lists.
func apiDescribeAction(r *event.APIRequest) string {
	if !r.IsResource() {
		return r.Verb + " " + r.Path
	}
	s := r.Verb + " " + apiResourceName(r.APIGroup, r.Resource, r.Subresource)
	switch {
	case r.Namespace != "":
		s += " -n " + r.Namespace
	case r.Verb == "list" || r.Verb == "watch":
		s += " cluster-wide"
	}
	return s
}

// apiPlural is "1 request", "3 requests".
func apiPlural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// apiShortDuration prints a duration the way a person says it: "40s", "2m",
// "1h5m".
func apiShortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "under a second"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int((d+30*time.Second)/time.Minute)) + "m"
	}
	h := int(d / time.Hour)
	m := int((d % time.Hour) / time.Minute)
	if m == 0 {
		return strconv.Itoa(h) + "h"
	}
	return strconv.Itoa(h) + "h" + strconv.Itoa(m) + "m"
}
