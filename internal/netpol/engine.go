// Package netpol evaluates Kubernetes NetworkPolicy (networking.k8s.io/v1)
// exactly as the API defines it: which connections between pods, and
// between pods and addresses outside the pod network, the policies of a
// cluster allow, and why.
//
// The engine never evaluates all pairs of pods. Pods with the same namespace,
// the same values for every label key some policy selects on, the same named
// ports and the same ipBlock memberships behave alike under every policy;
// they form one equivalence class. Policies and rules are resolved once to
// bitsets of classes, port sets are interned, and reachability is computed by
// refining partitions of classes (see docs/netpol-semantics.md).
package netpol

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// ErrInvalidPolicy is wrapped by every Issue: a part of a policy the API
// server would have rejected. The engine ignores the invalid part (an invalid
// peer or port allows nothing; an invalid podSelector selects nothing) and
// reports it.
var ErrInvalidPolicy = errors.New("invalid NetworkPolicy")

// Ref names a NetworkPolicy.
type Ref struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// Direction is the direction of traffic a rule or verdict is about, as seen
// from the selected pod.
type Direction string

// Directions, spelled as NetworkPolicy policyTypes.
const (
	Ingress Direction = "Ingress"
	Egress  Direction = "Egress"
)

// RuleRef names one ingress or egress rule of a policy: Index is the index in
// spec.ingress or spec.egress.
type RuleRef struct {
	Policy    Ref       `json:"policy"`
	Direction Direction `json:"direction"`
	Index     int       `json:"index"`
}

func (r RuleRef) String() string {
	if r.Direction == Ingress {
		return fmt.Sprintf("%s spec.ingress[%d]", r.Policy, r.Index)
	}
	return fmt.Sprintf("%s spec.egress[%d]", r.Policy, r.Index)
}

