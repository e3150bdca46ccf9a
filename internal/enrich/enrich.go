// Package enrich resolves the addresses in network flows to the identities
// behind them as of each flow's time: pod → workload, node, service, or an
// external address. Pods live minutes and their IPs are reused, so
// resolution goes through the cluster index's IP history; where the source
// itself named the pod (Hubble does), that wins over the index.
package enrich

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

// maxHintCache bounds the cache of workloads named from source hints.
const maxHintCache = 100_000

// Resolver turns flow endpoints into baseline peers. It is not safe for
// concurrent use (its cache is unsynchronized); use one per goroutine.
type Resolver struct {
	idx   *cluster.Index
	hints map[hintKey]string
}

type hintKey struct{ namespace, pod string }

// New returns a resolver over idx (which may be nil: then only source hints
// and "external" are available).
func New(idx *cluster.Index) *Resolver {
	if idx == nil {
		idx = cluster.NewIndex(&cluster.Inventory{})
	}
	return &Resolver{idx: idx, hints: make(map[hintKey]string)}
}

// Flow resolves both ends of f.
func (r *Resolver) Flow(f *event.Flow) (src, dst baseline.Peer) {
	return r.Endpoint(&f.Src, f), r.Endpoint(&f.Dst, f)
}

// Endpoint resolves one end of f.
func (r *Resolver) Endpoint(e *event.Endpoint, f *event.Flow) baseline.Peer {
	p := baseline.Peer{IP: e.IP, Kind: baseline.PeerExternal}
	if len(e.Names) > 0 {
		p.Name = e.Names[0]
	}
	if e.IP.IsValid() {
		ep := r.idx.ResolveIP(e.IP, f.Time)
		switch ep.Kind {
		case cluster.EndpointPod:
			p.Kind, p.Workload, p.Namespace = baseline.PeerWorkload, ep.Workload.String(), ep.Workload.Namespace
			return p
		case cluster.EndpointNode:
			p.Kind, p.Workload = baseline.PeerNode, ep.Workload.String()
			return p
		case cluster.EndpointService:
			if w, ok := r.serviceWorkload(ep.Service, f); ok {
				p.Kind, p.Workload, p.Namespace = baseline.PeerWorkload, w, ep.Service.Namespace
				return p
			}
			p.Kind, p.Workload, p.Namespace = baseline.PeerWorkload, "Service/"+ep.Service.Namespace+"/"+ep.Service.Name, ep.Service.Namespace
			return p
		}
	}
	if e.Pod != "" && e.Namespace != "" {
		p.Kind, p.Workload, p.Namespace = baseline.PeerWorkload, r.PodWorkload(e.Namespace, e.Pod, e.Labels), e.Namespace
	}
	return p
}

// serviceWorkload names the one workload behind a service's backends at the
// flow's time, when there is exactly one.
func (r *Resolver) serviceWorkload(svc *corev1.Service, f *event.Flow) (string, bool) {
	var w string
	for _, pod := range r.idx.Backends(svc, f.Time) {
		name := r.idx.WorkloadOf(pod).String()
		if w != "" && name != w {
			return "", false
		}
		w = name
	}
	return w, w != ""
}

// PodWorkload names the workload of the pod namespace/name: through the
// inventory when it holds the pod, else from its name and labels ("k=v"), as
// the index would for a pod without owner references (it is gone, or the
// dump predates it).
func (r *Resolver) PodWorkload(namespace, name string, labels []string) string {
	k := hintKey{namespace, name}
	if w, ok := r.hints[k]; ok {
		return w
	}
	if pod, ok := r.idx.PodByName(namespace, name); ok {
		return r.remember(k, r.idx.WorkloadOf(pod).String())
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{}}}
	for _, l := range labels {
		if k, v, ok := strings.Cut(l, "="); ok {
			pod.Labels[k] = v
		}
	}
	return r.remember(k, r.idx.WorkloadOf(pod).String())
}

func (r *Resolver) remember(k hintKey, w string) string {
	if len(r.hints) >= maxHintCache {
		clear(r.hints)
	}
	r.hints[k] = w
	return w
}
