package watch

import (
	"context"
	"time"
)

// Op is what happened to an object.
type Op string

// Operations.
const (
	OpAdd    Op = "add"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one inventory change the watcher saw.
type Change struct {
	// Time is when the watcher saw the change (the API server's watch
	// events carry no time).
	Time time.Time `json:"time"`
	// Kind is the object's kind: "Pod", "ClusterRoleBinding", ...
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// UID tells apart two objects with the same name (a StatefulSet pod
	// recreated).
	UID string `json:"uid,omitempty"`
	Op  Op     `json:"op"`
}

// ring keeps the last len(buf) changes. Callers hold Watcher.mu.
type ring struct {
	buf  []Change
	next int  // where the next change goes
	full bool // buf has wrapped
}

func newRing(n int) ring { return ring{buf: make([]Change, n)} }

func (r *ring) add(c Change) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = c
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// all returns the kept changes, oldest first, in a new slice.
func (r *ring) all() []Change {
	if !r.full {
		return append([]Change(nil), r.buf[:r.next]...)
	}
	out := make([]Change, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// changed notes that OnChange is due. It never blocks: one pending
// notification stands for any number of changes.
func (w *Watcher) changed() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// notifyLoop calls OnChange once now (the first sync), then once after
// each burst of changes: when no change came for w.debounce, or at the
// latest maxDebounceFactor×w.debounce after the burst's first change.
func (w *Watcher) notifyLoop(ctx context.Context) {
	if w.onChange == nil {
		return
	}
	w.onChange()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.poke:
		}
		deadline := time.Now().Add(maxDebounceFactor * w.debounce)
		timer.Reset(w.debounce)
	burst:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-w.poke:
				wait := min(w.debounce, time.Until(deadline))
				timer.Reset(max(wait, 0))
			case <-timer.C:
				break burst
			}
		}
		w.onChange()
	}
}
