package flow

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Cilium Hubble flows, as `hubble observe -o json` and the Hubble exporter
// write them: one GetFlowsResponse per line ({"flow":{...},"node_name":...,
// "time":...}), or one bare Flow object per line. Field names follow
// cilium/cilium api/v1/flow/flow.proto; both the proto names protojson
// writes with UseProtoNames (source_port, is_reply) and its default
// lowerCamelCase names (sourcePort, isReply) are read.

// Hubble FlowType values we tell apart.
const (
	hubbleTypeUnknown uint8 = iota // absent or UNKNOWN_TYPE: decided by content
	hubbleTypeL34
	hubbleTypeL7
	hubbleTypeSock
	hubbleTypeOther
)

// String-list kinds cached by the interner.
const (
	setLabels = iota // Hubble labels, Cilium prefixes handled
	setNames         // plain string lists
	setSingle        // one string, keyed by its quoted form
	numSetKinds
)

type hubbleEndpoint struct {
	ns, pod string
	labels  []string
}

// hubbleRec collects the fields of one record while it is scanned.
type hubbleRec struct {
	wrapped            bool // a GetFlowsResponse with a "flow" member
	flowTime, respTime time.Time
	node, respNode     string
	verdict            event.Verdict
	src, dst           netip.Addr
	proto              event.Protocol
	sport, dport       uint16
	icmpType           uint64
	syn, ack           bool
	isReply            int8 // -1 absent, 0 false, 1 true
	replyOld           bool // the deprecated "reply" field
	typ                uint8
	hasL7              bool
	srcEP, dstEP       hubbleEndpoint
	srcNames, dstNames []string
}

func (d *Decoder) parseHubble(line []byte) (status, *fieldError) {
	r := &d.hub
	*r = hubbleRec{isReply: -1}
	s := &d.js
	s.reset(line)
	if present, ok := s.obj(""); !ok || !present {
		if ok {
			s.fail("", "expected an object, got null")
		}
		return 0, s.err
	}
	if !d.hubbleMembers(r, 0) || !s.end() {
		return 0, s.err
	}

	if !r.src.IsValid() && !r.dst.IsValid() {
		return stSkip, nil // node_status, lost_events, L2-only flows
	}
	if r.hasL7 || r.typ == hubbleTypeL7 || r.typ == hubbleTypeSock || r.typ == hubbleTypeOther {
		return stSkip, nil
	}
	prefix := ""
	if r.wrapped {
		prefix = "flow."
	}
	if !r.src.IsValid() {
		return 0, errField(prefix+"IP.source", "missing")
	}
	if !r.dst.IsValid() {
		return 0, errField(prefix+"IP.destination", "missing")
	}
	if r.proto == 0 {
		return stSkip, nil // no TCP, UDP, SCTP or ICMP layer
	}
	t := r.flowTime
	if t.IsZero() {
		t = r.respTime
	}
	if t.IsZero() {
		return 0, errField(prefix+"time", "missing")
	}
	if hubbleIsReply(r) {
		return stReply, nil
	}
	node := r.node
	if node == "" {
		node = r.respNode
	}
	d.flow = event.Flow{
		Time:     t,
		Src:      event.Endpoint{IP: r.src, Port: r.sport, Namespace: r.srcEP.ns, Pod: r.srcEP.pod, Labels: r.srcEP.labels, Names: r.srcNames},
		Dst:      event.Endpoint{IP: r.dst, Port: r.dport, Namespace: r.dstEP.ns, Pod: r.dstEP.pod, Labels: r.dstEP.labels, Names: r.dstNames},
		Protocol: r.proto,
		Packets:  1,
		Verdict:  r.verdict,
		Node:     node,
	}
	return stDeliver, nil
}

// hubbleIsReply applies, in order: is_reply when present; the deprecated
// reply flag when true (false there also means "unknown"); TCP SYN / SYN-ACK;
// ICMP echo request / reply; the port heuristic.
func hubbleIsReply(r *hubbleRec) bool {
	if r.isReply >= 0 {
		return r.isReply == 1
	}
	if r.replyOld {
		return true
	}
	switch r.proto {
	case event.ProtoTCP:
		if r.syn {
			return r.ack
		}
	case event.ProtoICMP:
		return r.icmpType == 0 // echo reply
	case event.ProtoICMPv6:
		return r.icmpType == 129 // echo reply
	}
	return looksLikeReply(r.sport, r.dport)
}

