package servecmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/detect"
	"github.com/kubedelta/kubedelta/internal/server"
)

// TestBadConfigs loads every testdata/config/*.bad.yaml; its first line
// "# want: TEXT" names the error it must produce.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.bad.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("bad configs: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(b, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# want: ")
			if !ok {
				t.Fatal(`the first line must be "# want: <expected error text>"`)
			}
			cfg, err := LoadConfig(f)
			if err == nil {
				_, err = cfg.validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("%v is not ErrConfig", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
			if !strings.Contains(err.Error(), f) {
				t.Errorf("the error must name the file: %v", err)
			}
		})
	}
}

func TestGoodConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := cfg.validate()
	if err != nil {
		t.Fatal(err)
	}
	if r.walMax != 2<<30 || r.retention.Hours() != 14*24 || r.retain != server.RetainEvidence || r.learn.Hours() != 7*24 {
		t.Errorf("resolved %+v", r)
	}
	if len(r.sinks) != 3 || r.sinks[0].MinSeverity != detect.High || r.sinks[1].Name != "security-slack" || r.sinks[1].Timeout.Seconds() != 5 {
		t.Errorf("sinks %+v", r.sinks)
	}
	if cfg.Limits.MaxBodyBytes != 11<<20 {
		t.Errorf("maxBodyBytes %d", cfg.Limits.MaxBodyBytes)
	}
}

// TestFlagsOverrideConfig: a flag that is set wins over the file; one that
// is not set leaves the file's value.
func TestFlagsOverrideConfig(t *testing.T) {
	cmd, o := newCommand(iostreams.Streams{}.WithDefaults())
	err := cmd.ParseFlags([]string{"--config", "testdata/config/good.yaml", "--listen", "127.0.0.1:9999",
		"--sink", "stdout,min-severity=critical", "--wal-max-bytes", "64Mi"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" {
		t.Errorf("listen %q: the flag did not win", cfg.Listen)
	}
	if cfg.DataDir != "/var/lib/kubedelta" || cfg.TLS.CertFile == "" {
		t.Errorf("values of the file lost: %+v", cfg)
	}
	if len(cfg.Sinks) != 4 || cfg.Sinks[3].Type != "stdout" || cfg.Sinks[3].MinSeverity != "critical" {
		t.Errorf("--sink not added: %+v", cfg.Sinks)
	}
	if cfg.Storage.WALMaxBytes != 64<<20 {
		t.Errorf("walMaxBytes %d", cfg.Storage.WALMaxBytes)
	}
}

// TestInsecureRefusedOffLoopback runs the command as a user would and
// checks the exit code and the message.
func TestInsecureRefusedOffLoopback(t *testing.T) {
	var errOut bytes.Buffer
	s := iostreams.Streams{Err: &errOut}.WithDefaults()
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "10.1.2.3:8080", "[::]:8080"} {
		cmd := NewCommand(s)
		cmd.SetArgs([]string{"--data-dir", t.TempDir(), "--listen", listen, "--insecure"})
		cmd.SetErr(&errOut)
		cmd.SetOut(&errOut)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || iostreams.ExitCode(err) != 2 {
			t.Fatalf("%s: error %v (exit %d), want exit 2", listen, err, iostreams.ExitCode(err))
		}
		if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v does not say why", listen, err)
		}
	}
}

func TestParseSinkFlag(t *testing.T) {
	for in, want := range map[string]string{
		"stdout": "stdout||||",
		"alertmanager=http://am:9093,min-severity=high":            "alertmanager|http://am:9093||high|",
		"slack=https://h/x,category=rbac,category=secret,name=sec": "slack|https://h/x|sec||rbac+secret",
		"webhook=https://h/x?a=b,timeout=5s":                       "webhook|https://h/x?a=b|||",
		"=http://x":                                                "error",
		"webhook=https://h,color=red":                              "error",
		"webhook=https://h,min-severity":                           "error",
	} {
		c, err := parseSinkFlag(in)
		got := "error"
		if err == nil {
			got = strings.Join([]string{c.Type, c.URL, c.Name, c.MinSeverity, strings.Join(c.Categories, "+")}, "|")
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512Ki": 512 << 10, "1Gi": 1 << 30, "10MB": 10e6, "1.5Gi": 3 << 29, "x": -1, "-1": -1, "1Zi": -1} {
		got, err := ParseByteSize(in)
		if err != nil {
			got = -1
		}
		if got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
}
