package netpolcmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleFlows = "../../../examples/flows.jsonl"

func TestUnusedExampleGolden(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			out, errs, code := run(t, "", "netpol", "unused", "--cluster", exampleCluster, "--flows", exampleFlows, "-o", format, "--top", "0")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			golden(t, filepath.Join("testdata", "unused-example."+format+".golden"), out)
		})
	}
}

// The story of the example's network (examples/README.md, "The network").
func TestUnusedExampleFindings(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "unused", "--cluster", exampleCluster, "--flows", exampleFlows, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Window                struct{ From, To string }
		UnprotectedNamespaces []string
		Workloads             []struct {
			Workload    string
			UnusedRules []struct{ Policy, Direction string }
			Summary     string
		}
		Rules []struct {
			Policy, Direction, Status, Why string
			Index                          int
		}
		Denied []struct {
			Src, Dst       string
			Port           int
			Count, Dropped int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Window.From, "2026-11-23T00:") || !strings.Contains(strings.Join(rep.UnprotectedNamespaces, ","), "shop") {
		t.Errorf("window %+v, unprotected %v", rep.Window, rep.UnprotectedNamespaces)
	}
	rules := map[string]string{}
	for _, r := range rep.Rules {
		rules[r.Policy+" "+r.Direction+" "+string(rune('0'+r.Index))] = r.Status
	}
	for rule, want := range map[string]string{
		// Admits every pod in shop; only payments connects.
		"data/allow-shop-to-postgres Ingress 0":  "partly used",
		"data/allow-cart-to-redis Ingress 0":     "used",
		"data/allow-prometheus-scrape Ingress 0": "used",
		"monitoring/prometheus-egress Egress 0":  "used",
		// Prometheus connects by pod IP: its DNS rule is never used.
		"monitoring/prometheus-egress Egress 1": "unused",
		"monitoring/prometheus-egress Egress 2": "used",
	} {
		if rules[rule] != want {
			t.Errorf("%s: %q, want %q", rule, rules[rule], want)
		}
	}
	// web -> redis:6379, three attempts with four SYNs each, dropped by
	// data's default deny.
	found := false
	for _, d := range rep.Denied {
		if d.Src == "Deployment/shop/web" && d.Dst == "Deployment/data/redis" && d.Port == 6379 {
			found = d.Count == 12 && d.Dropped == 12
		}
	}
	if !found || len(rep.Denied) != 1 {
		t.Errorf("denied %+v: want web -> redis 6379, 12 flows, all dropped", rep.Denied)
	}
	for _, w := range rep.Workloads {
		if w.Workload == "Deployment/monitoring/prometheus" && (len(w.UnusedRules) != 1 || !strings.Contains(w.Summary, "it talked to 8")) {
			t.Errorf("prometheus: %+v", w)
		}
	}
}

// Bad input names the file and line, and the command says what to do.
func TestUnusedBadInput(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(exampleFlows)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(good), "\n", 4)
	mixed := filepath.Join(dir, "mixed.jsonl")
	write(t, mixed, lines[0]+"\n"+`{"flow":{"time":"yesterday","IP":{"source":"10.0.0.1"}}}`+"\n"+lines[1]+"\n")
	bad := filepath.Join(dir, "bad.jsonl")
	write(t, bad, "{\"flow\": {\"IP\": \n{not json\n")
	empty := filepath.Join(dir, "empty.jsonl")
	write(t, empty, "\n\n")

	// Not strict: the bad record is reported (file:line) and skipped.
	out, errs, code := run(t, "", "netpol", "unused", "--cluster", exampleCluster, "--flows", mixed)
	if code != 0 || !strings.Contains(errs, "mixed.jsonl:2") || !strings.Contains(out, "1 malformed records skipped") {
		t.Errorf("skip: exit %d, stderr %q, out %.200q", code, errs, out)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"strict", []string{"--flows", mixed, "--strict"}, "mixed.jsonl:2: field \"flow.time\""},
		{"all malformed", []string{"--flows", bad}, "no usable flow record"},
		{"empty", []string{"--flows", empty}, "no flow records in"},
		{"missing file", []string{"--flows", filepath.Join(dir, "nope.jsonl")}, "nope.jsonl"},
		{"no flows", nil, "give --flows FILE"},
		{"format", []string{"--flows", mixed, "--flow-format", "pcap"}, `unknown flow format "pcap"`},
		{"since", []string{"--flows", mixed, "--since", "monday"}, "--since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"netpol", "unused", "--cluster", exampleCluster}, tt.args...)
			_, errs, code := run(t, "", args...)
			if code != 2 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errs, tt.want)
			}
		})
	}
	if _, errs, code := run(t, "", "netpol", "unused", "--flows", mixed); code != 2 || !strings.Contains(errs, "--cluster") {
		t.Errorf("no cluster: exit %d, %q", code, errs)
	}
}

// --since and --until select the flows of a window.
func TestUnusedWindow(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "unused", "--cluster", exampleCluster, "--flows", exampleFlows,
		"--since", "2026-11-23T14:00:00Z", "--until", "2026-11-23T15:00:00Z", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Window struct{ From, To string }
		Flows  int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Window.From, "2026-11-23T14:") || !strings.HasPrefix(rep.Window.To, "2026-11-23T14:") || rep.Flows == 0 || rep.Flows > 100 {
		t.Errorf("window %+v, %d flows", rep.Window, rep.Flows)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
