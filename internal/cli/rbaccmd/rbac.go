// Package rbaccmd implements `kubedelta rbac`: can-i, who-can, unused and
// suggest over cluster dumps and audit logs.
package rbaccmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/kubedelta/kubedelta/internal/baseline"
	"github.com/kubedelta/kubedelta/internal/cli/input"
	"github.com/kubedelta/kubedelta/internal/cli/iostreams"
	"github.com/kubedelta/kubedelta/internal/event"
	"github.com/kubedelta/kubedelta/internal/rbac"
)

// NewCommand returns the `rbac` command group.
func NewCommand(s iostreams.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "What RBAC grants, what identities use, and least-privilege Roles in between",
		Long: `Evaluate Kubernetes RBAC exactly as the API server's authorizer does, over a dump
of the cluster's objects (kubectl get -A -o yaml), and compare it with the
requests the audit log shows.`,
	}
	cmd.AddCommand(newCanICommand(s), newWhoCanCommand(s), newUnusedCommand(s), newSuggestCommand(s))
	return cmd
}

// authorizerFrom loads the cluster and compiles its RBAC objects.
func authorizerFrom(c *input.Cluster, s iostreams.Streams) (*rbac.Authorizer, error) {
	inv, err := c.Load(s)
	if err != nil {
		return nil, err
	}
	a := rbac.NewAuthorizer(rbac.Objects{
		Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
		RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings,
	})
	for _, p := range a.Problems() {
		s.Logger.Warn("rbac", "problem", p)
	}
	return a, nil
}

// usageFrom reads the audit logs into a usage baseline.
func usageFrom(a *input.Audit, s iostreams.Streams) (*baseline.APIUsage, input.Summary, error) {
	u := baseline.NewAPIUsage()
	sum, err := a.Read(s, time.Now(), func(r *event.APIRequest) error {
		u.Add(r)
		return nil
	})
	return u, sum, err
}
