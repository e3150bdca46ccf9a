package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/servecmd"
)

// syncBuffer collects the server's log for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `kubedelta serve` (the cobra command, in process) with
// args and returns its base URL. The command is cancelled, and must return
// nil, when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	logs := &syncBuffer{}
	cmd := servecmd.NewCommand(iostreams.Streams{Out: io.Discard, Err: logs})
	cmd.SetArgs(append([]string{"--data-dir", t.TempDir(), "--listen", addr, "--insecure", "--log-level", "warn"}, args...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kubedelta serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("kubedelta serve did not stop within 30s of cancellation")
		}
		if t.Failed() {
			t.Logf("kubedelta serve log (last 4 KiB):\n%s", tail([]byte(logs.String()), 4096))
		}
	})
	base := "http://" + addr
	poll(t, 30*time.Second, "kubedelta serve /readyz", func() error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("serve exited: %v", err)
		default:
		}
		return getJSON(base+"/readyz", nil)
	})
	return base
}

// auditEvent is one audit.k8s.io/v1 Event at level Metadata, as the API
// server's webhook backend sends it.
func auditEvent(id, user string, groups []string, verb, uri, resource, sub, ns, name string, code int, at time.Time) string {
	ts := at.UTC().Format("2006-01-02T15:04:05.000000Z")
	obj := fmt.Sprintf(`{"resource":%q,"namespace":%q,"name":%q,"apiVersion":"v1"`, resource, ns, name)
	if sub != "" {
		obj += fmt.Sprintf(`,"subresource":%q`, sub)
	}
	obj += "}"
	var gs []string
	for _, g := range groups {
		gs = append(gs, fmt.Sprintf("%q", g))
	}
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":"ResponseComplete",`+
		`"requestURI":%q,"verb":%q,"user":{"username":%q,"groups":[%s]},"sourceIPs":["203.0.113.10"],"userAgent":"kubectl/v1.31.0",`+
		`"objectRef":%s,"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":%q,"stageTimestamp":%q,`+
		`"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`,
		id, uri, verb, user, strings.Join(gs, ","), obj, code, ts, ts)
}

func post(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
}

// TestServeWithRealNeighbours runs `kubedelta serve` with an Alertmanager
// sink, posts audit events to its webhook, and checks the two neighbours:
// the real Alertmanager receives the alert the detectors raise (API and
// webhook notification), and the real Prometheus scrapes /metrics and
// returns kubedelta series through its query API with the counts the
// server reports.
func TestServeWithRealNeighbours(t *testing.T) {
	requireIntegration(t)
	recv := newReceiver(t)
	amURL := startAlertmanager(t, recv.URL+"/hook")
	kd := startServe(t, "--sink", "alertmanager="+amURL)
	prom := startPrometheus(t, strings.TrimPrefix(kd, "http://"))

	now := time.Now()
	alice := []string{"devs", "system:authenticated"}
	var items []string
	for i := range 20 {
		items = append(items, auditEvent(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "alice@example.com", alice,
			"get", "/api/v1/namespaces/payments/pods/api-1", "pods", "", "payments", "api-1", 200, now.Add(time.Duration(i)*time.Millisecond)))
	}
	items = append(items, auditEvent("00000000-0000-4000-8000-999999999999", "alice@example.com", alice, "create",
		"/api/v1/namespaces/payments/pods/api-1/exec?command=sh&container=api&stdin=true&stdout=true&tty=true",
		"pods", "exec", "payments", "api-1", 101, now.Add(time.Second)))
	body := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`)
	post(t, kd+"/audit/webhook", body)
	post(t, kd+"/audit/webhook", body) // the API server's retry: counted once

	// The server's own view: processed once, one exec alert.
	var alertID, rule string
	poll(t, 30*time.Second, "the exec alert in kubedelta's alert API", func() error {
		var list struct {
			Alerts []struct {
				ID       string `json:"id"`
				Rule     string `json:"rule"`
				Category string `json:"category"`
			} `json:"alerts"`
		}
		if err := getJSON(kd+"/api/v1/alerts", &list); err != nil {
			return err
		}
		for _, a := range list.Alerts {
			if a.Category == "exec" {
				alertID, rule = a.ID, a.Rule
				return nil
			}
		}
		return fmt.Errorf("alerts %+v", list.Alerts)
	})

	// Alertmanager has it, from the server's dispatcher.
	poll(t, 30*time.Second, "the exec alert in Alertmanager", func() error {
		var got []amAlert
		if err := getJSON(amURL+"/api/v2/alerts", &got); err != nil {
			return err
		}
		for _, a := range got {
			if a.Labels["kubedelta_id"] == alertID {
				if a.Labels["alertname"] != rule || a.Labels["subject"] != "alice@example.com" || a.Labels["namespace"] != "payments" || a.Status.State != "active" {
					return fmt.Errorf("alert %+v", a)
				}
				return nil
			}
		}
		return fmt.Errorf("no alert with kubedelta_id %s among %d", alertID, len(got))
	})
	poll(t, 30*time.Second, "Alertmanager's notification", func() error {
		if st := recv.statuses(alertID); len(st) == 0 || st[0] != "firing" {
			return fmt.Errorf("statuses %v", st)
		}
		return nil
	})

	// Prometheus scraped the server and has the same counts.
	waitSeries(t, prom, `up{job="kubedelta"}`, func(s promSample) bool { return s.value() == 1 })
	waitSeries(t, prom, `sum(kubedelta_ingest_events_total{kind="audit",result="accepted"})`, func(s promSample) bool { return s.value() == 42 })
	waitSeries(t, prom, `sum(kubedelta_processed_events_total{kind="audit"})`, func(s promSample) bool { return s.value() == 21 })
	waitSeries(t, prom, `sum(kubedelta_alerts_total{category="exec"})`, func(s promSample) bool { return s.value() >= 1 })
	waitSeries(t, prom, `sum(kubedelta_sink_sent_total)`, func(s promSample) bool { return s.value() >= 1 })
}
