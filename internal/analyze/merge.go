package analyze

import (
	"bytes"
	"container/heap"
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kubedelta/kubedelta/internal/event"
)

// Item is one event of any kind; exactly one pointer is set. Items handed
// to Merge's callback are owned by the callee.
type Item struct {
	Time time.Time
	API  *event.APIRequest
	Flow *event.Flow
	Exec *event.Exec
}

// Source produces items in (roughly) time order by calling emit; it returns
// when its input is exhausted. Sources run concurrently, so decoding
// overlaps with analysis.
type Source func(ctx context.Context, emit func(Item) error) error

// slabSize is how many events one allocation holds.
const slabSize = 512

// Slab hands out copies of events in blocks of slabSize: one allocation per
// block instead of one per event (at hundreds of thousands of events a
// second, per-event allocation and its garbage collection cost as much as
// decoding). A block stays alive while any of its events is referenced. A
// Slab is used by one goroutine.
type Slab[T any] struct {
	buf []T
}

func (s *Slab[T]) next() *T {
	if len(s.buf) == 0 {
		s.buf = make([]T, slabSize)
	}
	p := &s.buf[0]
	s.buf = s.buf[1:]
	return p
}

// CopyAPI returns a copy of r that outlives the decoder's callback, taken
// from slab (nil: a fresh allocation). Strings and string slices are interned
// by the decoders and never modified, so only the bodies are copied.
func CopyAPI(r *event.APIRequest, slab *Slab[event.APIRequest]) *event.APIRequest {
	var c *event.APIRequest
	if slab != nil {
		c = slab.next()
	} else {
		c = new(event.APIRequest)
	}
	*c = *r
	c.RequestObject = bytes.Clone(r.RequestObject)
	c.ResponseObject = bytes.Clone(r.ResponseObject)
	return c
}

// CopyFlow returns a copy of f that outlives the decoder's callback.
func CopyFlow(f *event.Flow, slab *Slab[event.Flow]) *event.Flow {
	if slab == nil {
		c := *f
		return &c
	}
	c := slab.next()
	*c = *f
	return c
}

// CopyExec returns a copy of e that outlives the decoder's callback.
func CopyExec(e *event.Exec, slab *Slab[event.Exec]) *event.Exec {
	if slab == nil {
		c := *e
		return &c
	}
	c := slab.next()
	*c = *e
	return c
}

const batchSize = 512

// Merge runs every source and calls fn with their items merged in time
// order (a k-way merge of the sources' heads: each source must be sorted by
// time on its own, as a log file is). fn runs on the caller's goroutine.
func Merge(ctx context.Context, sources []Source, fn func(Item) error) error {
	g, ctx := errgroup.WithContext(ctx)
	chans := make([]chan []Item, len(sources))
	for i, src := range sources {
		ch := make(chan []Item, 8)
		chans[i] = ch
		g.Go(func() error {
			defer close(ch)
			batch := make([]Item, 0, batchSize)
			err := src(ctx, func(it Item) error {
				batch = append(batch, it)
				if len(batch) == batchSize {
					select {
					case ch <- batch:
					case <-ctx.Done():
						return ctx.Err()
					}
					batch = make([]Item, 0, batchSize)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(batch) > 0 {
				select {
				case ch <- batch:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		h := &heads{}
		next := func(i int) bool {
			b, ok := <-chans[i]
			if !ok {
				return false
			}
			heap.Push(h, &head{src: i, batch: b})
			return true
		}
		for i := range chans {
			next(i)
		}
		for h.Len() > 0 {
			top := (*h)[0]
			if err := fn(top.batch[top.pos]); err != nil {
				return err
			}
			top.pos++
			if top.pos == len(top.batch) {
				heap.Pop(h)
				next(top.src)
			} else {
				heap.Fix(h, 0)
			}
		}
		return nil
	})
	err := g.Wait()
	// Drain producers blocked on a full channel after an early error.
	for _, ch := range chans {
		for range ch {
		}
	}
	return err
}

type head struct {
	src   int
	batch []Item
	pos   int
}

type heads []*head

func (h heads) Len() int { return len(h) }
func (h heads) Less(i, j int) bool {
	a, b := h[i].batch[h[i].pos].Time, h[j].batch[h[j].pos].Time
	if a.Equal(b) {
		return h[i].src < h[j].src
	}
	return a.Before(b)
}
func (h heads) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)   { *h = append(*h, x.(*head)) }
func (h *heads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
