package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Hubble flows as `hubble observe -o json` prints them: one
// observer.GetFlowsResponse per line, {"flow":{...},"node_name":...,"time":...},
// marshalled by protojson, so fields come in flow.proto declaration order and
// zero values are left out.

type hEthernet struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

type hIP struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	IPVersion   string `json:"ipVersion"`
}

type hTCPFlags struct {
	SYN bool `json:"SYN,omitempty"`
	ACK bool `json:"ACK,omitempty"`
}

type hPorts struct {
	SourcePort      int        `json:"source_port"`
	DestinationPort int        `json:"destination_port"`
	Flags           *hTCPFlags `json:"flags,omitempty"`
}

type hL4 struct {
	TCP *hPorts `json:"TCP,omitempty"`
	UDP *hPorts `json:"UDP,omitempty"`
}

type hWorkload struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type hEndpoint struct {
	ID          int         `json:"ID,omitempty"`
	Identity    int         `json:"identity"`
	ClusterName string      `json:"cluster_name,omitempty"`
	Namespace   string      `json:"namespace,omitempty"`
	Labels      []string    `json:"labels,omitempty"`
	PodName     string      `json:"pod_name,omitempty"`
	Workloads   []hWorkload `json:"workloads,omitempty"`
}

type hEventType struct {
	Type    int `json:"type"`
	SubType int `json:"sub_type,omitempty"`
}

type hService struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type hInterface struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
}

type hPolicy struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Labels    []string `json:"labels"`
	Revision  string   `json:"revision"` // uint64: a JSON string in protojson
	Kind      string   `json:"kind"`
}

type hFlow struct {
	Time                  string      `json:"time"`
	UUID                  string      `json:"uuid"`
	Verdict               string      `json:"verdict"`
	DropReason            int         `json:"drop_reason,omitempty"`
	Ethernet              *hEthernet  `json:"ethernet,omitempty"`
	IP                    hIP         `json:"IP"`
	L4                    hL4         `json:"l4"`
	Source                hEndpoint   `json:"source"`
	Destination           hEndpoint   `json:"destination"`
	Type                  string      `json:"Type"`
	NodeName              string      `json:"node_name"`
	DestinationNames      []string    `json:"destination_names,omitempty"`
	Reply                 bool        `json:"reply,omitempty"`
	EventType             hEventType  `json:"event_type"`
	DestinationService    *hService   `json:"destination_service,omitempty"`
	TrafficDirection      string      `json:"traffic_direction,omitempty"`
	PolicyMatchType       int         `json:"policy_match_type,omitempty"`
	TraceObservationPoint string      `json:"trace_observation_point,omitempty"`
	TraceReason           string      `json:"trace_reason,omitempty"`
	DropReasonDesc        string      `json:"drop_reason_desc,omitempty"`
	IsReply               *bool       `json:"is_reply,omitempty"`
	Interface             *hInterface `json:"interface,omitempty"`
	Summary               string      `json:"Summary"`
	EgressAllowedBy       []hPolicy   `json:"egress_allowed_by,omitempty"`
	IngressAllowedBy      []hPolicy   `json:"ingress_allowed_by,omitempty"`
}

type hLine struct {
	Flow     *hFlow `json:"flow"`
	NodeName string `json:"node_name"`
	Time     string `json:"time"`

	at time.Time
	n  int
}

// Reserved identities (pkg/identity/numericidentity.go).
const (
	identityHost       = 1
	identityWorld      = 2
	identityRemoteNode = 6
)

// Cilium monitor event types and sub-types (pkg/monitor/api).
const (
	eventDrop          = 1
	eventTrace         = 4
	eventPolicyVerdict = 5
	traceToStack       = 3
	dropPolicyDenied   = 133
	matchL3L4          = 2 // PolicyMatchL3L4
	policyRevision     = "31"
)

// peer is one end of a flow: a pod, or an address outside the pod network.
type peer struct {
	pod      *pod
	ip       string
	identity int
	labels   []string
	names    []string // DNS names Hubble knows the address by
}

func (m *model) podPeer(p *pod) peer {
	return peer{pod: p, ip: p.IP, identity: m.identity(p), labels: identityLabels(m, p)}
}

func worldPeer(ip string, names ...string) peer {
	return peer{ip: ip, identity: identityWorld, labels: []string{"reserved:world"}, names: names}
}

func apiServerPeer() peer {
	return peer{ip: apiServerIP, identity: identityRemoteNode, labels: []string{"reserved:kube-apiserver", "reserved:remote-node"}}
}

// endpoint renders p as seen from node: the endpoint ID is only known for
// endpoints local to the observing node.
func (p peer) endpoint(node string) hEndpoint {
	e := hEndpoint{Identity: p.identity, Labels: p.labels}
	if p.pod == nil {
		return e
	}
	if p.pod.Node == node {
		e.ID = p.pod.EndpointID
	}
	e.ClusterName = clusterName
	e.Namespace = p.pod.Namespace
	e.PodName = p.pod.Name
	if kind, name := topOwner(p.pod); kind != "" {
		e.Workloads = []hWorkload{{Name: name, Kind: kind}}
	}
	return e
}

type flowLogger struct {
	m     *model
	uuids *rng
	lines []*hLine
}

func ptr[T any](v T) *T { return &v }

// packet describes one observed packet of a connection.
type packet struct {
	at       time.Time
	node     string // observing node
	src, dst peer
	sport    int
	dport    int
	udp      bool
	syn, ack bool
	reply    bool
	svc      *service // the service the connection was addressed to
}

