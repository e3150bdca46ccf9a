package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadBadFiles(t *testing.T) {
	tests := []struct {
		file string
		// want is the complete error message: it names file, line,
		// document (and item) and the field.
		want     string
		sentinel error
		// kept is how many objects (implicit namespaces included) the
		// load kept from the documents that were fine.
		kept int
	}{
		{"malformed.yaml", "testdata/bad/malformed.yaml:11: document 2: syntax error: mapping values are not allowed in this context", ErrSyntax, 2},
		{"no-kind.yaml", `testdata/bad/no-kind.yaml:7: document 2: object "shop/mystery": object without kind`, ErrNoKind, 1},
		{"no-apiversion.yaml", `testdata/bad/no-apiversion.yaml:12: document 3: Pod "shop/web": object without apiVersion`, ErrNoAPIVersion, 2},
		{"wrong-type.yaml", `testdata/bad/wrong-type.yaml:12: document 1 (item 2): ClusterRole "foo": field "rules": got string, want array`, ErrFieldType, 2},
		{"wrong-type.json", `testdata/bad/wrong-type.json:5: document 1 (item 1): Pod "shop/web": field "spec.containers.ports.containerPort": got string, want integer`, ErrFieldType, 0},
		{"syntax.json", `testdata/bad/syntax.json:3: document 2: syntax error: invalid character '}' looking for beginning of object key string`, ErrSyntax, 1},
		{"not-object.yaml", "testdata/bad/not-object.yaml:1: document 1: not an object: got a string", ErrNotObject, 0},
		{"no-name.yaml", "testdata/bad/no-name.yaml:1: document 1: Role: object without metadata.name", ErrNoName, 0},
		{"bad-time.yaml", `testdata/bad/bad-time.yaml:1: document 1: Pod "shop/web": invalid field value: parsing time "yesterday"`, ErrFieldType, 0},
		// The first documents of a truncated stream are kept; the line
		// is where the readable data ends.
		{"truncated.yaml.gz", "testdata/bad/truncated.yaml.gz:46: truncated gzip", ErrTruncatedGzip, 5},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			inv, err := Load([]string{filepath.Join("testdata/bad", tt.file)}, LoadOptions{Logger: testLogger(t)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(err, %v) = false", tt.sentinel)
			}
			var de *DocumentError
			if !errors.As(err, &de) || de.File != filepath.Join("testdata/bad", tt.file) {
				t.Errorf("errors.As(*DocumentError) = %v, file %q", de, de.File)
			}
			if got := inv.count(); got != tt.kept {
				t.Errorf("kept %d objects, want %d", got, tt.kept)
			}
		})
	}
}

