package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/kubedelta/kubedelta/internal/event"
)

// This file splits a stream into records. A line normally holds one record
// (JSON lines). A value that is still open at the end of its line continues
// on the next lines (a pretty-printed EventList); several values on one line
// are taken in turn. After a syntax error the rest of the line is dropped and
// reading resumes at the next line that starts with '{', so that one bad
// line never swallows the good ones after it.

// errTooLong is returned by lineReader.next for a line over the limit; the
// line has been consumed.
var errTooLong = errors.New("line too long")

// lineReader reads lines of any length up to max bytes.
type lineReader struct {
	br   *bufio.Reader
	long []byte // a line longer than br's buffer
	n    int    // number of the line last returned
	max  int
	eof  bool
}

func (lr *lineReader) reset(br *bufio.Reader, max int) {
	lr.br, lr.n, lr.max, lr.eof = br, 0, max, false
}

// next returns the next line without its "\n", valid until the next call;
// io.EOF at the end. For other errors the line so far is returned too.
func (lr *lineReader) next() ([]byte, error) {
	if lr.eof {
		return nil, io.EOF
	}
	frag, err := lr.br.ReadSlice('\n')
	if err == io.EOF && len(frag) == 0 {
		lr.eof = true
		return nil, io.EOF
	}
	lr.n++
	line := frag
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], frag...)
		for err == bufio.ErrBufferFull {
			frag, err = lr.br.ReadSlice('\n')
			if len(lr.long)+len(frag) > lr.max+1 {
				for err == bufio.ErrBufferFull {
					_, err = lr.br.ReadSlice('\n')
				}
				if err != nil && err != io.EOF {
					return nil, err
				}
				return nil, errTooLong
			}
			lr.long = append(lr.long, frag...)
		}
		line = lr.long
	}
	if err == nil {
		line = line[:len(line)-1]
	} else if err != io.EOF {
		return line, err
	}
	if len(line) > lr.max {
		return nil, errTooLong
	}
	return line, nil
}

// run decodes the lines of one stream. skippable reports a stream error.
func (d *Decoder) run(name string, fn func(*event.APIRequest) error) (skippable bool, err error) {
	lr := &d.lines
	var (
		line   []byte
		pos    int
		resync bool
	)
	for {
		if pos >= len(line) {
			line, err = lr.next()
			switch {
			case err == io.EOF:
				return false, nil
			case err == errTooLong:
				e := &RecordError{File: name, Line: lr.n, Item: -1, Err: ErrTooLong,
					Msg: fmt.Sprintf("line is longer than %d bytes (Options.MaxRecordBytes)", d.max)}
				if err := d.reject(e); err != nil {
					return false, err
				}
				line, pos, resync = nil, 0, true
				continue
			case err != nil:
				return true, d.streamError(name, lr.n, err)
			}
			if lr.n == 1 && bytes.HasPrefix(line, []byte("\xef\xbb\xbf")) {
				line = line[3:]
			}
			if resync && (len(line) == 0 || line[0] != '{') {
				line = nil
				continue
			}
			resync = false
			pos = skipWS(line, 0)
			continue
		}
		line, pos, resync, err = d.value(line, pos, name, fn)
		if err != nil {
			return errors.Is(err, errStream), unwrapStream(err)
		}
		if resync {
			// Drop the rest of the line, unless value moved to a later
			// line (the one with the error), which may start a record.
			if len(line) > 0 && line[0] == '{' {
				resync, pos = false, 0
			} else {
				line, pos = nil, 0
			}
		} else {
			pos = skipWS(line, pos)
		}
	}
}

// errStream marks a stream error inside value(), see streamErr.
var errStream = errors.New("stream error")

type streamErr struct{ err error }

func (e *streamErr) Error() string        { return e.err.Error() }
func (e *streamErr) Is(target error) bool { return target == errStream }

