package input

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// maxBatchLine bounds one line of a --batch file.
const maxBatchLine = 16 << 20

// OpenBatch opens a --batch argument: a file, or stdin for "-". The name is
// what errors call it.
func OpenBatch(path string, stdin io.Reader) (r io.Reader, name string, closeFn func(), err error) {
	if path == "-" {
		return stdin, "stdin", func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", nil, err
	}
	return f, path, func() { f.Close() }, nil
}

// EachLine calls fn for every non-blank line of r with its 1-based line
// number; errors name name:line.
func EachLine(r io.Reader, name string, fn func(line int, b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxBatchLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(line, b); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return nil
}
