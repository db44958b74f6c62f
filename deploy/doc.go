// Package deploy holds no code. Its tests check what deploys Vigil: the
// Helm chart (helm/vigil), the plain manifests rendered from it
// (manifests), the systemd unit (systemd) and the Dockerfile at the
// repository's root. scripts/helm.sh runs them with a helm binary.
package deploy
