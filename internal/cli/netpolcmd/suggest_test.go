package netpolcmd_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/netpol"
	"github.com/kubedelta/kubedelta/internal/netpol/delta"
)

func TestSuggestExampleGolden(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "suggest", "--cluster", exampleCluster, "--flows", exampleFlows)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, filepath.Join("testdata", "suggest-example.golden"), out)
}

// parsePolicies decodes the YAML stream strictly, as kubectl would.
func parsePolicies(t *testing.T, out string) []networkingv1.NetworkPolicy {
	t.Helper()
	var ps []networkingv1.NetworkPolicy
	for i, doc := range strings.Split(out, "\n---\n") {
		if i == 0 {
			if strings.TrimSpace(strings.ReplaceAll(doc, "#", "")) == "" || !strings.HasPrefix(doc, "#") {
				t.Fatalf("the output starts with a comment header: %.200q", doc)
			}
			continue
		}
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict([]byte(doc), &np); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		ps = append(ps, np)
	}
	return ps
}

// The suggestion is valid API input, annotated with its evidence, and the
// policy engine allows the example's day with it (mirrors the story:
// examples/README.md "The network").
func TestSuggestExampleApplies(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "suggest", "--cluster", exampleCluster, "--flows", exampleFlows, "--exclude", "203.0.113.66")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ps := parsePolicies(t, out)
	if len(ps) != 8 {
		t.Fatalf("%d policies, want one per workload of ci, data, monitoring and shop (8)", len(ps))
	}
	covered := map[string]bool{}
	for _, p := range ps {
		covered[p.Namespace] = true
		if p.APIVersion != "networking.k8s.io/v1" || p.Kind != "NetworkPolicy" {
			t.Errorf("%s: %s %s", p.Name, p.APIVersion, p.Kind)
		}
		if errs := validation.IsDNS1123Subdomain(p.Name); len(errs) > 0 {
			t.Errorf("name %q: %v", p.Name, errs)
		}
		for k := range p.Annotations {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				t.Errorf("%s: annotation %q: %v", p.Name, k, errs)
			}
		}
		if n := len(p.Spec.Ingress) + len(p.Spec.Egress); len(p.Annotations) != n+2 {
			t.Errorf("%s: %d annotations for %d rules: want evidence per rule", p.Name, len(p.Annotations), n)
		}
		if !strings.Contains(p.Annotations["kubedelta.io/evidence"], "2026-11-23T00:02:14Z") {
			t.Errorf("%s: evidence %q", p.Name, p.Annotations["kubedelta.io/evidence"])
		}
	}
	// The attacker's address, excluded, is in no policy; payments keeps
	// api.stripe.com.
	for _, doc := range strings.Split(out, "\n---\n")[1:] {
		if strings.Contains(doc, "203.0.113.") {
			t.Errorf("excluded 203.0.113.66 is allowed:\n%s", doc)
		}
	}
	if !strings.Contains(out, "cidr: 54.187.174.0/24") {
		t.Error("payments -> api.stripe.com not allowed")
	}

	// Independent check: with these policies in place of the current ones
	// in the covered namespaces, every connection the day shows (except the
	// excluded, the dropped web -> redis and unresolved ones) is allowed.
	inv, err := cluster.Load([]string{exampleCluster}, cluster.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := cluster.NewIndex(inv)
	opts := netpol.Options{WorkloadName: func(p *corev1.Pod) string { return idx.WorkloadOf(p).String() }}
	after := delta.Replace(inv.Namespaces, inv.Pods, inv.NetworkPolicies, ps, covered, opts)
	if len(after.Issues()) != 0 {
		t.Fatalf("invalid policies: %v", after.Issues())
	}
	allowed := func(from, to string, port int32, proto corev1.Protocol) bool {
		t.Helper()
		peer := func(s string) netpol.Peer {
			if ns, name, ok := strings.Cut(s, "/"); ok {
				p, ok := idx.Pod(ns, name)
				if !ok {
					t.Fatalf("no pod %s", s)
				}
				return netpol.Peer{Pod: p}
			}
			ip, _ := delta.ParseExclusion(s)
			return netpol.Peer{IP: ip.Prefix.Addr()}
		}
		return after.Allowed(peer(from), peer(to), netpol.PortRef{Port: port}, proto)
	}
	for _, c := range []struct {
		from, to string
		port     int32
		proto    corev1.Protocol
		want     bool
	}{
		{"shop/payments-g8gv52l5n9-6rnz8", "data/postgres-0", 5432, corev1.ProtocolTCP, true},
		{"shop/web-d7msxgw8j5-2rzqm", "data/postgres-0", 5432, corev1.ProtocolTCP, false}, // narrowed to payments
		{"shop/cart-vz5cdd847k-kmnfs", "data/redis-wlzhsz6pxl-pgd9l", 6379, corev1.ProtocolTCP, true},
		{"shop/web-d7msxgw8j5-2rzqm", "data/redis-wlzhsz6pxl-pgd9l", 6379, corev1.ProtocolTCP, false}, // dropped all day
		{"shop/web-d7msxgw8j5-2rzqm", "shop/cart-vz5cdd847k-kmnfs", 8080, corev1.ProtocolTCP, true},
		{"shop/cart-vz5cdd847k-kmnfs", "203.0.113.66", 4444, corev1.ProtocolTCP, false}, // the reverse shell, excluded
		{"shop/payments-g8gv52l5n9-6rnz8", "54.187.174.169", 443, corev1.ProtocolTCP, true},
		{"198.51.100.7", "shop/web-d7msxgw8j5-2rzqm", 8080, corev1.ProtocolTCP, true},
		{"198.51.100.7", "shop/cart-vz5cdd847k-kmnfs", 8080, corev1.ProtocolTCP, false},
		{"monitoring/prometheus-tlljwftdrv-fq9mw", "data/postgres-0", 9187, corev1.ProtocolTCP, true},
		{"shop/web-d7msxgw8j5-2rzqm", "kube-system/coredns-tzv4jqxbxz-xwwdr", 53, corev1.ProtocolUDP, true},
		{"data/redis-wlzhsz6pxl-pgd9l", "kube-system/coredns-tzv4jqxbxz-xwwdr", 53, corev1.ProtocolTCP, true}, // DNS always kept
	} {
		if got := allowed(c.from, c.to, c.port, c.proto); got != c.want {
			t.Errorf("%s -> %s %d/%s: allowed %v, want %v", c.from, c.to, c.port, c.proto, got, c.want)
		}
	}
}

