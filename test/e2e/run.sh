#!/usr/bin/env bash
# End-to-end tests against a real kube-apiserver and etcd (docs/e2e.md).
#
# Builds kube-apiserver and kube-controller-manager from the Go module proxy
# once (test/e2e/apiserver pins them) into a cache directory, installs etcd
# (Debian's etcd-server) and kubectl (kubernetes-client) when missing, and
# runs `go test` in test/e2e with KUBEDELTA_E2E=1. Extra arguments go to
# `go test` (e.g. -run TestWatcher).
#
# Environment: KUBEDELTA_E2E_CACHE (default ~/.cache/kubedelta-e2e) holds
# the binaries; KUBEDELTA_E2E_KEEP=1 keeps the work directory (logs, certs,
# dumps) even when the tests pass.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KUBEDELTA_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubedelta-e2e}
version=$(cd "$here/apiserver" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
if [ -z "$version" ]; then
  echo "run.sh: no k8s.io/kubernetes version in $here/apiserver/go.mod" >&2
  exit 1
fi
mkdir -p "$cache"

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: $1 is missing; install the Debian package $2 (as root: apt-get install -y $2)" >&2
    exit 1
  fi
  if [ -z "${apt_updated:-}" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  echo "run.sh: installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

[ -x /usr/bin/etcd ] || apt_install etcd etcd-server
command -v kubectl >/dev/null 2>&1 || apt_install kubectl kubernetes-client

# The system service the package may start is not used: the tests run
# their own etcd on free loopback ports with a temporary data directory.

for bin in kube-apiserver kube-controller-manager; do
  out="$cache/$bin-$version"
  if [ ! -x "$out" ]; then
    echo "run.sh: building $bin $version (once; measured 43 min for kube-apiserver and 6 min more for kube-controller-manager on a busy 2-core machine)"
    start=$(date +%s)
    minor=${version#v1.}; minor=${minor%%.*}
    ldflags="-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    (cd "$here/apiserver" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "k8s.io/kubernetes/cmd/$bin")
    mv "$out.tmp" "$out"
    echo "run.sh: built $bin in $(( $(date +%s) - start )) s"
  fi
done

export KUBEDELTA_E2E=1
export ETCD=/usr/bin/etcd
export KUBE_APISERVER="$cache/kube-apiserver-$version"
export KUBE_CONTROLLER_MANAGER="$cache/kube-controller-manager-$version"
export KUBECTL=${KUBECTL:-$(command -v kubectl)}

cd "$here"
exec go test -count=1 -timeout 20m -v "$@" ./...
