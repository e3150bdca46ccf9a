package event

import (
	"net/netip"
	"strconv"
	"time"
)

// Protocol is an IP protocol number (IANA): 6 TCP, 17 UDP, 132 SCTP, 1 ICMP.
type Protocol uint8

// IP protocols kubedelta names.
const (
	ProtoICMP   Protocol = 1
	ProtoTCP    Protocol = 6
	ProtoUDP    Protocol = 17
	ProtoICMPv6 Protocol = 58
	ProtoSCTP   Protocol = 132
)

// String returns the Kubernetes spelling (TCP, UDP, SCTP) or the number.
func (p Protocol) String() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "ICMPv6"
	}
	return strconv.Itoa(int(p))
}

// Verdict is what the network did with a flow.
type Verdict uint8

// Flow verdicts.
const (
	VerdictUnknown Verdict = iota
	VerdictForwarded
	VerdictDropped
)

// String returns FORWARDED, DROPPED or UNKNOWN.
func (v Verdict) String() string {
	switch v {
	case VerdictForwarded:
		return "FORWARDED"
	case VerdictDropped:
		return "DROPPED"
	}
	return "UNKNOWN"
}

// Endpoint is one side of a flow as the source described it. Only the
// address is always set; the rest are hints some sources (Hubble) carry and
// enrichment prefers over its own IP lookup.
type Endpoint struct {
	IP        netip.Addr
	Port      uint16
	Namespace string
	Pod       string
	// Labels are "key=value" pairs; Hubble's "k8s:" source prefix removed.
	Labels []string
	// Names are DNS names the source associated with the address.
	Names []string
}

// Flow is one observed connection or connection summary (L3/L4), oriented
// from the initiator (Src) to the responder (Dst). Decoders drop replies.
type Flow struct {
	Time     time.Time
	Src, Dst Endpoint
	Protocol Protocol
	Bytes    uint64
	Packets  uint64
	Verdict  Verdict
	// Node is the node that observed the flow, when known.
	Node string
}
