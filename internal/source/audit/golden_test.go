package audit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// fixturePath is the real kube-apiserver audit log shared by the project's
// tests (see /work/shared/fixtures/README.md); CI checks shared/ out beside
// the repository.
const fixturePath = "../../../../shared/fixtures/audit/kube-apiserver-v1.37.2.jsonl.gz"

// summary renders one delivered event as a compact line:
// stage actor verb [group/]resource[/subresource] namespace/name-or-path code.
func summary(r *event.APIRequest) string {
	actor := r.User.Username
	if !r.Impersonated.IsZero() {
		actor += "(as " + r.Impersonated.Username + ")"
	}
	res, target := "-", r.Path
	if r.IsResource() {
		res = r.Resource
		if r.Subresource != "" {
			res += "/" + r.Subresource
		}
		if r.APIGroup != "" {
			res = r.APIGroup + "/" + res
		}
		name := r.Name
		if name == "" {
			name = "*"
		}
		target = name
		if r.Namespace != "" {
			target = r.Namespace + "/" + name
		}
	}
	return fmt.Sprintf("%s %s %s %s %s %d", r.Stage, actor, r.Verb, res, target, r.Code)
}

func openFixture(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		t.Fatalf("shared fixture missing: %v (CI checks out shared/ beside the repository; see /work/shared/fixtures/README.md)", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestFixtureGolden decodes the real kube-apiserver v1.37.2 log and compares
// a one-line summary per delivered event with testdata/fixture.golden
// (regenerate with go test -run TestFixtureGolden -update).
func TestFixtureGolden(t *testing.T) {
	d := NewDecoder(Options{})
	var out bytes.Buffer
	err := d.Decode(openFixture(t), "fixture", func(r *event.APIRequest) error {
		out.WriteString(summary(r))
		out.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fixture.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestFixtureGolden -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		gl, wl := bytes.Split(out.Bytes(), []byte{'\n'}), bytes.Split(want, []byte{'\n'})
		for i := range min(len(gl), len(wl)) {
			if !bytes.Equal(gl[i], wl[i]) {
				t.Fatalf("fixture summary differs from %s at line %d:\ngot  %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("fixture summary has %d lines, %s has %d", len(gl), golden, len(wl))
	}
}

// TestFixtureCounts pins what the stage filter and deduplication do with the
// real log: the API server wrote ResponseStarted and ResponseComplete for
// each of its 156 watches and 5 exec requests (RequestReceived is omitted
// by its policy), so each of those requests is delivered once, at
// ResponseStarted, and its ResponseComplete counts as a duplicate.
func TestFixtureCounts(t *testing.T) {
	type counts struct {
		records, delivered, duplicates, skipped, rejected   int64
		started, exec, forbidden, impersonated, nonResource int
	}
	tests := []struct {
		name string
		opts Options
		want counts
	}{
		{"default", Options{}, counts{1202, 1041, 161, 0, 0, 161, 5, 5, 2, 191}},
		{"all stages", Options{AllStages: true}, counts{1202, 1202, 0, 0, 0, 161, 10, 6, 2, 191}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.opts)
			var got counts
			err := d.Decode(openFixture(t), "fixture", func(r *event.APIRequest) error {
				if r.Stage == event.StageResponseStarted {
					got.started++
				}
				if r.Subresource == "exec" {
					got.exec++
				}
				if r.Forbidden() {
					got.forbidden++
				}
				if !r.Impersonated.IsZero() {
					got.impersonated++
				}
				if !r.IsResource() {
					got.nonResource++
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			st := d.Stats()
			got.records, got.delivered, got.duplicates, got.skipped, got.rejected = st.Records, st.Delivered, st.Duplicates, st.SkippedStages, st.Rejected
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
