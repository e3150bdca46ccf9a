package proc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"time"
)

// Lenient JSON values for Falco's output_fields, whose types follow the
// rule author's output string rather than a schema: a field that has no
// value for the event is null or the string "<NA>" depending on the Falco
// version, and the same field may be a number or a string.

// naMarker is what Falco prints for a field without a value.
const naMarker = "<NA>"

var (
	typeString = reflect.TypeFor[string]()
	typeInt64  = reflect.TypeFor[int64]()
)

// jstr is a string that also accepts null and "<NA>" (read as empty) and a
// bare number or boolean (read as its literal text).
type jstr string

// UnmarshalJSON implements json.Unmarshaler.
func (s *jstr) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case '"':
		v, err := unquote(b)
		if err != nil {
			return err
		}
		if v == naMarker {
			v = ""
		}
		*s = jstr(v)
	case 'n':
		*s = ""
	case '{':
		return &json.UnmarshalTypeError{Value: "object", Type: typeString}
	case '[':
		return &json.UnmarshalTypeError{Value: "array", Type: typeString}
	default: // number, true, false
		*s = jstr(b)
	}
	return nil
}

// unquote decodes a JSON string literal, without allocating more than the
// result when it holds no escapes and only ASCII.
func unquote(b []byte) (string, error) {
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c == '\\' || c >= 0x80 {
			var v string
			err := json.Unmarshal(b, &v)
			return v, err
		}
	}
	return string(in), nil
}

// jint is an integer that also accepts null, "<NA>" and "" (no value) and a
// string holding a decimal integer.
type jint struct {
	v  int64
	ok bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *jint) UnmarshalJSON(b []byte) error {
	*n = jint{}
	lit, kind := string(b), "number "
	switch b[0] {
	case 'n':
		return nil
	case '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		if s == "" || s == naMarker {
			return nil
		}
		lit, kind = s, "string "
	case '{':
		return &json.UnmarshalTypeError{Value: "object", Type: typeInt64}
	case '[':
		return &json.UnmarshalTypeError{Value: "array", Type: typeInt64}
	case 't', 'f':
		return &json.UnmarshalTypeError{Value: "bool", Type: typeInt64}
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		if kind == "string " {
			lit = quoteTrunc(lit)
		}
		return &json.UnmarshalTypeError{Value: kind + lit, Type: typeInt64}
	}
	n.v, n.ok = v, true
	return nil
}

// jtime is a fallback timestamp: nanoseconds since the epoch as a number,
// or an RFC 3339 string not before 1970. Anything else is ignored rather than rejected: it
// is only read when the record's own time is missing.
type jtime struct{ t time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (j *jtime) UnmarshalJSON(b []byte) error {
	j.t = time.Time{}
	switch {
	case b[0] == '"':
		if s, err := unquote(b); err == nil {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil && !t.Before(unixEpoch) {
				j.t = t
			}
		}
	case b[0] >= '0' && b[0] <= '9':
		if ns, err := strconv.ParseInt(string(b), 10, 64); err == nil && ns > 0 {
			j.t = time.Unix(0, ns).UTC()
		}
	}
	return nil
}

// jsonError turns an encoding/json error into a field error a user can act
// on: the JSON path of the field and what was wrong with it.
func jsonError(err error) *fieldError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errField("", "invalid JSON at byte "+strconv.FormatInt(se.Offset, 10)+": "+se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return errField(te.Field, "expected "+typeWord(te.Type)+", got JSON "+te.Value)
	}
	return errField("", err.Error())
}

// typeWord names a Go type the way a user reading JSON thinks of it.
func typeWord(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Uint32:
		return "an integer from 0 to 4294967295"
	case reflect.Int64, reflect.Int, reflect.Uint64:
		return "an integer"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return typeWord(t.Elem())
	case reflect.Slice:
		return "an array"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.String()
}

// parseTime reads an RFC 3339 timestamp. Times before 1970 are rejected: no
// sensor reports them, and a zero or garbage time would distort every time
// window downstream.
func parseTime(field, v string) (time.Time, *fieldError) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errField(field, "invalid RFC 3339 time "+quoteTrunc(v))
	}
	if t.Before(unixEpoch) {
		return time.Time{}, errField(field, "time before 1970: "+quoteTrunc(v))
	}
	return t, nil
}

var unixEpoch = time.Unix(0, 0)
