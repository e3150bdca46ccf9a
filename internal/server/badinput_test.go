package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/server"
	"github.com/kubedelta/kubedelta/internal/store"
)

// TestBadInput sends every kind of bad request to one server and checks
// the status, that it is counted by reason, and that the server keeps
// serving valid batches after each.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ts := startServer(t, t.TempDir(), serverConfig{opts: server.Options{MaxBodyBytes: 256 << 10}})
	lines := auditLines(t)
	good := 0
	postGood := func(t *testing.T) {
		t.Helper()
		b := eventList(lines[good*10 : good*10+10])
		good++
		if code, body := ts.post(server.PathAudit, b); code != 200 {
			t.Fatalf("valid batch after the bad request: %d %s", code, body)
		}
	}
	huge := eventList(lines[:2000])
	if len(huge) <= 256<<10 {
		t.Fatalf("test batch of %d bytes is not over the limit", len(huge))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(eventList(lines[:5]))
	zw.Close()
	var bomb bytes.Buffer // small compressed, large decompressed
	zw = gzip.NewWriter(&bomb)
	zw.Write([]byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Repeat(" ", 1<<20) + `]}`))
	zw.Close()

	cases := []struct {
		name     string
		method   string
		path     string
		body     []byte
		hdr      map[string]string
		chunked  bool
		code     int
		reason   string // in stats.requests.refused
		rejected int64  // audit events counted rejected
		accepted int64
	}{
		{name: "not JSON", method: "POST", path: server.PathAudit, body: []byte("not json at all"), code: 400, reason: "malformed", rejected: 1},
		{name: "truncated EventList", method: "POST", path: server.PathAudit, body: eventList(lines[:3])[:500], code: 400, reason: "malformed", rejected: 1},
		{name: "an Event, not an EventList", method: "POST", path: server.PathAudit, body: lines[0], code: 400, reason: "malformed", rejected: 1},
		{name: "one bad item among good ones", method: "POST", path: server.PathAudit,
			body: eventList([][]byte{lines[100], []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":42}`), lines[101]}),
			code: 200, rejected: 1, accepted: 2},
		{name: "only bad items", method: "POST", path: server.PathAudit,
			body: eventList([][]byte{[]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":42}`)}), code: 400, reason: "malformed", rejected: 1},
		{name: "oversized with Content-Length", method: "POST", path: server.PathAudit, body: huge, code: 413, reason: "oversized", rejected: 1},
		{name: "oversized chunked", method: "POST", path: server.PathAudit, body: huge, chunked: true, code: 413, reason: "oversized", rejected: 1},
		{name: "gzip bomb", method: "POST", path: server.PathAudit, body: bomb.Bytes(), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 413, reason: "oversized", rejected: 1},
		{name: "gzip accepted", method: "POST", path: server.PathAudit, body: gz.Bytes(), hdr: map[string]string{"Content-Encoding": "gzip"}, code: 200, accepted: 5},
		{name: "unknown encoding", method: "POST", path: server.PathAudit, body: []byte("x"), hdr: map[string]string{"Content-Encoding": "br"}, code: 415, reason: "unsupported_media_type", rejected: 1},
		{name: "wrong method", method: "GET", path: server.PathAudit, code: 405, reason: "method"},
		{name: "wrong method on stats", method: "DELETE", path: server.PathStats, code: 405, reason: "method"},
		{name: "unknown flow format", method: "POST", path: server.PathFlows + "?format=pcap", body: []byte("{}"), code: 400, reason: "malformed"},
		{name: "format on the audit webhook", method: "POST", path: server.PathAudit + "?format=hubble", body: eventList(lines[:1]), code: 400, reason: "malformed", rejected: 1},
		{name: "empty EventList", method: "POST", path: server.PathAudit, body: eventList(nil), code: 200},
		{name: "bad alert query", method: "GET", path: server.PathAlerts + "?severity=urgent", code: 400},
		{name: "unknown alert query parameter", method: "GET", path: server.PathAlerts + "?sevrity=high", code: 400},
		{name: "ack of an unknown alert", method: "POST", path: server.PathAlerts + "/nope/ack", code: 404},
		{name: "unknown path", method: "GET", path: "/api/v2/alerts", code: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.stats()
			req, err := http.NewRequest(c.method, ts.base+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.chunked {
				req.Body = io.NopCloser(bytes.NewReader(c.body)) // unknown length: sent chunked
				req.ContentLength = -1
			}
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, body)
			}
			after := ts.stats()
			if c.reason != "" {
				if got := after.Requests.Refused[c.reason] - before.Requests.Refused[c.reason]; got != 1 {
					t.Errorf("refused[%s] grew by %d, want 1", c.reason, got)
				}
			}
			if got := after.Audit.Rejected - before.Audit.Rejected; got != c.rejected {
				t.Errorf("audit.rejected grew by %d, want %d", got, c.rejected)
			}
			if got := after.Audit.Accepted - before.Audit.Accepted; got != c.accepted {
				t.Errorf("audit.accepted grew by %d, want %d", got, c.accepted)
			}
			postGood(t)
		})
	}
	// The reasons show in /metrics too.
	code, m := ts.do("GET", server.PathMetrics, nil, nil)
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{
		`kubedelta_ingest_rejected_requests_total{endpoint="audit",reason="oversized"} 3`,
		`kubedelta_ingest_rejected_requests_total{endpoint="audit",reason="method"} 1`,
		`kubedelta_ingest_requests_total{endpoint="audit",code="413"} 3`,
		`kubedelta_ingest_events_total{kind="audit",result="rejected"}`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(ts.logs.String(), "not json at all") {
		t.Error("a rejected body was logged")
	}
}

// TestWALFull stalls the processor, fills a small WAL and checks that
// ingest answers 429 with Retry-After, counts it, and accepts again once
// the processor catches up — without losing an acknowledged event.
func TestWALFull(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	idx, authz := inventory(t)
	gate := make(chan struct{})
	var once sync.Once
	var calls atomic.Int64
	stalled := func() (*cluster.Index, *rbac.Authorizer) {
		if calls.Add(1) > 1 {
			<-gate // the processor asks before each record (and once at start)
		}
		return idx, authz
	}
	ts := startServer(t, t.TempDir(), serverConfig{
		opts:      server.Options{Inventory: stalled},
		storeOpts: store.Options{MaxWALBytes: 300 << 10},
	})
	t.Cleanup(func() { once.Do(func() { close(gate) }) })
	lines := auditLines(t)
	var acked int64
	var got429 bool
	for i := 0; i < 200 && !got429; i++ {
		req, _ := http.NewRequest("POST", ts.base+server.PathAudit, bytes.NewReader(eventList(lines[i*50:i*50+50])))
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			acked += 50
		case 429:
			got429 = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("batch %d: status %d", i, resp.StatusCode)
		}
	}
	if !got429 {
		t.Fatal("the WAL never filled")
	}
	st := ts.stats()
	if st.Requests.Refused["wal_full"] != 1 || st.Audit.Throttled != 50 {
		t.Errorf("refused %v, throttled %d: want wal_full 1, throttled 50", st.Requests.Refused, st.Audit.Throttled)
	}
	if st.Ready {
		// Not an error in itself, but the processor must not have run.
		t.Log("ready before the first record was processed")
	}
	once.Do(func() { close(gate) })
	st = ts.waitProcessed()
	if st.Audit.Accepted != acked {
		t.Errorf("accepted %d, acknowledged %d", st.Audit.Accepted, acked)
	}
	if code, body := ts.post(server.PathAudit, eventList(lines[12000:12050])); code != 200 {
		t.Fatalf("after catching up: %d %s", code, body)
	}
}

// TestFlowsAndExecIngest posts real flow and process event records to
// their endpoints.
func TestFlowsAndExecIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ts := startServer(t, t.TempDir(), serverConfig{})
	flows, err := os.ReadFile(exampleFlows)
	if err != nil {
		t.Fatal(err)
	}
	fl := bytes.SplitAfter(flows, []byte("\n"))
	for i := 0; i < len(fl); i += 500 {
		if code, body := ts.post(server.PathFlows+"?format=hubble", bytes.Join(fl[i:min(i+500, len(fl))], nil)); code != 200 {
			t.Fatalf("flows batch %d: %d %s", i, code, body)
		}
	}
	for _, f := range []string{"falco", "tetragon"} {
		b, err := os.ReadFile("../source/proc/testdata/" + f + ".jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if code, body := ts.post(server.PathExec+"?format="+f, b); code != 200 {
			t.Fatalf("exec %s: %d %s", f, code, body)
		}
	}
	if code, _ := ts.post(server.PathFlows, []byte("garbage\n")); code != 400 {
		t.Errorf("garbage flows: %d, want 400", code)
	}
	st := ts.waitProcessed()
	if st.Flows.Processed == 0 || st.Exec.Processed == 0 {
		t.Errorf("nothing processed: flows %+v exec %+v", st.Flows, st.Exec)
	}
	if st.Flows.Rejected != 1 {
		t.Errorf("flows rejected %d, want 1", st.Flows.Rejected)
	}
	b, _ := json.Marshal(st)
	t.Logf("%s", b)
	_ = time.Now
}
