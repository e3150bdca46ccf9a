package flow

import (
	"bytes"
	"math"
	"net/netip"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// conntrack event text as `conntrack -E -o timestamp,extended` prints it
// (conntrack-tools src/conntrack.c event_cb, libnetfilter_conntrack
// src/conntrack/snprintf_default.c):
//
//	[1700000000.123456]	    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.96.0.10 sport=43210 dport=80 [UNREPLIED] src=10.244.1.5 dst=10.0.0.1 sport=8080 dport=43210
//	[1700000000.456789]	 [UPDATE] ipv4     2 tcp      6 60 SYN_RECV src=... [ASSURED]
//	[1700000130.000001]	[DESTROY] ipv4     2 tcp      6 src=10.0.0.1 dst=10.96.0.10 sport=43210 dport=80 packets=6 bytes=512 src=10.244.1.5 dst=10.0.0.1 sport=8080 dport=43210 packets=4 bytes=3100 [ASSURED] mark=0 delta-time=130 use=1
//
// The first tuple is the original direction (the initiator), the second the
// reply direction. A NEW event opens a connection; its DESTROY event carries
// the byte counters when accounting is on (nf_conntrack_acct=1). The decoder
// holds each NEW until its DESTROY (at most Options.ConntrackHold of event
// time) and delivers one flow per connection: the start time from NEW, the
// original-direction counters from DESTROY.

// maxPending bounds the connections held waiting for their DESTROY event.
const maxPending = 1 << 17

type ctKey struct {
	src, dst     netip.Addr
	sport, dport uint16 // ICMP: the echo id in sport
	proto        event.Protocol
	zone         uint16
}

type ctConn struct {
	seq      uint64
	start    int64 // unix nanoseconds of the NEW event
	src, dst netip.Addr
	sport    uint16
	dport    uint16
	proto    event.Protocol
	replied  bool
}

type ctOrder struct {
	key ctKey
	seq uint64
}

// conntrackState holds connections between NEW and DESTROY.
type conntrackState struct {
	hold    int64
	conns   map[ctKey]ctConn
	order   []ctOrder // NEW order; entries whose seq no longer matches are stale
	head    int
	seq     uint64
	newest  int64
	scratch [8][]byte
}

func newConntrackState(hold int64) conntrackState {
	return conntrackState{hold: hold, conns: make(map[ctKey]ctConn)}
}

type ctTuple struct {
	src, dst       netip.Addr
	sport, dport   uint16
	hasSport       bool
	hasDport       bool
	icmpID         uint16
	packets, bytes uint64
	hasCounters    bool
}

type ctEventType uint8

const (
	ctNew ctEventType = iota + 1
	ctUpdate
	ctDestroy
)

// isConntrackLine reports whether line looks like conntrack event text.
func isConntrackLine(line []byte) bool {
	if len(line) < 3 || line[0] != '[' {
		return false
	}
	if line[1] >= '0' && line[1] <= '9' {
		return bytes.Contains(line, []byte("src="))
	}
	return bytes.HasPrefix(line, []byte("[NEW]")) || bytes.HasPrefix(line, []byte("[UPDATE]")) ||
		bytes.HasPrefix(line, []byte("[DESTROY]"))
}

func (d *Decoder) parseConntrack(line []byte) (status, *fieldError, error) {
	if bytes.HasPrefix(line, []byte("conntrack v")) || bytes.HasPrefix(line, []byte("Now closing")) {
		return stSkip, nil, nil // the summary conntrack prints when it stops
	}
	ts, rest, fe := conntrackTime(line)
	if fe != nil {
		return 0, fe, nil
	}
	rest = trimSpace(rest)
	var ev ctEventType
	switch {
	case bytes.HasPrefix(rest, []byte("[NEW]")):
		ev, rest = ctNew, rest[len("[NEW]"):]
	case bytes.HasPrefix(rest, []byte("[UPDATE]")):
		ev, rest = ctUpdate, rest[len("[UPDATE]"):]
	case bytes.HasPrefix(rest, []byte("[DESTROY]")):
		ev, rest = ctDestroy, rest[len("[DESTROY]"):]
	default:
		return 0, errField("event", "expected [NEW], [UPDATE] or [DESTROY]"), nil
	}

	var (
		orig, reply ctTuple
		cur         = &orig
		tuples      int
		proto       = -1
		zone        uint16
		delta       int64 = -1
		unreplied   bool
		prelude     = d.ct.scratch[:0]
	)
	for i := 0; i < len(rest); {
		for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
			i++
		}
		if i == len(rest) {
			break
		}
		start := i
		if rest[i] == '[' {
			end := bytes.IndexByte(rest[i:], ']')
			if end < 0 {
				return 0, errField("", "unterminated [ in "+quoteTrunc(rest[i:])), nil
			}
			i += end + 1
			if string(rest[start:i]) == "[UNREPLIED]" {
				unreplied = true
			}
			continue
		}
		for i < len(rest) && rest[i] != ' ' && rest[i] != '\t' {
			i++
		}
		tok := rest[start:i]
		eq := bytes.IndexByte(tok, '=')
		if eq < 0 {
			if tuples == 0 && len(prelude) < cap(prelude) {
				prelude = append(prelude, tok)
			}
			continue
		}
		key, val := tok[:eq], tok[eq+1:]
		var ok bool
		switch string(key) {
		case "src":
			tuples++
			if tuples == 2 {
				cur = &reply
			} else if tuples > 2 {
				return 0, errField("src", "more than two tuples"), nil
			}
			if cur.src, ok = parseAddr(val); !ok {
				return 0, errValue("src", "IP address", val), nil
			}
		case "dst":
			if cur.dst, ok = parseAddr(val); !ok {
				return 0, errValue("dst", "IP address", val), nil
			}
		case "sport", "dport":
			v, ok := parseUint(val, 65535)
			if !ok {
				return 0, errValue(string(key), "port", val), nil
			}
			if key[0] == 's' {
				cur.sport, cur.hasSport = uint16(v), true
			} else {
				cur.dport, cur.hasDport = uint16(v), true
			}
		case "id":
			// the ICMP echo id inside a tuple, or the conntrack id (-o id)
			v, ok := parseUint(val, 1<<32-1)
			if !ok {
				return 0, errValue("id", "id", val), nil
			}
			if v <= 65535 {
				cur.icmpID = uint16(v)
			}
		case "packets", "bytes":
			v, ok := parseUint(val, 1<<64-1)
			if !ok {
				return 0, errValue(string(key), "counter", val), nil
			}
			if key[0] == 'p' {
				cur.packets = v
			} else {
				cur.bytes = v
			}
			cur.hasCounters = true
		case "zone", "zone-orig":
			v, ok := parseUint(val, 65535)
			if !ok {
				return 0, errValue(string(key), "zone", val), nil
			}
			zone = uint16(v)
		case "delta-time":
			v, ok := parseUint(val, 1<<40)
			if !ok {
				return 0, errValue("delta-time", "duration", val), nil
			}
			delta = int64(v)
		}
		if proto < 0 { // the first key=value ends the prelude
			p, fe := conntrackProto(prelude)
			if fe != nil {
				return 0, fe, nil
			}
			proto = p
		}
	}
	if proto < 0 {
		return 0, errField("", "no connection tuple (src=, dst=)"), nil
	}
	if !orig.src.IsValid() {
		return 0, errField("src", "missing"), nil
	}
	if !orig.dst.IsValid() {
		return 0, errField("dst", "missing"), nil
	}
	p := event.Protocol(proto)
	if hasPorts(p) {
		if !orig.hasSport {
			return 0, errField("sport", "missing"), nil
		}
		if !orig.hasDport {
			return 0, errField("dport", "missing"), nil
		}
	}

	// Connection identity: the original tuple as the kernel keys it.
	key := ctKey{src: orig.src, dst: orig.dst, sport: orig.sport, dport: orig.dport, proto: p, zone: zone}
	if isICMP(proto) {
		key.sport, key.dport = orig.icmpID, 0
	}
	// Destination NAT (a Service's ClusterIP, a NodePort): the reply comes
	// from the real backend, so the flow goes to the reply tuple's source.
	dst, dport := orig.dst, orig.dport
	if reply.src.IsValid() && reply.src != orig.dst {
		dst = reply.src
		if hasPorts(p) && reply.hasSport {
			dport = reply.sport
		}
	}
	if !hasPorts(p) {
		orig.sport, dport = 0, 0
	}
	conn := ctConn{start: ts, src: orig.src, dst: dst, sport: orig.sport, dport: dport, proto: p, replied: !unreplied}

	if err := d.expireConntrack(ts); err != nil {
		return 0, nil, err
	}
	ct := &d.ct
	switch ev {
	case ctNew:
		if old, ok := ct.conns[key]; ok {
			delete(ct.conns, key)
			if err := d.emitConn(old, nil); err != nil {
				return 0, nil, err
			}
		}
		if len(ct.conns) >= maxPending {
			if err := d.emitOldestConn(); err != nil {
				return 0, nil, err
			}
		}
		ct.seq++
		conn.seq = ct.seq
		ct.conns[key] = conn
		ct.order = append(ct.order, ctOrder{key: key, seq: conn.seq})
		return stHeld, nil, nil
	case ctUpdate:
		if held, ok := ct.conns[key]; ok && !unreplied && !held.replied {
			held.replied = true
			ct.conns[key] = held
		}
		return stSkip, nil, nil
	}
	// DESTROY
	var counters *ctTuple
	if orig.hasCounters {
		counters = &orig
	}
	if held, ok := ct.conns[key]; ok {
		delete(ct.conns, key)
		held.replied = held.replied || !unreplied
		if err := d.emitConn(held, counters); err != nil {
			return 0, nil, err
		}
		return stSkip, nil, nil
	}
	// A connection opened before the capture began (or held past the
	// hold time): deliver it from its DESTROY event alone.
	if delta >= 0 {
		conn.start = ts - delta*int64(time.Second)
	}
	d.fillConn(conn, counters)
	return stDeliver, nil, nil
}

