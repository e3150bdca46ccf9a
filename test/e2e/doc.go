// Package e2e tests kubedelta against a real kube-apiserver and etcd: the
// live inventory watcher (internal/cluster/watch), the offline RBAC
// evaluator against the API server's own SubjectAccessReview answers, and
// the audit webhook path into `kubedelta serve`.
//
// The tests are skipped unless KUBEDELTA_E2E=1; run.sh builds the API server
// (once, into a cache directory), installs etcd and runs them. docs/e2e.md
// describes what they cover and what they cost.
package e2e
