package sim

import (
	"time"
)

// The audit log is what kube-apiserver's log backend writes with
// --audit-log-format=json: one audit.k8s.io/v1 Event per line, fields in the
// order of the Go struct (k8s.io/apiserver/pkg/apis/audit/v1 types.go),
// strings escaped as encoding/json escapes them. The policy it follows is a
// recommended one: RequestResponse for pods, workloads, RBAC objects,
// webhook configurations and CSRs (request and response bodies), Metadata
// for everything else; long-running requests (watch, exec, logs) have a
// ResponseStarted and a ResponseComplete event.

// actor is an authenticated client: who it is, where it connects from, what
// it says it is, and the RBAC reason the API server gives for allowing it.
type actor struct {
	username string
	user     []byte // the user object, for a fixed credential
	ip, ua   string
	reason   string
	ann      []byte // extra annotation members: ,"key":"value"

	// A bound service account token, refreshed every period: the user
	// object is pre + "JTI=<jti>" + post.
	tok       *tokenSched
	pre, post []byte
	cacheIdx  int64
	cacheUser []byte
}

// tokenSched is when a bound token was issued: first, then every period
// (kubelets and the controller manager refresh tokens at 80% of their
// hour). Token i's JTI is derived from seed and i.
type tokenSched struct {
	first, period int64
	seed          uint64
}

func (ts *tokenSched) index(t int64) int64 {
	if t < ts.first {
		return 0
	}
	return (t - ts.first) / ts.period
}

func (ts *tokenSched) jti(i int64) [36]byte {
	r := rng{s: ts.seed ^ uint64(i)*0x9e3779b97f4a7c15}
	var b [36]byte
	r.uuidTo(b[:])
	return b
}

// userAt returns the user object as authenticated at t.
func (a *actor) userAt(t int64) []byte {
	if a.tok == nil {
		return a.user
	}
	i := a.tok.index(t)
	if a.cacheUser != nil && i == a.cacheIdx {
		return a.cacheUser
	}
	j := a.tok.jti(i)
	b := append(a.cacheUser[:0], a.pre...)
	b = append(b, j[:]...)
	a.cacheUser, a.cacheIdx = append(b, a.post...), i
	return a.cacheUser
}

