package cluster

import (
	"bufio"
	"bytes"
	"io"
)

// yamlStream splits a YAML stream into documents at "---" lines (a line that
// is "---", optionally followed by blanks and a comment, or by content that
// then starts the next document) and at "..." end markers, counting lines so
// that errors can name them. It reads one document at a time: memory follows
// the largest document, not the file.
//
// The splitting follows what kubectl and the API machinery accept (mirrors
// k8s.io/apimachinery/pkg/util/yaml YAMLReader), plus "--- content" lines.
type yamlStream struct {
	r    *bufio.Reader
	buf  []byte
	line int // lines read so far
	// docFirstLine is the line the last returned document's text starts
	// at (go-yaml's "line N" counts from there).
	docFirstLine int
	// carry is content found on a "--- content" line, the start of the
	// next document.
	carry []byte
	done  bool
}

// next returns the next document with content (not only blank lines,
// comments and directives), and the line of its first content line. The
// returned slice is valid until the following call. It returns io.EOF at the
// end of the stream and the reader's error if reading fails.
func (s *yamlStream) next() (doc []byte, contentLine int, err error) {
	for !s.done {
		s.buf = s.buf[:0]
		s.docFirstLine = s.line + 1
		contentLine = 0
		if s.carry != nil {
			// "--- content": keep the content at its column so that
			// go-yaml's line and column numbers stay right.
			s.buf = append(s.buf, s.carry...)
			s.carry = nil
			s.docFirstLine = s.line
			contentLine = s.line
		}
		for {
			start := len(s.buf)
			var rerr error
			for {
				var frag []byte
				frag, rerr = s.r.ReadSlice('\n')
				s.buf = append(s.buf, frag...)
				if rerr != bufio.ErrBufferFull {
					break
				}
			}
			if rerr != nil && rerr != io.EOF {
				return nil, 0, rerr
			}
			if len(s.buf) == start { // end of input, no partial line
				s.done = true
				break
			}
			s.line++
			line := s.buf[start:]
			if sep, rest := separator(line); sep {
				s.buf = s.buf[:start]
				if len(rest) > 0 {
					s.carry = append(bytes.Repeat([]byte{' '}, len(line)-len(rest)), rest...)
				}
				if rerr == io.EOF {
					s.done = true
				}
				break
			}
			if contentLine == 0 {
				if blankOrComment(line) {
					continue
				}
				if line[0] == '%' {
					// A directive (%YAML, %TAG) before the document's
					// "---": blank it, keeping the line count.
					s.buf = append(s.buf[:start], '\n')
					continue
				}
				contentLine = s.line
			}
			if rerr == io.EOF {
				s.done = true
				break
			}
		}
		if contentLine != 0 {
			return s.buf, contentLine, nil
		}
	}
	if s.carry != nil {
		s.done = false
		return s.next()
	}
	return nil, 0, io.EOF
}

// separator reports whether line starts a new document, and returns the
// content that follows "--- " on the same line, if any.
func separator(line []byte) (bool, []byte) {
	line = bytes.TrimRight(line, " \t\r\n")
	if string(line) == "..." {
		return true, nil
	}
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false, nil
	}
	if len(rest) == 0 {
		return true, nil
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return false, nil // "----" or "---foo" is content
	}
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || rest[0] == '#' {
		return true, nil
	}
	return true, append(rest, '\n')
}

func blankOrComment(line []byte) bool {
	line = bytes.TrimLeft(line, " \t\r\n")
	return len(line) == 0 || line[0] == '#'
}
