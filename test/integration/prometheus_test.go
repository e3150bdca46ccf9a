package integration

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
