package cluster

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// EndpointKind says what an IP address resolved to.
type EndpointKind uint8

// Endpoint kinds.
const (
	// EndpointExternal: no pod, service or node held the address.
	EndpointExternal EndpointKind = iota
	// EndpointPod: a (non-hostNetwork) pod held the address at the time.
	EndpointPod
	// EndpointNode: a node address, which hostNetwork pods share.
	EndpointNode
	// EndpointService: a Service's cluster IP, external IP or load
	// balancer ingress IP.
	EndpointService
)

// String returns "external", "pod", "node" or "service".
func (k EndpointKind) String() string {
	switch k {
	case EndpointPod:
		return "pod"
	case EndpointNode:
		return "node"
	case EndpointService:
		return "service"
	}
	return "external"
}

// Endpoint is an IP address resolved against the inventory at a time.
type Endpoint struct {
	Kind EndpointKind
	IP   netip.Addr
	// Pod is set for EndpointPod.
	Pod *corev1.Pod
	// Node is set for EndpointNode when the Node object is known (a node
	// address learned only from pods' status.hostIP has none).
	Node *corev1.Node
	// Service is set for EndpointService.
	Service *corev1.Service
	// Workload is the pod's workload for EndpointPod, the node for
	// EndpointNode ({Kind: "Node", Name: node}), zero otherwise.
	Workload Workload
}

// Index answers identity questions about an Inventory, over time: which pod
// held an IP address at the time of a flow or an audit event, and which
// workload that pod belonged to. Pods live minutes and IP addresses are
// reused, so every address keeps a time-ordered history of its holders.
//
// An Index refers to the Inventory's objects (and to pods given to AddPod);
// callers must not modify them afterwards. Objects an Index returns are
// shared: treat them as read-only. An Index is safe for concurrent use;
// AddPod, DeletePod and Prune may run while lookups do.
type Index struct {
	owners owners // immutable after NewIndex

	mu sync.RWMutex
	// ips is the holder history of each pod IP, sorted by start time.
	ips map[netip.Addr][]holding
	// pods holds every pod the index knows, alive or gone (until pruned),
	// by UID (or namespace/name when a pod has no UID).
	pods map[string]*podRecord
	// current is the live pod of each namespace/name.
	current map[nsName]*podRecord
	// byNamespace lists every pod record of a namespace, alive or gone.
	byNamespace map[string][]*podRecord

	nodeIPs    map[netip.Addr]nodeRef
	clusterIPs map[netip.Addr]*corev1.Service
	serviceIPs map[netip.Addr]*corev1.Service // external and load balancer IPs
	namespaces map[string]*corev1.Namespace
}

type nodeRef struct {
	name string
	node *corev1.Node
}

// NewIndex indexes inv. A nil inv gives an empty index that AddPod fills.
func NewIndex(inv *Inventory) *Index {
	if inv == nil {
		inv = &Inventory{}
	}
	x := &Index{
		owners:      newOwners(inv),
		ips:         make(map[netip.Addr][]holding, len(inv.Pods)),
		pods:        make(map[string]*podRecord, len(inv.Pods)),
		current:     make(map[nsName]*podRecord, len(inv.Pods)),
		byNamespace: make(map[string][]*podRecord),
		nodeIPs:     make(map[netip.Addr]nodeRef, 2*len(inv.Nodes)),
		clusterIPs:  make(map[netip.Addr]*corev1.Service, len(inv.Services)),
		serviceIPs:  make(map[netip.Addr]*corev1.Service),
		namespaces:  make(map[string]*corev1.Namespace, len(inv.Namespaces)),
	}
	for i := range inv.Namespaces {
		ns := &inv.Namespaces[i]
		x.namespaces[ns.Name] = ns
	}
	for i := range inv.Nodes {
		n := &inv.Nodes[i]
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, ok := parseIP(a.Address); ok {
				x.nodeIPs[ip] = nodeRef{name: n.Name, node: n}
			}
		}
	}
	for i := range inv.Services {
		x.addService(&inv.Services[i])
	}
	for i := range inv.Pods {
		x.addPodLocked(&inv.Pods[i])
	}
	return x
}

func (x *Index) addService(svc *corev1.Service) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if ip, ok := parseIP(s); ok { // "None" (headless) does not parse
			x.clusterIPs[ip] = svc
		}
	}
	for _, s := range svc.Spec.ExternalIPs {
		if ip, ok := parseIP(s); ok {
			x.serviceIPs[ip] = svc
		}
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ip, ok := parseIP(ing.IP); ok {
			x.serviceIPs[ip] = svc
		}
	}
}

// parseIP parses an address as the index keys it: IPv4-mapped IPv6
// addresses unmapped, no zone.
func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return canonicalIP(ip), true
}

func canonicalIP(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Zone() != "" {
		ip = ip.WithZone("")
	}
	return ip
}