// The header says what the suggestion replaces, what it removes, what it
// leaves out and what to review.
func TestSuggestExampleHeader(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "suggest", "--cluster", exampleCluster, "--flows", exampleFlows)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	header, _, _ := strings.Cut(out, "\n---\n")
	for _, want := range []string{
		"kubectl -n data delete networkpolicy default-deny-ingress allow-shop-to-postgres allow-cart-to-redis allow-prometheus-scrape",
		"# Removes reach",
		"shop/web: may reach 11→4 pods, external any→1 CIDR",
		"shop/web -> data/redis 6379/TCP, 12 flows 11:20–15:02: every flow was dropped by the network",
		"shop/cart -> 203.0.113.66 4444/TCP, 1 flow at 14:05",
	} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
}

func TestSuggestJSONList(t *testing.T) {
	out, errs, code := run(t, "", "netpol", "suggest", "--cluster", exampleCluster, "--flows", exampleFlows, "-o", "json", "-n", "data")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list struct {
		APIVersion, Kind string
		Items            []networkingv1.NetworkPolicy
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 3 {
		t.Fatalf("%s with %d items; want data's 3 workloads", list.Kind, len(list.Items))
	}
	for _, p := range list.Items {
		if p.Namespace != "data" {
			t.Errorf("-n data: policy in %s", p.Namespace)
		}
	}
}

func TestSuggestBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--cidr-prefix", "33"}, "--cidr-prefix 33: want 1 to 32"},
		{[]string{"--cidr-prefix-v6", "0"}, "--cidr-prefix-v6 0"},
		{[]string{"--exclude", "cart"}, "--exclude: invalid option: exclusion \"cart\""},
		{[]string{"-o", "table"}, "unknown output format"},
	} {
		args := append([]string{"netpol", "suggest", "--cluster", exampleCluster, "--flows", exampleFlows}, tt.args...)
		if _, errs, code := run(t, "", args...); code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tt.args, code, errs, tt.want)
		}
	}
}
