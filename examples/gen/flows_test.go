package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubedelta/kubedelta/internal/netpol"
)

type testEndpoint struct {
	ID        int      `json:"ID"`
	Identity  int      `json:"identity"`
	Namespace string   `json:"namespace"`
	Labels    []string `json:"labels"`
	PodName   string   `json:"pod_name"`
	Workloads []struct {
		Name, Kind string
	} `json:"workloads"`
}

type testFlow struct {
	Flow struct {
		Time    time.Time `json:"time"`
		UUID    string    `json:"uuid"`
		Verdict string    `json:"verdict"`
		IP      struct {
			Source, Destination string
		} `json:"IP"`
		L4 struct {
			TCP, UDP *struct {
				SourcePort      int `json:"source_port"`
				DestinationPort int `json:"destination_port"`
			}
		} `json:"l4"`
		Source             testEndpoint `json:"source"`
		Destination        testEndpoint `json:"destination"`
		NodeName           string       `json:"node_name"`
		DestinationService *struct {
			Name, Namespace string
		} `json:"destination_service"`
		DropReasonDesc   string    `json:"drop_reason_desc"`
		IsReply          *bool     `json:"is_reply"`
		EgressAllowedBy  []hPolicy `json:"egress_allowed_by"`
		IngressAllowedBy []hPolicy `json:"ingress_allowed_by"`
	} `json:"flow"`
	NodeName string    `json:"node_name"`
	Time     time.Time `json:"time"`
	keys     []string  // of "flow", in order
}

func readFlows(t *testing.T) []testFlow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir, "flows.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []testFlow
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var f testFlow
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("flows.jsonl line %d: %v", n, err)
		}
		top, err := topKeys(sc.Bytes())
		if err != nil || !slices.Equal(top, []string{"flow", "node_name", "time"}) {
			t.Fatalf("flows.jsonl line %d: top-level fields %v (%v), want flow, node_name, time", n, top, err)
		}
		var inner struct{ Flow json.RawMessage }
		if err := json.Unmarshal(sc.Bytes(), &inner); err != nil {
			t.Fatal(err)
		}
		if f.keys, err = topKeys(inner.Flow); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// The Flow fields the example uses, in flow.proto declaration order
// (cilium/cilium api/v1/flow/flow.proto), which protojson follows.
var flowFieldOrder = []string{"time", "uuid", "verdict", "drop_reason", "ethernet", "IP", "l4", "source", "destination",
	"Type", "node_name", "destination_names", "reply", "event_type", "destination_service", "traffic_direction",
	"policy_match_type", "trace_observation_point", "trace_reason", "drop_reason_desc", "is_reply", "interface",
	"Summary", "egress_allowed_by", "ingress_allowed_by"}