// PodAt returns the pod that held ip at t: the most recent holder whose
// lifetime started at or before t, if it had not ended by t. A pod's
// lifetime starts at status.startTime (when the kubelet took it on, which
// precedes its sandbox and IP), or creationTimestamp when the pod has no
// start time, and ends at the earliest of deletionTimestamp, the end of its
// last container when it Succeeded or Failed, or its removal (DeletePod).
// An address taken by a newer pod is no longer the older pod's, whatever
// the older pod's records say.
//
// When t is zero PodAt returns the current holder: the latest one, if it is
// still running. HostNetwork pods are never returned: their address is the
// node's (see ResolveIP).
func (x *Index) PodAt(ip netip.Addr, t time.Time) (*corev1.Pod, bool) {
	var pod *corev1.Pod
	x.mu.RLock()
	if h := x.holderAt(canonicalIP(ip), t); h != nil {
		pod = h.pod
	}
	x.mu.RUnlock()
	return pod, pod != nil
}

// ResolveIP says what ip was at t: a pod (with its workload), a service
// address, a node address, or external. Pod addresses win over the others
// (they come from disjoint ranges in a sane cluster); a service IP wins
// over a node address. t zero means now.
func (x *Index) ResolveIP(ip netip.Addr, t time.Time) Endpoint {
	ip = canonicalIP(ip)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if h := x.holderAt(ip, t); h != nil {
		return Endpoint{Kind: EndpointPod, IP: ip, Pod: h.pod, Workload: h.rec.workload}
	}
	if svc, ok := x.clusterIPs[ip]; ok {
		return Endpoint{Kind: EndpointService, IP: ip, Service: svc}
	}
	if svc, ok := x.serviceIPs[ip]; ok {
		return Endpoint{Kind: EndpointService, IP: ip, Service: svc}
	}
	if n, ok := x.nodeIPs[ip]; ok {
		return Endpoint{Kind: EndpointNode, IP: ip, Node: n.node, Workload: Workload{Kind: KindNode, Name: n.name}}
	}
	return Endpoint{Kind: EndpointExternal, IP: ip}
}

// ServiceByClusterIP returns the Service with ip among its cluster IPs.
func (x *Index) ServiceByClusterIP(ip netip.Addr) (*corev1.Service, bool) {
	x.mu.RLock()
	svc, ok := x.clusterIPs[canonicalIP(ip)]
	x.mu.RUnlock()
	return svc, ok
}

// Backends returns the pods svc's selector selects in its namespace that
// were alive at t (running now when t is zero), sorted by name. Readiness
// is not considered: a selected pod that was not Ready was still a
// backend the Service would route to once Ready. A Service without a
// selector (endpoints managed by hand) has none.
//
// Selection mirrors the EndpointSlice controller: the selector is the
// equality-based label set spec.selector, over pods in the service's
// namespace.
func (x *Index) Backends(svc *corev1.Service, t time.Time) []*corev1.Pod {
	if svc == nil || len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromValidatedSet(labels.Set(svc.Spec.Selector))
	x.mu.RLock()
	var out []*corev1.Pod
	for _, rec := range x.byNamespace[svc.Namespace] {
		if rec.aliveAt(t) && sel.Matches(labels.Set(rec.pod.Labels)) {
			out = append(out, rec.pod)
		}
	}
	x.mu.RUnlock()
	sortPods(out)
	return out
}

// Namespace returns a namespace by name (implicit ones included).
func (x *Index) Namespace(name string) (*corev1.Namespace, bool) {
	x.mu.RLock()
	ns, ok := x.namespaces[name]
	x.mu.RUnlock()
	return ns, ok
}

// PodsInNamespace returns the namespace's current pods, sorted by name.
func (x *Index) PodsInNamespace(ns string) []*corev1.Pod {
	x.mu.RLock()
	var out []*corev1.Pod
	for _, rec := range x.byNamespace[ns] {
		if rec.live {
			out = append(out, rec.pod)
		}
	}
	x.mu.RUnlock()
	sortPods(out)
	return out
}

// Pod returns the current pod with that namespace and name.
func (x *Index) Pod(ns, name string) (*corev1.Pod, bool) {
	x.mu.RLock()
	rec, ok := x.current[nsName{ns, name}]
	x.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return rec.pod, true
}

// PodByName returns the pod with that namespace and name: the current one,
// else the most recent one that is gone (a finished Job's pod, a replaced
// pod), so events that name a pod resolve after it is deleted.
func (x *Index) PodByName(ns, name string) (*corev1.Pod, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if rec, ok := x.current[nsName{ns, name}]; ok {
		return rec.pod, true
	}
	var best *podRecord
	for _, rec := range x.byNamespace[ns] {
		if rec.pod.Name == name && (best == nil || rec.from > best.from) {
			best = rec
		}
	}
	if best == nil {
		return nil, false
	}
	return best.pod, true
}

func sortPods(pods []*corev1.Pod) {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
}
