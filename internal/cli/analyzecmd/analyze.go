// Package analyzecmd implements `kubedelta analyze`: replay audit events,
// flows and process events merged in time order, learn what is normal,
// detect what is not, and print ranked alerts.
package analyzecmd

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

type options struct {
	cluster      input.Cluster
	audit        []string
	flows        []string
	flowFormat   string
	exec         []string
	execFormat   string
	learn        string
	learnUntil   string
	baselinePath string
	savePath     string
	configPath   string
	minSeverity  string
	top          int
	strict       bool
	noProgress   bool
	format       output.Format
}

// NewCommand returns `kubedelta analyze`.
func NewCommand(s iostreams.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "analyze --cluster PATH [--audit FILE...] [--flows FILE...] [--exec FILE...]",
		Short: "Learn what is normal, then raise few, ranked alerts for what is not",
		Long: `Replay audit events, network flows and process events merged in time order.
During the learning window (--learn, from the first event; or --learn-until) and
each new subject's or workload's warm-up, kubedelta only learns; afterwards,
anything never seen before, and anything risky at any time, raises an alert.
Repeats of a finding fold into one alert with a count; alerts are ranked by
severity and score. docs/detections.md lists every rule.

A learned baseline can be saved (--save-baseline) and given to a later run
(--baseline) so that it starts detecting at once.`,
		Example: `  kubedelta analyze --cluster examples/cluster --audit examples/audit.jsonl.gz --flows examples/flows.jsonl --learn 12h
  kubedelta analyze --cluster dump.yaml --audit audit.log --baseline week.baseline.gz -o json --min-severity medium`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), o, s) },
	}
	o.cluster.AddFlags(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&o.audit, "audit", nil, "audit log (JSON lines or EventList, .gz accepted; - for stdin; repeatable)")
	f.StringArrayVar(&o.flows, "flows", nil, "network flows (Hubble, generic JSON lines, AWS VPC, conntrack; .gz accepted; repeatable)")
	f.StringVar(&o.flowFormat, "flow-format", "", "flow format: hubble|generic|vpc|conntrack (default: detected)")
	f.StringArrayVar(&o.exec, "exec", nil, "process events (Falco JSON or Tetragon process_exec JSON; repeatable)")
	f.StringVar(&o.execFormat, "exec-format", "", "process event format: falco|tetragon (default: detected)")
	f.StringVar(&o.learn, "learn", "", "learning window from the first event, e.g. 7d or 36h (default: the config's, else none)")
	f.StringVar(&o.learnUntil, "learn-until", "", "end of the learning window (RFC 3339)")
	f.StringVar(&o.baselinePath, "baseline", "", "start from this saved baseline")
	f.StringVar(&o.savePath, "save-baseline", "", "save the learned baseline here (.gz to compress)")
	f.StringVar(&o.configPath, "config", "", "detection config (kubedelta.io/v1alpha1 DetectionConfig: allowlists, warm-up, rate limits)")
	f.StringVar(&o.minSeverity, "min-severity", "", "drop alerts below: info|low|medium|high|critical")
	f.IntVar(&o.top, "top", 0, "show only the N highest-ranked alerts (0: all)")
	f.BoolVar(&o.strict, "strict", false, "stop at the first malformed record instead of reporting and skipping it")
	f.BoolVar(&o.noProgress, "no-progress", false, "no progress bar on stderr")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON)
	cmd.MarkFlagsMutuallyExclusive("learn", "learn-until")
	return cmd
}

func loadConfig(o *options) (*detect.Config, error) {
	cfg := detect.DefaultConfig()
	if o.configPath != "" {
		var err error
		if cfg, err = detect.LoadConfig(o.configPath); err != nil {
			return nil, err
		}
	}
	if o.learn != "" {
		d, err := detect.ParseDuration(o.learn)
		if err != nil {
			return nil, fmt.Errorf("--learn: %w", err)
		}
		cfg.Learn = detect.Duration(d)
	}
	if o.learnUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, o.learnUntil)
		if err != nil {
			return nil, fmt.Errorf("--learn-until: %q is not an RFC 3339 time", o.learnUntil)
		}
		cfg.LearnUntil = t
	}
	if o.minSeverity != "" {
		if _, err := rbac.ParseSeverity(o.minSeverity); err != nil {
			return nil, fmt.Errorf("--min-severity: %w", err)
		}
		cfg.MinSeverity = o.minSeverity
	}
	return cfg, nil
}

