package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Reference decoders for the fuzz tests: slow, obvious implementations of
// the documented rules on top of encoding/json (Hubble, generic) and
// strings.Fields (VPC). When a reference accepts a record, the fast
// scanner must accept it too and produce the same result. (The fast
// scanners are allowed to be more lenient inside subtrees they skip.)

type refResult struct {
	st   status
	flow event.Flow
}

var errRef = errors.New("reference: rejected")

// refJSON decodes one JSON object with exact-case keys and json.Number
// numbers. Inputs with duplicate keys are reported so the caller can skip
// them: which duplicate wins is not part of the format.
func refJSON(line []byte) (map[string]any, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false, errRef
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false, errRef
	}
	return m, hasDupKeys(line), nil
}

func hasDupKeys(line []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(line))
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.obj && top.expect
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{obj: true, keys: map[string]bool{}, expect: true})
				continue
			case '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if isKey {
				if top.keys[t] {
					return true
				}
				top.keys[t] = true
				top.expect = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expect = true
		}
	}
}

func refUint(v any, max uint64) (uint64, bool, error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE-") {
			return 0, false, errRef
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > max {
			return 0, false, errRef
		}
		return n, true, nil
	case string:
		if x == "" || strings.TrimLeft(x, "0123456789") != "" || len(x) > 20 {
			return 0, false, errRef
		}
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil || n > max {
			return 0, false, errRef
		}
		return n, true, nil
	}
	return 0, false, errRef
}

func refStr(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	}
	return "", false, errRef
}

func refBool(v any) (bool, bool, error) {
	switch x := v.(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	}
	return false, false, errRef
}

func refObj(v any) (map[string]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	}
	return nil, errRef
}

func refAddr(v any) (netip.Addr, error) {
	s, ok, err := refStr(v)
	if err != nil || !ok || s == "" {
		return netip.Addr{}, err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, errRef
	}
	return a.Unmap().WithZone(""), nil
}

func refTime(v any) (time.Time, error) {
	s, ok, err := refStr(v)
	if err != nil || !ok {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errRef
	}
	return t.UTC(), nil
}

