package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/kubedelta/kubedelta/internal/rbac"
)

// Every request of the audit log gets the decision the cluster's RBAC
// objects give it: the simulated activity and the dump's RBAC agree, so
// that RBAC analysis of the simulated data finds real over-grants, not
// simulator mistakes. Kubelets are authorized by the Node authorizer, not
// RBAC, and are left out.
func TestAuditDecisionsMatchRBAC(t *testing.T) {
	// A working day, for the people's sessions.
	o := simulate(t, Config{Seed: 19, Namespaces: 3, Days: 0.5, Start: DefaultStart.Add(7 * time.Hour), Attacks: []string{"all"}}, ExecFalco)
	inv := o.inventory(t)
	a := rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles, RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
	if p := a.Problems(); len(p) > 0 {
		t.Errorf("RBAC problems in the dump: %v", p)
	}
	checked, denied := 0, 0
	for _, r := range o.auditEvents(t) {
		if r.Stage != "ResponseComplete" || strings.HasPrefix(r.User.Username, "system:node:") {
			continue
		}
		actor := r.Actor()
		req := rbac.Request{User: actor.Username, Groups: actor.Groups, Verb: r.Verb, APIGroup: r.APIGroup, Resource: r.Resource,
			Subresource: r.Subresource, Namespace: r.Namespace, Name: r.Name, Path: r.Path}
		if r.Subresource == "exec" && r.Verb == "get" {
			// WebSocket exec is a GET, authorized as create (mirrors
			// k8s.io/apiserver's AuthorizePodWebsocketUpgradeCreatePermission).
			req.Verb = "create"
		}
		d := a.Authorize(req)
		if want := r.Decision == "allow"; d.Allowed != want {
			t.Errorf("%s %s %s/%s %s/%s by %s %v: audit says %s, RBAC allowed=%v", r.Time.Format("15:04:05"), r.Verb, r.APIGroup, r.Resource, r.Namespace, r.Name,
				actor.Username, actor.Groups, r.Decision, d.Allowed)
			if checked > 50 {
				t.FailNow()
			}
		}
		if !d.Allowed {
			denied++
		}
		checked++
	}
	if checked < 1000 || denied < 20 {
		t.Errorf("%d requests checked, %d denied", checked, denied)
	}
	t.Logf("%d requests checked, %d denied", checked, denied)
}
