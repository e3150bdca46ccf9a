package servecmd

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/loadgen"
	"github.com/kubedelta/kubedelta/internal/server"
)

// TestLoad is the load test of docs/benchmarks.md: a server process with
// every detector on and the example cluster's inventory, fed realistic
// audit batches by the load generator for a bounded time. It reports the
// acknowledged and the processed throughput (processing must keep up for
// the rate to be sustained: the WAL only absorbs bursts), the p50/p99
// acknowledgement latency and the server's peak RSS. It runs only with
// KUBEDELTA_LOAD=1 (KUBEDELTA_LOAD_EVENTS, _DURATION, _CONCURRENCY and
// _RATE tune it) and fails below KUBEDELTA_LOAD_MIN events/s when set.
func TestLoad(t *testing.T) {
	if os.Getenv("KUBEDELTA_LOAD") != "1" || testing.Short() {
		t.Skip("set KUBEDELTA_LOAD=1 to run the load test")
	}
	env := func(k string, def float64) float64 {
		if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
			return v
		}
		return def
	}
	tpl, err := loadgen.ReadTemplates("../../../examples/audit.jsonl.gz", 0)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	dir := t.TempDir()
	level := os.Getenv("KUBEDELTA_LOAD_LOG")
	if level == "" {
		level = "warn"
	}
	args := []string{"--data-dir", dir, "--cluster", "../../../examples/cluster", "--listen", addr, "--insecure", "--log-level", level}
	if n := os.Getenv("KUBEDELTA_LOAD_SNAPSHOT_BYTES"); n != "" {
		f := dir + "/server.yaml"
		if err := os.WriteFile(f, []byte("apiVersion: kubedelta.io/v1alpha1\nkind: ServerConfig\nprocessing:\n  snapshotBytes: "+n+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", f)
	}
	p := startProc(t, addr, args...)
	cfg := loadgen.Config{
		Target:      p.base,
		Events:      int64(env("KUBEDELTA_LOAD_EVENTS", 3_000_000)),
		Duration:    time.Duration(env("KUBEDELTA_LOAD_DURATION", 60) * float64(time.Second)),
		Concurrency: int(env("KUBEDELTA_LOAD_CONCURRENCY", 16)),
		Rate:        env("KUBEDELTA_LOAD_RATE", 0),
		Templates:   tpl,
	}
	cpu0, err := loadgen.CPUTime(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var st server.Stats
	for {
		p.getJSON(server.PathStats, &st)
		a := st.Audit
		if a.Processed+a.Duplicates+a.Skipped == a.Accepted {
			break
		}
		if time.Since(start) > cfg.Duration+5*time.Minute {
			t.Fatalf("processing did not catch up: %+v", a)
		}
		time.Sleep(50 * time.Millisecond)
	}
	processedIn := time.Since(start)
	rss, err := loadgen.PeakRSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cpu1, err := loadgen.CPUTime(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	perSec := float64(st.Audit.Accepted) / processedIn.Seconds()
	t.Logf("acknowledged %d events in %s: %.0f events/s; p50 %s p99 %s max %s; %d batches, %d failed %v, mean body %d B",
		r.Events, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.P50, r.P99, r.Max, r.Batches, r.Failed, r.Status, r.BodyBytes)
	t.Logf("processed %d (+%d duplicates/skipped) of %d accepted within %s: %.0f events/s end to end; alerts %d; peak RSS %.1f MiB",
		st.Audit.Processed, st.Audit.Duplicates+st.Audit.Skipped, st.Audit.Accepted, processedIn.Round(time.Millisecond), perSec,
		st.Alert.Total, float64(rss)/(1<<20))
	cpu := cpu1 - cpu0
	t.Logf("server CPU %s (%.2f cores): %.0f events per CPU-second", cpu, cpu.Seconds()/processedIn.Seconds(), float64(st.Audit.Accepted)/cpu.Seconds())
	if st.Audit.Accepted != r.Events {
		t.Errorf("server accepted %d events, the generator had %d acknowledged", st.Audit.Accepted, r.Events)
	}
	if min := env("KUBEDELTA_LOAD_MIN", 0); perSec < min {
		t.Errorf("%.0f events/s end to end, below the %.0f required", perSec, min)
	}
	p.term()
	if level == "debug" {
		for _, l := range strings.Split(p.logs.String(), "\n") {
			if strings.Contains(l, "snapshot saved") {
				t.Log(l)
			}
		}
	}
}
