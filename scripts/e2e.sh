#!/usr/bin/env bash
# e2e.sh: runs the end-to-end test (test/e2e) against a real control plane.
#
# It builds etcd, kube-apiserver and kube-controller-manager from the Go
# module proxy, in the tools module test/e2e/tools (never Vigil's go.mod),
# into a cache directory keyed by that module's go.mod and go.sum, so a
# second run skips the build. A cold build takes several minutes and about
# 4 GB of disk (module and build caches); a warm one, nothing.
#
#   scripts/e2e.sh                 build if needed, then run the test
#   scripts/e2e.sh --build-only    only build
#   VIGIL_E2E_BIN=dir              where the binaries go (default: the cache)
#   extra arguments are passed to go test (e.g. -run ScenarioA, -v)
set -euo pipefail
cd "$(dirname "$0")/.."

tools=test/e2e/tools
key=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -c1-12)
bin=${VIGIL_E2E_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-e2e/bin-$key}

build_only=false
if [ "${1:-}" = "--build-only" ]; then
	build_only=true
	shift
fi

if [ -x "$bin/etcd" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
	echo "e2e: control plane binaries in $bin"
else
	echo "e2e: building the control plane into $bin (cold: several minutes)"
	start=$(date +%s)
	mkdir -p "$bin"
	# The version stamps only make the apiserver report what it is.
	kv=v1.33.13
	ldk="-s -w -X k8s.io/component-base/version.gitVersion=$kv -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=33 -X k8s.io/component-base/version.gitTreeState=clean"
	( cd "$tools" &&
		go build -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 &&
		go build -ldflags "$ldk" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver &&
		go build -ldflags "$ldk" -o "$bin/kube-controller-manager.tmp" k8s.io/kubernetes/cmd/kube-controller-manager )
	for b in etcd kube-apiserver kube-controller-manager; do
		mv "$bin/$b.tmp" "$bin/$b"
	done
	echo "e2e: built in $(($(date +%s) - start))s"
fi
if $build_only; then
	exit 0
fi

cd test/e2e
VIGIL_E2E_BIN="$bin" VIGIL_E2E=${VIGIL_E2E:-1} go test -count=1 -timeout 15m "$@" .
