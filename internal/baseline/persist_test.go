package baseline

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func sampleProfiles() *Profiles {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	p := NewProfiles()
	sa := "system:serviceaccount:shop:web"
	p.ObserveCall(sa, CallKey{Verb: "get", Resource: "configmaps", Namespace: "shop"}, "web/1.0", netip.MustParseAddr("10.0.0.5"), t0)
	p.ObserveCall(sa, CallKey{Verb: "get", Resource: "configmaps", Namespace: "shop"}, "web/1.0", netip.MustParseAddr("10.0.0.5"), t0.Add(time.Hour))
	p.ObserveCall("alice", CallKey{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "shop"}, "kubectl/v1.37.2", netip.MustParseAddr("192.0.2.10"), t0.Add(2*time.Hour))
	web := Peer{Kind: PeerWorkload, Workload: "Deployment/shop/web", Namespace: "shop", IP: netip.MustParseAddr("10.0.0.5")}
	cart := Peer{Kind: PeerWorkload, Workload: "Deployment/shop/cart", Namespace: "shop", IP: netip.MustParseAddr("10.0.0.9")}
	ext := Peer{Kind: PeerExternal, IP: netip.MustParseAddr("203.0.113.7"), Name: "api.stripe.com"}
	p.ObserveEdge(web, cart, 8080, 6, 1200, 4, t0, 24, 64)
	p.ObserveEdge(cart, ext, 443, 6, 5000, 9, t0.Add(time.Minute), 24, 64)
	p.ObserveProcess("Deployment/shop/web", ProcessKey{Container: "web", Executable: "/usr/sbin/nginx", ArgShape: "-g <str>"}, t0)
	p.ObserveWorkload("shop", "Deployment/shop/web", "nginx:1.27", t0)
	p.ObserveWorkload("shop", "Deployment/shop/cart", "ghcr.io/acme/cart@sha256:abc", t0)
	return p
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := sampleProfiles()
	for _, gz := range []bool{false, true} {
		var buf bytes.Buffer
		if err := p.Save(&buf, gz); err != nil {
			t.Fatal(err)
		}
		q, err := Load(&buf, "mem")
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("gz=%v: loaded baseline differs from the saved one", gz)
		}
	}
}

func TestSaveGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleProfiles().Save(&buf, false); err != nil {
		t.Fatal(err)
	}
	const path = "testdata/baseline.golden.json"
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("saved form changed (the format is versioned: bump FileAPIVersion if this is intended, then -update)\n%s", buf.String())
	}
	// The same baseline is the same bytes.
	var again bytes.Buffer
	_ = sampleProfiles().Save(&again, false)
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("two saves of equal baselines differ")
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", "hello", "invalid character"},
		{"wrong kind", `{"apiVersion":"kubedelta.io/v1alpha1","kind":"Config"}`, `kind "Config"`},
		{"future version", `{"apiVersion":"kubedelta.io/v9","kind":"Baseline"}`, `apiVersion "kubedelta.io/v9"`},
		{"unknown field", `{"apiVersion":"kubedelta.io/v1alpha1","kind":"Baseline","extra":1}`, `unknown field "extra"`},
		{"bad ip", `{"apiVersion":"kubedelta.io/v1alpha1","kind":"Baseline","subjects":[{"user":"u","seen":{},"calls":[],"agents":[],"sourceIPs":[{"name":"x"}]}]}`, "sourceIPs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.in), "b.json")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "b.json: ") {
				t.Errorf("err = %v, want it to name the file and contain %q", err, tt.want)
			}
			if tt.name != "bad ip" && !errors.Is(err, ErrFormat) {
				t.Errorf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
	}{
		{"nginx", ImageRef{"docker.io", "library/nginx", "latest", ""}},
		{"nginx:1.27", ImageRef{"docker.io", "library/nginx", "1.27", ""}},
		{"bitnami/redis:7", ImageRef{"docker.io", "bitnami/redis", "7", ""}},
		{"ghcr.io/acme/cart@sha256:abc", ImageRef{"ghcr.io", "acme/cart", "", "sha256:abc"}},
		{"localhost:5000/x:dev", ImageRef{"localhost:5000", "x", "dev", ""}},
		{"registry.k8s.io/coredns/coredns:v1.11.1@sha256:def", ImageRef{"registry.k8s.io", "coredns/coredns", "v1.11.1", "sha256:def"}},
		{"localhost/app", ImageRef{"localhost", "app", "latest", ""}},
	}
	for _, tt := range tests {
		if got := ParseImage(tt.in); got != tt.want {
			t.Errorf("ParseImage(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
