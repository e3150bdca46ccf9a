package rbaccmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/rbac/delta"
)

type suggestOptions struct {
	cluster       input.Cluster
	audit         input.Audit
	subjects      []string
	diff          bool
	includeSystem bool
	maxNames      int
	expand        []string
	format        output.Format
}

func newSuggestCommand(s iostreams.Streams) *cobra.Command {
	o := &suggestOptions{}
	cmd := &cobra.Command{
		Use:   "suggest --cluster PATH --audit FILE... [--subject KIND:NAMESPACE:NAME ...]",
		Short: "Least-privilege Roles and bindings that allow exactly what each subject used",
		Long: `Write kubectl-apply-able YAML: per subject, Roles/ClusterRoles and bindings that
  (a) allow every request the subject's own bindings allowed in the audit log,
  (b) never allow anything the subject's current grants do not already allow,
  (c) are as narrow as the evidence supports: a Role per namespace used, a
      ClusterRole only for cluster-scoped or all-namespace requests,
      resourceNames kept where a verb touched at most --max-names objects,
      exact subresources, verbs as used plus --expand (default list=watch,
      watch=list; an expansion is added only where (b) holds),
  (d) are annotated with why each rule exists (kubedelta.io/rule-N: count,
      first and last seen).
Requests allowed only through other subjects' bindings (e.g. a group's) are
left to those bindings. Subjects with grants and no activity get no
suggestion: 'rbac unused' lists them as candidates for removal.

--diff prints what would be removed from today's grants instead.`,
		Example: `  kubedelta rbac suggest --cluster examples/cluster --audit examples/audit.jsonl
  kubedelta rbac suggest --cluster dump.yaml --audit audit.log --subject ServiceAccount:ci:deployer --diff`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSuggest(o, s) },
	}
	o.cluster.AddFlags(cmd)
	o.audit.AddFlags(cmd)
	cmd.Flags().StringArrayVar(&o.subjects, "subject", nil, "subject as KIND:NAMESPACE:NAME, e.g. ServiceAccount:ci:deployer, User::alice, Group::devs (repeatable)")
	cmd.Flags().BoolVar(&o.diff, "diff", false, "print what would be removed from today's grants")
	cmd.Flags().BoolVar(&o.includeSystem, "include-system", false, "also suggest for subjects bound only by Kubernetes' default bindings")
	cmd.Flags().IntVar(&o.maxNames, "max-names", delta.DefaultMaxNames, "keep resourceNames when a verb touched at most this many objects (-1: only where today's grant names objects)")
	cmd.Flags().StringSliceVar(&o.expand, "expand", []string{"list=watch", "watch=list"}, "verb expansions USED=ADDED (empty to disable)")
	output.AddFlag(cmd, &o.format, output.YAML, output.JSON)
	return cmd
}

func parseExpand(vals []string) (map[string][]string, error) {
	m := map[string][]string{}
	for _, v := range vals {
		if v == "" {
			continue
		}
		from, to, ok := strings.Cut(v, "=")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--expand %q: want USED=ADDED, e.g. list=watch", v)
		}
		m[from] = append(m[from], to)
	}
	return m, nil
}

func runSuggest(o *suggestOptions, s iostreams.Streams) error {
	opts := delta.SuggestOptions{IncludeSystem: o.includeSystem, MaxNames: o.maxNames}
	for _, v := range o.subjects {
		sub, err := rbac.ParseSubject(v)
		if err != nil {
			return fmt.Errorf("--subject: %w", err)
		}
		opts.Subjects = append(opts.Subjects, sub)
	}
	exp, err := parseExpand(o.expand)
	if err != nil {
		return err
	}
	opts.Expand = exp
	a, err := authorizerFrom(&o.cluster, s)
	if err != nil {
		return err
	}
	u, _, err := usageFrom(&o.audit, s)
	if err != nil {
		return err
	}
	sgs := delta.Suggest(a, u, opts)
	if o.diff {
		if o.format == output.JSON {
			return output.WriteJSON(s.Out, sgs)
		}
		return printDiff(s.Out, sgs)
	}
	if o.format == output.JSON {
		return output.WriteJSON(s.Out, sgs)
	}
	return writeManifests(s.Out, sgs)
}

// writeManifests writes every object as a YAML document, each subject's
// group introduced by a comment saying what it replaces.
func writeManifests(w io.Writer, sgs []delta.Suggestion) error {
	if len(sgs) == 0 {
		fmt.Fprintln(w, "# no subject's own bindings allowed any request in the evidence: nothing to suggest")
		return nil
	}
	for _, sg := range sgs {
		fmt.Fprintf(w, "# %s: least privilege from the audit evidence.\n", sg.Subject)
		var reps []string
		for _, r := range sg.Replaces {
			reps = append(reps, refString(r))
		}
		fmt.Fprintf(w, "# Replaces: %s\n", strings.Join(reps, ", "))
		fmt.Fprintf(w, "# Removes %d unused permission(s); see --diff.\n", len(sg.Removed))
		for _, e := range sg.Expanded {
			fmt.Fprintf(w, "# Expanded: %s\n", e)
		}
		var objs []any
		for i := range sg.ClusterRoles {
			objs = append(objs, &sg.ClusterRoles[i], &sg.ClusterRoleBindings[i])
		}
		for i := range sg.Roles {
			objs = append(objs, &sg.Roles[i], &sg.RoleBindings[i])
		}
		for _, obj := range objs {
			b, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "---\n%s", dropCreationTimestamp(b))
		}
	}
	return nil
}

// dropCreationTimestamp removes the `creationTimestamp: null` line that
// ObjectMeta's zero time marshals to.
func dropCreationTimestamp(b []byte) string {
	lines := strings.Split(string(b), "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.TrimSpace(l) == "creationTimestamp: null" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func printDiff(w io.Writer, sgs []delta.Suggestion) error {
	for _, sg := range sgs {
		fmt.Fprintf(w, "%s\n", sg.Subject)
		if len(sg.Removed) == 0 {
			fmt.Fprintln(w, "  (nothing removed: every granted permission was used)")
		}
		for _, ur := range sg.Removed {
			scope := "cluster-wide"
			if ur.Namespace != "" {
				scope = "in " + ur.Namespace
			}
			fmt.Fprintf(w, "- %-8s %s %s (%s → %s): %s\n", ur.Risk, ruleText(ur), scope, refString(ur.Binding), refString(ur.Role), ur.Why)
		}
		for _, e := range sg.Expanded {
			fmt.Fprintf(w, "+ expanded %s\n", e)
		}
	}
	return nil
}
