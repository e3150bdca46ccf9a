package analyzecmd

import (
	"context"
	"fmt"
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

// inputs opens every input file as its own time-ordered source, so rotated
// files given in any order still merge in time order.
type inputs struct {
	s        iostreams.Streams
	strict   bool
	read     atomic.Int64 // bytes read, for progress
	total    int64
	rejected atomic.Int64
	sources  []analyze.Source
}

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
func (in *inputs) open(path string) (io.Reader, func(), error) {
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

func (in *inputs) addAudit(paths []string) error {
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

func (in *inputs) addFlows(paths []string, format string) error {
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

// auditDedup drops an audit event already seen in another file (the same
// file given twice, overlapping rotations). Bounded: two generations.
type auditDedup struct {
	young, old map[string]struct{}
	limit      int
	dups       int64
}

func newAuditDedup(limit int) *auditDedup {
	return &auditDedup{young: map[string]struct{}{}, old: map[string]struct{}{}, limit: limit}
}

func (d *auditDedup) seen(id string) bool {
	if id == "" {
		return false
	}
	if _, ok := d.young[id]; ok {
		d.dups++
		return true
	}
	if _, ok := d.old[id]; ok {
		d.dups++
		return true
	}
	if len(d.young) >= d.limit {
		d.old, d.young = d.young, make(map[string]struct{}, d.limit)
	}
	d.young[id] = struct{}{}
	return false
}

func progressLine(read, total int64, events uint64) string {
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

func (in *inputs) addExec(paths []string, format string) error {
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
