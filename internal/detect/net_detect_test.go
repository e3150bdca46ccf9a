package detect

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

var (
	wkAPI    = baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/api", Namespace: "shop", IP: netip.MustParseAddr("10.244.1.7")}
	wkDB     = baseline.Peer{Kind: baseline.PeerWorkload, Workload: "StatefulSet/shop/db", Namespace: "shop", IP: netip.MustParseAddr("10.244.2.3")}
	wkCache  = baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/cache", Namespace: "shop", IP: netip.MustParseAddr("10.244.3.4")}
	wkNode   = baseline.Peer{Kind: baseline.PeerNode, Workload: "Node/node-1", IP: netip.MustParseAddr("192.168.0.11")}
	wkStripe = baseline.Peer{Kind: baseline.PeerExternal, IP: netip.MustParseAddr("198.51.100.20"), Name: "api.stripe.com"}
)

func wkExternal(ip, name string) baseline.Peer {
	return baseline.Peer{Kind: baseline.PeerExternal, IP: netip.MustParseAddr(ip), Name: name}
}

// wkNetBaseline: api has talked to db on 5432 and to a payment API on 443
// for a day.
func wkNetBaseline(s *State) {
	for i := range 40 {
		t := wkT0.Add(time.Duration(i) * 30 * time.Minute)
		s.Profiles.ObserveEdge(wkAPI, wkDB, 5432, 6, 4096, 10, t, 24, 64)
		s.Profiles.ObserveEdge(wkAPI, wkStripe, 443, 6, 20000, 30, t, 24, 64)
	}
}

func wkFlow(src, dst baseline.Peer, port uint16, bytes uint64, verdict event.Verdict) *Flow {
	proto := event.ProtoTCP
	if port == 53 {
		proto = event.ProtoUDP
	}
	return &Flow{Flow: &event.Flow{Time: wkNow, Protocol: proto, Bytes: bytes, Packets: 1 + bytes/1400, Verdict: verdict, Node: "node-1",
		Src: event.Endpoint{IP: src.IP, Port: 41234}, Dst: event.Endpoint{IP: dst.IP, Port: port}}, Src: src, Dst: dst}
}