func TestLoadReaderErrors(t *testing.T) {
	gz := gzipBytes(t, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"))
	corrupt := bytes.Clone(gz)
	corrupt[len(corrupt)-5] ^= 0xff // damage the CRC-32 in the trailer
	deep := strings.Repeat(`{"apiVersion":"v1","kind":"List","items":[`, maxListDepth+1) +
		strings.Repeat(`]}`, maxListDepth+1)
	tests := []struct {
		name     string
		in       []byte
		want     string
		sentinel error
	}{
		{"gzip header cut", gz[:5], "in.gz: truncated gzip", ErrTruncatedGzip},
		{"gzip trailer cut", gz[:len(gz)-3], "in.gz:4: truncated gzip", ErrTruncatedGzip},
		{"gzip bad checksum", corrupt, "in.gz:4: corrupt gzip: gzip: invalid checksum", ErrCorruptGzip},
		{"json cut", []byte(`{"apiVersion": "v1", "kind": "Namespace",` + "\n" + `"metadata": {`), "in.gz:2: document 1: syntax error: unexpected end of input", ErrSyntax},
		{"json lines bad second", []byte("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a\"}}\n{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"b\"}}\n"),
			`in.gz:2: document 2: Namespace "b": object without apiVersion`, ErrNoAPIVersion},
		{"number document", []byte("42\n"), "in.gz:1: document 1: not an object: got a number", ErrNotObject},
		{"kind not a string", []byte("apiVersion: v1\nkind: [Pod]\n"), `in.gz:1: document 1: field "kind": got array, want string`, ErrFieldType},
		{"metadata not an object", []byte("apiVersion: v1\nkind: Pod\nmetadata: web\n"), `in.gz:1: document 1: field "metadata": got string, want object`, ErrFieldType},
		{"items not an array", []byte("apiVersion: v1\nkind: List\nitems: {a: 1}\n"), `in.gz:1: document 1: List: field "items": got object, want array`, ErrFieldType},
		{"arrays too deep", []byte(strings.Repeat("[", maxListDepth+1) + "{}" + strings.Repeat("]", maxListDepth+1)), "in.gz:1: document 1 (item 1.1.1.1.1.1.1.1): lists nested too deeply", ErrNestingDepth},
		{"lists too deep", []byte(deep), "in.gz:1: document 1 (item 1.1.1.1.1.1.1.1): List: lists nested too deeply", ErrNestingDepth},
		{"tabs in yaml", []byte("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: a\n"), "in.gz:4: document 1: syntax error: found character that cannot start any token", ErrSyntax},
		{"typed list item kind mismatch", []byte("apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a, namespace: x}\n  spec: {containers: 3}\n"),
			`in.gz:4: document 1 (item 1): Pod "x/a": field "spec.containers": got number, want array`, ErrFieldType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := LoadReader(bytes.NewReader(tt.in), "in.gz", &Inventory{})
			if err == nil {
				t.Fatal("LoadReader succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(err, %v) = false for %v", tt.sentinel, err)
			}
		})
	}
}

// One bad document does not hide the next: every error is reported, up to
// maxErrors, then counted.
func TestLoadErrorLimit(t *testing.T) {
	var in strings.Builder
	const bad = maxErrors + 5
	for i := range bad {
		fmt.Fprintf(&in, "---\napiVersion: v1\nmetadata: {name: n%d}\n", i)
	}
	in.WriteString("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: good}\n")
	inv := &Inventory{}
	err := LoadReader(strings.NewReader(in.String()), "many.yaml", inv)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 {
		t.Fatalf("%d error lines, want %d:\n%s", len(lines), maxErrors+1, err)
	}
	if want := "many.yaml:2: document 1: object \"n0\": object without kind"; lines[0] != want {
		t.Errorf("first error %q, want %q", lines[0], want)
	}
	if want := "many.yaml:59: document 20: object \"n19\": object without kind"; lines[maxErrors-1] != want {
		t.Errorf("last shown error %q, want %q", lines[maxErrors-1], want)
	}
	if want := "5 more errors not shown"; lines[maxErrors] != want {
		t.Errorf("summary %q, want %q", lines[maxErrors], want)
	}
	if len(inv.Namespaces) != 1 || inv.Namespaces[0].Name != "good" {
		t.Errorf("the good document after the bad ones was not kept: %v", inv.Namespaces)
	}
}

func TestLoadMissingPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load([]string{missing}, LoadOptions{})
	if !errors.Is(err, ErrRead) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrRead wrapping os.ErrNotExist", err)
	}
	if want := missing + ": read error: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Load(missing) = %v, want %q", err, want)
	}
}

func TestYAMLErrorLine(t *testing.T) {
	tests := []struct {
		in       string
		wantLine int
		wantMsg  string
	}{
		{"error converting YAML to JSON: yaml: line 3: mapping values are not allowed in this context", 3, "mapping values are not allowed in this context"},
		{"yaml: line 12: did not find expected key", 12, "did not find expected key"},
		{"yaml: control characters are not allowed", 0, "control characters are not allowed"},
		{"yaml: line x: odd", 0, "line x: odd"},
		{"yaml: line 99999999999999999999: huge", 0, "line 99999999999999999999: huge"},
	}
	for _, tt := range tests {
		line, msg := yamlErrorLine(errors.New(tt.in))
		if line != tt.wantLine || msg != tt.wantMsg {
			t.Errorf("yamlErrorLine(%q) = %d, %q; want %d, %q", tt.in, line, msg, tt.wantLine, tt.wantMsg)
		}
	}
}
