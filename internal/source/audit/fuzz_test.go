package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/event"
)

// clone copies an APIRequest out of the decoder's reused memory.
func clone(r *event.APIRequest) event.APIRequest {
	c := *r
	c.RequestObject = bytes.Clone(r.RequestObject)
	c.ResponseObject = bytes.Clone(r.ResponseObject)
	return c
}

// fixtureLines returns the lines of the shared fixture, or skips the test
// with a clear message if it is missing.
func fixtureLines(tb testing.TB) [][]byte {
	tb.Helper()
	f, err := os.Open(fixturePath)
	if err != nil {
		tb.Fatalf("shared fixture missing: %v (CI checks out shared/ beside the repository; see /work/shared/fixtures/README.md)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// fuzzSeeds are edge cases for FuzzDecode, next to fixture lines.
var fuzzSeeds = []string{
	``,
	"\n\n  \n",
	`{}`,
	`[]`,
	`"x"`,
	`{"kind":"Event"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"a","stage":"Panic"}`,
	`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","stage":"ResponseComplete"},{"auditID":"b"},7]}`,
	"{\n \"kind\": \"EventList\",\n \"apiVersion\": \"audit.k8s.io/v1\",\n \"items\": [\n  {\"auditID\": \"x\", \"stage\": \"Panic\"}\n ]\n}\n",
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"\ud83d\ude00\ud800x\u00e9\\\/","stage":"Panic","requestURI":"/a%2Fb%zz?q=1","verb":"get"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","responseStatus":{"code":2147483648}}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","responseStatus":{"code":-0,"message":"` + strings.Repeat("é", 150) + `"}}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","stageTimestamp":"2026-02-29T00:00:00Z"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","stageTimestamp":"2024-02-29T23:59:59.123456789+02:00"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","user":{"groups":["a",null,"b"]},"user":null}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","requestObject":{"kind":"Secret","data":{"k":"dmFsdWU="}}}`,
	"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"a\",\"stage\":\"Panic\",\"x\":\n[1,\n2]}{\"kind\":\"Event\"} {}\n",
	"{\"a\":\n{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"a\",\"stage\":\"Panic\"}\n{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"b\",\"stage\":\"Panic\"}\n",
	"\xef\xbb\xbf{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"a\",\"stage\":\"Panic\"}",
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic","verb":"ge` + "\n",
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a\u0000\x01","stage":"Panic"}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"Panic"}truex 12{}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// FuzzDecode checks the scanner against the reference decoder: for any
// input both deliver the same events with the same fields, and reject the
// same records; once the reference meets a syntax error (it cannot resume),
// the scanner must have rejected something too and delivered at least the
// same events first. It also checks that kept bodies are valid JSON and that
// the statistics add up, and that DecodeEventList survives the same input.
func FuzzDecode(f *testing.F) {
	for i, l := range fixtureLines(f) {
		if i < 40 || bytes.Contains(l, []byte("impersonatedUser")) || bytes.Contains(l, []byte("responseObject")) {
			f.Add(l)
		}
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(Options{AllStages: true, KeepObjects: true, MaxRecordBytes: 1 << 20})
		var got []event.APIRequest
		err := d.Decode(bytes.NewReader(data), "fuzz", func(r *event.APIRequest) error {
			for _, body := range [][]byte{r.RequestObject, r.ResponseObject} {
				if body != nil && !json.Valid(body) {
					t.Fatalf("kept body is not valid JSON: %q", body)
				}
			}
			got = append(got, clone(r))
			return nil
		})
		st := d.Stats()
		if st.Records != st.Delivered+st.Duplicates+st.SkippedStages+st.Rejected {
			t.Fatalf("stats do not add up: %+v", st)
		}
		want := refDecode(data)
		if !want.broken {
			if err != nil {
				t.Fatalf("Decode error %v; the reference read the whole input", err)
			}
			if st.Rejected != int64(want.rejected) {
				t.Fatalf("rejected %d, reference %d (errors %v)", st.Rejected, want.rejected, st.Errors)
			}
			if len(got) != len(want.events) {
				t.Fatalf("delivered %d events, reference %d", len(got), len(want.events))
			}
		} else if st.Rejected == 0 || len(got) < len(want.events) {
			t.Fatalf("reference broke after %d events; decoder delivered %d and rejected %d", len(want.events), len(got), st.Rejected)
		}
		for i := range want.events {
			if diff := diffRequest(&got[i], &want.events[i]); diff != "" {
				t.Fatalf("event %d differs: %s", i, diff)
			}
		}

		d2 := NewDecoder(Options{KeepObjects: true})
		_ = d2.DecodeEventList(data, "body", func(*event.APIRequest) error { return nil })
		if st := d2.Stats(); st.Records != st.Delivered+st.Duplicates+st.SkippedStages+st.Rejected {
			t.Fatalf("DecodeEventList stats do not add up: %+v", st)
		}
	})
}
