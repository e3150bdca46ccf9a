package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Secret values planted in the events below; none may appear in the output.
var planted = []string{
	"c3VwZXJzZWNyZXQ=",         // Secret data (base64 "supersecret")
	"supersecret",              // its plain text, in stringData and last-applied
	"aHVudGVyMg==",             // a second data key
	"bmV3LXBhc3N3b3Jk",         // a JSON patch value
	"cGF0Y2hlZA==",             // a merge patch value
	"eyJhbGciOiJSUzI1NiJ9.tr",  // TokenRequest status.token
	"eyJhbGciOiJSUzI1NiJ9.rev", // TokenReview spec.token
	"LS0tLS1CRUdJTiBLRVk=",     // client-key-data in a kubeconfig-like object
	"static-bearer-token",      // bearerToken
	"db-password-value",        // password
	"listed-secret-value",      // a Secret in a SecretList (items carry no kind)
	"late-kind-value",          // data before kind
	"escaped-key-value",        // "d\u0061ta"
	"table-annotation-secret",  // last-applied in a Table row of secrets
}

// auditLine wraps bodies into a RequestResponse event about resource/sub.
func auditLine(id, verb, resource, sub, reqObj, respObj string) string {
	ref := fmt.Sprintf(`{"resource":%q,"namespace":"prod","name":"db","apiVersion":"v1","subresource":%q}`, resource, sub)
	s := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":%q,"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/%s/db","verb":%q,"user":{"username":"admin"},"objectRef":%s,"responseStatus":{"metadata":{},"code":200}`, id, resource, verb, ref)
	if reqObj != "" {
		s += `,"requestObject":` + reqObj
	}
	if respObj != "" {
		s += `,"responseObject":` + respObj
	}
	return s + `,"requestReceivedTimestamp":"2026-11-24T02:04:24.933720Z","stageTimestamp":"2026-11-24T02:04:24.939092Z"}`
}

const (
	lastApplied = `{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"stringData\":{\"password\":\"supersecret\"}}`
	secretObj   = `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db","namespace":"prod","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"` + lastApplied + `","team":"payments"}},"data":{"password":"c3VwZXJzZWNyZXQ=","user":"aHVudGVyMg=="},"stringData":{"password":"supersecret"},"type":"Opaque"}`
)

// redactionEvents are real-shaped RequestResponse events that carry
// credentials, as the API server records them.
var redactionEvents = []struct {
	name, line string
	// wantResp is the exact redacted response body, if checked.
	wantResp string
}{
	{"create Secret", auditLine("s1", "create", "secrets", "", secretObj, secretObj),
		`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db","namespace":"prod","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"<redacted>","team":"payments"}},"data":{"password":"<redacted>","user":"<redacted>"},"stringData":{"password":"<redacted>"},"type":"Opaque"}`},
	{"list Secrets (SecretList items have no kind)", auditLine("s2", "list", "secrets", "", "",
		`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"},"data":{"k":"bGlzdGVkLXNlY3JldC12YWx1ZQ==","raw":"listed-secret-value"},"type":"Opaque"}]}`),
		`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"},"data":{"k":"<redacted>","raw":"<redacted>"},"type":"Opaque"}]}`},
	{"JSON patch of a Secret", auditLine("s3", "patch", "secrets", "",
		`[{"op":"replace","path":"/data/password","value":"bmV3LXBhc3N3b3Jk"},{"op":"remove","path":"/data/old"}]`, ""), ""},
	{"merge patch of a Secret", auditLine("s4", "patch", "secrets", "", `{"data":{"password":"cGF0Y2hlZA=="}}`, ""), ""},
	{"TokenRequest", auditLine("t1", "create", "serviceaccounts", "token",
		`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"audiences":["https://kubernetes.default.svc"],"expirationSeconds":3600,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}`,
		`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"name":"db","namespace":"prod"},"spec":{"audiences":["https://kubernetes.default.svc"],"expirationSeconds":3600,"boundObjectRef":null},"status":{"token":"eyJhbGciOiJSUzI1NiJ9.tr","expirationTimestamp":"2026-11-24T03:04:24Z"}}`),
		`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"name":"db","namespace":"prod"},"spec":{"audiences":["https://kubernetes.default.svc"],"expirationSeconds":3600,"boundObjectRef":null},"status":{"token":"<redacted>","expirationTimestamp":"2026-11-24T03:04:24Z"}}`},
	{"TokenReview", auditLine("t2", "create", "tokenreviews", "",
		`{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"token":"eyJhbGciOiJSUzI1NiJ9.rev"},"status":{"user":{}}}`,
		`{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"token":"eyJhbGciOiJSUzI1NiJ9.rev"},"status":{"authenticated":true,"user":{"username":"system:serviceaccount:prod:db","groups":["system:serviceaccounts"]}}}`),
		`{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"token":"<redacted>"},"status":{"authenticated":true,"user":{"username":"system:serviceaccount:prod:db","groups":["system:serviceaccounts"]}}}`},
	{"credentials in a custom resource", auditLine("c1", "create", "clusters", "",
		`{"kind":"Cluster","apiVersion":"example.com/v1","spec":{"kubeconfig":{"users":[{"name":"x","user":{"client-key-data":"LS0tLS1CRUdJTiBLRVk=","token":["static-bearer-token"]}}]},"bearerToken":"static-bearer-token","db":{"Password":"db-password-value","passwordRef":{"name":"s"}}}}`, ""), ""},
	{"List holding a Secret, kind after data", auditLine("l1", "get", "configmaps", "", "",
		`{"kind":"List","apiVersion":"v1","items":[{"kind":"ConfigMap","data":{"mode":"public"}},{"data":{"k":"late-kind-value"},"metadata":{"name":"x"},"kind":"Secret"}]}`),
		`{"kind":"List","apiVersion":"v1","items":[{"kind":"ConfigMap","data":{"mode":"public"}},{"data":{"k":"<redacted>"},"metadata":{"name":"x"},"kind":"Secret"}]}`},
	{"escaped key and kind", auditLine("e1", "get", "configmaps", "", "",
		`{"kind":"Secr\u0065t","d\u0061ta":{"k":"escaped-key-value"}}`),
		`{"kind":"Secr\u0065t","d\u0061ta":{"k":"<redacted>"}}`},
	{"Table of Secrets (kubectl get)", auditLine("tb", "list", "secrets", "", "",
		`{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name","type":"string"}],"rows":[{"cells":["db"],"object":{"kind":"PartialObjectMetadata","metadata":{"name":"db","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"table-annotation-secret"}}}}]}`), ""},
}

