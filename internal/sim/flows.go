package sim

import (
	"strings"
	"time"
)

// Hubble flows as `hubble observe -o json` and the Hubble exporter write
// them: one observer.GetFlowsResponse per line, {"flow":{...},"node_name":
// ...,"time":...}, marshalled by protojson (proto field names, fields in
// declaration order, zero values left out). The export keeps what a flow
// export filtered on connection openings keeps: each TCP connection's SYN
// and SYN-ACK (is_reply true), each DNS query and answer, and policy drops.
// Connections are pooled, so an edge of the call graph opens a new
// connection every few minutes, not per request.

// Cilium's reserved identities (pkg/identity/numericidentity.go).
const (
	identityHost       = 1
	identityWorld      = 2
	identityRemoteNode = 6
	identityAPIServer  = 7
)

// peer is one end of a flow: a pod, or an address outside the pod network.
type peer struct {
	pod   *pod
	ip    string
	ident int
	label string // the reserved label of a non-pod peer
	names []string
}

func podPeer(p *pod) peer { return peer{pod: p, ip: p.ipString()} }

func worldPeer(ip string, names ...string) peer {
	return peer{ip: ip, ident: identityWorld, label: "reserved:world", names: names}
}

var apiServerPeer = peer{ip: "10.0.0.10", ident: identityAPIServer, label: "reserved:kube-apiserver"}

// packet is one observed packet of a connection.
type packet struct {
	t        int64
	node     *node // observing node
	src, dst peer
	sport    int
	dport    int
	udp      bool
	syn, ack bool
	reply    bool
	dropped  bool
	svcName  string // destination_service
	svcNS    string
	ingress  bool // traffic_direction
}

// endpoint appends p's Hubble endpoint as seen from node n; the endpoint ID
// is only known on the pod's own node.
func (e *engine) endpoint(b []byte, pr peer, n *node) []byte {
	if pr.pod == nil {
		b = append(b, `{"identity":`...)
		b = appendInt(b, int64(pr.ident))
		b = append(b, `,"labels":["`...)
		b = append(b, pr.label...)
		return append(b, `"]}`...)
	}
	p := pr.pod
	local := 0
	if p.node == n && !p.w.hostNetwork {
		local = 1
	}
	if !p.epSet[local] {
		p.ep[local] = e.renderEndpoint(p, local == 1)
		p.epSet[local] = true
	}
	return append(b, p.ep[local]...)
}

func (e *engine) renderEndpoint(p *pod, local bool) []byte {
	wl := p.w
	if wl.hostNetwork {
		return []byte(`{"identity":1,"labels":["reserved:host"]}`)
	}
	labels := []string{}
	for _, k := range sortedKeys(labelsObj(wl.labels)) {
		labels = append(labels, "k8s:"+k+"="+wl.labels[k])
	}
	labels = append(labels,
		"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name="+wl.ns.name,
		"k8s:io.cilium.k8s.policy.cluster="+clusterName)
	if wl.sa != nil {
		labels = append(labels, "k8s:io.cilium.k8s.policy.serviceaccount="+wl.sa.name)
	}
	labels = append(labels, "k8s:io.kubernetes.pod.namespace="+wl.ns.name)
	id := e.w.identity(wl.ns.name + "/" + strings.Join(labels, ","))
	b := []byte{'{'}
	if local {
		b = append(b, `"ID":`...)
		b = appendInt(b, int64(p.epID))
		b = append(b, ',')
	}
	b = append(b, `"identity":`...)
	b = appendInt(b, int64(id))
	b = append(b, `,"cluster_name":"`+clusterName+`","namespace":`...)
	b = appendStr(b, wl.ns.name, false)
	b = append(b, `,"labels":`...)
	b = appendStrList(b, labels, false)
	b = append(b, `,"pod_name":`...)
	b = appendStr(b, p.name, false)
	kind, name := topOwner(p)
	if kind != "" {
		b = append(b, `,"workloads":[{"name":`...)
		b = appendStr(b, name, false)
		b = append(b, `,"kind":`...)
		b = appendStr(b, kind, false)
		b = append(b, `}]`...)
	}
	return append(b, '}')
}

// topOwner is the workload Cilium reports for a pod.
func topOwner(p *pod) (kind, name string) {
	switch p.w.kind {
	case kindStatic, kindPod:
		return "", ""
	case kindCronJob:
		return "CronJob", p.w.name
	}
	return p.w.kind, p.w.name
}

