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
