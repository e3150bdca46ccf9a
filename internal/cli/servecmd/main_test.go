package servecmd

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
)

// childEnv makes the test binary act as `kubedelta serve` (its arguments
// after the program name), for the process-level tests while the serve
// command is not yet wired into cmd/kubedelta.
const childEnv = "KUBEDELTA_SERVECMD_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		s := iostreams.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
		cmd := NewCommand(s.WithDefaults())
		cmd.SetArgs(os.Args[1:])
		cmd.SilenceUsage = true
		err := cmd.ExecuteContext(ctx)
		stop()
		os.Exit(iostreams.ExitCode(err))
	}
	os.Exit(m.Run())
}
