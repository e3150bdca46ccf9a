package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/sink"
)

// amAlert is the part of Alertmanager's gettableAlert (GET /api/v2/alerts,
// api/v2/openapi.yaml) the test reads.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

// notification is Alertmanager's webhook receiver payload (version 4, see
// alertmanager's notify/webhook/webhook.go and the docs' webhook_config).
type notification struct {
	Version  string `json:"version"`
	Receiver string `json:"receiver"`
	Status   string `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

// receiver is the webhook Alertmanager notifies: a real HTTP server on
// 127.0.0.1 that records, per kubedelta_id, the statuses it was told.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string][]string // kubedelta_id -> statuses in arrival order
	last map[string]map[string]string
	errs []error
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{seen: map[string][]string{}, last: map[string]map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		var n notification
		if err == nil {
			err = json.Unmarshal(body, &n)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil || n.Version != "4" {
			r.errs = append(r.errs, fmt.Errorf("bad notification (%v): %s", err, body))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, a := range n.Alerts {
			id := a.Labels["kubedelta_id"]
			r.seen[id] = append(r.seen[id], a.Status)
			r.last[id] = a.Labels
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) statuses(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen[id]...)
}

// startAlertmanager runs a real Alertmanager with one route to recv and
// returns its base URL. Clustering is off (--cluster.listen-address="").
func startAlertmanager(t *testing.T, recvURL string) string {
	bin := binary(t, "ALERTMANAGER_BIN", "prometheus-alertmanager", "alertmanager")
	addr := freeAddr(t)
	cfg := writeFile(t, "alertmanager.yml", `route:
  receiver: kubedelta-test
  group_by: ['alertname', 'kubedelta_id']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: kubedelta-test
  webhook_configs:
  - url: `+quoteYAML(recvURL)+`
    send_resolved: true
`)
	startProcess(t, "alertmanager", bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(t.TempDir(), "am"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	base := "http://" + addr
	waitReady(t, base)
	return base
}

// TestAlertmanagerSink: kubedelta's Alertmanager sink posts alerts to a
// real Alertmanager; the test sees them through Alertmanager's API with the
// labels and annotations the sink documents, sees Alertmanager notify a
// webhook receiver, and sees an alert resolve when its LastSeen plus the
// resolve timeout passes.
func TestAlertmanagerSink(t *testing.T) {
	requireIntegration(t)
	recv := newReceiver(t)
	amURL := startAlertmanager(t, recv.URL+"/hook")

	s, err := sink.New(sink.SinkConfig{
		Type: sink.TypeAlertmanager, URL: amURL,
		GeneratorURL: "http://kubedelta.test/api/v1/alerts",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sink.NewDispatcher([]sink.Target{{Sink: s}}, sink.Options{BatchWait: 50 * time.Millisecond, MaxElapsed: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	now := time.Now().UTC().Truncate(time.Millisecond)
	execAlert := detect.Alert{
		ID: "1111111111111111", Rule: "exec-into-pod", Category: detect.CategoryExec, Severity: detect.High,
		Subject: "user:alice@example.com", Namespace: "payments", Workload: "Deployment/api",
		Message: "alice ran sh in payments/api-7d9f8b6c5-x2x4q", MITRE: []string{"T1609"},
		Count: 3, Time: now, FirstSeen: now.Add(-5 * time.Minute), LastSeen: now,
	}
	secretAlert := detect.Alert{
		ID: "2222222222222222", Rule: "secret-list-cluster-wide", Category: detect.CategorySecret, Severity: detect.Critical,
		Subject: "system:serviceaccount:ci:deployer", Message: "deployer listed secrets in all namespaces",
		Count: 1, Time: now, FirstSeen: now, LastSeen: now,
	}
	// Last seen almost an hour ago: with the default one-hour resolve
	// timeout it ends a few seconds from now.
	fading := detect.Alert{
		ID: "3333333333333333", Rule: "new-egress-peer", Category: detect.CategoryNetwork, Severity: detect.Low,
		Namespace: "web", Workload: "Deployment/frontend", Message: "frontend contacted 203.0.113.7:443",
		Count: 1, Time: now.Add(-time.Hour + 4*time.Second), FirstSeen: now.Add(-time.Hour), LastSeen: now.Add(-time.Hour + 4*time.Second),
	}
	for _, a := range []detect.Alert{execAlert, secretAlert, fading} {
		d.Publish(a)
	}

	// (1) Alertmanager has them, labelled as the sink documents.
	byID := map[string]amAlert{}
	poll(t, 30*time.Second, "the alerts in Alertmanager's API", func() error {
		var got []amAlert
		if err := getJSON(amURL+"/api/v2/alerts", &got); err != nil {
			return err
		}
		clear(byID)
		for _, a := range got {
			byID[a.Labels["kubedelta_id"]] = a
		}
		if len(byID) < 3 {
			return fmt.Errorf("%d of 3 alerts: %v", len(byID), got)
		}
		return nil
	})
	got := byID[execAlert.ID]
	wantLabels := map[string]string{
		"alertname": "exec-into-pod", "severity": "high", "category": "exec", "namespace": "payments",
		"workload": "Deployment/api", "subject": "user:alice@example.com", "kubedelta_id": execAlert.ID,
	}
	for k, v := range wantLabels {
		if got.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got.Labels[k], v, got.Labels)
		}
	}
	if got.Annotations["summary"] != execAlert.Message || got.Annotations["mitre"] != "T1609" || got.Annotations["count"] != "3" {
		t.Errorf("annotations %v", got.Annotations)
	}
	if got.Status.State != "active" || len(got.Receivers) != 1 || got.Receivers[0].Name != "kubedelta-test" {
		t.Errorf("status %q, receivers %v: want active, routed to kubedelta-test", got.Status.State, got.Receivers)
	}
	if !got.StartsAt.Equal(execAlert.FirstSeen) || !got.EndsAt.Equal(execAlert.LastSeen.Add(time.Hour)) {
		t.Errorf("startsAt %v endsAt %v: want firstSeen %v and lastSeen + 1h", got.StartsAt, got.EndsAt, execAlert.FirstSeen)
	}
	if got.GeneratorURL != "http://kubedelta.test/api/v1/alerts?id="+execAlert.ID {
		t.Errorf("generatorURL %q", got.GeneratorURL)
	}
	if sec := byID[secretAlert.ID]; sec.Labels["severity"] != "critical" || sec.Labels["namespace"] != "" {
		t.Errorf("secret alert labels %v", sec.Labels)
	}

	// (2) Alertmanager notified the receiver of all three.
	poll(t, 30*time.Second, "webhook notifications", func() error {
		for _, id := range []string{execAlert.ID, secretAlert.ID, fading.ID} {
			if len(recv.statuses(id)) == 0 {
				return fmt.Errorf("no notification for %s", id)
			}
		}
		return nil
	})
	if st := recv.statuses(execAlert.ID); st[0] != "firing" {
		t.Errorf("exec alert notified as %v", st)
	}

	// (3) The fading alert resolves once its endsAt passes: Alertmanager
	// sends a resolved notification and lists it as active no more.
	poll(t, 30*time.Second, "the fading alert to resolve", func() error {
		st := recv.statuses(fading.ID)
		if st[len(st)-1] != "resolved" {
			return fmt.Errorf("statuses %v", st)
		}
		return nil
	})
	var active []amAlert
	if err := getJSON(amURL+"/api/v2/alerts?active=true&silenced=false&inhibited=false", &active); err != nil {
		t.Fatal(err)
	}
	for _, a := range active {
		if a.Labels["kubedelta_id"] == fading.ID && !a.EndsAt.After(time.Now()) {
			t.Errorf("resolved alert still listed as %s", a.Status.State)
		}
	}
	if st := recv.statuses(execAlert.ID); st[len(st)-1] != "firing" {
		t.Errorf("exec alert resolved early: %v", st)
	}

	stats := d.Stats()[0]
	if stats.Sent != 3 || stats.Failed != 0 || stats.Dropped != 0 {
		t.Errorf("sink stats %+v", stats)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for _, err := range recv.errs {
		t.Error(err)
	}
}
