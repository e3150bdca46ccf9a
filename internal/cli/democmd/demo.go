// Package democmd implements `kubedelta demo`: simulate a week of a
// realistic cluster with a few attacks, run every analysis on it, and show
// the highlights — the first thing a new user runs.
package democmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/netpol"
	ndelta "github.com/kubedelta/kubedelta/internal/netpol/delta"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/sim"
)

// DefaultAttacks are the attacks the demo injects: one of each family.
var DefaultAttacks = []string{"stolen-token", "exec-reverse-shell", "cluster-admin-binding", "crypto-miner", "untrusted-image"}

type options struct {
	out        string
	seed       uint64
	namespaces int
	days       float64
	rate       float64
	attacks    []string
	top        int
}

// NewCommand returns `kubedelta demo`.
func NewCommand(s iostreams.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Simulate a week of a realistic cluster with a few attacks and show what kubedelta finds",
		Long: `Generate a one-week scenario for a ~20-namespace cluster with internal/sim
(deterministic: the same seed gives the same week), with a few attacks in its
last day, then run the full analysis on it in one pass and print the
highlights: the most over-provisioned identities and a least-privilege Role
for the worst, the largest unused network reach and a NetworkPolicy for it,
the alerts ranked, and which injected attacks were detected.

The generated files (cluster.yaml, audit.jsonl, flows.jsonl, exec.jsonl,
ground-truth.jsonl) go to a temporary directory that is removed afterwards,
or to --out DIR, where every other kubedelta command can read them.`,
		Example: `  kubedelta demo
  kubedelta demo --out /tmp/week --seed 7 --attack all
  kubedelta analyze --cluster /tmp/week/cluster.yaml --audit /tmp/week/audit.jsonl --flows /tmp/week/flows.jsonl --exec /tmp/week/exec.jsonl --learn 6d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o, s) },
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "keep the generated files in this directory")
	f.Uint64Var(&o.seed, "seed", 1, "simulation seed")
	f.IntVar(&o.namespaces, "namespaces", 20, "application namespaces")
	f.Float64Var(&o.days, "days", 7, "simulated days (attacks happen in the last one)")
	f.Float64Var(&o.rate, "rate", 0.5, "background audit events per simulated second (0: the simulator's realistic rate, much slower)")
	f.StringSliceVar(&o.attacks, "attack", DefaultAttacks, "attacks to inject (all: every attack the simulator knows)")
	f.IntVar(&o.top, "top", 10, "alerts to show")
	return cmd
}

// files are the generated scenario's paths.
type files struct {
	dir                                string
	cluster, audit, flows, exec, truth string
}

func generate(o *options, dir string) (files, sim.Summary, error) {
	fs := files{dir: dir,
		cluster: filepath.Join(dir, "cluster.yaml"), audit: filepath.Join(dir, "audit.jsonl"),
		flows: filepath.Join(dir, "flows.jsonl"), exec: filepath.Join(dir, "exec.jsonl"),
		truth: filepath.Join(dir, "ground-truth.jsonl")}
	var ws []*os.File
	create := func(p string) (io.Writer, error) {
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		ws = append(ws, f)
		return f, nil
	}
	defer func() {
		for _, f := range ws {
			f.Close()
		}
	}()
	var w sim.Writers
	var err error
	for _, x := range []struct {
		dst  *io.Writer
		path string
	}{{&w.Cluster, fs.cluster}, {&w.Audit, fs.audit}, {&w.Flows, fs.flows}, {&w.Exec, fs.exec}, {&w.GroundTruth, fs.truth}} {
		if *x.dst, err = create(x.path); err != nil {
			return fs, sim.Summary{}, err
		}
	}
	sum, err := sim.Generate(sim.Config{Seed: o.seed, Namespaces: o.namespaces, Days: o.days, Rate: o.rate, Attacks: o.attacks}, w)
	if err != nil {
		return fs, sum, err
	}
	for _, f := range ws {
		if err := f.Close(); err != nil {
			return fs, sum, err
		}
	}
	ws = nil
	return fs, sum, nil
}

func run(ctx context.Context, o *options, s iostreams.Streams) error {
	began := time.Now()
	dir := o.out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "kubedelta-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w := s.Out
	fmt.Fprintf(w, "kubedelta demo: simulating %g days of a %d-namespace cluster (seed %d)…\n", o.days, o.namespaces, o.seed)
	fs, sum, err := generate(o, dir)
	if err != nil {
		return fmt.Errorf("simulating: %w", err)
	}
	fmt.Fprintf(w, "  %d audit events, %d flows, %d process events, %d pods over the week; %d attacks injected after %s\n",
		sum.AuditEvents, sum.Flows, sum.ExecEvents, sum.Pods, len(sum.Attacks), sum.LearningEnd.UTC().Format("Mon 15:04"))
	if o.out != "" {
		fmt.Fprintf(w, "  files in %s\n", dir)
	}

	// The cluster, as every command sees it.
	inv, err := cluster.Load([]string{fs.cluster}, cluster.LoadOptions{Logger: s.Logger})
	if err != nil {
		return err
	}
	idx := cluster.NewIndex(inv)
	authz := rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
		RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
	eng := netpol.New(inv.Namespaces, inv.Pods, inv.NetworkPolicies, netpol.Options{
		WorkloadName: func(p *corev1.Pod) string { return idx.WorkloadOf(p).String() }, Logger: s.Logger})

	// One pass over the week: usage for RBAC, edges for NetworkPolicies,
	// and the detection pipeline, learning until the attacks' day.
	cfg := detect.DefaultConfig()
	cfg.LearnUntil = sum.LearningEnd
	p := analyze.New(analyze.Options{Config: cfg, Index: idx, Authorizer: authz,
		Detectors: analyze.DefaultDetectors(), ArgShape: analyze.ArgShape})
	usage := baseline.NewAPIUsage()
	ing := ndelta.NewIngester(idx, ndelta.PodNetworks(inv))
	in := input.NewEvents(s, false)
	if err := in.AddAudit([]string{fs.audit}); err != nil {
		return err
	}
	if err := in.AddFlows([]string{fs.flows}, "hubble"); err != nil {
		return err
	}
	if err := in.AddExec([]string{fs.exec}, ""); err != nil {
		return err
	}
	analysisStart := time.Now()
	err = analyze.Merge(ctx, in.Sources(), func(it analyze.Item) error {
		switch {
		case it.API != nil:
			usage.Add(it.API)
			p.API(it.API)
		case it.Flow != nil:
			ing.Add(it.Flow)
			p.Flow(it.Flow)
		case it.Exec != nil:
			p.Exec(it.Exec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	analysis := time.Since(analysisStart)

	rbacHighlights(w, authz, usage)
	netpolHighlights(w, inv, idx, eng, ing.Edges(), s)
	alerts := p.Alerts()
	alertHighlights(w, alerts, o.top)
	groundTruth(w, sum.Attacks, alerts)
	fmt.Fprintf(w, "\nDone in %s (analysis %s). Next: `kubedelta demo --out DIR` keeps the files; see README.md for the commands.\n",
		time.Since(began).Round(100*time.Millisecond), analysis.Round(100*time.Millisecond))
	return nil
}
