package enrich

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func pod(ns, name, ip, hash string, from, to time.Time) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(from), Labels: map[string]string{"pod-template-hash": hash}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
	if !to.IsZero() {
		dt := metav1.NewTime(to)
		p.DeletionTimestamp = &dt
	}
	return p
}

func TestResolveOverTime(t *testing.T) {
	inv := &cluster.Inventory{Pods: []corev1.Pod{
		// 10.0.0.5 is held by a web pod, then reused by a cart pod.
		pod("shop", "web-7d9f8-abcde", "10.0.0.5", "7d9f8", t0, t0.Add(10*time.Minute)),
		pod("shop", "cart-5c6b7-fghij", "10.0.0.5", "5c6b7", t0.Add(11*time.Minute), time.Time{}),
	}}
	r := New(cluster.NewIndex(inv))
	tests := []struct {
		name string
		ep   event.Endpoint
		at   time.Time
		want baseline.Peer
	}{
		{"first holder", event.Endpoint{IP: netip.MustParseAddr("10.0.0.5")}, t0.Add(time.Minute),
			baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/web", Namespace: "shop", IP: netip.MustParseAddr("10.0.0.5")}},
		{"reused by another pod", event.Endpoint{IP: netip.MustParseAddr("10.0.0.5")}, t0.Add(20 * time.Minute),
			baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/shop/cart", Namespace: "shop", IP: netip.MustParseAddr("10.0.0.5")}},
		{"external with DNS name", event.Endpoint{IP: netip.MustParseAddr("203.0.113.7"), Names: []string{"api.stripe.com"}}, t0,
			baseline.Peer{Kind: baseline.PeerExternal, IP: netip.MustParseAddr("203.0.113.7"), Name: "api.stripe.com"}},
		{"gone pod named by the source", event.Endpoint{IP: netip.MustParseAddr("10.0.9.9"), Namespace: "data", Pod: "etl-6f5d4-zzzzz", Labels: []string{"pod-template-hash=6f5d4", "app=etl"}}, t0,
			baseline.Peer{Kind: baseline.PeerWorkload, Workload: "Deployment/data/etl", Namespace: "data", IP: netip.MustParseAddr("10.0.9.9")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &event.Flow{Time: tt.at}
			if got := r.Endpoint(&tt.ep, f); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolveWithoutInventory(t *testing.T) {
	r := New(nil)
	f := &event.Flow{Time: t0, Src: event.Endpoint{IP: netip.MustParseAddr("10.1.1.1"), Namespace: "a", Pod: "solo"}}
	if got := r.Endpoint(&f.Src, f); got.Workload != "Pod/a/solo" || got.Kind != baseline.PeerWorkload {
		t.Errorf("got %+v, want the bare pod named by the hint", got)
	}
}
