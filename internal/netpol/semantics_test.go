package netpol

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// world resolves peer names in checks: "ns/pod" for a pod, "ip:ADDR" for an
// address outside the pod network.
type world struct {
	nss  []corev1.Namespace
	pods []corev1.Pod
}

func (w *world) peer(t *testing.T, s string) Peer {
	t.Helper()
	if a, ok := strings.CutPrefix(s, "ip:"); ok {
		return Peer{IP: netip.MustParseAddr(a)}
	}
	ns, name, _ := strings.Cut(s, "/")
	for i := range w.pods {
		if w.pods[i].Namespace == ns && w.pods[i].Name == name {
			return Peer{Pod: &w.pods[i]}
		}
	}
	t.Fatalf("no pod %q", s)
	return Peer{}
}

// parseCheck parses "FROM -> TO PORT/PROTO allow|deny"; PORT is a number
// or a name.
func parseCheck(t *testing.T, w *world, s string) (Peer, Peer, PortRef, corev1.Protocol, bool) {
	t.Helper()
	f := strings.Fields(s)
	if len(f) != 5 || f[1] != "->" || (f[4] != "allow" && f[4] != "deny") {
		t.Fatalf("bad check %q", s)
	}
	port, proto, _ := strings.Cut(f[3], "/")
	var ref PortRef
	if n, err := strconv.Atoi(port); err == nil {
		ref.Port = int32(n)
	} else {
		ref.Name = port
	}
	return w.peer(t, f[0]), w.peer(t, f[2]), ref, corev1.Protocol(proto), f[4] == "allow"
}

type semCase struct {
	name string
	// cite names the upstream definition the case mirrors.
	cite     string
	policies string
	extra    []corev1.Pod
	checks   []string
}

// The corners of networking.k8s.io/v1 NetworkPolicy, each citing its
// upstream source. Unless stated, the world is the upstream e2e one
// (xyzWorld): x, y, z × a, b, c, pod IPs 10.0.<ns>.<pod>.
var semCases = []semCase{
	{
		name: "policyTypes absent, no egress rules: ingress only",
		cite: "k8s.io/kubernetes pkg/apis/networking/v1 defaults.go SetDefaults_NetworkPolicy",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"x/b -> x/a 80/TCP allow", "x/c -> x/a 80/TCP deny", "x/a -> x/c 80/TCP allow", "x/a -> ip:8.8.8.8 53/UDP allow"},
	},
	{
		name: "policyTypes absent, egress rules present: ingress and egress",
		cite: "k8s.io/kubernetes pkg/apis/networking/v1 defaults.go SetDefaults_NetworkPolicy",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"x/a -> x/b 80/TCP allow", "x/a -> x/c 80/TCP deny", "x/b -> x/a 80/TCP deny", "y/a -> x/a 81/UDP deny"},
	},
	{
		name: "egress: [] without policyTypes does not isolate egress",
		cite: "k8s.io/kubernetes pkg/apis/networking/v1 defaults.go (len(Spec.Egress) != 0)",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {}
  egress: []`,
		checks: []string{"x/a -> y/a 80/TCP allow", "y/a -> x/a 80/TCP deny"},
	},
	{
		name: "policyTypes [Egress] ignores ingress rules and leaves ingress open",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicySpec.PolicyTypes",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"y/a -> x/a 80/TCP allow", "x/a -> y/a 80/TCP deny", "x/a -> x/b 80/TCP deny"},
	},
	{
		name: "a connection needs the source's egress and the destination's ingress",
		cite: "kubernetes e2e network_policy.go 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)'",
		policies: `
metadata: {namespace: x, name: egress-to-y-a}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}]}]
---
metadata: {namespace: "y", name: ingress-from-x-a}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]}]`,
		checks: []string{"x/a -> y/a 80/TCP allow", "x/a -> y/b 80/TCP deny", "x/b -> y/a 80/TCP deny", "z/a -> y/a 80/TCP deny", "x/b -> x/c 80/TCP allow"},
	},
	{
		name: "empty podSelector selects every pod of the policy's namespace only",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicySpec.PodSelector; e2e 'should support a default-deny-ingress policy'",
		policies: `
