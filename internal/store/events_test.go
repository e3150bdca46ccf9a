package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func putEvents(t *testing.T, s *Store, kind string, minutes ...int) {
	t.Helper()
	var recs []rawEvent
	for _, m := range minutes {
		recs = append(recs, rawEvent{Time: t0.Add(time.Duration(m) * time.Minute), ID: fmt.Sprintf("%s-%d", kind, m), Data: []byte(`{"m":1}`)})
	}
	if err := s.PutEvents(kind, recs); err != nil {
		t.Fatal(err)
	}
}

func TestPruneEvents(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cutoff   int // minutes after t0
		wantN    int
		wantLeft map[string]int
	}{
		{"nothing older", -10, 0, map[string]int{"audit": 4, "exec": 2, "flows": 3}},
		{"cutoff is exclusive", 0, 0, map[string]int{"audit": 4, "exec": 2, "flows": 3}},
		{"some of each kind", 15, 4, map[string]int{"audit": 2, "exec": 1, "flows": 2}},
		{"everything", 1000, 9, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, Options{})
			putEvents(t, s, "audit", 0, 10, 20, 30)
			putEvents(t, s, "flows", 5, 25, 35)
			putEvents(t, s, "exec", 0, 60)
			n, err := s.PruneEvents(t0.Add(time.Duration(tc.cutoff) * time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantN {
				t.Errorf("PruneEvents deleted %d, want %d", n, tc.wantN)
			}
			for _, kind := range []string{"audit", "flows", "exec"} {
				if got := countKeys(t, s, eventKindPrefix(kind)); got != tc.wantLeft[kind] {
					t.Errorf("%s events left = %d, want %d", kind, got, tc.wantLeft[kind])
				}
			}
			// Pruning again deletes nothing more.
			if n, err := s.PruneEvents(t0.Add(time.Duration(tc.cutoff) * time.Minute)); n != 0 || err != nil {
				t.Errorf("second PruneEvents = %d, %v", n, err)
			}
		})
	}
}

func TestPutEvents(t *testing.T) {
	s := openTest(t, Options{})
	for _, tc := range []struct {
		kind    string
		wantErr bool
	}{
		{"audit", false},
		{"flows", false},
		{"node-exec2", false},
		{"", true},
		{"a/b", true},
		{"Audit", true},
		{"this-kind-name-is-far-too-long-to-be-a-key", true},
	} {
		err := s.PutEvents(tc.kind, []rawEvent{{Time: t0, ID: "x", Data: []byte("d")}})
		if tc.wantErr != errors.Is(err, ErrInvalid) || (!tc.wantErr && err != nil) {
			t.Errorf("PutEvents(%q) = %v, want error %v", tc.kind, err, tc.wantErr)
		}
	}
	// Same kind, time and ID: replaced, not duplicated.
	if err := s.PutEvents("audit", []rawEvent{{Time: t0, ID: "x", Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if n := countKeys(t, s, eventKindPrefix("audit")); n != 1 {
		t.Fatalf("%d audit events, want 1", n)
	}
	v, closer, err := s.db.Get(eventKey("audit", t0, "x"))
	if err != nil || string(v) != "new" {
		t.Fatalf("event = %q, %v", v, err)
	}
	closer.Close()
}

func TestRunPrunesByRetention(t *testing.T) {
	s := openTest(t, Options{Retention: time.Hour})
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	putEvents(t, s, "audit", 0, 30, 61, 90) // cutoff is t0+1h: 0 and 30 go
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for countKeys(t, s, eventKindPrefix("audit")) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not prune")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunStopsWhenClosed(t *testing.T) {
	s := openTest(t, Options{Retention: -1})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run with retention disabled = %v", err)
	}
	s2 := openTest(t, Options{})
	_ = s2.Close()
	if err := s2.Run(t.Context()); err != nil {
		t.Fatalf("Run on a closed store = %v, want nil", err)
	}
}
