package proc

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// summary renders one process event as a single line, the unit of the
// golden files. Empty fields are left out.
func summary(e *event.Exec) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"))
	b.WriteString(" " + e.Source)
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + v)
		}
	}
	kv("node", e.Node)
	kv("ns", e.Namespace)
	kv("pod", e.Pod)
	kv("container", e.Container)
	kv("id", e.ContainerID)
	kv("image", e.Image)
	if e.Workload != "" || e.WorkloadKind != "" {
		kv("workload", e.WorkloadKind+"/"+e.Workload)
	}
	kv("labels", strings.Join(e.Labels, ","))
	fmt.Fprintf(&b, " pid=%d uid=%d", e.PID, e.UID)
	kv("cwd", e.Cwd)
	kv("exe", e.Executable)
	b.WriteString(" args=" + quoteArgs(e.Args))
	kv("parent", e.Parent)
	if e.Rule != "" {
		kv("rule", strconv.Quote(e.Rule))
	}
	kv("priority", e.Priority)
	return b.String()
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func statsLine(s Stats) string {
	return fmt.Sprintf("# records=%d delivered=%d skipped=%d rejected=%d",
		s.Records, s.Delivered, s.Skipped, s.Rejected)
}

// checkInvariant fails when the counters do not add up.
func checkInvariant(t testing.TB, s Stats) {
	t.Helper()
	if s.Records != s.Delivered+s.Skipped+s.Rejected {
		t.Fatalf("counters do not add up: %s", statsLine(s))
	}
}

// decodeAll decodes input with opts and returns the summaries and stats.
func decodeAll(t testing.TB, opts Options, name string, input []byte) ([]string, Stats, error) {
	t.Helper()
	d := NewDecoder(opts)
	var out []string
	err := d.Decode(bytes.NewReader(input), name, func(e *event.Exec) error {
		out = append(out, summary(e))
		return nil
	})
	return out, d.Stats(), err
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := readTestdataErr(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readTestdataErr(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test -update if the change is intended)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d (run go test -update if the change is intended)", path, len(gl), len(wl))
	}
}
