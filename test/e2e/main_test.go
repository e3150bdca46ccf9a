package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// shared is the environment every test uses; nil when the tests are
// skipped. TestMain sets it once, before any test runs.
var shared *env

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("KUBEDELTA_E2E") != "1" {
		fmt.Fprintln(os.Stderr, errSkip)
		return m.Run() // every test skips
	}
	c, err := configFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubedelta-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e := &env{dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	err = e.start(ctx, c)
	defer func() {
		e.stop()
		for _, t := range e.timings {
			fmt.Fprintln(os.Stderr, "e2e timing:", t)
		}
		if c.keep {
			fmt.Fprintln(os.Stderr, "e2e: work dir kept:", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the environment:", err)
		c.keep = true
		return 1
	}
	e.timings = append(e.timings, fmt.Sprintf("environment up: %s", time.Since(start).Round(time.Millisecond)))
	shared = e
	code := m.Run()
	if code != 0 {
		c.keep = true
	}
	return code
}

// need returns the shared environment or skips the test.
func need(t *testing.T) *env {
	t.Helper()
	if shared == nil {
		t.Skip(errSkip)
	}
	return shared
}
