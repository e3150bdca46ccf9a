package delta

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/flow"
)

// benchCluster is a generated production-sized cluster: about 10,000 pods
// in Deployments of 1–5 replicas over 200 namespaces and 40 nodes (a /24
// of pods each), CoreDNS, and about 1,000 policies mixing default denies,
// same-namespace and cross-namespace allows with named ports, DNS egress
// and internet egress through an ipBlock with except. Each workload talks
// to a few others, to DNS, and some to the internet: talks lists, per
// workload, its peers.
type benchCluster struct {
	inv       *cluster.Inventory
	workloads [][]string // pod IPs per workload
	talks     [][]int    // peer workloads per workload
	external  []string
}

var benchWorld = sync.OnceValue(func() *benchCluster { return genBenchCluster(10_000) })

func genBenchCluster(nPods int) *benchCluster {
	r := rand.New(rand.NewPCG(10, 20))
	bc := &benchCluster{inv: &cluster.Inventory{}}
	inv := bc.inv
	for n := range 40 {
		inv.Nodes = append(inv.Nodes, node(fmt.Sprintf("node-%02d", n), fmt.Sprintf("10.0.0.%d", n+10), fmt.Sprintf("10.128.%d.0/24", n)))
	}
	nss := make([]string, 200)
	for i := range nss {
		nss[i] = fmt.Sprintf("team-%03d", i)
		ns := namespaces(nss[i])[0]
		ns.Labels["tier"] = []string{"prod", "staging"}[i%2]
		inv.Namespaces = append(inv.Namespaces, ns)
	}
	inv.Namespaces = append(inv.Namespaces, namespaces("kube-system")...)
	ip := 0
	nextIP := func() string {
		s := fmt.Sprintf("10.128.%d.%d", ip/250, ip%250+2)
		ip++
		return s
	}
	var dnsIPs []string
	for range 2 {
		a := nextIP()
		inv.Pods = append(inv.Pods, deployPod("kube-system", "coredns", a, map[string]string{"k8s-app": "kube-dns"},
			corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}))
		dnsIPs = append(dnsIPs, a)
	}
	bc.workloads = append(bc.workloads, dnsIPs)
	wlNS := []int{-1}
	for len(inv.Pods) < nPods {
		nsi := len(bc.workloads) % len(nss)
		name := fmt.Sprintf("svc-%d", len(bc.workloads))
		labels := map[string]string{"app": name, "tier": []string{"web", "api", "db"}[r.IntN(3)]}
		var ips []string
		for range 1 + r.IntN(5) {
			a := nextIP()
			inv.Pods = append(inv.Pods, deployPod(nss[nsi], name, a, labels, namedPort("http", 8080), namedPort("metrics", 9090)))
			ips = append(ips, a)
		}
		bc.workloads = append(bc.workloads, ips)
		wlNS = append(wlNS, nsi)
	}
	for w := range bc.workloads {
		var peers []int
		if w > 0 {
			peers = append(peers, 0) // DNS
			for range 1 + r.IntN(4) {
				peers = append(peers, 1+r.IntN(len(bc.workloads)-1))
			}
			if r.IntN(4) == 0 {
				peers = append(peers, -1-r.IntN(100)) // external
			}
		}
		bc.talks = append(bc.talks, peers)
	}
	for i := range 100 {
		bc.external = append(bc.external, fmt.Sprintf("%d.%d.%d.%d", 20+i%150, i*7%256, i*13%256, 1+i%250))
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	for i, ns := range nss {
		switch i % 4 {
		case 0, 1: // default deny, then allows
			inv.NetworkPolicies = append(inv.NetworkPolicies,
				policy(ns, "default-deny", sel(), []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}, nil, nil),
				policy(ns, "allow-same-ns", sel(), ingressOnly, []networkingv1.NetworkPolicyIngressRule{{
					From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel()}},
				}}, nil),
				policy(ns, "allow-prod-http", sel("tier", "api"), ingressOnly, []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("tier", "prod")}},
					Ports: []networkingv1.NetworkPolicyPort{npPort(tcp, intstr.FromString("http"))},
				}}, nil),
				policy(ns, "egress", sel(), []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, nil, []networkingv1.NetworkPolicyEgressRule{
					{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", "kube-system"), PodSelector: sel("k8s-app", "kube-dns")}},
						Ports: []networkingv1.NetworkPolicyPort{npPort(udp, intstr.FromInt32(53))}},
					{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}},
						Ports: []networkingv1.NetworkPolicyPort{npPort(tcp, intstr.FromInt32(443))}},
					{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("tier", "prod")}},
						Ports: []networkingv1.NetworkPolicyPort{npPort(tcp, intstr.FromString("http"))}},
				}),
			)
		case 2: // ingress from one workload of another namespace
			inv.NetworkPolicies = append(inv.NetworkPolicies, policy(ns, "from-neighbour", sel("tier", "db"), ingressOnly, []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("kubernetes.io/metadata.name", nss[(i+1)%len(nss)]), PodSelector: sel("tier", "api")}},
				Ports: []networkingv1.NetworkPolicyPort{npPort(tcp, intstr.FromInt32(8080))},
			}}, nil))
		}
	}
	return bc
}

