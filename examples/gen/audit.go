package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The audit log is what kube-apiserver's log backend writes with
// --audit-log-format=json and the policy in examples/audit-policy.yaml: one
// audit.k8s.io/v1 Event per line, in the order the stages were reached,
// fields in the order of the Go struct (k8s.io/apiserver/pkg/apis/audit/v1).

type userInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

type objectRef struct {
	Resource    string `json:"resource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

type statusDetails struct {
	Name  string `json:"name,omitempty"`
	Group string `json:"group,omitempty"`
	Kind  string `json:"kind,omitempty"`
}

type status struct {
	Metadata struct{}       `json:"metadata"`
	Status   string         `json:"status,omitempty"`
	Message  string         `json:"message,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Details  *statusDetails `json:"details,omitempty"`
	Code     int            `json:"code"`
}

type auditEvent struct {
	Kind                     string            `json:"kind"`
	APIVersion               string            `json:"apiVersion"`
	Level                    string            `json:"level"`
	AuditID                  string            `json:"auditID"`
	Stage                    string            `json:"stage"`
	RequestURI               string            `json:"requestURI"`
	Verb                     string            `json:"verb"`
	User                     userInfo          `json:"user"`
	SourceIPs                []string          `json:"sourceIPs,omitempty"`
	UserAgent                string            `json:"userAgent,omitempty"`
	ObjectRef                *objectRef        `json:"objectRef,omitempty"`
	ResponseStatus           *status           `json:"responseStatus,omitempty"`
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`

	at time.Time // stageTimestamp, for ordering
	n  int       // emission order, for ordering ties
}

// microTime formats like metav1.MicroTime: always six fractional digits.
func microTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }

// actor is an authenticated client: who it is, where it connects from, what
// it says it is, and what RBAC reason the API server gives for allowing it.
type actor struct {
	user   userInfo
	ip     string
	ua     string
	reason string
	// creds, when set, gives the credential in use at a time (bound service
	// account tokens rotate).
	creds *tokenSchedule
	// ann are annotations every request of the actor carries (legacy
	// service account tokens).
	ann map[string]string
}

// userAt returns the user as authenticated at t.
func (a *actor) userAt(t time.Time) userInfo {
	u := a.user
	if a.creds == nil {
		return u
	}
	u.Extra = map[string][]string{}
	for k, v := range a.user.Extra {
		u.Extra[k] = v
	}
	u.Extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + a.creds.at(t)}
	return u
}

// with returns a copy of a with another user agent.
func (a *actor) with(ua string) *actor {
	c := *a
	c.ua = ua
	return &c
}

// tokenSchedule is when a bound service account token was issued and its
// JTI. Requests use the newest token issued before them.
type tokenSchedule struct {
	times []time.Time
	jtis  []string
}

func (s *tokenSchedule) at(t time.Time) string {
	i := sort.Search(len(s.times), func(i int) bool { return s.times[i].After(t) })
	if i == 0 {
		return s.jtis[0]
	}
	return s.jtis[i-1]
}

// call is one API request.
type call struct {
	who  *actor
	at   time.Time     // requestReceivedTimestamp
	lat  time.Duration // until ResponseComplete, or ResponseStarted for long-running calls
	long time.Duration // long-running (watch, exec, log): until ResponseComplete
	verb string
	uri  string
	ref  *objectRef
	code int
	// forbidden makes the call a 403 with the API server's message.
	forbidden bool
	fail      *status // another failure
	reason    string  // overrides the actor's authorization reason
	ip, ua    string  // override the actor's
	level     string
	reqObj    json.RawMessage
	ann       map[string]string
}

type auditLogger struct {
	ids    *rng
	events []*auditEvent
}

func (l *auditLogger) emit(c call) {
	if c.code == 0 {
		c.code = 200
	}
	level := c.level
	if level == "" {
		level = "Metadata"
	}
	ann := map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": c.who.reason}
	if c.reason != "" {
		ann["authorization.k8s.io/reason"] = c.reason
	}
	for k, v := range c.who.ann {
		ann[k] = v
	}
	for k, v := range c.ann {
		ann[k] = v
	}
	st := &status{Code: c.code}
	if c.forbidden {
		st = forbidden(c.who.user.Username, c.verb, c.ref)
		ann["authorization.k8s.io/decision"] = "forbid"
		ann["authorization.k8s.io/reason"] = ""
	} else if c.fail != nil {
		st = c.fail
	}
	ip, ua := c.who.ip, c.who.ua
	if c.ip != "" {
		ip = c.ip
	}
	if c.ua != "" {
		ua = c.ua
	}
	id := l.ids.uuid()
	mk := func(stage string, at time.Time) {
		l.events = append(l.events, &auditEvent{
			Kind: "Event", APIVersion: "audit.k8s.io/v1", Level: level, AuditID: id, Stage: stage,
			RequestURI: c.uri, Verb: c.verb, User: c.who.userAt(c.at), SourceIPs: []string{ip}, UserAgent: ua,
			ObjectRef: c.ref, ResponseStatus: st, RequestObject: c.reqObj,
			RequestReceivedTimestamp: microTime(c.at), StageTimestamp: microTime(at), Annotations: ann,
			at: at, n: len(l.events),
		})
	}
	if c.long > 0 {
		mk("ResponseStarted", c.at.Add(c.lat))
		mk("ResponseComplete", c.at.Add(c.long))
		return
	}
	mk("ResponseComplete", c.at.Add(c.lat))
}

// forbidden is the Status the API server answers a request RBAC denied
// (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.ForbiddenStatusError).
func forbidden(user, verb string, ref *objectRef) *status {
	res := ref.Resource
	if ref.Subresource != "" {
		res += "/" + ref.Subresource
	}
	qualified := ref.Resource
	if ref.APIGroup != "" {
		qualified += "." + ref.APIGroup
	}
	var msg strings.Builder
	if ref.Name != "" {
		fmt.Fprintf(&msg, "%s %q is forbidden: ", qualified, ref.Name)
	} else {
		fmt.Fprintf(&msg, "%s is forbidden: ", qualified)
	}
	fmt.Fprintf(&msg, "User %q cannot %s resource %q in API group %q", user, verb, res, ref.APIGroup)
	if ref.Namespace != "" {
		fmt.Fprintf(&msg, " in the namespace %q", ref.Namespace)
	} else {
		msg.WriteString(" at the cluster scope")
	}
	return &status{Status: "Failure", Message: msg.String(), Reason: "Forbidden",
		Details: &statusDetails{Name: ref.Name, Group: ref.APIGroup, Kind: ref.Resource}, Code: 403}
}

// render keeps the events whose stage was reached within the day and writes
// them as JSON lines in the order the log backend wrote them.
func (l *auditLogger) render() ([]byte, error) {
	evs := make([]*auditEvent, 0, len(l.events))
	for _, e := range l.events {
		if !e.at.Before(dayStart) && e.at.Before(dayEnd) {
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].n < evs[j].n
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			return nil, fmt.Errorf("audit event %s: %w", e.AuditID, err)
		}
	}
	return buf.Bytes(), nil
}

// Request URIs, as clients build them.

func coreRef(ns, resource, name, sub string) *objectRef {
	return &objectRef{Resource: resource, Namespace: ns, Name: name, APIVersion: "v1", Subresource: sub}
}

func groupRef(group, ns, resource, name, sub string) *objectRef {
	return &objectRef{Resource: resource, Namespace: ns, Name: name, APIGroup: group, APIVersion: "v1", Subresource: sub}
}

// path is the URL path of ref. For a namespace object, objectRef.namespace
// is the namespace's own name and the path has no /namespaces/ prefix twice.
func path(ref *objectRef) string {
	p := "/api/v1"
	if ref.APIGroup != "" {
		p = "/apis/" + ref.APIGroup + "/" + ref.APIVersion
	}
	if ref.Resource == "namespaces" {
		p += "/namespaces"
		if ref.Name != "" {
			p += "/" + ref.Name
		}
	} else {
		if ref.Namespace != "" {
			p += "/namespaces/" + ref.Namespace
		}
		p += "/" + ref.Resource
		if ref.Name != "" {
			p += "/" + ref.Name
		}
	}
	if ref.Subresource != "" {
		p += "/" + ref.Subresource
	}
	return p
}

// query encodes params the way client-go does (url.Values: sorted by key).
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// watchURI is a reflector's watch request.
func watchURI(ref *objectRef, rv int64, timeout int, selectors ...string) string {
	kv := []string{"allowWatchBookmarks", "true", "resourceVersion", fmt.Sprint(rv),
		"timeout", (time.Duration(timeout) * time.Second).String(), "timeoutSeconds", fmt.Sprint(timeout), "watch", "true"}
	kv = append(kv, selectors...)
	return path(ref) + query(kv...)
}

// rvAt approximates the cluster's resourceVersion at t (about 30 writes a
// minute, like the object dump's).
func rvAt(t time.Time) int64 {
	return int64(t.Sub(at("2026-03-02T09:14:05Z")).Minutes()*30) + 180
}
