package cluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// kubectlList writes n ServiceAccounts the way `kubectl get -o yaml` lays
// out a List; bad, when > 0, breaks the indentation of that item.
func kubectlList(n, bad int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nitems:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: ServiceAccount\n  metadata:\n    name: sa-%d\n", i)
		if i == bad {
			b.WriteString("     namespace: shop\n")
		} else {
			b.WriteString("    namespace: shop\n")
		}
		b.WriteString("  # a comment\n\n")
	}
	b.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	return b.String()
}

func TestSplitYAMLList(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		items int // 0: not split
	}{
		{"kubectl layout", kubectlList(20, 0), 20},
		{"too few items to pay", kubectlList(minSplitItems-1, 0), 0},
		{"indented sequence", strings.ReplaceAll(kubectlList(20, 0), "\n- ", "\n  - "), 0},
		{"flow sequence", "apiVersion: v1\nkind: List\nitems: [" + strings.Repeat("{kind: Pod},", 20) + "]\n", 0},
		{"two items keys", kubectlList(20, 0) + "items:\n- a\n", 0},
	}
	for _, tt := range tests {
		rest, items, ok := splitYAMLList([]byte(tt.doc))
		if ok != (tt.items > 0) || len(items) != tt.items {
			t.Errorf("%s: split = %v with %d items, want %d", tt.name, ok, len(items), tt.items)
			continue
		}
		if !ok {
			continue
		}
		if want := "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"; string(rest) != want {
			t.Errorf("%s: rest = %q, want %q", tt.name, rest, want)
		}
		if it := items[1]; it.line != 10 || !strings.HasPrefix(string(it.src), "- apiVersion: v1\n") || !strings.HasSuffix(string(it.src), "  # a comment\n\n") {
			t.Errorf("%s: item 2 at line %d = %q", tt.name, it.line, it.src)
		}
	}
}

// Item k of kubectlList starts at line 3+7(k-1) of the document; the file
// adds two lines before it. The split path and the general path agree, on good input and on bad: an
// item that does not convert sends the whole document down the general
// path, which reports the error, and nothing is loaded twice.
func TestYAMLListPaths(t *testing.T) {
	for _, tt := range []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"good", kubectlList(40, 0), ""},
		{"syntax error in item 30", kubectlList(40, 30), "big.yaml:212: document 1: syntax error: mapping values are not allowed in this context"},
		{"type error in item 30", strings.Replace(kubectlList(40, 0), "name: sa-30\n", "name: sa-30\n    labels: [a]\n", 1),
			`big.yaml:208: document 1 (item 30): ServiceAccount "shop/sa-30": field "metadata.labels": got array, want object`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "big.yaml")
			writeFile(t, path, []byte("# leading comment\n---\n"+tt.doc))
			var sums []string
			for _, l := range []*loader{
				{workers: 1, noSplit: true}, // the general path
				{workers: 1},
				{workers: 4},
			} {
				l.inv = &Inventory{}
				l.log = testLogger(t)
				l.readFile(path)
				got := ""
				if err := l.err(); err != nil {
					got = strings.TrimPrefix(err.Error(), filepath.Dir(path)+"/")
				}
				if got != tt.wantErr {
					t.Errorf("workers=%d, noSplit=%v: error %q, want %q", l.workers, l.noSplit, got, tt.wantErr)
				}
				sums = append(sums, summarize(l.inv))
			}
			if sums[0] != sums[1] || sums[0] != sums[2] {
				t.Errorf("general and split paths differ:\n%s\nvs\n%s\nvs\n%s", sums[0], sums[1], sums[2])
			}
		})
	}
}
