package servecmd

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/server"
)

// serverBinary returns the command that runs `kubedelta serve`: the real
// binary built from ./cmd/kubedelta when its serve command is wired, else
// this test binary acting as it (TestMain).
var serverBinary = sync.OnceValues(func() ([]string, error) {
	dir, err := os.MkdirTemp("", "kubedelta-servecmd-test")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "kubedelta")
	build := exec.Command("go", "build", "-o", bin, "../../../cmd/kubedelta")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/kubedelta: %v\n%s", err, out)
	}
	if exec.Command(bin, "serve", "--help").Run() == nil {
		return []string{bin, "serve"}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return []string{self}, nil
})

// proc is a server process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	logs *lockedBuffer
	done chan error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startProc starts `serve` with args and waits for /healthz.
func startProc(t *testing.T, addr string, args ...string) *proc {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin[0], append(bin[1:], args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	p := &proc{t: t, cmd: cmd, base: "http://" + addr, logs: &lockedBuffer{b: &bytes.Buffer{}}, done: make(chan error, 1)}
	cmd.Stderr = p.logs
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.base + server.PathHealth)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("server exited: %v\n%s", err, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy within 30s\n%s", p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and waits for a clean exit.
func (p *proc) term() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("server exit: %v\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("server did not stop within 30s of SIGTERM")
	}
}

func (p *proc) post(path string, body []byte) (int, error) {
	resp, err := http.Post(p.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (p *proc) getJSON(path string, v any) {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		p.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
}

// settle waits until everything accepted is processed.
func (p *proc) settle() server.Stats {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st server.Stats
		p.getJSON(server.PathStats, &st)
		a := st.Audit
		if st.Ready && st.WAL.PendingRecords == 0 && a.Processed+a.Duplicates+a.Skipped == a.Accepted {
			return st
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("not settled within 60s: %+v", st)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func exampleBatches(t *testing.T, n int) [][]byte {
	t.Helper()
	f, err := os.Open("../../../examples/audit.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	var out [][]byte
	for i := 0; i < len(lines); i += n {
		var b bytes.Buffer
		b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
		b.Write(bytes.Join(lines[i:min(i+n, len(lines))], []byte(",")))
		b.WriteString("]}")
		out = append(out, b.Bytes())
	}
	return out
}

func alertLines(alerts []server.StoredAlert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, fmt.Sprintf("%s %s %s count=%d", a.ID, a.Rule, a.Severity, a.Count))
	}
	sort.Strings(out)
	return out
}

// TestCrashRecovery streams the example audit log as webhook batches into
// a server process, kills it with SIGKILL twice mid-stream (the sender
// retries the batch it got no answer for, as the API server does),
// restarts it, finishes, and compares with an uninterrupted run: nothing
// acknowledged is lost, nothing is counted twice, and the alerts are the
// same.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs server processes")
	}
	batches := exampleBatches(t, 100)
	// Frequent snapshots, so that the kills fall between snapshots and
	// restarts replay the WAL after one.
	cfgFile := filepath.Join(t.TempDir(), "server.yaml")
	if err := os.WriteFile(cfgFile, []byte("apiVersion: kubedelta.io/v1alpha1\nkind: ServerConfig\n"+
		"processing:\n  snapshotInterval: 50ms\n  snapshotRecords: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(dir, addr string) []string {
		return []string{"--config", cfgFile, "--data-dir", dir, "--cluster", "../../../examples/cluster", "--listen", addr, "--insecure", "--log-level", "debug"}
	}

	// The uninterrupted run.
	addr := freePort(t)
	dirA := t.TempDir()
	a := startProc(t, addr, args(dirA, addr)...)
	for i, b := range batches {
		if code, err := a.post(server.PathAudit, b); err != nil || code != 200 {
			t.Fatalf("uninterrupted run, batch %d: %d %v", i, code, err)
		}
	}
	wantStats := a.settle()
	a.term() // the final snapshot writes the latest alert counts
	a = startProc(t, addr, args(dirA, addr)...)
	a.settle()
	var wantAlerts server.AlertList
	a.getJSON(server.PathAlerts+"?limit=0&acked=true", &wantAlerts)
	a.term()

	// The interrupted run: SIGKILL right after batches 1/3 and 2/3 are
	// acknowledged, while the processor is still behind.
	dirB := t.TempDir()
	addr = freePort(t)
	b := startProc(t, addr, args(dirB, addr)...)
	kills := map[int]bool{len(batches) / 3: true, 2 * len(batches) / 3: true}
	var acked, retried int
	for i := 0; i < len(batches); i++ {
		code, err := b.post(server.PathAudit, batches[i])
		if err != nil || code != 200 {
			t.Fatalf("interrupted run, batch %d: %d %v", i, code, err)
		}
		acked++
		if kills[i] {
			delete(kills, i)
			b.kill()
			b = startProc(t, addr, args(dirB, addr)...)
			// The batch in flight at the kill is sent again: acknowledged
			// or not, it must count once.
			if code, err := b.post(server.PathAudit, batches[i]); err != nil || code != 200 {
				t.Fatalf("retry of batch %d: %d %v", i, code, err)
			}
			retried++
		}
	}
	gotStats := b.settle()
	if n := strings.Count(b.logs.String(), "snapshot saved"); n == 0 {
		t.Error("no snapshot was saved during the interrupted run: the test does not cover replay after a snapshot")
	}
	b.term()
	b = startProc(t, addr, args(dirB, addr)...)
	afterRestart := b.settle()
	var gotAlerts server.AlertList
	b.getJSON(server.PathAlerts+"?limit=0&acked=true", &gotAlerts)
	b.term()

	t.Logf("uninterrupted: %+v", wantStats.Audit)
	t.Logf("interrupted:   %+v (%d batches, %d retried)", gotStats.Audit, acked, retried)
	if gotStats.Audit.Processed != wantStats.Audit.Processed {
		t.Errorf("processed %d, uninterrupted %d: events lost or counted twice", gotStats.Audit.Processed, wantStats.Audit.Processed)
	}
	// Every acknowledged event is accounted for; the retried batches add
	// accepted events that are all duplicates.
	retriedEvents := gotStats.Audit.Accepted - wantStats.Audit.Accepted
	if retriedEvents != int64(retried*100) {
		t.Errorf("accepted %d, uninterrupted %d: want exactly the %d retried events more", gotStats.Audit.Accepted, wantStats.Audit.Accepted, retried*100)
	}
	if got, want := gotStats.Audit.Duplicates+gotStats.Audit.Skipped, wantStats.Audit.Duplicates+wantStats.Audit.Skipped+retriedEvents; got != want {
		t.Errorf("duplicates+skipped %d, want %d", got, want)
	}
	if afterRestart.Audit != gotStats.Audit {
		t.Errorf("counters changed across a clean restart: %+v then %+v", gotStats.Audit, afterRestart.Audit)
	}
	gl, wl := alertLines(gotAlerts.Alerts), alertLines(wantAlerts.Alerts)
	if strings.Join(gl, "\n") != strings.Join(wl, "\n") {
		t.Errorf("alerts differ from the uninterrupted run:\n got:\n%s\nwant:\n%s", strings.Join(gl, "\n"), strings.Join(wl, "\n"))
	}
	if len(wl) == 0 {
		t.Error("no alerts at all: the comparison proves nothing")
	}
}