// flow renders one packet.
func (e *engine) flow(s *source, pk *packet) {
	// The random UUID is drawn whether the stream is written or not, so
	// that disabling it changes nothing else.
	var id [36]byte
	s.rng.uuidTo(id[:])
	if !e.enabled(stFlow) {
		return
	}
	b := s.buf()
	off := len(b)
	b = append(b, `{"flow":{"time":`...)
	tsStart := len(b)
	b = e.tf.proto(b, pk.t)
	ts := b[tsStart:len(b):len(b)]
	b = append(b, `,"uuid":"`...)
	b = append(b, id[:]...)
	if pk.dropped {
		b = append(b, `","verdict":"DROPPED","drop_reason":133`...)
	} else {
		b = append(b, `","verdict":"FORWARDED"`...)
	}
	b = append(b, `,"IP":{"source":"`...)
	b = append(b, pk.src.ip...)
	b = append(b, `","destination":"`...)
	b = append(b, pk.dst.ip...)
	b = append(b, `","ipVersion":"IPv4"},"l4":{`...)
	if pk.udp {
		b = append(b, `"UDP":{"source_port":`...)
	} else {
		b = append(b, `"TCP":{"source_port":`...)
	}
	b = appendInt(b, int64(pk.sport))
	b = append(b, `,"destination_port":`...)
	b = appendInt(b, int64(pk.dport))
	if !pk.udp {
		switch {
		case pk.syn && pk.ack:
			b = append(b, `,"flags":{"SYN":true,"ACK":true}`...)
		case pk.syn:
			b = append(b, `,"flags":{"SYN":true}`...)
		default:
			b = append(b, `,"flags":{"ACK":true}`...)
		}
	}
	b = append(b, `}},"source":`...)
	b = e.endpoint(b, pk.src, pk.node)
	b = append(b, `,"destination":`...)
	b = e.endpoint(b, pk.dst, pk.node)
	b = append(b, `,"Type":"L3_L4","node_name":"`...)
	b = append(b, pk.node.name...)
	b = append(b, '"')
	if names := pk.dst.names; len(names) > 0 && !pk.reply {
		b = append(b, `,"destination_names":`...)
		b = appendStrList(b, names, false)
	}
	if names := pk.src.names; len(names) > 0 && pk.reply {
		b = append(b, `,"source_names":`...)
		b = appendStrList(b, names, false)
	}
	if pk.dropped {
		b = append(b, `,"event_type":{"type":1,"sub_type":133}`...)
	} else {
		b = append(b, `,"event_type":{"type":4}`...)
	}
	if pk.svcName != "" && !pk.reply {
		b = append(b, `,"destination_service":{"name":`...)
		b = appendStr(b, pk.svcName, false)
		b = append(b, `,"namespace":`...)
		b = appendStr(b, pk.svcNS, false)
		b = append(b, '}')
	}
	if pk.ingress {
		b = append(b, `,"traffic_direction":"INGRESS"`...)
	} else {
		b = append(b, `,"traffic_direction":"EGRESS"`...)
	}
	switch {
	case pk.dropped:
		b = append(b, `,"drop_reason_desc":"POLICY_DENIED"`...)
	case pk.dst.pod != nil && pk.dst.pod.node == pk.node && !pk.dst.pod.w.hostNetwork:
		b = append(b, `,"trace_observation_point":"TO_ENDPOINT"`...)
	default:
		b = append(b, `,"trace_observation_point":"TO_STACK"`...)
	}
	if pk.reply {
		b = append(b, `,"is_reply":true`...)
	} else {
		b = append(b, `,"is_reply":false`...)
	}
	switch {
	case pk.udp:
		b = append(b, `,"Summary":"UDP"`...)
	case pk.syn && pk.ack:
		b = append(b, `,"Summary":"TCP Flags: SYN, ACK"`...)
	case pk.syn:
		b = append(b, `,"Summary":"TCP Flags: SYN"`...)
	default:
		b = append(b, `,"Summary":"TCP Flags: ACK"`...)
	}
	b = append(b, `},"node_name":"`...)
	b = append(b, pk.node.name...)
	b = append(b, `","time":`...)
	b = append(b, ts...)
	b = append(b, '}')
	s.commit(b, off, stFlow, pk.t)
}

func ephemeral(r *rng) int { return r.rangeInt(32768, 60999) }

