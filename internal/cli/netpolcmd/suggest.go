package netpolcmd

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/netpol/delta"
)

type suggestOptions struct {
	cluster        input.Cluster
	flows          flowInput
	cidrPrefix     int
	cidrPrefixV6   int
	maxCIDRs       int
	namespaces     []string
	excludeNS      []string
	exclude        []string
	includeDropped bool
	includeDenied  bool
	format         output.Format
}

func newSuggestCommand(s iostreams.Streams) *cobra.Command {
	o := &suggestOptions{}
	cmd := &cobra.Command{
		Use:   "suggest --cluster PATH --flows FILE... [--cidr-prefix 24]",
		Short: "Least-privilege NetworkPolicies that allow exactly the connections observed",
		Long: `Write kubectl-apply-able NetworkPolicies (networking.k8s.io/v1), one per
workload of the covered namespaces, isolating ingress and egress and allowing:
  - every connection the flows show, between workloads as pod selectors built
    from the labels all the workload's pods keep (pod-template-hash,
    controller-revision-hash, statefulset.kubernetes.io/pod-name, job-name,
    controller-uid, batch.kubernetes.io/* and the like are left out), with a
    namespaceSelector on kubernetes.io/metadata.name for other namespaces;
  - ports as observed, by name where every destination pod names the port;
  - external addresses as ipBlocks of their /--cidr-prefix network (IPv6:
    --cidr-prefix-v6), merged, at most --max-cidrs per rule, excepting the pod
    network; node addresses (API server, host-network pods) as /32;
  - DNS to the cluster DNS (kube-system pods labelled k8s-app=kube-dns, UDP and
    TCP 53), always.
Each policy is annotated with its evidence: per rule (kubedelta.io/ingress-N,
kubedelta.io/egress-N) flows, bytes, first and last seen, and peers.

Left out, and listed in the header: connections the current policies deny
(a suggestion never opens what they close; --include-denied), connections
every flow of which the network dropped (--include-dropped), peers given to
--exclude, unresolved peers, and protocols without ports (ICMP).

Before printing, the policy engine is built with these policies in place of
the covered namespaces' current ones and every connection meant to be allowed
is checked; a failure is a bug and stops the command. The header then says
which policies they replace and how much reach they remove per workload
("# removes reach: shop/web may reach 11→4 pods"), and lists the allowed
connections seen at most twice, for review.

Covered namespaces: -n (repeatable), else every namespace with workloads
except --exclude-namespace (default kube-system).`,
		Example: `  kubedelta netpol suggest --cluster examples/cluster --flows examples/flows.jsonl
  kubedelta netpol suggest --cluster dump.yaml --flows flows.jsonl -n shop --exclude 203.0.113.66 --cidr-prefix 28`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSuggest(o, s) },
	}
	o.cluster.AddFlags(cmd)
	o.flows.addFlags(cmd)
	cmd.Flags().IntVar(&o.cidrPrefix, "cidr-prefix", delta.DefaultCIDRPrefixV4, "allow external IPv4 addresses as networks of this many bits")
	cmd.Flags().IntVar(&o.cidrPrefixV6, "cidr-prefix-v6", delta.DefaultCIDRPrefixV6, "allow external IPv6 addresses as networks of this many bits")
	cmd.Flags().IntVar(&o.maxCIDRs, "max-cidrs", delta.DefaultMaxCIDRs, "at most this many ipBlocks per rule (more are widened); -1: no limit")
	cmd.Flags().StringArrayVarP(&o.namespaces, "namespace", "n", nil, "write policies for this namespace (repeatable; default: every namespace with workloads)")
	cmd.Flags().StringArrayVar(&o.excludeNS, "exclude-namespace", delta.DefaultExcludeNamespaces(), "without -n: write no policies for this namespace (repeatable)")
	cmd.Flags().StringArrayVar(&o.exclude, "exclude", nil, "never allow this peer: an address, a CIDR, NAMESPACE/NAME or KIND/NAMESPACE/NAME (repeatable)")
	cmd.Flags().BoolVar(&o.includeDropped, "include-dropped", false, "also allow connections the network dropped every time")
	cmd.Flags().BoolVar(&o.includeDenied, "include-denied", false, "also allow connections the current policies deny")
	output.AddFlag(cmd, &o.format, output.YAML, output.JSON)
	return cmd
}

