package flow

import (
	"bytes"
	"net/netip"

	"github.com/kubedelta/kubedelta/internal/event"
)

// kubedelta's generic JSON-lines flow format, for exporters that are not
// Hubble (docs/formats/flows.md):
//
//	{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","src_port":43210,
//	 "dst_ip":"10.0.0.2","dst_port":80,"protocol":"TCP","bytes":1200,
//	 "packets":8,"verdict":"FORWARDED"}
//
// plus optional src_namespace, src_pod, dst_namespace, dst_pod, dst_name,
// src_labels, dst_labels, node and reply. Unknown members are ignored.

// genericRec collects the fields of one generic record.
type genericRec struct {
	hasTime, hasProto bool
	reply             bool
}

func (d *Decoder) parseGeneric(line []byte) (status, *fieldError) {
	s := &d.js
	s.reset(line)
	f := &d.flow
	*f = event.Flow{}
	var r genericRec
	if present, ok := s.obj(""); !ok || !present {
		if ok {
			s.fail("", "expected an object, got null")
		}
		return 0, s.err
	}
	for first := true; ; first = false {
		k, ok := s.member(first)
		if !ok {
			return 0, s.err
		}
		if k == nil {
			break
		}
		var v []byte
		var n uint64
		var present bool
		switch string(k) {
		case "time":
			if v, present, ok = s.str("time"); ok && present {
				if f.Time, ok = parseRFC3339(v); !ok {
					s.fail("time", "invalid RFC 3339 timestamp "+quoteTrunc(v))
				}
				r.hasTime = ok
			}
		case "src_ip":
			ok = d.genericAddr(&f.Src.IP, "src_ip")
		case "dst_ip":
			ok = d.genericAddr(&f.Dst.IP, "dst_ip")
		case "src_port":
			n, _, ok = s.uint("src_port", 65535)
			f.Src.Port = uint16(n)
		case "dst_port":
			n, _, ok = s.uint("dst_port", 65535)
			f.Dst.Port = uint16(n)
		case "protocol":
			ok = d.genericProto(f, &r)
		case "bytes":
			f.Bytes, _, ok = s.uint("bytes", 1<<64-1)
		case "packets":
			f.Packets, _, ok = s.uint("packets", 1<<64-1)
		case "verdict":
			if v, present, ok = s.str("verdict"); ok && present {
				switch {
				case bytes.EqualFold(v, []byte("FORWARDED")):
					f.Verdict = event.VerdictForwarded
				case bytes.EqualFold(v, []byte("DROPPED")):
					f.Verdict = event.VerdictDropped
				case bytes.EqualFold(v, []byte("UNKNOWN")):
					f.Verdict = event.VerdictUnknown
				default:
					ok = s.fail("verdict", "invalid verdict "+quoteTrunc(v)+" (want FORWARDED, DROPPED or UNKNOWN)")
				}
			}
		case "src_namespace":
			v, _, ok = s.str("src_namespace")
			f.Src.Namespace = d.in.str(v)
		case "src_pod":
			v, _, ok = s.str("src_pod")
			f.Src.Pod = d.in.str(v)
		case "dst_namespace":
			v, _, ok = s.str("dst_namespace")
			f.Dst.Namespace = d.in.str(v)
		case "dst_pod":
			v, _, ok = s.str("dst_pod")
			f.Dst.Pod = d.in.str(v)
		case "dst_name":
			f.Dst.Names, ok = d.singleName("dst_name")
		case "src_labels":
			f.Src.Labels, ok = d.stringSet(setNames, "src_labels")
		case "dst_labels":
			f.Dst.Labels, ok = d.stringSet(setNames, "dst_labels")
		case "node":
			v, _, ok = s.str("node")
			f.Node = d.in.str(v)
		case "reply":
			r.reply, _, ok = s.boolean("reply")
		default:
			ok = s.skip(fieldKey)
		}
		if !ok {
			return 0, s.err
		}
	}
	if !s.end() {
		return 0, s.err
	}
	switch {
	case !r.hasTime:
		return 0, errField("time", "missing")
	case !f.Src.IP.IsValid():
		return 0, errField("src_ip", "missing")
	case !f.Dst.IP.IsValid():
		return 0, errField("dst_ip", "missing")
	case !r.hasProto:
		return 0, errField("protocol", "missing")
	}
	if r.reply {
		return stReply, nil
	}
	return stDeliver, nil
}

func (d *Decoder) genericAddr(dst *netip.Addr, field string) bool {
	s := &d.js
	v, present, ok := s.str(field)
	if !ok || !present {
		return ok
	}
	a, ok := parseAddr(v)
	if !ok {
		return s.fail(field, "invalid IP address "+quoteTrunc(v))
	}
	*dst = a
	return true
}

// genericProto reads a protocol name (TCP, UDP, SCTP, ICMP, ICMPv6; any
// case) or an IANA protocol number.
func (d *Decoder) genericProto(f *event.Flow, r *genericRec) bool {
	s := &d.js
	name, num, isNum, present, ok := s.enum("protocol")
	if !ok || !present {
		return ok
	}
	if isNum {
		if num > 255 {
			return s.fail("protocol", "protocol number out of range")
		}
		f.Protocol, r.hasProto = event.Protocol(num), true
		return true
	}
	p, ok := protoByName(name)
	if !ok {
		return s.fail("protocol", "invalid protocol "+quoteTrunc(name)+" (want TCP, UDP, SCTP, ICMP, ICMPv6 or a number)")
	}
	f.Protocol, r.hasProto = p, true
	return true
}

func protoByName(name []byte) (event.Protocol, bool) {
	switch {
	case bytes.EqualFold(name, []byte("TCP")):
		return event.ProtoTCP, true
	case bytes.EqualFold(name, []byte("UDP")):
		return event.ProtoUDP, true
	case bytes.EqualFold(name, []byte("SCTP")):
		return event.ProtoSCTP, true
	case bytes.EqualFold(name, []byte("ICMP")), bytes.EqualFold(name, []byte("ICMPv4")):
		return event.ProtoICMP, true
	case bytes.EqualFold(name, []byte("ICMPv6")):
		return event.ProtoICMPv6, true
	}
	return 0, false
}

// singleName reads one string into a one-element list, cached so that a
// repeated name costs no allocation.
func (d *Decoder) singleName(field string) ([]string, bool) {
	s := &d.js
	s.ws()
	start := s.i
	v, present, ok := s.str(field)
	if !ok || !present || len(v) == 0 {
		return nil, ok
	}
	raw := s.b[start:s.i]
	if list, ok := d.in.set(setSingle, raw); ok {
		return list, true
	}
	list := []string{d.in.str(v)}
	d.in.putSet(setSingle, raw, list)
	return list, true
}