// renderUser renders a user object; extra keys must be given sorted.
func renderUser(username, uid string, groups []string, extra ...string) []byte {
	b := []byte(`{"username":`)
	b = appendStr(b, username, true)
	if uid != "" {
		b = append(b, `,"uid":`...)
		b = appendStr(b, uid, true)
	}
	if len(groups) > 0 {
		b = append(b, `,"groups":`...)
		b = appendStrList(b, groups, true)
	}
	if len(extra) > 0 {
		b = append(b, `,"extra":{`...)
		for i := 0; i+1 < len(extra); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, extra[i], true)
			b = append(b, `:[`...)
			b = appendStr(b, extra[i+1], true)
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func saGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// boundActor is a service account authenticated by a bound token: the user
// object carries the token's JTI and, for tokens bound to a pod, the pod and
// its node.
func boundActor(sa *serviceAccount, ts *tokenSched, p *pod, ip, ua, reason string) *actor {
	a := &actor{username: sa.username(), ip: ip, ua: ua, reason: reason, tok: ts}
	full := renderUser(sa.username(), sa.uid, saGroups(sa.ns), "authentication.kubernetes.io/credential-id", "JTI=@")
	if p != nil {
		full = renderUser(sa.username(), sa.uid, saGroups(sa.ns),
			"authentication.kubernetes.io/credential-id", "JTI=@",
			"authentication.kubernetes.io/node-name", p.node.name,
			"authentication.kubernetes.io/node-uid", p.node.uid,
			"authentication.kubernetes.io/pod-name", p.name,
			"authentication.kubernetes.io/pod-uid", p.uid)
	}
	for i := range full {
		if full[i] == '@' {
			a.pre, a.post = full[:i:i], full[i+1:]
			break
		}
	}
	return a
}

func x509Actor(username string, groups []string, sha, ip, ua, reason string) *actor {
	return &actor{username: username, user: renderUser(username, "", groups, "authentication.kubernetes.io/credential-id", "X509SHA256="+sha),
		ip: ip, ua: ua, reason: reason}
}

// call is one API request.
type call struct {
	who     *actor
	verb    string
	uri     []byte
	ref     []byte // objectRef, or nil for a non-resource request
	code    int
	status  []byte // responseStatus; nil means {"metadata":{},"code":code}
	level   string // "" means Metadata
	reqObj  []byte
	respObj []byte
	reason  string // authorization reason; "" means the actor's
	forbid  bool
	ann     []byte // extra annotation members
	imp     []byte // impersonatedUser
	ip, ua  string // override the actor's
}

const (
	levelMetadata        = "Metadata"
	levelRequestResponse = "RequestResponse"
)

// request renders a request that completes lat after recv.
func (e *engine) request(s *source, c *call, recv int64, lat int64) {
	var id [36]byte
	s.rng.uuidTo(id[:])
	e.auditEvent(s, c, id[:], "ResponseComplete", recv, recv+lat)
}

// longRequest renders a long-running request (watch, exec, logs): its
// response starts lat after recv and completes dur after recv.
func (e *engine) longRequest(s *source, c *call, recv, lat, dur int64) {
	var id [36]byte
	s.rng.uuidTo(id[:])
	e.auditEvent(s, c, id[:], "ResponseStarted", recv, recv+lat)
	e.auditEvent(s, c, id[:], "ResponseComplete", recv, recv+dur)
}

func (e *engine) auditEvent(s *source, c *call, id []byte, stage string, recv, at int64) {
	if !e.enabled(stAudit) {
		return
	}
	b := s.buf()
	off := len(b)
	level := c.level
	if level == "" {
		level = levelMetadata
	}
	b = append(b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"`...)
	b = append(b, level...)
	b = append(b, `","auditID":"`...)
	b = append(b, id...)
	b = append(b, `","stage":"`...)
	b = append(b, stage...)
	b = append(b, `","requestURI":`...)
	b = appendStr(b, c.uri, true)
	b = append(b, `,"verb":"`...)
	b = append(b, c.verb...)
	b = append(b, `","user":`...)
	b = append(b, c.who.userAt(recv)...)
	if c.imp != nil {
		b = append(b, `,"impersonatedUser":`...)
		b = append(b, c.imp...)
	}
	ip, ua := c.who.ip, c.who.ua
	if c.ip != "" {
		ip = c.ip
	}
	if c.ua != "" {
		ua = c.ua
	}
	b = append(b, `,"sourceIPs":["`...)
	b = append(b, ip...)
	b = append(b, `"],"userAgent":`...)
	b = appendStr(b, ua, true)
	if c.ref != nil {
		b = append(b, `,"objectRef":`...)
		b = append(b, c.ref...)
	}
	b = append(b, `,"responseStatus":`...)
	switch {
	case c.status != nil:
		b = append(b, c.status...)
	default:
		code := c.code
		if code == 0 {
			code = 200
		}
		b = append(b, `{"metadata":{},"code":`...)
		b = appendInt(b, int64(code))
		b = append(b, '}')
	}
	if c.reqObj != nil && level == levelRequestResponse {
		b = append(b, `,"requestObject":`...)
		b = append(b, c.reqObj...)
	}
	if c.respObj != nil && level == levelRequestResponse && stage == "ResponseComplete" {
		b = append(b, `,"responseObject":`...)
		b = append(b, c.respObj...)
	}
	b = append(b, `,"requestReceivedTimestamp":`...)
	b = e.tf.micro(b, recv)
	b = append(b, `,"stageTimestamp":`...)
	b = e.tf.micro(b, at)
	if c.forbid {
		b = append(b, `,"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""`...)
	} else {
		b = append(b, `,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":`...)
		reason := c.reason
		if reason == "" {
			reason = c.who.reason
		}
		b = appendStr(b, reason, true)
	}
	b = append(b, c.who.ann...)
	b = append(b, c.ann...)
	b = append(b, "}}"...)
	s.commit(b, off, stAudit, at)
}

// ref renders an objectRef (fields in the order of audit.ObjectReference).
func ref(group, version, resource, ns, name, sub string) []byte {
	return refFull(group, version, resource, ns, name, "", "", sub)
}

// refFull renders an objectRef with the uid and resourceVersion the API
// server fills in from the request body of an update.
func refFull(group, version, resource, ns, name, uid, rv, sub string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"resource":`...)
	b = appendStr(b, resource, true)
	if ns != "" {
		b = append(b, `,"namespace":`...)
		b = appendStr(b, ns, true)
	}
	if name != "" {
		b = append(b, `,"name":`...)
		b = appendStr(b, name, true)
	}
	if uid != "" {
		b = append(b, `,"uid":`...)
		b = appendStr(b, uid, true)
	}
	if group != "" {
		b = append(b, `,"apiGroup":`...)
		b = appendStr(b, group, true)
	}
	b = append(b, `,"apiVersion":`...)
	b = appendStr(b, version, true)
	if rv != "" {
		b = append(b, `,"resourceVersion":`...)
		b = appendStr(b, rv, true)
	}
	if sub != "" {
		b = append(b, `,"subresource":`...)
		b = appendStr(b, sub, true)
	}
	return append(b, '}')
}

// path appends the URL path of a resource request.
func path(b []byte, group, version, resource, ns, name, sub string) []byte {
	if group == "" {
		b = append(b, "/api/"...)
	} else {
		b = append(b, "/apis/"...)
		b = append(b, group...)
		b = append(b, '/')
	}
	b = append(b, version...)
	if resource == "namespaces" {
		b = append(b, "/namespaces"...)
		if name != "" {
			b = append(b, '/')
			b = append(b, name...)
		}
	} else {
		if ns != "" {
			b = append(b, "/namespaces/"...)
			b = append(b, ns...)
		}
		b = append(b, '/')
		b = append(b, resource...)
		if name != "" {
			b = append(b, '/')
			b = append(b, name...)
		}
	}
	if sub != "" {
		b = append(b, '/')
		b = append(b, sub...)
	}
	return b
}

// res names an API resource and builds its paths and objectRefs.
type res struct{ group, version, resource string }

var (
	rPods        = res{"", "v1", "pods"}
	rNodes       = res{"", "v1", "nodes"}
	rServices    = res{"", "v1", "services"}
	rEndpoints   = res{"", "v1", "endpoints"}
	rConfigMaps  = res{"", "v1", "configmaps"}
	rSecrets     = res{"", "v1", "secrets"}
	rNamespaces  = res{"", "v1", "namespaces"}
	rEvents      = res{"", "v1", "events"}
	rSAs         = res{"", "v1", "serviceaccounts"}
	rPVCs        = res{"", "v1", "persistentvolumeclaims"}
	rPVs         = res{"", "v1", "persistentvolumes"}
	rLeases      = res{"coordination.k8s.io", "v1", "leases"}
	rDeployments = res{"apps", "v1", "deployments"}
	rReplicaSets = res{"apps", "v1", "replicasets"}
	rStatefulSet = res{"apps", "v1", "statefulsets"}
	rDaemonSets  = res{"apps", "v1", "daemonsets"}
	rCtrlRevs    = res{"apps", "v1", "controllerrevisions"}
	rJobs        = res{"batch", "v1", "jobs"}
	rCronJobs    = res{"batch", "v1", "cronjobs"}
	rSlices      = res{"discovery.k8s.io", "v1", "endpointslices"}
	rNetpols     = res{"networking.k8s.io", "v1", "networkpolicies"}
	rIngresses   = res{"networking.k8s.io", "v1", "ingresses"}
	rRoles       = res{"rbac.authorization.k8s.io", "v1", "roles"}
	rRBs         = res{"rbac.authorization.k8s.io", "v1", "rolebindings"}
	rCRs         = res{"rbac.authorization.k8s.io", "v1", "clusterroles"}
	rCRBs        = res{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"}
	rCSRs        = res{"certificates.k8s.io", "v1", "certificatesigningrequests"}
	rMWCs        = res{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"}
	rVWCs        = res{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"}
	rSSRR        = res{"authorization.k8s.io", "v1", "selfsubjectrulesreviews"}
	rCRDs        = res{"apiextensions.k8s.io", "v1", "customresourcedefinitions"}
	rStorage     = res{"storage.k8s.io", "v1", "storageclasses"}
	rCSINodes    = res{"storage.k8s.io", "v1", "csinodes"}
	rPriority    = res{"scheduling.k8s.io", "v1", "priorityclasses"}
	rAPIServices = res{"apiregistration.k8s.io", "v1", "apiservices"}
	rFlowSchemas = res{"flowcontrol.apiserver.k8s.io", "v1", "flowschemas"}
	rCiliumEPs   = res{"cilium.io", "v2", "ciliumendpoints"}
	rCiliumIDs   = res{"cilium.io", "v2", "ciliumidentities"}
	rCiliumNodes = res{"cilium.io", "v2", "ciliumnodes"}
	rCerts       = res{"cert-manager.io", "v1", "certificates"}
	rIssuers     = res{"cert-manager.io", "v1", "clusterissuers"}
)

func (r res) ref(ns, name, sub string) []byte {
	return ref(r.group, r.version, r.resource, ns, name, sub)
}

func (r res) path(ns, name, sub string) []byte {
	return path(nil, r.group, r.version, r.resource, ns, name, sub)
}

// uri is the path with a query string appended (already encoded).
func (r res) uri(ns, name, sub, query string) []byte {
	b := path(nil, r.group, r.version, r.resource, ns, name, sub)
	if query != "" {
		b = append(b, '?')
		b = append(b, query...)
	}
	return b
}

// forbidden is the Status the API server answers a request RBAC denied
// (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters
// ForbiddenStatusError), as responseStatus.
func forbidden(user, verb string, r res, ns, name, sub string) []byte {
	resource := r.resource
	if sub != "" {
		resource += "/" + sub
	}
	qualified := r.resource
	if r.group != "" {
		qualified += "." + r.group
	}
	msg := qualified
	if name != "" {
		msg += ` "` + name + `"`
	}
	msg += " is forbidden: User \"" + user + "\" cannot " + verb + " resource \"" + resource + "\" in API group \"" + r.group + "\""
	if ns != "" {
		msg += " in the namespace \"" + ns + "\""
	} else {
		msg += " at the cluster scope"
	}
	b := []byte(`{"metadata":{},"status":"Failure","message":`)
	b = appendStr(b, msg, true)
	b = append(b, `,"reason":"Forbidden","details":{`...)
	first := true
	if name != "" {
		b = append(b, `"name":`...)
		b = appendStr(b, name, true)
		first = false
	}
	if r.group != "" {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"group":`...)
		b = appendStr(b, r.group, true)
		first = false
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, `"kind":`...)
	b = appendStr(b, r.resource, true)
	return append(b, `},"code":403}`...)
}

// deletedStatus is the responseStatus of a delete that removed the object
// at once: the API server answers a Status of Success naming it (a graceful
// delete, of a running pod, answers the object instead: code 200 only).
func deletedStatus(r res, name, uid string) []byte {
	b := []byte(`{"metadata":{},"status":"Success","details":{"name":`)
	b = appendStr(b, name, true)
	if r.group != "" {
		b = append(b, `,"group":`...)
		b = appendStr(b, r.group, true)
	}
	b = append(b, `,"kind":`...)
	b = appendStr(b, r.resource, true)
	b = append(b, `,"uid":`...)
	b = appendStr(b, uid, true)
	return append(b, `},"code":200}`...)
}

// watchQuery is a reflector's watch query string (client-go encodes
// parameters sorted by key), with resourceVersion rv and a timeout in
// [300, 600) seconds.
func watchQuery(b []byte, extra string, rv int64, timeout int) []byte {
	b = append(b, "allowWatchBookmarks=true"...)
	if extra != "" && extra < "resourceVersion" {
		b = append(b, '&')
		b = append(b, extra...)
	}
	b = append(b, "&resourceVersion="...)
	b = appendInt(b, rv)
	b = append(b, "&timeout="...)
	b = appendInt(b, int64(timeout/60))
	b = append(b, 'm')
	b = appendInt(b, int64(timeout%60))
	b = append(b, 's')
	b = append(b, "&timeoutSeconds="...)
	b = appendInt(b, int64(timeout))
	if extra != "" && extra >= "resourceVersion" {
		b = append(b, '&')
		b = append(b, extra...)
	}
	return append(b, "&watch=true"...)
}

// rvAt approximates the resourceVersion a client has seen at t.
func (e *engine) rvAt(t int64) int64 {
	return (t-e.w.created)/int64(2*time.Second) + 180
}