func (f *flowLogger) add(pk packet, fl *hFlow) {
	fl.Time = pk.at.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
	fl.UUID = f.uuids.uuid()
	fl.IP = hIP{Source: pk.src.ip, Destination: pk.dst.ip, IPVersion: "IPv4"}
	ports := &hPorts{SourcePort: pk.sport, DestinationPort: pk.dport}
	if pk.udp {
		fl.L4 = hL4{UDP: ports}
		fl.Summary = "UDP"
	} else {
		ports.Flags = &hTCPFlags{SYN: pk.syn, ACK: pk.ack}
		fl.L4 = hL4{TCP: ports}
		var fs []string
		if pk.syn {
			fs = append(fs, "SYN")
		}
		if pk.ack {
			fs = append(fs, "ACK")
		}
		fl.Summary = "TCP Flags: " + strings.Join(fs, ", ")
	}
	fl.Source = pk.src.endpoint(pk.node)
	fl.Destination = pk.dst.endpoint(pk.node)
	fl.Type = "L3_L4"
	fl.NodeName = pk.node
	if !pk.reply {
		fl.DestinationNames = pk.dst.names
	}
	if pk.svc != nil && !pk.reply {
		fl.DestinationService = &hService{Name: pk.svc.Name, Namespace: pk.svc.Namespace}
	}
	fl.IsReply = ptr(pk.reply)
	fl.Reply = pk.reply
	f.lines = append(f.lines, &hLine{Flow: fl, NodeName: pk.node, Time: fl.Time, at: pk.at, n: len(f.lines)})
}

// toEndpoint is the packet delivered to a local pod (trace to-endpoint).
func (f *flowLogger) toEndpoint(pk packet, local *pod, direction string) {
	reason := "NEW"
	if pk.reply {
		reason = "REPLY"
	}
	f.add(pk, &hFlow{Verdict: "FORWARDED", Ethernet: &hEthernet{Source: local.HostMAC, Destination: local.MAC},
		EventType: hEventType{Type: eventTrace}, TrafficDirection: direction, TraceObservationPoint: "TO_ENDPOINT",
		TraceReason: reason, Interface: &hInterface{Index: local.IfIdx, Name: local.LXC}})
}

// toStack is the packet leaving a local pod for the host's stack (towards
// the world, or a node).
func (f *flowLogger) toStack(pk packet, local *pod, direction string) {
	reason := "NEW"
	if pk.reply {
		reason = "REPLY"
	}
	f.add(pk, &hFlow{Verdict: "FORWARDED", Ethernet: &hEthernet{Source: local.MAC, Destination: local.HostMAC},
		EventType: hEventType{Type: eventTrace, SubType: traceToStack}, TrafficDirection: direction,
		TraceObservationPoint: "TO_STACK", TraceReason: reason})
}

func (f *flowLogger) policy(ns, name string) hPolicy {
	uid := f.m.policyUIDs[ns+"/"+name]
	if uid == "" {
		panic("no network policy " + ns + "/" + name)
	}
	return hPolicy{Name: name, Namespace: ns, Revision: policyRevision, Kind: "NetworkPolicy", Labels: []string{
		"k8s:io.cilium.k8s.policy.derived-from=NetworkPolicy",
		"k8s:io.cilium.k8s.policy.name=" + name,
		"k8s:io.cilium.k8s.policy.namespace=" + ns,
		"k8s:io.cilium.k8s.policy.uid=" + uid,
	}}
}

// verdict is a policy-verdict event: the first packet of a connection
// matched a policy of the observing endpoint.
func (f *flowLogger) verdict(pk packet, local *pod, direction string, allowedBy hPolicy) {
	fl := &hFlow{Verdict: "FORWARDED", Ethernet: &hEthernet{Source: local.MAC, Destination: local.HostMAC},
		EventType: hEventType{Type: eventPolicyVerdict}, TrafficDirection: direction, PolicyMatchType: matchL3L4}
	if direction == "INGRESS" {
		fl.Ethernet = &hEthernet{Source: local.HostMAC, Destination: local.MAC}
		fl.IngressAllowedBy = []hPolicy{allowedBy}
	} else {
		fl.EgressAllowedBy = []hPolicy{allowedBy}
	}
	f.add(pk, fl)
}

// denied is a SYN dropped by the destination's ingress policy: the policy
// verdict and the drop notification.
func (f *flowLogger) denied(pk packet, local *pod) {
	eth := &hEthernet{Source: local.HostMAC, Destination: local.MAC}
	f.add(pk, &hFlow{Verdict: "DROPPED", DropReason: dropPolicyDenied, Ethernet: eth,
		EventType: hEventType{Type: eventPolicyVerdict}, TrafficDirection: "INGRESS", DropReasonDesc: "POLICY_DENIED"})
	pk.at = pk.at.Add(2 * time.Microsecond)
	f.add(pk, &hFlow{Verdict: "DROPPED", DropReason: dropPolicyDenied, Ethernet: eth,
		EventType: hEventType{Type: eventDrop, SubType: dropPolicyDenied}, TrafficDirection: "INGRESS", DropReasonDesc: "POLICY_DENIED"})
}

func (f *flowLogger) render() ([]byte, error) {
	var ls []*hLine
	for _, l := range f.lines {
		if !l.at.Before(dayStart) && l.at.Before(dayEnd) {
			ls = append(ls, l)
		}
	}
	sort.SliceStable(ls, func(i, j int) bool {
		if !ls[i].at.Equal(ls[j].at) {
			return ls[i].at.Before(ls[j].at)
		}
		return ls[i].n < ls[j].n
	})
	var buf bytes.Buffer
	for _, l := range ls {
		// protojson does not escape HTML characters; encoding/json would.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(l); err != nil {
			return nil, fmt.Errorf("flow %s: %w", l.Flow.UUID, err)
		}
		buf.Write(b.Bytes())
	}
	return buf.Bytes(), nil
}
