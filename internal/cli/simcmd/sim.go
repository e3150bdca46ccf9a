// Package simcmd implements `kubedelta sim`: it writes a simulated cluster
// and its activity (internal/sim) to files, for the demo, benchmarks and
// tests.
package simcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/sim"
)

type options struct {
	dir        string
	namespaces int
	days       float64
	seed       uint64
	attacks    []string
	rate       float64
	execFormat string
	gzip       bool
	start      string
	learning   time.Duration
	format     output.Format
}

// NewCommand returns the `sim` command.
func NewCommand(s iostreams.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "sim --out DIR [--namespaces N] [--days D] [--seed S] [--attack NAME...]",
		Short: "Simulate a cluster and its activity: cluster dump, audit log, flows, process events",
		Long: `Write a simulated Kubernetes cluster and its activity over simulated time to DIR:

  cluster.yaml        the cluster's objects (kind: List YAML), every pod of the window
  audit.jsonl         the API server's audit log (audit.k8s.io/v1, log backend)
  flows.jsonl         Cilium Hubble flows (hubble observe -o json)
  exec.jsonl          process events, as Falco (default) or Tetragon JSON
  ground-truth.jsonl  one record per injected attack: time, entities, expected alerts

The simulation is deterministic: the same flags write the same bytes. Attacks
(--attack NAME, repeatable, or --attack all) happen after a benign learning
period, by default all but the last day of the window. docs/sim.md describes
the model and the attacks.

Attacks: ` + strings.Join(sim.AttackNames(), ", ") + `.`,
		Example: `  # The demo: 20 namespaces, one week, every attack on the last day.
  kubedelta sim --out demo --attack all

  # A load test: 200 audit events per second for a day, compressed.
  kubedelta sim --out load --namespaces 50 --days 1 --rate 200 --gzip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o, s) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "out", "", "directory to write the files into (created if missing; existing files are replaced)")
	f.IntVar(&o.namespaces, "namespaces", sim.DefaultNamespaces, "number of application namespaces")
	f.Float64Var(&o.days, "days", sim.DefaultDays, "length of the simulated window, in days (fractions allowed)")
	f.Uint64Var(&o.seed, "seed", sim.DefaultSeed, "random seed: the same seed writes the same bytes")
	f.StringSliceVar(&o.attacks, "attack", nil, "attack to inject after the learning period (repeatable, or comma-separated; all: every attack)")
	f.Float64Var(&o.rate, "rate", 0, "target audit events per simulated second (0: the realistic rate of the simulated cluster)")
	f.StringVar(&o.execFormat, "exec-format", sim.ExecFalco, "process event format: falco|tetragon")
	f.BoolVar(&o.gzip, "gzip", false, "gzip-compress the files (names get .gz)")
	f.StringVar(&o.start, "start", sim.DefaultStart.Format(time.RFC3339), "beginning of the simulated window (RFC 3339)")
	f.DurationVar(&o.learning, "learning-period", 0, "benign period before attacks (0: all but the last day of a window over two days, else half of it)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// fileReport is one written file.
type fileReport struct {
	Stream  string `json:"stream"`
	Path    string `json:"path"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
}

type report struct {
	Summary sim.Summary  `json:"summary"`
	Files   []fileReport `json:"files"`
}

func run(ctx context.Context, o *options, s iostreams.Streams) error {
	if ctx == nil {
		ctx = context.Background()
	}
	start, err := time.Parse(time.RFC3339, o.start)
	if err != nil {
		return fmt.Errorf("--start %q: want an RFC 3339 time such as 2026-11-16T00:00:00Z: %w", o.start, err)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	cfg := sim.Config{Seed: o.seed, Namespaces: o.namespaces, Days: o.days, Start: start, Attacks: o.attacks,
		Rate: o.rate, LearningPeriod: o.learning, Logger: s.Logger}

	names := []struct{ stream, file string }{
		{"cluster", "cluster.yaml"}, {"audit", "audit.jsonl"}, {"flows", "flows.jsonl"}, {"exec", "exec.jsonl"}, {"ground truth", "ground-truth.jsonl"},
	}
	files := make([]*outFile, len(names))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.abort()
			}
		}
	}()
	for i, n := range names {
		name := n.file
		if o.gzip {
			name += ".gz"
		}
		f, err := create(ctx, filepath.Join(o.dir, name), o.gzip)
		if err != nil {
			return err
		}
		files[i] = f
	}
	sum, err := sim.Generate(cfg, sim.Writers{Cluster: files[0], Audit: files[1], Flows: files[2], Exec: files[3],
		ExecFormat: o.execFormat, GroundTruth: files[4]})
	if err != nil {
		return err
	}
	rep := report{Summary: sum}
	counts := []int64{int64(sum.Objects), sum.AuditEvents, sum.Flows, sum.ExecEvents, int64(len(sum.Attacks))}
	for i, f := range files {
		if err := f.commit(); err != nil {
			return err
		}
		rep.Files = append(rep.Files, fileReport{Stream: names[i].stream, Path: f.path, Records: counts[i], Bytes: f.n})
		files[i] = nil
	}
	if ok, err := output.Structured(s.Out, o.format, rep); ok || err != nil {
		return err
	}
	return printReport(s.Out, rep)
}

func printReport(w io.Writer, rep report) error {
	sum := rep.Summary
	fmt.Fprintf(w, "Simulated %d namespaces on %d nodes, %d pods, from %s to %s (seed %d); learning period until %s.\n\n",
		sum.Namespaces, sum.Nodes, sum.Pods, sum.Start.Format(time.RFC3339), sum.End.Format(time.RFC3339), sum.Seed, sum.LearningEnd.Format(time.RFC3339))
	t := output.NewTable(w)
	fmt.Fprintln(t, "STREAM\tFILE\tRECORDS\tSIZE")
	for _, f := range rep.Files {
		unit := ""
		if f.Stream == "cluster" {
			unit = " objects"
		}
		fmt.Fprintf(t, "%s\t%s\t%d%s\t%s\n", f.Stream, f.Path, f.Records, unit, size(f.Bytes))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(sum.Attacks) > 0 {
		fmt.Fprintln(w, "\nAttacks (ground truth):")
		t = output.NewTable(w)
		fmt.Fprintln(t, "TIME\tATTACK\tEXPECTED ALERTS")
		for _, a := range sum.Attacks {
			fmt.Fprintf(t, "%s\t%s\t%s\n", a.Time.Format(time.RFC3339), a.Attack, strings.Join(a.Rules, ", "))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	rate := float64(sum.AuditEvents) / max(sum.Elapsed.Seconds(), 1e-9)
	_, err := fmt.Fprintf(w, "\nGenerated in %s (%.0f audit events/s).\n", sum.Elapsed.Round(time.Millisecond), rate)
	return err
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
