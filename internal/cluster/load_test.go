package cluster

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files and generated fixtures under testdata/")

// summarize renders an inventory as sorted-by-kind, read-order lines, for
// golden files.
func summarize(inv *Inventory) string {
	var b strings.Builder
	line := func(m metav1.TypeMeta, o metav1.Object, extra string) {
		id := o.GetName()
		if ns := o.GetNamespace(); ns != "" {
			id = ns + "/" + id
		}
		fmt.Fprintf(&b, "%s %s %s%s\n", m.APIVersion, m.Kind, id, extra)
	}
	for i := range inv.Namespaces {
		o := &inv.Namespaces[i]
		keys := make([]string, 0, len(o.Labels))
		for k, v := range o.Labels {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		line(o.TypeMeta, o, " labels="+strings.Join(keys, ","))
	}
	for i := range inv.ServiceAccounts {
		line(inv.ServiceAccounts[i].TypeMeta, &inv.ServiceAccounts[i], "")
	}
	for i := range inv.Nodes {
		line(inv.Nodes[i].TypeMeta, &inv.Nodes[i], "")
	}
	for i := range inv.Pods {
		p := &inv.Pods[i]
		line(p.TypeMeta, p, fmt.Sprintf(" uid=%s ip=%s", p.UID, p.Status.PodIP))
	}
	for i := range inv.Services {
		line(inv.Services[i].TypeMeta, &inv.Services[i], " clusterIP="+inv.Services[i].Spec.ClusterIP)
	}
	for i := range inv.Roles {
		line(inv.Roles[i].TypeMeta, &inv.Roles[i], fmt.Sprintf(" rules=%d", len(inv.Roles[i].Rules)))
	}
	for i := range inv.ClusterRoles {
		line(inv.ClusterRoles[i].TypeMeta, &inv.ClusterRoles[i], fmt.Sprintf(" rules=%d", len(inv.ClusterRoles[i].Rules)))
	}
	for i := range inv.RoleBindings {
		line(inv.RoleBindings[i].TypeMeta, &inv.RoleBindings[i], "")
	}
	for i := range inv.ClusterRoleBindings {
		line(inv.ClusterRoleBindings[i].TypeMeta, &inv.ClusterRoleBindings[i], "")
	}
	for i := range inv.NetworkPolicies {
		line(inv.NetworkPolicies[i].TypeMeta, &inv.NetworkPolicies[i], "")
	}
	for i := range inv.Deployments {
		line(inv.Deployments[i].TypeMeta, &inv.Deployments[i], "")
	}
	for i := range inv.ReplicaSets {
		line(inv.ReplicaSets[i].TypeMeta, &inv.ReplicaSets[i], "")
	}
	for i := range inv.StatefulSets {
		line(inv.StatefulSets[i].TypeMeta, &inv.StatefulSets[i], "")
	}
	for i := range inv.DaemonSets {
		line(inv.DaemonSets[i].TypeMeta, &inv.DaemonSets[i], "")
	}
	for i := range inv.Jobs {
		line(inv.Jobs[i].TypeMeta, &inv.Jobs[i], "")
	}
	for i := range inv.CronJobs {
		line(inv.CronJobs[i].TypeMeta, &inv.CronJobs[i], "")
	}
	for _, k := range sortedKeys(inv.Skipped) {
		fmt.Fprintf(&b, "skipped %s %d\n", k, inv.Skipped[k])
	}
	for _, k := range sortedKeys(inv.Duplicates) {
		fmt.Fprintf(&b, "duplicates %s %d\n", k, inv.Duplicates[k])
	}
	for _, ns := range inv.ImplicitNamespaces {
		fmt.Fprintf(&b, "implicit namespace %s\n", ns)
	}
	return b.String()
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// regenerate rewrites the fixtures derived from dump.yaml: the same dump as
// `kubectl get -o json` output, gzipped, and a truncated gzip.
func regenerate(t *testing.T) {
	t.Helper()
	src, err := os.ReadFile("testdata/load/dump.yaml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, j, "", "    "); err != nil {
		t.Fatal(err)
	}
	gz := gzipBytes(t, indented.Bytes())
	writeFile(t, "testdata/load/dump.json.gz", gz)
	multi, err := os.ReadFile("testdata/load/multi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yamlGz := gzipBytes(t, multi)
	writeFile(t, "testdata/bad/truncated.yaml.gz", yamlGz[:len(yamlGz)*3/4])
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadGolden(t *testing.T) {
	if *update {
		regenerate(t)
	}
	for _, name := range []string{"dump.yaml", "dump.json.gz", "multi.yaml", "stream.json", "raw-podlist.json"} {
		t.Run(name, func(t *testing.T) {
			inv, err := Load([]string{filepath.Join("testdata/load", name)}, LoadOptions{Logger: testLogger(t)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := summarize(inv)
			golden := filepath.Join("testdata/golden", strings.TrimSuffix(name, filepath.Ext(name))+".golden")
			if strings.HasSuffix(name, ".gz") {
				golden = filepath.Join("testdata/golden", "dump.golden")
			}
			if *update && name != "dump.json.gz" {
				writeFile(t, golden, []byte(got))
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("inventory differs from %s (run with -update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadReaderShapes(t *testing.T) {
	ns := func(name string) string {
		return fmt.Sprintf("v1 Namespace %s labels=kubernetes.io/metadata.name=%s\n", name, name)
	}
	const saYAML = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  namespace: x\n"
	const saJSON = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"a","namespace":"x"}}`
	saWant := ns("x") + "v1 ServiceAccount x/a\nimplicit namespace x\n"
	long := strings.Repeat("z", 3*readBufferSize)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty input", nil, ""},
		{"blank lines and comments only", []byte("\n# nothing here\n---\n  # still nothing\n---\n"), ""},
		{"yaml null document", []byte("---\n~\n---\nnull\n"), ""},
		{"yaml", []byte(saYAML), saWant},
		{"yaml with CRLF and separators", []byte(strings.ReplaceAll("---\r\n"+saYAML+"--- \r\n", "\n", "\r\n")), saWant},
		{"yaml with BOM", append([]byte("\xef\xbb\xbf"), saYAML...), saWant},
		{"yaml document end marker", []byte(saYAML + "...\n"), saWant},
		{"separator with content", []byte("--- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a, namespace: x}}\n"), saWant},
		{"dashes inside a block scalar are content", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  banner: |\n    ---\n    ----\n"), "skipped v1/ConfigMap 1\n"},
		{"json", []byte(saJSON), saWant},
		{"json with BOM and leading blanks", append([]byte("\xef\xbb\xbf\n\n  "), saJSON...), saWant},
		{"json array", []byte("[" + saJSON + "]"), saWant},
		{"json lines", []byte(saJSON + "\n" + strings.Replace(saJSON, `"a"`, `"b"`, 1) + "\n"), ns("x") + "v1 ServiceAccount x/a\nv1 ServiceAccount x/b\nimplicit namespace x\n"},
		{"concatenated json", []byte(saJSON + strings.Replace(saJSON, `"a"`, `"b"`, 1)), ns("x") + "v1 ServiceAccount x/a\nv1 ServiceAccount x/b\nimplicit namespace x\n"},
		{"gzip yaml", gzipBytes(t, []byte(saYAML)), saWant},
		{"gzip json", gzipBytes(t, []byte(saJSON)), saWant},
		{"multi-member gzip", append(gzipBytes(t, []byte(saYAML+"---\n")), gzipBytes(t, []byte(strings.Replace(saYAML, "name: a", "name: b", 1)))...),
			ns("x") + "v1 ServiceAccount x/a\nv1 ServiceAccount x/b\nimplicit namespace x\n"},
		{"empty List", []byte("apiVersion: v1\nkind: List\nitems: []\nmetadata: {resourceVersion: \"\"}\n"), ""},
		{"List with null items", []byte("apiVersion: v1\nkind: List\nitems:\n"), ""},
		{"typed List of an unkept kind", []byte("apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a, namespace: x}\n- metadata: {name: b, namespace: x}\n"), "skipped v1/ConfigMap 2\n"},
		{"typed List items inherit kind and apiVersion", []byte("apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: web, namespace: x}\n"),
			ns("x") + "apps/v1 Deployment x/web\nimplicit namespace x\n"},
		{"kept kind at an old apiVersion is skipped", []byte("apiVersion: rbac.authorization.k8s.io/v1beta1\nkind: ClusterRole\nmetadata: {name: old}\n"), "skipped rbac.authorization.k8s.io/v1beta1/ClusterRole 1\n"},
		{"cluster-scoped object loses its namespace", []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cr, namespace: x}\n"), "rbac.authorization.k8s.io/v1 ClusterRole cr rules=0\n"},
		{"namespaced object without namespace goes to default", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"), ns("default") + "v1 Service default/s clusterIP=\nimplicit namespace default\n"},
		{"namespace label is forced to the name", []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {kubernetes.io/metadata.name: other}}\n"), ns("x")},
		{"unknown fields are ignored", []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: x, futureField: 1}\nfutureTopLevel: {a: [1, 2]}\n"), saWant},
		{"same pod name, different UIDs are two pods", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x, uid: u1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x, uid: u2}\n"),
			ns("x") + "v1 Pod x/p uid=u1 ip=\nv1 Pod x/p uid=u2 ip=\nimplicit namespace x\n"},
		{"same pod twice is a duplicate, the last wins", []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x, uid: u1}\nstatus: {podIP: 10.0.0.1}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x, uid: u1}\nstatus: {podIP: 10.0.0.2}\n"),
			ns("x") + "v1 Pod x/p uid=u1 ip=10.0.0.2\nduplicates Pod 1\nimplicit namespace x\n"},
		{"line longer than the read buffer", []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  namespace: x\n  annotations:\n    big: " + long + "\n"), saWant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Inventory{}
			if err := LoadReader(bytes.NewReader(tt.in), "in", inv); err != nil {
				t.Fatalf("LoadReader: %v", err)
			}
			if got := summarize(inv); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// A dump given twice (once as YAML, once as gzipped JSON) loads each object
// once and counts the second copies as duplicates.
func TestLoadDumpTwice(t *testing.T) {
	once, err := Load([]string{"testdata/load/dump.yaml"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Load([]string{"testdata/load/dump.yaml", "testdata/load/dump.json.gz"}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summarize(&Inventory{
		Namespaces: twice.Namespaces, ServiceAccounts: twice.ServiceAccounts, Nodes: twice.Nodes,
		Pods: twice.Pods, Services: twice.Services, Roles: twice.Roles, ClusterRoles: twice.ClusterRoles,
		RoleBindings: twice.RoleBindings, ClusterRoleBindings: twice.ClusterRoleBindings,
		NetworkPolicies: twice.NetworkPolicies, Deployments: twice.Deployments, ReplicaSets: twice.ReplicaSets,
		StatefulSets: twice.StatefulSets, DaemonSets: twice.DaemonSets, Jobs: twice.Jobs, CronJobs: twice.CronJobs,
		ImplicitNamespaces: twice.ImplicitNamespaces,
	}), summarize(&Inventory{
		Namespaces: once.Namespaces, ServiceAccounts: once.ServiceAccounts, Nodes: once.Nodes,
		Pods: once.Pods, Services: once.Services, Roles: once.Roles, ClusterRoles: once.ClusterRoles,
		RoleBindings: once.RoleBindings, ClusterRoleBindings: once.ClusterRoleBindings,
		NetworkPolicies: once.NetworkPolicies, Deployments: once.Deployments, ReplicaSets: once.ReplicaSets,
		StatefulSets: once.StatefulSets, DaemonSets: once.DaemonSets, Jobs: once.Jobs, CronJobs: once.CronJobs,
		ImplicitNamespaces: once.ImplicitNamespaces,
	}); got != want {
		t.Errorf("objects differ when the dump is loaded twice:\n%s\nvs once:\n%s", got, want)
	}
	// Every object read the second time is a duplicate; the implicit
	// namespace is not an object of the input.
	dups := 0
	for _, n := range twice.Duplicates {
		dups += n
	}
	if want := once.count() - len(once.ImplicitNamespaces); dups != want {
		t.Errorf("%d duplicates, want %d (%v)", dups, want, twice.Duplicates)
	}
	if twice.Skipped["v1/ConfigMap"] != 4 {
		t.Errorf("skipped ConfigMaps = %d, want 4 (skips are counted per document read)", twice.Skipped["v1/ConfigMap"])
	}
}

// A caller may append to the inventory between LoadReader calls; the
// duplicate index notices.
func TestLoadReaderAfterDirectAppend(t *testing.T) {
	inv := &Inventory{}
	if err := LoadReader(strings.NewReader("apiVersion: v1\nkind: Node\nmetadata: {name: a}\n"), "1", inv); err != nil {
		t.Fatal(err)
	}
	inv.Nodes = append(inv.Nodes, inv.Nodes[0])
	inv.Nodes[1].Name = "b"
	if err := LoadReader(strings.NewReader("apiVersion: v1\nkind: Node\nmetadata: {name: b, labels: {new: x}}\n"), "2", inv); err != nil {
		t.Fatal(err)
	}
	if len(inv.Nodes) != 2 || inv.Nodes[1].Labels["new"] != "x" || inv.Duplicates["Node"] != 1 {
		t.Errorf("nodes %v, duplicates %v; want b replaced", inv.Nodes, inv.Duplicates)
	}
}

// Mirrors k8s.io/apimachinery/pkg/util/yaml decoder_test.go
// TestYAMLReader*: "---" alone (or with a comment) separates documents;
// "----" and "---x" are content. Unlike the upstream reader, "--- content"
// also starts a document (YAML 1.2 allows content after the marker).
func TestSeparator(t *testing.T) {
	tests := []struct {
		line     string
		sep      bool
		carryOut string
	}{
		{"---\n", true, ""},
		{"---", true, ""},
		{"---   \r\n", true, ""},
		{"--- # comment\n", true, ""},
		{"...\n", true, ""},
		{"--- {a: 1}\n", true, "{a: 1}\n"},
		{"----\n", false, ""},
		{"---x\n", false, ""},
		{" ---\n", false, ""},
		{"a: ---\n", false, ""},
		{"....\n", false, ""},
	}
	for _, tt := range tests {
		sep, rest := separator([]byte(tt.line))
		if sep != tt.sep || string(rest) != tt.carryOut {
			t.Errorf("separator(%q) = %v, %q; want %v, %q", tt.line, sep, rest, tt.sep, tt.carryOut)
		}
	}
}

// Decoding a large List in parallel gives the same inventory and the same
// errors, in the same order, as decoding it sequentially.
func TestLoadParallelMatchesSequential(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 3*parallelItems + 7 {
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c%d, namespace: ns%d}}\n", i, i%3)
		case 1:
			fmt.Fprintf(&b, "- {apiVersion: v1, kind: Pod, metadata: {name: p%d, namespace: ns%d, uid: u%d}, status: {podIP: 10.0.0.%d}}\n", i, i%5, i%20, i%250)
		case 2:
			fmt.Fprintf(&b, "- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cr%d}, rules: %q}\n", i, "bad")
		case 3:
			fmt.Fprintf(&b, "- {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Namespace, metadata: {name: ns%d}}]}\n", i%4)
		case 4:
			fmt.Fprintf(&b, "- {kind: Service, metadata: {name: s%d}}\n", i)
		default:
			fmt.Fprintf(&b, "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: sa%d, namespace: ns%d}}\n", i%30, i%6)
		}
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	writeFile(t, path, []byte(b.String()))

	seqInv, seqErr := Load([]string{path}, LoadOptions{Workers: 1})
	parInv, parErr := Load([]string{path}, LoadOptions{Workers: 4})
	if seqErr == nil || parErr == nil || seqErr.Error() != parErr.Error() {
		t.Errorf("errors differ:\nsequential: %v\nparallel:   %v", seqErr, parErr)
	}
	if s, p := summarize(seqInv), summarize(parInv); s != p {
		t.Errorf("inventories differ:\nsequential:\n%s\nparallel:\n%s", s, p)
	}
	if len(parInv.Pods) == 0 || len(parInv.Duplicates) == 0 || len(parInv.Skipped) == 0 {
		t.Errorf("fixture does not exercise pods, duplicates and skips: %s", summarize(parInv))
	}
}
