package detect_test

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/source/flow"
)

// wkUpdate defines the -update flag of the golden files unless another
// test file of the package defined it first (files initialize in name
// order); wkUpdating reads it either way.
var wkUpdate = func() *bool {
	if flag.Lookup("update") != nil {
		return nil
	}
	return flag.Bool("update", false, "rewrite golden files under testdata/")
}()

func wkUpdating() bool {
	_ = wkUpdate // registered the flag when no other file did
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// wkRules are the rules this test family owns.
var wkRules = []string{
	detect.RuleRBACEscalation, detect.RuleWorkloadRiskySpec, detect.RulePersistenceChange,
	detect.RuleWorkloadFirstSeen, detect.RuleImageFirstSeen, detect.RuleImageUntrustedRegistry,
	detect.RuleNetNovelConnection, detect.RuleNetNovelEgress, detect.RuleNetDenied, detect.RuleExecNovelCommand,
}

// TestExampleDay runs the spec, network and process detectors through the
// analyze pipeline over the bundled example day (examples/README.md): the
// cluster inventory, its audit log and its Hubble flows, learning until
// noon. The alerts are compared with testdata/workloads/example-day.golden
// (go test ./internal/detect -run TestExampleDay -update rewrites it), and
// the story's attack must be among them.
func TestExampleDay(t *testing.T) {
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
	var ds []detect.Detector
	ds = append(ds, detect.SpecDetectors(detect.SpecOptions{})...)
	ds = append(ds, detect.NetworkDetectors(detect.NetOptions{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10")}})...)
	ds = append(ds, detect.ProcessDetectors(detect.ProcOptions{})...)
	p := analyze.New(analyze.Options{
		Config: cfg, Index: cluster.NewIndex(inv), Detectors: ds, ArgShape: baseline.ArgShape,
		Authorizer: rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
			RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings}),
	})
	sources := []analyze.Source{
		func(ctx context.Context, emit func(analyze.Item) error) error {
			d := audit.NewDecoder(audit.Options{KeepObjects: true})
			return d.DecodeFiles([]string{filepath.Join(ex, "audit.jsonl.gz")}, func(r *event.APIRequest) error {
				return emit(analyze.Item{Time: r.Time, API: analyze.CopyAPI(r, nil)})
			})
		},
		func(ctx context.Context, emit func(analyze.Item) error) error {
			d := flow.NewDecoder(flow.Options{})
			return d.DecodeFiles([]string{filepath.Join(ex, "flows.jsonl")}, func(f *event.Flow) error {
				return emit(analyze.Item{Time: f.Time, Flow: analyze.CopyFlow(f, nil)})
			})
		},
	}
	err = analyze.Merge(context.Background(), sources, func(it analyze.Item) error {
		switch {
		case it.API != nil:
			p.API(it.API)
		case it.Flow != nil:
			p.Flow(it.Flow)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var shell bool
	for _, a := range p.Alerts() {
		if !slices.Contains(wkRules, a.Rule) {
			continue
		}
		if a.Rule == detect.RuleNetNovelEgress && a.Workload == "Deployment/shop/cart" && strings.HasSuffix(a.Key, "TCP 4444") {
			shell = true
		}
		lines = append(lines, fmt.Sprintf("%s %s count=%d first=%s subject=%q workload=%q key=%q\n    %s",
			a.Severity, a.Rule, a.Count, a.FirstSeen.UTC().Format(time.TimeOnly), a.Subject, a.Workload, a.Key, a.Message))
	}
	if !shell {
		t.Error("the reverse shell from cart to 203.0.113.66:4444 was not reported")
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "workloads", "example-day.golden")
	if wkUpdating() {
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
