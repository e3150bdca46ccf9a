package detect

import (
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/event"
)

// Defaults of NetOptions.
const (
	DefaultNetV4Bits = 24
	DefaultNetV6Bits = 64
)

// NetOptions tune the network detectors. The zero value means the defaults.
type NetOptions struct {
	// V4Bits and V6Bits are the prefix lengths external addresses are
	// grouped by: they must be the ones the pipeline passes to
	// baseline.Profiles.ObserveEdge, or every external edge looks new.
	V4Bits, V6Bits int
	// ClusterDNS are the cluster's DNS addresses (the kube-dns Service's
	// ClusterIP, node-local DNS caches): DNS to them, or to a link-local
	// address, is never novel egress.
	ClusterDNS []netip.Addr
	// SuspiciousPorts adds destination ports that raise severity, to the
	// built-in miner, reverse-shell and Tor ports.
	SuspiciousPorts []uint16
}

// NetworkDetectors returns the detectors of network flows:
// net.novel-connection, net.novel-egress and net.denied. They keep no state
// of their own and are safe for concurrent use.
func NetworkDetectors(opts NetOptions) []Detector {
	d := &netDetector{v4: opts.V4Bits, v6: opts.V6Bits, dns: slices.Clone(opts.ClusterDNS), extra: slices.Clone(opts.SuspiciousPorts)}
	if d.v4 <= 0 || d.v4 > 32 {
		d.v4 = DefaultNetV4Bits
	}
	if d.v6 <= 0 || d.v6 > 128 {
		d.v6 = DefaultNetV6Bits
	}
	return []Detector{d}
}

type netDetector struct {
	v4, v6 int
	dns    []netip.Addr
	extra  []uint16
}

func (d *netDetector) Rules() []Rule {
	return []Rule{
		{ID: RuleNetNovelConnection, Category: CategoryNetwork, Severity: Critical, MITRE: []string{"T1046", "T1021"},
			Summary: "a workload connects to a workload, node or in-cluster address, or on a port, it never used; severity grows with bytes and sensitive ports (kubelet, etcd, SSH)"},
		{ID: RuleNetNovelEgress, Category: CategoryNetwork, Severity: Critical, MITRE: []string{"T1041", "T1048", "T1496", "T1571", "T1552.005"},
			Summary: "a workload connects to an external CIDR it never contacted; severity grows with bytes, miner, reverse-shell and Tor ports, mining pools and the cloud metadata address"},
		{ID: RuleNetDenied, Category: CategoryNetwork, Severity: Medium, MITRE: []string{"T1046"},
			Summary: "a flow dropped by network policy, one alert per (source, destination, port)"},
	}
}

func (d *netDetector) Flow(s *State, f *Flow, emit Emit) {
	if f.Verdict == event.VerdictDropped {
		d.denied(f, emit)
		return
	}
	if f.Src.Kind != baseline.PeerWorkload {
		return
	}
	wp := s.Profiles.Workloads[f.Src.Workload]
	if wp == nil || !specNovel(s, f.Time, wp.Seen.First, wp.Seen.Count) {
		// A new workload (workload.first-seen reports it) or warming up:
		// its edges are being learned. Egress that is suspicious in itself
		// (a mining pool, a miner or reverse-shell port, the cloud
		// metadata address) is still reported, outside the global
		// learning window: a miner deployed as a new workload is exactly
		// what warm-up must not hide.
		if d.suspiciousEgress(s, f) {
			if wp == nil {
				wp = &baseline.WorkloadProfile{}
			}
			var buf [64]byte
			k := baseline.EdgeKey{Peer: string(appendPeerKey(buf[:0], f.Dst, d.v4, d.v6)), Port: f.Flow.Dst.Port, Protocol: uint8(f.Protocol)}
			if wp.Egress[k] == nil {
				d.novelEgress(s, f, wp, k, emit)
			}
		}
		return
	}
	k := baseline.EdgeKey{Port: f.Flow.Dst.Port, Protocol: uint8(f.Protocol)}
	if f.Dst.Kind == baseline.PeerWorkload || f.Dst.Kind == baseline.PeerNode {
		k.Peer = f.Dst.Workload
		if wp.Egress[k] == nil {
			d.novelConnection(s, f, wp, k, emit)
		}
		return
	}
	if d.clusterDNS(f) {
		return
	}
	var buf [64]byte
	key := appendPeerKey(buf[:0], f.Dst, d.v4, d.v6)
	if wp.Egress[baseline.EdgeKey{Peer: string(key), Port: k.Port, Protocol: k.Protocol}] != nil {
		return
	}
	k.Peer = string(key)
	if f.Dst.Kind == baseline.PeerExternal {
		d.novelEgress(s, f, wp, k, emit)
	} else {
		d.novelConnection(s, f, wp, k, emit)
	}
}

