package proc

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// The query parameters of pods/exec and pods/attach mirror k8s.io/api
// core/v1 PodExecOptions and PodAttachOptions (stdin, stdout, stderr, tty,
// container, command), which the API server converts from the request URI
// (k8s.io/kubernetes pkg/registry/core/pod/rest/subresources.go ExecREST,
// AttachREST); kubectl and client-go encode them with url.Values, so spaces
// may arrive as "+" or "%20".
func TestFromAudit(t *testing.T) {
	recv := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		req  event.APIRequest
		ok   bool
		want event.Exec
	}{
		{
			name: "exec with a shell command",
			req: event.APIRequest{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "shop", Name: "web-1",
				RequestURI: "/api/v1/namespaces/shop/pods/web-1/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=web&stdin=true&stdout=true&tty=true",
				Received:   recv, Time: recv.Add(5 * time.Second)},
			ok: true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "shop", Pod: "web-1", Container: "web",
				Executable: "sh", Args: []string{"-c", "cat /etc/shadow"}},
		},
		{
			name: "plus is a space, container before command, websocket get",
			req: event.APIRequest{Verb: "get", Resource: "pods", Subresource: "exec", Namespace: "default", Name: "debug",
				RequestURI: "/api/v1/namespaces/default/pods/debug/exec?container=app&command=bash&command=-c&command=curl+-s+http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F&stdout=true",
				Time:       recv},
			ok: true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "default", Pod: "debug", Container: "app",
				Executable: "bash", Args: []string{"-c", "curl -s http://169.254.169.254/latest/meta-data/"}},
		},
		{
			name: "no container: the API server picks the default one",
			req: event.APIRequest{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "probe-ns", Name: "p1",
				RequestURI: "/api/v1/namespaces/probe-ns/pods/p1/exec?command=id&stdout=true", Received: recv},
			ok:   true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "probe-ns", Pod: "p1", Executable: "id"},
		},
		{
			name: "bad escape kept as written",
			req: event.APIRequest{Resource: "pods", Subresource: "exec", Namespace: "a", Name: "b",
				RequestURI: "/api/v1/namespaces/a/pods/b/exec?command=echo&command=100%zz", Received: recv},
			ok:   true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "a", Pod: "b", Executable: "echo", Args: []string{"100%zz"}},
		},
		{
			name: "objectRef missing: namespace and pod from the path",
			req: event.APIRequest{Resource: "pods", Subresource: "exec",
				RequestURI: "/api/v1/namespaces/kube-system/pods/etcd-cp-1/exec?command=etcdctl&command=get&command=%2F&command=--prefix", Received: recv},
			ok: true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "kube-system", Pod: "etcd-cp-1",
				Executable: "etcdctl", Args: []string{"get", "/", "--prefix"}},
		},
		{
			name: "attach: a container, no command",
			req: event.APIRequest{Verb: "create", Resource: "pods", Subresource: "attach", Namespace: "shop", Name: "web-1",
				RequestURI: "/api/v1/namespaces/shop/pods/web-1/attach?container=web&stdin=true&stdout=true&tty=true&command=ignored", Received: recv},
			ok:   true,
			want: event.Exec{Source: "audit", Time: recv, Namespace: "shop", Pod: "web-1", Container: "web"},
		},
		{name: "port-forward is not an exec", ok: false,
			req: event.APIRequest{Resource: "pods", Subresource: "portforward", Namespace: "a", Name: "b", RequestURI: "/api/v1/namespaces/a/pods/b/portforward?ports=5432"}},
		{name: "pod log is not an exec", ok: false,
			req: event.APIRequest{Resource: "pods", Subresource: "log", Namespace: "a", Name: "b", RequestURI: "/api/v1/namespaces/a/pods/b/log?command=x"}},
		{name: "a pod create is not an exec", ok: false,
			req: event.APIRequest{Verb: "create", Resource: "pods", Namespace: "a", RequestURI: "/api/v1/namespaces/a/pods"}},
		{name: "exec of another group's pods resource", ok: false,
			req: event.APIRequest{APIGroup: "metrics.k8s.io", Resource: "pods", Subresource: "exec", RequestURI: "/apis/metrics.k8s.io/v1beta1/namespaces/a/pods/b/exec"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := FromAudit(&tc.req)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				if got.Source != "" || got.Executable != "" {
					t.Fatalf("not an exec, but got %+v", got)
				}
				return
			}
			if g, w := summary(&got), summary(&tc.want); g != w {
				t.Fatalf("\n got: %s\nwant: %s", g, w)
			}
			if (got.Args == nil) != (tc.want.Args == nil) {
				t.Fatalf("Args = %#v, want %#v", got.Args, tc.want.Args)
			}
		})
	}
	if _, ok := FromAudit(nil); ok {
		t.Fatal("FromAudit(nil) reported an exec")
	}
}

// TestFromAuditRecorded runs FromAudit over the exec requests a real
// kube-apiserver v1.37.2 recorded (see ../shared/fixtures/README.md from
// the repository root), decoded by the audit source.
func TestFromAuditRecorded(t *testing.T) {
	const fixture = "../../../../shared/fixtures/audit/kube-apiserver-v1.37.2.jsonl.gz"
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	d := audit.NewDecoder(audit.Options{})
	var got []string
	if err := d.DecodeFiles([]string{filepath.Clean(fixture)}, func(r *event.APIRequest) error {
		if e, ok := FromAudit(r); ok {
			got = append(got, r.Verb+" "+summary(&e)[31:]) // without the timestamp
			if e.Time.IsZero() {
				t.Errorf("%s: no time", r.RequestURI)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	got = slices.Compact(got)
	want := []string{
		`create audit ns=probe-ns pod=p1 container=c pid=0 uid=0 exe=cat args=["/etc/passwd"]`,
		`create audit ns=probe-ns pod=p1 container=c pid=0 uid=0 exe=true args=[]`,
		`create audit ns=probe-ns pod=p1 pid=0 uid=0 exe=id args=[]`,
		`get audit ns=probe-ns pod=p1 container=c pid=0 uid=0 exe=cat args=["/etc/passwd"]`,
		`get audit ns=probe-ns pod=p1 container=c pid=0 uid=0 exe=true args=[]`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("exec requests in the recorded log:\n got: %q\nwant: %q", got, want)
	}
}
