package flow

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Fuzz tests: every decoder must survive any input without panicking, keep
// its counters consistent, and — where a reference decoder exists — agree
// with it on every record the reference accepts.

// fuzzDecode runs the whole input through a decoder of the given format.
func fuzzDecode(t *testing.T, format Format, data []byte) {
	t.Helper()
	for _, strict := range []bool{false, true} {
		d := NewDecoder(Options{Format: format, Strict: strict})
		err := d.Decode(bytes.NewReader(data), "fuzz", func(f *event.Flow) error {
			if !f.Src.IP.IsValid() || !f.Dst.IP.IsValid() {
				t.Fatalf("delivered a flow without addresses: %+v", f)
			}
			return nil
		})
		if err == nil {
			checkInvariant(t, d.Stats())
		}
	}
}

// decodeOne decodes one line alone, without dedup, and returns the result.
func decodeOne(format Format, line []byte) (refResult, bool) {
	d := NewDecoder(Options{Format: format, DedupWindow: -1})
	var r refResult
	delivered := false
	if err := d.Decode(bytes.NewReader(line), "fuzz", func(f *event.Flow) error {
		r.flow, delivered = *f, true
		return nil
	}); err != nil {
		return r, false
	}
	st := d.Stats()
	switch {
	case st.Rejected > 0:
		return r, false
	case delivered:
		r.st = stDeliver
	case st.Replies > 0:
		r.st = stReply
	default:
		r.st = stSkip
	}
	return r, true
}

func compareRef(t *testing.T, line []byte, ref refResult, refErr error, format Format) {
	t.Helper()
	if refErr != nil {
		return
	}
	got, ok := decodeOne(format, line)
	if !ok {
		d := NewDecoder(Options{Format: format})
		_ = d.Decode(bytes.NewReader(line), "fuzz", func(*event.Flow) error { return nil })
		t.Fatalf("reference accepts %q (status %d) but the decoder rejects it: %v", line, ref.st, d.Stats().Errors)
	}
	if got.st != ref.st {
		t.Fatalf("%q: status %d, reference %d", line, got.st, ref.st)
	}
	if got.st == stDeliver {
		if g, w := summary(&got.flow), summary(&ref.flow); g != w || !got.flow.Time.Equal(ref.flow.Time) {
			t.Fatalf("%q:\n got: %s\nwant: %s", line, g, w)
		}
	}
}

// bothSpellings reports inputs naming one field twice (proto and camelCase
// names), whose precedence the format leaves open.
func bothSpellings(line []byte) bool {
	for _, p := range [][2]string{{"node_name", "nodeName"}, {"pod_name", "podName"}, {"is_reply", "isReply"},
		{"source_port", "sourcePort"}, {"destination_port", "destinationPort"},
		{"source_names", "sourceNames"}, {"destination_names", "destinationNames"}} {
		if bytes.Contains(line, []byte(`"`+p[0]+`"`)) && bytes.Contains(line, []byte(`"`+p[1]+`"`)) {
			return true
		}
	}
	return false
}

