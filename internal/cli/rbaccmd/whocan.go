package rbaccmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

type whoCanOptions struct {
	cluster     input.Cluster
	namespace   string
	subresource string
	format      output.Format
}

func newWhoCanCommand(s iostreams.Streams) *cobra.Command {
	o := &whoCanOptions{}
	cmd := &cobra.Command{
		Use:   "who-can VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME] | who-can VERB /non/resource/url",
		Short: "List the subjects allowed to perform an action, and through which binding and role",
		Example: `  kubedelta rbac who-can get secrets -n kube-system --cluster examples/cluster
  kubedelta rbac who-can create pods/exec -n shop --cluster dump.yaml -o json`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error { return runWhoCan(o, args, s) },
	}
	o.cluster.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace of the request (empty: cluster-wide)")
	cmd.Flags().StringVar(&o.subresource, "subresource", "", "subresource (same as RESOURCE/SUBRESOURCE)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func runWhoCan(o *whoCanOptions, args []string, s iostreams.Streams) error {
	req := rbac.Request{Verb: args[0]}
	if strings.HasPrefix(args[1], "/") {
		req.Path = args[1]
	} else {
		ra, err := parseResource(args[1])
		if err != nil {
			return err
		}
		if ra.Guessed {
			s.Logger.Warn("not a built-in resource; assuming the core API group (write RESOURCE.GROUP to name another)", "resource", ra.Resource)
		}
		req.Resource, req.APIGroup, req.Subresource, req.Namespace = ra.Resource, ra.Group, ra.Subresource, o.namespace
		if o.subresource != "" {
			req.Subresource = o.subresource
		}
		if len(args) == 3 {
			req.Name = args[2]
		}
	}
	a, err := authorizerFrom(&o.cluster, s)
	if err != nil {
		return err
	}
	entries := a.WhoCan(req)
	if entries == nil {
		entries = []rbac.WhoCanEntry{}
	}
	if ok, err := output.Structured(s.Out, o.format, entries); ok || err != nil {
		return err
	}
	t := output.NewTable(s.Out)
	fmt.Fprintln(t, "KIND\tNAMESPACE\tNAME\tBINDING\tROLE")
	for _, e := range entries {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", e.Subject.Kind, dash(e.Subject.Namespace), e.Subject.Name,
			refString(e.Binding), refString(e.Role))
	}
	return t.Flush()
}

func refString(r rbac.Ref) string {
	if r.Name == "" {
		return "-"
	}
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
