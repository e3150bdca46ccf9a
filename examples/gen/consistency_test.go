package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
)

// These tests read the committed example the way a person checking it would:
// every pod, address, account and token the logs mention exists in the
// cluster dump, and the story in examples/README.md is what the logs say.

type testEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Level      string `json:"level"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string              `json:"username"`
		UID      string              `json:"uid"`
		Groups   []string            `json:"groups"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	SourceIPs []string   `json:"sourceIPs"`
	UserAgent string     `json:"userAgent"`
	ObjectRef *objectRef `json:"objectRef"`
	Status    struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"responseStatus"`
	Received    time.Time         `json:"requestReceivedTimestamp"`
	StageTime   time.Time         `json:"stageTimestamp"`
	Annotations map[string]string `json:"annotations"`
	keys        []string
}

func readAudit(t *testing.T) []testEvent {
	t.Helper()
	var out []testEvent
	sc := bufio.NewScanner(bytes.NewReader(content(t, filepath.Join(exampleDir, "audit.jsonl.gz"))))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit.jsonl.gz line %d: %v", n, err)
		}
		keys, err := topKeys(sc.Bytes())
		if err != nil {
			t.Fatalf("audit.jsonl.gz line %d: %v", n, err)
		}
		e.keys = keys
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// topKeys returns the keys of a JSON object in the order they appear.
func topKeys(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func loadCluster(t *testing.T) *cluster.Inventory {
	t.Helper()
	inv, err := cluster.Load([]string{filepath.Join(exampleDir, "cluster")}, cluster.LoadOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// The fields of audit.k8s.io/v1 Event in the order the API server writes
// them (k8s.io/apiserver/pkg/apis/audit/v1/types.go), as in the recorded
// log in shared/fixtures/audit.
var auditFieldOrder = []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
	"impersonatedUser", "authenticationMetadata", "sourceIPs", "userAgent", "objectRef", "responseStatus",
	"requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp", "annotations"}

func TestAuditEventShape(t *testing.T) {
	evs := readAudit(t)
	stages := map[string][]string{}
	for i, e := range evs {
		if !slices.IsSortedFunc(e.keys, func(a, b string) int { return slices.Index(auditFieldOrder, a) - slices.Index(auditFieldOrder, b) }) ||
			slices.ContainsFunc(e.keys, func(k string) bool { return !slices.Contains(auditFieldOrder, k) }) {
			t.Fatalf("event %d (%s): fields %v are not audit.k8s.io/v1 Event fields in the API server's order", i, e.AuditID, e.keys)
		}
		if e.StageTime.Before(dayStart) || !e.StageTime.Before(dayEnd) || e.Received.After(e.StageTime) {
			t.Errorf("event %s: received %v, stage %v: outside the day or out of order", e.AuditID, e.Received, e.StageTime)
		}
		if i > 0 && e.StageTime.Before(evs[i-1].StageTime) {
			t.Errorf("event %s is written before an earlier stage", e.AuditID)
		}
		if d := e.Annotations["authorization.k8s.io/decision"]; d != "allow" && d != "forbid" {
			t.Errorf("event %s: decision %q", e.AuditID, d)
		}
		stages[e.AuditID] = append(stages[e.AuditID], e.Stage)
	}
	var pairs int
	for id, s := range stages {
		switch {
		case slices.Equal(s, []string{"ResponseStarted", "ResponseComplete"}):
			pairs++
		case len(s) == 1:
		default:
			t.Errorf("request %s has stages %v", id, s)
		}
	}
	if pairs < 1000 {
		t.Errorf("%d long-running requests with both stages; want watches to be most of the log", pairs)
	}
}

func TestAuditMatchesCluster(t *testing.T) {
	inv := loadCluster(t)
	type podInfo struct{ uid, ip, node string }
	pods := map[string]podInfo{}
	for _, p := range inv.Pods {
		pods[p.Namespace+"/"+p.Name] = podInfo{string(p.UID), p.Status.PodIP, p.Spec.NodeName}
	}
	sas := map[string]string{}
	for _, s := range inv.ServiceAccounts {
		sas["system:serviceaccount:"+s.Namespace+":"+s.Name] = string(s.UID)
	}
	nodes := map[string][2]string{}
	for _, n := range inv.Nodes {
		nodes[n.Name] = [2]string{string(n.UID), n.Status.Addresses[0].Address}
	}
	namespaces := map[string]bool{"shop-staging": true} // alice's failed delete names a namespace that is gone
	for _, n := range inv.Namespaces {
		namespaces[n.Name] = true
	}
	type issue struct {
		sa string
		at time.Time
	}
	issued := map[string]issue{} // JTI → the service account it was issued for, and when
	offPod := map[string]int{}   // source addresses of pod-bound tokens used away from their pod
	type use struct{ first, last time.Time }
	jtis := map[string]map[string]use{} // account → JTI → requests received with it
	for _, e := range readAudit(t) {
		u := e.User.Username
		if jti, ok := e.Annotations["authentication.kubernetes.io/issued-credential-id"]; ok {
			issued[jti] = issue{"system:serviceaccount:" + e.ObjectRef.Namespace + ":" + e.ObjectRef.Name, e.StageTime}
		}
		if e.ObjectRef != nil && e.ObjectRef.Namespace != "" && !namespaces[e.ObjectRef.Namespace] {
			t.Errorf("event %s: namespace %q is not in the cluster", e.AuditID, e.ObjectRef.Namespace)
		}
		if node, ok := strings.CutPrefix(u, "system:node:"); ok {
			if n, ok := nodes[node]; !ok || e.SourceIPs[0] != n[1] {
				t.Errorf("event %s: kubelet %s from %v; nodes %v", e.AuditID, node, e.SourceIPs, nodes)
			}
		}
		if !strings.HasPrefix(u, "system:serviceaccount:") {
			continue
		}
		if uid, ok := sas[u]; !ok || uid != e.User.UID {
			t.Errorf("event %s: %s uid %s, cluster has %q", e.AuditID, u, e.User.UID, uid)
		}
		if cred := e.User.Extra["authentication.kubernetes.io/credential-id"]; len(cred) == 1 {
			if jtis[u] == nil {
				jtis[u] = map[string]use{}
			}
			us, seen := jtis[u][cred[0]]
			if !seen || e.Received.Before(us.first) {
				us.first = e.Received
			}
			if e.Received.After(us.last) {
				us.last = e.Received
			}
			jtis[u][cred[0]] = us
		}
		name := e.User.Extra["authentication.kubernetes.io/pod-name"]
		if len(name) == 0 {
			continue
		}
		ns := strings.Split(u, ":")[2]
		p, ok := pods[ns+"/"+name[0]]
		if !ok {
			t.Errorf("event %s: token bound to pod %s/%s, which is not in the cluster", e.AuditID, ns, name[0])
			continue
		}
		n := nodes[p.node]
		if e.User.Extra["authentication.kubernetes.io/pod-uid"][0] != p.uid ||
			e.User.Extra["authentication.kubernetes.io/node-name"][0] != p.node ||
			e.User.Extra["authentication.kubernetes.io/node-uid"][0] != n[0] {
			t.Errorf("event %s: token claims %v do not match pod %s/%s %+v", e.AuditID, e.User.Extra, ns, name[0], p)
		}
		if e.SourceIPs[0] != p.ip {
			offPod[u+" from "+e.SourceIPs[0]]++
		}
	}
	// The one token used away from its pod is the stolen one (README: the attack).
	if len(offPod) != 1 || offPod["system:serviceaccount:shop:cart from 203.0.113.66"] == 0 {
		t.Errorf("pod-bound tokens used away from their pod: %v; want only the stolen cart token from 203.0.113.66", offPod)
	}
	// Every token in use was issued in the log for that account, or before
	// midnight (tokens are refreshed every 48 minutes, so those are used only
	// by requests received in the first hour).
	for u, set := range jtis {
		for jti, us := range set {
			is, ok := issued[jti]
			switch {
			case ok && is.sa != u:
				t.Errorf("%s uses %s, issued for %s", u, jti, is.sa)
			case ok && us.first.Before(is.at):
				t.Errorf("%s uses %s at %v, before it was issued at %v", u, jti, us.first, is.at)
			case !ok && us.last.After(dayStart.Add(50*time.Minute)):
				t.Errorf("%s uses %s at %v; the log never issued it", u, jti, us.last)
			}
		}
	}
}

// request is what a subject did: verb, resource[/subresource] (or path),
// namespace and name, with the response code.
type request struct {
	verb, what, ns, name string
	code                 int
}

func (r request) String() string {
	return fmt.Sprintf("%s %s %s/%s %d", r.verb, r.what, r.ns, r.name, r.code)
}

func requestsBy(evs []testEvent) map[string][]request {
	out := map[string][]request{}
	for _, e := range evs {
		if e.Stage != "ResponseComplete" {
			continue
		}
		r := request{verb: e.Verb, code: e.Status.Code}
		if e.ObjectRef == nil {
			r.what = strings.SplitN(e.RequestURI, "?", 2)[0]
		} else {
			r.what, r.ns, r.name = e.ObjectRef.Resource, e.ObjectRef.Namespace, e.ObjectRef.Name
			if e.ObjectRef.Subresource != "" {
				r.what += "/" + e.ObjectRef.Subresource
			}
		}
		out[e.User.Username] = append(out[e.User.Username], r)
	}
	return out
}

// The story of examples/README.md, subject by subject.
func TestAuditStory(t *testing.T) {
	by := requestsBy(readAudit(t))
	discovery := func(r request) bool { return r.what == "/api" || r.what == "/apis" }
	for _, tc := range []struct {
		subject string
		// allowed reports whether a request belongs to the subject's story.
		allowed   func(request) bool
		min, max  int // number of requests
		forbidden int
	}{
		{"system:serviceaccount:ci:deployer", func(r request) bool {
			return discovery(r) || (r.ns == "shop" || r.ns == "data") &&
				(r.what == "deployments" && (r.verb == "get" || r.verb == "patch") || r.what == "pods" && r.verb == "list")
		}, 50, 80, 0},
		{"system:serviceaccount:shop:web", func(r request) bool {
			return r.verb == "get" && r.ns == "shop" && (r.what == "configmaps" && r.name == "app-config" || r.what == "secrets" && r.name == "web-tls")
		}, 400, 450, 0},
		{"system:serviceaccount:data:backup-operator", func(r request) bool {
			return r.verb == "get" && r.what == "secrets" && r.ns == "data" && r.name == "backup-creds"
		}, 24, 24, 0},
		{"system:serviceaccount:monitoring:prometheus", func(r request) bool {
			return r.what == "/metrics" || (r.verb == "list" || r.verb == "watch") && slices.Contains([]string{"pods", "services", "endpointslices"}, r.what)
		}, 1000, 2000, 0},
		{"system:serviceaccount:shop:cart", func(r request) bool {
			return discovery(r) || r.what == "selfsubjectrulesreviews" && r.code == 201 || r.code == 403
		}, 15, 25, 10},
		{"alice", func(r request) bool {
			return discovery(r) || r.ns == "shop" && slices.Contains([]string{"pods", "pods/log", "pods/exec"}, r.what) ||
				r.what == "namespaces" && r.verb == "delete" && r.code == 403
		}, 30, 100, 1},
		{"bob", func(r request) bool { return discovery(r) || r.what == "pods" && r.ns == "" }, 10, 20, 0},
		{"carol", nil, 0, 0, 0},
		{"system:serviceaccount:ci:old-pipeline", nil, 0, 0, 0},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			rs := by[tc.subject]
			if len(rs) < tc.min || len(rs) > tc.max {
				t.Errorf("%d requests, want %d to %d", len(rs), tc.min, tc.max)
			}
			var denied int
			for _, r := range rs {
				if r.code == 403 {
					denied++
				}
				if tc.allowed != nil && !tc.allowed(r) {
					t.Errorf("unexpected request %v", r)
				}
			}
			if denied != tc.forbidden {
				t.Errorf("%d denied requests, want %d", denied, tc.forbidden)
			}
		})
	}
	var execs int
	for _, r := range by["alice"] {
		if r.what == "pods/exec" && r.verb == "create" && r.code == 101 {
			execs++
		}
	}
	if execs != 2 {
		t.Errorf("alice opened %d shells, want 2", execs)
	}
}

// The message mirrors k8s.io/apiserver/pkg/endpoints/handlers/responsewriters
// (forbiddenMessage) and the recorded denials in shared/fixtures/audit.
func TestForbiddenMessage(t *testing.T) {
	for _, tc := range []struct {
		ref  *objectRef
		verb string
		want string
	}{
		{coreRef("", "secrets", "", ""), "list", `secrets is forbidden: User "u" cannot list resource "secrets" in API group "" at the cluster scope`},
		{coreRef("probe-ns", "pods", "p1", "exec"), "create", `pods "p1" is forbidden: User "u" cannot create resource "pods/exec" in API group "" in the namespace "probe-ns"`},
		{groupRef("apps", "shop", "deployments", "web", ""), "delete", `deployments.apps "web" is forbidden: User "u" cannot delete resource "deployments" in API group "apps" in the namespace "shop"`},
		{coreRef("x", "namespaces", "x", ""), "delete", `namespaces "x" is forbidden: User "u" cannot delete resource "namespaces" in API group "" in the namespace "x"`},
	} {
		st := forbidden("u", tc.verb, tc.ref)
		if st.Message != tc.want || st.Code != 403 || st.Reason != "Forbidden" || st.Details.Kind != tc.ref.Resource {
			t.Errorf("forbidden(%s %+v) = %+v, want message %q", tc.verb, *tc.ref, st, tc.want)
		}
	}
}