// hop is the time a packet takes to the other end.
func hop(r *rng, a, b peer) int64 {
	switch {
	case a.pod == nil || b.pod == nil:
		if a.ident == identityWorld || b.ident == identityWorld {
			return r.dur(4*time.Millisecond, 40*time.Millisecond)
		}
		return r.dur(250*time.Microsecond, 900*time.Microsecond)
	case a.pod.node == b.pod.node:
		return r.dur(20*time.Microsecond, 90*time.Microsecond)
	}
	return r.dur(150*time.Microsecond, 450*time.Microsecond)
}

// observer is the node that reports a packet: the destination pod's node
// for a packet to a pod, else the source's.
func observer(src, dst peer) *node {
	if dst.pod != nil && !dst.pod.w.hostNetwork {
		return dst.pod.node
	}
	if src.pod != nil {
		return src.pod.node
	}
	return dst.pod.node
}

// tcp renders a connection from src to dst:dport opening at t: the SYN and,
// unless policy drops it, the SYN-ACK. It returns when the reply arrives.
func (e *engine) tcp(s *source, t int64, src, dst peer, dport int, svcName, svcNS string) int64 {
	r := &s.rng
	sport := ephemeral(r)
	syn := packet{t: t + hop(r, src, dst), src: src, dst: dst, sport: sport, dport: dport, syn: true, svcName: svcName, svcNS: svcNS}
	syn.node = observer(src, dst)
	syn.ingress = dst.pod != nil && syn.node == dst.pod.node
	if dst.pod != nil && src.pod != nil {
		if ok, _ := allowed(src.pod, dst.pod, dport); !ok {
			syn.dropped = true
			e.flow(s, &syn)
			// The client retries its SYN a second later.
			syn.t += int64(time.Second) + r.dur(0, 50*time.Millisecond)
			e.flow(s, &syn)
			return syn.t
		}
	}
	e.flow(s, &syn)
	ack := packet{t: syn.t + r.dur(30*time.Microsecond, 200*time.Microsecond) + hop(r, dst, src), src: dst, dst: src,
		sport: dport, dport: sport, syn: true, ack: true, reply: true}
	ack.node = observer(dst, src)
	ack.ingress = src.pod != nil && ack.node == src.pod.node
	e.flow(s, &ack)
	return ack.t
}

// dns renders a lookup of name by client through kube-dns, and, for an
// external name on a cache miss, CoreDNS's query to the VPC resolver. It
// returns when the answer arrives.
func (e *engine) dns(s *source, t int64, client *pod, name string, external bool) int64 {
	r := &s.rng
	cd := e.livePod(r, e.w.coredns, t)
	if cd == nil {
		return t
	}
	src, dst := podPeer(client), podPeer(cd)
	dst.names = []string{"kube-dns.kube-system.svc." + clusterDomain}
	sport := ephemeral(r)
	q := packet{t: t + hop(r, src, dst), src: src, dst: dst, sport: sport, dport: 53, udp: true, svcName: "kube-dns", svcNS: "kube-system"}
	q.node = observer(src, dst)
	q.ingress = true
	e.flow(s, &q)
	at := q.t + r.dur(40*time.Microsecond, 300*time.Microsecond)
	if external && r.chance(0.5) {
		up := worldPeer(vpcResolverIP)
		uq := packet{t: at, node: cd.node, src: podPeer(cd), dst: up, sport: ephemeral(r), dport: 53, udp: true}
		e.flow(s, &uq)
		ua := uq
		ua.t = at + r.dur(400*time.Microsecond, 2*time.Millisecond)
		ua.src, ua.dst, ua.sport, ua.dport, ua.reply, ua.ingress = up, podPeer(cd), 53, uq.sport, true, true
		e.flow(s, &ua)
		at = ua.t + r.dur(20*time.Microsecond, 100*time.Microsecond)
	}
	a := packet{t: at + hop(r, dst, src), src: dst, dst: src, sport: 53, dport: sport, udp: true, reply: true}
	a.node = observer(dst, src)
	a.ingress = a.node == client.node
	e.flow(s, &a)
	return a.t
}

// livePod picks a pod of wl that runs at t and for a while after, or nil.
func (e *engine) livePod(r *rng, wl *workload, t int64) *pod {
	n := len(wl.live)
	if n == 0 {
		return nil
	}
	off := r.intn(n)
	for k := 0; k < n; k++ {
		if p := wl.live[(off+k)%n]; p.alive(t) {
			return p
		}
	}
	return nil
}

