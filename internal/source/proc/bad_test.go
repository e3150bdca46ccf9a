package proc

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// TestBadRecords: every malformed record is reported with its file, line
// and field, counted and skipped, or returned under Strict.
func TestBadRecords(t *testing.T) {
	const (
		ft = `"time":"2024-05-01T12:00:00Z"`
		tt = `"time":"2024-05-01T12:00:00Z","node_name":"n1"`
	)
	tetra := func(process string) string {
		return `{"process_exec":{"process":` + process + `},` + tt + `}`
	}
	for _, tc := range []struct {
		name, format, line, want string
	}{
		// Falco
		{"falco: cut short", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":"sh"`,
			`bad:1: invalid JSON at byte 75: unexpected end of JSON input`},
		{"falco: not JSON after the brace", "falco", `{rule: r}`,
			`bad:1: invalid JSON at byte 2: invalid character 'r' looking for beginning of object key string`},
		{"falco: time not RFC 3339", "falco", `{"rule":"r","time":"Wed May  1 12:00:00 2024","output_fields":{"proc.name":"sh"}}`,
			`bad:1: field "time": invalid RFC 3339 time "Wed May  1 12:00:00 2024"`},
		{"falco: time a number", "falco", `{"rule":"r","time":1714564800,"output_fields":{"proc.name":"sh"}}`,
			`bad:1: field "time": expected a string, got JSON number`},
		{"falco: no time at all", "falco", `{"rule":"r","output_fields":{"proc.name":"sh"}}`,
			`bad:1: field "time": missing (and no evt.time in output_fields)`},
		{"falco: output_fields an array", "falco", `{"rule":"r",` + ft + `,"output_fields":[]}`,
			`bad:1: field "output_fields": expected an object, got JSON array`},
		{"falco: pid a word", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":"sh","proc.pid":"init"}}`,
			`bad:1: field "output_fields.proc.pid": expected an integer, got JSON string "init"`},
		{"falco: pid a fraction", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":"sh","proc.pid":1.5}}`,
			`bad:1: field "output_fields.proc.pid": expected an integer, got JSON number 1.5`},
		{"falco: pid out of range", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":"sh","proc.pid":5000000000}}`,
			`bad:1: field "output_fields.proc.pid": process ID out of range: 5000000000`},
		{"falco: uid negative", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":"sh","user.uid":-7}}`,
			`bad:1: field "output_fields.user.uid": user ID out of range: -7`},
		{"falco: name an object", "falco", `{"rule":"r",` + ft + `,"output_fields":{"proc.name":{"x":1}}}`,
			`bad:1: field "output_fields.proc.name": expected a string, got JSON object`},
		// Tetragon
		{"tetragon: not JSON", "tetragon", `process_exec default/xwing /usr/bin/curl`,
			`bad:1: invalid JSON at byte 1: invalid character 'p' looking for beginning of value`},
		{"tetragon: cut short", "tetragon", `{"process_exec":{"process":{"pid":1,"binary":"/bin/sh"`,
			`bad:1: invalid JSON at byte 54: unexpected end of JSON input`},
		{"tetragon: no process", "tetragon", `{"process_exec":{"parent":{"binary":"/bin/sh"}},` + tt + `}`,
			`bad:1: field "process_exec.process": missing`},
		{"tetragon: no binary", "tetragon", tetra(`{"pid":1,"arguments":"-c id"}`),
			`bad:1: field "process_exec.process.binary": missing`},
		{"tetragon: pid negative", "tetragon", tetra(`{"pid":-1,"binary":"/bin/sh"}`),
			`bad:1: field "process_exec.process.pid": expected an integer from 0 to 4294967295, got JSON number -1`},
		{"tetragon: uid as string", "tetragon", tetra(`{"uid":"0","binary":"/bin/sh"}`),
			`bad:1: field "process_exec.process.uid": expected an integer from 0 to 4294967295, got JSON string`},
		{"tetragon: arguments as a list", "tetragon", tetra(`{"binary":"/bin/sh","arguments":["-c","id"]}`),
			`bad:1: field "process_exec.process.arguments": expected a string, got JSON array`},
		{"tetragon: label value a number", "tetragon", tetra(`{"binary":"/bin/sh","pod":{"name":"p","pod_labels":{"tier":1}}}`),
			`bad:1: field "process_exec.process.pod.pod_labels": expected a string, got JSON number`},
		{"tetragon: bad time", "tetragon", `{"process_exec":{"process":{"binary":"/bin/sh"}},"time":"2024-05-01 12:00:00"}`,
			`bad:1: field "time": invalid RFC 3339 time "2024-05-01 12:00:00"`},
		{"tetragon: time before 1970", "tetragon", `{"process_exec":{"process":{"binary":"/bin/sh"}},"time":"0001-01-01T0:00:00Z"}`,
			`bad:1: field "time": time before 1970: "0001-01-01T0:00:00Z"`},
		{"falco: time before 1970", "falco", `{"rule":"r","time":"1969-12-31T23:59:59Z","output_fields":{"proc.name":"sh"}}`,
			`bad:1: field "time": time before 1970: "1969-12-31T23:59:59Z"`},
		{"tetragon: bad start time, no time", "tetragon", `{"process_exec":{"process":{"binary":"/bin/sh","start_time":"now"}}}`,
			`bad:1: field "process_exec.process.start_time": invalid RFC 3339 time "now"`},
		{"tetragon: no time at all", "tetragon", `{"process_exec":{"process":{"binary":"/bin/sh"}}}`,
			`bad:1: field "time": missing (and no process_exec.process.start_time)`},
		{"tetragon: long values are cut in messages", "tetragon", `{"process_exec":{"process":{"binary":"/bin/sh"}},"time":"` + strings.Repeat("9", 100) + `"}`,
			`bad:1: field "time": invalid RFC 3339 time "` + strings.Repeat("9", 64) + `..."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Lenient: counted, kept in Stats.Errors, skipped; the good
			// record after it is still delivered.
			input := tc.line + "\n" + goodLine(Format(tc.format)) + "\n"
			out, st, err := decodeAll(t, Options{Format: Format(tc.format)}, "bad", []byte(input))
			if err != nil {
				t.Fatal(err)
			}
			checkInvariant(t, st)
			if st.Rejected != 1 || len(st.Errors) != 1 || len(out) != 1 || st.Delivered != 1 {
				t.Fatalf("want 1 rejected and 1 delivered, got %s %v", statsLine(st), st.Errors)
			}
			if got := st.Errors[0].Error(); got != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", got, tc.want)
			}
			// Strict: the same error is returned, and nothing after it is read.
			_, st, err = decodeAll(t, Options{Format: Format(tc.format), Strict: true}, "bad", []byte(input))
			var re *RecordError
			if !errors.As(err, &re) || !errors.Is(err, ErrMalformed) || err.Error() != tc.want || re.Line != 1 {
				t.Fatalf("strict: got %v, want %s", err, tc.want)
			}
			if st.Delivered != 0 {
				t.Fatalf("strict: delivered past the bad record")
			}
		})
	}
}

// goodLine returns one valid record of the format.
func goodLine(f Format) string {
	if f == FormatFalco {
		return `{"rule":"r","time":"2024-05-01T12:00:01Z","source":"syscall","output_fields":{"proc.name":"id","proc.cmdline":"id -u"}}`
	}
	return `{"process_exec":{"process":{"pid":2,"binary":"/usr/bin/id","arguments":"-u"}},"time":"2024-05-01T12:00:01Z"}`
}

func TestLineTooLong(t *testing.T) {
	long := `{"process_exec":{"process":{"binary":"/bin/sh","arguments":"` + strings.Repeat("a", MaxRecordBytes) + `"}},"time":"2024-05-01T12:00:00Z"}`
	input := goodLine(FormatTetragon) + "\n" + long + "\n" + goodLine(FormatTetragon) + "\n"
	out, st, err := decodeAll(t, Options{}, "big", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, st)
	if len(out) != 2 || st.Rejected != 1 || !errors.Is(st.Errors[0], ErrLineTooLong) ||
		st.Errors[0].Error() != "big:2: record longer than 4194304 bytes" {
		t.Fatalf("got %s %v", statsLine(st), st.Errors)
	}
	// A record just under the limit that spans many read buffers is read whole.
	okLong := `{"process_exec":{"process":{"binary":"/bin/sh","arguments":"` + strings.Repeat("b", 300<<10) + `"}},"time":"2024-05-01T12:00:00Z"}`
	d := NewDecoder(Options{})
	n := 0
	if err := d.Decode(strings.NewReader(okLong), "ok", func(e *event.Exec) error {
		n = len(e.Args[0])
		return nil
	}); err != nil || n != 300<<10 {
		t.Fatalf("long record: err %v, argument of %d bytes", err, n)
	}
}

func TestUnknownFormat(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
		opts              Options
	}{
		{"forced unknown format", goodLine(FormatFalco), `unknown process event format "sysdig" (known: falco, tetragon)`, Options{Format: "sysdig"}},
		{"JSON of something else", `{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`,
			"in:1: unknown process event format: the first JSON record is neither a Falco alert (output_fields, rule, priority) nor a Tetragon event (process_exec, process_exit, ..., node_name); set the format explicitly", Options{}},
		{"JSON array", `[{"rule":"r"}]`,
			"in:1: unknown process event format: the first record is a JSON array; the decoder reads one JSON object per line", Options{}},
		{"no JSON at all", strings.Repeat("Wed May  1 11:59:58 2024: Falco initialized\n", maxDetectLines+1),
			"in:101: unknown process event format: none of the first 101 records is a JSON object; set the format explicitly", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st, err := decodeAll(t, tc.opts, "in", []byte(tc.input))
			if !errors.Is(err, ErrUnknownFormat) || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			if tc.opts.Format == "" {
				checkInvariant(t, st)
			}
		})
	}
	// Forced formats read what detection would refuse: a Falco file that
	// starts with JSON of another kind skips it.
	out, st, err := decodeAll(t, Options{Format: FormatFalco}, "in", []byte(`{"kind":"Event"}`+"\n"+goodLine(FormatFalco)+"\n"))
	if err != nil || len(out) != 1 || st.Skipped != 1 {
		t.Fatalf("forced falco: %v %s", err, statsLine(st))
	}
}

func TestErrorsKeptAreBounded(t *testing.T) {
	input := bytes.Repeat([]byte("{\"process_exec\":{}}\n"), maxErrors+5)
	_, st, err := decodeAll(t, Options{Format: FormatTetragon}, "many", input)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected != maxErrors+5 || len(st.Errors) != maxErrors {
		t.Fatalf("rejected %d, kept %d errors", st.Rejected, len(st.Errors))
	}
}
