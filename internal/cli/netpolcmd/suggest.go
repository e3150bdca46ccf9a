package netpolcmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
)

// Placeholder until the policy generator lands.
func newSuggestCommand(iostreams.Streams) *cobra.Command {
	return &cobra.Command{Use: "suggest", Short: "Least-privilege NetworkPolicies (in progress)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return errors.New("not implemented yet") }}
}
