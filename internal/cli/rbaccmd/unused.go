package rbaccmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/rbac/delta"
)

type unusedOptions struct {
	cluster       input.Cluster
	audit         input.Audit
	format        output.Format
	includeSystem bool
	top           int
}

func newUnusedCommand(s iostreams.Streams) *cobra.Command {
	o := &unusedOptions{}
	cmd := &cobra.Command{
		Use:   "unused --cluster PATH --audit FILE...",
		Short: "Permissions granted but never used, per subject, ranked by risk",
		Long: `For every subject that RBAC bindings name (users, groups, service accounts), and
every identity the audit log shows being denied: what it is granted, what it
used (verb, group, resource, subresource, namespace, name, count, first and last
seen), which granted permissions it never used, ranked by the risk catalogue
(docs/rbac-risks.md), and its denied (403) requests. Subjects with grants and no
activity at all are called out as candidates for removal.

Subjects whose every binding is a Kubernetes default (bootstrap) binding are
left out unless --include-system is given.`,
		Example: `  kubedelta rbac unused --cluster examples/cluster --audit examples/audit.jsonl
  kubedelta rbac unused --cluster dump.yaml --audit audit.log --audit audit-1.log.gz -o json --since 168h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUnused(o, s) },
	}
	o.cluster.AddFlags(cmd)
	o.audit.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.includeSystem, "include-system", false, "include subjects bound only by Kubernetes' default bindings")
	cmd.Flags().IntVar(&o.top, "top", 10, "table output: show unused details for this many subjects (0: all)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func runUnused(o *unusedOptions, s iostreams.Streams) error {
	a, err := authorizerFrom(&o.cluster, s)
	if err != nil {
		return err
	}
	u, sum, err := usageFrom(&o.audit, s)
	if err != nil {
		return err
	}
	rep := delta.Unused(a, u, delta.Options{IncludeSystem: o.includeSystem})
	if ok, err := output.Structured(s.Out, o.format, rep); ok || err != nil {
		return err
	}
	return printUnused(s.Out, rep, sum, o.top)
}

func subjectLabel(kind, ns, name string) string {
	if ns != "" {
		return kind + " " + ns + "/" + name
	}
	return kind + " " + name
}

func printUnused(w io.Writer, rep *delta.Report, sum input.Summary, top int) error {
	fmt.Fprintf(w, "Evidence: %d audit requests from %s to %s (%d malformed records skipped)\n\n",
		sum.Delivered, rep.Window.From.UTC().Format("2006-01-02 15:04"), rep.Window.To.UTC().Format("2006-01-02 15:04"), sum.Rejected)
	t := output.NewTable(w)
	fmt.Fprintln(t, "RISK\tSUBJECT\tGRANTED RULES\tUSED\tUNUSED\tDENIED\tNOTE")
	for _, sr := range rep.Subjects {
		note := ""
		switch {
		case sr.Inactive:
			note = "no activity: candidate for removal"
		case len(sr.Granted) == 0:
			note = "no bindings"
		}
		fmt.Fprintf(t, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", sr.Risk, subjectLabel(sr.Kind, sr.Namespace, sr.Name),
			len(sr.Granted), len(sr.Used), len(sr.Unused), len(sr.Denied), note)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if rep.Hidden > 0 {
		fmt.Fprintf(w, "(%d subjects bound only by Kubernetes' default bindings not shown; --include-system shows them)\n", rep.Hidden)
	}
	shown := 0
	for _, sr := range rep.Subjects {
		if len(sr.Unused) == 0 && len(sr.Denied) == 0 {
			continue
		}
		if top > 0 && shown == top {
			break
		}
		shown++
		fmt.Fprintf(w, "\n%s (risk %s)\n", subjectLabel(sr.Kind, sr.Namespace, sr.Name), sr.Risk)
		quiet := 0
		for i, ur := range sr.Unused {
			// The table shows what matters; -o json has everything.
			if i >= maxDetail || ur.Risk == "info" {
				quiet++
				continue
			}
			scope := "cluster-wide"
			if ur.Namespace != "" {
				scope = "in " + ur.Namespace
			}
			fmt.Fprintf(w, "  unused  %-8s %s %s (%s → %s): %s\n", ur.Risk, shorten(ruleText(ur), 90), scope,
				refString(ur.Binding), refString(ur.Role), firstClause(ur.Why))
		}
		if quiet > 0 {
			fmt.Fprintf(w, "  ... and %d more unused rule(s) of lower risk (-o json lists all)\n", quiet)
		}
		for i, d := range sr.Denied {
			if i == maxDetail {
				fmt.Fprintf(w, "  ... and %d more denied request(s)\n", len(sr.Denied)-maxDetail)
				break
			}
			fmt.Fprintf(w, "  denied  %s ×%d (last %s)\n", usageText(d), d.Count, d.LastSeen.UTC().Format("2006-01-02 15:04"))
		}
	}
	return nil
}

// maxDetail bounds the lines of each kind shown per subject in tables.
const maxDetail = 5

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// firstClause keeps a why text up to its first risk reason.
func firstClause(why string) string {
	parts := strings.SplitN(why, "; ", 3)
	if len(parts) > 2 {
		return parts[0] + "; " + parts[1] + "; …"
	}
	return why
}

func ruleText(u delta.UnusedRule) string {
	if len(u.NonResourceURLs) > 0 {
		return strings.Join(u.Verbs, ",") + " " + strings.Join(u.NonResourceURLs, ",")
	}
	var res []string
	for _, g := range u.APIGroups {
		for _, r := range u.Resources {
			if g != "" {
				r += "." + g
			}
			res = append(res, r)
		}
	}
	s := strings.Join(u.Verbs, ",") + " " + strings.Join(res, ",")
	if len(u.ResourceNames) > 0 {
		s += " [" + strings.Join(u.ResourceNames, ",") + "]"
	}
	return s
}

func usageText(u delta.Usage) string {
	if u.Path != "" {
		return u.Verb + " " + u.Path
	}
	r := u.Resource
	if u.Subresource != "" {
		r += "/" + u.Subresource
	}
	if u.APIGroup != "" {
		r += "." + u.APIGroup
	}
	s := u.Verb + " " + r
	if u.Name != "" {
		s += " " + u.Name
	}
	if u.Namespace != "" {
		s += " -n " + u.Namespace
	}
	return s
}