func runSuggest(o *suggestOptions, s iostreams.Streams) error {
	opts := delta.SuggestOptions{
		CIDRPrefixV4: o.cidrPrefix, CIDRPrefixV6: o.cidrPrefixV6, MaxCIDRs: o.maxCIDRs,
		Namespaces: o.namespaces, ExcludeNamespaces: o.excludeNS,
		IncludeDropped: o.includeDropped, IncludeDenied: o.includeDenied,
	}
	if o.cidrPrefix < 1 || o.cidrPrefix > 32 {
		return fmt.Errorf("--cidr-prefix %d: want 1 to 32", o.cidrPrefix)
	}
	if o.cidrPrefixV6 < 1 || o.cidrPrefixV6 > 128 {
		return fmt.Errorf("--cidr-prefix-v6 %d: want 1 to 128", o.cidrPrefixV6)
	}
	for _, x := range o.exclude {
		ex, err := delta.ParseExclusion(x)
		if err != nil {
			return fmt.Errorf("--exclude: %w", err)
		}
		opts.Exclude = append(opts.Exclude, ex)
	}
	if opts.ExcludeNamespaces == nil {
		opts.ExcludeNamespaces = []string{}
	}
	w, err := load(&o.cluster, s)
	if err != nil {
		return err
	}
	edges, sum, err := o.flows.read(w, s, time.Now())
	if err != nil {
		return err
	}
	opts.PodNetworks = delta.PodNetworks(w.inv)
	sg, err := delta.Suggest(w.inv, w.index, w.engine, edges, opts)
	if err != nil {
		return err
	}
	if o.format == output.JSON {
		return output.WriteJSON(s.Out, policyList(sg.Policies))
	}
	var buf bytes.Buffer
	printSuggestHeader(&buf, sg, sum)
	for i := range sg.Policies {
		b, err := yaml.Marshal(&sg.Policies[i])
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(dropNullTimestamp(b))
	}
	_, err = s.Out.Write(buf.Bytes())
	return err
}

// policyList wraps policies in a v1 List, which kubectl apply accepts.
func policyList(ps []networkingv1.NetworkPolicy) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "List", "items": ps}
}

// dropNullTimestamp removes the "creationTimestamp: null" an unset
// ObjectMeta marshals to.
func dropNullTimestamp(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("  creationTimestamp: null\n"), nil)
}

func printSuggestHeader(w io.Writer, sg *delta.Suggestion, sum flowSummary) {
	clock := clockFormat(sg.Window)
	fmt.Fprintf(w, "# kubedelta netpol suggest: %d NetworkPolicies for namespaces %s\n", len(sg.Policies), strings.Join(sg.Namespaces, ", "))
	var ev bytes.Buffer
	printEvidence(&ev, sg.Window, sg.Flows, sg.Edges, sum)
	fmt.Fprintf(w, "# %s", ev.String())
	fmt.Fprintf(w, "# Checked: with these policies in place of the current ones in those namespaces, the\n")
	fmt.Fprintf(w, "# policy engine allows every one of the %d observed connections they are built from.\n", sg.Checked)
	if len(sg.Replaced) > 0 {
		fmt.Fprintln(w, "#\n# Replaces (delete these when applying):")
		byNS := map[string][]string{}
		var order []string
		for _, r := range sg.Replaced {
			if _, ok := byNS[r.Namespace]; !ok {
				order = append(order, r.Namespace)
			}
			byNS[r.Namespace] = append(byNS[r.Namespace], r.Name)
		}
		for _, ns := range order {
			fmt.Fprintf(w, "#   kubectl -n %s delete networkpolicy %s\n", ns, strings.Join(byNS[ns], " "))
		}
	}
	var removes []string
	for _, rc := range sg.Reach {
		if line := reachChangeText(rc); line != "" {
			removes = append(removes, line)
		}
	}
	if len(removes) > 0 {
		fmt.Fprintln(w, "#\n# Removes reach (pods, then addresses outside the cluster):")
		for _, l := range removes {
			fmt.Fprintf(w, "#   %s\n", l)
		}
	}
	printNotes(w, "Not allowed (observed, left out)", sg.LeftOut, clock, true)
	printNotes(w, "Rarely seen, allowed: review before applying (--exclude PEER leaves one out)", sg.Rare, clock, false)
	if len(sg.Notes) > 0 {
		fmt.Fprintln(w, "#\n# Notes:")
		for _, n := range sg.Notes {
			fmt.Fprintf(w, "#   %s\n", n)
		}
	}
}

func printNotes(w io.Writer, title string, ns []delta.EdgeNote, clock string, why bool) {
	if len(ns) == 0 {
		return
	}
	fmt.Fprintf(w, "#\n# %s:\n", title)
	for _, n := range ns {
		fmt.Fprintf(w, "#   %s -> %s %s, %d %s %s", shortWorkload(n.Src), shortWorkload(n.Dst), portLabel(n.Port, n.Protocol),
			n.Count, pluralWord(n.Count, "flow", "flows"), spanText(n.FirstSeen, n.LastSeen, clock))
		if why && n.Why != "" {
			fmt.Fprintf(w, ": %s", n.Why)
		}
		fmt.Fprintln(w)
	}
}

func pluralWord(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// reachChangeText describes what a workload's reach loses, or "" when
// nothing changes.
func reachChangeText(rc delta.ReachChange) string {
	var parts []string
	side := func(label string, d delta.ReachDelta) {
		if d.PodsBefore == d.PodsAfter && d.ExternalBefore == d.ExternalAfter {
			return
		}
		s := fmt.Sprintf("%s %d→%d pods", label, d.PodsBefore, d.PodsAfter)
		if d.ExternalBefore != d.ExternalAfter {
			s += fmt.Sprintf(", external %s→%s", d.ExternalBefore, d.ExternalAfter)
		}
		parts = append(parts, s)
	}
	side("may reach", rc.Egress)
	side("may be reached from", rc.Ingress)
	if len(parts) == 0 {
		return ""
	}
	return shortWorkload(rc.Workload) + ": " + strings.Join(parts, "; ")
}
