package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// decodeString decodes input with d and returns copies of the delivered
// events.
func decodeString(t *testing.T, d *Decoder, input string) []event.APIRequest {
	t.Helper()
	var out []event.APIRequest
	if err := d.Decode(strings.NewReader(input), "test", func(r *event.APIRequest) error {
		out = append(out, clone(r))
		return nil
	}); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return out
}

// stageEvent builds one stage of a request. Requests are told apart by id;
// every stage of a request shares its receive time, user, verb and URI.
func stageEvent(id, stage, verb, uri, objectRef string) string {
	recv := "2026-11-24T02:04:24.933720Z"
	if strings.HasPrefix(id, "spoof") { // the same auditID, sent at another time
		recv = "2026-11-24T02:05:" + id[len(id)-2:] + ".000001Z"
	}
	if objectRef != "" {
		objectRef = `"objectRef":` + objectRef + `,`
	}
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":%q,"requestURI":%q,"verb":%q,"user":{"username":"admin","groups":["system:masters"]},%s"responseStatus":{"code":200},"requestReceivedTimestamp":%q,"stageTimestamp":"2026-11-24T02:06:00.000000Z"}`,
		strings.TrimSuffix(strings.TrimSuffix(id, "-01"), "-02"), stage, uri, verb, objectRef, recv)
}

const (
	podsRef    = `{"resource":"pods","namespace":"ns","name":"p1","apiVersion":"v1"}`
	execRef    = `{"resource":"pods","namespace":"ns","name":"p1","apiVersion":"v1","subresource":"exec"}`
	attachRef  = `{"resource":"pods","namespace":"ns","name":"p1","apiVersion":"v1","subresource":"attach"}`
	logRef     = `{"resource":"pods","namespace":"ns","name":"p1","apiVersion":"v1","subresource":"log"}`
	leasesRef  = `{"resource":"leases","namespace":"kube-system","apiGroup":"coordination.k8s.io","apiVersion":"v1"}`
	rr, rs, rc = event.StageRequestReceived, event.StageResponseStarted, event.StageResponseComplete
)