// suspiciousEgress reports an external destination that is suspicious in
// itself, after the global learning window.
func (d *netDetector) suspiciousEgress(s *State, f *Flow) bool {
	if f.Dst.Kind != baseline.PeerExternal {
		return false
	}
	if lu := s.Config.LearnUntil; !lu.IsZero() && f.Time.Before(lu) {
		return false
	}
	return d.netPortClass(f.Flow.Dst.Port) != "" || netMiningName(f.Dst.Name) || netMetadataAddr(f.Dst.IP)
}

// appendPeerKey appends baseline.PeerKey(p, v4, v6) without allocating.
func appendPeerKey(dst []byte, p baseline.Peer, v4, v6 int) []byte {
	if p.Kind == baseline.PeerWorkload || p.Kind == baseline.PeerNode {
		return append(dst, p.Workload...)
	}
	b := v6
	if p.IP.Is4() || p.IP.Is4In6() {
		b = v4
	}
	pre, err := p.IP.Unmap().Prefix(b)
	if err != nil {
		return p.IP.AppendTo(dst)
	}
	return pre.AppendTo(dst)
}

// clusterDNS reports DNS to the cluster's resolvers or a link-local one.
func (d *netDetector) clusterDNS(f *Flow) bool {
	if f.Flow.Dst.Port != 53 {
		return false
	}
	ip := f.Dst.IP.Unmap()
	return ip.IsLinkLocalUnicast() || slices.Contains(d.dns, ip) || slices.Contains(d.dns, f.Dst.IP)
}

// netBytesSeverity scales severity with the bytes a flow carried: one packet
// answering a probe is not megabytes leaving.
func netBytesSeverity(n uint64) Severity {
	switch {
	case n >= 1<<30:
		return Critical
	case n >= 10<<20:
		return High
	case n >= 1<<10:
		return Medium
	}
	return Low
}

// netBytesScore grows with log2(bytes): about 33 at 1 KiB, 63 at 1 MiB,
// 93 at 1 GiB.
func netBytesScore(n uint64) float64 {
	return min(99, 3*float64(bits.Len64(n)))
}

// netPortClass names destination ports used by miners, reverse shells and
// Tor ("" for others).
func (d *netDetector) netPortClass(port uint16) string {
	switch port {
	case 3333, 5555, 7777, 14433, 14444, 45560, 45700:
		return "a cryptocurrency-mining (stratum) port"
	case 4444:
		return "a port used by miners and reverse shells (Metasploit's default)"
	case 1337, 31337, 4445, 6666, 6667, 1234:
		return "a port used by reverse shells and IRC command channels"
	case 9001, 9030, 9050, 9051, 9150:
		return "a Tor port"
	}
	if slices.Contains(d.extra, port) {
		return "a port configured as suspicious"
	}
	return ""
}

// netMiningName reports DNS names of mining pools.
func netMiningName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range [...]string{"pool", "stratum", "xmr", "monero", "nicehash", "minexmr", "nanopool", "2miners", "f2pool", "ethermine", "hashvault", "moneroocean"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// netMetadataAddr reports the cloud instance metadata addresses.
func netMetadataAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip == netip.AddrFrom4([4]byte{169, 254, 169, 254}) ||
		ip == netip.AddrFrom4([4]byte{100, 100, 100, 200}) || // Alibaba Cloud
		ip == netip.AddrFrom16([16]byte{0xfd, 0x00, 0x0e, 0xc2, 14: 0x02, 15: 0x54})
}

// netSensitivePort names in-cluster service ports worth raising severity.
func netSensitivePort(port uint16) string {
	switch port {
	case 10250, 10255:
		return "the kubelet API"
	case 2379, 2380:
		return "etcd"
	case 2375, 2376:
		return "the Docker API"
	case 22:
		return "SSH"
	case 10257, 10259:
		return "a control-plane component's port"
	case 6443:
		return "the Kubernetes API server"
	}
	return ""
}