func FuzzHubble(f *testing.F) {
	// Seeds stay short: the fuzzer minimizes every new input, and a 1.5 KB
	// capture line takes it minutes at this body's speed.
	f.Add([]byte(hubbleLine))
	f.Add([]byte(`{"time":"2024-03-01T10:00:00.5Z","IP":{"source":"fd00::1","destination":"fd00::2"},"l4":{"ICMPv6":{"type":128}},"source":{"labels":["k8s:a=b","reserved:host"]},"isReply":null}`))
	f.Add([]byte(`{"flow":{"verdict":2,"Type":1,"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":"80","destination_port":40000,"flags":{"SYN":true,"ACK":true}}}},"time":"2024-03-01T10:00:00Z"}`))
	f.Add([]byte(`{"flow":{"source":{"namespace":"a\u00e9\ud83d\ude00\"","pod_name":"\ud800x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatHubble, data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 || bothSpellings(line) {
				continue
			}
			ref, dup, err := refHubble(line)
			if dup {
				continue
			}
			compareRef(t, line, ref, err, FormatHubble)
		}
	})
}

func FuzzGeneric(f *testing.F) {
	f.Add([]byte(genericLine))
	f.Add([]byte(`{"time":"2024-05-01T12:00:00.25+02:00","src_ip":"fd00::5","src_port":"53000","dst_ip":"fd00::a","dst_port":53,"protocol":"udp","bytes":"64","packets":1,"verdict":"dropped","x":{"y":[1,{"z":null}]}}`))
	f.Add([]byte(`{"time":"2024-05-01T12:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":132,"dst_name":"a.b","src_labels":["app=x"],"reply":false,"node":"n\u0031"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatGeneric, data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			ref, dup, err := refGeneric(line)
			if dup {
				continue
			}
			compareRef(t, line, ref, err, FormatGeneric)
		}
	})
}

func FuzzVPC(f *testing.F) {
	f.Add([]byte(vpcLine))
	f.Add([]byte("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" + vpcLine))
	f.Add([]byte("2 1 eni-a 2001:db8::2 2001:db8::1 53 40000 17 1 120 1700000000 1700000060 ACCEPT OK\n2 1 eni-a - - - - - - - 1 2 - NODATA"))
	f.Add([]byte("version srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport protocol start tcp-flags\n5 10.0.0.1 10.0.0.2 - 10.0.0.9 1 2 6 3 18"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatVPC, data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			l := trimSpace(line)
			if len(l) == 0 || isVPCHeader(l) || bytes.HasPrefix(l, []byte(utf8BOM)) {
				continue
			}
			ref, err := refVPC(string(l))
			compareRef(t, line, ref, err, FormatVPC)
		}
	})
}

func FuzzConntrack(f *testing.F) {
	f.Add([]byte(conntrackLine))
	f.Add([]byte("[1700000000.000002]\t    [NEW] icmp     1 30 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4242 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=4242\n" +
		"[1700000001.000000]\t[DESTROY] ipv4     2 icmp     1 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4242 packets=1 bytes=84 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=4242 packets=1 bytes=84 mark=0 delta-time=1 [start=Tue Nov 14 22:13:20 2023] use=1"))
	f.Add([]byte("[1700000000.1]\t [UPDATE] ipv6     10 tcp      6 60 SYN_RECV src=fd00::1 dst=fd00::2 sport=1 dport=2 src=fd00::3 dst=fd00::1 sport=2 dport=1 [ASSURED] zone=4\nconntrack v1.4.8 (conntrack-tools): 1 flow events have been shown."))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, FormatConntrack, data)
	})
}

// FuzzParseAddr checks the allocation-free IPv4 parser against netip.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::ffff:1.2.3.4", "fe80::1%eth0", "256.1.1.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseAddr([]byte(s))
		want, err := netipParse(s)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("parseAddr(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
	})
}

// FuzzParseRFC3339 checks the fast timestamp parser against time.Parse.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2021-06-16T16:52:13.136834446Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-03-01T10:00:00.5+02:00",
		"0000-01-01T00:00:00Z", "2024-03-01T24:00:00Z", "2024-03-01T10:00:60Z", "2024-03-01t10:00:00z", "2024-03-01T10:00:00.1234567891Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if len(s) > 64 {
			return // parseRFC3339 refuses overlong values outright
		}
		if ok != (err == nil) || ok && !got.Equal(want) {
			t.Fatalf("parseRFC3339(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, err)
		}
	})
}

func netipParse(s string) (netip.Addr, error) {
	x, err := netip.ParseAddr(s)
	if err != nil {
		return x, err
	}
	if !x.Is4() && !strings.Contains(s, ":") {
		return x, errRef
	}
	return x.Unmap().WithZone(""), nil
}
