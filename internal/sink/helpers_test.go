package sink

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
)

// request is one request a recorder received.
type request struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

// recorder is a real HTTP server on 127.0.0.1 that records requests and
// answers with the status its respond function returns (200 by default).
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(n int, w http.ResponseWriter) int // n counts from 1
	got     chan struct{}
}

func newRecorder(t *testing.T, respond func(n int, w http.ResponseWriter) int) *recorder {
	t.Helper()
	r := &recorder{respond: respond, got: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, request{at: time.Now(), path: req.URL.Path, header: req.Header.Clone(), body: body})
		n := len(r.reqs)
		r.mu.Unlock()
		status := http.StatusOK
		if r.respond != nil {
			status = r.respond(n, w)
		}
		w.WriteHeader(status)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// alertsIn decodes a webhook body.
func alertsIn(t *testing.T, body []byte) []detect.Alert {
	t.Helper()
	var out []detect.Alert
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("webhook body is not a JSON array of alerts: %v\n%s", err, body)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// testAlerts are realistic aggregated alerts.
func testAlerts() []detect.Alert {
	return []detect.Alert{
		{
			ID: "3f2a9c0d1e4b5a6f", Time: t0.Add(2 * time.Minute), Rule: "exec-into-pod", Category: detect.CategoryExec,
			Severity: detect.High, Score: 42, Subject: "user:alice@example.com", Namespace: "payments", Workload: "Deployment/api",
			Message: "alice ran `sh` in payments/api-7d9f8b6c5-x2x4q (first exec by this user in 30 days)",
			Evidence: []detect.Evidence{
				{Kind: "audit", Time: t0, Ref: "5b1f6c3e-8d2a-4f0b-9e7c-1a2b3c4d5e6f", Detail: "create pods/exec payments/api-7d9f8b6c5-x2x4q"},
				{Kind: "audit", Time: t0.Add(2 * time.Minute), Ref: "7c2e8f1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", Detail: "create pods/exec payments/api-7d9f8b6c5-x2x4q"},
			},
			MITRE: []string{"T1609"}, Key: "payments/api", Count: 2, FirstSeen: t0, LastSeen: t0.Add(2 * time.Minute),
		},
		{
			ID: "a1b2c3d4e5f60718", Time: t0, Rule: "secret-list-cluster-wide", Category: detect.CategorySecret,
			Severity: detect.Critical, Score: 80, Subject: "system:serviceaccount:ci:deployer",
			Message: "deployer listed secrets in all namespaces <!channel> & more",
			Count:   1, FirstSeen: t0, LastSeen: t0,
		},
		{
			ID: "0011223344556677", Time: t0, Rule: "new-egress-peer", Category: detect.CategoryNetwork,
			Severity: detect.Low, Namespace: "web", Workload: "Deployment/frontend",
			Message: "frontend contacted 203.0.113.7:443 for the first time",
			Count:   5, FirstSeen: t0, LastSeen: t0.Add(10 * time.Minute),
		},
	}
}

func alertWithID(id string, sev detect.Severity, cat string) detect.Alert {
	return detect.Alert{ID: id, Rule: "rule-" + id, Category: cat, Severity: sev, Message: "m " + id, Time: t0, FirstSeen: t0, LastSeen: t0, Count: 1}
}
