package delta

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/event"
)

func TestIngestResolvesEndpoints(t *testing.T) {
	w := newWorld(shopCluster())
	edges := w.ingest(shopFlows()...)
	type want struct {
		src, dst string
		srcKind  Kind
		dstKind  Kind
		port     uint16
		flows    uint64
		dropped  uint64
	}
	tests := []want{
		{src: "Deployment/shop/web", dst: "Deployment/data/db", srcKind: KindPod, dstKind: KindPod, port: 5432, flows: 4}, // three, and one of the pod gone
		{src: "Deployment/shop/api", dst: "Deployment/data/db", srcKind: KindPod, dstKind: KindPod, port: 5432, flows: 2}, // direct, and through the Service
		{src: "Deployment/shop/api", dst: "Deployment/data/db", srcKind: KindPod, dstKind: KindPod, port: 9999, flows: 1, dropped: 1},
		{src: "Deployment/shop/web", dst: "93.184.216.34", srcKind: KindPod, dstKind: KindExternal, port: 443, flows: 1},
		{src: ghost, dst: "Deployment/data/db", srcKind: KindUnresolved, dstKind: KindPod, port: 5432, flows: 1},
		{src: "Node/n1", dst: "Deployment/shop/web", srcKind: KindNode, dstKind: KindPod, port: 8080, flows: 1},
	}
	got := map[string]Edge{}
	for _, e := range edges.List() {
		k := e.Src.Label() + ">" + e.Dst.Label() + ">" + portText(e.Port, e.Protocol)
		if prev, ok := got[k]; ok {
			// Endpoints of one workload with different labels (the hinted
			// pod) are separate edges; sum them for this check.
			e.Flows += prev.Flows
			e.Dropped += prev.Dropped
		}
		got[k] = e
	}
	for _, tt := range tests {
		k := tt.src + ">" + tt.dst + ">" + portText(tt.port, event.ProtoTCP)
		e, ok := got[k]
		if !ok {
			t.Errorf("no edge %s; have %v", k, keys(got))
			continue
		}
		if e.Src.Kind != tt.srcKind || e.Dst.Kind != tt.dstKind || e.Flows != tt.flows || e.Dropped != tt.dropped {
			t.Errorf("%s: kinds %s/%s flows %d dropped %d; want %s/%s %d %d", k, e.Src.Kind, e.Dst.Kind, e.Flows, e.Dropped,
				tt.srcKind, tt.dstKind, tt.flows, tt.dropped)
		}
	}
	if n := edges.Flows(); n != int64(len(shopFlows())) {
		t.Errorf("Flows() = %d, want %d", n, len(shopFlows()))
	}
	from, to := edges.Window()
	if !from.Equal(t0.Add(time.Minute)) || !to.Equal(t0.Add(12*time.Minute)) {
		t.Errorf("window %v – %v", from, to)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A pod the cluster objects do not hold, named by the flow: its workload and
// labels come from the flow's hints, its container ports from a pod of the
// same workload.
func TestIngestHintedPod(t *testing.T) {
	w := newWorld(shopCluster())
	edges := w.ingest(hinted(tcp(goneWeb, db, 5432, 5), "shop", "web-5d8f7c9b4-gone1", "app=web", "pod-template-hash=5d8f7c9b4", "reserved:world"))
	es := edges.List()
	if len(es) != 1 {
		t.Fatalf("%d edges, want 1", len(es))
	}
	src := es[0].Src
	if src.Workload != "Deployment/shop/web" || !src.FromFlow || src.Pod.Labels["app"] != "web" {
		t.Fatalf("hinted source resolved to %+v", src)
	}
	if _, ok := src.Pod.Labels["reserved:world"]; ok || len(src.Pod.Labels) != 2 {
		t.Errorf("labels %v: want app and pod-template-hash only", src.Pod.Labels)
	}
	if containerPort(src.Pod, "http", corev1.ProtocolTCP) != 8080 {
		t.Errorf("hinted pod did not borrow the workload's container ports: %+v", src.Pod.Spec)
	}
}

// An address reused by another pod minutes later resolves to the pod that
// held it at each flow's time (the index's history).
func TestIngestAddressReuse(t *testing.T) {
	inv := shopCluster()
	old := deployPod("shop", "batch", "10.244.2.50", map[string]string{"app": "batch"})
	old.DeletionTimestamp = &metav1.Time{Time: t0.Add(10 * time.Minute)}
	newer := deployPod("data", "etl", "10.244.2.50", map[string]string{"app": "etl"})
	newer.UID = "uid-newer"
	newer.Status.StartTime = &metav1.Time{Time: t0.Add(20 * time.Minute)}
	newer.CreationTimestamp = metav1.NewTime(t0.Add(20 * time.Minute))
	inv.Pods = append(inv.Pods, old, newer)
	w := newWorld(inv)
	edges := w.ingest(tcp("10.244.2.50", db, 5432, 5), tcp("10.244.2.50", db, 5432, 30), tcp("10.244.2.50", db, 5432, 15))
	got := map[string]Kind{}
	for _, e := range edges.List() {
		got[e.Src.Label()] = e.Src.Kind
	}
	want := map[string]Kind{"Deployment/shop/batch": KindPod, "Deployment/data/etl": KindPod, "10.244.2.50": KindUnresolved}
	if len(got) != len(want) {
		t.Fatalf("sources %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("source %s: kind %s, want %s (all: %v)", k, got[k], v, got)
		}
	}
}

func TestIngestServiceTargetPort(t *testing.T) {
	w := newWorld(shopCluster())
	es := w.ingest(tcp(api, dbSvc, 80, 1)).List()
	if len(es) != 1 || es[0].Dst.Workload != "Deployment/data/db" || es[0].Port != 5432 {
		t.Fatalf("flow to the Service: %+v port %d; want data/db on 5432 (named targetPort)", es[0].Dst, es[0].Port)
	}
	// A port the Service does not expose stays as it is.
	if es := w.ingest(tcp(api, dbSvc, 81, 1)).List(); es[0].Port != 81 {
		t.Errorf("unknown service port translated to %d", es[0].Port)
	}
}

func TestPodNetworks(t *testing.T) {
	inv := shopCluster()
	got := PodNetworks(inv)
	if len(got) != 2 || got[0] != netip.MustParsePrefix("10.244.1.0/24") {
		t.Errorf("from nodes: %v", got)
	}
	inv.Nodes = nil
	got = PodNetworks(inv)
	want := map[netip.Prefix]bool{netip.MustParsePrefix("10.244.1.0/24"): true, netip.MustParsePrefix("10.244.2.0/24"): true}
	if len(got) != len(want) || !want[got[0]] || !want[got[1]] {
		t.Errorf("from pods: %v", got)
	}
	if PodNetworks(nil) != nil {
		t.Error("nil inventory")
	}
}

// Memory grows with distinct edges: a million flows over a handful of
// edges keep a handful of entries.
func TestIngestAggregates(t *testing.T) {
	w := newWorld(shopCluster())
	g := NewIngester(w.idx, PodNetworks(w.inv))
	f := tcp(web1, db, 5432, 0)
	for i := range 100_000 {
		f.Time = t0.Add(time.Duration(i) * time.Second)
		f.Src.Port = uint16(30000 + i%20000)
		g.Add(&f)
	}
	if g.Edges().Len() != 1 || g.Edges().Flows() != 100_000 {
		t.Fatalf("%d edges, %d flows", g.Edges().Len(), g.Edges().Flows())
	}
	e := g.Edges().List()[0]
	if e.Bytes != 100*100_000 || !e.Last.Equal(t0.Add(99_999*time.Second)) {
		t.Errorf("aggregate %+v", e)
	}
}

func TestIngestNilIndex(t *testing.T) {
	g := NewIngester(nil, nil)
	f := tcp("192.0.2.1", "198.51.100.2", 443, 0)
	g.Add(&f)
	es := g.Edges().List()
	if len(es) != 1 || es[0].Src.Kind != KindExternal || es[0].Dst.Kind != KindExternal {
		t.Fatalf("%+v", es)
	}
	_ = cluster.Workload{}
}

// The address cache never hides a change of holder inside its time
// bucket: here a pod is deleted and its address taken by another within
// one minute.
func TestIngestCacheWithinBucket(t *testing.T) {
	inv := shopCluster()
	old := deployPod("shop", "batch", "10.244.2.50", map[string]string{"app": "batch"})
	old.DeletionTimestamp = &metav1.Time{Time: t0.Add(10*time.Minute + 20*time.Second)}
	newer := deployPod("data", "etl", "10.244.2.50", map[string]string{"app": "etl"})
	newer.UID = "uid-newer"
	newer.Status.StartTime = &metav1.Time{Time: t0.Add(10*time.Minute + 40*time.Second)}
	newer.CreationTimestamp = metav1.NewTime(t0.Add(10*time.Minute + 40*time.Second))
	inv.Pods = append(inv.Pods, old, newer)
	w := newWorld(inv)
	g := NewIngester(w.idx, PodNetworks(w.inv))
	at := func(sec int) event.Flow {
		f := tcp("10.244.2.50", db, 5432, 10)
		f.Time = f.Time.Add(time.Duration(sec) * time.Second)
		return f
	}
	// Twice each, so that a wrongly cached entry would be used.
	for _, sec := range []int{5, 10, 30, 35, 50, 55, 12} {
		f := at(sec)
		g.Add(&f)
	}
	got := map[string]uint64{}
	for _, e := range g.Edges().List() {
		got[e.Src.Label()] += e.Flows
	}
	want := map[string]uint64{"Deployment/shop/batch": 3, "10.244.2.50": 2, "Deployment/data/etl": 2}
	if !maps.Equal(got, want) {
		t.Errorf("sources %v, want %v", got, want)
	}
	// A stable pod and an external address are served from the cache, and
	// stay right across buckets.
	for i := range 300 {
		f := tcp(web1, "192.0.2.10", 443, i/10)
		g.Add(&f)
	}
	if len(g.ip4) == 0 {
		t.Error("nothing cached")
	}
	// A flow naming a pod at an address cached as external gets the pod
	// (here the same variant as web's pods in the dump).
	f := hinted(tcp("192.0.2.10", db, 5432, 29), "shop", "web-5d8f7c9b4-gone2", "app=web", "pod-template-hash=5d8f7c9b4")
	g.Add(&f)
	for _, e := range g.Edges().List() {
		if e.Dst.Workload == "Deployment/data/db" && e.Src.Kind != KindPod && e.Src.IP == mustAddr("192.0.2.10") {
			t.Errorf("the flow's pod hint was hidden by the cached external address: %+v", e.Src)
		}
	}
}
