package netpolcmd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/netpol"
	"github.com/kubedelta/kubedelta/internal/netpol/delta"
	"github.com/kubedelta/kubedelta/internal/source/flow"
)

// flowInput holds the flags that select flow records, shared by unused and
// suggest.
type flowInput struct {
	paths  []string
	format string
	strict bool
	since  string
	until  string
}

func (f *flowInput) addFlags(cmd *cobra.Command) {
	formats := make([]string, 0, 4)
	for _, ff := range flow.Formats() {
		formats = append(formats, string(ff))
	}
	cmd.Flags().StringArrayVar(&f.paths, "flows", nil,
		"flow log: Hubble JSON (hubble observe -o json), kubedelta generic JSON lines, AWS VPC flow logs or conntrack events, optionally .gz; - for stdin (repeatable)")
	cmd.Flags().StringVar(&f.format, "flow-format", "", "format of every --flows input: "+strings.Join(formats, "|")+" (default: detected per input)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "stop at the first malformed flow record instead of reporting and skipping it")
	cmd.Flags().StringVar(&f.since, "since", "", "only flows at or after this time (RFC 3339, or a duration before now such as 24h)")
	cmd.Flags().StringVar(&f.until, "until", "", "only flows before this time (RFC 3339, or a duration before now)")
}

// flowSummary describes what was read.
type flowSummary struct {
	stats   flow.Stats
	outside int64 // flows outside --since/--until
}

// read decodes every flow input and aggregates the flows into edges,
// resolved against the world's index as of each flow's time.
func (f *flowInput) read(w *world, s iostreams.Streams, now time.Time) (*delta.Edges, flowSummary, error) {
	var sum flowSummary
	if len(f.paths) == 0 {
		return nil, sum, errors.New("no flows: give --flows FILE (repeatable; - for stdin)")
	}
	since, err := input.ParseTime(f.since, now)
	if err != nil {
		return nil, sum, fmt.Errorf("--since: %w", err)
	}
	until, err := input.ParseTime(f.until, now)
	if err != nil {
		return nil, sum, fmt.Errorf("--until: %w", err)
	}
	dec := flow.NewDecoder(flow.Options{Format: flow.Format(f.format), Strict: f.strict, Stdin: s.In, Logger: s.Logger})
	g := delta.NewIngester(w.index, delta.PodNetworks(w.inv))
	err = dec.DecodeFiles(f.paths, func(fl *event.Flow) error {
		if (!since.IsZero() && fl.Time.Before(since)) || (!until.IsZero() && !fl.Time.Before(until)) {
			sum.outside++
			return nil
		}
		g.Add(fl)
		return nil
	})
	sum.stats = dec.Stats()
	if err != nil {
		return nil, sum, err
	}
	st := sum.stats
	switch {
	case st.Records == 0:
		return nil, sum, fmt.Errorf("no flow records in %s", strings.Join(f.paths, ", "))
	case st.Delivered == 0 && st.Rejected > 0:
		return nil, sum, fmt.Errorf("no usable flow record in %s: all %d malformed (first: %v); check --flow-format", strings.Join(f.paths, ", "), st.Rejected, st.Errors[0])
	}
	if st.Rejected > len64(st.Errors) {
		s.Logger.Warn("more malformed flow records skipped", "count", st.Rejected-len64(st.Errors))
	}
	return g.Edges(), sum, nil
}

func len64[T any](s []T) int64 { return int64(len(s)) }

type unusedOptions struct {
	cluster input.Cluster
	flows   flowInput
	format  output.Format
	top     int
}

func newUnusedCommand(s iostreams.Streams) *cobra.Command {
	o := &unusedOptions{}
	cmd := &cobra.Command{
		Use:   "unused --cluster PATH --flows FILE...",
		Short: "Per workload: the reach NetworkPolicies allow against the connections it really made",
		Long: `For every workload with running pods: how many pods, workloads and namespaces
(and which external addresses) it may reach and may be reached from, set
against the peers flow logs show it talked to (port, protocol, flows, bytes,
first and last seen), ranked by the reach nothing used. Each flow is resolved
as of its time: pods gone from the cluster objects are still known by the
index's history or by the names and labels the flow carries (Hubble);
addresses in the pod network that neither explains are "unresolved".

Every distinct connection is evaluated with the policy engine: connections
the current policies deny are listed separately (with how many of their
flows the network really dropped), and each connection is attributed to the
rules that allow it, so that rules no flow used, and rules that admit more
workloads than used them, stand out.

JSON shape (-o json):
  window {from,to}, flows, edges, unprotectedNamespaces [],
  workloads [{workload, namespace, pods,
    allowed {ingress|egress: {isolated, pods, workloads, namespaces, anyExternal, external []}},
    observed {ingress|egress: [{peer, kind, addresses, names, port, protocol, count,
      bytes, packets, dropped, firstSeen, lastSeen, verdict}]},
    unusedPods {ingress, egress}, unusedRules [{policy, direction, index, why}], summary}],
  rules [{policy, direction, index, status (unused|partly used|used), appliesTo,
    admits, ports, usedBy, flows, why}],
  denied [{src, dst, port, protocol, count, bytes, dropped, firstSeen, lastSeen, why}],
  unresolved [same as denied]
External peers are grouped by /24 (IPv4) or /64 (IPv6) network.`,
		Example: `  kubedelta netpol unused --cluster examples/cluster --flows examples/flows.jsonl
  kubedelta netpol unused --cluster dump.yaml --flows vpc-flows.log.gz --flow-format vpc -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUnused(o, s) },
	}
	o.cluster.AddFlags(cmd)
	o.flows.addFlags(cmd)
	cmd.Flags().IntVar(&o.top, "top", 10, "table output: show details for this many workloads (0: all)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func runUnused(o *unusedOptions, s iostreams.Streams) error {
	w, err := load(&o.cluster, s)
	if err != nil {
		return err
	}
	edges, sum, err := o.flows.read(w, s, time.Now())
	if err != nil {
		return err
	}
	rep := delta.Unused(w.engine, w.index, edges)
	if ok, err := output.Structured(s.Out, o.format, rep); ok || err != nil {
		return err
	}
	return printUnused(s.Out, rep, sum, o.top)
}

func printEvidence(w io.Writer, win delta.Window, flows int64, edges int, sum flowSummary) {
	fmt.Fprintf(w, "Evidence: %d flows (%d distinct connections) from %s to %s UTC", flows, edges,
		win.From.Format("2006-01-02 15:04"), win.To.Format("2006-01-02 15:04"))
	if sum.stats.Rejected > 0 {
		fmt.Fprintf(w, "; %d malformed records skipped", sum.stats.Rejected)
	}
	if sum.outside > 0 {
		fmt.Fprintf(w, "; %d flows outside --since/--until", sum.outside)
	}
	fmt.Fprintln(w)
}

func printUnused(w io.Writer, rep *delta.Report, sum flowSummary, top int) error {
	printEvidence(w, rep.Window, rep.Flows, rep.Edges, sum)
	if len(rep.UnprotectedNamespaces) > 0 {
		fmt.Fprintf(w, "Namespaces with no NetworkPolicy (every connection allowed): %s\n", strings.Join(rep.UnprotectedNamespaces, ", "))
	}
	fmt.Fprintln(w)
	t := output.NewTable(w)
	fmt.Fprintln(t, "WORKLOAD\tPODS\tMAY REACH\tTALKED TO\tMAY BE REACHED FROM\tREACHED BY\tUNUSED PODS\tUNUSED RULES")
	for _, wr := range rep.Workloads {
		fmt.Fprintf(t, "%s\t%d\t%s\t%d\t%s\t%d\t%d\t%d\n", wr.Workload, wr.Pods,
			allowedText(wr.Allowed.Egress, wr.Pods), peerCount(wr.Observed.Egress),
			allowedText(wr.Allowed.Ingress, wr.Pods), peerCount(wr.Observed.Ingress),
			wr.UnusedPods.Egress+wr.UnusedPods.Ingress, len(wr.UnusedRules))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	clock := clockFormat(rep.Window)
	for i, wr := range rep.Workloads {
		if top > 0 && i == top {
			fmt.Fprintf(w, "\n... and %d more workloads (--top 0 shows all, -o json has everything)\n", len(rep.Workloads)-top)
			break
		}
		fmt.Fprintf(w, "\n%s\n  %s\n", wr.Workload, wr.Summary)
		t := output.NewTable(w)
		for _, dir := range []struct {
			name string
			obs  []delta.ObservedPeer
		}{{"to", wr.Observed.Egress}, {"from", wr.Observed.Ingress}} {
			for _, o := range dir.obs {
				fmt.Fprintf(t, "  %s\t%s\t%s\t%d %s\t%s\t%s\t%s\n", dir.name, observedPeerText(o), portLabel(o.Port, o.Protocol),
					o.Count, pluralWord(o.Count, "flow", "flows"), byteText(o.Bytes), spanText(o.FirstSeen, o.LastSeen, clock), verdictText(o))
			}
		}
		if err := t.Flush(); err != nil {
			return err
		}
		for _, ur := range wr.UnusedRules {
			fmt.Fprintf(w, "  unused rule %s: %s\n", ruleName(ur.Policy, ur.Direction, ur.Index), ur.Why)
		}
	}
	if len(rep.Rules) > 0 {
		fmt.Fprintln(w, "\nRules:")
		t := output.NewTable(w)
		for _, r := range rep.Rules {
			fmt.Fprintf(t, "  %s\t%s\t%s\n", r.Status, ruleName(r.Policy, r.Direction, r.Index), r.Why)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	printFindings(w, "Denied by the current policies", rep.Denied, clock)
	printFindings(w, "Unresolved (policies cannot be evaluated)", rep.Unresolved, clock)
	return nil
}

func printFindings(w io.Writer, title string, fs []delta.EdgeFinding, clock string) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	for _, f := range fs {
		dropped := ""
		if f.Dropped > 0 {
			dropped = fmt.Sprintf(", %d dropped by the network", f.Dropped)
		}
		fmt.Fprintf(w, "  %s -> %s %s: %d flows%s, %s\n    %s\n", shortWorkload(f.Src), shortWorkload(f.Dst),
			portLabel(f.Port, f.Protocol), f.Count, dropped, spanText(f.FirstSeen, f.LastSeen, clock), f.Why)
	}
}

func ruleName(policy string, dir netpol.Direction, index int) string {
	if dir == netpol.Ingress {
		return fmt.Sprintf("%s spec.ingress[%d]", policy, index)
	}
	return fmt.Sprintf("%s spec.egress[%d]", policy, index)
}

func allowedText(s delta.AllowedSide, pods int) string {
	if pods == 0 {
		return "-"
	}
	t := fmt.Sprintf("%d pods/%d ns", s.Pods, s.Namespaces)
	switch {
	case s.AnyExternal:
		t += " +any ext"
	case len(s.External) > 0:
		t += fmt.Sprintf(" +%d CIDR", len(s.External))
	}
	if !s.Isolated {
		t += " (open)"
	}
	return t
}

func peerCount(obs []delta.ObservedPeer) int {
	seen := map[string]bool{}
	for _, o := range obs {
		seen[o.Peer] = true
	}
	return len(seen)
}

func observedPeerText(o delta.ObservedPeer) string {
	s := shortWorkload(o.Peer)
	if o.Addresses > 1 {
		s = fmt.Sprintf("%s (%d addresses)", o.Peer, o.Addresses)
	}
	if len(o.Names) > 0 {
		s += " (" + strings.Join(o.Names, ",") + ")"
	}
	return s
}

func verdictText(o delta.ObservedPeer) string {
	v := o.Verdict
	if o.Dropped > 0 {
		v += fmt.Sprintf(", %d dropped", o.Dropped)
	}
	return v
}

// shortWorkload drops the kind of "Kind/namespace/name" for tables.
func shortWorkload(w string) string {
	if parts := strings.Split(w, "/"); len(parts) == 3 {
		return parts[1] + "/" + parts[2]
	}
	return w
}

func portLabel(port uint16, proto string) string {
	if port == 0 {
		return proto
	}
	return fmt.Sprintf("%d/%s", port, proto)
}

// clockFormat shows times of day alone when the window is one UTC day.
func clockFormat(win delta.Window) string {
	if win.From.UTC().Format("2006-01-02") == win.To.UTC().Format("2006-01-02") {
		return "15:04"
	}
	return "01-02 15:04"
}

func spanText(from, to time.Time, layout string) string {
	a, b := from.UTC().Format(layout), to.UTC().Format(layout)
	if a == b {
		return "at " + a
	}
	return a + "–" + b
}

// byteText renders a volume; "-" for none (Hubble flows carry no counts).
func byteText(n uint64) string {
	const unit = 1024
	if n == 0 {
		return "-"
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
