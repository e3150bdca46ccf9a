package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error about the input is a *RecordError that wraps
// one of them, so callers can use errors.Is and errors.As.
var (
	// ErrSyntax: the record is not valid JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrKind: the record is not an audit Event or EventList.
	ErrKind = errors.New("not an audit event")
	// ErrVersion: the apiVersion is missing or not audit.k8s.io/v1.
	ErrVersion = errors.New("unsupported apiVersion")
	// ErrField: a field has the wrong type or an invalid value.
	ErrField = errors.New("invalid field")
	// ErrTooLong: a line or record exceeds MaxRecordBytes.
	ErrTooLong = errors.New("record too long")
	// ErrTruncated: a compressed stream ended early (io.ErrUnexpectedEOF).
	ErrTruncated = errors.New("truncated stream")
	// ErrRead: the input could not be read (I/O error, corrupt gzip data).
	ErrRead = errors.New("read error")
)

// RecordError describes a rejected record: where it starts and what is wrong.
// Its text is "file:line: [items[i]: ][field: ]message", e.g.
//
//	audit.log:7: apiVersion: "audit.k8s.io/v1beta1" is not supported (...)
//	hook.json:14: items[2]: stage: missing
type RecordError struct {
	File string
	// Line is the 1-based line where the record starts; for an EventList
	// item, the line where the item starts.
	Line int
	// Item is the index in the EventList's items, or -1.
	Item int
	// Field is the JSON path of the offending field ("user.groups",
	// "responseStatus.code"), or "" when no field applies.
	Field string
	// Msg is the human-readable detail.
	Msg string
	// Err is one of the package's sentinel errors.
	Err error
	// Cause is an underlying error (an I/O or time parsing error), or nil.
	Cause error
}

func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(e.Line))
	b.WriteString(": ")
	if e.Item >= 0 {
		fmt.Fprintf(&b, "items[%d]: ", e.Item)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error and the cause, if any.
func (e *RecordError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// fieldError is the parser's internal error: the position in the buffer is
// turned into a line (and column) by the caller, which knows the file.
type fieldError struct {
	field string
	pos   int // byte offset in the parsed buffer, or -1
	err   error
	msg   string
	cause error
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func newFieldError(field string, pos int, sentinel error, format string, args ...any) *fieldError {
	return &fieldError{field: field, pos: pos, err: sentinel, msg: fmt.Sprintf(format, args...)}
}

// maxQuoted bounds input quoted in an error message.
const maxQuoted = 100

// clip shortens input quoted in an error message, so that a huge field
// cannot make a huge error or log record.
func clip[T string | []byte](v T) string {
	if len(v) <= maxQuoted {
		return string(v)
	}
	return string(v[:maxQuoted]) + "...(" + strconv.Itoa(len(v)) + " bytes)"
}
