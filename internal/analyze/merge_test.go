package analyze

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/event"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func source(kind string, offsets ...int) Source {
	return func(ctx context.Context, emit func(Item) error) error {
		for _, o := range offsets {
			t := t0.Add(time.Duration(o) * time.Second)
			var it Item
			switch kind {
			case "api":
				it = Item{Time: t, API: &event.APIRequest{Time: t}}
			case "flow":
				it = Item{Time: t, Flow: &event.Flow{Time: t}}
			default:
				it = Item{Time: t, Exec: &event.Exec{Time: t}}
			}
			if err := emit(it); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestMergeOrdersAcrossSources(t *testing.T) {
	many := make([]int, 2000)
	for i := range many {
		many[i] = i * 3
	}
	srcs := []Source{source("api", many...), source("flow", 1, 2, 4, 5000), source("exec", 0, 7, 7, 8)}
	var got []time.Time
	if err := Merge(context.Background(), srcs, func(it Item) error {
		got = append(got, it.Time)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000+4+4 {
		t.Fatalf("got %d items, want %d", len(got), 2008)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Before(got[i-1]) {
			t.Fatalf("item %d at %v comes after %v", i, got[i], got[i-1])
		}
	}
}

func TestMergeStopsOnError(t *testing.T) {
	boom := errors.New("boom")
	bad := func(ctx context.Context, emit func(Item) error) error { return boom }
	many := make([]int, 100000)
	err := Merge(context.Background(), []Source{source("api", many...), bad}, func(Item) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the source's error", err)
	}
	stop := errors.New("stop")
	err = Merge(context.Background(), []Source{source("api", many...)}, func(Item) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v, want the callback's error", err)
	}
}