metadata: {namespace: x, name: deny}
spec: {podSelector: {}}`,
		checks: []string{"y/a -> x/a 80/TCP deny", "x/b -> x/c 80/TCP deny", "x/a -> y/b 80/TCP allow", "z/a -> y/b 80/TCP allow"},
	},
	{
		name: "ingress [{}] allows everything, also from outside the cluster",
		cite: "kubernetes e2e network_policy.go 'should support allow-all policy'",
		policies: `
metadata: {namespace: x, name: allow-all}
spec:
  podSelector: {}
  ingress: [{}]`,
		checks: []string{"y/a -> x/a 80/TCP allow", "z/c -> x/b 81/SCTP allow", "ip:203.0.113.9 -> x/a 12345/UDP allow", "ip:203.0.113.9 -> x/a 0/ICMP allow"},
	},
	{
		name: "ingress [] allows nothing",
		cite: "kubernetes e2e network_policy.go 'should enforce updated policy' (Spec.Ingress = [])",
		policies: `
metadata: {namespace: x, name: deny}
spec:
  podSelector: {}
  ingress: []`,
		checks: []string{"y/a -> x/a 81/TCP deny", "ip:203.0.113.9 -> x/a 81/TCP deny"},
	},
	{
		name: "a rule without from matches every source, without ports every port",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicyIngressRule.From/Ports",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {pod: c}}}]`,
		checks: []string{"z/b -> x/a 80/TCP allow", "ip:1.2.3.4 -> x/a 80/TCP allow", "z/b -> x/a 81/TCP deny", "x/c -> x/a 81/UDP allow", "x/c -> x/a 81/SCTP allow"},
	},
	{
		name: "namespaceSelector and podSelector in one peer are ANDed",
		cite: "kubernetes e2e network_policy.go 'should enforce policy based on PodSelector and NamespaceSelector'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}, podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"y/b -> x/a 80/TCP allow", "z/b -> x/a 80/TCP allow", "x/b -> x/a 80/TCP deny", "y/a -> x/a 80/TCP deny"},
	},
	{
		name: "namespaceSelector and podSelector in separate peers are ORed",
		cite: "kubernetes e2e network_policy.go 'should enforce policy based on PodSelector or NamespaceSelector'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}, {podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"y/a -> x/a 80/TCP allow", "z/c -> x/a 80/TCP allow", "x/b -> x/a 80/TCP allow", "x/c -> x/a 80/TCP deny"},
	},
	{
		name: "podSelector alone means the policy's own namespace",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicyPeer.PodSelector",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`,
		checks: []string{"x/b -> x/a 80/TCP allow", "y/b -> x/a 80/TCP deny", "z/b -> x/a 80/TCP deny"},
	},
	{
		name: "namespaceSelector {} means every namespace, even unlabelled and unlisted ones",
		cite: "kubernetes e2e network_policy.go 'should enforce policy to allow ingress traffic from pods in all namespaces'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {}}]}]`,
		extra:  []corev1.Pod{mkPod("unlisted", "u", "10.0.9.1", nil)},
		checks: []string{"y/a -> x/a 80/TCP allow", "unlisted/u -> x/a 80/TCP allow", "ip:10.0.9.200 -> x/a 80/TCP deny"},
	},
	{
		name: "namespaces carry kubernetes.io/metadata.name",
		cite: "kubernetes e2e network_policy.go 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "y"}}}]}]`,
		checks: []string{"y/c -> x/a 80/TCP allow", "z/c -> x/a 80/TCP deny", "x/b -> x/a 80/TCP deny"},
	},
	{
		name: "ipBlock except; an excepted address is still allowed by another rule or policy",
		cite: "kubernetes e2e network_policy.go 'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed'",
		policies: `
metadata: {namespace: x, name: cidr-except}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24, 192.168.2.0/24]}}]}]
---
metadata: {namespace: x, name: exact}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 192.168.1.7/32}}], ports: [{port: 443}]}]`,
		checks: []string{"x/a -> ip:192.168.3.1 80/TCP allow", "x/a -> ip:192.168.1.1 80/TCP deny", "x/a -> ip:192.168.2.1 443/TCP deny",
			"x/a -> ip:192.168.1.7 443/TCP allow", "x/a -> ip:192.168.1.7 80/TCP deny", "x/a -> ip:10.1.1.1 80/TCP deny"},
	},
	{
		name: "ipBlock matches pod addresses too",
		cite: "kubernetes e2e network_policy.go 'should allow egress access to server in CIDR block' and 'should enforce except clause while egress access to server in CIDR block'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.2.1/32]}}]}]`,
		checks: []string{"x/a -> y/b 80/TCP allow", "x/a -> y/a 80/TCP deny", "x/a -> x/c 80/TCP allow", "x/a -> ip:10.0.2.1 80/TCP deny"},
	},
	{
		name: "named ports resolve on the destination pod and its protocol",
		cite: "kubernetes e2e network_policy.go 'should allow ingress access on one named port'; k8s.io/api networking/v1 types.go NetworkPolicyPort.Port",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-81-tcp}, {port: serve-80-udp, protocol: TCP}, {port: no-such-port}]}]`,
		checks: []string{"y/a -> x/a 81/TCP allow", "y/a -> x/a serve-81-tcp/TCP allow", "y/a -> x/a 80/TCP deny", "y/a -> x/a 80/UDP deny",
			"y/a -> x/a 81/UDP deny", "y/a -> x/a serve-80-udp/UDP deny", "y/a -> x/a no-such-port/TCP deny"},
	},
	{
		name: "named ports in egress rules resolve on the destination pod",
		cite: "kubernetes e2e network_policy.go 'should allow egress access on one named port'",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {matchLabels: {app: client}}
  egress: [{ports: [{port: http}]}]`,
		extra: []corev1.Pod{
			mkPod("x", "client", "10.0.1.50", kv("app=client"), "http:9999/TCP"),
			mkPod("y", "srv8080", "10.0.2.50", nil, "http:8080/TCP"),
			mkPod("y", "srv9090", "10.0.2.51", nil, "http:9090/TCP"),
		},
		checks: []string{"x/client -> y/srv8080 8080/TCP allow", "x/client -> y/srv8080 9090/TCP deny", "x/client -> y/srv9090 9090/TCP allow",
			"x/client -> y/srv9090 9999/TCP deny", "x/client -> y/srv9090 http/TCP allow", "x/client -> ip:1.1.1.1 8080/TCP deny", "x/client -> ip:1.1.1.1 http/TCP deny"},
	},
	{
		name: "endPort is inclusive; protocol defaults to TCP",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicyPort.EndPort (KEP-2079)",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 8000, endPort: 8080}, {port: 53, protocol: UDP}]}]`,
		checks: []string{"y/a -> x/a 8000/TCP allow", "y/a -> x/a 8080/TCP allow", "y/a -> x/a 8081/TCP deny", "y/a -> x/a 7999/TCP deny",
			"y/a -> x/a 8000/UDP deny", "y/a -> x/a 53/UDP allow", "y/a -> x/a 53/TCP deny", "y/a -> x/a 0/TCP deny"},
	},
	{
		name: "SCTP is not TCP",
		cite: "kubernetes e2e network_policy.go 'should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP'",
		policies: `
metadata: {namespace: x, name: deny}
spec: {podSelector: {}}
---
metadata: {namespace: x, name: sctp}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 81, protocol: SCTP}]}]`,
		checks: []string{"y/a -> x/a 81/TCP deny", "y/a -> x/a 81/SCTP allow", "y/a -> x/b 81/SCTP deny"},
	},
	{
		name: "host-network pods are not selected and are matched as node addresses",
		cite: "k8s.io/api networking/v1 types.go (policies select pods; host-network pods are the node's network namespace)",
		policies: `
metadata: {namespace: x, name: deny-a}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 172.16.0.0/16}}], ports: [{port: 80}]}]`,
		extra:  []corev1.Pod{hostPod("x", "h", "172.16.0.10", kv("pod=a"))},
		checks: []string{"x/h -> y/a 80/TCP allow", "y/a -> x/h 80/TCP allow", "x/h -> x/a 80/TCP allow", "x/h -> x/a 81/TCP deny", "x/b -> x/a 80/TCP allow", "x/a -> x/h 80/TCP deny"},
	},
	{
		name: "a pod may always connect to itself",
		cite: "kubernetes e2e network_policy.go ignoreLoopback (issue kubernetes#95879); we choose allowed",
		policies: `
metadata: {namespace: x, name: deny}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]`,
		checks: []string{"x/a -> x/a 80/TCP allow", "x/a -> x/b 80/TCP deny"},
	},
	{
		name: "traffic with addresses outside pods is governed by the pod's side only",
		cite: "k8s.io/api networking/v1 types.go NetworkPolicyPeer.IPBlock",
		policies: `
metadata: {namespace: x, name: p}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{ipBlock: {cidr: 203.0.113.0/24}}]}]
  egress: [{ports: [{port: 443}]}]`,
		checks: []string{"ip:203.0.113.5 -> x/a 80/TCP allow", "ip:198.51.100.5 -> x/a 80/TCP deny", "x/a -> ip:198.51.100.5 443/TCP allow",
			"x/a -> ip:198.51.100.5 80/TCP deny", "ip:198.51.100.5 -> ip:203.0.113.5 80/TCP allow", "y/a -> x/a 80/TCP deny"},
	},
}

