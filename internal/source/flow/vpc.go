package flow

import (
	"bytes"
	"strconv"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// AWS VPC flow logs: space-separated text, one record per line. Without a
// header line the default version 2 format is assumed:
//
//	version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
//
// A header line (as written to S3) names the columns of a custom format;
// the columns this decoder reads are found by name and the rest ignored, so
// versions 3 to 5 work when their header is present. Field reference:
// https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html

const maxVPCFields = 64

// vpcCols holds the index of each column read, -1 when absent.
type vpcCols struct {
	n                                  int
	srcaddr, dstaddr, srcport, dstport int
	protocol, packets, bytes, start    int
	action, logStatus                  int
	tcpFlags, pktSrcaddr, pktDstaddr   int
}

// vpcV2 is the default format: version account-id interface-id srcaddr
// dstaddr srcport dstport protocol packets bytes start end action
// log-status.
func vpcV2() vpcCols {
	return vpcCols{
		n: 14, srcaddr: 3, dstaddr: 4, srcport: 5, dstport: 6, protocol: 7, packets: 8, bytes: 9,
		start: 10, action: 12, logStatus: 13, tcpFlags: -1, pktSrcaddr: -1, pktDstaddr: -1,
	}
}

type vpcState struct {
	cols   vpcCols
	header bool // cols come from a header line
	fields [maxVPCFields][]byte
}

func (v *vpcState) reset() {
	v.cols, v.header = vpcV2(), false
}

// isVPCHeader reports whether line is a VPC flow log header: lower-case
// field names, srcaddr among them.
func isVPCHeader(line []byte) bool {
	if len(line) == 0 || !(line[0] >= 'a' && line[0] <= 'z' || line[0] == '$') {
		return false
	}
	return bytes.Contains(line, []byte("srcaddr"))
}

func splitFields(line []byte, out *[maxVPCFields][]byte) (int, bool) {
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if n == maxVPCFields {
			return n, false
		}
		out[n] = line[start:i]
		n++
	}
	return n, true
}

func (d *Decoder) parseVPC(line []byte) (status, *fieldError) {
	v := &d.vpc
	if isVPCHeader(line) {
		return d.vpcHeader(line)
	}
	n, ok := splitFields(line, &v.fields)
	if !ok {
		return 0, errField("", "more than "+strconv.Itoa(maxVPCFields)+" fields")
	}
	c := &v.cols
	if n != c.n {
		msg := "expected " + strconv.Itoa(c.n) + " space-separated fields, got " + strconv.Itoa(n)
		if !v.header {
			msg += " (the default version 2 format; a custom format needs its header line)"
		}
		return 0, errField("", msg)
	}
	fl := &v.fields
	if c.logStatus >= 0 {
		switch st := fl[c.logStatus]; string(st) {
		case "OK":
		case "NODATA", "SKIPDATA":
			return stSkip, nil
		default:
			return 0, errValue("log-status", "log status", st)
		}
	}
	src, dst := fl[c.srcaddr], fl[c.dstaddr]
	if c.pktSrcaddr >= 0 && string(fl[c.pktSrcaddr]) != "-" {
		src = fl[c.pktSrcaddr]
	}
	if c.pktDstaddr >= 0 && string(fl[c.pktDstaddr]) != "-" {
		dst = fl[c.pktDstaddr]
	}
	if string(src) == "-" || string(dst) == "-" {
		return stSkip, nil
	}
	f := &d.flow
	*f = event.Flow{}
	if f.Src.IP, ok = parseAddr(src); !ok {
		return 0, errValue("srcaddr", "IP address", src)
	}
	if f.Dst.IP, ok = parseAddr(dst); !ok {
		return 0, errValue("dstaddr", "IP address", dst)
	}
	var fe *fieldError
	if f.Src.Port, fe = vpcPort(fl[c.srcport], "srcport"); fe != nil {
		return 0, fe
	}
	if f.Dst.Port, fe = vpcPort(fl[c.dstport], "dstport"); fe != nil {
		return 0, fe
	}
	p, ok := parseUint(fl[c.protocol], 255)
	if !ok {
		return 0, errValue("protocol", "protocol number", fl[c.protocol])
	}
	f.Protocol = event.Protocol(p)
	if c.packets >= 0 {
		if f.Packets, fe = vpcCount(fl[c.packets], "packets"); fe != nil {
			return 0, fe
		}
	}
	if c.bytes >= 0 {
		if f.Bytes, fe = vpcCount(fl[c.bytes], "bytes"); fe != nil {
			return 0, fe
		}
	}
	start, ok := parseUint(fl[c.start], 1<<40)
	if !ok {
		return 0, errValue("start", "unix time", fl[c.start])
	}
	f.Time = time.Unix(int64(start), 0).UTC()
	if c.action >= 0 {
		switch a := fl[c.action]; string(a) {
		case "ACCEPT":
			f.Verdict = event.VerdictForwarded
		case "REJECT":
			f.Verdict = event.VerdictDropped
		case "-":
		default:
			return 0, errValue("action", "action (want ACCEPT or REJECT)", a)
		}
	}
	reply := false
	switch f.Protocol {
	case event.ProtoTCP, event.ProtoUDP, event.ProtoSCTP:
		reply = looksLikeReply(f.Src.Port, f.Dst.Port)
	}
	if c.tcpFlags >= 0 && f.Protocol == event.ProtoTCP && string(fl[c.tcpFlags]) != "-" {
		flags, ok := parseUint(fl[c.tcpFlags], 255)
		if !ok {
			return 0, errValue("tcp-flags", "TCP flags", fl[c.tcpFlags])
		}
		// tcp-flags ORs the flags seen in the aggregation interval; AWS
		// reports SYN-ACK as 18. SYN without ACK marks the initiator.
		switch {
		case flags&0x12 == 0x12:
			reply = true
		case flags&0x02 != 0:
			reply = false
		}
	}
	if reply {
		return stReply, nil
	}
	return stDeliver, nil
}

