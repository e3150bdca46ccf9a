package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Sentinel errors of the loader. Every error Load and LoadReader return for
// bad input wraps one of them (inside a *DocumentError that says where), so
// callers can test with errors.Is.
var (
	// ErrSyntax: the document is not valid YAML or JSON.
	ErrSyntax = errors.New("syntax error")
	// ErrNotObject: the document (or a List item) is a scalar, not an object.
	ErrNotObject = errors.New("not an object")
	// ErrNoKind: an object has no kind.
	ErrNoKind = errors.New("object without kind")
	// ErrNoAPIVersion: an object has no apiVersion.
	ErrNoAPIVersion = errors.New("object without apiVersion")
	// ErrNoName: an object of a kept kind has no metadata.name.
	ErrNoName = errors.New("object without metadata.name")
	// ErrFieldType: a field holds a value of the wrong type or an invalid
	// value (rules: "x", a malformed timestamp or quantity).
	ErrFieldType = errors.New("invalid field value")
	// ErrNestingDepth: Lists nested deeper than maxListDepth.
	ErrNestingDepth = errors.New("lists nested too deeply")
	// ErrTruncatedGzip: a gzip stream ends before its trailer.
	ErrTruncatedGzip = errors.New("truncated gzip")
	// ErrCorruptGzip: a gzip stream has a bad header or checksum.
	ErrCorruptGzip = errors.New("corrupt gzip")
	// ErrRead: the input could not be read (I/O error, not a format error).
	ErrRead = errors.New("read error")
)

// DocumentError locates a problem in an input file: the file, the line, the
// document and, inside Lists, the item. Document and item numbers are
// ordinals counted from 1 (the first document, the first item); empty
// documents are not counted. Its message reads
//
//	dump/rbac.yaml:120: document 3 (item 7): ClusterRole "foo": field "rules": got string, want array
type DocumentError struct {
	File string
	// Line is where the failing object starts, or where a syntax error is;
	// 0 when unknown.
	Line int
	// Document is the 1-based ordinal of the document in File; 0 when the
	// error concerns the whole file (a read or gzip error).
	Document int
	// Items is the path of 1-based item ordinals through nested Lists;
	// empty when the document is not a List.
	Items []int
	// Object names the object when known: `ClusterRole "foo"` or
	// `Pod "ns/name"`.
	Object string
	Err    error
}

func (e *DocumentError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Document > 0 {
		b.WriteString("document ")
		b.WriteString(strconv.Itoa(e.Document))
		if len(e.Items) > 0 {
			b.WriteString(" (item ")
			for i, it := range e.Items {
				if i > 0 {
					b.WriteByte('.')
				}
				b.WriteString(strconv.Itoa(it))
			}
			b.WriteByte(')')
		}
		b.WriteString(": ")
	}
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DocumentError) Unwrap() error { return e.Err }

// fieldError is a wrong-typed field, with the field path and both types
// spelled the way a manifest author sees them (JSON types, not Go types).
type fieldError struct {
	field string // dotted path, "spec.template.spec.containers.ports.containerPort"
	got   string // "string", "number 1.5", "array"
	want  string // "array", "object", "string", "integer", ...
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("got %s, want %s", e.got, e.want)
	}
	return fmt.Sprintf("field %q: got %s, want %s", e.field, e.got, e.want)
}

func (e *fieldError) Unwrap() error { return ErrFieldType }

// decodeError turns an encoding/json error from decoding a typed object into
// an error that names the field and wraps ErrFieldType. Errors returned by
// custom unmarshalers (metav1.Time, resource.Quantity) carry no field path;
// they are kept as they are, still wrapped.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &fieldError{field: te.Field, got: te.Value, want: jsonTypeName(te.Type)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %s", ErrSyntax, se.Error())
	}
	return fmt.Errorf("%w: %s", ErrFieldType, strings.TrimPrefix(err.Error(), "json: "))
}

// jsonTypeName names the JSON type a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string (base64)"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
}
