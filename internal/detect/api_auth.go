package detect

import (
	"net/netip"
	"strings"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiUnauthDetector raises api.unauthenticated for requests whose credentials
// the API server rejected (401) and for anonymous requests it allowed.
type apiUnauthDetector struct{}

// Rules implements Detector.
func (apiUnauthDetector) Rules() []Rule {
	return []Rule{{ID: RuleAPIUnauthenticated, Category: CategoryAPI, Severity: Critical, MITRE: []string{"T1078.001", "T1110"},
		Summary: "a request failed authentication (401), or an anonymous request was allowed beyond health, version and OIDC discovery endpoints"}}
}

// API implements APIDetector.
func (apiUnauthDetector) API(_ *State, r *event.APIRequest, emit Emit) {
	if r.Code == 401 {
		if baseline.OutcomeOf(r) == baseline.OutcomeUnauthenticated {
			emit(apiFailedAuthAlert(r))
		}
		return
	}
	a := r.Actor()
	// Anonymous requests are named system:anonymous; the group alone
	// marks an impersonated (or proxy-asserted) unauthenticated identity,
	// so the groups are only read when the name says nothing.
	if a.Username != apiAnonymousUser && (a.Username != "" && r.Impersonated.IsZero() || !apiHasUnauthGroup(a.Groups)) {
		return
	}
	if baseline.OutcomeOf(r) != baseline.OutcomeAuthorized {
		return // denied anonymous requests are rbac.denied's
	}
	if !r.IsResource() && apiPublicPath(r.Path) {
		return
	}
	emit(apiAnonymousAlert(r))
}

func apiHasUnauthGroup(groups []string) bool {
	for _, g := range groups {
		if g == apiUnauthGroup {
			return true
		}
	}
	return false
}

// apiPublicPath reports whether an anonymous request to path is expected:
// the health, version and OIDC discovery endpoints that the default
// system:public-info-viewer and system:service-account-issuer-discovery
// ClusterRoles grant to everyone.
func apiPublicPath(path string) bool {
	path, _, _ = strings.Cut(path, "?")
	switch path {
	case "/healthz", "/livez", "/readyz", "/version", "/version/",
		"/.well-known/openid-configuration", "/openid/v1/jwks":
		return true
	}
	for _, p := range [...]string{"/healthz/", "/livez/", "/readyz/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// apiDiscoveryPath reports whether path is API discovery (/api, /apis/…,
// /openapi/…): granted to authenticated users by default, and to anonymous
// ones only when someone bound system:discovery more widely.
func apiDiscoveryPath(path string) bool {
	path, _, _ = strings.Cut(path, "?")
	return path == "/api" || path == "/apis" || strings.HasPrefix(path, "/api/") ||
		strings.HasPrefix(path, "/apis/") || path == "/openapi" || strings.HasPrefix(path, "/openapi/")
}

func apiFailedAuthAlert(r *event.APIRequest) Alert {
	src := apiFirstSource(r)
	sev, score := Low, 10.0
	where := "from " + src
	if ip, err := netip.ParseAddr(src); err == nil && apiPublicAddr(ip) {
		sev, score = Medium, 20
		where = "from the public address " + src
	}
	if src == "" {
		where = "from an unknown address"
	}
	why := r.Reason
	if why == "" {
		why = "authentication failed"
	}
	msg := "a request " + where + " was rejected with 401 (" + apiClip(why, 80) + ") for " + apiDescribe(r) +
		": a revoked, expired or stolen token, or credential guessing"
	return Alert{
		Time:      apiTime(r),
		Rule:      RuleAPIUnauthenticated,
		Category:  CategoryAPI,
		Severity:  sev,
		Score:     score,
		Subject:   r.User.Username,
		Namespace: r.Namespace,
		Message:   msg,
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     []string{"T1110", "T1078"},
		Key:       "401 from " + src,
	}
}

func apiAnonymousAlert(r *event.APIRequest) Alert {
	sev, score := High, 20.0
	why := "anonymous access reaches the API: check --anonymous-auth and bindings to system:anonymous or system:unauthenticated"
	switch {
	case apiWriteVerb(r.Verb):
		sev, score = Critical, 40
		why = "anonymous clients can change the cluster: a binding grants system:anonymous or system:unauthenticated write access"
	case !r.IsResource() && apiDiscoveryPath(r.Path):
		sev, score = Medium, 0
		why = "API discovery is open to anonymous clients (system:discovery bound to system:unauthenticated?)"
	case r.Resource == "secrets":
		score = 40
	}
	if reason := apiSensitive(r.Verb, r.APIGroup, r.Resource, r.Subresource); reason != "" && sev < Critical {
		sev = apiBump(sev, 1)
		why += "; it reaches " + reason
	}
	msg := "anonymous request allowed: " + apiDescribe(r) + " from " + apiFirstSource(r) + " — " + why
	if r.AuthzReason != "" {
		msg += " (" + apiClip(r.AuthzReason, 120) + ")"
	}
	return Alert{
		Time:      apiTime(r),
		Rule:      RuleAPIUnauthenticated,
		Category:  CategoryAPI,
		Severity:  sev,
		Score:     score,
		Subject:   r.Actor().Username,
		Namespace: r.Namespace,
		Message:   msg,
		Evidence:  []Evidence{apiEvidence(r, "")},
		MITRE:     []string{"T1078.001"},
		Key:       "anonymous " + apiActionKey(r),
	}
}

// apiPublicAddr reports whether ip is a routable internet address: not
// private, loopback, link-local, CGNAT (100.64.0.0/10, which some cloud
// providers use for pods) or unspecified.
func apiPublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() {
		return false
	}
	if ip.Is4() {
		b := ip.As4()
		if b[0] == 100 && b[1]&0xC0 == 64 {
			return false
		}
	}
	return true
}
