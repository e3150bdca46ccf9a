// Package netpolcmd implements `kubedelta netpol`: can-connect, reach,
// unused and suggest over cluster dumps and flow logs.
package netpolcmd

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

// NewCommand returns the `netpol` command group.
func NewCommand(s iostreams.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "What NetworkPolicies allow, what workloads really do, and least-privilege policies in between",
		Long: `Evaluate Kubernetes NetworkPolicies (networking.k8s.io/v1) exactly as the API
defines them, over a dump of the cluster's objects, and compare the reach they
allow with the connections flow logs show. docs/netpol-semantics.md explains
the semantics and the choices where the API leaves room.`,
	}
	cmd.AddCommand(newCanConnectCommand(s), newReachCommand(s), newUnusedCommand(s), newSuggestCommand(s))
	return cmd
}

// world is a loaded cluster ready for policy questions.
type world struct {
	inv    *cluster.Inventory
	index  *cluster.Index
	engine *netpol.Engine
}

func load(c *input.Cluster, s iostreams.Streams) (*world, error) {
	inv, err := c.Load(s)
	if err != nil {
		return nil, err
	}
	idx := cluster.NewIndex(inv)
	eng := netpol.New(inv.Namespaces, inv.Pods, inv.NetworkPolicies, netpol.Options{
		WorkloadName: func(p *corev1.Pod) string { return idx.WorkloadOf(p).String() },
		Logger:       s.Logger,
	})
	for _, is := range eng.Issues() {
		s.Logger.Warn("network policy", "issue", is.Error())
	}
	return &world{inv: inv, index: idx, engine: eng}, nil
}

// peer parses NS/POD or an IP address.
func (w *world) peer(v string) (netpol.Peer, error) {
	if ip, err := netip.ParseAddr(v); err == nil {
		if p, ok := w.index.PodAt(ip, timeZero); ok {
			return netpol.Peer{Pod: p, IP: ip}, nil
		}
		return netpol.Peer{IP: ip}, nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || ns == "" || name == "" {
		return netpol.Peer{}, fmt.Errorf("%q: want NAMESPACE/POD or an IP address", v)
	}
	if p, ok := w.index.Pod(ns, name); ok {
		return netpol.Peer{Pod: p}, nil
	}
	// A finished pod is no longer "current" in the index; it is still an
	// object of the dump that policies can be evaluated for.
	for i := range w.inv.Pods {
		if p := &w.inv.Pods[i]; p.Namespace == ns && p.Name == name {
			return netpol.Peer{Pod: p}, nil
		}
	}
	return netpol.Peer{}, fmt.Errorf("pod %s/%s is not in the cluster objects", ns, name)
}
