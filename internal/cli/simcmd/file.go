package simcmd

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// outFile is an output file written in the background: the simulator hands
// it large chunks, and a goroutine per file compresses and writes them, so
// that generation, compression and disk writes of the streams overlap. It
// is written to a temporary name and renamed on commit, so an interrupted
// run never leaves a truncated file under the final name.
type outFile struct {
	ctx  context.Context
	path string
	tmp  *os.File
	gz   *gzip.Writer
	ch   chan []byte
	free chan []byte
	done chan struct{}

	mu     sync.Mutex
	err    error
	n      int64 // bytes written to disk
	closed bool
}

func create(ctx context.Context, path string, compress bool) (*outFile, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("--out: %w", err)
	}
	f := &outFile{ctx: ctx, path: path, tmp: tmp, ch: make(chan []byte, 4), free: make(chan []byte, 6), done: make(chan struct{})}
	if compress {
		// BestSpeed: the streams are large and repetitive; speed matters
		// more than the last 20% of size. The header carries no name or
		// time, so the bytes depend on the content only.
		f.gz, _ = gzip.NewWriterLevel(countWriter{f}, gzip.BestSpeed)
	}
	go f.loop()
	return f, nil
}

type countWriter struct{ f *outFile }

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.f.tmp.Write(p)
	c.f.mu.Lock()
	c.f.n += int64(n)
	c.f.mu.Unlock()
	return n, err
}

func (f *outFile) loop() {
	defer close(f.done)
	for b := range f.ch {
		var err error
		if f.gz != nil {
			_, err = f.gz.Write(b)
		} else {
			_, err = countWriter{f}.Write(b)
		}
		if err != nil {
			f.setErr(err)
		}
		select {
		case f.free <- b[:0]:
		default:
		}
	}
}

func (f *outFile) setErr(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = fmt.Errorf("%s: %w", f.path, err)
	}
	f.mu.Unlock()
}

func (f *outFile) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Write queues a copy of p.
func (f *outFile) Write(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	if err := f.failed(); err != nil {
		return 0, err
	}
	var b []byte
	select {
	case b = <-f.free:
	default:
	}
	f.ch <- append(b, p...)
	return len(p), nil
}

func (f *outFile) finish() error {
	if !f.closed {
		f.closed = true
		close(f.ch)
		<-f.done
	}
	return f.failed()
}

// commit completes the file and gives it its final name.
func (f *outFile) commit() error {
	err := f.finish()
	if err == nil && f.gz != nil {
		if cerr := f.gz.Close(); cerr != nil {
			err = fmt.Errorf("%s: %w", f.path, cerr)
		}
	}
	if cerr := f.tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: %w", f.path, cerr)
	}
	if err == nil {
		if cerr := os.Chmod(f.tmp.Name(), 0o644); cerr != nil {
			err = fmt.Errorf("%s: %w", f.path, cerr)
		}
	}
	if err == nil {
		if rerr := os.Rename(f.tmp.Name(), f.path); rerr != nil {
			err = fmt.Errorf("%s: %w", f.path, rerr)
		}
	}
	if err != nil {
		os.Remove(f.tmp.Name())
	}
	return err
}

// abort drops the file.
func (f *outFile) abort() {
	_ = f.finish()
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}