func hostPod(ns, name, ip string, labels map[string]string) corev1.Pod {
	p := mkPod(ns, name, ip, labels)
	p.Spec.HostNetwork = true
	return p
}

func TestSemantics(t *testing.T) {
	for _, tc := range semCases {
		t.Run(tc.name, func(t *testing.T) {
			nss, pods := xyzWorld()
			pods = append(pods, tc.extra...)
			w := &world{nss: nss, pods: pods}
			pols := mustPolicies(t, tc.policies)
			e := New(nss, pods, pols, Options{})
			if len(e.Issues()) > 0 {
				t.Fatalf("unexpected issues: %v", e.Issues())
			}
			for _, c := range tc.checks {
				from, to, port, proto, want := parseCheck(t, w, c)
				if got := e.CanConnect(from, to, port, proto); got.Allowed != want {
					t.Errorf("%s: got %+v (mirrors %s)", c, got, tc.cite)
				}
				// A pod the engine was not given evaluates the same.
				if from.Pod != nil && to.Pod != nil && from.Pod != to.Pod {
					cp := from.Pod.DeepCopy()
					cp.Name += "-copy"
					if got := e.CanConnect(Peer{Pod: cp}, to, port, proto); got.Allowed != want {
						t.Errorf("%s (unknown source pod): got %+v", c, got)
					}
				}
			}
		})
	}
}

