package delta

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/kubedelta/kubedelta/internal/netpol"
)

// check builds the engine of the cluster with the suggested policies in
// place of the covered namespaces' current ones, and verifies that every
// baseline edge is allowed. It returns that engine.
func (p *planner) check(policies []networkingv1.NetworkPolicy, baseline []Edge) (*netpol.Engine, error) {
	eng := Replace(p.inv.Namespaces, p.inv.Pods, p.inv.NetworkPolicies, policies, p.covered, netpol.Options{
		WorkloadName: func(pod *corev1.Pod) string { return p.idx.WorkloadOf(pod).String() },
	})
	var errs []error
	for _, is := range eng.Issues() {
		errs = append(errs, fmt.Errorf("%w: %w", ErrSuggestionIncomplete, is))
	}
	for i := range baseline {
		e := &baseline[i]
		if ev := evaluate(eng, e); ev.status != VerdictAllowed {
			errs = append(errs, fmt.Errorf("%w: %s -> %s on %s (%d flows): %s (this is a bug in kubedelta; please report it)",
				ErrSuggestionIncomplete, e.Src.Label(), e.Dst.Label(), portText(e.Port, e.Protocol), e.Flows, cmpOr(ev.why, ev.status)))
			if len(errs) >= 10 {
				break
			}
		}
	}
	return eng, errors.Join(errs...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Replace builds an engine over the cluster where the policies of the
// namespaces in replaced are the suggested ones instead of the current
// ones.
func Replace(namespaces []corev1.Namespace, pods []corev1.Pod, current, suggested []networkingv1.NetworkPolicy, replaced map[string]bool, opts netpol.Options) *netpol.Engine {
	keep := make([]networkingv1.NetworkPolicy, 0, len(current)+len(suggested))
	for i := range current {
		if !replaced[policyNamespace(&current[i])] {
			keep = append(keep, current[i])
		}
	}
	keep = append(keep, suggested...)
	return netpol.New(namespaces, pods, keep, opts)
}
