// Package deploy holds kubedelta's deployment files (the recommended audit
// policy, the API server's webhook kubeconfig, plain manifests and the Helm
// chart) and, as tests only, their validation: every manifest is decoded
// strictly into the k8s.io/api types and loaded with internal/cluster, the
// chart is rendered with a small stand-in for Helm's template engine, and the
// audit policy is evaluated the way the API server does. The stand-in is an
// approximation: `helm template deploy/helm/kubedelta` (and `helm lint`) is
// the real check; see docs/deploy.md.
package deploy
