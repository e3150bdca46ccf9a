package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiNoveltyDetector raises api.novel-call for a call shape a subject never
// made, and api.novel-agent for a client or address it never used, once
// the subject is past learning and warm-up (a service account's token used
// with a person's tool or from outside its pods is reported during its
// warm-up too, after the global learning window). Kubernetes' own
// components and anonymous requests are not judged (see apiIDKind and
// api.unauthenticated).
type apiNoveltyDetector struct {
	ids *apiIdentities
}

// Rules implements Detector.
func (*apiNoveltyDetector) Rules() []Rule {
	return []Rule{
		{ID: RuleAPINovelCall, Category: CategoryAPI, Severity: High, MITRE: []string{"T1078", "T1613", "T1552.007", "T1609", "T1098", "T1610"},
			Summary: "an identity made a (verb, group, resource, subresource, namespace) call outside its learned baseline"},
		{ID: RuleAPINovelAgent, Category: CategoryAPI, Severity: High, MITRE: []string{"T1078", "T1528"},
			Summary: "an identity used a client (user agent) or source address outside its baseline; a service account's token used from outside its pods or with kubectl is a stolen-token signal"},
	}
}

// API implements APIDetector.
func (d *apiNoveltyDetector) API(s *State, r *event.APIRequest, emit Emit) {
	if s.Profiles == nil {
		return
	}
	a := r.Actor()
	kind := d.ids.kind(a)
	if kind == apiSystem || kind == apiAnonymous {
		return
	}
	t := apiTime(r)
	if c := s.Config; c != nil && !c.LearnUntil.IsZero() && t.Before(c.LearnUntil) {
		return // the global learning window
	}
	sp := s.Profiles.Subject(a.Username)
	if sp == nil {
		// A new subject starts its warm-up; only the checks that need no
		// history (apiNoveltyDetector.agent) apply.
		sp = &baseline.SubjectProfile{}
	}
	warm := s.Learning(t, sp.Seen.First, sp.Seen.Count)
	if !warm && r.IsResource() && baseline.OutcomeOf(r) == baseline.OutcomeAuthorized {
		k := baseline.CallKey{Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource, Subresource: r.Subresource, Namespace: r.Namespace}
		if sp.Calls[k] == nil {
			emit(apiNovelCallAlert(s, r, kind, sp))
		}
	}
	if warm && kind != apiServiceAccount && !apiOffensiveTool(apiProduct(r.UserAgent)) {
		return
	}
	d.agent(s, r, kind, sp, t, warm, emit)
}

func apiNovelCallAlert(s *State, r *event.APIRequest, kind apiIDKind, sp *baseline.SubjectProfile) Alert {
	sev, score := Low, 10.0
	if kind == apiServiceAccount {
		sev, score = Medium, 20
	}
	why := apiSensitive(r.Verb, r.APIGroup, r.Resource, r.Subresource)
	if why != "" {
		sev = apiBump(sev, 1)
		score += 20
	}
	if apiWriteVerb(r.Verb) {
		score += 5
	}
	newNS := r.Namespace != "" && !apiKnowsNamespace(sp, r.Namespace)
	if newNS {
		score += 10
	}
	var b strings.Builder
	b.WriteString(apiActorName(r) + " (" + apiKindWord(kind) + ") made a call outside its baseline: " + apiDescribe(r))
	if newNS {
		b.WriteString(", in a namespace it never used")
	}
	if why != "" {
		b.WriteString(", which reaches " + why)
	}
	b.WriteString(" (baseline: " + apiPlural(len(sp.Calls), "call shape") + " since " + sp.Seen.First.UTC().Format(time.DateOnly) + ")")
	verb := r.Verb
	if apiReadVerb(verb) {
		verb = "read"
	}
	return Alert{
		Time:      apiTime(r),
		Rule:      RuleAPINovelCall,
		Category:  CategoryAPI,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message:   b.String(),
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     apiMITRE(r),
		// Namespaces fold: one alert per new kind of action.
		Key: verb + " " + apiResourceName(r.APIGroup, r.Resource, r.Subresource),
	}
}