// conntrackTime reads the "[seconds.micros]" prefix of -o timestamp.
func conntrackTime(line []byte) (int64, []byte, *fieldError) {
	if len(line) < 2 || line[0] != '[' || line[1] < '0' || line[1] > '9' {
		if bytes.HasPrefix(line, []byte("[NEW]")) || bytes.HasPrefix(line, []byte("[UPDATE]")) || bytes.HasPrefix(line, []byte("[DESTROY]")) {
			return 0, nil, errField("timestamp", "missing: record conntrack events with -o timestamp,extended")
		}
		return 0, nil, errField("timestamp", "expected [seconds.microseconds] event timestamp")
	}
	end := bytes.IndexByte(line, ']')
	if end < 0 {
		return 0, nil, errField("timestamp", "unterminated [")
	}
	raw := line[1:end]
	secPart, fracPart := raw, []byte(nil)
	if dot := bytes.IndexByte(raw, '.'); dot >= 0 {
		secPart, fracPart = raw[:dot], raw[dot+1:]
	}
	sec, ok := parseUint(secPart, 1<<40)
	if !ok || len(fracPart) > 9 {
		return 0, nil, errValue("timestamp", "event timestamp", raw)
	}
	var nsec uint64
	if len(fracPart) > 0 {
		if nsec, ok = parseUint(fracPart, 999999999); !ok {
			return 0, nil, errValue("timestamp", "event timestamp", raw)
		}
		for n := len(fracPart); n < 9; n++ {
			nsec *= 10
		}
	}
	return int64(sec)*int64(time.Second) + int64(nsec), line[end+1:], nil
}

