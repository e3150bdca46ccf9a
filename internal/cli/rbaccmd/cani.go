package rbaccmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

type canIOptions struct {
	cluster     input.Cluster
	as          string
	asGroups    []string
	namespace   string
	subresource string
	batch       string
	format      output.Format
}

func newCanICommand(s iostreams.Streams) *cobra.Command {
	o := &canIOptions{}
	cmd := &cobra.Command{
		Use:   "can-i VERB RESOURCE[.GROUP][/SUBRESOURCE] [NAME] | can-i VERB /non/resource/url",
		Short: "Check whether an identity may perform an action (like kubectl auth can-i, offline)",
		Long: `Answer "yes" (exit 0) or "no" (exit 1) for one request, evaluated against the
RBAC objects in --cluster exactly as the API server's RBAC authorizer would.
Implied groups are added: system:authenticated for every user, and
system:serviceaccounts plus system:serviceaccounts:NS for service accounts.

Batch form: --batch FILE (- for stdin) reads JSON lines
  {"user":"…","groups":["…"],"verb":"…","apiGroup":"…","resource":"…","subresource":"…","namespace":"…","name":"…","path":"…"}
and writes one JSON line per request, in order: the request plus "allowed" and,
when allowed, the binding and role that allowed it.`,
		Example: `  kubedelta rbac can-i list secrets -n prod --as system:serviceaccount:ci:deployer --cluster examples/cluster
  kubedelta rbac can-i create deployments.apps/scale web -n shop --as alice --as-group devs --cluster dump.yaml
  kubedelta rbac can-i get /metrics --as bob --cluster dump.yaml
  kubedelta rbac can-i --cluster dump.yaml --batch requests.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.batch != "" {
				if len(args) > 0 {
					return fmt.Errorf("--batch takes no VERB/RESOURCE arguments")
				}
				return runCanIBatch(o, s)
			}
			return runCanI(o, args, s)
		},
	}
	o.cluster.AddFlags(cmd)
	cmd.Flags().StringVar(&o.as, "as", "", "user to check, e.g. alice or system:serviceaccount:NS:NAME")
	cmd.Flags().StringArrayVar(&o.asGroups, "as-group", nil, "group the user is in (repeatable)")
	cmd.Flags().StringVarP(&o.namespace, "namespace", "n", "", "namespace of the request (empty: cluster-wide)")
	cmd.Flags().StringVar(&o.subresource, "subresource", "", "subresource, as kubectl's flag (same as RESOURCE/SUBRESOURCE)")
	cmd.Flags().StringVar(&o.batch, "batch", "", "JSON-lines file of requests (- for stdin)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func runCanI(o *canIOptions, args []string, s iostreams.Streams) error {
	if len(args) < 2 || len(args) > 3 {
		return fmt.Errorf("want VERB RESOURCE [NAME] or VERB /url, got %d arguments", len(args))
	}
	if o.as == "" {
		return fmt.Errorf("--as USER is required (offline there is no current user)")
	}
	req := rbac.Request{User: o.as, Groups: o.asGroups, Verb: args[0]}
	if strings.HasPrefix(args[1], "/") {
		if len(args) == 3 {
			return fmt.Errorf("a non-resource URL takes no NAME")
		}
		req.Path = args[1]
	} else {
		ra, err := parseResource(args[1])
		if err != nil {
			return err
		}
		if ra.Guessed {
			s.Logger.Warn("not a built-in resource; assuming the core API group (write RESOURCE.GROUP to name another)", "resource", ra.Resource)
		}
		req.Resource, req.APIGroup, req.Subresource = ra.Resource, ra.Group, ra.Subresource
		if o.subresource != "" {
			req.Subresource = o.subresource
		}
		req.Namespace = o.namespace
		if len(args) == 3 {
			req.Name = args[2]
		}
	}
	a, err := authorizerFrom(&o.cluster, s)
	if err != nil {
		return err
	}
	d := a.Authorize(req)
	if ok, err := output.Structured(s.Out, o.format, batchResult{Request: req, Decision: d}); ok || err != nil {
		if err != nil {
			return err
		}
	} else if d.Allowed {
		fmt.Fprintln(s.Out, "yes")
	} else {
		fmt.Fprintln(s.Out, "no")
	}
	if !d.Allowed {
		return &iostreams.ExitError{Code: 1}
	}
	return nil
}

type batchResult struct {
	rbac.Request
	rbac.Decision
}

func runCanIBatch(o *canIOptions, s iostreams.Streams) error {
	a, err := authorizerFrom(&o.cluster, s)
	if err != nil {
		return err
	}
	in, name, closeFn, err := input.OpenBatch(o.batch, s.In)
	if err != nil {
		return err
	}
	defer closeFn()
	return canIBatch(a, in, name, s.Out)
}

// canIBatch answers one JSON line of output per JSON line of input.
func canIBatch(a *rbac.Authorizer, in io.Reader, name string, out io.Writer) error {
	w := bufio.NewWriterSize(out, 256*1024)
	enc := json.NewEncoder(w)
	err := input.EachLine(in, name, func(_ int, b []byte) error {
		var req rbac.Request
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return err
		}
		if req.Verb == "" {
			return fmt.Errorf("field \"verb\" is required")
		}
		if req.Path != "" && req.Resource != "" {
			return fmt.Errorf("a request has either \"resource\" or \"path\", not both")
		}
		return enc.Encode(batchResult{Request: req, Decision: a.Authorize(req)})
	})
	if err != nil {
		return err
	}
	return w.Flush()
}