func (d *netDetector) novelEgress(s *State, f *Flow, wp *baseline.WorkloadProfile, k baseline.EdgeKey, emit Emit) {
	bytes := f.Flow.Bytes
	sev, score := netBytesSeverity(bytes), netBytesScore(bytes)
	peer := netPeerOf(s, f.Time, wp, k.Peer)
	var reasons, mitre []string
	switch {
	case peer.established:
		reasons = append(reasons, "a new port on "+k.Peer+", which it uses")
	case peer.first.IsZero():
		reasons = append(reasons, k.Peer+" is new to it after "+netAge(f.Time, wp.Seen.First)+" of baseline")
	default:
		reasons = append(reasons, k.Peer+" was first contacted at "+peer.first.UTC().Format("15:04")+" on "+netProtoPort(peer.recent))
		if c := d.netPortClass(peer.recent.Port); c != "" {
			// The destination of an earlier shell or miner connection.
			sev, score = max(sev, High), score+10
			reasons[0] += ", " + c
		}
	}
	switch class := d.netPortClass(k.Port); {
	case netMetadataAddr(f.Dst.IP):
		sev, score = max(sev, High), score+20
		reasons = append(reasons, "the cloud instance metadata service hands out the node's cloud credentials")
		mitre = []string{"T1552.005"}
	case netMiningName(f.Dst.Name):
		sev, score = max(sev, High), score+20
		reasons = append(reasons, "the name is a mining pool's")
		mitre = []string{"T1496"}
	case class != "":
		// A workload opening a connection out to such a port is rarely
		// benign, and shells and miners move few bytes.
		sev, score = max(specRaise(sev, 1), High), score+10
		reasons = append(reasons, class)
		mitre = []string{"T1571"}
		if strings.Contains(class, "mining") {
			mitre = []string{"T1496"}
		}
	case peer.established:
		return // a new port on a destination it already uses, nothing unusual about it
	}
	switch {
	case bytes >= 10<<20 && k.Port != 443 && k.Port != 80:
		mitre = append(mitre, "T1048")
	case bytes >= 10<<20 || len(mitre) == 0:
		mitre = append(mitre, "T1041")
	}
	dst := f.Dst.IP.String()
	if f.Dst.Name != "" {
		dst += " (" + f.Dst.Name + ")"
	}
	emit(Alert{
		Time: f.Time, Rule: RuleNetNovelEgress, Category: CategoryNetwork, Severity: sev, Score: min(score, 99),
		Namespace: f.Src.Namespace, Workload: f.Src.Workload,
		Message: f.Src.Workload + netVolumeText(bytes) + dst + " on " + netProtoPort(k) +
			", outside the cluster: " + strings.Join(reasons, "; "),
		Evidence: []Evidence{{Kind: "flow", Time: f.Time, Detail: netFlowText(f)}},
		MITRE:    mitre,
		Key:      k.Peer + " " + netProtoPort(k),
	})
}

func (d *netDetector) novelConnection(s *State, f *Flow, wp *baseline.WorkloadProfile, k baseline.EdgeKey, emit Emit) {
	bytes := f.Flow.Bytes
	sev, score := netBytesSeverity(bytes), netBytesScore(bytes)
	what := "a peer it never talked to"
	if netPeerOf(s, f.Time, wp, k.Peer).established {
		what = "a port it never used on a peer it knows"
		sev = specLower(sev)
	}
	mitre := []string{"T1046"}
	if svc := netSensitivePort(k.Port); svc != "" {
		what += " (" + svc + ")"
		sev, score = max(specRaise(sev, 1), Medium), score+15
		if k.Port == 22 {
			mitre = append(mitre, "T1021")
		}
	} else if class := d.netPortClass(k.Port); class != "" {
		what += " (" + class + ")"
		sev, score = max(specRaise(sev, 1), Medium), score+10
	}
	emit(Alert{
		Time: f.Time, Rule: RuleNetNovelConnection, Category: CategoryNetwork, Severity: sev, Score: min(score, 99),
		Namespace: f.Src.Namespace, Workload: f.Src.Workload,
		Message: f.Src.Workload + netVolumeText(bytes) + k.Peer + " on " + netProtoPort(k) +
			", " + what + " in " + netAge(f.Time, wp.Seen.First) + " of baseline",
		Evidence: []Evidence{{Kind: "flow", Time: f.Time, Detail: netFlowText(f)}},
		MITRE:    mitre,
		Key:      k.Peer + " " + netProtoPort(k),
	})
}

