package rbaccmd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cli"
)

func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cli.Run(context.Background(), args, cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), cli.ExitCode(err)
}

func TestCanI(t *testing.T) {
	const c = "testdata/cluster.yaml"
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"get", "pods", "-n", "shop", "--as", "alice", "--as-group", "devs"}, "yes", 0},
		{[]string{"get", "pods/log", "web-1", "-n", "shop", "--as", "alice", "--as-group", "devs"}, "yes", 0},
		{[]string{"get", "pods", "-n", "data", "--as", "alice", "--as-group", "devs"}, "no", 1},
		{[]string{"delete", "pods", "-n", "shop", "--as", "alice", "--as-group", "devs"}, "no", 1},
		// deployments resolves to the apps group, as kubectl would.
		{[]string{"patch", "deployments/scale", "web", "-n", "shop", "--as", "system:serviceaccount:ci:deployer"}, "yes", 0},
		{[]string{"patch", "deploy.apps", "-n", "shop", "--as", "system:serviceaccount:ci:deployer"}, "yes", 0},
		{[]string{"patch", "deployments", "-n", "other", "--as", "system:serviceaccount:ci:deployer"}, "no", 1},
		// The implied group system:serviceaccounts:monitoring is added.
		{[]string{"get", "/metrics", "--as", "system:serviceaccount:monitoring:prom"}, "yes", 0},
		{[]string{"get", "/metrics", "--as", "bob"}, "no", 1},
		{[]string{"delete", "nodes", "--as", "root", "--as-group", "system:masters"}, "yes", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"rbac", "can-i", "--cluster", c}, tt.args...)
			out, errs, code := run(t, "", args...)
			if strings.TrimSpace(out) != tt.want || code != tt.code {
				t.Errorf("got %q exit %d (stderr %q), want %q exit %d", out, code, errs, tt.want, tt.code)
			}
		})
	}
}

func TestCanIBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"rbac", "can-i", "get", "pods", "--cluster", "testdata/cluster.yaml"},              // no --as
		{"rbac", "can-i", "get", "--as", "a", "--cluster", "testdata/cluster.yaml"},         // no resource
		{"rbac", "can-i", "get", "pods", "--as", "a"},                                       // no --cluster
		{"rbac", "can-i", "get", "pods", "--as", "a", "--cluster", "testdata/missing.yaml"}, // unreadable
	} {
		if _, errs, code := run(t, "", args...); code != 2 || !strings.Contains(errs, "error:") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with an error", args, code, errs)
		}
	}
}

func TestCanIBatch(t *testing.T) {
	in, err := os.ReadFile("testdata/batch.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, string(in), "rbac", "can-i", "--cluster", "testdata/cluster.yaml", "--batch", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, filepath.Join("testdata", "batch.golden"), out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []bool{true, false, true, true, false}
	if len(lines) != len(want) {
		t.Fatalf("%d output lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if got := strings.Contains(l, `"allowed":true`); got != want[i] {
			t.Errorf("line %d: %s; want allowed=%v", i+1, l, want[i])
		}
	}
	if !strings.Contains(lines[0], `"binding":{"kind":"RoleBinding","namespace":"shop","name":"devs-read"}`) {
		t.Errorf("an allowed answer names its binding: %s", lines[0])
	}
}

func TestCanIBatchBadLine(t *testing.T) {
	_, errs, code := run(t, "{\"user\":\"a\",\"verb\":\"get\",\"resource\":\"pods\"}\n{\"user\":\"a\",\"verbs\":\"get\"}\n",
		"rbac", "can-i", "--cluster", "testdata/cluster.yaml", "--batch", "-")
	if code != 2 || !strings.Contains(errs, "stdin:2") || !strings.Contains(errs, "verbs") {
		t.Errorf("exit %d, stderr %q: want exit 2 naming stdin:2 and the unknown field", code, errs)
	}
}

func TestWhoCan(t *testing.T) {
	out, errs, code := run(t, "", "rbac", "who-can", "get", "pods", "-n", "shop", "--cluster", "testdata/cluster.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, filepath.Join("testdata", "whocan.golden"), out)
	for _, want := range []string{"Group", "devs", "RoleBinding/shop/devs-read", "ClusterRole/pod-reader", "system:masters"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "deployer") {
		t.Errorf("the deployer cannot get pods:\n%s", out)
	}
}