// conntrackProto reads the protocol number from the tokens before the first
// tuple: [l3name l3num] l4name l4num [timeout] [state].
func conntrackProto(prelude [][]byte) (int, *fieldError) {
	i := 0
	if len(prelude) > 0 {
		switch string(prelude[0]) {
		case "ipv4", "ipv6", "unknown":
			i = 2
		}
	}
	if i+1 >= len(prelude) {
		return 0, errField("protocol", "missing layer 4 protocol name and number")
	}
	v, ok := parseUint(prelude[i+1], 255)
	if !ok {
		return 0, errValue("protocol", "protocol number", prelude[i+1])
	}
	return int(v), nil
}

func isICMP(proto int) bool { return proto == int(event.ProtoICMP) || proto == int(event.ProtoICMPv6) }

// hasPorts reports whether the protocol's tuple carries ports (TCP, UDP,
// UDP-Lite, SCTP, DCCP).
func hasPorts(p event.Protocol) bool {
	switch p {
	case event.ProtoTCP, event.ProtoUDP, event.ProtoSCTP, 33, 136:
		return true
	}
	return false
}

// fillConn writes a connection into d.flow. Without counters the flow
// carries Packets 1 (at least the first packet was seen) and Bytes 0.
func (d *Decoder) fillConn(c ctConn, counters *ctTuple) {
	v := event.VerdictUnknown
	if c.replied {
		v = event.VerdictForwarded
	}
	d.flow = event.Flow{
		Time:     time.Unix(0, c.start).UTC(),
		Src:      event.Endpoint{IP: c.src, Port: c.sport},
		Dst:      event.Endpoint{IP: c.dst, Port: c.dport},
		Protocol: c.proto,
		Packets:  1,
		Verdict:  v,
	}
	if counters != nil {
		d.flow.Packets, d.flow.Bytes = counters.packets, counters.bytes
	}
}

