package cluster

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

func node(name string) []byte {
	return []byte("apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name + "\n")
}

func TestLoadDirectoryWalk(t *testing.T) {
	root := filepath.Join(t.TempDir(), ".dump") // a hidden root is still read
	outside := t.TempDir()
	files := map[string][]byte{
		"b.yaml":        node("b"),
		"a.yml":         node("a"),
		"sub/c.json":    []byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"c"}}`),
		"sub/d.yaml.gz": gzipBytes(t, node("d")),
		"sub/z.YAML":    node("z"),
		".hidden.yaml":  node("hidden"),
		".git/e.yaml":   node("in-hidden-dir"),
		"notes.txt":     node("txt"),
		"README.md":     []byte("# not a manifest: {\n"),
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, data)
	}
	writeFile(t, filepath.Join(outside, "f.yaml"), node("f"))
	writeFile(t, filepath.Join(outside, "g.yaml"), node("g-in-linked-dir"))
	symlinks := runtime.GOOS != "windows"
	if symlinks {
		// A link to a file is read (ConfigMap volumes link every key);
		// a link to a directory is not walked.
		if err := os.Symlink(filepath.Join(outside, "f.yaml"), filepath.Join(root, "link.yaml")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
			t.Fatal(err)
		}
	}

	inv, err := Load([]string{root, filepath.Join(root, "notes.txt")}, LoadOptions{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range inv.Nodes {
		got = append(got, n.Name)
	}
	want := []string{"a", "b", "f", "c", "d", "z", "txt"}
	if !symlinks {
		want = slices.DeleteFunc(want, func(s string) bool { return s == "f" })
	}
	if !slices.Equal(got, want) {
		t.Errorf("nodes in read order = %v, want %v", got, want)
	}
}