// netPeer is what a workload's baseline says about a peer.
type netPeer struct {
	// established: an edge to the peer, on any port, learned during the
	// learning window or past its own warm-up. A peer first contacted
	// minutes ago (the attacker's address after the first connection) is
	// not established.
	established bool
	// recent is the earliest edge to the peer when none is established.
	recent baseline.EdgeKey
	first  time.Time
}

func netPeerOf(s *State, t time.Time, wp *baseline.WorkloadProfile, peer string) netPeer {
	c := s.Config
	var np netPeer
	for k, st := range wp.Egress {
		if k.Peer != peer {
			continue
		}
		if !c.LearnUntil.IsZero() && st.First.Before(c.LearnUntil) ||
			t.Sub(st.First) >= c.WarmUp && st.Count >= c.WarmUpEvents {
			return netPeer{established: true}
		}
		if np.first.IsZero() || st.First.Before(np.first) {
			np.recent, np.first = k, st.First
		}
	}
	return np
}

func (d *netDetector) denied(f *Flow, emit Emit) {
	k := baseline.EdgeKey{Port: f.Flow.Dst.Port, Protocol: uint8(f.Protocol)}
	k.Peer = string(appendPeerKey(nil, f.Dst, d.v4, d.v6))
	src, wl := f.Src.Workload, ""
	key := k.Peer + " " + netProtoPort(k)
	if f.Src.Kind == baseline.PeerWorkload || f.Src.Kind == baseline.PeerNode {
		wl = src
	} else {
		src = string(appendPeerKey(nil, f.Src, d.v4, d.v6))
		key = src + " → " + key
	}
	sev, score := Low, 10.0
	why := "network policy does not allow it (a probe, or a policy missing a rule)"
	if svc := netSensitivePort(k.Port); svc != "" {
		sev, score, why = Medium, 30, "an attempt to reach "+svc+", which network policy blocked"
	} else if netMetadataAddr(f.Dst.IP) {
		sev, score, why = Medium, 30, "an attempt to reach the cloud metadata service, which network policy blocked"
	} else if class := d.netPortClass(k.Port); class != "" {
		sev, score, why = Medium, 30, "an attempt to reach "+class+", which network policy blocked"
	}
	ns := f.Src.Namespace
	if ns == "" {
		ns = f.Dst.Namespace
	}
	emit(Alert{
		Time: f.Time, Rule: RuleNetDenied, Category: CategoryNetwork, Severity: sev, Score: score,
		Namespace: ns, Workload: wl,
		Message:  src + " was denied " + netProtoPort(k) + " to " + k.Peer + ": " + why,
		Evidence: []Evidence{{Kind: "flow", Time: f.Time, Detail: netFlowText(f)}},
		MITRE:    []string{"T1046"},
		Key:      key,
	})
}

func netProtoPort(k baseline.EdgeKey) string {
	return event.Protocol(k.Protocol).String() + " " + strconv.Itoa(int(k.Port))
}

// netVolumeText is " sent 12 MiB to " when the flow carried a byte count,
// " connected to " when the source does not count bytes (Hubble).
func netVolumeText(n uint64) string {
	if n == 0 {
		return " connected to "
	}
	return " sent " + netBytesText(n) + " to "
}

// netBytesText renders a byte count: "512 B", "12.3 MiB".
func netBytesText(n uint64) string {
	if n < 1024 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v, unit := float64(n), ""
	for _, u := range [...]string{"KiB", "MiB", "GiB", "TiB"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + unit
}

// netAge renders how long a baseline covers: "3d", "5h", "40m".
func netAge(now, first time.Time) string {
	d := now.Sub(first)
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// netFlowText is a flow's evidence line.
func netFlowText(f *Flow) string {
	var b strings.Builder
	b.WriteString(netip.AddrPortFrom(f.Flow.Src.IP, f.Flow.Src.Port).String())
	b.WriteString(" → ")
	b.WriteString(netip.AddrPortFrom(f.Flow.Dst.IP, f.Flow.Dst.Port).String())
	b.WriteByte(' ')
	b.WriteString(f.Protocol.String())
	b.WriteByte(' ')
	b.WriteString(netBytesText(f.Flow.Bytes))
	if f.Flow.Packets > 0 {
		b.WriteString(", " + strconv.FormatUint(f.Flow.Packets, 10) + " packets")
	}
	b.WriteByte(' ')
	b.WriteString(f.Verdict.String())
	if f.Node != "" {
		b.WriteString(" (node " + f.Node + ")")
	}
	return b.String()
}
