package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// apiIDKind classifies who made a request, for the API rules.
type apiIDKind uint8

const (
	// apiUser: a person or an external system with its own credentials.
	apiUser apiIDKind = iota
	// apiServiceAccount: a service account outside kube-system — a workload
	// identity, whose behaviour is normally fixed.
	apiServiceAccount
	// apiAnonymous: system:anonymous or the system:unauthenticated group.
	apiAnonymous
	// apiSystem: Kubernetes' own components: system:apiserver,
	// system:kube-controller-manager, system:kube-scheduler, nodes
	// (system:node:*), every other "system:" user name, service accounts of
	// kube-system (controllers and add-ons), and configured extras.
	apiSystem
)

const (
	apiSAPrefix      = "system:serviceaccount:"
	apiAnonymousUser = "system:anonymous"
	apiUnauthGroup   = "system:unauthenticated"
)

// apiIdentities classifies user names; extra names come from
// APIOptions.SystemIdentities.
type apiIdentities struct {
	exact    []string
	prefixes []string
}

func newAPIIdentities(extra []string) *apiIdentities {
	ids := &apiIdentities{}
	for _, e := range extra {
		if p, ok := strings.CutSuffix(e, "*"); ok {
			ids.prefixes = append(ids.prefixes, p)
		} else if e != "" {
			ids.exact = append(ids.exact, e)
		}
	}
	return ids
}

// kind classifies id. It costs a few string comparisons: it runs on every
// event.
func (ids *apiIdentities) kind(id event.Identity) apiIDKind {
	u := id.Username
	if strings.HasPrefix(u, "system:") {
		switch {
		case u == apiAnonymousUser:
			return apiAnonymous
		case strings.HasPrefix(u, apiSAPrefix):
			if strings.HasPrefix(u[len(apiSAPrefix):], "kube-system:") {
				return apiSystem
			}
			if ids.extra(u) {
				return apiSystem
			}
			return apiServiceAccount
		}
		return apiSystem
	}
	for _, g := range id.Groups {
		if g == apiUnauthGroup {
			return apiAnonymous
		}
	}
	if ids.extra(u) {
		return apiSystem
	}
	return apiUser
}

func (ids *apiIdentities) extra(u string) bool {
	for _, e := range ids.exact {
		if u == e {
			return true
		}
	}
	for _, p := range ids.prefixes {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// apiServiceAccountOf splits "system:serviceaccount:ns:name".
func apiServiceAccountOf(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, apiSAPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}

// apiKindWord names an identity kind in messages.
func apiKindWord(k apiIDKind) string {
	switch k {
	case apiServiceAccount:
		return "service account"
	case apiAnonymous:
		return "anonymous user"
	case apiSystem:
		return "system component"
	}
	return "user"
}

// apiTime is the stage time of r, or its receive time.
func apiTime(r *event.APIRequest) time.Time {
	if r.Time.IsZero() {
		return r.Received
	}
	return r.Time
}

// apiActorName is the identity RBAC evaluated, with the impersonator named
// when there was one.
func apiActorName(r *event.APIRequest) string {
	a := r.Actor().Username
	if a == "" {
		a = "an unauthenticated client"
	}
	if !r.Impersonated.IsZero() {
		return a + " (impersonated by " + r.User.Username + ")"
	}
	return a
}

// apiResourceName is the resource as kubectl spells it: resource[.group][/sub].
func apiResourceName(group, resource, sub string) string {
	s := resource
	if group != "" {
		s += "." + group
	}
	if sub != "" {
		s += "/" + sub
	}
	return s
}

// apiActionKey is "verb resource[.group][/sub] [namespace]", or "verb path"
// for non-resource requests: what repeats of a finding share.
func apiActionKey(r *event.APIRequest) string {
	if !r.IsResource() {
		return r.Verb + " " + r.Path
	}
	k := r.Verb + " " + apiResourceName(r.APIGroup, r.Resource, r.Subresource)
	if r.Namespace != "" {
		k += " " + r.Namespace
	}
	return k
}

// apiDescribe says what r asked for, for messages: "list secrets
// cluster-wide", "get configmaps -n kube-system", "get /metrics".
func apiDescribe(r *event.APIRequest) string {
	if !r.IsResource() {
		return r.Verb + " " + r.Path
	}
	s := r.Verb + " " + apiResourceName(r.APIGroup, r.Resource, r.Subresource)
	if r.Name != "" {
		s += " " + r.Name
	}
	switch {
	case r.Namespace != "":
		s += " -n " + r.Namespace
	case r.Name == "" && r.Verb != "create":
		s += " cluster-wide"
	}
	return s
}

// apiSourceAddrs parses r's source addresses (the client first; the last one
// is the API server's direct peer, the only one a client cannot forge).
// The result aliases buf.
func apiSourceAddrs(r *event.APIRequest, buf []netip.Addr) []netip.Addr {
	out := buf[:0]
	for _, s := range r.SourceIPs {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	return out
}

// apiFirstSource is the first source address as written, or "".
func apiFirstSource(r *event.APIRequest) string {
	if len(r.SourceIPs) == 0 {
		return ""
	}
	return r.SourceIPs[0]
}

// apiEvidence is the evidence record of one audit event.
func apiEvidence(r *event.APIRequest, detail string) Evidence {
	if detail == "" {
		detail = apiDescribe(r)
	}
	d := apiActorName(r) + ": " + detail
	if src := apiFirstSource(r); src != "" {
		d += " from " + src
	}
	if r.UserAgent != "" {
		d += " (" + apiClip(r.UserAgent, 60) + ")"
	}
	if r.Code != 0 {
		d += " → " + strconv.Itoa(r.Code)
	}
	return Evidence{Kind: "audit", Time: apiTime(r), Ref: r.AuditID, Detail: d}
}

// apiSourceWorkload is the workload of the pod that held r's client address
// at the time, when the inventory knows it ("" otherwise).
func apiSourceWorkload(s *State, r *event.APIRequest) string {
	if s.Index == nil || len(r.SourceIPs) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(r.SourceIPs[0])
	if err != nil {
		return ""
	}
	ep := s.Index.ResolveIP(a.Unmap(), apiTime(r))
	if ep.Kind != cluster.EndpointPod {
		return ""
	}
	return ep.Workload.String()
}
