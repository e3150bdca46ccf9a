package netpolcmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
)

// Placeholder until the unused analysis lands.
func newUnusedCommand(iostreams.Streams) *cobra.Command {
	return &cobra.Command{Use: "unused", Short: "Allowed reach nothing uses (in progress)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("not implemented yet") }}
}
