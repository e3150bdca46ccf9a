package flow

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixtureDir holds the shared real-world captures (see
// ../shared/fixtures/README.md from the repository root).
const fixtureDir = "../../../../shared/fixtures"

// summary renders one flow as a single line, the unit of the golden files.
func summary(f *event.Flow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s -> %s %s pkts=%d bytes=%d",
		f.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), f.Protocol,
		endpointAddr(f.Src), endpointAddr(f.Dst), f.Verdict, f.Packets, f.Bytes)
	if f.Node != "" {
		fmt.Fprintf(&b, " node=%s", f.Node)
	}
	writeHints(&b, "src", f.Src)
	writeHints(&b, "dst", f.Dst)
	return b.String()
}

func endpointAddr(e event.Endpoint) string {
	if e.Port == 0 {
		return e.IP.String()
	}
	if e.IP.Is6() {
		return fmt.Sprintf("[%s]:%d", e.IP, e.Port)
	}
	return fmt.Sprintf("%s:%d", e.IP, e.Port)
}

func writeHints(b *strings.Builder, side string, e event.Endpoint) {
	if e.Namespace == "" && e.Pod == "" && len(e.Labels) == 0 && len(e.Names) == 0 {
		return
	}
	fmt.Fprintf(b, " %s{", side)
	var parts []string
	if e.Namespace != "" {
		parts = append(parts, "ns="+e.Namespace)
	}
	if e.Pod != "" {
		parts = append(parts, "pod="+e.Pod)
	}
	if len(e.Labels) > 0 {
		parts = append(parts, "labels="+strings.Join(e.Labels, ","))
	}
	if len(e.Names) > 0 {
		parts = append(parts, "names="+strings.Join(e.Names, ","))
	}
	b.WriteString(strings.Join(parts, " "))
	b.WriteString("}")
}

func statsLine(s Stats) string {
	return fmt.Sprintf("# records=%d delivered=%d replies=%d duplicates=%d skipped=%d rejected=%d",
		s.Records, s.Delivered, s.Replies, s.Duplicates, s.Skipped, s.Rejected)
}

// decodeAll decodes input with opts and returns the summaries and stats.
func decodeAll(t testing.TB, opts Options, name string, input []byte) ([]string, Stats, error) {
	t.Helper()
	d := NewDecoder(opts)
	var out []string
	err := d.Decode(bytes.NewReader(input), name, func(f *event.Flow) error {
		out = append(out, summary(f))
		return nil
	})
	return out, d.Stats(), err
}

// checkInvariant asserts that every record was accounted for exactly once.
func checkInvariant(t testing.TB, s Stats) {
	t.Helper()
	if sum := s.Delivered + s.Replies + s.Duplicates + s.Skipped + s.Rejected; sum != s.Records {
		t.Errorf("stats do not add up: %s (sum %d)", statsLine(s), sum)
	}
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
		t.Fatalf("%s differs in length: got %d lines, want %d", path, len(gl), len(wl))
	}
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(out *[]string) func(*event.Flow) error {
	return func(f *event.Flow) error {
		*out = append(*out, summary(f))
		return nil
	}
}