func TestVerdictExplains(t *testing.T) {
	nss, pods := xyzWorld()
	w := &world{nss: nss, pods: pods}
	pols := mustPolicies(t, `
metadata: {namespace: x, name: deny}
spec: {podSelector: {}}
---
metadata: {namespace: x, name: allow-b}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}, {from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]
---
metadata: {namespace: "y", name: egress}
spec:
  podSelector: {}
  egress: [{to: [{namespaceSelector: {}}]}]`)
	e := New(nss, pods, pols, Options{})
	v := e.CanConnect(w.peer(t, "x/b"), w.peer(t, "x/a"), PortRef{Port: 80}, "")
	if !v.Allowed || v.Egress.Isolated || !v.Ingress.Isolated || !slices.Equal(v.Ingress.Policies, refs("x/allow-b")) ||
		!slices.Equal(v.Ingress.Rules, []RuleRef{{Policy: Ref{"x", "allow-b"}, Direction: Ingress, Index: 1}}) {
		t.Errorf("x/b -> x/a 80: %+v", v)
	}
	v = e.CanConnect(w.peer(t, "x/b"), w.peer(t, "x/a"), PortRef{Port: 81}, "")
	if v.Allowed || !slices.Equal(v.Ingress.Policies, refs("x/deny", "x/allow-b")) || len(v.Ingress.Rules) != 0 {
		t.Errorf("x/b -> x/a 81: denied verdict should list the selecting policies: %+v", v)
	}
	v = e.CanConnect(w.peer(t, "y/a"), w.peer(t, "x/c"), PortRef{Port: 81}, "")
	if v.Allowed || !v.Egress.Allowed || !v.Egress.Isolated || !slices.Equal(v.Egress.Policies, refs("y/egress")) || !slices.Equal(v.Ingress.Policies, refs("x/deny")) {
		t.Errorf("y/a -> x/c: %+v", v)
	}
	v = e.CanConnect(w.peer(t, "x/a"), w.peer(t, "x/a"), PortRef{Port: 81}, "")
	if !v.Allowed || !v.Self {
		t.Errorf("self: %+v", v)
	}
}