// flowLines renders n flow records of the cluster's traffic (format
// "generic" or "vpc"), every records apart.
func (bc *benchCluster) flowLines(format string, n int, every time.Duration) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	if format == "vpc" {
		buf.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	}
	start := t0.Add(time.Hour)
	for i := range n {
		w := 1 + r.IntN(len(bc.workloads)-1)
		src := bc.workloads[w][r.IntN(len(bc.workloads[w]))]
		peer := bc.talks[w][r.IntN(len(bc.talks[w]))]
		var dst string
		port, proto, protoNum := 8080, "TCP", 6
		switch {
		case peer == 0:
			dst, port, proto, protoNum = bc.workloads[0][r.IntN(2)], 53, "UDP", 17
		case peer < 0:
			dst, port = bc.external[-1-peer], 443
		default:
			dst = bc.workloads[peer][r.IntN(len(bc.workloads[peer]))]
			if r.IntN(5) == 0 {
				port = 9090
			}
		}
		ts := start.Add(time.Duration(i) * every)
		if format == "vpc" {
			fmt.Fprintf(&buf, "2 123456789010 eni-0a1b2c3d4e5f%05d %s %s %d %d %d %d %d %d %d ACCEPT OK\n",
				w%300, src, dst, 32768+i%28000, port, protoNum, 1+i%30, 100+i%5000, ts.Unix(), ts.Unix()+60)
			continue
		}
		fmt.Fprintf(&buf, `{"time":"%s","src_ip":"%s","src_port":%d,"dst_ip":"%s","dst_port":%d,"protocol":"%s","bytes":%d,"packets":%d,"verdict":"FORWARDED"}`+"\n",
			ts.Format(time.RFC3339Nano), src, 32768+i%28000, dst, port, proto, 100+i%5000, 1+i%30)
	}
	return buf.Bytes()
}

// benchFlows are 200,000 records at 20,000 flows/s over the cluster (two
// per pod and second, ten seconds), as a connection-level export of a busy
// cluster: generic JSON lines, AWS VPC, and generic again spread over 2,000
// seconds (one flow per pod every 50 seconds: the address cache misses).
var benchFlows = sync.OnceValues(func() ([]byte, []byte) {
	bc := benchWorld()
	return bc.flowLines("generic", 200_000, 50*time.Microsecond), bc.flowLines("vpc", 200_000, 50*time.Microsecond)
})

var benchSparseFlows = sync.OnceValue(func() []byte {
	return benchWorld().flowLines("generic", 200_000, 10*time.Millisecond)
})

// BenchmarkFlowIngest measures what `netpol unused` does per flow record:
// decode (generic JSON lines or AWS VPC), resolve both addresses against
// the 10,000-pod cluster's index as of the flow's time, and add the flow
// to its edge. Run with -cpu 1 for the per-core figure.
func BenchmarkFlowIngest(b *testing.B) {
	bc := benchWorld()
	idx := cluster.NewIndex(bc.inv)
	nets := PodNetworks(bc.inv)
	generic, vpc := benchFlows()
	for _, in := range []struct {
		name   string
		format flow.Format
		data   []byte
	}{{"generic", flow.FormatGeneric, generic}, {"vpc", flow.FormatVPC, vpc}, {"generic-sparse", flow.FormatGeneric, benchSparseFlows()}} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			var records int64
			var edges int
			cpu0, _ := processCPU()
			for b.Loop() {
				g := NewIngester(idx, nets)
				d := flow.NewDecoder(flow.Options{Format: in.format, DedupWindow: -1})
				if err := d.Decode(bytes.NewReader(in.data), "bench", func(f *event.Flow) error {
					g.Add(f)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				st := d.Stats()
				if st.Rejected > 0 {
					b.Fatalf("rejected: %v", st.Errors)
				}
				records += st.Delivered
				edges = g.Edges().Len()
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			if cpu1, ok := processCPU(); ok && cpu1 > cpu0 {
				b.ReportMetric(float64(records)/(cpu1-cpu0).Seconds(), "records/cpu-s")
			}
			b.ReportMetric(float64(edges), "edges")
		})
	}
}