// TestRedaction decodes real-shaped events carrying secrets with
// KeepObjects, marshals every delivered APIRequest to JSON and fails if any
// planted secret value appears; it also pins some redacted bodies exactly.
func TestRedaction(t *testing.T) {
	var input strings.Builder
	for _, e := range redactionEvents {
		input.WriteString(e.line)
		input.WriteByte('\n')
	}
	// Pretty-printed copies through an EventList, as the webhook posts them.
	var list strings.Builder
	list.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`)
	for i, e := range redactionEvents {
		if i > 0 {
			list.WriteByte(',')
		}
		list.WriteString(strings.Replace(e.line, `"auditID":"`, `"auditID":"list-`, 1))
	}
	list.WriteString("]}")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(list.String()), "", "  "); err != nil {
		t.Fatal(err)
	}
	input.Write(pretty.Bytes())

	d := NewDecoder(Options{KeepObjects: true})
	got := decodeString(t, d, input.String())
	if st := d.Stats(); st.Rejected != 0 || len(got) != 2*len(redactionEvents) {
		t.Fatalf("delivered %d events, stats %+v", len(got), st)
	}
	// Marshal every field; the bodies as the JSON they hold (a []byte
	// would be base64-encoded and hide a leak from the search).
	type view struct {
		event.APIRequest
		RequestObject, ResponseObject json.RawMessage
	}
	views := make([]view, len(got))
	for i, r := range got {
		views[i] = view{r, r.RequestObject, r.ResponseObject}
	}
	out, err := json.Marshal(views)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range planted {
		if bytes.Contains(out, []byte(secret)) {
			i := bytes.Index(out, []byte(secret))
			t.Errorf("secret %q leaked: ...%s...", secret, out[max(0, i-120):min(len(out), i+40)])
		}
	}
	for i, e := range redactionEvents {
		r := got[i]
		for _, body := range [][]byte{r.RequestObject, r.ResponseObject} {
			if body != nil && !json.Valid(body) {
				t.Errorf("%s: redacted body is not valid JSON: %s", e.name, body)
			}
		}
		if e.wantResp != "" && string(r.ResponseObject) != e.wantResp {
			t.Errorf("%s: response body\n got: %s\nwant: %s", e.name, r.ResponseObject, e.wantResp)
		}
		if !bytes.Contains(r.RequestObject, []byte("<redacted>")) && !bytes.Contains(r.ResponseObject, []byte("<redacted>")) {
			t.Errorf("%s: nothing redacted", e.name)
		}
	}
	// A ConfigMap is not a Secret: its data is kept.
	if !bytes.Contains(got[7].ResponseObject, []byte(`"mode":"public"`)) {
		t.Errorf("ConfigMap data was redacted: %s", got[7].ResponseObject)
	}
}

// TestRedactionDeepAndBroken checks the limits: a body nested deeper than
// maxRedactDepth is replaced, and a malformed body (which the parser would
// have rejected) never passes through.
func TestRedactionDeepAndBroken(t *testing.T) {
	var r redactor
	deep := strings.Repeat(`{"a":`, maxRedactDepth+5) + `"token-at-the-bottom"` + strings.Repeat("}", maxRedactDepth+5)
	out := r.redact(nil, []byte(deep), false)
	if !json.Valid(out) || bytes.Contains(out, []byte("token-at-the-bottom")) || !bytes.Contains(out, []byte(redactedDeep)) {
		t.Errorf("deep body: valid %v, %d bytes", json.Valid(out), len(out))
	}
	for _, bad := range []string{`{"kind":"Secret","data":{"k":"v"`, `{"a" 1}`, `[1 2]`, `"x`, `{"a":1}}`} {
		if out := r.redact([]byte("prefix:"), []byte(bad), true); string(out) != "prefix:"+redactedBroken {
			t.Errorf("redact(%q) = %q", bad, out)
		}
	}
}

// FuzzRedact checks that redaction of any valid JSON gives valid JSON with
// the same structure, where only values became "<redacted>".
func FuzzRedact(f *testing.F) {
	for _, e := range redactionEvents {
		f.Add([]byte(e.line), false)
	}
	f.Add([]byte(secretObj), true)
	f.Add([]byte(`[{"op":"add","path":"/data/x","value":{"a":["b"]}}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, secret bool) {
		if !json.Valid(data) {
			return
		}
		var r redactor
		out := r.redact(nil, data, secret)
		if !json.Valid(out) {
			t.Fatalf("redacted body is not valid JSON: %q", out)
		}
		var in, got any
		if json.Unmarshal(data, &in) != nil || json.Unmarshal(out, &got) != nil {
			return // e.g. numbers out of float64 range
		}
		if err := sameExceptRedacted(in, got); err != "" {
			t.Fatalf("%s\n in: %s\nout: %s", err, data, out)
		}
	})
}

// sameExceptRedacted reports how got differs from in other than by values
// replaced with "<redacted>".
func sameExceptRedacted(in, got any) string {
	if got == "<redacted>" || got == "<redacted: nested too deep>" {
		return ""
	}
	switch v := in.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(v) {
			return fmt.Sprintf("object became %T with %d keys", got, len(g))
		}
		for k, x := range v {
			if err := sameExceptRedacted(x, g[k]); err != "" {
				return k + "." + err
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(v) {
			return fmt.Sprintf("array became %T", got)
		}
		for i := range v {
			if err := sameExceptRedacted(v[i], g[i]); err != "" {
				return fmt.Sprintf("[%d]%s", i, err)
			}
		}
		return ""
	}
	if fmt.Sprint(in) != fmt.Sprint(got) {
		return fmt.Sprintf("value %v became %v", in, got)
	}
	return ""
}

// TestRedactionThroughEmit checks that bodies are only kept when asked and
// that objectRef.resource "secrets" applies to the event's own bodies only.
func TestRedactionThroughEmit(t *testing.T) {
	line := redactionEvents[0].line
	got := decodeString(t, NewDecoder(Options{}), line)
	if len(got) != 1 || got[0].RequestObject != nil || got[0].ResponseObject != nil {
		t.Fatalf("bodies kept without KeepObjects: %+v", got)
	}
	d := NewDecoder(Options{KeepObjects: true})
	in := redactionEvents[3].line + "\n" + auditLine("cm", "patch", "configmaps", "", `{"data":{"mode":"cGF0Y2hlZA=="}}`, "")
	seen := decodeString(t, d, in)
	if len(seen) != 2 || string(seen[0].RequestObject) != `{"data":{"password":"<redacted>"}}` ||
		string(seen[1].RequestObject) != `{"data":{"mode":"cGF0Y2hlZA=="}}` {
		t.Errorf("patch bodies: %q, %q", seen[0].RequestObject, seen[1].RequestObject)
	}
}