func TestIssues(t *testing.T) {
	nss, pods := xyzWorld()
	w := &world{nss: nss, pods: pods}
	pols := mustPolicies(t, `
metadata: {namespace: x, name: bad}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0/8}}]
  - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]
  - ports: [{port: http, endPort: 90}]
  - ports: [{port: 90, endPort: 80}, {port: 80, protocol: ICMP}]
  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In}]}}]
  - from: [{}]
  policyTypes: [Ingress, Sideways]`)
	e := New(nss, pods, pols, Options{})
	want := []string{
		"spec.ingress[0].from[0].ipBlock", "spec.ingress[1].from[0]", "spec.ingress[2].ports[0].endPort",
		"spec.ingress[3].ports[0]", "spec.ingress[3].ports[1].protocol", "spec.ingress[4].from[0].podSelector",
		"spec.ingress[5].from[0]", "spec.policyTypes[1]",
	}
	var got []string
	for _, is := range e.Issues() {
		got = append(got, is.Field)
		if !errors.Is(is, ErrInvalidPolicy) || !strings.Contains(is.Error(), "x/bad") {
			t.Errorf("issue %v: want ErrInvalidPolicy naming the policy", is)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("issue fields:\n got %q\nwant %q", got, want)
	}
	// Invalid parts allow nothing, but the policy still isolates x/a; the
	// rules without from (ingress[2], ingress[3]) lost all their ports.
	for _, c := range []string{"y/a -> x/a 80/TCP deny", "x/b -> x/a 90/TCP deny", "x/b -> x/c 80/TCP allow"} {
		from, to, port, proto, wantOK := parseCheck(t, w, c)
		if got := e.Allowed(from, to, port, proto); got != wantOK {
			t.Errorf("%s: got %v", c, got)
		}
	}
}

// TestSidecarPortsAndDualStack: named ports of restartable init containers
// count (k8s.io/kubernetes pkg/api/v1/pod FindPort), plain init containers'
// do not; a dual-stack pod is in an ipBlock through either address unless
// the connection's address is given.
func TestSidecarPortsAndDualStack(t *testing.T) {
	nss, pods := xyzWorld()
	always := corev1.ContainerRestartPolicyAlways
	srv := mkPod("y", "srv", "10.0.2.50", kv("app=srv"))
	srv.Status.PodIPs = []corev1.PodIP{{IP: "10.0.2.50"}, {IP: "fd00::50"}}
	srv.Spec.InitContainers = []corev1.Container{
		{Name: "sidecar", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}},
		{Name: "init", Ports: []corev1.ContainerPort{{Name: "setup", ContainerPort: 7070}}},
	}
	pods = append(pods, srv)
	pols := mustPolicies(t, `
metadata: {namespace: "y", name: srv}
spec:
  podSelector: {matchLabels: {app: srv}}
  ingress: [{ports: [{port: metrics}, {port: setup}]}]
---
metadata: {namespace: x, name: v6-only}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: "fd00::/64"}}]}]`)
	e := New(nss, pods, pols, Options{})
	src, dst := Peer{Pod: &pods[1]}, Peer{Pod: &pods[len(pods)-1]}
	for _, c := range []struct {
		port PortRef
		want bool
	}{{PortRef{Port: 9090}, true}, {PortRef{Name: "metrics"}, true}, {PortRef{Port: 7070}, false}, {PortRef{Name: "setup"}, false}} {
		if got := e.Allowed(src, dst, c.port, corev1.ProtocolTCP); got != c.want {
			t.Errorf("x/b -> y/srv %+v: got %v, want %v", c.port, got, c.want)
		}
	}
	xa := Peer{Pod: &pods[0]}
	v6 := Peer{Pod: dst.Pod, IP: netip.MustParseAddr("fd00::50")}
	v4 := Peer{Pod: dst.Pod, IP: netip.MustParseAddr("10.0.2.50")}
	if !e.Allowed(xa, v6, PortRef{Port: 9090}, "") || e.Allowed(xa, v4, PortRef{Port: 9090}, "") || !e.Allowed(xa, dst, PortRef{Port: 9090}, "") {
		t.Errorf("dual stack: x/a may reach y/srv over IPv6 only (and 'some address' when none is given)")
	}
}