// BenchmarkFlowIngestSteady is BenchmarkFlowIngest with one long-lived
// decoder and ingester, as in a long run: the edges exist and the address
// cache is warm (at 20,000 flows/s a minute bucket is refilled for each
// address once per 1.2 million flows).
func BenchmarkFlowIngestSteady(b *testing.B) {
	bc := benchWorld()
	idx := cluster.NewIndex(bc.inv)
	generic, vpc := benchFlows()
	for _, in := range []struct {
		name   string
		format flow.Format
		data   []byte
	}{{"generic", flow.FormatGeneric, generic}, {"vpc", flow.FormatVPC, vpc}} {
		b.Run(in.name, func(b *testing.B) {
			g := NewIngester(idx, PodNetworks(bc.inv))
			d := flow.NewDecoder(flow.Options{Format: in.format, DedupWindow: -1})
			add := func(f *event.Flow) error {
				g.Add(f)
				return nil
			}
			if err := d.Decode(bytes.NewReader(in.data), "warm-up", add); err != nil {
				b.Fatal(err)
			}
			before := d.Stats().Delivered
			b.SetBytes(int64(len(in.data)))
			b.ReportAllocs()
			cpu0, _ := processCPU()
			for b.Loop() {
				if err := d.Decode(bytes.NewReader(in.data), "bench", add); err != nil {
					b.Fatal(err)
				}
			}
			records := d.Stats().Delivered - before
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			if cpu1, ok := processCPU(); ok && cpu1 > cpu0 {
				b.ReportMetric(float64(records)/(cpu1-cpu0).Seconds(), "records/cpu-s")
			}
		})
	}
}

// BenchmarkIngestOnly isolates resolution and aggregation (no decoding).
func BenchmarkIngestOnly(b *testing.B) {
	bc := benchWorld()
	idx := cluster.NewIndex(bc.inv)
	generic, _ := benchFlows()
	var flows []event.Flow
	d := flow.NewDecoder(flow.Options{Format: flow.FormatGeneric, DedupWindow: -1})
	if err := d.Decode(bytes.NewReader(generic), "bench", func(f *event.Flow) error {
		flows = append(flows, *f)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	g := NewIngester(idx, PodNetworks(bc.inv))
	i := 0
	cpu0, _ := processCPU()
	for b.Loop() {
		g.Add(&flows[i])
		if i++; i == len(flows) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu1, ok := processCPU(); ok && cpu1 > cpu0 {
		b.ReportMetric(float64(b.N)/(cpu1-cpu0).Seconds(), "records/cpu-s")
	}
}

// BenchmarkUnused measures the analysis over the 10,000-pod cluster and
// the edges of 200,000 flows (engine built outside the loop, as the CLI
// builds it once).
func BenchmarkUnused(b *testing.B) {
	bc := benchWorld()
	w := newWorld(bc.inv)
	generic, _ := benchFlows()
	g := NewIngester(w.idx, PodNetworks(bc.inv))
	d := flow.NewDecoder(flow.Options{Format: flow.FormatGeneric, DedupWindow: -1})
	if err := d.Decode(bytes.NewReader(generic), "bench", func(f *event.Flow) error { g.Add(f); return nil }); err != nil {
		b.Fatal(err)
	}
	edges := g.Edges()
	var rep *Report
	cpu0, _ := processCPU()
	for b.Loop() {
		rep = Unused(w.eng, w.idx, edges)
	}
	if cpu1, ok := processCPU(); ok {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	}
	b.ReportMetric(float64(edges.Len()), "edges")
	b.ReportMetric(float64(len(rep.Workloads)), "workloads")
	b.ReportMetric(float64(len(rep.Denied)), "denied")
}

// BenchmarkSuggest measures policy generation plus its check (a second
// engine and every edge evaluated) on the same cluster and edges.
func BenchmarkSuggest(b *testing.B) {
	bc := benchWorld()
	w := newWorld(bc.inv)
	generic, _ := benchFlows()
	g := NewIngester(w.idx, PodNetworks(bc.inv))
	d := flow.NewDecoder(flow.Options{Format: flow.FormatGeneric, DedupWindow: -1})
	if err := d.Decode(bytes.NewReader(generic), "bench", func(f *event.Flow) error { g.Add(f); return nil }); err != nil {
		b.Fatal(err)
	}
	var sg *Suggestion
	cpu0, _ := processCPU()
	defer func() {
		if cpu1, ok := processCPU(); ok {
			b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		}
	}()
	for b.Loop() {
		var err error
		if sg, err = Suggest(w.inv, w.idx, w.eng, g.Edges(), SuggestOptions{PodNetworks: PodNetworks(bc.inv)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(sg.Policies)), "policies")
	b.ReportMetric(float64(sg.Checked), "checked")
}
