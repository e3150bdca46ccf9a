package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// The quoting rules mirror what `kubectl get -o yaml` prints (go-yaml v2 via
// sigs.k8s.io/yaml): strings that would read as another type are
// double-quoted, strings that would break the syntax are single-quoted.
func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web", "web"},
		{"", `""`},
		{"true", `"true"`},
		{"True", `"True"`},
		{"yes", `"yes"`},
		{"y", `"y"`},
		{"null", `"null"`},
		{"~", `"~"`},
		{"0", `"0"`},
		{"23", `"23"`},
		{"0755", `"0755"`},
		{"1.5", `"1.5"`},
		{"1e3", `"1e3"`},
		{"2026-11-23T00:00:00Z", `"2026-11-23T00:00:00Z"`},
		{"2026-11-23", `"2026-11-23"`},
		{"*", `'*'`},
		{"*/scale", `'*/scale'`},
		{"-", `'-'`},
		{"- x", `'- x'`},
		{"--config.file=/etc/prometheus/prometheus.yml", "--config.file=/etc/prometheus/prometheus.yml"},
		{"a: b", `'a: b'`},
		{"trailing:", `'trailing:'`},
		{"x #y", `'x #y'`},
		{"it's", "it's"},
		{"'quoted'", `'''quoted'''`},
		{" lead", `' lead'`},
		{"line\nbreak", `"line\nbreak"`},
		{"25%", "25%"},
		{"0 2 * * *", "0 2 * * *"},
		{"10.96.0.10", "10.96.0.10"},
		{"system:coredns", "system:coredns"},
		{"rbac.authorization.k8s.io/aggregate-to-edit", "rbac.authorization.k8s.io/aggregate-to-edit"},
		{"kubernetes/$Format", "kubernetes/$Format"},
	} {
		if got := quote(tc.in); got != tc.want {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// roundTrip encodes o and reads it back with sigs.k8s.io/yaml, the reader
// kubedelta's cluster loader uses.
func roundTrip(t *testing.T, o obj) (got, want any) {
	t.Helper()
	var buf bytes.Buffer
	encodeYAML(&buf, o)
	j, err := yaml.YAMLToJSON(buf.Bytes())
	if err != nil {
		t.Fatalf("emitted YAML does not parse: %v\n%s", err, buf.String())
	}
	if err := json.Unmarshal(j, &got); err != nil {
		t.Fatal(err)
	}
	wj, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wj, &want); err != nil {
		t.Fatal(err)
	}
	return got, want
}

func TestEncodeYAMLRoundTrip(t *testing.T) {
	o := obj{
		"apiVersion": "v1", "kind": "List",
		"metadata": obj{"resourceVersion": "", "annotations": obj{"a/b": "true", "n": "0"}},
		"items": list{
			obj{"name": "x", "ports": list{obj{"containerPort": 8080, "name": "http"}, obj{}}, "empty": list{}, "none": nil,
				"nested": obj{"deep": obj{"deeper": list{"*", "", "-p", "a: b"}}}, "flag": false, "big": int64(2000001000)},
			"plain",
			obj{"only": obj{}},
		},
		"args": []string{"--x=1", "0 2 * * *"},
	}
	got, want := roundTrip(t, o)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the object:\n got %v\nwant %v", got, want)
	}
}

// kubectl's layout: sequences at their key's indentation, the first key of a
// mapping item after "- ".
func TestEncodeYAMLLayout(t *testing.T) {
	var buf bytes.Buffer
	encodeYAML(&buf, obj{"spec": obj{"containers": list{obj{"name": "web", "ports": list{obj{"containerPort": 8080, "name": "http"}}}}}})
	want := `spec:
  containers:
  - name: web
    ports:
    - containerPort: 8080
      name: http
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// Every string survives quote and a YAML reader unchanged.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"web", "", "true", "*", "- x", "a: b", "0755", "2026-11-23", "x\ty", "\x00", "<<", "=", "é", "\u2028", "'", "\"", "@x", "`x", "%x", "!x", "|", ">"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("YAML has no way to write invalid UTF-8")
		}
		doc := "k: " + quote(s) + "\n"
		var got map[string]any
		err := yaml.Unmarshal([]byte(doc), &got)
		if err != nil {
			t.Fatalf("quote(%q) = %s does not parse: %v", s, quote(s), err)
		}
		if v, ok := got["k"].(string); !ok || v != s {
			t.Fatalf("quote(%q) = %s reads back as %#v", s, strings.TrimSpace(doc), got["k"])
		}
	})
}
