package flow

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

const (
	hubbleLine    = `{"flow":{"time":"2024-03-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":80}}},"node_name":"n1"}`
	genericLine   = `{"time":"2024-03-01T10:00:00Z","src_ip":"10.0.0.1","src_port":40000,"dst_ip":"10.0.0.2","dst_port":80,"protocol":"TCP"}`
	vpcLine       = "2 123456789010 eni-a 10.0.0.1 10.0.0.2 40000 80 6 1 60 1709287200 1709287260 ACCEPT OK"
	conntrackLine = "[1709287200.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{hubbleLine, FormatHubble},
		{`{"node_status":{}}`, FormatHubble},
		{`{"time":"2024-03-01T10:00:00Z","verdict":"FORWARDED","IP":{}}`, FormatHubble},
		{genericLine, FormatGeneric},
		{`{"note":"src_ip","protocol":"TCP","dst_ip":"10.0.0.2"}`, FormatGeneric},
		{vpcLine, FormatVPC},
		{"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status", FormatVPC},
		{conntrackLine, FormatConntrack},
		{"    [NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2", FormatConntrack},
		{"hello world", FormatDetect},
		{"[not conntrack]", FormatDetect},
	} {
		d := NewDecoder(Options{})
		if got := d.detect(trimSpace([]byte(tc.in))); got != tc.want {
			t.Errorf("detect(%.40q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeDetectsEachInput(t *testing.T) {
	d := NewDecoder(Options{})
	var got []string
	for i, in := range []string{hubbleLine, genericLine, vpcLine, conntrackLine} {
		if err := d.Decode(strings.NewReader("\n"+in+"\n"), fmt.Sprint("in", i), collect(&got)); err != nil {
			t.Fatal(err)
		}
	}
	st := d.Stats()
	checkInvariant(t, st)
	// vpc repeats the hubble flow within the dedup window; generic records
	// are never deduplicated; the conntrack connection, never answered,
	// has verdict UNKNOWN and so is a different fact.
	if st.Delivered != 3 || st.Duplicates != 1 || len(got) != 3 {
		t.Errorf("got %s, flows %q", statsLine(st), got)
	}
}

func TestUnknownFormat(t *testing.T) {
	d := NewDecoder(Options{})
	err := d.Decode(strings.NewReader("\n\nsomething else\n"), "x.txt", func(*event.Flow) error { return nil })
	if !errors.Is(err, ErrUnknownFormat) || !strings.HasPrefix(err.Error(), "x.txt:3: unknown flow format") {
		t.Errorf("got %v", err)
	}
	d = NewDecoder(Options{Format: "netflow"})
	if err := d.Decode(strings.NewReader(vpcLine), "x", func(*event.Flow) error { return nil }); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("bad Options.Format: got %v", err)
	}
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGzip(t *testing.T) {
	in := strings.Repeat(genericLine+"\n", 3) + "\xef\xbb\xbf"
	data := gz(t, "\xef\xbb\xbf"+in[:len(in)-3])
	out, st, err := decodeAll(t, Options{}, "flows.jsonl.gz", data)
	if err != nil || len(out) != 3 || st.Delivered != 3 {
		t.Fatalf("gzip: err %v, %d flows, %s", err, len(out), statsLine(st))
	}

	truncated := data[:len(data)-12]
	out, _, err = decodeAll(t, Options{}, "flows.jsonl.gz", truncated)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasPrefix(err.Error(), "flows.jsonl.gz: read after line") {
		t.Errorf("truncated gzip: got %v", err)
	}
	if len(out) > 3 {
		t.Errorf("truncated gzip delivered %d flows", len(out))
	}

	_, _, err = decodeAll(t, Options{}, "bad.gz", []byte{0x1f, 0x8b, 0, 0})
	if err == nil || !strings.HasPrefix(err.Error(), "bad.gz:") {
		t.Errorf("corrupt gzip header: got %v", err)
	}
}

func TestDecodeFilesAndStdin(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "a.json", hubbleLine+"\n")
	d := NewDecoder(Options{Stdin: strings.NewReader(vpcLine + "\n"), DedupWindow: -1})
	var got []string
	if err := d.DecodeFiles([]string{p, "-"}, collect(&got)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("got %q", got)
	}
	if err := NewDecoder(Options{}).DecodeFiles([]string{"-"}, collect(&got)); err == nil {
		t.Error(`"-" without Options.Stdin: no error`)
	}
	err := NewDecoder(Options{}).DecodeFiles([]string{dir + "/missing.json"}, collect(&got))
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: got %v", err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	d := NewDecoder(Options{Format: FormatGeneric})
	err := d.Decode(strings.NewReader(strings.Repeat(genericLine+"\n", 5)), "x", func(*event.Flow) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("got %v after %d calls", err, n)
	}
}

func TestLongLine(t *testing.T) {
	in := genericLine + "\n" + `{"pad":"` + strings.Repeat("x", MaxRecordBytes) + `"}` + "\n" + genericLine + "\n"
	out, st, err := decodeAll(t, Options{Format: FormatGeneric, DedupWindow: -1}, "big", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || st.Rejected != 1 || !errors.Is(st.Errors[0], ErrLineTooLong) ||
		st.Errors[0].Error() != "big:2: record longer than 4194304 bytes" {
		t.Errorf("got %d flows, %s, %v", len(out), statsLine(st), st.Errors)
	}
	// A long line under the limit is assembled and decoded.
	long := `{"pad":"` + strings.Repeat("y", 1<<20) + `",` + genericLine[1:]
	out, st, err = decodeAll(t, Options{Format: FormatGeneric}, "big", []byte(long))
	if err != nil || len(out) != 1 {
		t.Errorf("1 MiB record: err %v, %s", err, statsLine(st))
	}
}

// TestBadInput lists malformed records with the exact error text a user
// sees: file, line, field and what is wrong.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		format Format
		in     string
		want   string
	}{
		{FormatHubble, hubbleLine + "\n" + `{"flow":{"time":"2024-03-01T10:00:00Z","IP":{"source":"10.0.0.300","destination":"10.0.0.2"}}}`,
			`f:2: field "flow.IP.source": invalid IP address "10.0.0.300"`},
		{FormatHubble, `{"flow":{"time":"yesterday"}}`, `f:1: field "flow.time": invalid RFC 3339 timestamp "yesterday"`},
		{FormatHubble, `{"flow":{"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"destination_port":80}}}}`, `f:1: field "flow.time": missing`},
		{FormatHubble, `{"flow":{"l4":{"TCP":{"destination_port":70000}}}}`, `f:1: field "flow.l4.TCP.destination_port": out of range: 70000`},
		{FormatHubble, `{"flow":{"l4":{"UDP":{"source_port":-1}}}}`, `f:1: field "flow.l4.UDP.source_port": negative number`},
		{FormatHubble, `{"flow":{"source":{"labels":["k8s:app=a",7]}}}`, `f:1: field "flow.source.labels": expected a string`},
		{FormatHubble, `{"flow":{"IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{}},"time":"2024-03-01T10:00:00Z","is_reply":"yes"}}`, `f:1: field "flow.is_reply": expected a boolean`},
		{FormatHubble, `{"flow":{"IP":{"source":"10.0.0.1"`, `f:1: field "flow.IP": invalid JSON at byte 35: unexpected end of line`},
		{FormatHubble, `{"flow":{}} trailing`, `f:1: invalid JSON at byte 13: unexpected 't'`},
		{FormatHubble, `{"flow":{"IP":{"source":"10.0.0.1"},"l4":{"TCP":{}},"time":"2024-03-01T10:00:00Z"}}`, `f:1: field "flow.IP.destination": missing`},
		{FormatGeneric, `{"time":"2024-03-01T10:00:00Z","dst_ip":"10.0.0.2","protocol":"TCP"}`, `f:1: field "src_ip": missing`},
		{FormatGeneric, `{"time":"2024-03-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"GRE"}`, `f:1: field "protocol": invalid protocol "GRE" (want TCP, UDP, SCTP, ICMP, ICMPv6 or a number)`},
		{FormatGeneric, `{"time":"2024-03-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"TCP","verdict":"ALLOW"}`, `f:1: field "verdict": invalid verdict "ALLOW" (want FORWARDED, DROPPED or UNKNOWN)`},
		{FormatGeneric, `{"time":"2024-03-01T10:00:00Z","src_ip":"10.0.0.1","dst_ip":"10.0.0.2","protocol":"TCP","bytes":1.5}`, `f:1: field "bytes": not an integer`},
		{FormatGeneric, `{"time":1709287200,"src_ip":"10.0.0.1"}`, `f:1: field "time": expected a string`},
		{FormatVPC, "2 1 eni-a 10.0.0.1 10.0.0.2 40000 80 6 1 60 1709287200 ACCEPT OK", `f:1: expected 14 space-separated fields, got 13 (the default version 2 format; a custom format needs its header line)`},
		{FormatVPC, "2 1 eni-a 10.0.0.1 10.0.0.2 40000 99999 6 1 60 1709287200 1709287260 ACCEPT OK", `f:1: field "dstport": invalid port "99999"`},
		{FormatVPC, "2 1 eni-a 10.0.0.1 10.0.0.2 40000 80 6 1 60 1709287200 1709287260 ALLOW OK", `f:1: field "action": invalid action (want ACCEPT or REJECT) "ALLOW"`},
		{FormatVPC, "2 1 eni-a 10.0.0.1 10.0.0.2 40000 80 6 1 60 1709287200 1709287260 ACCEPT WEIRD", `f:1: field "log-status": invalid log status "WEIRD"`},
		{FormatVPC, "version account-id interface-id dstaddr srcaddr protocol", `f:1: header line lacks the srcport column`},
		{FormatConntrack, "    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2", `f:1: field "timestamp": missing: record conntrack events with -o timestamp,extended`},
		{FormatConntrack, "[1709287200.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.x dst=10.0.0.2 sport=1 dport=2", `f:1: field "src": invalid IP address "10.0.0.x"`},
		{FormatConntrack, "[1709287200.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1", `f:1: field "dport": missing`},
		{FormatConntrack, "[1709287200.000000]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [start=Tue", `f:1: unterminated [ in "[start=Tue"`},
		{FormatConntrack, "[1709287200.000000]\t    [NEW] ipv4     2 src=10.0.0.1 dst=10.0.0.2", `f:1: field "protocol": missing layer 4 protocol name and number`},
		{FormatConntrack, "[1709287200.000000]\t  [DELETE] ipv4     2 tcp 6 src=10.0.0.1", `f:1: field "event": expected [NEW], [UPDATE] or [DESTROY]`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			d := NewDecoder(Options{Format: tc.format})
			if err := d.Decode(strings.NewReader(tc.in), "f", func(*event.Flow) error { return nil }); err != nil {
				t.Fatalf("non-strict decode failed: %v", err)
			}
			st := d.Stats()
			checkInvariant(t, st)
			if st.Rejected != 1 || len(st.Errors) != 1 {
				t.Fatalf("got %s, errors %v", statsLine(st), st.Errors)
			}
			if got := st.Errors[0].Error(); got != tc.want {
				t.Errorf("error text\n got: %s\nwant: %s", got, tc.want)
			}
			var re *RecordError
			if !errors.As(st.Errors[0], &re) || !errors.Is(re, ErrMalformed) || re.File != "f" || re.Line < 1 {
				t.Errorf("not a *RecordError wrapping ErrMalformed: %#v", st.Errors[0])
			}

			err := NewDecoder(Options{Format: tc.format, Strict: true}).Decode(strings.NewReader(tc.in), "f", func(*event.Flow) error { return nil })
			if err == nil || err.Error() != tc.want {
				t.Errorf("strict: got %v", err)
			}
		})
	}
}

func TestErrorsCappedAndLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := NewDecoder(Options{Format: FormatGeneric, Logger: log})
	if err := d.Decode(strings.NewReader(strings.Repeat("{}\n", 30)), "f", func(*event.Flow) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.Rejected != 30 || len(st.Errors) != maxErrors {
		t.Errorf("got %s with %d errors kept", statsLine(st), len(st.Errors))
	}
	if n := strings.Count(logs.String(), "skipping bad flow record"); n != maxErrors {
		t.Errorf("%d warnings logged, want %d", n, maxErrors)
	}
	st.Errors[0] = nil
	if d.Stats().Errors[0] == nil {
		t.Error("Stats shares its Errors slice with the decoder")
	}
}

// TestDedupAcrossNodeFiles decodes the exports of two nodes that observed
// the same hour of traffic, one file after the other: the second node's
// observations fold into the first's although they are an hour "older"
// than where the first file ended.
func TestDedupAcrossNodeFiles(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, node := range []string{"n1", "n2"} {
		var b strings.Builder
		for m := 0; m < 60; m++ {
			fmt.Fprintf(&b, `{"flow":{"time":"2024-03-01T10:%02d:00.%03dZ","verdict":"FORWARDED","IP":{"source":"10.0.1.5","destination":"10.0.2.7"},"l4":{"TCP":{"source_port":%d,"destination_port":80,"flags":{"SYN":true}}},"node_name":%q}}`+"\n",
				m, len(node), 40000+m, node)
		}
		files = append(files, writeFile(t, dir, node+".json", b.String()))
	}
	d := NewDecoder(Options{})
	var got []string
	if err := d.DecodeFiles(files, collect(&got)); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.Delivered != 60 || st.Duplicates != 60 {
		t.Errorf("got %s, want 60 delivered and 60 duplicates", statsLine(st))
	}
}
