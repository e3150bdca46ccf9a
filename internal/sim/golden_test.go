package sim

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// head returns the first n lines of b.
func head(b []byte, n int) []byte {
	end := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(b[end:], '\n')
		if j < 0 {
			return b
		}
		end += j + 1
	}
	return b[:end]
}

// The golden files pin the output formats and the determinism across
// platforms and Go releases: a change to them is a change to review. Run
// `go test ./internal/sim/ -run Golden -update` to rewrite them.
func TestGolden(t *testing.T) {
	cfg := Config{Seed: 42, Namespaces: 2, Days: 0.1, Attacks: []string{"stolen-token", "exec-reverse-shell"}}
	for _, format := range []string{ExecFalco, ExecTetragon} {
		o := simulate(t, cfg, format)
		var b bytes.Buffer
		fmt.Fprintf(&b, "# seed %d, %d namespaces, %v days: %d nodes, %d pods, %d objects, %d audit events, %d flows, %d %s events\n",
			cfg.Seed, cfg.Namespaces, cfg.Days, o.sum.Nodes, o.sum.Pods, o.sum.Objects, o.sum.AuditEvents, o.sum.Flows, o.sum.ExecEvents, format)
		for _, part := range []struct {
			name string
			data []byte
			n    int
		}{
			{"ground-truth.jsonl", o.groundTruth.Bytes(), 100},
			{"audit.jsonl", o.audit.Bytes(), 4},
			{"flows.jsonl", o.flows.Bytes(), 4},
			{"exec.jsonl", o.exec.Bytes(), 4},
		} {
			fmt.Fprintf(&b, "# %s (first lines)\n", part.name)
			b.Write(head(part.data, part.n))
		}
		golden(t, filepath.Join("testdata", "golden-"+format+".txt"), b.Bytes())
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("%s: line %d differs:\n got: %.300s\nwant: %.300s\n(run with -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d (run with -update if the change is intended)", path, len(gl), len(wl))
	}
}