func (d *Decoder) emitConn(c ctConn, counters *ctTuple) error {
	d.fillConn(c, counters)
	return d.emit(&d.flow, true)
}

// expireConntrack delivers, without counters, the held connections whose
// NEW event is more than the hold time older than now.
func (d *Decoder) expireConntrack(now int64) error {
	ct := &d.ct
	if now > ct.newest {
		ct.newest = now
	}
	for ct.head < len(ct.order) {
		o := ct.order[ct.head]
		c, ok := ct.conns[o.key]
		if ok && c.seq == o.seq && (ct.newest < math.MinInt64+ct.hold || c.start >= ct.newest-ct.hold) {
			break
		}
		ct.head++
		if ok && c.seq == o.seq {
			delete(ct.conns, o.key)
			if err := d.emitConn(c, nil); err != nil {
				return err
			}
		}
	}
	ct.compact()
	return nil
}

// emitOldestConn delivers the oldest held connection to make room.
func (d *Decoder) emitOldestConn() error {
	ct := &d.ct
	for ct.head < len(ct.order) {
		o := ct.order[ct.head]
		ct.head++
		if c, ok := ct.conns[o.key]; ok && c.seq == o.seq {
			delete(ct.conns, o.key)
			return d.emitConn(c, nil)
		}
	}
	return nil
}

// flushConntrack delivers every held connection, oldest first.
func (d *Decoder) flushConntrack() error {
	ct := &d.ct
	for ct.head < len(ct.order) {
		o := ct.order[ct.head]
		ct.head++
		if c, ok := ct.conns[o.key]; ok && c.seq == o.seq {
			delete(ct.conns, o.key)
			if err := d.emitConn(c, nil); err != nil {
				return err
			}
		}
	}
	ct.order, ct.head = ct.order[:0], 0
	return nil
}

// compact drops consumed entries from the front of the order queue once
// they make up half of it.
func (ct *conntrackState) compact() {
	if ct.head > 1024 && ct.head*2 > len(ct.order) {
		n := copy(ct.order, ct.order[ct.head:])
		ct.order, ct.head = ct.order[:n], 0
	}
}
