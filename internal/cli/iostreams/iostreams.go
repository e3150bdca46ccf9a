// Package iostreams holds what every kubedelta command shares with the
// process: its standard streams, its logger and how it reports an exit code.
package iostreams

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Logger writes diagnostics to Err; never nil after Defaults.
	Logger *slog.Logger
}

// WithDefaults fills unset fields: a discard reader, writers that drop
// output, and a warn-level text logger on Err.
func (s Streams) WithDefaults() Streams {
	if s.In == nil {
		s.In = eofReader{}
	}
	if s.Out == nil {
		s.Out = io.Discard
	}
	if s.Err == nil {
		s.Err = io.Discard
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return s
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// ExitError asks for a process exit code without printing an error, e.g.
// `rbac can-i` answering "no" exits 1.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode maps an error to a process exit code: 0 for nil, the carried code
// for an ExitError, 2 for anything else (bad input, usage).
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 2
}