// apiKnowsNamespace reports whether the subject made any call in ns. It
// scans the profile: only called for calls already found novel.
func apiKnowsNamespace(sp *baseline.SubjectProfile, ns string) bool {
	for k := range sp.Calls {
		if k.Namespace == ns {
			return true
		}
	}
	return false
}

// agent judges the user agent and source addresses of a subject. During
// the subject's warm-up (warm), when there is no history to compare with,
// only what needs none is reported: an attack tool's user agent, and a
// service account's token used with a person's tool or from where its pods
// are not (another workload's pod, a public address) — a token stolen
// before its account was ever used is still a stolen token.
func (d *apiNoveltyDetector) agent(s *State, r *event.APIRequest, kind apiIDKind, sp *baseline.SubjectProfile, t time.Time, warm bool, emit Emit) {
	var newAgent string
	if ua := r.UserAgent; ua != "" && sp.Agents[ua] == nil && !apiKnownProduct(sp, ua) {
		p := apiProduct(ua)
		if !warm || apiOffensiveTool(p) || (kind == apiServiceAccount && apiManualClient(p)) {
			newAgent = ua
		}
	}
	var buf [4]netip.Addr
	var newAddr netip.Addr
	var where string
	var addrSev Severity
	for _, ip := range apiSourceAddrs(r, buf[:]) {
		if sp.SourceIPs[ip] != nil {
			continue
		}
		if sev, w, novel := apiJudgeAddr(s, r, kind, sp, ip, t); novel && (!warm || sev >= High) && (!newAddr.IsValid() || sev > addrSev) {
			newAddr, where, addrSev = ip, w, sev
		}
	}
	if newAgent == "" && !newAddr.IsValid() {
		return
	}
	sev, score := Low, 10.0
	if kind == apiServiceAccount {
		sev, score = Medium, 20
	}
	var parts []string
	var keys []string
	mitre := []string{"T1078"}
	if newAgent != "" {
		p := apiProduct(newAgent)
		keys = append(keys, "agent "+p)
		parts = append(parts, "with a client it never used ("+apiClip(newAgent, 80)+")")
		switch {
		case apiOffensiveTool(p):
			sev, score = High, score+30
			parts[len(parts)-1] += ", an attack or secret-scanning tool"
		case kind == apiServiceAccount && apiManualClient(p):
			sev, score = High, score+20
			parts[len(parts)-1] += ", a person's tool with a workload's token"
			mitre = append(mitre, "T1528")
		}
	}
	if newAddr.IsValid() {
		keys = append(keys, "address "+apiAddrBucket(newAddr))
		parts = append(parts, "from "+where)
		if addrSev > sev {
			sev = addrSev
		}
		if kind == apiServiceAccount && addrSev >= High {
			score += 20
			mitre = append(mitre, "T1528")
		}
	}
	if newAgent != "" && newAddr.IsValid() && sev < High {
		// A new machine and a new tool at once.
		sev = apiBump(sev, 1)
	}
	msg := apiActorName(r) + " (" + apiKindWord(kind) + ") " + strings.Join(parts, " and ") + ": " + apiDescribe(r)
	if kind == apiServiceAccount && sev >= High {
		msg += " — its token is likely in someone else's hands"
	}
	emit(Alert{
		Time:      t,
		Rule:      RuleAPINovelAgent,
		Category:  CategoryAPI,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Workload:  apiSourceWorkload(s, r),
		Message:   msg,
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     mitre,
		Key:       strings.Join(keys, " "),
	})
}