func vpcPort(b []byte, field string) (uint16, *fieldError) {
	if string(b) == "-" {
		return 0, nil
	}
	v, ok := parseUint(b, 65535)
	if !ok {
		return 0, errValue(field, "port", b)
	}
	return uint16(v), nil
}

func vpcCount(b []byte, field string) (uint64, *fieldError) {
	if string(b) == "-" {
		return 0, nil
	}
	v, ok := parseUint(b, 1<<64-1)
	if !ok {
		return 0, errValue(field, "count", b)
	}
	return v, nil
}

// vpcHeader takes the column layout from a header line.
func (d *Decoder) vpcHeader(line []byte) (status, *fieldError) {
	v := &d.vpc
	n, ok := splitFields(line, &v.fields)
	if !ok {
		return 0, errField("", "header has more than "+strconv.Itoa(maxVPCFields)+" fields")
	}
	c := vpcCols{n: n, srcaddr: -1, dstaddr: -1, srcport: -1, dstport: -1, protocol: -1, packets: -1,
		bytes: -1, start: -1, action: -1, logStatus: -1, tcpFlags: -1, pktSrcaddr: -1, pktDstaddr: -1}
	for i, name := range v.fields[:n] {
		name = bytes.TrimSuffix(bytes.TrimPrefix(name, []byte("${")), []byte("}"))
		switch string(name) {
		case "srcaddr":
			c.srcaddr = i
		case "dstaddr":
			c.dstaddr = i
		case "srcport":
			c.srcport = i
		case "dstport":
			c.dstport = i
		case "protocol":
			c.protocol = i
		case "packets":
			c.packets = i
		case "bytes":
			c.bytes = i
		case "start":
			c.start = i
		case "action":
			c.action = i
		case "log-status":
			c.logStatus = i
		case "tcp-flags":
			c.tcpFlags = i
		case "pkt-srcaddr":
			c.pktSrcaddr = i
		case "pkt-dstaddr":
			c.pktDstaddr = i
		}
	}
	for _, req := range []struct {
		name string
		idx  int
	}{{"srcaddr", c.srcaddr}, {"dstaddr", c.dstaddr}, {"srcport", c.srcport}, {"dstport", c.dstport}, {"protocol", c.protocol}, {"start", c.start}} {
		if req.idx < 0 {
			return 0, errField("", "header line lacks the "+req.name+" column")
		}
	}
	v.cols, v.header = c, true
	return stSkip, nil
}
