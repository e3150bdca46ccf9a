package sim

import (
	"fmt"
	"io"
)

// The engine merges every activity source in time order. A source holds the
// records it has rendered but not yet written (sorted by time) and, for a
// generator, the time of its next activity. The engine always takes the
// source with the earliest pending record or activity, so every stream is
// written in time order while only a few records per source are held.

type streamID uint8

const (
	stAudit streamID = iota
	stFlow
	stExec
	stAction // no output: a state change at its time (a pod starts or ends)
	numStreams
)

// activity generates a source's records. step runs at time now (the
// source's next activity time), renders records at times >= now into s and
// returns the time of its next activity, or never.
type activity interface {
	step(e *engine, s *source, now int64) int64
}

type record struct {
	t        int64
	stream   streamID
	off, end int32
	act      func(t int64)
}

type source struct {
	key   int64 // min(next pending record, next activity)
	id    uint64
	idx   int // heap position
	pend  []record
	head  int
	arena []byte
	next  int64
	act   activity
	rng   rng
}

// buf returns the arena to render a record into; commit adds it.
func (s *source) buf() []byte { return s.arena }

// commit records arena[off:] (after rendering into s.arena) as a record of
// stream at t.
func (s *source) commit(b []byte, off int, stream streamID, t int64) {
	s.arena = b
	s.insert(record{t: t, stream: stream, off: int32(off), end: int32(len(b))})
}

// at schedules fn to run at t, in time order with every record.
func (s *source) at(t int64, fn func(t int64)) {
	s.insert(record{t: t, stream: stAction, act: fn})
}

func (s *source) insert(rec record) {
	s.pend = append(s.pend, rec)
	i := len(s.pend) - 1
	for i > s.head && s.pend[i-1].t > rec.t {
		s.pend[i] = s.pend[i-1]
		i--
	}
	s.pend[i] = rec
}

func (s *source) updateKey() {
	s.key = s.next
	if s.head < len(s.pend) && s.pend[s.head].t <= s.key {
		s.key = s.pend[s.head].t
	}
}

// compact drops written records and their bytes.
func (s *source) compact() {
	if s.head == len(s.pend) {
		s.pend, s.head, s.arena = s.pend[:0], 0, s.arena[:0]
		return
	}
	if s.head < 64 || s.head*2 < len(s.pend) {
		return
	}
	base := s.pend[s.head].off
	for _, r := range s.pend[s.head:] {
		if r.stream != stAction && r.off < base {
			base = r.off
		}
	}
	n := copy(s.arena, s.arena[base:])
	s.arena = s.arena[:n]
	k := copy(s.pend, s.pend[s.head:])
	s.pend = s.pend[:k]
	for i := range s.pend {
		if s.pend[i].stream != stAction {
			s.pend[i].off -= base
			s.pend[i].end -= base
		}
	}
	s.head = 0
}

type engine struct {
	w          *world
	start, end int64
	heap       []*source
	ids        uint64
	out        [numStreams]io.Writer
	bufs       [numStreams][]byte
	counts     [numStreams]int64
	err        error
	// clamped counts records a source rendered before its activity time;
	// they are written at that time instead (a bug if ever non-zero).
	clamped int64
	now     int64

	pool    []buffers
	tf      timeFmt // for the streams' timestamps
	scratch []byte
	exec    execFormat
	act     *actors

	// rate is the speed-up of the periodic background (Config.Rate);
	// baseRate and fixedRate are the audit events per second the scaled and
	// the unscaled periodic sources produce at rate 1.
	rate, baseRate, fixedRate float64
}

const flushSize = 256 << 10

func newEngine(w *world, out Writers, exec execFormat) *engine {
	e := &engine{w: w, start: w.start, end: w.end, exec: exec, rate: 1}
	e.out[stAudit], e.out[stFlow], e.out[stExec] = out.Audit, out.Flows, out.Exec
	for i := range e.bufs {
		if e.out[i] != nil {
			e.bufs[i] = make([]byte, 0, flushSize+64<<10)
		}
	}
	return e
}

// enabled reports whether stream st is written.
func (e *engine) enabled(st streamID) bool { return e.out[st] != nil }

// add creates a source for act (first activity at next, or never for a
// script whose records are added by build) and schedules it.
func (e *engine) add(act activity, next int64, r rng, build func(s *source)) *source {
	e.ids++
	s := &source{id: e.ids, act: act, next: next, rng: r}
	if n := len(e.pool); n > 0 {
		s.arena, s.pend = e.pool[n-1].arena, e.pool[n-1].pend
		e.pool = e.pool[:n-1]
	}
	if build != nil {
		build(s)
	}
	s.updateKey()
	if s.key == never {
		return s
	}
	s.idx = len(e.heap)
	e.heap = append(e.heap, s)
	e.up(s.idx)
	return s
}

