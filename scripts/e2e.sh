#!/usr/bin/env bash
# e2e.sh: runs the end-to-end test (test/e2e) against a real control plane.
#
# It builds etcd, kube-apiserver and kube-controller-manager from the Go
# module proxy, in the tools module test/e2e/tools (never Vigil's go.mod),
# into a cache directory keyed by that module's go.mod and go.sum, so a
# second run skips the build. A cold build takes several minutes and about
# 4 GB of disk (module and build caches); a warm one, nothing.
#
# It also builds helm with scripts/helm.sh (cached the same way, in
# VIGIL_TOOLS_CACHE) and passes its path in VIGIL_HELM: the test renders
# the chart with it and server-side dry-run applies every object, and the
# plain manifests, to the apiserver.
#
#   scripts/e2e.sh                 build if needed, then run the test
#   scripts/e2e.sh --build-only    only build
#   VIGIL_E2E_BIN=dir              where the binaries go (default: the cache)
#   VIGIL_HELM=path                a helm to use instead of building one
#   extra arguments are passed to go test (e.g. -run ScenarioA, -v)
set -euo pipefail
cd "$(dirname "$0")/.."

tools=test/e2e/tools
# The version stamps only make the binaries report what they are (the
# apiserver's version, and the user agent of its own requests). They are
# part of the cache key with the tools module.
kv=v1.33.13
ldk="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldk="$ldk -X $pkg.gitVersion=$kv -X $pkg.gitMajor=1 -X $pkg.gitMinor=33 -X $pkg.gitTreeState=clean"
done
key=$( (cat "$tools/go.mod" "$tools/go.sum"; echo "$ldk") | sha256sum | cut -c1-12)
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
	( cd "$tools" &&
		go build -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 &&
		go build -ldflags "$ldk" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver &&
		go build -ldflags "$ldk" -o "$bin/kube-controller-manager.tmp" k8s.io/kubernetes/cmd/kube-controller-manager )
	for b in etcd kube-apiserver kube-controller-manager; do
		mv "$bin/$b.tmp" "$bin/$b"
	done
	echo "e2e: built in $(($(date +%s) - start))s"
fi
helm=${VIGIL_HELM:-$(scripts/helm.sh --print-helm)}
echo "e2e: helm $helm"
if $build_only; then
	exit 0
fi

# The binaries are there, so the test must run: VIGIL_E2E=1 makes a skip a
# failure. -v shows the phases and the wall time.
start=$(date +%s)
cd test/e2e
go vet .
VIGIL_E2E_BIN="$bin" VIGIL_HELM="$helm" VIGIL_E2E=1 go test -v -count=1 -timeout 20m "$@" .
echo "e2e: test passed in $(($(date +%s) - start))s"
