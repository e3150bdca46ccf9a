package detect_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/source/audit"
)

// apiUpdate defines the -update flag of the golden files unless another
// test file of the package defined it first; apiUpdating reads it either
// way.
var apiUpdate = func() *bool {
	if flag.Lookup("update") != nil {
		return nil
	}
	return flag.Bool("update", false, "rewrite golden files under testdata/")
}()

func apiUpdating() bool {
	_ = apiUpdate // registered the flag when no other file did
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestAPIExampleDay runs the API detectors through the analyze pipeline
// over the bundled example day's audit log (examples/README.md), learning
// until noon. The alerts are compared with testdata/api/example-day.golden
// (go test ./internal/detect -run TestAPIExampleDay -update rewrites it),
// and the story's attack — the cart service account's token used by curl
// from its pod, then by kubectl from 203.0.113.66, enumerating — must be
// among them.
func TestAPIExampleDay(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the example day")
	}
	const ex = "../../examples"
	inv, err := cluster.Load([]string{filepath.Join(ex, "cluster")}, cluster.LoadOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := detect.DefaultConfig()
	cfg.LearnUntil = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ds := detect.APIDetectors(detect.APIOptions{})
	var rules []string
	for _, d := range ds {
		for _, r := range d.Rules() {
			rules = append(rules, r.ID)
		}
	}
	p := analyze.New(analyze.Options{
		Config: cfg, Index: cluster.NewIndex(inv), Detectors: ds,
		Authorizer: rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
			RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings}),
	})
	src := func(ctx context.Context, emit func(analyze.Item) error) error {
		d := audit.NewDecoder(audit.Options{KeepObjects: true})
		return d.DecodeFiles([]string{filepath.Join(ex, "audit.jsonl.gz")}, func(r *event.APIRequest) error {
			return emit(analyze.Item{Time: r.Time, API: analyze.CopyAPI(r, nil)})
		})
	}
	err = analyze.Merge(context.Background(), []analyze.Source{src}, func(it analyze.Item) error {
		if it.API != nil {
			p.API(it.API)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const cart = "system:serviceaccount:shop:cart"
	story := map[string]bool{}
	var lines []string
	for _, a := range p.Alerts() {
		if !slices.Contains(rules, a.Rule) {
			continue
		}
		switch {
		case a.Rule == detect.RuleRBACDeniedBurst && a.Subject == cart && a.Severity == detect.Critical:
			story["burst"] = true
		case a.Rule == detect.RuleAPINovelAgent && a.Subject == cart && a.Severity >= detect.High && strings.Contains(a.Message, "203.0.113.66"):
			story["stolen token"] = true
		case a.Rule == detect.RuleAPINovelAgent && a.Subject == cart && strings.Contains(a.Key, "agent curl"):
			story["curl"] = true
		case a.Rule == detect.RuleRBACDenied && a.Subject == cart:
			story["denied"] = true
		case (a.Rule == detect.RuleExecIntoPod || a.Rule == detect.RuleExecSuspicious) && a.Subject == "alice":
			story["alice exec"] = true
		}
		lines = append(lines, fmt.Sprintf("%s %s count=%d first=%s subject=%q workload=%q key=%q\n    %s",
			a.Severity, a.Rule, a.Count, a.FirstSeen.UTC().Format(time.TimeOnly), a.Subject, a.Workload, a.Key, a.Message))
	}
	for _, want := range []string{"burst", "stolen token", "curl", "denied", "alice exec"} {
		if !story[want] {
			t.Errorf("story step not reported: %s", want)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "api", "example-day.golden")
	if apiUpdating() {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("alerts differ from %s (run with -update after checking them):\n%s", golden, got)
	}
}
