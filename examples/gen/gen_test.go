package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/source/flow"
)

var update = flag.Bool("update", false, "rewrite the committed example files (examples/) with the generator's output")

// exampleDir is examples/, seen from examples/gen.
const exampleDir = ".."

// generate runs the generator into a temporary directory.
func generate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := run(dir, io.Discard); err != nil {
		t.Fatalf("generator: %v", err)
	}
	return dir
}

var (
	sharedOnce sync.Once
	sharedDir  string
	sharedErr  error
)

// generated is one run of the generator shared by the tests (a run takes a
// while under -race).
func generated(t *testing.T) string {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedDir, sharedErr = os.MkdirTemp("", "kubedelta-example-"); sharedErr == nil {
			sharedErr = run(sharedDir, io.Discard)
		}
	})
	if sharedErr != nil {
		t.Fatalf("generator: %v", sharedErr)
	}
	return sharedDir
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// outputs lists the files the generator writes, relative to its directory.
func outputs(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// content returns a file's content, decompressed if it is gzipped: gzip's
// bytes may change between Go releases, the content must not.
func content(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(path) != ".gz" {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// TestCommittedFilesAreGenerated fails when examples/ differs from what the
// generator writes: someone edited an output by hand, or changed the
// generator without regenerating (go test ./examples/gen -update).
func TestCommittedFilesAreGenerated(t *testing.T) {
	if *update {
		if err := run(exampleDir, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	dir := generated(t)
	files := outputs(t, dir)
	if len(files) < 10 {
		t.Fatalf("generator wrote only %v", files)
	}
	for _, f := range files {
		got, want := content(t, filepath.Join(exampleDir, f)), content(t, filepath.Join(dir, f))
		if !bytes.Equal(got, want) {
			t.Errorf("examples/%s is not what the generator writes; run: go run ./examples/gen", f)
		}
	}
}

func TestDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the example twice")
	}
	a, b := generated(t), generate(t)
	for _, f := range outputs(t, a) {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", f)
		}
	}
}

// The example must load with kubedelta's own readers, strictly: nothing
// rejected, nothing skipped for an unsupported apiVersion.
func TestExampleDecodes(t *testing.T) {
	inv, err := cluster.Load([]string{filepath.Join(exampleDir, "cluster")}, cluster.LoadOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	if len(inv.Skipped) != 0 || len(inv.ImplicitNamespaces) != 0 || len(inv.Duplicates) != 0 {
		t.Errorf("cluster: skipped %v, implicit namespaces %v, duplicates %v", inv.Skipped, inv.ImplicitNamespaces, inv.Duplicates)
	}
	for what, n := range map[string]int{"namespaces": len(inv.Namespaces), "nodes": len(inv.Nodes), "pods": len(inv.Pods),
		"cluster roles": len(inv.ClusterRoles), "network policies": len(inv.NetworkPolicies)} {
		if n == 0 {
			t.Errorf("cluster: no %s", what)
		}
	}

	ad := audit.NewDecoder(audit.Options{Strict: true})
	var requests int
	if err := ad.DecodeFiles([]string{filepath.Join(exampleDir, "audit.jsonl.gz")}, func(*event.APIRequest) error {
		requests++
		return nil
	}); err != nil {
		t.Fatalf("audit: %v", err)
	}
	if st := ad.Stats(); st.Rejected != 0 || st.Records < 10000 || st.Records > 20000 || requests < 5000 {
		t.Errorf("audit: %d records, %d requests, %d rejected; want 10,000-20,000 records, none rejected", st.Records, requests, st.Rejected)
	}

	fd := flow.NewDecoder(flow.Options{Strict: true, Format: flow.FormatHubble})
	verdicts := map[event.Verdict]int{}
	if err := fd.DecodeFiles([]string{filepath.Join(exampleDir, "flows.jsonl")}, func(f *event.Flow) error {
		verdicts[f.Verdict]++
		return nil
	}); err != nil {
		t.Fatalf("flows: %v", err)
	}
	if st := fd.Stats(); st.Rejected != 0 || st.Skipped != 0 || st.Replies == 0 {
		t.Errorf("flows: %+v; want nothing rejected or skipped, and replies", st)
	}
	if verdicts[event.VerdictForwarded] < 200 || verdicts[event.VerdictDropped] == 0 {
		t.Errorf("flows: verdicts %v; want hundreds forwarded and some dropped", verdicts)
	}
}

func TestExampleSize(t *testing.T) {
	var total int64
	for _, f := range append(outputs(t, filepath.Join(exampleDir, "cluster")), "../audit.jsonl.gz", "../flows.jsonl") {
		st, err := os.Stat(filepath.Join(exampleDir, "cluster", f))
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	if total > 3<<20 {
		t.Errorf("the example is %d bytes; keep it under 3 MiB (it is in every clone)", total)
	}
}

// BenchmarkGenerate measures building the model and rendering both logs
// (without compression or disk writes).
func BenchmarkGenerate(b *testing.B) {
	var records int
	for b.Loop() {
		m := newModel(seed)
		al, err := auditLog(m)
		if err != nil {
			b.Fatal(err)
		}
		fl, err := flowLog(m)
		if err != nil {
			b.Fatal(err)
		}
		records = bytes.Count(al, []byte{'\n'}) + bytes.Count(fl, []byte{'\n'})
	}
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
}
