// Package e2e runs Vigil against a real control plane on loopback: etcd,
// kube-apiserver and kube-controller-manager, built from the Go module
// proxy by scripts/e2e.sh (the tools module in tools/). The test starts
// them and a child `vigil serve`, acts as a user with client-go, and checks
// the alerts in Vigil's file output and in its store, through its API.
// It also renders the Helm chart (with the helm scripts/e2e.sh builds, in
// VIGIL_HELM) and server-side dry-run applies every object of it, and of
// deploy/manifests, to the apiserver (deploy_test.go).
//
// Without the binaries the test is skipped, unless VIGIL_E2E=1, which makes
// their absence a failure.
package e2e
