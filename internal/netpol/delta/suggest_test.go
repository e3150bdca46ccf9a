package delta

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/kubedelta/kubedelta/internal/event"
)

func TestStableLabels(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{"deployment", map[string]string{"app": "web", "pod-template-hash": "5d8f7c9b4"}, map[string]string{"app": "web"}},
		{"statefulset", map[string]string{"app": "db", "controller-revision-hash": "db-7f9c", "statefulset.kubernetes.io/pod-name": "db-0", "apps.kubernetes.io/pod-index": "0"}, map[string]string{"app": "db"}},
		{"daemonset", map[string]string{"k8s-app": "agent", "controller-revision-hash": "6b4", "pod-template-generation": "3"}, map[string]string{"k8s-app": "agent"}},
		{"job before 1.27", map[string]string{"app": "report", "job-name": "report-29923320", "controller-uid": "0c1d"}, map[string]string{"app": "report"}},
		{"job", map[string]string{"app": "report", "batch.kubernetes.io/job-name": "report-1", "batch.kubernetes.io/controller-uid": "0c1d", "batch.kubernetes.io/job-completion-index": "2"}, map[string]string{"app": "report"}},
		{"kept", map[string]string{"app.kubernetes.io/name": "web", "tier": "front", "version": "v2"}, map[string]string{"app.kubernetes.io/name": "web", "tier": "front", "version": "v2"}},
		{"nothing stable", map[string]string{"pod-template-hash": "x"}, map[string]string{}},
		{"nil", nil, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StableLabels(tt.in); !maps.Equal(got, tt.want) {
				t.Errorf("StableLabels(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestAggregateCIDRs(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		out := make([]netip.Addr, len(s))
		for i, a := range s {
			out[i] = netip.MustParseAddr(a)
		}
		return out
	}
	tests := []struct {
		name        string
		in          []netip.Addr
		v4, v6, max int
		want        string
	}{
		{"one /24", addrs("198.51.100.7", "198.51.100.200"), 24, 64, 0, "198.51.100.0/24"},
		{"exact", addrs("203.0.113.66", "203.0.113.66"), 32, 128, 0, "203.0.113.66/32"},
		{"siblings merge", addrs("10.1.0.1", "10.1.1.1"), 24, 64, 0, "10.1.0.0/23"},
		{"non-siblings stay", addrs("10.1.1.1", "10.1.2.1"), 24, 64, 0, "10.1.1.0/24,10.1.2.0/24"},
		{"cascade", addrs("10.0.0.1", "10.0.1.1", "10.0.2.1", "10.0.3.1"), 24, 64, 0, "10.0.0.0/22"},
		{"mapped v4", addrs("::ffff:192.0.2.9"), 24, 64, 0, "192.0.2.0/24"},
		{"v6", addrs("2001:db8:1:2::5", "2001:db8:1:2::9", "2001:db8:9::1"), 24, 64, 0, "2001:db8:1:2::/64,2001:db8:9::/64"},
		{"v4 first", addrs("2001:db8::1", "192.0.2.1"), 24, 64, 0, "192.0.2.0/24,2001:db8::/64"},
		{"widened to max", addrs("10.0.0.1", "10.0.2.1", "10.0.8.1", "10.0.10.1"), 24, 64, 2, "10.0.0.0/22,10.0.8.0/22"},
		{"widened halves rejoin", addrs("10.0.0.1", "10.0.2.1", "10.0.4.1", "10.0.6.1"), 24, 64, 2, "10.0.0.0/21"},
		{"widened to one", addrs("10.0.0.1", "10.200.0.1", "172.16.0.1"), 32, 128, 1, "0.0.0.0/0"},
		{"widens the crowded family", addrs("10.0.0.1", "10.0.1.129", "2001:db8::1"), 32, 128, 2, "10.0.0.0/23,2001:db8::1/128"},
		{"empty", nil, 24, 64, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aggregateCIDRs(tt.in, tt.v4, tt.v6, tt.max)
			s := make([]string, len(got))
			for i, p := range got {
				s[i] = p.String()
			}
			if strings.Join(s, ",") != tt.want {
				t.Errorf("got %v, want %s", s, tt.want)
			}
		})
	}
}

func TestExceptFor(t *testing.T) {
	pods := []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("10.244.2.0/24"), netip.MustParsePrefix("fd00:10:244::/64")}
	tests := []struct {
		cidr string
		want string
	}{
		{"0.0.0.0/0", "10.244.1.0/24,10.244.2.0/24"},
		{"10.244.0.0/22", "10.244.1.0/24,10.244.2.0/24"},
		{"10.244.1.0/24", ""}, // the network itself: not an except
		{"10.244.1.0/25", ""},
		{"198.51.100.0/24", ""},
		{"fd00::/8", "fd00:10:244::/64"},
	}
	for _, tt := range tests {
		got := exceptFor(netip.MustParsePrefix(tt.cidr), pods)
		s := make([]string, len(got))
		for i, p := range got {
			s[i] = p.String()
		}
		if strings.Join(s, ",") != tt.want {
			t.Errorf("exceptFor(%s) = %v, want %s", tt.cidr, s, tt.want)
		}
	}
}

