package cluster

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

var sentinels = []error{
	ErrSyntax, ErrNotObject, ErrNoKind, ErrNoAPIVersion, ErrNoName, ErrFieldType,
	ErrNestingDepth, ErrTruncatedGzip, ErrCorruptGzip, ErrRead,
}

// FuzzLoadReader checks that no input panics the loader, that every error
// is a located *DocumentError wrapping one of the package's sentinels, and
// that what was loaded is consistent (every namespaced object's namespace
// exists and carries its name label) and indexable.
func FuzzLoadReader(f *testing.F) {
	for _, dir := range []string{"testdata/load", "testdata/bad"} {
		files, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range files {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "---", "null", "[]", "[1]", "{}", `{"kind":"List","apiVersion":"v1","items":[null,{}]}`,
		"apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n  status: {podIP: 10.0.0.1}\n",
		"--- {a: 1}\n--- [\n", "\x1f\x8b", "\xef\xbb\xbf{", "a: &x [*x]\n",
		kubectlList(minSplitItems, 3), kubectlList(minSplitItems+1, 0),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := &Inventory{}
		err := LoadReader(bytes.NewReader(data), "fuzz.yaml", inv)
		if err != nil {
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				if strings.HasSuffix(e.Error(), "more errors not shown") {
					continue
				}
				var de *DocumentError
				if !errors.As(e, &de) || de.File != "fuzz.yaml" {
					t.Fatalf("error %q is not a *DocumentError for the input", e)
				}
				if !isSentinel(e) {
					t.Fatalf("error %q wraps none of the sentinels", e)
				}
			}
		}
		checkNamespaces(t, inv)

		// The split path for kubectl-style YAML Lists must load what the
		// general path loads.
		general := &loader{inv: &Inventory{}, log: testLogger(t), workers: 1, noSplit: true}
		general.read(bytes.NewReader(data), "fuzz.yaml")
		if got, want := summarize(inv), summarize(general.inv); got != want {
			t.Fatalf("split and general paths differ:\n%s\nvs\n%s", got, want)
		}
		x := NewIndex(inv)
		for i := range inv.Pods {
			p := &inv.Pods[i]
			x.WorkloadOf(p)
			if ip, err := netip.ParseAddr(p.Status.PodIP); err == nil {
				x.ResolveIP(ip, time.Time{})
				x.PodAt(ip, time.Unix(1700000000, 0))
			}
		}
		for i := range inv.Services {
			x.Backends(&inv.Services[i], time.Time{})
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func checkNamespaces(t *testing.T, inv *Inventory) {
	t.Helper()
	have := make(map[string]bool)
	for _, ns := range inv.Namespaces {
		if ns.Labels[corev1.LabelMetadataName] != ns.Name {
			t.Fatalf("namespace %q has label %q", ns.Name, ns.Labels[corev1.LabelMetadataName])
		}
		if have[ns.Name] {
			t.Fatalf("namespace %q twice", ns.Name)
		}
		have[ns.Name] = true
	}
	for _, p := range inv.Pods {
		if p.Namespace == "" || !have[p.Namespace] {
			t.Fatalf("pod %s/%s: namespace missing", p.Namespace, p.Name)
		}
	}
	for _, r := range inv.RoleBindings {
		if r.Namespace == "" || !have[r.Namespace] {
			t.Fatalf("rolebinding %s/%s: namespace missing", r.Namespace, r.Name)
		}
	}
	for _, c := range inv.ClusterRoles {
		if c.Namespace != "" {
			t.Fatalf("cluster role %s has namespace %q", c.Name, c.Namespace)
		}
	}
}