func TestNetwork(t *testing.T) {
	fw := event.VerdictForwarded
	cases := []struct {
		name    string
		setup   func(*State)
		flow    *Flow
		rule    string
		sev     Severity
		message string
		mitre   string
	}{
		{name: "known edge", flow: wkFlow(wkAPI, wkDB, 5432, 1<<20, fw)},
		{name: "known external CIDR", flow: wkFlow(wkAPI, wkExternal("198.51.100.77", ""), 443, 1<<20, fw)},
		{name: "new peer", rule: RuleNetNovelConnection, sev: Medium, message: "Deployment/shop/api sent 2 KiB to Deployment/shop/cache on TCP 6379, a peer it never talked to in 2d of baseline",
			mitre: "T1046", flow: wkFlow(wkAPI, wkCache, 6379, 2048, fw)},
		{name: "new port on a known peer", rule: RuleNetNovelConnection, sev: Low, message: "a port it never used on a peer it knows",
			flow: wkFlow(wkAPI, wkDB, 5433, 4096, fw)},
		{name: "SSH to a known peer", rule: RuleNetNovelConnection, sev: Medium, message: "(SSH)", mitre: "T1046", flow: wkFlow(wkAPI, wkDB, 22, 100, fw)},
		{name: "kubelet", rule: RuleNetNovelConnection, sev: Medium, message: "(the kubelet API)", flow: wkFlow(wkAPI, wkNode, 10250, 300, fw)},
		{name: "probe answer leaving", rule: RuleNetNovelEgress, sev: Low, message: "sent 60 B to 203.0.113.7 on TCP 443, outside the cluster: 203.0.113.0/24 is new to it after 2d of baseline",
			mitre: "T1041", flow: wkFlow(wkAPI, wkExternal("203.0.113.7", ""), 443, 60, fw)},
		{name: "megabytes leaving", rule: RuleNetNovelEgress, sev: High, message: "sent 20 MiB", mitre: "T1048",
			flow: wkFlow(wkAPI, wkExternal("203.0.113.7", ""), 8443, 20<<20, fw)},
		{name: "gigabytes leaving", rule: RuleNetNovelEgress, sev: Critical, message: "sent 2 GiB", mitre: "T1041",
			flow: wkFlow(wkAPI, wkExternal("203.0.113.7", "files.example.net"), 443, 2<<30, fw)},
		{name: "reverse shell port", rule: RuleNetNovelEgress, sev: High, message: "Metasploit", mitre: "T1571",
			flow: wkFlow(wkAPI, wkExternal("203.0.113.7", ""), 4444, 200, fw)},
		{name: "mining pool", rule: RuleNetNovelEgress, sev: High, message: "the name is a mining pool's", mitre: "T1496",
			flow: wkFlow(wkAPI, wkExternal("192.0.2.50", "pool.supportxmr.com"), 443, 300, fw)},
		{name: "stratum port", rule: RuleNetNovelEgress, sev: High, message: "stratum", mitre: "T1496",
			flow: wkFlow(wkAPI, wkExternal("192.0.2.50", ""), 3333, 300, fw)},
		{name: "known CIDR on a miner port", rule: RuleNetNovelEgress, sev: High, message: "a new port on 198.51.100.0/24, which it uses; a cryptocurrency-mining (stratum) port",
			flow: wkFlow(wkAPI, wkExternal("198.51.100.20", ""), 14444, 300, fw)},
		{name: "known CIDR on a new ordinary port", flow: wkFlow(wkAPI, wkExternal("198.51.100.20", ""), 8443, 300, fw)},
		{name: "instance metadata", rule: RuleNetNovelEgress, sev: High, message: "cloud instance metadata service hands out", mitre: "T1552.005",
			flow: wkFlow(wkAPI, wkExternal("169.254.169.254", ""), 80, 900, fw)},
		{name: "DNS to the cluster resolver", flow: wkFlow(wkAPI, wkExternal("10.96.0.10", ""), 53, 90, fw)},
		{name: "DNS to node-local DNS", flow: wkFlow(wkAPI, wkExternal("169.254.20.10", ""), 53, 90, fw)},
		{name: "DNS to the internet", rule: RuleNetNovelEgress, sev: Low, message: "UDP 53", flow: wkFlow(wkAPI, wkExternal("8.8.8.8", ""), 53, 90, fw)},
		{name: "new workload warming up", flow: wkFlow(wkCache, wkExternal("203.0.113.7", ""), 443, 1<<30, fw)},
		{name: "learning window", setup: func(s *State) { s.Config.LearnUntil = wkNow.Add(time.Hour) },
			flow: wkFlow(wkAPI, wkExternal("203.0.113.7", ""), 443, 1<<30, fw)},
		{name: "node egress", flow: wkFlow(wkNode, wkExternal("203.0.113.7", ""), 443, 1<<30, fw)},

		{name: "dropped", rule: RuleNetDenied, sev: Low, message: "Deployment/shop/api was denied TCP 6379 to Deployment/shop/cache: network policy does not allow it",
			mitre: "T1046", flow: wkFlow(wkAPI, wkCache, 6379, 0, event.VerdictDropped)},
		{name: "dropped to the kubelet", rule: RuleNetDenied, sev: Medium, message: "the kubelet API", flow: wkFlow(wkAPI, wkNode, 10250, 0, event.VerdictDropped)},
		{name: "dropped from outside", rule: RuleNetDenied, sev: Low, message: "203.0.113.0/24 was denied TCP 8080 to Deployment/shop/api",
			flow: wkFlow(wkExternal("203.0.113.99", ""), wkAPI, 8080, 0, event.VerdictDropped)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := wkState()
			wkNetBaseline(s)
			if tc.setup != nil {
				tc.setup(s)
			}
			d := NetworkDetectors(NetOptions{ClusterDNS: []netip.Addr{netip.MustParseAddr("10.96.0.10")}})[0].(FlowDetector)
			var k wkSink
			d.Flow(s, tc.flow, k.emit)
			if tc.rule == "" {
				if len(k.alerts) != 0 {
					t.Fatalf("want no alert, got %s", wkDescribe(k.alerts))
				}
				return
			}
			a := wkOne(t, k.alerts, tc.rule)
			wkCheckAlert(t, a)
			if a.Severity != tc.sev || !strings.Contains(a.Message, tc.message) {
				t.Errorf("got %s %q, want %s and %q", a.Severity, a.Message, tc.sev, tc.message)
			}
			if tc.mitre != "" && a.MITRE[0] != tc.mitre {
				t.Errorf("MITRE %v, want %s first", a.MITRE, tc.mitre)
			}
			if a.Workload == "" && tc.flow.Src.Kind == baseline.PeerWorkload {
				t.Errorf("no workload")
			}
		})
	}
}