func TestParseExclusion(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"203.0.113.66", "203.0.113.66/32", false},
		{"203.0.113.0/24", "203.0.113.0/24", false},
		{"203.0.113.9/24", "203.0.113.0/24", false},
		{"shop/cart", "shop/cart", false},
		{"Deployment/shop/cart", "Deployment/shop/cart", false},
		{"cart", "", true},
		{"a/b/c/d", "", true},
		{"/x", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		x, err := ParseExclusion(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && x.String() != tt.want) {
			t.Errorf("ParseExclusion(%q) = %v, %v; want %s (error %v)", tt.in, x, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadOption) {
			t.Errorf("error %v does not wrap ErrBadOption", err)
		}
	}
}

func suggestShop(t *testing.T, opts SuggestOptions, flows ...event.Flow) (*world, *Suggestion) {
	t.Helper()
	w := newWorld(shopCluster())
	if opts.PodNetworks == nil {
		opts.PodNetworks = PodNetworks(w.inv)
	}
	sg, err := Suggest(w.inv, w.idx, w.eng, w.ingest(flows...), opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, sg
}

func portStrings(ps []networkingv1.NetworkPolicyPort) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(*p.Protocol) + "/" + p.Port.String()
	}
	return out
}

// Ports are named where every destination pod names them, numbers
// otherwise.
func TestSuggestNamedPorts(t *testing.T) {
	inv := shopCluster()
	// A second api pod whose http port is 8081: the name is ambiguous for api.
	inv.Pods = append(inv.Pods, deployPod("shop", "api", "10.244.2.20", map[string]string{"app": "api"}, namedPort("http", 8081)))
	w := newWorld(inv)
	sg, err := Suggest(w.inv, w.idx, w.eng, w.ingest(tcp(web1, api, 8080, 1), tcp(api, web1, 8080, 2), tcp(web1, db, 5432, 3)), SuggestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webPol := findPolicy(t, sg, "kubedelta-deployment-web")
	if got := portStrings(webPol.Spec.Egress[0].Ports); !slices.Equal(got, []string{"TCP/postgres"}) {
		t.Errorf("web -> db: ports %v, want the destination's name postgres", got)
	}
	if got := portStrings(webPol.Spec.Egress[1].Ports); !slices.Equal(got, []string{"TCP/8080"}) {
		t.Errorf("web -> api: ports %v, want the number (api's pods disagree on http)", got)
	}
	if got := portStrings(webPol.Spec.Ingress[0].Ports); !slices.Equal(got, []string{"TCP/http"}) {
		t.Errorf("api -> web: ports %v, want web's name http", got)
	}
}

// DNS egress to the cluster DNS is kept whether or not flows show it, and
// DNS flows do not add rules of their own.
func TestSuggestDNSEgress(t *testing.T) {
	tests := []struct {
		name  string
		flows []event.Flow
		dnsEv string
	}{
		{"no DNS flows", []event.Flow{tcp(web1, db, 5432, 1)}, "cluster DNS, always allowed"},
		{"DNS flows", []event.Flow{tcp(web1, db, 5432, 1), udp(web1, dns, 53, 2), udp(web2, dns, 53, 3)}, "flows=2 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sg := suggestShop(t, SuggestOptions{}, tt.flows...)
			for _, name := range []string{"kubedelta-deployment-web", "kubedelta-deployment-api", "kubedelta-deployment-db"} {
				p := findPolicy(t, sg, name)
				last := p.Spec.Egress[len(p.Spec.Egress)-1]
				if len(last.To) != 1 || last.To[0].PodSelector.MatchLabels["k8s-app"] != "kube-dns" ||
					last.To[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "kube-system" ||
					!slices.Equal(portStrings(last.Ports), []string{"UDP/53", "TCP/53"}) {
					t.Errorf("%s: last egress rule %+v is not DNS", name, last)
				}
				for _, r := range p.Spec.Egress[:len(p.Spec.Egress)-1] {
					for _, peer := range r.To {
						if peer.PodSelector != nil && peer.PodSelector.MatchLabels["k8s-app"] == "kube-dns" {
							t.Errorf("%s: DNS flows added a rule of their own: %+v", name, r)
						}
					}
				}
			}
			web := findPolicy(t, sg, "kubedelta-deployment-web")
			key := AnnotationPrefix + "egress-" + strings.TrimSpace(string(rune('0'+len(web.Spec.Egress)-1)))
			if !strings.HasPrefix(web.Annotations[key], tt.dnsEv) {
				t.Errorf("web %s = %q, want prefix %q", key, web.Annotations[key], tt.dnsEv)
			}
		})
	}
}

func TestSuggestShop(t *testing.T) {
	w, sg := suggestShop(t, SuggestOptions{Exclude: []Exclusion{{Prefix: netip.MustParsePrefix("93.184.216.35/32")}}}, shopFlows()...)

	if !slices.Equal(sg.Namespaces, []string{"data", "shop"}) {
		t.Errorf("covered %v: kube-system is excluded by default", sg.Namespaces)
	}
	if len(sg.Replaced) != 3 {
		t.Errorf("replaced %v: data's three policies", sg.Replaced)
	}
	web := findPolicy(t, sg, "kubedelta-deployment-web")
	if !maps.Equal(web.Spec.PodSelector.MatchLabels, map[string]string{"app": "web"}) {
		t.Errorf("web selector %v: stable labels only", web.Spec.PodSelector.MatchLabels)
	}
	if len(web.Spec.PolicyTypes) != 2 {
		t.Errorf("policy types %v", web.Spec.PolicyTypes)
	}
	// web -> db (other namespace): namespaceSelector + podSelector.
	to := web.Spec.Egress[0].To[0]
	if to.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "data" || to.PodSelector.MatchLabels["app"] != "db" {
		t.Errorf("web -> db peer %+v", to)
	}
	// External: 93.184.216.34 as its /24, the excluded .35 left out.
	var blocks []string
	for _, r := range web.Spec.Egress {
		for _, p := range r.To {
			if p.IPBlock != nil {
				blocks = append(blocks, p.IPBlock.CIDR)
			}
		}
	}
	if !slices.Equal(blocks, []string{"93.184.216.0/24"}) {
		t.Errorf("web external blocks %v", blocks)
	}
	// Node -> web probe: the node's /32.
	var from []string
	for _, r := range web.Spec.Ingress {
		for _, p := range r.From {
			if p.IPBlock != nil {
				from = append(from, p.IPBlock.CIDR)
			}
		}
	}
	if !slices.Equal(from, []string{"10.0.0.11/32"}) {
		t.Errorf("web ingress blocks %v", from)
	}
	if web.Annotations[AnnotationPrefix+"workload"] != "Deployment/shop/web" || !strings.HasPrefix(web.Annotations[AnnotationPrefix+"ingress-0"], "flows=1 bytes=100 first=") {
		t.Errorf("evidence annotations %v", web.Annotations)
	}

	left := map[string]string{}
	for _, n := range sg.LeftOut {
		left[n.Src+">"+n.Dst+">"+portText(n.Port, 6)] = n.Why
	}
	for k, why := range map[string]string{
		"Deployment/shop/api>Deployment/data/db>5432/TCP": "denied by the current policies",
		"Deployment/shop/api>Deployment/data/db>9999/TCP": "every flow was dropped",
		ghost + ">Deployment/data/db>5432/TCP":            "pod network",
		"Deployment/shop/web>93.184.216.35>443/TCP":       "excluded (93.184.216.35/32)",
	} {
		if !strings.Contains(left[k], why) {
			t.Errorf("left out %s: %q, want %q (all: %v)", k, left[k], why, left)
		}
	}
	// Reach shrinks: web could reach every pod and address.
	for _, rc := range sg.Reach {
		if rc.Workload == "Deployment/shop/web" {
			if rc.Egress.ExternalBefore != "any" || rc.Egress.ExternalAfter != "1 CIDR" || rc.Egress.PodsAfter >= rc.Egress.PodsBefore {
				t.Errorf("web reach %+v", rc)
			}
		}
	}
	if sg.Checked == 0 {
		t.Error("nothing checked")
	}
	checkSuggestion(t, w, sg, SuggestOptions{}, w.ingest(shopFlows()...))
}

// A workload whose pods share no stable label gets no policy, and says so.
func TestSuggestNoStableLabels(t *testing.T) {
	inv := shopCluster()
	p := deployPod("shop", "legacy", "10.244.2.40", nil)
	inv.Pods = append(inv.Pods, p)
	w := newWorld(inv)
	sg, err := Suggest(w.inv, w.idx, w.eng, w.ingest(tcp("10.244.2.40", web1, 8080, 1)), SuggestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sg.Policies {
		if p.Name == "kubedelta-deployment-legacy" {
			t.Fatal("policy written for a workload without stable labels")
		}
	}
	if len(sg.Notes) == 0 || !strings.Contains(strings.Join(sg.Notes, "\n"), "Deployment/shop/legacy: no label") {
		t.Errorf("notes %v", sg.Notes)
	}
	// Its peers still allow it: as every pod of its namespace.
	web := findPolicy(t, sg, "kubedelta-deployment-web")
	if ps := web.Spec.Ingress[0].From[0].PodSelector; ps == nil || len(ps.MatchLabels) != 0 {
		t.Errorf("web ingress from legacy: %+v", web.Spec.Ingress[0])
	}
}

func TestSuggestSelectorOverlap(t *testing.T) {
	inv := shopCluster()
	// canary pods carry web's labels too.
	inv.Pods = append(inv.Pods, deployPod("shop", "web-canary", "10.244.2.41", map[string]string{"app": "web", "track": "canary"}))
	w := newWorld(inv)
	sg, err := Suggest(w.inv, w.idx, w.eng, w.ingest(tcp(web1, db, 5432, 1)), SuggestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(sg.Notes, "\n"), "Deployment/shop/web: its selector app=web also selects the pods of Deployment/shop/web-canary") {
		t.Errorf("notes %v", sg.Notes)
	}
}

func TestSuggestOptions(t *testing.T) {
	w := newWorld(shopCluster())
	edges := w.ingest(shopFlows()...)
	for _, opts := range []SuggestOptions{{CIDRPrefixV4: 33}, {CIDRPrefixV6: -2}} {
		if _, err := Suggest(w.inv, w.idx, w.eng, edges, opts); !errors.Is(err, ErrBadOption) {
			t.Errorf("%+v: error %v", opts, err)
		}
	}
	sg, err := Suggest(w.inv, w.idx, w.eng, edges, SuggestOptions{Namespaces: []string{"data"}, IncludeDenied: true, IncludeDropped: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(sg.Policies) != 1 || sg.Policies[0].Name != "kubedelta-deployment-db" {
		t.Fatalf("-n data: %d policies", len(sg.Policies))
	}
	var ports []string
	for _, r := range sg.Policies[0].Spec.Ingress {
		ports = append(ports, portStrings(r.Ports)...)
	}
	// api -> db (denied today) and api -> db:9999 (dropped) are allowed now.
	if !slices.Contains(ports, "TCP/9999") {
		t.Errorf("db ingress ports %v: want 9999 with IncludeDropped", ports)
	}
	checkSuggestion(t, w, sg, SuggestOptions{Namespaces: []string{"data"}, IncludeDenied: true, IncludeDropped: true}, edges)
}

// checkSuggestion is the property every suggestion must have, checked
// independently of Suggest's own check: with the suggested policies in
// place of the covered namespaces' current ones, every observed edge that
// the options do not leave out is allowed.
func checkSuggestion(t *testing.T, w *world, sg *Suggestion, opts SuggestOptions, edges *Edges) {
	t.Helper()
	covered := map[string]bool{}
	for _, ns := range sg.Namespaces {
		covered[ns] = true
	}
	after := Replace(w.inv.Namespaces, w.inv.Pods, w.inv.NetworkPolicies, sg.Policies, covered, optsFor(w))
	if len(after.Issues()) > 0 {
		t.Fatalf("suggested policies are invalid: %v", after.Issues())
	}
	for _, e := range edges.List() {
		before := evaluate(w.eng, &e)
		if before.status == VerdictUnresolved || (e.Protocol != event.ProtoTCP && e.Protocol != event.ProtoUDP && e.Protocol != event.ProtoSCTP) {
			continue
		}
		if e.Dropped == e.Flows && !opts.IncludeDropped {
			continue
		}
		if excluded(opts.Exclude, &e) {
			continue
		}
		if before.status == VerdictDenied && !opts.IncludeDenied {
			continue
		}
		if before.status == VerdictDenied && ((!before.v.Egress.Allowed && !covered[e.Src.Namespace]) || (!before.v.Ingress.Allowed && !covered[e.Dst.Namespace])) {
			continue
		}
		if ev := evaluate(after, &e); ev.status != VerdictAllowed {
			t.Errorf("observed %s -> %s %s not allowed by the suggestion: %s", e.Src.Label(), e.Dst.Label(), portText(e.Port, e.Protocol), ev.why)
		}
	}
}

func excluded(xs []Exclusion, e *Edge) bool {
	for _, x := range xs {
		if x.matches(e.Src) || x.matches(e.Dst) {
			return true
		}
	}
	return false
}

func optsFor(w *world) (o netpolOptions) {
	o.WorkloadName = func(p *corev1.Pod) string { return w.idx.WorkloadOf(p).String() }
	return o
}

// FuzzParseExclusion: never panics, and what it accepts prints back to
// itself.
func FuzzParseExclusion(f *testing.F) {
	for _, s := range []string{"203.0.113.66", "2001:db8::/48", "shop/cart", "Deployment/shop/cart", "Node/cp-1", "a//b", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseExclusion(s)
		if err != nil {
			return
		}
		y, err := ParseExclusion(x.String())
		if err != nil || y != x {
			t.Errorf("%q -> %v -> %v, %v", s, x, y, err)
		}
	})
}