// apiJudgeAddr says whether a source address never seen for the subject is
// worth an alert, how bad it is and how to describe it. A service account
// is expected at the addresses of pods running as it (every pod restart
// brings a new one); a person at addresses near the ones seen before.
func apiJudgeAddr(s *State, r *event.APIRequest, kind apiIDKind, sp *baseline.SubjectProfile, ip netip.Addr, t time.Time) (Severity, string, bool) {
	user := r.Actor().Username
	if kind == apiServiceAccount {
		ns, name, _ := apiServiceAccountOf(user)
		if s.Index != nil {
			ep := s.Index.ResolveIP(ip, t)
			switch ep.Kind {
			case cluster.EndpointPod:
				if ep.Pod.Namespace == ns && apiPodSA(ep.Pod.Spec.ServiceAccountName) == name {
					return 0, "", false
				}
				return High, ip.String() + ", the address of pod " + ep.Pod.Namespace + "/" + ep.Pod.Name +
					" which runs as service account " + apiPodSA(ep.Pod.Spec.ServiceAccountName), true
			case cluster.EndpointNode:
				if apiHostNetworkSA(s, ns, name, ip) {
					return 0, "", false
				}
				return Medium, ip.String() + ", a node address, where no host-network pod runs as it", true
			case cluster.EndpointService:
				return Medium, ip.String() + ", a Service address", true
			}
			if apiPublicAddr(ip) {
				return High, ip.String() + ", a public address outside the cluster", true
			}
			return Medium, ip.String() + ", an address outside the cluster's pods and nodes", true
		}
		// No inventory: pods of one workload share the pod network's /16.
		if apiNearKnown(sp, ip, 16, 48) {
			return 0, "", false
		}
		if apiPublicAddr(ip) {
			return High, ip.String() + ", a public address", true
		}
		return Medium, ip.String() + ", a network it never came from", true
	}
	if apiNearKnown(sp, ip, 24, 64) {
		return 0, "", false
	}
	return Low, ip.String() + ", a network it never came from", true
}

// apiPodSA is the service account a pod runs as.
func apiPodSA(name string) string {
	if name == "" {
		return "default"
	}
	return name
}

// apiHostNetworkSA reports whether a host-network pod of the service
// account runs on the node with address ip (its requests come from there).
func apiHostNetworkSA(s *State, ns, name string, ip netip.Addr) bool {
	for _, p := range s.Index.PodsInNamespace(ns) {
		if p.Spec.HostNetwork && apiPodSA(p.Spec.ServiceAccountName) == name && p.Status.HostIP == ip.String() {
			return true
		}
	}
	return false
}

// apiNearKnown reports whether ip shares a /v4Bits (IPv4) or /v6Bits
// (IPv6) prefix with an address the subject came from.
func apiNearKnown(sp *baseline.SubjectProfile, ip netip.Addr, v4Bits, v6Bits int) bool {
	bits := v6Bits
	if ip.Is4() {
		bits = v4Bits
	}
	pre, err := ip.Prefix(bits)
	if err != nil {
		return false
	}
	for k := range sp.SourceIPs {
		if pre.Contains(k.Unmap()) {
			return true
		}
	}
	return false
}

// apiAddrBucket is the /24 (IPv4) or /64 (IPv6) of ip: repeats from one
// network fold into one alert.
func apiAddrBucket(ip netip.Addr) string {
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	if p, err := ip.Prefix(bits); err == nil {
		return p.String()
	}
	return ip.String()
}

// apiProduct is a user agent's product name without version:
// "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07" → "kubectl".
func apiProduct(ua string) string {
	if i := strings.IndexAny(ua, "/ "); i > 0 {
		ua = ua[:i]
	}
	return strings.ToLower(ua)
}

// apiKnownProduct reports whether the subject used another version of the
// same client (an upgrade is not a new client). It scans the agents: only
// reached for an agent string never seen.
func apiKnownProduct(sp *baseline.SubjectProfile, ua string) bool {
	p := apiProduct(ua)
	for k := range sp.Agents {
		if apiProduct(k) == p {
			return true
		}
	}
	return false
}

// apiManualClient reports whether a product is a tool people type into,
// rather than a controller's client library.
func apiManualClient(p string) bool {
	switch p {
	case "kubectl", "curl", "wget", "python-requests", "python-urllib", "httpie", "postmanruntime",
		"insomnia", "k9s", "lens", "helm", "openlens", "headlamp":
		return true
	}
	return strings.HasPrefix(p, "kubectl")
}

// apiOffensiveTool reports whether a product is a known enumeration, attack
// or secret-scanning tool's user agent.
func apiOffensiveTool(p string) bool {
	switch p {
	case "access_matrix", "trufflehog", "azurehound", "micro-scanner", "kube-hunter", "peirates",
		"kubeletctl", "kubiscan", "kdigger", "cdk":
		return true
	}
	return false
}
