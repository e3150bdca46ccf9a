package netpolcmd_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cli"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

const exampleCluster = "../../../examples/cluster"

func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cli.Run(context.Background(), args, cli.Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), cli.ExitCode(err)
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The example's story (examples/README.md): data is default-deny with
// holes for shop → postgres and cart → redis; shop has no policy at all.
func TestCanConnect(t *testing.T) {
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--from", "shop/web-d7msxgw8j5-2rzqm", "--to", "data/redis-wlzhsz6pxl-pgd9l", "--port", "6379"}, "no", 1},
		// A named port resolves on the destination pod.
		{[]string{"--from", "shop/cart-vz5cdd847k-kmnfs", "--to", "data/redis-wlzhsz6pxl-pgd9l", "--port", "redis"}, "yes", 0},
		{[]string{"--from", "shop/payments-g8gv52l5n9-6rnz8", "--to", "data/postgres-0", "--port", "5432"}, "yes", 0},
		{[]string{"--from", "shop/payments-g8gv52l5n9-6rnz8", "--to", "data/postgres-0", "--port", "5432", "--protocol", "UDP"}, "no", 1},
		// shop has no policy: anything may reach it.
		{[]string{"--from", "203.0.113.9", "--to", "shop/web-d7msxgw8j5-2rzqm", "--port", "8080"}, "yes", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errs, code := run(t, "", append([]string{"netpol", "can-connect", "--cluster", exampleCluster}, tt.args...)...)
			if strings.TrimSpace(out) != tt.want || code != tt.code {
				t.Errorf("got %q exit %d (stderr %q), want %q exit %d", out, code, errs, tt.want, tt.code)
			}
		})
	}
}

func TestCanConnectBatch(t *testing.T) {
	in, err := os.ReadFile("testdata/batch.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, string(in), "netpol", "can-connect", "--cluster", exampleCluster, "--batch", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "testdata/batch.golden", out)
	want := []bool{false, true, true, false, true}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if got := strings.Contains(l, `"allowed":true,"egress"`); got != want[i] {
			t.Errorf("line %d: %s; want allowed=%v", i+1, l, want[i])
		}
		if !strings.Contains(l, `"egress":{`) || !strings.Contains(l, `"ingress":{`) {
			t.Errorf("line %d lacks the egress and ingress verdicts: %s", i+1, l)
		}
	}
}

func TestCanConnectBadInput(t *testing.T) {
	tests := []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"--from", "shop/nope", "--to", "data/postgres-0", "--port", "1"}, "shop/nope is not in the cluster objects"},
		{"", []string{"--from", "shop", "--to", "data/postgres-0", "--port", "1"}, "want NAMESPACE/POD or an IP address"},
		{"", []string{"--from", "10.0.0.1", "--to", "10.0.0.2", "--port", "70000"}, "out of range"},
		{"", []string{"--from", "10.0.0.1", "--to", "10.0.0.2", "--port", "80", "--protocol", "ICMP"}, "want TCP, UDP or SCTP"},
		{"{\"from\":\"10.0.0.1\",\"to\":\"10.0.0.2\",\"port\":80}\n{\"from\":\"10.0.0.1\",\"to\":\"10.0.0.2\",\"port\":true}\n", []string{"--batch", "-"}, "stdin:2: field \"port\""},
	}
	for _, tt := range tests {
		_, errs, code := run(t, tt.stdin, append([]string{"netpol", "can-connect", "--cluster", exampleCluster}, tt.args...)...)
		if code != 2 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, errs, tt.want)
		}
	}
}

func TestReachGolden(t *testing.T) {
	for _, format := range []string{"table", "json"} {
		out, errs, code := run(t, "", "netpol", "reach", "--cluster", exampleCluster, "-o", format)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		golden(t, "testdata/reach-example."+format+".golden", out)
		if format == "table" && !strings.Contains(out, "Namespaces with no NetworkPolicy (every connection allowed): kube-system, shop") {
			t.Errorf("unprotected namespaces must be called out first:\n%s", out)
		}
	}
}
