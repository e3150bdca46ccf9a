package audit

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// okLine is a valid event; every bad input below is followed by it, to check
// that a bad record is skipped without losing the next one.
const okLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"ok-1","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"u"},"responseStatus":{"code":200}}`

// ev builds an event line from a fragment of fields.
func ev(fields string) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",` + fields + `}`
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBadInputs(t *testing.T) {
	long := ev(`"auditID":"` + strings.Repeat("x", 300) + `","stage":"ResponseComplete"`)
	fullGz := gzipped(t, string(genEvents(2000, 3, false)))
	tests := []struct {
		name    string
		input   string
		opts    Options
		wantErr string // the first error, exactly
		is      error
		// fatal: Decode itself returns wantErr (a stream error).
		fatal bool
	}{
		{
			name:    "malformed JSON",
			input:   `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get" "stage":"ResponseComplete"}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: verb: invalid JSON at column 75: invalid character '"' after object member, expected ',' or '}'`,
			is:      ErrSyntax,
		},
		{
			name:    "line cut inside a string",
			input:   `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseCo` + "\n" + okLine,
			wantErr: `bad.jsonl:1: stage: invalid JSON at column 70: unterminated string`,
			is:      ErrSyntax,
		},
		{
			name:    "line cut between tokens, next line not a continuation",
			input:   `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a",` + "\n" + okLine,
			wantErr: `bad.jsonl:1: invalid JSON at line 2 column 1: invalid character '{' looking for an object key`,
			is:      ErrSyntax,
		},
		{
			name:    "value never closed",
			input:   okLine + "\n" + `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + "\n" + `{"auditID":"a","stage":"Panic"},` + "\n",
			wantErr: `bad.jsonl:2: invalid JSON: unexpected end of input: the value starting on this line is not closed`,
			is:      ErrSyntax,
		},
		{
			name:    "apiVersion v1beta1",
			input:   `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"a","stage":"ResponseComplete"}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: apiVersion: "audit.k8s.io/v1beta1" is not supported: audit.k8s.io/v1alpha1 and v1beta1 were removed in Kubernetes 1.24; configure the audit backend to write audit.k8s.io/v1`,
			is:      ErrVersion,
		},
		{
			name:    "apiVersion missing",
			input:   `{"kind":"Event","auditID":"a","stage":"ResponseComplete"}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: apiVersion: missing: want audit.k8s.io/v1`,
			is:      ErrVersion,
		},
		{
			name:    "object without kind",
			input:   `{"apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete"}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: kind: missing: want an audit.k8s.io/v1 Event or EventList`,
			is:      ErrKind,
		},
		{
			name:    "not an audit event",
			input:   `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p"}}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: kind: "Pod" is not an audit event: want an audit.k8s.io/v1 Event or EventList`,
			is:      ErrKind,
		},
		{
			name:    "a huge value is clipped in the message",
			input:   `{"kind":"` + strings.Repeat("K", 5000) + `"}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: kind: "` + strings.Repeat("K", 100) + `...(5000 bytes)" is not an audit event: want an audit.k8s.io/v1 Event or EventList`,
			is:      ErrKind,
		},
		{
			name:    "not an object",
			input:   `["a","b"]` + "\n" + okLine,
			wantErr: `bad.jsonl:1: expected a JSON object, found an array`,
			is:      ErrField,
		},
		{
			name: "EventList with a bad item",
			input: "{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":[\n" +
				"  {\"auditID\":\"i0\",\"stage\":\"ResponseComplete\"},\n" +
				"  {\"auditID\":\"i1\",\"stage\":\"ResponseComplete\",\"responseStatus\":{\"code\":\"403\"}},\n" +
				"  {\"auditID\":\"i2\",\"stage\":\"ResponseComplete\"}\n]}\n" + okLine,
			wantErr: `bad.jsonl:3: items[1]: responseStatus.code: expected an integer, found a string`,
			is:      ErrField,
		},
		{
			name:    "EventList item of another kind",
			input:   `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"kind":"Pod","auditID":"a","stage":"Panic"}]}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: items[0]: kind: "Pod" is not an audit event: an EventList item must be an Event`,
			is:      ErrKind,
		},
		{
			name:    "items not an array",
			input:   `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":{}}` + "\n" + okLine,
			wantErr: `bad.jsonl:1: items: expected an array, found an object`,
			is:      ErrField,
		},
		{
			name:    "line too long",
			input:   long + "\n" + okLine,
			opts:    Options{MaxRecordBytes: 256},
			wantErr: `bad.jsonl:1: line is longer than 256 bytes (Options.MaxRecordBytes)`,
			is:      ErrTooLong,
		},
		{
			name:    "missing auditID",
			input:   ev(`"stage":"ResponseComplete"`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: auditID: missing`,
			is:      ErrField,
		},
		{
			name:    "unknown stage",
			input:   ev(`"auditID":"a","stage":"Done"`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: stage: unknown stage "Done": want RequestReceived, ResponseStarted, ResponseComplete or Panic`,
			is:      ErrField,
		},
		{
			name:    "bad timestamp",
			input:   ev(`"auditID":"a","stage":"Panic","stageTimestamp":"2026-13-01T00:00:00Z"`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: stageTimestamp: invalid timestamp "2026-13-01T00:00:00Z": want RFC 3339, e.g. 2006-01-02T15:04:05.000000Z`,
			is:      ErrField,
		},
		{
			name:    "code out of range",
			input:   ev(`"auditID":"a","stage":"Panic","responseStatus":{"code":4294967296}`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: responseStatus.code: 4294967296 is out of range for a 32-bit integer`,
			is:      ErrField,
		},
		{
			name:    "group of the wrong type",
			input:   ev(`"auditID":"a","stage":"Panic","user":{"username":"u","groups":["a",7]}`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: user.groups: element 1: expected a string, found a number`,
			is:      ErrField,
		},
		{
			name:    "control character in a string",
			input:   ev(`"auditID":"a`+"\x01"+`","stage":"Panic"`) + "\n" + okLine,
			wantErr: `bad.jsonl:1: auditID: invalid JSON at column 79: invalid control character 0x01 in string`,
			is:      ErrSyntax,
		},
		{
			name:    "truncated gzip",
			input:   string(fullGz[:len(fullGz)/2]),
			wantErr: `: gzip stream is truncated (unexpected EOF): the file is incomplete; events up to here were read`,
			is:      ErrTruncated,
			fatal:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.opts)
			var ids []string
			err := d.Decode(strings.NewReader(tt.input), "bad.jsonl", func(r *event.APIRequest) error {
				ids = append(ids, r.AuditID)
				return nil
			})
			st := d.Stats()
			if tt.fatal {
				// The error names the line the stream broke on, after the
				// events that could be read.
				want := fmt.Sprintf("bad.jsonl:%d%s", len(ids)+1, tt.wantErr)
				if err == nil || err.Error() != want || !errors.Is(err, tt.is) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("Decode error = %v, want %s wrapping %v", err, want, tt.is)
				}
				if len(ids) < 100 || st.Rejected != 1 {
					t.Errorf("delivered %d events before the damage, rejected %d", len(ids), st.Rejected)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v (bad records must be skipped, not fatal)", err)
			}
			if st.Rejected != 1 || len(st.Errors) != 1 {
				t.Fatalf("rejected %d, errors %v; want exactly one", st.Rejected, st.Errors)
			}
			got := st.Errors[0]
			if got.Error() != tt.wantErr {
				t.Errorf("error text\n got: %s\nwant: %s", got, tt.wantErr)
			}
			if !errors.Is(got, tt.is) {
				t.Errorf("error %v does not wrap %v", got, tt.is)
			}
			var re *RecordError
			if !errors.As(got, &re) || re.File != "bad.jsonl" {
				t.Errorf("error %#v is not a *RecordError for bad.jsonl", got)
			}
			if len(ids) == 0 || ids[len(ids)-1] != "ok-1" {
				t.Errorf("delivered %v: the valid record after the bad one was lost", ids)
			}

			// Strict: the same input fails on the first bad record.
			opts := tt.opts
			opts.Strict = true
			err = NewDecoder(opts).Decode(strings.NewReader(tt.input), "bad.jsonl", func(*event.APIRequest) error { return nil })
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Strict: Decode error = %v, want %s", err, tt.wantErr)
			}
		})
	}
}