func TestFlowsMatchCluster(t *testing.T) {
	inv := loadCluster(t)
	type podInfo struct{ ip, node, sa, owner string }
	pods := map[string]podInfo{}
	podIPs := map[string]bool{}
	for _, p := range inv.Pods {
		owner := ""
		if len(p.OwnerReferences) > 0 {
			owner = p.OwnerReferences[0].Name
		}
		pods[p.Namespace+"/"+p.Name] = podInfo{p.Status.PodIP, p.Spec.NodeName, p.Spec.ServiceAccountName, owner}
		if !p.Spec.HostNetwork {
			podIPs[p.Status.PodIP] = true
		}
	}
	nodes := map[string]bool{}
	for _, n := range inv.Nodes {
		nodes[n.Name] = true
	}
	policies := map[string]string{}
	for _, p := range inv.NetworkPolicies {
		policies[p.Namespace+"/"+p.Name] = string(p.UID)
	}
	services := map[string]bool{}
	for _, s := range inv.Services {
		services[s.Namespace+"/"+s.Name] = true
	}
	uuids := map[string]bool{}
	flows := readFlows(t)
	for i, f := range flows {
		fl := f.Flow
		if !slices.IsSortedFunc(f.keys, func(a, b string) int { return slices.Index(flowFieldOrder, a) - slices.Index(flowFieldOrder, b) }) {
			t.Fatalf("flow %s: fields %v are not in flow.proto order", fl.UUID, f.keys)
		}
		if !fl.Time.Equal(f.Time) || fl.NodeName != f.NodeName || !nodes[f.NodeName] {
			t.Errorf("flow %s: time %v/%v, node %q/%q", fl.UUID, fl.Time, f.Time, fl.NodeName, f.NodeName)
		}
		if f.Time.Before(dayStart) || !f.Time.Before(dayEnd) || (i > 0 && f.Time.Before(flows[i-1].Time)) {
			t.Errorf("flow %s at %v: outside the day or out of order", fl.UUID, f.Time)
		}
		if uuids[fl.UUID] || fl.IsReply == nil {
			t.Errorf("flow %s: repeated uuid or no is_reply", fl.UUID)
		}
		uuids[fl.UUID] = true
		for _, side := range []struct {
			ep testEndpoint
			ip string
		}{{fl.Source, fl.IP.Source}, {fl.Destination, fl.IP.Destination}} {
			ep := side.ep
			if ep.PodName == "" {
				if podIPs[side.ip] || ep.Identity > 255 {
					t.Errorf("flow %s: %s is a pod address but the endpoint names no pod (identity %d)", fl.UUID, side.ip, ep.Identity)
				}
				continue
			}
			p, ok := pods[ep.Namespace+"/"+ep.PodName]
			switch {
			case !ok:
				t.Errorf("flow %s: pod %s/%s is not in the cluster", fl.UUID, ep.Namespace, ep.PodName)
			case p.ip != side.ip:
				t.Errorf("flow %s: pod %s/%s has %s, the flow says %s", fl.UUID, ep.Namespace, ep.PodName, p.ip, side.ip)
			case (ep.ID != 0) != (p.node == f.NodeName):
				t.Errorf("flow %s: endpoint ID %d of %s seen from %s (pod on %s)", fl.UUID, ep.ID, ep.PodName, f.NodeName, p.node)
			case !slices.Contains(ep.Labels, "k8s:io.kubernetes.pod.namespace="+ep.Namespace),
				!slices.Contains(ep.Labels, "k8s:io.cilium.k8s.policy.serviceaccount="+p.sa):
				t.Errorf("flow %s: labels %v do not match pod %s/%s", fl.UUID, ep.Labels, ep.Namespace, ep.PodName)
			case len(ep.Workloads) != 1 || !strings.HasPrefix(p.owner, ep.Workloads[0].Name):
				t.Errorf("flow %s: workloads %v, pod owned by %s", fl.UUID, ep.Workloads, p.owner)
			}
		}
		if s := fl.DestinationService; s != nil && !services[s.Namespace+"/"+s.Name] {
			t.Errorf("flow %s: service %s/%s is not in the cluster", fl.UUID, s.Namespace, s.Name)
		}
		for _, p := range append(slices.Clone(fl.EgressAllowedBy), fl.IngressAllowedBy...) {
			if uid := policies[p.Namespace+"/"+p.Name]; uid == "" || !slices.Contains(p.Labels, "k8s:io.cilium.k8s.policy.uid="+uid) {
				t.Errorf("flow %s: policy %s/%s (labels %v) is not in the cluster", fl.UUID, p.Namespace, p.Name, p.Labels)
			}
		}
	}
}

