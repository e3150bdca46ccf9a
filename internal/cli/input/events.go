package input

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sync/atomic"

	"github.com/kubedelta/kubedelta/internal/analyze"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/source/audit"
	"github.com/kubedelta/kubedelta/internal/source/flow"
	"github.com/kubedelta/kubedelta/internal/source/proc"
)

// Events opens every input file of events (audit, flows, process events)
// as its own time-ordered analyze.Source, so rotated files given in any
// order still merge in time order.
type Events struct {
	s        iostreams.Streams
	strict   bool
	read     atomic.Int64 // bytes read, for progress
	total    int64
	rejected atomic.Int64
	sources  []analyze.Source
}

// NewEvents returns an empty set of sources; strict makes the first
// malformed record fatal.
func NewEvents(s iostreams.Streams, strict bool) *Events { return &Events{s: s, strict: strict} }

// Sources returns the sources added so far.
func (in *Events) Sources() []analyze.Source { return in.sources }

// Rejected counts malformed records skipped so far.
func (in *Events) Rejected() int64 { return in.rejected.Load() }

// Progress returns the bytes read so far and the total size of the files.
func (in *Events) Progress() (read, total int64) { return in.read.Load(), in.total }

// countingReader counts bytes for the progress bar.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// open returns a reader for path ("-" is stdin) and a closer.
func (in *Events) open(path string) (io.Reader, func(), error) {
	if path == "-" {
		return countingReader{in.s.In, &in.read}, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if fi, err := f.Stat(); err == nil {
		in.total += fi.Size()
	}
	return countingReader{f, &in.read}, func() { f.Close() }, nil
}

// AddAudit adds one source per audit log file.
func (in *Events) AddAudit(paths []string) error {
	for _, path := range paths {
		r, closeFn, err := in.open(path)
		if err != nil {
			return err
		}
		in.sources = append(in.sources, func(ctx context.Context, emit func(analyze.Item) error) error {
			defer closeFn()
			dec := audit.NewDecoder(audit.Options{KeepObjects: true, KeepObjectsOf: analyze.WantBody, Strict: in.strict, Logger: in.s.Logger})
			var slab analyze.Slab[event.APIRequest]
			err := dec.Decode(r, path, func(e *event.APIRequest) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return emit(analyze.Item{Time: e.Time, API: analyze.CopyAPI(e, &slab)})
			})
			in.rejected.Add(dec.Stats().Rejected)
			return err
		})
	}
	return nil
}

// AddFlows adds one source per flow file (format "" detects it).
func (in *Events) AddFlows(paths []string, format string) error {
	for _, path := range paths {
		r, closeFn, err := in.open(path)
		if err != nil {
			return err
		}
		in.sources = append(in.sources, func(ctx context.Context, emit func(analyze.Item) error) error {
			defer closeFn()
			dec := flow.NewDecoder(flow.Options{Format: flow.Format(format), Strict: in.strict, Logger: in.s.Logger})
			var slab analyze.Slab[event.Flow]
			err := dec.Decode(r, path, func(f *event.Flow) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return emit(analyze.Item{Time: f.Time, Flow: analyze.CopyFlow(f, &slab)})
			})
			in.rejected.Add(dec.Stats().Rejected)
			return err
		})
	}
	return nil
}

// AuditDedup drops an audit event already seen in another file (the same
// file given twice, overlapping rotations). Bounded: two generations of
// 64-bit hashes (seeded per process, so IDs cannot be crafted to collide).
// It keeps hashes, not the IDs: an ID string would keep its whole event's
// decoded strings alive.
type AuditDedup struct {
	seed       maphash.Seed
	young, old map[uint64]struct{}
	limit      int
	Dups       int64
}

// NewAuditDedup remembers up to 2*limit audit IDs.
func NewAuditDedup(limit int) *AuditDedup {
	return &AuditDedup{seed: maphash.MakeSeed(), young: map[uint64]struct{}{}, old: map[uint64]struct{}{}, limit: limit}
}

// Seen reports whether id was seen before (and remembers it).
func (d *AuditDedup) Seen(id string) bool {
	if id == "" {
		return false
	}
	h := maphash.String(d.seed, id)
	if _, ok := d.young[h]; ok {
		d.Dups++
		return true
	}
	if _, ok := d.old[h]; ok {
		d.Dups++
		return true
	}
	if len(d.young) >= d.limit {
		d.old, d.young = d.young, make(map[uint64]struct{}, d.limit)
	}
	d.young[h] = struct{}{}
	return false
}

// ProgressLine draws a progress bar line (starting with \r).
func ProgressLine(read, total int64, events uint64) string {
	if total <= 0 {
		return fmt.Sprintf("\r%d events", events)
	}
	pct := float64(read) / float64(total)
	if pct > 1 {
		pct = 1
	}
	const width = 30
	n := int(pct * width)
	bar := make([]byte, width)
	for i := range bar {
		switch {
		case i < n:
			bar[i] = '='
		case i == n:
			bar[i] = '>'
		default:
			bar[i] = ' '
		}
	}
	return fmt.Sprintf("\r[%s] %3.0f%%  %d events", bar, pct*100, events)
}

// AddExec adds one source per process-event file (format "" detects it).
func (in *Events) AddExec(paths []string, format string) error {
	for _, path := range paths {
		r, closeFn, err := in.open(path)
		if err != nil {
			return err
		}
		in.sources = append(in.sources, func(ctx context.Context, emit func(analyze.Item) error) error {
			defer closeFn()
			dec := proc.NewDecoder(proc.Options{Format: proc.Format(format), Strict: in.strict, Logger: in.s.Logger})
			var slab analyze.Slab[event.Exec]
			err := dec.Decode(r, path, func(e *event.Exec) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return emit(analyze.Item{Time: e.Time, Exec: analyze.CopyExec(e, &slab)})
			})
			in.rejected.Add(dec.Stats().Rejected)
			return err
		})
	}
	return nil
}
