// Package cli wires kubedelta's cobra commands. Run is the whole program as a
// function: tests call it with their own streams; only main exits.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/analyzecmd"
	"github.com/kubedelta/kubedelta/internal/cli/democmd"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/cli/netpolcmd"
	"github.com/kubedelta/kubedelta/internal/cli/rbaccmd"
	"github.com/kubedelta/kubedelta/internal/cli/servecmd"
	"github.com/kubedelta/kubedelta/internal/cli/simcmd"
)

// Streams are the standard streams; see iostreams.Streams.
type Streams = iostreams.Streams

// ExitCode maps an error returned by Run to a process exit code.
func ExitCode(err error) int { return iostreams.ExitCode(err) }

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = ""

// Run executes kubedelta with args (without the program name). Errors are
// printed to s.Err, except an ExitError, which only carries a code.
func Run(ctx context.Context, args []string, s Streams) error {
	verbose := false
	for _, a := range args {
		if a == "-v" || a == "--verbose" {
			verbose = true
		}
		if a == "--" {
			break
		}
	}
	if s.Logger == nil && s.Err != nil {
		level := slog.LevelWarn
		if verbose {
			level = slog.LevelDebug
		}
		s.Logger = slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level}))
	}
	s = s.WithDefaults()
	root := NewRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee *iostreams.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(s.Err, "error: %v\n", err)
	}
	return err
}

// NewRootCommand builds the command tree.
func NewRootCommand(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubedelta",
		Short: "Kubernetes security observability: what is granted, what is used, what is new",
		Long: `kubedelta turns Kubernetes audit logs, network flows and process events into
security answers: which RBAC permissions and NetworkPolicy reach are granted but
never used (and the least-privilege replacements), and early warnings for what
has never been seen before.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().BoolP("verbose", "v", false, "log progress and details to stderr")
	var cpuProfile string
	var stopProfile func()
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance reports)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	root.AddCommand(democmd.NewCommand(s), newVersionCommand(s), rbaccmd.NewCommand(s), netpolcmd.NewCommand(s),
		analyzecmd.NewCommand(s), simcmd.NewCommand(s), servecmd.NewCommand(s), servecmd.NewLoadgenCommand(s), newDocsCommand(s))
	return root
}