// Issue is a part of a policy the API server would have rejected.
type Issue struct {
	Policy Ref    `json:"policy"`
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (i Issue) Error() string {
	return fmt.Sprintf("NetworkPolicy %s: %s: %s (ignored)", i.Policy, i.Field, i.Detail)
}

// Unwrap makes errors.Is(issue, ErrInvalidPolicy) true.
func (i Issue) Unwrap() error { return ErrInvalidPolicy }

// Options tune an Engine. The zero value is usable.
type Options struct {
	// WorkloadName names the workload a pod belongs to, for reports.
	// Default: "namespace/pod-name".
	WorkloadName func(pod *corev1.Pod) string
	// Logger receives warnings about invalid policies. Default: discard.
	Logger *slog.Logger
}

// Peer is one end of a connection. Pod nil means an address outside the pod
// network (or a node). For a pod, IP selects which of its addresses is used
// for ipBlock matching; when unset, every address of the pod counts (a pod is
// in an ipBlock if any of its IPs is). A pod passed to New is recognized by
// namespace and name and evaluated as it was then; any other pod is
// evaluated from its own labels and ports.
type Peer struct {
	Pod *corev1.Pod
	IP  netip.Addr
}

// PortRef is a destination port, by number or by name (resolved on the
// destination pod's container ports). Exactly one is set; when neither is
// (a flow without a port), only rules allowing every port of the protocol
// match.
type PortRef struct {
	Port int32
	Name string
}

// DirVerdict is the verdict of one side: the source's egress or the
// destination's ingress.
type DirVerdict struct {
	Allowed bool `json:"allowed"`
	// Isolated is set when some policy selects the pod for this direction.
	Isolated bool `json:"isolated"`
	// Policies lists the policies that allowed the connection; when
	// isolated and denied, the policies that select the pod. Do not modify.
	Policies []Ref `json:"policies,omitempty"`
	// Rules lists the rules that allowed the connection.
	Rules []RuleRef `json:"rules,omitempty"`
}

// Verdict is the answer to CanConnect: allowed when the source's egress and
// the destination's ingress both allow.
type Verdict struct {
	Allowed bool       `json:"allowed"`
	Egress  DirVerdict `json:"egress"`
	Ingress DirVerdict `json:"ingress"`
	// Self is set for a pod connecting to itself, which is always allowed.
	Self bool `json:"self,omitempty"`
}

// Engine answers NetworkPolicy questions about one snapshot of a cluster. It
// is immutable after New and safe for concurrent use. It keeps pointers into
// the slices passed to New: do not modify them afterwards.
type Engine struct {
	log      *slog.Logger
	workload func(*corev1.Pod) string

	namespaces []namespace
	nsIndex    map[string]int32

	policies []policy
	rules    []rule
	blocks   []*ipBlock
	issues   []Issue

	// labelKeys are the label keys any pod selector looks at; class keys
	// keep only these.
	labelKeys map[string]struct{}

	pods     []podInfo
	podIndex map[podKey]int32
	// podPtr finds pods passed to New by address, cheaper than podIndex.
	podPtr map[*corev1.Pod]int32

	classes  []class
	classKey map[string]int32
	// portNames are the port names any rule uses; portSigs keep only these.
	portNames  map[string]struct{}
	portSigs   []portSig
	portSigKey map[string]int32
	ipSigs     []bitset // membership over blocks, by ipSig id
	ipSigKey   map[string]int32

	ports *portTable
}

type podKey struct{ ns, name string }

type podInfo struct {
	pod      *corev1.Pod
	class    int32 // -1 for hostNetwork pods
	ns       int32
	ips      []netip.Addr
	active   bool
	workload string
}

type namespace struct {
	name      string
	labels    map[string]string
	classes   []int32
	policies  []int32
	hasPolicy bool
}

// New builds an engine. It never fails: parts of policies the API server
// would reject are ignored and listed by Issues.
func New(namespaces []corev1.Namespace, pods []corev1.Pod, policies []networkingv1.NetworkPolicy, opts Options) *Engine {
	e := &Engine{
		log:        opts.Logger,
		workload:   opts.WorkloadName,
		nsIndex:    map[string]int32{},
		labelKeys:  map[string]struct{}{},
		podIndex:   map[podKey]int32{},
		podPtr:     map[*corev1.Pod]int32{},
		classKey:   map[string]int32{},
		portNames:  map[string]struct{}{},
		portSigKey: map[string]int32{},
		ipSigKey:   map[string]int32{},
		ports:      newPortTable(),
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.workload == nil {
		e.workload = func(p *corev1.Pod) string { return podNamespace(p) + "/" + p.Name }
	}
	for i := range namespaces {
		e.addNamespace(namespaces[i].Name, namespaces[i].Labels)
	}
	b := newBuilder(e)
	for i := range policies {
		b.compilePolicy(&policies[i])
	}
	b.buildPods(pods)
	b.resolve()
	for _, is := range e.issues {
		e.log.Warn("ignoring invalid part of NetworkPolicy", "policy", is.Policy.String(), "field", is.Field, "detail", is.Detail)
	}
	return e
}

// Issues returns the invalid parts of policies the engine ignored.
func (e *Engine) Issues() []Issue { return e.issues }

func podNamespace(p *corev1.Pod) string {
	if p.Namespace == "" {
		return metadataDefaultNamespace
	}
	return p.Namespace
}

// metadataDefaultNamespace is the namespace of objects that name none, as
// kubectl applies them.
const metadataDefaultNamespace = "default"

// labelMetadataName is set by the API server on every namespace
// (kube-apiserver NamespaceDefaultLabelName, GA in 1.22).
const labelMetadataName = "kubernetes.io/metadata.name"

func (e *Engine) addNamespace(name string, labels map[string]string) int32 {
	if i, ok := e.nsIndex[name]; ok {
		return i
	}
	l := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		l[k] = v
	}
	l[labelMetadataName] = name
	i := int32(len(e.namespaces))
	e.namespaces = append(e.namespaces, namespace{name: name, labels: l})
	e.nsIndex[name] = i
	return i
}
