package netpolcmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

type reachOptions struct {
	cluster input.Cluster
	format  output.Format
}

func newReachCommand(s iostreams.Streams) *cobra.Command {
	o := &reachOptions{}
	cmd := &cobra.Command{
		Use:   "reach --cluster PATH",
		Short: "Per workload: who may reach it and whom it may reach, per port",
		Long: `For every workload: how many pods, workloads and namespaces may connect to it
and it may connect to, per port set, and whether any external address may.
Namespaces without any NetworkPolicy (everything allowed) are called out first.
Evaluated on equivalence classes of pods, not on pairs.`,
		Example: `  kubedelta netpol reach --cluster examples/cluster
  kubedelta netpol reach --cluster dump.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := load(&o.cluster, s)
			if err != nil {
				return err
			}
			rep := w.engine.Reach()
			if ok, err := output.Structured(s.Out, o.format, rep); ok || err != nil {
				return err
			}
			return printReach(s.Out, rep)
		},
	}
	o.cluster.AddFlags(cmd)
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func printReach(w io.Writer, rep *netpol.ReachReport) error {
	st := rep.Stats
	fmt.Fprintf(w, "%d active pods in %d namespaces, %d policies (%d equivalence classes)\n", st.ActivePods, st.Namespaces, st.Policies, st.Classes)
	if len(rep.UnprotectedNamespaces) > 0 {
		fmt.Fprintf(w, "Namespaces with no NetworkPolicy (every connection allowed): %s\n", strings.Join(rep.UnprotectedNamespaces, ", "))
	}
	fmt.Fprintln(w)
	t := output.NewTable(w)
	fmt.Fprintln(t, "WORKLOAD\tPODS\tDIRECTION\tPORTS\tPEER PODS\tNAMESPACES\tPEERS\tEXTERNAL")
	for _, wr := range rep.Workloads {
		first := true
		for _, dir := range []struct {
			name     string
			isolated bool
			groups   []netpol.ReachGroup
		}{{"from", wr.IngressIsolated, wr.Ingress}, {"to", wr.EgressIsolated, wr.Egress}} {
			label := dir.name
			if !dir.isolated {
				label += " (open)"
			}
			if len(dir.groups) == 0 {
				fmt.Fprintf(t, "%s\t%s\t%s\t-\t0\t0\tnone\t-\n", col(first, wr.Workload), col(first, fmt.Sprint(wr.Pods)), label)
				first = false
				continue
			}
			for _, g := range dir.groups {
				fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", col(first, wr.Workload), col(first, fmt.Sprint(wr.Pods)), label,
					g.Ports.String(), g.Pods, namespaces(g, st.Namespaces), peers(g), external(g))
				first = false
			}
		}
	}
	return t.Flush()
}

func col(show bool, s string) string {
	if show {
		return s
	}
	return ""
}

// peers names who is in a group, shortened: whole namespaces as "ns/*",
// then workloads.
func peers(g netpol.ReachGroup) string {
	if g.AllPods {
		return "all pods"
	}
	var names []string
	for _, ns := range g.Namespaces {
		names = append(names, ns+"/*")
	}
	for _, w := range g.Workloads {
		if _, rest, ok := strings.Cut(w, "/"); ok {
			w = rest // drop the kind: the table is for reading
		}
		names = append(names, w)
	}
	if len(names) == 0 {
		return "-"
	}
	s := strings.Join(names, ",")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}

// namespaces counts the namespaces with a pod in the group.
func namespaces(g netpol.ReachGroup, total int) int {
	if g.AllPods {
		return total
	}
	seen := map[string]bool{}
	for _, ns := range g.Namespaces {
		seen[ns] = true
	}
	for _, w := range g.Workloads {
		if parts := strings.Split(w, "/"); len(parts) == 3 {
			seen[parts[1]] = true
		}
	}
	return len(seen)
}

func external(g netpol.ReachGroup) string {
	switch {
	case g.AnyExternal:
		return "any"
	case len(g.External) == 0:
		return "-"
	case len(g.External) <= 2:
		return strings.Join(g.External, ",")
	}
	return fmt.Sprintf("%s,… (%d CIDRs)", g.External[0], len(g.External))
}