// TestNetScoreGrowsWithBytes: severity and score never fall as bytes grow.
func TestNetScoreGrowsWithBytes(t *testing.T) {
	prevSev, prevScore := Info, -1.0
	for n := uint64(0); n < 1<<40; n = n*3 + 1 {
		sev, score := netBytesSeverity(n), netBytesScore(n)
		if sev < prevSev || score < prevScore || score > 99 {
			t.Fatalf("%d bytes: %s %v after %s %v", n, sev, score, prevSev, prevScore)
		}
		prevSev, prevScore = sev, score
	}
	if netBytesSeverity(512) != Low || netBytesSeverity(20<<20) != High || netBytesSeverity(3<<30) != Critical {
		t.Error("thresholds moved")
	}
}

// TestAppendPeerKey: the allocation-free key equals the baseline's.
func TestAppendPeerKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for range 2000 {
		var p baseline.Peer
		switch rng.IntN(4) {
		case 0:
			p = baseline.Peer{Kind: baseline.PeerExternal, IP: netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})}
		case 1:
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			p = baseline.Peer{Kind: baseline.PeerUnknown, IP: netip.AddrFrom16(b)}
		case 2:
			p = baseline.Peer{Kind: baseline.PeerExternal, IP: netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 203, 13: 0, 14: 113, 15: byte(rng.IntN(256))})}
		default:
			p = wkDB
		}
		for _, bits := range [][2]int{{24, 64}, {32, 128}, {8, 48}, {0, 0}} {
			want := baseline.PeerKey(p, bits[0], bits[1])
			if got := string(appendPeerKey(nil, p, bits[0], bits[1])); got != want {
				t.Fatalf("%+v %v: %q, want %q", p, bits, got, want)
			}
		}
	}
}

func TestNetworkAllocs(t *testing.T) {
	s := wkState()
	wkNetBaseline(s)
	d := NetworkDetectors(NetOptions{})[0].(FlowDetector)
	emit := func(Alert) { t.Fatal("no alert expected") }
	internal := wkFlow(wkAPI, wkDB, 5432, 4096, event.VerdictForwarded)
	external := wkFlow(wkAPI, wkExternal("198.51.100.77", ""), 443, 4096, event.VerdictForwarded)
	for _, f := range []*Flow{internal, external} {
		if n := testing.AllocsPerRun(100, func() { d.Flow(s, f, emit) }); n > 0 {
			t.Errorf("known flow to %s allocates %v times", f.Dst.IP, n)
		}
	}
}

// A brand-new workload is learning its edges (workload.first-seen reports
// it), but egress that is suspicious in itself is still reported: a miner
// deployed as a new workload is what warm-up must not hide.
func TestNetNewWorkloadSuspiciousEgress(t *testing.T) {
	miner := baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/media/metrics-collector", Namespace: "media", IP: netip.MustParseAddr("10.244.4.9")}
	pool := wkExternal("203.0.113.80", "pool.supportxmr.com")
	fw := event.VerdictForwarded
	tests := []struct {
		name  string
		flow  *Flow
		alert bool
	}{
		{"mining pool on a stratum port", wkFlow(miner, pool, 3333, 1<<20, fw), true},
		{"metadata address", wkFlow(miner, wkExternal("169.254.169.254", ""), 80, 512, fw), true},
		{"ordinary HTTPS from a new workload is learned", wkFlow(miner, wkExternal("198.51.100.9", "api.example.com"), 443, 1<<20, fw), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wkState()
			d := NetworkDetectors(NetOptions{})[0].(FlowDetector)
			var k wkSink
			d.Flow(s, tt.flow, k.emit)
			if got := len(k.alerts) > 0; got != tt.alert {
				t.Fatalf("alert = %v, want %v (%s)", got, tt.alert, wkDescribe(k.alerts))
			}
			if tt.alert && k.alerts[0].Rule != RuleNetNovelEgress {
				t.Errorf("rule %s, want %s", k.alerts[0].Rule, RuleNetNovelEgress)
			}
		})
	}
	// During the global learning window nothing is reported.
	s := wkState()
	s.Config.LearnUntil = wkNow.Add(time.Hour)
	var k wkSink
	NetworkDetectors(NetOptions{})[0].(FlowDetector).Flow(s, wkFlow(miner, pool, 3333, 1<<20, fw), k.emit)
	if len(k.alerts) != 0 {
		t.Errorf("alert during the learning window: %s", wkDescribe(k.alerts))
	}
}