// The network half of examples/README.md.
func TestFlowStory(t *testing.T) {
	app := func(ep testEndpoint) string {
		for _, l := range ep.Labels {
			if a, ok := strings.CutPrefix(l, "k8s:app="); ok {
				return ep.Namespace + "/" + a
			}
		}
		return ep.Namespace
	}
	var drops, attacker int
	admitted := map[string]map[string]bool{} // policy → source apps
	for _, f := range readFlows(t) {
		fl := f.Flow
		if fl.Verdict == "DROPPED" {
			drops++
			if app(fl.Source) != "shop/web" || app(fl.Destination) != "data/redis" || fl.L4.TCP == nil ||
				fl.L4.TCP.DestinationPort != 6379 || fl.DropReasonDesc != "POLICY_DENIED" {
				t.Errorf("unexpected drop %s: %s -> %s %+v %s", fl.UUID, app(fl.Source), app(fl.Destination), fl.L4, fl.DropReasonDesc)
			}
		}
		if fl.IP.Destination == attackerIP && !*fl.IsReply {
			attacker++
			if app(fl.Source) != "shop/cart" || f.Time.Hour() != 14 {
				t.Errorf("connection to the attacker from %s at %v", app(fl.Source), f.Time)
			}
		}
		for _, p := range fl.IngressAllowedBy {
			if admitted[p.Name] == nil {
				admitted[p.Name] = map[string]bool{}
			}
			admitted[p.Name][app(fl.Source)] = true
		}
	}
	if drops != 30 {
		t.Errorf("%d drop records, want 30 (3 attempts of 5 SYNs, each a policy verdict and a drop)", drops)
	}
	if attacker != 2 {
		t.Errorf("%d connections to %s, want 2 (the reverse shell and the upload)", attacker, attackerIP)
	}
	for pol, want := range map[string][]string{
		"allow-shop-to-postgres":  {"shop/payments"},
		"allow-cart-to-redis":     {"shop/cart"},
		"allow-prometheus-scrape": {"monitoring/prometheus"},
	} {
		var got []string
		for a := range admitted[pol] {
			got = append(got, a)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s admitted %v, want %v", pol, got, want)
		}
	}
}

// Every connection opening in the flows gets the verdict kubedelta's
// NetworkPolicy engine gives it for the dumped cluster, and the policies
// Hubble names for an allowed connection are among those the engine says
// allowed it. (Cilium enforces networking.k8s.io/v1 NetworkPolicy with the
// semantics internal/netpol implements.)
func TestFlowVerdictsMatchPolicies(t *testing.T) {
	inv := loadCluster(t)
	eng := netpol.New(inv.Namespaces, inv.Pods, inv.NetworkPolicies, netpol.Options{})
	pods := map[string]*corev1.Pod{}
	for i := range inv.Pods {
		pods[inv.Pods[i].Namespace+"/"+inv.Pods[i].Name] = &inv.Pods[i]
	}
	peer := func(ep testEndpoint, ip string) netpol.Peer {
		addr := netip.MustParseAddr(ip)
		if ep.PodName == "" {
			return netpol.Peer{IP: addr}
		}
		return netpol.Peer{Pod: pods[ep.Namespace+"/"+ep.PodName], IP: addr}
	}
	names := func(refs []netpol.Ref) []string {
		var out []string
		for _, r := range refs {
			out = append(out, r.String())
		}
		return out
	}
	var checked int
	for _, f := range readFlows(t) {
		fl := f.Flow
		if *fl.IsReply {
			continue
		}
		proto, ports := corev1.ProtocolTCP, fl.L4.TCP
		if ports == nil {
			proto, ports = corev1.ProtocolUDP, fl.L4.UDP
		}
		v := eng.CanConnect(peer(fl.Source, fl.IP.Source), peer(fl.Destination, fl.IP.Destination),
			netpol.PortRef{Port: int32(ports.DestinationPort)}, proto)
		if v.Allowed != (fl.Verdict == "FORWARDED") {
			t.Errorf("flow %s %s:%d -> %s:%d/%s is %s, the engine says allowed=%v (egress %v, ingress %v)", fl.UUID,
				fl.IP.Source, ports.SourcePort, fl.IP.Destination, ports.DestinationPort, proto, fl.Verdict, v.Allowed, v.Egress, v.Ingress)
		}
		for _, p := range fl.IngressAllowedBy {
			if !slices.Contains(names(v.Ingress.Policies), p.Namespace+"/"+p.Name) {
				t.Errorf("flow %s: Hubble names %s/%s, the engine %v", fl.UUID, p.Namespace, p.Name, v.Ingress.Policies)
			}
		}
		for _, p := range fl.EgressAllowedBy {
			if !slices.Contains(names(v.Egress.Policies), p.Namespace+"/"+p.Name) {
				t.Errorf("flow %s: Hubble names %s/%s, the engine %v", fl.UUID, p.Namespace, p.Name, v.Egress.Policies)
			}
		}
		checked++
	}
	if checked < 300 {
		t.Errorf("checked %d connection openings, want hundreds", checked)
	}
}
