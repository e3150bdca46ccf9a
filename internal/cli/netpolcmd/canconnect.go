package netpolcmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/output"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

// timeZero asks the index for an address's current holder.
var timeZero time.Time

type canConnectOptions struct {
	cluster  input.Cluster
	from, to string
	port     string
	protocol string
	batch    string
	format   output.Format
}

func newCanConnectCommand(s iostreams.Streams) *cobra.Command {
	o := &canConnectOptions{}
	cmd := &cobra.Command{
		Use:   "can-connect --from NS/POD|IP --to NS/POD|IP --port PORT|NAME [--protocol TCP|UDP|SCTP]",
		Short: "Check whether NetworkPolicies allow a connection",
		Long: `Answer "yes" (exit 0) or "no" (exit 1): a connection needs the source's egress
and the destination's ingress. A named port resolves on the destination pod's
containers. With -o json, also whether egress and ingress each allowed it, and
by which policies and rules.

Batch form: --batch FILE (- for stdin) reads JSON lines
  {"from":"ns/pod","to":"ns/pod","port":80,"protocol":"TCP"}
(from and to may be IP addresses; port may be a name) and writes one JSON line
per request, in order: the request plus "allowed", "egress" and "ingress".`,
		Example: `  kubedelta netpol can-connect --cluster examples/cluster --from shop/web-7c9d8b6f5-abcde --to data/redis-0 --port 6379
  kubedelta netpol can-connect --cluster dump.yaml --from 10.0.1.5 --to data/postgres-0 --port postgres -o json
  kubedelta netpol can-connect --cluster dump.yaml --batch checks.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.batch != "" {
				return runCanConnectBatch(o, s)
			}
			return runCanConnect(o, s)
		},
	}
	o.cluster.AddFlags(cmd)
	cmd.Flags().StringVar(&o.from, "from", "", "source: NAMESPACE/POD or an IP address")
	cmd.Flags().StringVar(&o.to, "to", "", "destination: NAMESPACE/POD or an IP address")
	cmd.Flags().StringVar(&o.port, "port", "", "destination port number or name")
	cmd.Flags().StringVar(&o.protocol, "protocol", "TCP", "TCP, UDP or SCTP")
	cmd.Flags().StringVar(&o.batch, "batch", "", "JSON-lines file of requests (- for stdin)")
	output.AddFlag(cmd, &o.format, output.Table, output.JSON, output.YAML)
	return cmd
}

func parseProtocol(p string) (corev1.Protocol, error) {
	switch strings.ToUpper(p) {
	case "", "TCP":
		return corev1.ProtocolTCP, nil
	case "UDP":
		return corev1.ProtocolUDP, nil
	case "SCTP":
		return corev1.ProtocolSCTP, nil
	}
	return "", fmt.Errorf("protocol %q: want TCP, UDP or SCTP", p)
}

func parsePort(v string) (netpol.PortRef, error) {
	if v == "" {
		return netpol.PortRef{}, fmt.Errorf("--port is required")
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > 65535 {
			return netpol.PortRef{}, fmt.Errorf("port %d out of range 1-65535", n)
		}
		return netpol.PortRef{Port: int32(n)}, nil
	}
	return netpol.PortRef{Name: v}, nil
}

// result is one answer, as JSON.
type result struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     json.RawMessage `json:"port"`
	Protocol string          `json:"protocol"`
	netpol.Verdict
}

func runCanConnect(o *canConnectOptions, s iostreams.Streams) error {
	if o.from == "" || o.to == "" {
		return fmt.Errorf("--from and --to are required")
	}
	port, err := parsePort(o.port)
	if err != nil {
		return err
	}
	proto, err := parseProtocol(o.protocol)
	if err != nil {
		return err
	}
	w, err := load(&o.cluster, s)
	if err != nil {
		return err
	}
	from, err := w.peer(o.from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	to, err := w.peer(o.to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	v := w.engine.CanConnect(from, to, port, proto)
	portJSON, _ := json.Marshal(o.port)
	if port.Name == "" {
		portJSON = []byte(strconv.Itoa(int(port.Port)))
	}
	res := result{From: o.from, To: o.to, Port: portJSON, Protocol: string(proto), Verdict: v}
	if ok, err := output.Structured(s.Out, o.format, res); ok || err != nil {
		if err != nil {
			return err
		}
	} else if v.Allowed {
		fmt.Fprintln(s.Out, "yes")
	} else {
		fmt.Fprintln(s.Out, "no")
	}
	if !v.Allowed {
		return &iostreams.ExitError{Code: 1}
	}
	return nil
}

type batchRequest struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     json.RawMessage `json:"port"`
	Protocol string          `json:"protocol"`
}

func runCanConnectBatch(o *canConnectOptions, s iostreams.Streams) error {
	w, err := load(&o.cluster, s)
	if err != nil {
		return err
	}
	in, name, closeFn, err := input.OpenBatch(o.batch, s.In)
	if err != nil {
		return err
	}
	defer closeFn()
	return canConnectBatch(w, in, name, s.Out)
}

func canConnectBatch(w *world, in io.Reader, name string, out io.Writer) error {
	bw := bufio.NewWriterSize(out, 256*1024)
	enc := json.NewEncoder(bw)
	err := input.EachLine(in, name, func(_ int, b []byte) error {
		var req batchRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return err
		}
		fail := func(field string, err error) error { return fmt.Errorf("field %q: %w", field, err) }
		from, err := w.peer(req.From)
		if err != nil {
			return fail("from", err)
		}
		to, err := w.peer(req.To)
		if err != nil {
			return fail("to", err)
		}
		port, err := batchPort(req.Port)
		if err != nil {
			return fail("port", err)
		}
		proto, err := parseProtocol(req.Protocol)
		if err != nil {
			return fail("protocol", err)
		}
		v := w.engine.CanConnect(from, to, port, proto)
		return enc.Encode(result{From: req.From, To: req.To, Port: req.Port, Protocol: string(proto), Verdict: v})
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// batchPort reads a port given as a number or a name.
func batchPort(raw json.RawMessage) (netpol.PortRef, error) {
	var num int32
	if json.Unmarshal(raw, &num) == nil {
		if num < 1 || num > 65535 {
			return netpol.PortRef{}, fmt.Errorf("%d out of range 1-65535", num)
		}
		return netpol.PortRef{Port: num}, nil
	}
	var name string
	if json.Unmarshal(raw, &name) == nil && name != "" {
		return parsePort(name)
	}
	return netpol.PortRef{}, fmt.Errorf("want a number or a port name, got %s", string(raw))
}