func (e *engine) less(a, b *source) bool {
	return a.key < b.key || (a.key == b.key && a.id < b.id)
}

func (e *engine) up(i int) {
	h := e.heap
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		h[i].idx, h[p].idx = i, p
		i = p
	}
}

func (e *engine) down(i int) {
	h := e.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && e.less(h[r], h[l]) {
			m = r
		}
		if !e.less(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		h[i].idx, h[m].idx = i, m
		i = m
	}
}

func (e *engine) remove(i int) {
	h := e.heap
	n := len(h) - 1
	if i != n {
		h[i] = h[n]
		h[i].idx = i
	}
	h[n] = nil
	e.heap = h[:n]
	if i < n {
		e.fix(i)
	}
}

func (e *engine) fix(i int) {
	el := e.heap[i]
	e.up(i)
	e.down(el.idx)
}

// run writes every record in [start, end) in time order.
func (e *engine) run() error {
	for len(e.heap) > 0 && e.err == nil {
		s := e.heap[0]
		if s.key >= e.end {
			break
		}
		e.now = s.key
		if s.head < len(s.pend) && s.pend[s.head].t <= s.next {
			rec := s.pend[s.head]
			s.head++
			e.emit(s, rec)
			s.compact()
		} else {
			now := s.next
			h := s.head
			s.next = s.act.step(e, s, now)
			if s.next < now {
				s.next = now
			}
			// Records rendered before their activity time would break
			// the order: clamp them (and count it).
			for i := h; i < len(s.pend); i++ {
				if s.pend[i].t < now && s.pend[i].t >= e.start {
					s.pend[i].t = now
					e.clamped++
				}
			}
		}
		// A step may have added sources, moving s in the heap.
		s.updateKey()
		if s.key == never || s.key >= e.end {
			e.remove(s.idx)
			e.recycle(s)
		} else {
			e.fix(s.idx)
		}
	}
	for st := range e.bufs {
		e.flush(streamID(st))
	}
	return e.err
}

func (e *engine) emit(s *source, rec record) {
	if rec.stream == stAction {
		rec.act(rec.t)
		return
	}
	if rec.t < e.start || rec.t >= e.end || e.out[rec.stream] == nil {
		return
	}
	b := append(e.bufs[rec.stream], s.arena[rec.off:rec.end]...)
	b = append(b, '\n')
	e.bufs[rec.stream] = b
	e.counts[rec.stream]++
	if len(b) >= flushSize {
		e.flush(rec.stream)
	}
}

var streamNames = [numStreams]string{"audit", "flows", "exec", ""}

func (e *engine) flush(st streamID) {
	if len(e.bufs[st]) == 0 || e.err != nil {
		return
	}
	if _, err := e.out[st].Write(e.bufs[st]); err != nil {
		e.err = fmt.Errorf("%w: %s stream: %w", ErrWrite, streamNames[st], err)
	}
	e.bufs[st] = e.bufs[st][:0]
}

// recycle keeps the buffers of a finished source for the next one.
func (e *engine) recycle(s *source) {
	if len(e.pool) < 4096 && cap(s.arena) <= 256<<10 {
		e.pool = append(e.pool, buffers{s.arena[:0], s.pend[:0]})
	}
	s.arena, s.pend = nil, nil
}

type buffers struct {
	arena []byte
	pend  []record
}

// script returns a source whose records build renders up front.
func (e *engine) script(seed uint64, build func(s *source)) {
	e.add(nil, never, rng{s: seed}, build)
}

// spawner starts sources at planned times: pod lifecycles, rollouts, CronJob
// runs, attacks. Only what has started is held in memory.
type spawner struct {
	at  []int64
	fns []func(t int64)
	i   int
}

func (sp *spawner) add(t int64, fn func(t int64)) {
	sp.at = append(sp.at, t)
	sp.fns = append(sp.fns, fn)
}

func (sp *spawner) step(e *engine, s *source, now int64) int64 {
	for sp.i < len(sp.at) && sp.at[sp.i] <= now {
		fn := sp.fns[sp.i]
		sp.fns[sp.i] = nil
		sp.i++
		fn(now)
	}
	if sp.i < len(sp.at) {
		return sp.at[sp.i]
	}
	return never
}