// traffic is one edge of the call graph: clients of one workload open
// connections to a service (its pods), or to an address outside.
type traffic struct {
	client *workload
	server *workload
	svc    *service
	port   int
	ext    *external
	mean   time.Duration
	dnsP   float64
}

func (tr *traffic) step(e *engine, s *source, now int64) int64 {
	if !e.enabled(stFlow) {
		return never
	}
	r := &s.rng
	next := now + r.exp(tr.mean)
	c := e.livePod(r, tr.client, now)
	if c == nil {
		return next
	}
	t := now
	if tr.ext != nil {
		if r.chance(tr.dnsP) {
			t = e.dns(s, t, c, tr.ext.name, true)
		}
		e.tcp(s, t+r.dur(50*time.Microsecond, time.Millisecond), podPeer(c), worldPeer(tr.ext.ip, tr.ext.name), tr.ext.port, "", "")
		return next
	}
	srv := e.livePod(r, tr.server, now)
	if srv == nil {
		return next
	}
	if r.chance(tr.dnsP) {
		t = e.dns(s, t, c, tr.svc.name+"."+tr.svc.ns.name+".svc."+clusterDomain, false)
	}
	dst := podPeer(srv)
	if tr.svc.ns != c.w.ns || r.chance(0.3) {
		dst.names = []string{tr.svc.name + "." + tr.svc.ns.name + ".svc." + clusterDomain}
	}
	e.tcp(s, t+r.dur(50*time.Microsecond, time.Millisecond), podPeer(c), dst, tr.port, tr.svc.name, tr.svc.ns.name)
	return next
}

// callGraph registers the traffic of every edge: the ingress controller to
// the web front ends, web to API, API to database, cache, peers and outside
// APIs, workers to their database and queue.
func (e *engine) callGraph() {
	w := e.w
	edge := func(name string, tr *traffic) {
		rs := newRNG(w.cfg.Seed, "traffic/"+name)
		e.add(tr, e.start+rs.dur(0, tr.mean), rs, nil)
	}
	for _, ns := range w.apps {
		edge(ns.name+"/ingress", &traffic{client: w.ingress, server: ns.web, svc: ns.web.svc, port: 8080, mean: 6 * time.Minute, dnsP: 0})
		edge(ns.name+"/web", &traffic{client: ns.web, server: ns.api, svc: ns.api.svc, port: 8080, mean: 8 * time.Minute, dnsP: 0.5})
		if ns.db != nil {
			edge(ns.name+"/api-db", &traffic{client: ns.api, server: ns.db, svc: ns.db.svc, port: 5432, mean: 15 * time.Minute, dnsP: 0.5})
			if ns.worker != nil {
				edge(ns.name+"/worker-db", &traffic{client: ns.worker, server: ns.db, svc: ns.db.svc, port: 5432, mean: 20 * time.Minute, dnsP: 0.5})
			}
		}
		if ns.cache != nil {
			edge(ns.name+"/api-cache", &traffic{client: ns.api, server: ns.cache, svc: ns.cache.svc, port: 6379, mean: 12 * time.Minute, dnsP: 0.5})
		}
		for _, p := range ns.peers {
			edge(ns.name+"/peer/"+p.name, &traffic{client: ns.api, server: p.api, svc: p.api.svc, port: 8080, mean: 14 * time.Minute, dnsP: 0.6})
		}
		for _, wl := range []*workload{ns.api, ns.worker} {
			if wl == nil {
				continue
			}
			for i := range wl.egress {
				edge(wl.name+"/egress/"+wl.egress[i].name, &traffic{client: wl, ext: &wl.egress[i], mean: 15 * time.Minute, dnsP: 0.7})
			}
		}
		for _, cj := range ns.cron {
			target := ns.api
			port := 8080
			if ns.db != nil {
				target, port = ns.db, 5432
			}
			edge(cj.name+"/run", &traffic{client: cj, server: target, svc: target.svc, port: port, mean: 20 * time.Second, dnsP: 0.8})
		}
	}
	for i := range w.backupOp.egress {
		edge("backup/egress", &traffic{client: w.backupOp, ext: &w.backupOp.egress[i], mean: 30 * time.Minute, dnsP: 1})
	}
}
