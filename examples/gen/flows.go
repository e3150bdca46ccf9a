package main

import (
	"strconv"
	"time"
)

// The day's network traffic, as Hubble saw it. The capture keeps what a
// flow export filtered for connection openings keeps: each TCP connection's
// SYN and SYN-ACK (replies included, is_reply true), each DNS query and
// answer, policy verdicts and drops. Established connections (keep-alive
// pools, Prometheus' scrape connections) are long-lived, so a day holds
// a few hundred openings, not millions of packets.

// External addresses. They are illustrative: what matters is that they are
// outside the cluster and that Hubble knows their DNS names.
const (
	stripeIP   = "54.187.174.169" // api.stripe.com
	s3IP       = "52.219.170.66"  // s3.eu-central-1.amazonaws.com
	slackIP    = "18.159.197.225" // hooks.slack.com
	resolverIP = "10.0.0.2"       // the VPC resolver CoreDNS forwards to
	attackerIP = "203.0.113.66"
)

// attackCurl are the times of the attacker's curl requests from inside the
// cart pod (auditstory.go): each opens its own connection to the API server.
var attackCurl = []string{"14:07:31.204", "14:07:44.871", "14:07:58.350", "14:08:19.622"}

func clockMilli(s string) time.Time {
	t, err := time.Parse("15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return dayStart.Add(t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func flowLog(m *model) ([]byte, error) {
	f := &flowLogger{m: m, uuids: newRNG(m.seed, "flowUUIDs")}
	t := &traffic{m: m, f: f, r: newRNG(m.seed, "flows")}
	t.day()
	return f.render()
}

type traffic struct {
	m *model
	f *flowLogger
	r *rng
}

func (t *traffic) ephemeral() int { return t.r.rangeInt(32768, 60999) }

// hop is the time a packet takes to the other end: same node, other node,
// or the internet.
func (t *traffic) hop(a, b peer) time.Duration {
	switch {
	case a.pod == nil || b.pod == nil:
		if a.identity == identityWorld || b.identity == identityWorld {
			return t.r.dur(4*time.Millisecond, 40*time.Millisecond)
		}
		return t.r.dur(250*time.Microsecond, 900*time.Microsecond)
	case a.pod.Node == b.pod.Node:
		return t.r.dur(20*time.Microsecond, 90*time.Microsecond)
	}
	return t.r.dur(150*time.Microsecond, 450*time.Microsecond)
}

// egressPolicy is the policy that selects p for egress, if any.
func egressPolicy(p *pod) string {
	if p != nil && p.Namespace == "monitoring" && p.Labels["app"] == "prometheus" {
		return "prometheus-egress"
	}
	return ""
}

// ingressPolicy evaluates the data namespace's policies for a connection to
// dst: enforced reports whether any policy selects dst, name is the policy
// that admits the connection ("" when it is denied).
func ingressPolicy(src peer, dst *pod, dport int) (enforced bool, name string) {
	if dst.Namespace != "data" {
		return false, ""
	}
	if pt, ok := dst.port("metrics"); ok && pt.Port == dport && src.pod != nil &&
		src.pod.Namespace == "monitoring" && src.pod.Labels["app"] == "prometheus" {
		return true, "allow-prometheus-scrape"
	}
	if src.pod == nil || src.pod.Namespace != "shop" {
		return true, ""
	}
	switch {
	case dst.Labels["app"] == "postgres" && dport == 5432:
		return true, "allow-shop-to-postgres"
	case dst.Labels["app"] == "redis" && dport == 6379 && src.pod.Labels["app"] == "cart":
		return true, "allow-cart-to-redis"
	}
	return true, ""
}

// tcp opens a connection from src to dst:dport (through svc, if set) and
// records its SYN and SYN-ACK. It returns false if the SYN was dropped.
func (t *traffic) tcp(at time.Time, src, dst peer, dport int, svc *service, sport int) bool {
	if sport == 0 {
		sport = t.ephemeral()
	}
	pk := packet{at: at, src: src, dst: dst, sport: sport, dport: dport, syn: true, svc: svc}
	if pol := egressPolicy(src.pod); pol != "" {
		pk.node = src.pod.Node
		t.f.verdict(pk, src.pod, "EGRESS", t.f.policy(src.pod.Namespace, pol))
		pk.at = pk.at.Add(3 * time.Microsecond)
	}
	reply := packet{src: dst, dst: src, sport: dport, dport: sport, syn: true, ack: true, reply: true}
	if dst.pod == nil {
		// Leaving the pod network: seen where it leaves the source pod.
		pk.node = src.pod.Node
		t.f.toStack(pk, src.pod, "EGRESS")
		reply.at, reply.node = pk.at.Add(2*t.hop(src, dst)), src.pod.Node
		t.f.toEndpoint(reply, src.pod, "EGRESS")
		return true
	}
	pk.node = dst.pod.Node
	pk.at = pk.at.Add(t.hop(src, dst))
	if enforced, pol := ingressPolicy(src, dst.pod, dport); enforced {
		if pol == "" {
			t.f.denied(pk, dst.pod)
			return false
		}
		t.f.verdict(pk, dst.pod, "INGRESS", t.f.policy(dst.pod.Namespace, pol))
		pk.at = pk.at.Add(4 * time.Microsecond)
	}
	t.f.toEndpoint(pk, dst.pod, "INGRESS")
	reply.at = pk.at.Add(t.r.dur(30*time.Microsecond, 200*time.Microsecond))
	if src.pod == nil {
		// A client outside the cluster: the reply leaves through the stack.
		reply.node = dst.pod.Node
		t.f.toStack(reply, dst.pod, "INGRESS")
		return true
	}
	reply.at = reply.at.Add(t.hop(dst, src))
	reply.node = src.pod.Node
	t.f.toEndpoint(reply, src.pod, "EGRESS")
	return true
}

// dns is a lookup through the kube-dns service; external names go on to
// the VPC resolver. It returns when the answer arrives.
func (t *traffic) dns(at time.Time, client *pod, external bool) time.Time {
	cds := t.m.podsOf("kube-system", "coredns")
	cd := cds[t.r.intn(len(cds))]
	src, dst := t.m.podPeer(client), t.m.podPeer(cd)
	sport := t.ephemeral()
	q := packet{at: at.Add(t.hop(src, dst)), node: cd.Node, src: src, dst: dst, sport: sport, dport: 53, udp: true,
		svc: t.m.service("kube-system", "kube-dns")}
	t.f.toEndpoint(q, cd, "INGRESS")
	done := q.at.Add(t.r.dur(60*time.Microsecond, 400*time.Microsecond))
	if external {
		up := packet{at: done, node: cd.Node, src: dst, dst: worldPeer(resolverIP), sport: t.ephemeral(), dport: 53, udp: true}
		t.f.toStack(up, cd, "EGRESS")
		back := packet{at: up.at.Add(t.r.dur(800*time.Microsecond, 3*time.Millisecond)), node: cd.Node, src: up.dst, dst: up.src,
			sport: 53, dport: up.sport, udp: true, reply: true}
		t.f.toEndpoint(back, cd, "EGRESS")
		done = back.at.Add(t.r.dur(40*time.Microsecond, 200*time.Microsecond))
	}
	ans := packet{at: done.Add(t.hop(dst, src)), node: client.Node, src: dst, dst: src, sport: 53, dport: sport, udp: true, reply: true}
	t.f.toEndpoint(ans, client, "EGRESS")
	return ans.at.Add(t.r.dur(100*time.Microsecond, 2*time.Millisecond))
}

// every calls fn at times from start (plus up to one interval of jitter) to
// the end of the day, every interval give or take 15%.
func (t *traffic) every(interval time.Duration, fn func(at time.Time)) {
	at := dayStart.Add(t.r.dur(0, interval))
	for at.Before(dayEnd) {
		fn(at)
		at = at.Add(interval*85/100 + t.r.dur(0, interval*30/100))
	}
}

// toService connects client to a random backend of svc on port, after a
// DNS lookup half of the time (the resolver caches the rest).
func (t *traffic) toService(at time.Time, client *pod, svc *service, backends []*pod, port int) {
	if t.r.chance(0.5) {
		at = t.dns(at, client, false)
	}
	b := backends[t.r.intn(len(backends))]
	t.tcp(at, t.m.podPeer(client), t.m.podPeer(b), port, svc, 0)
}

// toWorld resolves an external name and connects to it.
func (t *traffic) toWorld(at time.Time, client *pod, ip, name string, port int) {
	at = t.dns(at, client, true)
	t.tcp(at, t.m.podPeer(client), worldPeer(ip, name), port, nil, 0)
}

func (t *traffic) toAPIServer(at time.Time, client *pod) {
	t.tcp(at, t.m.podPeer(client), apiServerPeer(), apiServerPort, t.m.service("default", "kubernetes"), 0)
}

func (t *traffic) day() {
	m := t.m
	webs, carts, payments := m.podsOf("shop", "web"), m.podsOf("shop", "cart"), m.podsOf("shop", "payments")
	postgres, redis := m.podsOf("data", "postgres"), m.podsOf("data", "redis")
	backup, prom := m.podsOf("data", "backup-operator")[0], m.podsOf("monitoring", "prometheus")[0]
	cartSvc, paySvc, redisSvc := m.service("shop", "cart"), m.service("shop", "payments"), m.service("data", "redis")

	for _, w := range webs {
		t.every(90*time.Minute, func(at time.Time) { t.toService(at, w, cartSvc, carts, 8080) })
		t.every(3*time.Hour, func(at time.Time) { t.toAPIServer(at, w) })
	}
	for _, c := range carts {
		t.every(3*time.Hour, func(at time.Time) { t.toService(at, c, paySvc, payments, 8080) })
		t.every(4*time.Hour, func(at time.Time) { t.toService(at, c, redisSvc, redis, 6379) })
	}
	for _, p := range payments {
		t.every(2*time.Hour, func(at time.Time) {
			if t.r.chance(0.5) {
				at = t.dns(at, p, false)
			}
			t.tcp(at, m.podPeer(p), m.podPeer(postgres[0]), 5432, nil, 0)
		})
		t.every(3*time.Hour, func(at time.Time) { t.toWorld(at, p, stripeIP, "api.stripe.com", 443) })
	}

	// The backup operator reads its secret at five past every hour (a new
	// connection each time) and uploads a backup every six hours.
	for h := 0; h < 24; h++ {
		t.toAPIServer(dayStart.Add(time.Duration(h)*time.Hour+5*time.Minute-t.r.dur(20*time.Millisecond, 400*time.Millisecond)), backup)
		if h%6 == 0 {
			t.toWorld(dayStart.Add(time.Duration(h)*time.Hour+10*time.Minute+t.r.dur(0, time.Minute)), backup, s3IP, "s3.eu-central-1.amazonaws.com", 443)
		}
	}

	// Prometheus: its API server connection (re-established now and then),
	// and a scrape connection to every pod port named "metrics".
	t.every(6*time.Hour, func(at time.Time) { t.toAPIServer(at, prom) })
	for _, p := range m.pods {
		if pt, ok := p.port("metrics"); ok && !p.W.HostNetwork && p.Phase == "Running" {
			t.every(8*time.Hour, func(at time.Time) { t.tcp(at, m.podPeer(prom), m.podPeer(p), pt.Port, nil, 0) })
		}
	}
	for _, c := range m.podsOf("kube-system", "coredns") {
		t.every(8*time.Hour, func(at time.Time) { t.toAPIServer(at, c) })
	}

	// Customers reach the storefront through the load balancer
	// (externalTrafficPolicy: Local keeps their addresses).
	web := m.service("shop", "web")
	for h := 0; h < 24; h++ {
		n := 3
		if h < 7 || h > 22 {
			n = 1
		}
		for range n {
			at := dayStart.Add(time.Duration(h)*time.Hour + t.r.dur(0, time.Hour))
			client := worldPeer("198.51.100." + strconv.Itoa(t.r.rangeInt(2, 254)))
			t.tcp(at, client, m.podPeer(webs[t.r.intn(len(webs))]), 8080, web, 0)
		}
	}

	// The nightly report reads the day's payments and posts to Slack.
	report := m.podsOf("ci", "nightly-report")[0]
	t.toService(report.Started.Add(900*time.Millisecond), report, paySvc, payments, 8080)
	t.toWorld(report.Finished.Add(-8*time.Second), report, slackIP, "hooks.slack.com", 443)

	// A web replica tries Redis directly (a feature flag turned on sessions
	// in Redis); data's policy only admits cart. Linux retransmits the SYN
	// after 1, 2, 4 and 8 seconds.
	w2 := webs[1]
	for _, start := range []string{"11:20:05.412", "11:24:40.087", "15:02:13.930"} {
		at := t.dns(clockMilli(start), w2, false)
		sport := t.ephemeral()
		for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second} {
			t.tcp(at.Add(d), m.podPeer(w2), m.podPeer(redis[0]), 6379, redisSvc, sport)
		}
	}

	// The cart pod the attacker got into: a reverse shell, one API server
	// connection per curl, and an upload.
	c1 := carts[0]
	t.tcp(clockMilli("14:05:12.771"), m.podPeer(c1), worldPeer(attackerIP), 4444, nil, 0)
	for _, s := range attackCurl {
		t.toAPIServer(clockMilli(s).Add(-t.r.dur(8*time.Millisecond, 20*time.Millisecond)), c1)
	}
	t.tcp(clockMilli("14:36:40.118"), m.podPeer(c1), worldPeer(attackerIP), 443, nil, 0)
}
