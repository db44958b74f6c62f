#!/usr/bin/env bash
# Checks the Helm chart (deploy/helm/vigil) and the plain manifests
# (deploy/manifests), with a helm built from the Go module proxy:
#
#   1. builds helm from deploy/tools/go.mod (its own module: helm's
#      dependencies never enter Vigil's go.mod) into a cache directory,
#      keyed by deploy/tools/go.sum, so a warm run does not build again;
#   2. helm lint --strict, with the default values and with
#      deploy/helm/vigil/ci/all-features-values.yaml;
#   3. helm template with each of them (and fails on a template error);
#   4. go test ./deploy: the rendered objects are checked (the ConfigMap's
#      vigil.yaml passes Vigil's own config validation, every file it names
#      is mounted, probes, securityContext, webhook, ports), and
#      deploy/manifests is compared with `helm template` of the defaults.
#
# Usage: scripts/helm.sh            check
#        scripts/helm.sh --update   regenerate deploy/manifests, then check
#        scripts/helm.sh --print-helm   build if needed, print helm's path
#
# VIGIL_TOOLS_CACHE: where the helm binary is kept (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/vigil-tools). Prints the helm path to use
# for anything else, e.g. a server-side dry run against an apiserver:
#   "$(scripts/helm.sh --print-helm)" template vigil deploy/helm/vigil -n vigil |
#     kubectl apply --dry-run=server -f -
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
chart=deploy/helm/vigil
cache=${VIGIL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-tools}

# build_helm builds helm once per deploy/tools/go.sum and prints its path.
build_helm() {
	local tools=$root/deploy/tools
	local key ver gomaj gomin
	key=$(cat "$tools/go.mod" "$tools/go.sum" | sha256sum | cut -c1-16)
	local bin=$cache/helm-$key
	if [[ ! -x $bin ]]; then
		mkdir -p "$cache"
		ver=$(cd "$tools" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
		# As helm's Makefile: the Kubernetes version helm assumes without a
		# cluster (.Capabilities.KubeVersion, lint's deprecation checks) is
		# 1.N for client-go v0.N.
		read -r gomaj gomin < <(cd "$tools" && go list -m -f '{{.Version}}' k8s.io/client-go | sed -E 's/^v([0-9]+)\.([0-9]+)\..*/\1 \2/')
		local major=$((gomaj + 1))
		local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$ver"
		for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
			ld+=" -X $p.k8sVersionMajor=$major -X $p.k8sVersionMinor=$gomin"
		done
		echo "building helm $ver into $bin (first run: several minutes)" >&2
		(cd "$tools" && CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$bin.tmp" helm.sh/helm/v3/cmd/helm)
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

update=0
case ${1:-} in
--update) update=1 ;;
--print-helm)
	build_helm
	exit 0
	;;
"") ;;
*)
	echo "usage: scripts/helm.sh [--update|--print-helm]" >&2
	exit 2
	;;
esac

helm=$(build_helm)
"$helm" version --short
export HELM_CACHE_HOME=$cache/helm-home/cache HELM_CONFIG_HOME=$cache/helm-home/config HELM_DATA_HOME=$cache/helm-home/data

for values in "" "$chart/ci/all-features-values.yaml"; do
	args=()
	[[ -n $values ]] && args=(--values "$values")
	echo "helm lint --strict $chart ${args[*]}"
	"$helm" lint --strict "$chart" "${args[@]}"
	echo "helm template $chart ${args[*]}"
	"$helm" template vigil "$chart" --namespace vigil "${args[@]}" >/dev/null
done

if ((update)); then
	VIGIL_HELM=$helm go test -count=1 ./deploy -run TestManifests -update
fi
VIGIL_HELM=$helm go test -count=1 ./deploy
