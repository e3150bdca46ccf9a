package delta

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/netpol"
)

// Verdicts of an observed edge under a policy set.
const (
	VerdictAllowed    = "allowed"
	VerdictDenied     = "denied"
	VerdictUnresolved = "unresolved"
)

// evaluation is the verdict of the policies on one observed edge.
type evaluation struct {
	status string
	v      netpol.Verdict
	why    string
}

// peerOf turns an endpoint into an engine peer; false when policies cannot
// be evaluated for it.
func peerOf(ep *Endpoint) (netpol.Peer, bool) {
	switch ep.Kind {
	case KindPod:
		return netpol.Peer{Pod: ep.Pod, IP: ep.IP}, true
	case KindNode, KindExternal:
		return netpol.Peer{IP: ep.IP}, ep.IP.IsValid()
	}
	return netpol.Peer{}, false
}

// k8sProtocol converts an IP protocol to its NetworkPolicy spelling; other
// protocols keep their name, which no ports entry matches.
func k8sProtocol(p event.Protocol) corev1.Protocol {
	return corev1.Protocol(p.String())
}

// evaluate asks the engine whether the edge is allowed, and why not.
func evaluate(eng *netpol.Engine, e *Edge) evaluation {
	src, okSrc := peerOf(e.Src)
	dst, okDst := peerOf(e.Dst)
	if !okSrc || !okDst {
		return evaluation{status: VerdictUnresolved, why: unresolvedWhy(e)}
	}
	v := eng.CanConnect(src, dst, netpol.PortRef{Port: int32(e.Port)}, k8sProtocol(e.Protocol))
	ev := evaluation{status: VerdictAllowed, v: v}
	if !v.Allowed {
		ev.status = VerdictDenied
		ev.why = deniedWhy(e, v)
	}
	return ev
}

func unresolvedWhy(e *Edge) string {
	var parts []string
	for _, ep := range []*Endpoint{e.Src, e.Dst} {
		switch ep.Kind {
		case KindUnresolved:
			parts = append(parts, ep.IP.String()+" is in the pod network, but no pod in the cluster objects held it at the time and the flow names none")
		case KindService:
			parts = append(parts, ep.Workload+" ("+ep.IP.String()+"): its backends at the time were not the pods of one workload, and policies apply to the backends")
		}
	}
	return strings.Join(parts, "; ")
}

func deniedWhy(e *Edge, v netpol.Verdict) string {
	port := portText(e.Port, e.Protocol)
	var parts []string
	if !v.Egress.Allowed {
		parts = append(parts, fmt.Sprintf("egress of %s is limited by %s and no rule admits %s on %s",
			e.Src.Label(), refList(v.Egress.Policies), e.Dst.Label(), port))
	}
	if !v.Ingress.Allowed {
		parts = append(parts, fmt.Sprintf("ingress of %s is limited by %s and no rule admits %s on %s",
			e.Dst.Label(), refList(v.Ingress.Policies), e.Src.Label(), port))
	}
	return strings.Join(parts, "; ")
}

func refList(refs []netpol.Ref) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// portText renders "6379/TCP", or "ICMP" for a protocol without ports.
func portText(port uint16, proto event.Protocol) string {
	if port == 0 {
		return proto.String()
	}
	return strconv.Itoa(int(port)) + "/" + proto.String()
}
