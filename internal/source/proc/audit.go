package proc

import (
	"net/url"
	"strings"

	"github.com/kubedelta/kubedelta/internal/event"
)

// FromAudit returns the process an audit record of a pods/exec request asked
// the kubelet to start, or for pods/attach the container it asked to attach
// to (then Executable is empty), and false for any other request.
//
// The command is the repeated command= parameters of the request URI, in
// order and URL-decoded, as kubectl exec and client-go send them
// (k8s.io/api core/v1 PodExecOptions, converted from the query by the API
// server); container= names the container. Namespace and Pod come from the
// record's objectRef, or from the URI path when objectRef lacks them.
// Source is "audit"; Time is when the API server received the request.
//
// The request is converted whether or not it was allowed or succeeded: the
// caller decides what a denied exec means (event.APIRequest.Succeeded,
// Forbidden). An audit log holds several stages of one exec request; pass
// one of them.
func FromAudit(r *event.APIRequest) (event.Exec, bool) {
	if r == nil || r.Resource != "pods" || r.APIGroup != "" || (r.Subresource != "exec" && r.Subresource != "attach") {
		return event.Exec{}, false
	}
	e := event.Exec{Source: "audit", Time: r.Received, Namespace: r.Namespace, Pod: r.Name}
	if e.Time.IsZero() {
		e.Time = r.Time
	}
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if e.Namespace == "" || e.Pod == "" {
		ns, pod := podFromPath(path)
		e.Namespace, e.Pod = first(e.Namespace, ns), first(e.Pod, pod)
	}
	var command []string
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "command":
			command = append(command, queryValue(v))
		case "container":
			e.Container = queryValue(v)
		}
	}
	if r.Subresource == "exec" && len(command) > 0 {
		e.Executable = command[0]
		if len(command) > 1 {
			e.Args = command[1:]
		}
	}
	return e, true
}

// queryValue decodes one query value ("+" is a space); a value that does
// not decode is kept as written.
func queryValue(v string) string {
	if strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0 {
		return v
	}
	if d, err := url.QueryUnescape(v); err == nil {
		return d
	}
	return v
}

// podFromPath reads the namespace and pod name from an API path
// /api/v1/namespaces/{namespace}/pods/{name}/{subresource}.
func podFromPath(p string) (namespace, pod string) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i := 0; i+3 < len(parts); i++ {
		if parts[i] == "namespaces" && parts[i+2] == "pods" {
			ns, err1 := url.PathUnescape(parts[i+1])
			name, err2 := url.PathUnescape(parts[i+3])
			if err1 != nil || err2 != nil {
				return "", ""
			}
			return ns, name
		}
	}
	return "", ""
}