func unwrapStream(err error) error {
	var se *streamErr
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// value processes the value at line[pos] (line number d.lines.n). It returns
// where to continue: the same line, or a later one if the value spanned
// lines; resync asks the caller to drop the rest of that line.
func (d *Decoder) value(line []byte, pos int, name string, fn func(*event.APIRequest) error) ([]byte, int, bool, error) {
	lr := &d.lines
	start := lr.n
	end, perr := d.parseRecord(line, pos, 0)
	if perr == nil {
		return line, end, false, d.top(line, pos, start, name, fn)
	}
	if isSyntax(perr) {
		return nil, 0, true, d.reject(d.recordError(name, line, start, pos, -1, perr))
	}
	// errEnd or a semantic error: find where the value ends.
	field := d.field
	d.sc.reset(0)
	end, done, err := d.sc.scan(line, pos)
	if err != nil {
		d.field = ""
		return nil, 0, true, d.reject(d.recordError(name, line, start, pos, -1, err))
	}
	if done {
		d.field = field
		return line, end, false, d.reject(d.recordError(name, line, start, pos, -1, perr))
	}

	// The value continues on the next lines.
	buf := append(d.multi[:0], line[pos:]...)
	for !done {
		next, rerr := lr.next()
		switch {
		case rerr == io.EOF:
			d.multi = buf
			e := &RecordError{File: name, Line: start, Item: -1, Err: ErrSyntax,
				Msg: "invalid JSON: unexpected end of input: the value starting on this line is not closed"}
			return nil, 0, false, d.reject(e)
		case rerr == errTooLong:
			d.multi = buf
			e := &RecordError{File: name, Line: start, Item: -1, Err: ErrTooLong,
				Msg: fmt.Sprintf("line %d of the record is longer than %d bytes (Options.MaxRecordBytes)", lr.n, d.max)}
			return nil, 0, true, d.reject(e)
		case rerr != nil:
			d.multi = buf
			return nil, 0, false, &streamErr{d.streamError(name, lr.n, rerr)}
		}
		buf = append(buf, '\n')
		off := len(buf)
		buf = append(buf, next...)
		d.multi = buf
		if len(buf) > d.max {
			e := &RecordError{File: name, Line: start, Item: -1, Err: ErrTooLong,
				Msg: fmt.Sprintf("record is longer than %d bytes (Options.MaxRecordBytes)", d.max)}
			return nil, 0, true, d.reject(e)
		}
		if end, done, err = d.sc.scan(buf, off); err != nil {
			d.field = ""
			e := d.recordError(name, buf, start, 0, -1, err)
			// Resume on the line with the error (it may start a record).
			return next, 0, true, d.reject(e)
		}
		if done {
			line, pos = next, end-off
		}
	}
	val := buf[:end]
	if _, perr = d.parseRecord(val, 0, 0); perr != nil {
		return line, pos, false, d.reject(d.recordError(name, val, start, 0, -1, perr))
	}
	return line, pos, false, d.top(val, 0, start, name, fn)
}

func isSyntax(err error) bool {
	var se *syntaxError
	return errors.As(err, &se)
}

// top handles a parsed top-level value (d.rec, d.req filled): an Event is
// emitted, an EventList's items are decoded. buf[pos] starts the value,
// which starts on line startLine.
func (d *Decoder) top(buf []byte, pos, startLine int, name string, fn func(*event.APIRequest) error) error {
	rec := &d.rec
	switch rec.kind {
	case kindEvent:
		if err := d.checkEvent(false); err != nil {
			return d.reject(d.recordError(name, buf, startLine, pos, -1, err))
		}
		return d.emit(buf, fn)
	case kindList:
		if err := checkVersion(rec.apiVersion, false); err != nil {
			return d.reject(d.recordError(name, buf, startLine, pos, -1, err))
		}
		if !rec.hasItems {
			return nil
		}
		return d.items(buf, rec.items, pos, startLine, name, fn)
	}
	return d.reject(d.recordError(name, buf, startLine, pos, -1,
		newFieldError("kind", -1, ErrKind, "%s: want an audit.k8s.io/v1 Event or EventList", kindMsg(rec.kind))))
}

func kindMsg(kind string) string {
	if kind == "" {
		return "missing"
	}
	return fmt.Sprintf("%q is not an audit event", clip(kind))
}

// items decodes the items of an EventList; sp is the items value in buf.
func (d *Decoder) items(buf []byte, sp span, pos, startLine int, name string, fn func(*event.APIRequest) error) error {
	i := sp.start
	if buf[i] != '[' {
		return d.reject(d.recordError(name, buf, startLine, pos, -1,
			newFieldError("items", i, ErrField, "expected an array, found %s", typeName(buf[i]))))
	}
	i = skipWS(buf, i+1)
	line, linePos := startLine, pos // line of buf[linePos], advanced incrementally
	for idx := 0; i < sp.end && buf[i] != ']'; idx++ {
		item := i
		end, err := d.parseRecord(buf, i, 2)
		if err == nil {
			err = d.checkEvent(true)
		}
		if err != nil {
			line += bytes.Count(buf[linePos:item], []byte{'\n'})
			linePos = item
			if err := d.reject(d.recordError(name, buf, line, item, idx, err)); err != nil {
				return err
			}
			if end, err = d.sc.skipValue(buf, item, 2); err != nil {
				return nil // cannot happen: the items were validated
			}
		} else if err := d.emit(buf, fn); err != nil {
			return err
		}
		if i = skipWS(buf, end); i < len(buf) && buf[i] == ',' {
			i = skipWS(buf, i+1)
		}
	}
	return nil
}

// checkVersion checks an apiVersion; items may omit it (the webhook backend
// does not repeat it).
func checkVersion(v string, item bool) *fieldError {
	switch v {
	case apiVersionV1:
		return nil
	case "":
		if item {
			return nil
		}
		return newFieldError("apiVersion", -1, ErrVersion, "missing: want %s", apiVersionV1)
	case "audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1":
		return newFieldError("apiVersion", -1, ErrVersion,
			"%q is not supported: audit.k8s.io/v1alpha1 and v1beta1 were removed in Kubernetes 1.24; configure the audit backend to write %s", clip(v), apiVersionV1)
	}
	return newFieldError("apiVersion", -1, ErrVersion, "%q is not supported: want %s", clip(v), apiVersionV1)
}

// checkEvent validates the envelope and required fields of the parsed
// event. Items of an EventList may omit kind and apiVersion.
func (d *Decoder) checkEvent(item bool) error {
	rec := &d.rec
	if rec.kind != kindEvent && !(item && rec.kind == "") {
		return newFieldError("kind", -1, ErrKind, "%s: an EventList item must be an Event", kindMsg(rec.kind))
	}
	if err := checkVersion(rec.apiVersion, item); err != nil {
		return err
	}
	if rec.auditID.empty() {
		return newFieldError("auditID", -1, ErrField, "missing")
	}
	switch d.req.Stage {
	case event.StageRequestReceived, event.StageResponseStarted, event.StageResponseComplete, event.StagePanic:
		return nil
	case "":
		return newFieldError("stage", -1, ErrField, "missing")
	}
	return newFieldError("stage", -1, ErrField, "unknown stage %q: want RequestReceived, ResponseStarted, ResponseComplete or Panic", clip(d.req.Stage))
}

// finish turns the record's arena into strings with a single allocation and
// derives Path and Reason.
func (d *Decoder) finish() {
	r, rec := &d.req, &d.rec
	var path, reason span
	if r.Resource == "" && !rec.uri.empty() {
		u := d.arena[rec.uri.start:rec.uri.end]
		if q := bytes.IndexByte(u, '?'); q >= 0 {
			u = u[:q]
		}
		path = span{rec.uri.start, rec.uri.start + len(u)}
		if bytes.IndexByte(u, '%') >= 0 {
			if dec, ok := pathUnescape(d.strBuf[:0], u); ok {
				d.strBuf = dec
				path.start = len(d.arena)
				d.arena = append(d.arena, dec...)
				path.end = len(d.arena)
			}
		}
	}
	if rec.reason == "" && !rec.msg.empty() {
		reason = rec.msg
		if reason.end-reason.start > maxReasonBytes {
			cut := reason.start + maxReasonBytes
			for cut > reason.start && d.arena[cut]&0xc0 == 0x80 {
				cut-- // do not split a UTF-8 sequence
			}
			reason.start = len(d.arena)
			d.arena = append(d.arena, d.arena[rec.msg.start:cut]...)
			d.arena = append(d.arena, "..."...)
			reason.end = len(d.arena)
		}
	}
	if len(d.arena) == 0 {
		r.Reason = rec.reason
		return
	}
	s := string(d.arena)
	r.AuditID = s[rec.auditID.start:rec.auditID.end]
	r.RequestURI = s[rec.uri.start:rec.uri.end]
	r.Path = s[path.start:path.end]
	if rec.reason != "" {
		r.Reason = rec.reason
	} else {
		r.Reason = s[reason.start:reason.end]
	}
}

// maxReasonBytes bounds Reason when it comes from responseStatus.message.
const maxReasonBytes = 200

// pathUnescape decodes %XX escapes like url.PathUnescape; ok is false for a
// malformed escape.
func pathUnescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			dst = append(dst, s[i])
			continue
		}
		if i+2 >= len(s) {
			return dst, false
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return dst, false
		}
		dst = append(dst, byte(hi<<4|lo))
		i += 2
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// recordError builds the RecordError for err, found while parsing the record
// that starts at buf[pos], on line startLine. For an EventList item, idx is
// its index, and pos and startLine are the item's.
func (d *Decoder) recordError(name string, buf []byte, startLine, pos, idx int, err error) *RecordError {
	e := &RecordError{File: name, Line: startLine, Item: idx}
	lineOf := func(p int) int {
		return startLine + bytes.Count(buf[pos:max(pos, min(p, len(buf)))], []byte{'\n'})
	}
	var (
		fe *fieldError
		se *syntaxError
	)
	switch {
	case errors.As(err, &fe):
		e.Field, e.Msg, e.Err, e.Cause = fe.field, fe.msg, fe.err, fe.cause
	case errors.As(err, &se):
		e.Field, e.Err = d.field, ErrSyntax
		p := min(se.pos, len(buf))
		ln := lineOf(p)
		col := p - (bytes.LastIndexByte(buf[:p], '\n') + 1) + 1
		if ln == e.Line {
			e.Msg = fmt.Sprintf("invalid JSON at column %d: %s", col, se.msg)
		} else {
			e.Msg = fmt.Sprintf("invalid JSON at line %d column %d: %s", ln, col, se.msg)
		}
	default:
		e.Field, e.Err = d.field, ErrSyntax
		e.Msg = "invalid JSON: " + err.Error()
	}
	return e
}
