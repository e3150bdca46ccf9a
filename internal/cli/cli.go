// Package cli wires kubedelta's cobra commands. Run is the whole program as a
// function: tests call it with their own streams; only main exits.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Streams are the standard streams a command reads and writes.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries a process exit code without printing anything more,
// e.g. `rbac can-i` answering "no" exits 1.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode maps an error returned by Run to a process exit code: 0 for nil,
// the carried code for an ExitError, 2 for anything else.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 2
}

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = ""

// Run executes kubedelta with args (without the program name).
func Run(ctx context.Context, args []string, s Streams) error {
	root := NewRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee *ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(s.Err, "error: %v\n", err)
	}
	return err
}

// NewRootCommand builds the command tree.
func NewRootCommand(s Streams) *cobra.Command {
	var verbose bool
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
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	logger := func() *slog.Logger {
		level := slog.LevelWarn
		if verbose {
			level = slog.LevelDebug
		}
		return slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: level}))
	}
	root.AddCommand(newVersionCommand(s))
	_ = logger
	return root
}

func newVersionCommand(s Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kubedelta's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(s.Out, "kubedelta %s\n", version())
			return nil
		},
	}
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				if v == "" || v == "(devel)" {
					v = "devel"
				}
				v += "+" + kv.Value[:12]
			}
		}
		if v != "" {
			return v
		}
	}
	return "devel"
}