// TestStagePolicy checks which stage of each request is delivered. The
// stage sequences are those the kube-apiserver writes: RequestReceived, then
// ResponseStarted only for long-running requests, then ResponseComplete, or
// Panic (mirrors k8s.io/apiserver/pkg/endpoints/filters/audit_test.go
// TestAudit: ResponseStarted only for the long-running watch; "panic
// longrunning" gives RequestReceived then Panic, "write+panic longrunning"
// gives RequestReceived, ResponseStarted, Panic).
func TestStagePolicy(t *testing.T) {
	tests := []struct {
		name         string
		lines        []string
		all          bool
		want         []string // auditID/stage delivered
		dup, skipped int64
	}{
		{"short request", []string{
			stageEvent("get", rr, "get", "/api/v1/namespaces/ns/pods/p1", podsRef),
			stageEvent("get", rc, "get", "/api/v1/namespaces/ns/pods/p1", podsRef),
		}, false, []string{"get/" + rc}, 0, 1},
		{"watch", []string{
			stageEvent("w", rr, "watch", "/apis/coordination.k8s.io/v1/leases?watch=true", leasesRef),
			stageEvent("w", rs, "watch", "/apis/coordination.k8s.io/v1/leases?watch=true", leasesRef),
			stageEvent("w", rc, "watch", "/apis/coordination.k8s.io/v1/leases?watch=true", leasesRef),
		}, false, []string{"w/" + rs}, 1, 1},
		{"exec (verb create, as in the fixture)", []string{
			stageEvent("x", rs, "create", "/api/v1/namespaces/ns/pods/p1/exec?command=id", execRef),
			stageEvent("x", rc, "create", "/api/v1/namespaces/ns/pods/p1/exec?command=id", execRef),
		}, false, []string{"x/" + rs}, 1, 0},
		{"exec (verb get, older clients)", []string{
			stageEvent("x", rs, "get", "/api/v1/namespaces/ns/pods/p1/exec?command=id", execRef),
			stageEvent("x", rc, "get", "/api/v1/namespaces/ns/pods/p1/exec?command=id", execRef),
		}, false, []string{"x/" + rs}, 1, 0},
		{"attach and log", []string{
			stageEvent("a", rs, "create", "/api/v1/namespaces/ns/pods/p1/attach", attachRef),
			stageEvent("l", rs, "get", "/api/v1/namespaces/ns/pods/p1/log?follow=true", logRef),
			stageEvent("a", rc, "create", "/api/v1/namespaces/ns/pods/p1/attach", attachRef),
			stageEvent("l", rc, "get", "/api/v1/namespaces/ns/pods/p1/log?follow=true", logRef),
		}, false, []string{"a/" + rs, "l/" + rs}, 2, 0},
		{"profiler path", []string{
			stageEvent("pp", rs, "get", "/debug/pprof/profile?seconds=30", ""),
			stageEvent("pp", rc, "get", "/debug/pprof/profile?seconds=30", ""),
		}, false, []string{"pp/" + rs}, 1, 0},
		{"ResponseStarted of a short request is not trusted", []string{
			stageEvent("g", rs, "get", "/api/v1/namespaces/ns/pods/p1", podsRef),
			stageEvent("g", rc, "get", "/api/v1/namespaces/ns/pods/p1", podsRef),
		}, false, []string{"g/" + rc}, 0, 1},
		{"panic of a short request", []string{
			stageEvent("p", rr, "delete", "/api/v1/namespaces/ns/pods/p1", podsRef),
			stageEvent("p", event.StagePanic, "delete", "/api/v1/namespaces/ns/pods/p1", podsRef),
		}, false, []string{"p/" + event.StagePanic}, 0, 1},
		{"panic of a watch before it started", []string{
			stageEvent("w", rr, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
			stageEvent("w", event.StagePanic, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
		}, false, []string{"w/" + event.StagePanic}, 0, 1},
		{"panic after a watch started: first delivered stage wins", []string{
			stageEvent("w", rs, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
			stageEvent("w", event.StagePanic, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
		}, false, []string{"w/" + rs}, 1, 0},
		{"webhook retry of the same event", []string{
			stageEvent("r", rc, "get", "/healthz", ""),
			stageEvent("r", rc, "get", "/healthz", ""),
		}, false, []string{"r/" + rc}, 1, 0},
		{"a client reusing an Audit-ID is not hidden", []string{
			stageEvent("spoof-01", rc, "get", "/api/v1/namespaces/ns/pods/p1", podsRef),
			stageEvent("spoof-02", rc, "delete", "/api/v1/namespaces/ns/pods/p1", podsRef),
		}, false, []string{"spoof/" + rc, "spoof/" + rc}, 0, 0},
		{"all stages", []string{
			stageEvent("w", rr, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
			stageEvent("w", rs, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
			stageEvent("w", rc, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
			stageEvent("w", rc, "watch", "/api/v1/pods?watch=1", `{"resource":"pods","apiVersion":"v1"}`),
		}, true, []string{"w/" + rr, "w/" + rs, "w/" + rc, "w/" + rc}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(Options{AllStages: tt.all})
			var got []string
			for _, r := range decodeString(t, d, strings.Join(tt.lines, "\n")) {
				got = append(got, r.AuditID+"/"+r.Stage)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("delivered %v, want %v", got, tt.want)
			}
			st := d.Stats()
			if st.Duplicates != tt.dup || st.SkippedStages != tt.skipped || st.Records != int64(len(tt.lines)) {
				t.Errorf("stats %+v, want %d duplicates, %d skipped, %d records", st, tt.dup, tt.skipped, len(tt.lines))
			}
		})
	}
}

// TestFieldMapping checks every APIRequest field on one event that has them
// all, with escapes, a percent-encoded non-resource path and a long message.
func TestFieldMapping(t *testing.T) {
	msg := strings.Repeat("é", 99) + "abcdef" // 204 bytes
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a-1","stage":"ResponseComplete",` +
		`"requestURI":"/logs/kube%2Dapiserver.log?tail=1\u0026x=y","verb":"get",` +
		`"user":{"username":"jos\u00e9@example.com","uid":"u-1","groups":["dev","system:authenticated"],"extra":{"k":["v"]}},` +
		`"impersonatedUser":{"username":"system:serviceaccount:ns:sa","groups":["system:serviceaccounts"]},` +
		`"sourceIPs":["10.0.0.1","192.168.1.2"],"userAgent":"kubectl/v1.37.2 (linux/amd64) kubernetes/$Format",` +
		`"responseStatus":{"metadata":{},"status":"Failure","message":"` + msg + `","code":403},` +
		`"requestObject":{"kind":"DeleteOptions"},` +
		`"requestReceivedTimestamp":"2026-11-24T02:04:24.933720Z","stageTimestamp":"2026-11-24T02:04:24.939092123Z",` +
		`"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"no RBAC policy matched","other":"x"}}`
	got := decodeString(t, NewDecoder(Options{}), line)
	if len(got) != 1 {
		t.Fatalf("delivered %d events, want 1", len(got))
	}
	want := event.APIRequest{
		AuditID: "a-1", Stage: rc, Level: "Request",
		Time:         time.Date(2026, 11, 24, 2, 4, 24, 939092123, time.UTC),
		Received:     time.Date(2026, 11, 24, 2, 4, 24, 933720000, time.UTC),
		User:         event.Identity{Username: "josé@example.com", UID: "u-1", Groups: []string{"dev", "system:authenticated"}},
		Impersonated: event.Identity{Username: "system:serviceaccount:ns:sa", Groups: []string{"system:serviceaccounts"}},
		SourceIPs:    []string{"10.0.0.1", "192.168.1.2"},
		UserAgent:    "kubectl/v1.37.2 (linux/amd64) kubernetes/$Format",
		Verb:         "get", RequestURI: "/logs/kube%2Dapiserver.log?tail=1&x=y",
		Path: "/logs/kube-apiserver.log",
		Code: 403, Reason: strings.Repeat("é", 99) + "ab...",
		Decision: "forbid", AuthzReason: "no RBAC policy matched",
	}
	if diff := diffRequest(&got[0], &want); diff != "" {
		t.Error(diff)
	}
	if got[0].RequestObject != nil {
		t.Errorf("RequestObject kept without KeepObjects: %s", got[0].RequestObject)
	}
	if a := got[0].Actor(); a.Username != "system:serviceaccount:ns:sa" {
		t.Errorf("Actor() = %q, want the impersonated service account", a.Username)
	}
}

// TestImpersonationFixture checks the fixture's impersonated requests: admin
// acting as alice, as kubectl --as writes them.
func TestImpersonationFixture(t *testing.T) {
	d := NewDecoder(Options{})
	var got []string
	if err := d.Decode(openFixture(t), "fixture", func(r *event.APIRequest) error {
		if !r.Impersonated.IsZero() {
			got = append(got, fmt.Sprintf("%s as %s %v: %s %s -> %s", r.User.Username, r.Impersonated.Username, r.Impersonated.Groups, r.Verb, r.Path+r.Resource, r.Actor().Username))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"admin as alice [system:authenticated]: get /version -> alice",
		"admin as alice [system:authenticated]: create selfsubjectaccessreviews -> alice",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestInputShapes decodes the same three events in each accepted shape.
func TestInputShapes(t *testing.T) {
	a := stageEvent("a", rc, "get", "/healthz", "")
	b := stageEvent("b", rc, "list", "/api/v1/pods", `{"resource":"pods","apiVersion":"v1"}`)
	c := stageEvent("c", rc, "create", "/api/v1/namespaces/ns/pods", `{"resource":"pods","namespace":"ns","apiVersion":"v1"}`)
	// The webhook backend does not repeat kind and apiVersion in items.
	item := func(s string) string {
		return strings.Replace(s, `"kind":"Event","apiVersion":"audit.k8s.io/v1",`, "", 1)
	}
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + item(a) + "," + item(b) + "," + c + `]}`
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(list), "", "  "); err != nil {
		t.Fatal(err)
	}
	listAB := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + item(a) + "," + item(b) + `]}`
	var prettyAB bytes.Buffer
	if err := json.Indent(&prettyAB, []byte(listAB), "", "\t"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, input string }{
		{"JSON lines", a + "\n" + b + "\n" + c + "\n"},
		{"CRLF, blank lines, no final newline", "\r\n" + a + "\r\n\r\n" + b + "\r\n" + c},
		{"byte order mark", "\xef\xbb\xbf" + a + "\n" + b + "\n" + c},
		{"EventList", list},
		{"pretty-printed EventList", pretty.String()},
		{"mixed: pretty list then a line", prettyAB.String() + "\n" + c + "\n"},
		{"mixed: line, list, line", a + "\n" + `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + item(b) + "]}\n" + c},
		{"several values on a line", a + " " + b + c},
		{"empty EventList between events", a + "\n" + `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":null}` + "\n" + b + "\n" + c},
		{"gzip", string(gzipped(t, a+"\n"+b+"\n"+c+"\n"))},
		{"concatenated gzip members", string(gzipped(t, a+"\n")) + string(gzipped(t, b+"\n"+c+"\n"))},
		{"gzip of a pretty-printed EventList", string(gzipped(t, pretty.String()))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(Options{})
			var ids []string
			for _, r := range decodeString(t, d, tt.input) {
				ids = append(ids, r.AuditID+":"+r.Verb)
			}
			if got := strings.Join(ids, " "); got != "a:get b:list c:create" {
				t.Errorf("delivered %q, want %q", got, "a:get b:list c:create")
			}
			if st := d.Stats(); st.Rejected != 0 || st.Records != 3 {
				t.Errorf("stats %+v, want 3 records and no rejects", st)
			}
		})
	}
}

// TestDecodeEventList checks the webhook entry point, including the same
// body posted twice (a retry).
func TestDecodeEventList(t *testing.T) {
	body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		stageEvent("a", rc, "get", "/healthz", "") + "," + `{"auditID":"b","stage":"Bogus"}` + "]}")
	d := NewDecoder(Options{})
	var ids []string
	fn := func(r *event.APIRequest) error { ids = append(ids, r.AuditID); return nil }
	for range 2 {
		if err := d.DecodeEventList(body, "webhook", fn); err != nil {
			t.Fatalf("DecodeEventList: %v", err)
		}
	}
	st := d.Stats()
	if fmt.Sprint(ids) != "[a]" || st.Duplicates != 1 || st.Rejected != 2 || st.Records != 4 {
		t.Errorf("delivered %v, stats %+v; want [a], 1 duplicate, 2 rejected of 4", ids, st)
	}
	if got, want := st.Errors[0].Error(), `webhook:1: items[1]: stage: unknown stage "Bogus": want RequestReceived, ResponseStarted, ResponseComplete or Panic`; got != want {
		t.Errorf("item error\n got: %s\nwant: %s", got, want)
	}

	bad := []struct{ body, want string }{
		{stageEvent("a", rc, "get", "/healthz", ""), `webhook:1: kind: "Event" is not an audit event: a webhook body must be an audit.k8s.io/v1 EventList`},
		{`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]} {}`, `webhook:1: invalid JSON at column 64: unexpected data after the EventList`},
		{`{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[]}`, `webhook:1: apiVersion: "audit.k8s.io/v1beta1" is not supported: audit.k8s.io/v1alpha1 and v1beta1 were removed in Kubernetes 1.24; configure the audit backend to write audit.k8s.io/v1`},
		{`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`, `webhook:1: items: invalid JSON at column 61: unexpected end of input: the body is incomplete`},
	}
	for _, tt := range bad {
		err := NewDecoder(Options{}).DecodeEventList([]byte(tt.body), "webhook", fn)
		if err == nil || err.Error() != tt.want {
			t.Errorf("DecodeEventList(%.40s...) = %v\nwant %s", tt.body, err, tt.want)
		}
	}
}

// TestCallbackErrorStops checks that an error from fn stops decoding and is
// returned as is.
func TestCallbackErrorStops(t *testing.T) {
	errStop := errors.New("stop")
	data := genEvents(10, 7, false)
	d := NewDecoder(Options{})
	n := 0
	err := d.Decode(bytes.NewReader(data), "gen", func(*event.APIRequest) error {
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || n != 3 {
		t.Errorf("Decode = %v after %d calls, want errStop after 3", err, n)
	}
}

// TestRetainedValues checks that strings and slices of delivered events stay
// valid after later events reused the decoder's buffers, as documented.
func TestRetainedValues(t *testing.T) {
	data := genEvents(3000, 11, true)
	type kept struct {
		id, uri, name, reason, path string
		groups, ips                 []string
	}
	var first []kept
	fn := func(r *event.APIRequest) error {
		first = append(first, kept{r.AuditID, r.RequestURI, r.Name, r.Reason, r.Path, r.User.Groups, r.SourceIPs})
		return nil
	}
	if err := NewDecoder(Options{KeepObjects: true}).Decode(bytes.NewReader(data), "gen", fn); err != nil {
		t.Fatal(err)
	}
	i := 0
	err := NewDecoder(Options{}).Decode(bytes.NewReader(data), "gen", func(r *event.APIRequest) error {
		k := kept{r.AuditID, r.RequestURI, r.Name, r.Reason, r.Path, r.User.Groups, r.SourceIPs}
		if fmt.Sprint(k) != fmt.Sprint(first[i]) {
			t.Fatalf("event %d: kept %v, now %v", i, first[i], k)
		}
		i++
		return nil
	})
	if err != nil || i != len(first) || i < 2900 {
		t.Fatalf("second pass: %v after %d of %d events", err, i, len(first))
	}
}

// A failed authentication is audited once, at ResponseStarted with code 401
// and no user (k8s.io/apiserver pkg/endpoints/filters
// WithFailedAuthenticationAudit); it must not be dropped as the
// ResponseStarted of a short request.
func TestFailedAuthenticationKept(t *testing.T) {
	line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"f1a2b3c4-0000-4000-8000-000000000401","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/kube-system/secrets","verb":"list","user":{},"sourceIPs":["203.0.113.9"],"userAgent":"curl/8.5.0","objectRef":{"resource":"secrets","namespace":"kube-system","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401},"requestReceivedTimestamp":"2026-11-23T10:00:00.000000Z","stageTimestamp":"2026-11-23T10:00:00.000100Z"}`
	d := NewDecoder(Options{})
	got := decodeString(t, d, line)
	if len(got) != 1 || got[0].Code != 401 || got[0].Stage != event.StageResponseStarted {
		t.Fatalf("delivered %+v, want the 401 event", got)
	}
	if st := d.Stats(); st.SkippedStages != 0 {
		t.Errorf("skipped %d stages, want 0", st.SkippedStages)
	}
}
