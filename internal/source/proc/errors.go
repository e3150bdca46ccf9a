package proc

import (
	"errors"
	"strconv"
)

// Sentinel errors. Use errors.Is: the errors a Decoder returns and records
// wrap them.
var (
	// ErrMalformed marks a record that could not be decoded.
	ErrMalformed = errors.New("malformed process record")
	// ErrLineTooLong marks a record longer than MaxRecordBytes.
	ErrLineTooLong = errors.New("process record too long")
	// ErrUnknownFormat is returned when an input's format cannot be detected
	// or Options.Format names no known format.
	ErrUnknownFormat = errors.New("unknown process event format")
	// ErrNoStdin is returned by DecodeFiles for the path "-" when
	// Options.Stdin is nil.
	ErrNoStdin = errors.New(`process input "-": no standard input configured`)
)

// RecordError describes one bad record: where it is and which field is wrong.
// Its Error text reads `file:line: field "name": message`.
type RecordError struct {
	File  string
	Line  int64
	Field string // JSON path of the field ("process_exec.process.pid"); empty when the record as a whole is unreadable
	Msg   string
	Err   error // ErrMalformed or ErrLineTooLong
}

// Error implements error.
func (e *RecordError) Error() string {
	b := make([]byte, 0, len(e.File)+len(e.Field)+len(e.Msg)+32)
	b = append(b, e.File...)
	b = append(b, ':')
	b = strconv.AppendInt(b, e.Line, 10)
	b = append(b, ": "...)
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	b = append(b, e.Msg...)
	return string(b)
}

// Unwrap returns the sentinel error.
func (e *RecordError) Unwrap() error { return e.Err }

// fieldError is what the per-format parsers return; the decoder adds the
// file and line.
type fieldError struct {
	field string
	msg   string
}

func errField(field, msg string) *fieldError { return &fieldError{field: field, msg: msg} }

// quoteTrunc quotes a value for an error message, truncated to 64 bytes so
// an error never carries a whole record (or a whole command line).
func quoteTrunc(v string) string {
	const max = 64
	if len(v) > max {
		v = v[:max] + "..."
	}
	return strconv.Quote(v)
}
