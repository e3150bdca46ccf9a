package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/sink"
)

// startPrometheus runs a real Prometheus scraping target (host:port,
// path /metrics) every second and returns its base URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := binary(t, "PROMETHEUS_BIN", "prometheus")
	addr := freeAddr(t)
	cfg := writeFile(t, "prometheus.yml", `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: kubedelta
  metrics_path: /metrics
  static_configs:
  - targets: [`+quoteYAML(target)+`]
`)
	startProcess(t, "prometheus", bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(t.TempDir(), "tsdb"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	base := "http://" + addr
	waitReady(t, base)
	return base
}

// promSample is one element of an instant vector in Prometheus's
// /api/v1/query answer.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [unix time, "value"]
}

// query runs an instant query and returns the vector.
func query(base, q string) ([]promSample, error) {
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(base+"/api/v1/query?query="+url.QueryEscape(q), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" || resp.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: status %s, type %s: %s", q, resp.Status, resp.Data.ResultType, resp.Error)
	}
	return resp.Data.Result, nil
}

func (s promSample) value() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return -1
	}
	return v
}

// targetHealth explains a failing scrape from /api/v1/targets.
func targetHealth(base string) string {
	var resp struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := getJSON(base+"/api/v1/targets", &resp); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, tg := range resp.Data.ActiveTargets {
		fmt.Fprintf(&b, "%s: %s %s; ", tg.ScrapeURL, tg.Health, tg.LastError)
	}
	return b.String()
}

// waitSeries polls q until some sample satisfies ok.
func waitSeries(t *testing.T, prom, q string, ok func(promSample) bool) promSample {
	t.Helper()
	var found promSample
	poll(t, 30*time.Second, "series "+q, func() error {
		res, err := query(prom, q)
		if err != nil {
			return err
		}
		for _, s := range res {
			if ok(s) {
				found = s
				return nil
			}
		}
		return fmt.Errorf("result %v; targets: %s", res, targetHealth(prom))
	})
	return found
}

// writeSinkMetrics renders the dispatcher's counters in the Prometheus
// text format (version 0.0.4).
func writeSinkMetrics(w http.ResponseWriter, stats []sink.Stats) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# HELP kubedelta_sink_alerts_total Alerts by sink and outcome.")
	fmt.Fprintln(w, "# TYPE kubedelta_sink_alerts_total counter")
	for _, s := range stats {
		for _, kv := range []struct {
			result string
			n      uint64
		}{{"sent", s.Sent}, {"failed", s.Failed}, {"dropped", s.Dropped}, {"filtered", s.Filtered}} {
			fmt.Fprintf(w, "kubedelta_sink_alerts_total{sink=%q,result=%q} %d\n", s.Sink, kv.result, kv.n)
		}
	}
	fmt.Fprintln(w, "# HELP kubedelta_sink_queue_length Alerts waiting in a sink's queue.")
	fmt.Fprintln(w, "# TYPE kubedelta_sink_queue_length gauge")
	for _, s := range stats {
		fmt.Fprintf(w, "kubedelta_sink_queue_length{sink=%q} %d\n", s.Sink, s.Pending)
	}
}

// TestPrometheusScrapesSinkMetrics: a real Prometheus scrapes a /metrics
// endpoint rendering the sink dispatcher's counters, and its query API
// returns the series with the value the dispatcher counted. (The full
// server's /metrics is scraped by TestPrometheusScrapesServe.)
func TestPrometheusScrapesSinkMetrics(t *testing.T) {
	requireIntegration(t)
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hook.Close)
	s, err := sink.New(sink.SinkConfig{Type: sink.TypeWebhook, URL: hook.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sink.NewDispatcher([]sink.Target{{Sink: s, Filter: sink.Filter{MinSeverity: detect.Medium}}}, sink.Options{BatchWait: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := range 7 {
		sev := detect.High
		if i%3 == 0 {
			sev = detect.Low // filtered
		}
		d.Publish(detect.Alert{ID: fmt.Sprint(i), Rule: "r", Severity: sev, Category: detect.CategoryAPI, Message: "m"})
	}
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		writeSinkMetrics(w, d.Stats())
	}))
	t.Cleanup(metrics.Close)

	prom := startPrometheus(t, strings.TrimPrefix(metrics.URL, "http://"))
	waitSeries(t, prom, `up{job="kubedelta"}`, func(s promSample) bool { return s.value() == 1 })
	sent := waitSeries(t, prom, `kubedelta_sink_alerts_total{result="sent"}`, func(s promSample) bool { return s.value() == 4 })
	if sent.Metric["sink"] != "webhook" || sent.Metric["job"] != "kubedelta" {
		t.Errorf("series labels %v", sent.Metric)
	}
	waitSeries(t, prom, `kubedelta_sink_alerts_total{result="filtered"}`, func(s promSample) bool { return s.value() == 3 })
}