func refList(v any, label bool) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, errRef
	}
	var out []string
	for _, e := range a {
		s, ok, err := refStr(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if label {
			src, rest, found := strings.Cut(s, ":")
			if found && (!strings.Contains(src, "=")) {
				switch src {
				case "k8s":
					key, _, _ := strings.Cut(rest, "=")
					if strings.HasPrefix(key, "io.cilium.") || key == "io.kubernetes.pod.namespace" {
						continue
					}
					s = rest
				case "reserved":
				default:
					continue
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// refEnum returns an enum's name, or its number as "#n" (names never
// start with '#': a string starting with '#' is returned as "name:#...").
func refEnum(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		if strings.HasPrefix(x, "#") {
			return "name:" + x, true, nil
		}
		return x, true, nil
	case json.Number:
		n, _, err := refUint(x, 1<<31-1)
		return "#" + strconv.FormatUint(n, 10), true, err
	}
	return "", false, errRef
}

// refHubble decodes one Hubble line. dup reports duplicate keys.
func refHubble(line []byte) (r refResult, dup bool, err error) {
	top, dup, err := refJSON(line)
	if err != nil {
		return r, dup, err
	}
	flow := top
	wrapped := false
	if fv, ok := top["flow"]; ok {
		if flow, err = refObj(fv); err != nil {
			return r, dup, err
		}
		wrapped = flow != nil
	}
	// Top-level time and node of a GetFlowsResponse; in a bare flow they
	// are the flow's own.
	respTime, err := refTime(top["time"])
	if err != nil {
		return r, dup, err
	}
	respNode, _, err := refStr(firstOf(top, "node_name", "nodeName"))
	if err != nil {
		return r, dup, err
	}
	if !wrapped {
		flow = top
	}
	var f event.Flow
	flowTime := respTime
	node := respNode
	if wrapped {
		if flowTime, err = refTime(flow["time"]); err != nil {
			return r, dup, err
		}
		if n, _, err := refStr(firstOf(flow, "node_name", "nodeName")); err != nil {
			return r, dup, err
		} else if n != "" {
			node = n
		}
		if flowTime.IsZero() {
			flowTime = respTime
		}
	}
	verdict, _, err := refEnum(flow["verdict"])
	if err != nil {
		return r, dup, err
	}
	switch verdict {
	case "FORWARDED", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED", "#1", "#4", "#5", "#6", "#7":
		f.Verdict = event.VerdictForwarded
	case "DROPPED", "#2":
		f.Verdict = event.VerdictDropped
	}
	ip, err := refObj(flow["IP"])
	if err != nil {
		return r, dup, err
	}
	if f.Src.IP, err = refAddr(ip["source"]); err != nil {
		return r, dup, err
	}
	if f.Dst.IP, err = refAddr(ip["destination"]); err != nil {
		return r, dup, err
	}
	l4, err := refObj(flow["l4"])
	if err != nil {
		return r, dup, err
	}
	var syn, ack bool
	var icmpType uint64
	for _, p := range []struct {
		name  string
		proto event.Protocol
	}{{"TCP", event.ProtoTCP}, {"UDP", event.ProtoUDP}, {"SCTP", event.ProtoSCTP}, {"ICMPv4", event.ProtoICMP}, {"ICMPv6", event.ProtoICMPv6}} {
		o, err := refObj(l4[p.name])
		if err != nil {
			return r, dup, err
		}
		if o == nil {
			continue
		}
		f.Protocol = p.proto
		if p.proto == event.ProtoICMP || p.proto == event.ProtoICMPv6 {
			if icmpType, _, err = refUint(o["type"], 255); err != nil {
				return r, dup, err
			}
			continue
		}
		sp, _, err := refUint(firstOf(o, "source_port", "sourcePort"), 65535)
		if err != nil {
			return r, dup, err
		}
		dp, _, err := refUint(firstOf(o, "destination_port", "destinationPort"), 65535)
		if err != nil {
			return r, dup, err
		}
		f.Src.Port, f.Dst.Port = uint16(sp), uint16(dp)
		if p.proto == event.ProtoTCP {
			flags, err := refObj(o["flags"])
			if err != nil {
				return r, dup, err
			}
			if syn, _, err = refBool(flags["SYN"]); err != nil {
				return r, dup, err
			}
			if ack, _, err = refBool(flags["ACK"]); err != nil {
				return r, dup, err
			}
		}
	}
	for _, ep := range []struct {
		key string
		e   *event.Endpoint
	}{{"source", &f.Src}, {"destination", &f.Dst}} {
		o, err := refObj(flow[ep.key])
		if err != nil {
			return r, dup, err
		}
		if ep.e.Namespace, _, err = refStr(o["namespace"]); err != nil {
			return r, dup, err
		}
		if ep.e.Pod, _, err = refStr(firstOf(o, "pod_name", "podName")); err != nil {
			return r, dup, err
		}
		if ep.e.Labels, err = refList(o["labels"], true); err != nil {
			return r, dup, err
		}
	}
	if f.Src.Names, err = refList(firstOf(flow, "source_names", "sourceNames"), false); err != nil {
		return r, dup, err
	}
	if f.Dst.Names, err = refList(firstOf(flow, "destination_names", "destinationNames"), false); err != nil {
		return r, dup, err
	}
	isReply, hasIsReply, err := refBool(firstOf(flow, "is_reply", "isReply"))
	if err != nil {
		return r, dup, err
	}
	replyOld, _, err := refBool(flow["reply"])
	if err != nil {
		return r, dup, err
	}
	typ, _, err := refEnum(flow["Type"])
	if err != nil {
		return r, dup, err
	}
	if !f.Src.IP.IsValid() && !f.Dst.IP.IsValid() {
		return refResult{st: stSkip}, dup, nil
	}
	switch typ {
	case "", "UNKNOWN_TYPE", "#0", "L3_L4", "#1":
	default:
		return refResult{st: stSkip}, dup, nil
	}
	if flow["l7"] != nil {
		return refResult{st: stSkip}, dup, nil
	}
	if !f.Src.IP.IsValid() || !f.Dst.IP.IsValid() {
		return r, dup, errRef
	}
	if f.Protocol == 0 {
		return refResult{st: stSkip}, dup, nil
	}
	if flowTime.IsZero() {
		return r, dup, errRef
	}
	var reply bool
	switch {
	case hasIsReply:
		reply = isReply
	case replyOld:
		reply = true
	case f.Protocol == event.ProtoTCP && syn:
		reply = ack
	case f.Protocol == event.ProtoICMP:
		reply = icmpType == 0
	case f.Protocol == event.ProtoICMPv6:
		reply = icmpType == 129
	default:
		sp, dp := f.Src.Port, f.Dst.Port
		reply = sp != 0 && dp != 0 && (sp < 1024 && dp >= 1024 || sp < 32768 && dp >= 32768)
	}
	if reply {
		return refResult{st: stReply}, dup, nil
	}
	f.Time, f.Node, f.Packets = flowTime, node, 1
	return refResult{st: stDeliver, flow: f}, dup, nil
}

// firstOf returns the first present, non-null member among names (the
// proto name and the lowerCamelCase JSON name of one field). Inputs that
// carry both spellings are rare enough that the fuzz test skips them.
func firstOf(m map[string]any, names ...string) any {
	for _, n := range names {
		if v, ok := m[n]; ok && v != nil {
			return v
		}
	}
	return nil
}

// refGeneric decodes one generic line.
func refGeneric(line []byte) (r refResult, dup bool, err error) {
	m, dup, err := refJSON(line)
	if err != nil {
		return r, dup, err
	}
	var f event.Flow
	t, err := refTime(m["time"])
	if err != nil {
		return r, dup, err
	}
	f.Time = t
	if f.Src.IP, err = refAddr(m["src_ip"]); err != nil {
		return r, dup, err
	}
	if f.Dst.IP, err = refAddr(m["dst_ip"]); err != nil {
		return r, dup, err
	}
	sp, _, err := refUint(m["src_port"], 65535)
	if err != nil {
		return r, dup, err
	}
	dp, _, err := refUint(m["dst_port"], 65535)
	if err != nil {
		return r, dup, err
	}
	f.Src.Port, f.Dst.Port = uint16(sp), uint16(dp)
	if f.Bytes, _, err = refUint(m["bytes"], 1<<64-1); err != nil {
		return r, dup, err
	}
	if f.Packets, _, err = refUint(m["packets"], 1<<64-1); err != nil {
		return r, dup, err
	}
	proto, hasProto, err := refEnum(m["protocol"])
	if err != nil {
		return r, dup, err
	}
	if strings.HasPrefix(proto, "#") {
		n, _ := strconv.Atoi(proto[1:])
		if n > 255 {
			return r, dup, errRef
		}
		f.Protocol = event.Protocol(n)
	} else if hasProto {
		switch strings.ToUpper(proto) {
		case "TCP":
			f.Protocol = event.ProtoTCP
		case "UDP":
			f.Protocol = event.ProtoUDP
		case "SCTP":
			f.Protocol = event.ProtoSCTP
		case "ICMP", "ICMPV4":
			f.Protocol = event.ProtoICMP
		case "ICMPV6":
			f.Protocol = event.ProtoICMPv6
		default:
			return r, dup, errRef
		}
	}
	verdict, _, err := refStr(m["verdict"])
	if err != nil {
		return r, dup, err
	}
	switch strings.ToUpper(verdict) {
	case "FORWARDED":
		f.Verdict = event.VerdictForwarded
	case "DROPPED":
		f.Verdict = event.VerdictDropped
	case "UNKNOWN", "":
		if verdict == "" && m["verdict"] != nil {
			return r, dup, errRef
		}
	default:
		return r, dup, errRef
	}
	for _, s := range []struct {
		key string
		dst *string
	}{{"src_namespace", &f.Src.Namespace}, {"src_pod", &f.Src.Pod}, {"dst_namespace", &f.Dst.Namespace}, {"dst_pod", &f.Dst.Pod}, {"node", &f.Node}} {
		if *s.dst, _, err = refStr(m[s.key]); err != nil {
			return r, dup, err
		}
	}
	name, _, err := refStr(m["dst_name"])
	if err != nil {
		return r, dup, err
	}
	if name != "" {
		f.Dst.Names = []string{name}
	}
	if f.Src.Labels, err = refList(m["src_labels"], false); err != nil {
		return r, dup, err
	}
	if f.Dst.Labels, err = refList(m["dst_labels"], false); err != nil {
		return r, dup, err
	}
	reply, _, err := refBool(m["reply"])
	if err != nil {
		return r, dup, err
	}
	if t.IsZero() || !f.Src.IP.IsValid() || !f.Dst.IP.IsValid() || !hasProto {
		return r, dup, errRef
	}
	if reply {
		return refResult{st: stReply}, dup, nil
	}
	return refResult{st: stDeliver, flow: f}, dup, nil
}

// refVPC decodes one VPC line of the default version 2 format.
func refVPC(line string) (refResult, error) {
	fs := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(fs) != 14 {
		return refResult{}, errRef
	}
	switch fs[13] {
	case "OK":
	case "NODATA", "SKIPDATA":
		return refResult{st: stSkip}, nil
	default:
		return refResult{}, errRef
	}
	if fs[3] == "-" || fs[4] == "-" {
		return refResult{st: stSkip}, nil
	}
	var f event.Flow
	var err error
	if f.Src.IP, err = netip.ParseAddr(fs[3]); err != nil || (!f.Src.IP.Is4() && !strings.Contains(fs[3], ":")) {
		return refResult{}, errRef
	}
	if f.Dst.IP, err = netip.ParseAddr(fs[4]); err != nil || (!f.Dst.IP.Is4() && !strings.Contains(fs[4], ":")) {
		return refResult{}, errRef
	}
	f.Src.IP, f.Dst.IP = f.Src.IP.Unmap().WithZone(""), f.Dst.IP.Unmap().WithZone("")
	num := func(s string, max uint64) (uint64, error) {
		if s == "-" {
			return 0, nil
		}
		if s == "" || strings.TrimLeft(s, "0123456789") != "" || len(s) > 20 {
			return 0, errRef
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n > max {
			return 0, errRef
		}
		return n, nil
	}
	sp, err := num(fs[5], 65535)
	if err != nil {
		return refResult{}, err
	}
	dp, err := num(fs[6], 65535)
	if err != nil {
		return refResult{}, err
	}
	if fs[7] == "-" {
		return refResult{}, errRef
	}
	p, err := num(fs[7], 255)
	if err != nil {
		return refResult{}, err
	}
	if f.Packets, err = num(fs[8], 1<<64-1); err != nil {
		return refResult{}, err
	}
	if f.Bytes, err = num(fs[9], 1<<64-1); err != nil {
		return refResult{}, err
	}
	if fs[10] == "-" {
		return refResult{}, errRef
	}
	start, err := num(fs[10], 1<<40)
	if err != nil {
		return refResult{}, err
	}
	switch fs[12] {
	case "ACCEPT":
		f.Verdict = event.VerdictForwarded
	case "REJECT":
		f.Verdict = event.VerdictDropped
	case "-":
	default:
		return refResult{}, errRef
	}
	f.Src.Port, f.Dst.Port, f.Protocol = uint16(sp), uint16(dp), event.Protocol(p)
	f.Time = time.Unix(int64(start), 0).UTC()
	if p == 6 || p == 17 || p == 132 {
		if sp != 0 && dp != 0 && (sp < 1024 && dp >= 1024 || sp < 32768 && dp >= 32768) {
			return refResult{st: stReply}, nil
		}
	}
	return refResult{st: stDeliver, flow: f}, nil
}
