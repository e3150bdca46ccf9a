package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/server"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/store"
)

const (
	exampleAudit   = "../../examples/audit.jsonl.gz"
	exampleFlows   = "../../examples/flows.jsonl"
	exampleCluster = "../../examples/cluster"
)

// exampleInventory loads the example cluster once per test binary.
var exampleInventory = sync.OnceValues(func() (*cluster.Inventory, error) {
	return cluster.Load([]string{exampleCluster}, cluster.LoadOptions{})
})

func inventory(t testing.TB) (*cluster.Index, *rbac.Authorizer) {
	t.Helper()
	inv, err := exampleInventory()
	if err != nil {
		t.Fatalf("load %s: %v", exampleCluster, err)
	}
	return cluster.NewIndex(inv), rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
		RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
}

// auditLines returns the example audit log's lines (one event each).
func auditLines(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(exampleAudit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventList wraps audit events (JSON objects) in an audit.k8s.io/v1
// EventList, as the API server's webhook backend posts them.
func eventList(items [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// batches splits lines into EventList bodies of n events (the API server's
// default --audit-webhook-batch-max-size is 400).
func batches(lines [][]byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(lines); i += n {
		out = append(out, eventList(lines[i:min(i+n, len(lines))]))
	}
	return out
}

type testServer struct {
	t      testing.TB
	dir    string
	srv    *server.Server
	st     *store.Store
	base   string
	client *http.Client
	cancel context.CancelFunc
	done   chan error
	logs   *lockedWriter
}

type serverConfig struct {
	opts      server.Options
	storeOpts store.Options
	// tls serves HTTPS; client is then the client to use.
	tls    *tls.Config
	client *http.Client
	// quiet logs at Info instead of Debug.
	quiet bool
}

// startServer runs a real server (real store, real listener on 127.0.0.1:0)
// on dir until the test ends or stop is called.
func startServer(t testing.TB, dir string, cfg serverConfig) *testServer {
	t.Helper()
	st, err := store.Open(dir, cfg.storeOpts)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedWriter{w: &bytes.Buffer{}}
	opts := cfg.opts
	opts.Store = st
	level := slog.LevelDebug
	if cfg.quiet {
		level = slog.LevelInfo
	}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	if opts.Inventory == nil {
		opts.Inventory = server.StaticInventory(inventory(t))
	}
	if opts.SnapshotInterval == 0 {
		opts.SnapshotInterval = 50 * time.Millisecond
	}
	srv, err := server.New(opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, dir: dir, srv: srv, st: st, base: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 30 * time.Second}, done: make(chan error, 1), logs: logs}
	if cfg.tls != nil {
		ts.base = "https://" + ln.Addr().String()
		ts.client = cfg.client
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel = cancel
	go func() { ts.done <- srv.Serve(ctx, ln, cfg.tls) }()
	t.Cleanup(ts.stop)
	return ts
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// stop shuts the server down gracefully and closes the store (idempotent).
func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	if err := <-ts.done; err != nil {
		ts.t.Errorf("Serve: %v", err)
	}
	if err := ts.st.Close(); err != nil {
		ts.t.Errorf("store Close: %v", err)
	}
}

func (ts *testServer) do(method, path string, body []byte, hdr map[string]string) (int, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.base+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (ts *testServer) post(path string, body []byte) (int, []byte) {
	ts.t.Helper()
	return ts.do(http.MethodPost, path, body, map[string]string{"Content-Type": "application/json"})
}

func (ts *testServer) stats() server.Stats {
	ts.t.Helper()
	code, b := ts.do(http.MethodGet, server.PathStats, nil, nil)
	if code != 200 {
		ts.t.Fatalf("stats: %d %s", code, b)
	}
	var st server.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		ts.t.Fatalf("stats: %v: %s", err, b)
	}
	return st
}

// waitProcessed waits until every accepted event is processed and the
// processor has snapshotted (so the alert store holds current counts).
func (ts *testServer) waitProcessed() server.Stats {
	ts.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := ts.stats()
		done := true
		for _, k := range []server.KindStats{st.Audit, st.Flows, st.Exec} {
			if k.Processed+k.Duplicates+k.Skipped != k.Accepted {
				done = false
			}
		}
		if done && st.WAL.PendingRecords == 0 && st.Ready {
			return st
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("not processed within 60s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ts *testServer) alerts(query string) []server.StoredAlert {
	ts.t.Helper()
	code, b := ts.do(http.MethodGet, server.PathAlerts+query, nil, nil)
	if code != 200 {
		ts.t.Fatalf("alerts%s: %d %s", query, code, b)
	}
	var l server.AlertList
	if err := json.Unmarshal(b, &l); err != nil {
		ts.t.Fatal(err)
	}
	return l.Alerts
}

// reference runs the analysis offline, as `kubedelta analyze` does, over
// the same audit lines: the server must reach the same alerts.
func reference(t testing.TB, lines [][]byte) ([]detect.Alert, audit.Stats) {
	t.Helper()
	idx, authz := inventory(t)
	// Exactly what `kubedelta analyze` builds (internal/cli/analyzecmd).
	p := analyze.New(analyze.Options{Index: idx, Authorizer: authz, Detectors: analyze.DefaultDetectors(), ArgShape: analyze.ArgShape})
	dec := audit.NewDecoder(audit.Options{KeepObjects: true, KeepObjectsOf: analyze.WantBody})
	var all bytes.Buffer
	for _, l := range lines {
		all.Write(l)
		all.WriteByte('\n')
	}
	if err := dec.Decode(&all, "reference", func(r *event.APIRequest) error { p.API(r); return nil }); err != nil {
		t.Fatal(err)
	}
	return p.Alerts(), dec.Stats()
}

// alertKey summarizes an alert for comparison: identity, count and
// severity.
func alertSummary[A any](alerts []A, get func(A) detect.Alert) []string {
	out := make([]string, 0, len(alerts))
	for _, a := range alerts {
		x := get(a)
		out = append(out, fmt.Sprintf("%s %s %s count=%d", x.ID, x.Rule, x.Severity, x.Count))
	}
	sort.Strings(out)
	return out
}

func diffLines(got, want []string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, x := range got {
		g[x] = true
	}
	for _, x := range want {
		w[x] = true
	}
	var b strings.Builder
	for _, x := range got {
		if !w[x] {
			fmt.Fprintf(&b, "+ %s\n", x)
		}
	}
	for _, x := range want {
		if !g[x] {
			fmt.Fprintf(&b, "- %s\n", x)
		}
	}
	return b.String()
}