func run(ctx context.Context, o *options, s iostreams.Streams) error {
	if len(o.audit)+len(o.flows)+len(o.exec) == 0 {
		return fmt.Errorf("nothing to analyze: give --audit, --flows or --exec")
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	popts := analyze.Options{Config: cfg}
	if len(o.cluster.Paths) > 0 {
		inv, err := o.cluster.Load(s)
		if err != nil {
			return err
		}
		popts.Index = cluster.NewIndex(inv)
		popts.Authorizer = rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
			RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
	}
	if o.baselinePath != "" {
		if popts.Baseline, err = baseline.LoadFile(o.baselinePath); err != nil {
			return err
		}
	}
	popts.Detectors = analyze.DefaultDetectors()
	popts.ArgShape = analyze.ArgShape
	p := analyze.New(popts)

	in := input.NewEvents(s, o.strict)
	if err := in.AddAudit(o.audit); err != nil {
		return err
	}
	if err := in.AddFlows(o.flows, o.flowFormat); err != nil {
		return err
	}
	if err := in.AddExec(o.exec, o.execFormat); err != nil {
		return err
	}
	progress := !o.noProgress && iostreams.IsTerminal(s.Err)
	dedup := input.NewAuditDedup(1 << 20)
	var events uint64
	start := time.Now()
	lastDraw := start
	err = analyze.Merge(ctx, in.Sources(), func(it analyze.Item) error {
		events++
		switch {
		case it.API != nil:
			if dedup.Seen(it.API.AuditID) {
				return nil
			}
			p.API(it.API)
		case it.Flow != nil:
			p.Flow(it.Flow)
		case it.Exec != nil:
			p.Exec(it.Exec)
		}
		if progress && events&0xfff == 0 && time.Since(lastDraw) > 200*time.Millisecond {
			lastDraw = time.Now()
			read, total := in.Progress()
			fmt.Fprint(s.Err, input.ProgressLine(read, total, events))
		}
		return nil
	})
	if progress {
		_, total := in.Progress()
		fmt.Fprint(s.Err, input.ProgressLine(total, total, events)+"\n")
	}
	if err != nil {
		return err
	}
	if o.savePath != "" {
		if err := p.Profiles().SaveFile(o.savePath); err != nil {
			return err
		}
	}
	alerts := p.Alerts()
	shown := alerts
	if o.top > 0 && len(shown) > o.top {
		shown = shown[:o.top]
	}
	if o.format == output.JSON {
		return writeJSONLines(s.Out, shown)
	}
	c := p.Counts()
	fmt.Fprintf(s.Out, "Analyzed %d audit events, %d flows, %d process events in %s (%d malformed records skipped, %d duplicates)\n",
		c.API, c.Flows, c.Exec, time.Since(start).Round(time.Millisecond), in.Rejected(), dedup.Dups)
	if !cfg.LearnUntil.IsZero() {
		fmt.Fprintf(s.Out, "Learning until %s\n", cfg.LearnUntil.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(s.Out)
	return writeTable(s.Out, shown, alerts, p.Aggregator().Suppressed())
}

func writeJSONLines(w io.Writer, alerts []detect.Alert) error {
	for _, a := range alerts {
		if err := output.WriteJSONLine(w, a); err != nil {
			return err
		}
	}
	return nil
}

func writeTable(w io.Writer, shown, all []detect.Alert, suppressed map[string]uint64) error {
	if len(all) == 0 {
		fmt.Fprintln(w, "No alerts.")
	} else {
		t := output.NewTable(w)
		fmt.Fprintln(t, "SEVERITY\tRULE\tWHO\tCOUNT\tLAST SEEN\tMESSAGE")
		for _, a := range shown {
			who := a.Subject
			if who == "" {
				who = a.Workload
			}
			fmt.Fprintf(t, "%s\t%s\t%s\t%d\t%s\t%s\n", a.Severity, a.Rule, shorten(who, 48), a.Count,
				a.LastSeen.UTC().Format("01-02 15:04"), shorten(a.Message, 110))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if len(shown) < len(all) {
			fmt.Fprintf(w, "... %d more alerts (--top 0 shows all)\n", len(all)-len(shown))
		}
	}
	// Summary per category and severity.
	type row struct {
		cat    string
		counts [5]int
	}
	byCat := map[string]*row{}
	for _, a := range all {
		r := byCat[a.Category]
		if r == nil {
			r = &row{cat: a.Category}
			byCat[a.Category] = r
		}
		if i := int(a.Severity); i >= 0 && i < 5 {
			r.counts[i]++
		}
	}
	if len(byCat) > 0 {
		rows := make([]*row, 0, len(byCat))
		for _, r := range byCat {
			rows = append(rows, r)
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].cat < rows[j].cat })
		fmt.Fprintln(w)
		t := output.NewTable(w)
		fmt.Fprintln(t, "CATEGORY\tCRITICAL\tHIGH\tMEDIUM\tLOW\tINFO")
		for _, r := range rows {
			fmt.Fprintf(t, "%s\t%d\t%d\t%d\t%d\t%d\n", r.cat, r.counts[4], r.counts[3], r.counts[2], r.counts[1], r.counts[0])
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	var sup []string
	for rule, n := range suppressed {
		sup = append(sup, fmt.Sprintf("%s %d", rule, n))
	}
	if len(sup) > 0 {
		sort.Strings(sup)
		fmt.Fprintf(w, "\nSuppressed by allowlists, minimum severity or rate limits: %s\n", strings.Join(sup, ", "))
	}
	return nil
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