// hubbleMembers reads the members of a GetFlowsResponse (depth 0) or Flow
// object; the opening brace has been read.
func (d *Decoder) hubbleMembers(r *hubbleRec, depth int) bool {
	s := &d.js
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		if r.wrapped && depth == 0 {
			// Members beside "flow" in a GetFlowsResponse: only its time
			// and node matter (node_status and lost_events carry no flow).
			switch string(k) {
			case "time", "node_name", "nodeName":
			default:
				if !s.skip(fieldKey) {
					return false
				}
				continue
			}
		}
		switch string(k) {
		case "flow":
			if depth > 0 {
				ok = s.skip("flow")
				break
			}
			present, ok2 := s.obj("flow")
			if !ok2 {
				return false
			}
			if present {
				// A response's flow replaces any flow members read beside it.
				*r = hubbleRec{isReply: -1, wrapped: true, respTime: r.respTime, respNode: r.respNode}
				s.push("flow")
				ok = d.hubbleMembers(r, 1)
				s.pop()
			}
		case "time":
			var v []byte
			var present bool
			if v, present, ok = s.str("time"); ok && present {
				t, tok := parseRFC3339(v)
				if !tok {
					return s.fail("time", "invalid RFC 3339 timestamp "+quoteTrunc(v))
				}
				if depth == 0 {
					r.respTime = t
				} else {
					r.flowTime = t
				}
			}
		case "node_name", "nodeName":
			var v []byte
			if v, _, ok = s.str(fieldKey); ok {
				if depth == 0 {
					r.respNode = d.in.str(v)
				} else {
					r.node = d.in.str(v)
				}
			}
		case "verdict":
			ok = d.hubbleVerdict(r)
		case "IP":
			ok = d.hubbleIP(r)
		case "l4":
			ok = d.hubbleL4(r)
		case "source":
			s.push("source")
			ok = d.hubbleEndpoint(&r.srcEP)
			s.pop()
		case "destination":
			s.push("destination")
			ok = d.hubbleEndpoint(&r.dstEP)
			s.pop()
		case "Type":
			ok = d.hubbleType(r)
		case "source_names", "sourceNames":
			r.srcNames, ok = d.stringSet(setNames, fieldKey)
		case "destination_names", "destinationNames":
			r.dstNames, ok = d.stringSet(setNames, fieldKey)
		case "is_reply", "isReply":
			var v, present bool
			if v, present, ok = s.boolean(fieldKey); ok && present {
				r.isReply = 0
				if v {
					r.isReply = 1
				}
			}
		case "reply":
			r.replyOld, _, ok = s.boolean("reply")
		case "l7":
			s.ws()
			r.hasL7 = r.hasL7 || s.peek() != 'n'
			ok = s.skip("l7")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubbleVerdict(r *hubbleRec) bool {
	name, num, isNum, present, ok := d.js.enum("verdict")
	if !ok || !present {
		return ok
	}
	if isNum {
		switch num {
		case 1, 4, 5, 6, 7:
			r.verdict = event.VerdictForwarded
		case 2:
			r.verdict = event.VerdictDropped
		default:
			r.verdict = event.VerdictUnknown
		}
		return true
	}
	switch string(name) {
	// AUDIT: policy audit mode let a flow through that policy would have
	// dropped; REDIRECTED: handed to the L7 proxy; TRACED / TRANSLATED:
	// seen at a trace point or translated. The traffic went on in each case.
	case "FORWARDED", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED":
		r.verdict = event.VerdictForwarded
	case "DROPPED":
		r.verdict = event.VerdictDropped
	default: // VERDICT_UNKNOWN, ERROR, values newer than this decoder
		r.verdict = event.VerdictUnknown
	}
	return true
}

func (d *Decoder) hubbleType(r *hubbleRec) bool {
	name, num, isNum, present, ok := d.js.enum("Type")
	if !ok || !present {
		return ok
	}
	if isNum {
		switch num {
		case 0:
			r.typ = hubbleTypeUnknown
		case 1:
			r.typ = hubbleTypeL34
		case 2:
			r.typ = hubbleTypeL7
		case 3:
			r.typ = hubbleTypeSock
		default:
			r.typ = hubbleTypeOther
		}
		return true
	}
	switch string(name) {
	case "UNKNOWN_TYPE", "":
		r.typ = hubbleTypeUnknown
	case "L3_L4":
		r.typ = hubbleTypeL34
	case "L7":
		r.typ = hubbleTypeL7
	case "SOCK":
		r.typ = hubbleTypeSock
	default:
		r.typ = hubbleTypeOther
	}
	return true
}

func (d *Decoder) hubbleIP(r *hubbleRec) bool {
	s := &d.js
	present, ok := s.obj("IP")
	if !ok || !present {
		return ok
	}
	s.push("IP")
	defer s.pop()
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		switch string(k) {
		case "source":
			ok = d.hubbleAddr(&r.src, "source")
		case "destination":
			ok = d.hubbleAddr(&r.dst, "destination")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubbleAddr(dst *netip.Addr, field string) bool {
	s := &d.js
	v, present, ok := s.str(field)
	if !ok || !present || len(v) == 0 {
		return ok
	}
	a, ok := parseAddr(v)
	if !ok {
		return s.fail(field, "invalid IP address "+quoteTrunc(v))
	}
	*dst = a
	return true
}

func (d *Decoder) hubbleL4(r *hubbleRec) bool {
	s := &d.js
	present, ok := s.obj("l4")
	if !ok || !present {
		return ok
	}
	s.push("l4")
	defer s.pop()
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		switch string(k) {
		case "TCP":
			ok = d.hubblePorts(r, event.ProtoTCP, "TCP")
		case "UDP":
			ok = d.hubblePorts(r, event.ProtoUDP, "UDP")
		case "SCTP":
			ok = d.hubblePorts(r, event.ProtoSCTP, "SCTP")
		case "ICMPv4":
			ok = d.hubbleICMP(r, event.ProtoICMP, "ICMPv4")
		case "ICMPv6":
			ok = d.hubbleICMP(r, event.ProtoICMPv6, "ICMPv6")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubblePorts(r *hubbleRec, proto event.Protocol, field string) bool {
	s := &d.js
	present, ok := s.obj(field)
	if !ok || !present {
		return ok
	}
	r.proto = proto
	s.push(field)
	defer s.pop()
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		var v uint64
		switch string(k) {
		case "source_port", "sourcePort":
			v, _, ok = s.uint(fieldKey, 65535)
			r.sport = uint16(v)
		case "destination_port", "destinationPort":
			v, _, ok = s.uint(fieldKey, 65535)
			r.dport = uint16(v)
		case "flags":
			if proto == event.ProtoTCP {
				ok = d.hubbleFlags(r)
			} else {
				ok = s.skip("flags")
			}
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubbleFlags(r *hubbleRec) bool {
	s := &d.js
	present, ok := s.obj("flags")
	if !ok || !present {
		return ok
	}
	s.push("flags")
	defer s.pop()
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		switch string(k) {
		case "SYN":
			r.syn, _, ok = s.boolean("SYN")
		case "ACK":
			r.ack, _, ok = s.boolean("ACK")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubbleICMP(r *hubbleRec, proto event.Protocol, field string) bool {
	s := &d.js
	present, ok := s.obj(field)
	if !ok || !present {
		return ok
	}
	r.proto = proto
	s.push(field)
	defer s.pop()
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		if string(k) == "type" {
			r.icmpType, _, ok = s.uint("type", 255)
		} else {
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

func (d *Decoder) hubbleEndpoint(ep *hubbleEndpoint) bool {
	s := &d.js
	present, ok := s.obj("")
	if !ok || !present {
		return ok
	}
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return false
		}
		if k == nil {
			return true
		}
		var v []byte
		switch string(k) {
		case "namespace":
			v, _, ok = s.str("namespace")
			ep.ns = d.in.str(v)
		case "pod_name", "podName":
			v, _, ok = s.str(fieldKey)
			ep.pod = d.in.str(v)
		case "labels":
			ep.labels, ok = d.stringSet(setLabels, "labels")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return false
		}
	}
}

// stringSet reads an array of strings. Lists are cached by their raw bytes,
// so the labels of an identity seen before cost one map lookup.
func (d *Decoder) stringSet(kind int, field string) ([]string, bool) {
	s := &d.js
	s.ws()
	switch s.peek() {
	case 'n':
		return nil, s.null(field)
	case '[':
	default:
		return nil, s.typeErr(field, "an array of strings")
	}
	start := s.i
	if !s.skipNested(field) {
		return nil, false
	}
	end := s.i
	raw := s.b[start:end]
	if list, ok := d.in.set(kind, raw); ok {
		return list, true
	}
	s.i = start
	s.arr(field)
	var list []string
	for first := true; ; first = false {
		more, ok := s.elem(first)
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
		v, present, ok := s.str(field)
		if !ok {
			return nil, false
		}
		if !present {
			continue
		}
		if kind == setLabels {
			var keep bool
			if v, keep = ciliumLabel(v); !keep {
				continue
			}
		}
		list = append(list, d.in.str(v))
	}
	d.in.putSet(kind, raw, list)
	return list, true
}

// ciliumLabel turns a Cilium label ("source:key=value") into a Kubernetes
// one: "k8s:app=foo" becomes "app=foo"; labels Cilium derives itself
// (k8s:io.cilium.*: namespace labels, cluster, service account;
// k8s:io.kubernetes.pod.namespace, which Endpoint.Namespace carries) are
// dropped; reserved identities are kept whole ("reserved:host",
// "reserved:world", ...) as hints for enrichment; other sources (cidr:,
// fqdn:, container:, unspec:) are dropped. A label without a source prefix
// is kept as is.
func ciliumLabel(v []byte) ([]byte, bool) {
	colon := bytes.IndexByte(v, ':')
	eq := bytes.IndexByte(v, '=')
	if colon < 0 || (eq >= 0 && eq < colon) {
		return v, true
	}
	rest := v[colon+1:]
	switch string(v[:colon]) {
	case "k8s":
		key := rest
		if i := bytes.IndexByte(rest, '='); i >= 0 {
			key = rest[:i]
		}
		if bytes.HasPrefix(key, []byte("io.cilium.")) || string(key) == "io.kubernetes.pod.namespace" {
			return nil, false
		}
		return rest, true
	case "reserved":
		return v, true
	}
	return nil, false
}
