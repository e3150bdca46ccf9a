package simcmd

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/sim"
)

func runSim(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := NewCommand(iostreams.Streams{Out: &out, Err: &errb}.WithDefaults())
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

var files = []string{"cluster.yaml", "audit.jsonl", "flows.jsonl", "exec.jsonl", "ground-truth.jsonl"}

func TestSimWritesEveryFile(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runSim(t, "--out", dir, "--namespaces", "2", "--days", "0.125", "--seed", "3", "--attack", "secrets-dump,malicious-webhook")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (size %d)", f, err, st.Size())
		}
	}
	for _, want := range []string{"Simulated 2 namespaces", "audit.jsonl", "STREAM", "secrets-dump", "persistence.change", "audit events/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	gt, _ := os.ReadFile(filepath.Join(dir, "ground-truth.jsonl"))
	if n := bytes.Count(gt, []byte("\n")); n != 2 {
		t.Errorf("ground truth has %d records, want 2", n)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(files) {
		t.Errorf("directory has %d entries, want %d", len(ents), len(files))
	}
}

// --gzip writes the same content compressed, and the same flags write the
// same bytes.
func TestSimGzipAndDeterminism(t *testing.T) {
	plain, gz1, gz2 := t.TempDir(), t.TempDir(), t.TempDir()
	args := []string{"--namespaces", "2", "--days", "0.1", "--seed", "9", "--attack", "all", "--exec-format", "tetragon"}
	for _, d := range []struct {
		dir string
		gz  bool
	}{{plain, false}, {gz1, true}, {gz2, true}} {
		a := append([]string{"--out", d.dir, "-o", "json"}, args...)
		if d.gz {
			a = append(a, "--gzip")
		}
		if _, _, err := runSim(t, a...); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		want, err := os.ReadFile(filepath.Join(plain, f))
		if err != nil {
			t.Fatal(err)
		}
		z1, err := os.ReadFile(filepath.Join(gz1, f+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		z2, _ := os.ReadFile(filepath.Join(gz2, f+".gz"))
		if !bytes.Equal(z1, z2) {
			t.Errorf("%s.gz differs between two runs", f)
		}
		zr, err := gzip.NewReader(bytes.NewReader(z1))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s.gz does not decompress to %s", f, f)
		}
	}
}

func TestSimJSONReport(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runSim(t, "--out", dir, "--namespaces", "1", "--days", "0.05", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Summary sim.Summary
		Files   []fileReport
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Files) != len(files) || rep.Summary.AuditEvents == 0 || rep.Files[1].Records != rep.Summary.AuditEvents || rep.Files[1].Bytes == 0 {
		t.Errorf("report: %+v", rep)
	}
}

func TestSimErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
		is   error
	}{
		{"no out", []string{"--namespaces", "1"}, `required flag(s) "out" not set`, nil},
		{"attack", []string{"--out", dir, "--attack", "rootkit"}, `unknown attack: "rootkit"`, sim.ErrAttack},
		{"exec format", []string{"--out", dir, "--exec-format", "auditd"}, `exec format "auditd"`, sim.ErrConfig},
		{"start", []string{"--out", dir, "--start", "yesterday"}, `--start "yesterday"`, nil},
		{"namespaces", []string{"--out", dir, "--namespaces", "-3"}, `namespaces = -3`, sim.ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runSim(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A failed run leaves no file behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("failed runs left %d files", len(ents))
	}
}

func TestSimCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cmd := NewCommand(iostreams.Streams{}.WithDefaults())
	cmd.SetArgs([]string{"--out", dir, "--namespaces", "1", "--days", "0.1"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("a cancelled run left %d files", len(ents))
	}
}
