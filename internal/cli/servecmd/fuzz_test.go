package servecmd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: any file either loads and validates or fails with
// ErrConfig, never panics.
func FuzzLoadConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/config/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(p)
		if err == nil {
			_, err = c.validate()
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Fatalf("error %v is not ErrConfig", err)
		}
	})
}

// FuzzParseSinkFlag: --sink values never panic; what parses has a type.
func FuzzParseSinkFlag(f *testing.F) {
	for _, s := range []string{"stdout", "alertmanager=http://am:9093,min-severity=high", "slack=https://h/x,category=rbac,name=a", ",=,", "x=y,z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseSinkFlag(s)
		if err == nil && c.Type == "" {
			t.Fatalf("%q parsed without a type", s)
		}
	})
}
