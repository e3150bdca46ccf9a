package server

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []record{
		{Kind: KindAudit, Boot: 1, Received: time.Unix(1700000000, 123).UTC(), Events: 400, Body: []byte(`{"kind":"EventList"}`)},
		{Kind: KindFlows, Boot: 1<<63 + 5, Received: time.Unix(0, 1).UTC(), Events: 1, Format: "hubble", Body: []byte("{}\n")},
		{Kind: KindExec, Boot: 7, Received: time.Unix(1, 0).UTC(), Events: 1<<32 - 1, Format: "tetragon", Body: nil},
	} {
		b := appendRecord(nil, &r)
		got, err := parseRecord(b)
		if err != nil {
			t.Fatalf("%v: %v", r.Kind, err)
		}
		if got.Body == nil {
			got.Body = nil
		}
		if len(got.Body) == 0 && len(r.Body) == 0 {
			got.Body, r.Body = nil, nil
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestParseRecordErrors(t *testing.T) {
	good := appendRecord(nil, &record{Kind: KindFlows, Format: "hubble", Body: []byte("x")})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:10],
		"magic":          append([]byte{'X'}, good[1:]...),
		"version":        append([]byte{'K', 9}, good[2:]...),
		"kind":           append([]byte{'K', 1, 9}, good[3:]...),
		"format too big": append([]byte{'K', 1, 2, 200}, good[4:recordHeader]...),
	} {
		if _, err := parseRecord(b); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: error %v, want ErrRecord", name, err)
		}
	}
}

// FuzzParseRecord: parseRecord never panics, and what it accepts encodes
// back to the same bytes.
func FuzzParseRecord(f *testing.F) {
	f.Add(appendRecord(nil, &record{Kind: KindAudit, Boot: 3, Received: time.Unix(5, 6), Events: 2, Body: []byte(`{"items":[]}`)}))
	f.Add(appendRecord(nil, &record{Kind: KindExec, Format: "falco", Body: []byte("{}")}))
	f.Add([]byte("K\x01\x02\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			return
		}
		if again := appendRecord(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%q\n%q", again, b)
		}
	})
}

func req(id, uri, user, verb string, received time.Time) *event.APIRequest {
	r := &event.APIRequest{AuditID: id, RequestURI: uri, Verb: verb, Received: received}
	r.User.Username = user
	return r
}

func TestDedupSet(t *testing.T) {
	d, err := newDedupSet(8)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	a := req("a", "/api/v1/pods", "alice", "list", t0)
	if !d.add(a) || d.add(a) {
		t.Fatal("the first add must be new, the second a duplicate")
	}
	// A client choosing the same Audit-ID for another request is not a
	// duplicate.
	for _, other := range []*event.APIRequest{
		req("a", "/api/v1/secrets", "alice", "list", t0),
		req("a", "/api/v1/pods", "mallory", "list", t0),
		req("a", "/api/v1/pods", "alice", "watch", t0),
		req("a", "/api/v1/pods", "alice", "list", t0.Add(time.Nanosecond)),
	} {
		if !d.add(other) {
			t.Errorf("%+v taken for a duplicate of %+v", other, a)
		}
	}
	// Saved and restored, it remembers and keeps its key.
	b := d.marshal()
	d2, err := unmarshalDedupSet(b, 8)
	if err != nil {
		t.Fatal(err)
	}
	if d2.add(a) {
		t.Error("a restored set forgot a request")
	}
	if d2.key != d.key || d2.len() != d.len() {
		t.Errorf("restored key or size differ: %d vs %d", d2.len(), d.len())
	}
	// Bounded: after two generations of other requests, a is forgotten.
	for i := range 16 {
		d2.add(req(strings.Repeat("x", i+1), "/", "u", "get", t0))
	}
	if d2.len() > 16 {
		t.Errorf("%d entries, bound 16", d2.len())
	}
	if !d2.add(a) {
		t.Error("the set is not bounded: a is still remembered after 16 newer requests")
	}
}

func TestUnmarshalDedupSetErrors(t *testing.T) {
	d, _ := newDedupSet(8)
	d.add(req("a", "/", "u", "get", time.Unix(1, 0)))
	good := d.marshal()
	for name, b := range map[string][]byte{
		"empty":    nil,
		"magic":    append([]byte("XXXX"), good[4:]...),
		"version":  append(append([]byte("KDDS"), 2), good[5:]...),
		"truncate": good[:len(good)-3],
		"trailing": append(bytes.Clone(good), 0),
	} {
		if _, err := unmarshalDedupSet(b, 8); !errors.Is(err, ErrDedupState) {
			t.Errorf("%s: error %v, want ErrDedupState", name, err)
		}
	}
}

// FuzzUnmarshalDedupSet: restoring never panics or allocates beyond the
// input, and a restored set marshals to a set with the same members.
func FuzzUnmarshalDedupSet(f *testing.F) {
	d, _ := newDedupSet(8)
	for i := range 5 {
		d.add(req(string(rune('a'+i)), "/", "u", "get", time.Unix(int64(i), 0)))
	}
	f.Add(d.marshal())
	f.Add([]byte("KDDS\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := unmarshalDedupSet(b, 8)
		if err != nil {
			return
		}
		y, err := unmarshalDedupSet(x.marshal(), 8)
		if err != nil || y.len() != x.len() {
			t.Fatalf("re-marshalled set: %v, %d vs %d entries", err, y.len(), x.len())
		}
	})
}

func TestStageDelivered(t *testing.T) {
	// mirrors audit.Decoder's stage filter, which mirrors
	// k8s.io/apiserver/pkg/server/filters/longrunning.go
	// BasicLongRunningRequestCheck.
	for _, c := range []struct {
		stage, verb, resource, sub, path string
		want                             bool
	}{
		{event.StageResponseComplete, "get", "pods", "", "", true},
		{event.StagePanic, "get", "pods", "", "", true},
		{event.StageRequestReceived, "get", "pods", "", "", false},
		{event.StageResponseStarted, "get", "pods", "", "", false},
		{event.StageResponseStarted, "watch", "pods", "", "", true},
		{event.StageResponseStarted, "create", "pods", "exec", "", true},
		{event.StageResponseStarted, "get", "pods", "log", "", true},
		{event.StageResponseStarted, "get", "", "", "/debug/pprof/profile", true},
		{event.StageResponseStarted, "get", "", "", "/debug/pprof/", false},
		{event.StageResponseStarted, "get", "", "", "/healthz", false},
	} {
		r := &event.APIRequest{Stage: c.stage, Verb: c.verb, Resource: c.resource, Subresource: c.sub, Path: c.path}
		if got := stageDelivered(r); got != c.want {
			t.Errorf("%+v: delivered %v, want %v", c, got, c.want)
		}
	}
}

func BenchmarkDedupAdd(b *testing.B) {
	d, _ := newDedupSet(DefaultDedupEntries)
	reqs := make([]*event.APIRequest, 4096)
	for i := range reqs {
		reqs[i] = req("4d3b20fe-b895-4ef2-ae83-"+strings.Repeat("a", i%12), "/api/v1/namespaces/shop/pods?limit=500", "system:serviceaccount:shop:web", "list", time.Unix(int64(i), 0))
	}
	b.ResetTimer()
	for i := range b.N {
		d.add(reqs[i%len(reqs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
}
