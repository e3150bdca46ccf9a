package servecmd

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kubedelta/kubedelta/internal/cluster"
	"github.com/kubedelta/kubedelta/internal/cluster/watch"
	"github.com/kubedelta/kubedelta/internal/rbac"
	"github.com/kubedelta/kubedelta/internal/server"
)

// initialSyncWait is how long serve waits for the live inventory's first
// sync before it starts serving anyway (events are then analyzed without
// an inventory until it arrives).
const initialSyncWait = time.Minute

// liveInventory watches the API server (--kubeconfig, or --in-cluster):
// the pipeline gets the watcher's long-lived Index, in which pods come and
// go, and an RBAC authorizer rebuilt whenever RBAC objects change.
type liveInventory struct {
	w     *watch.Watcher
	authz atomic.Pointer[rbac.Authorizer]
	log   *slog.Logger
}

func newLiveInventory(kubeconfig string, log *slog.Logger) (*liveInventory, error) {
	return newLiveInventoryWith(func(o watch.Options) (*watch.Watcher, error) {
		o.Kubeconfig = kubeconfig
		return watch.New(o)
	}, log)
}

// newLiveInventoryWith builds the watcher with mk (a fake clientset in
// tests).
func newLiveInventoryWith(mk func(watch.Options) (*watch.Watcher, error), log *slog.Logger) (*liveInventory, error) {
	li := &liveInventory{log: log}
	w, err := mk(watch.Options{Logger: log, OnChange: li.rebuild})
	if err != nil {
		return nil, err
	}
	li.w = w
	return li, nil
}

// rebuild makes a new authorizer from the current RBAC objects.
func (li *liveInventory) rebuild() {
	inv := li.w.Snapshot()
	li.authz.Store(authorizer(inv))
	li.log.Info("inventory changed: RBAC authorizer rebuilt", "roles", len(inv.Roles), "clusterRoles", len(inv.ClusterRoles),
		"roleBindings", len(inv.RoleBindings), "clusterRoleBindings", len(inv.ClusterRoleBindings))
}

// inventory is the server's seam.
func (li *liveInventory) inventory() server.Inventory {
	return func() (*cluster.Index, *rbac.Authorizer) { return li.w.Index(), li.authz.Load() }
}

// waitSynced waits for the first sync, at most initialSyncWait.
func (li *liveInventory) waitSynced(ctx context.Context) {
	deadline := time.Now().Add(initialSyncWait)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !li.w.Synced() {
		if time.Now().After(deadline) {
			li.log.Warn("the live inventory has not synced yet; serving anyway (events are analyzed without it until it does)",
				"waited", initialSyncWait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	li.log.Info("live inventory synced")
}

func authorizer(inv *cluster.Inventory) *rbac.Authorizer {
	return rbac.NewAuthorizer(rbac.Objects{Roles: inv.Roles, ClusterRoles: inv.ClusterRoles,
		RoleBindings: inv.RoleBindings, ClusterRoleBindings: inv.ClusterRoleBindings})
}
