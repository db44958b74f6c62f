package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// binaries returns the directory holding etcd, kube-apiserver and
// kube-controller-manager (VIGIL_E2E_BIN, set by scripts/e2e.sh). Without
// them the test is skipped, or fails when VIGIL_E2E=1 says it must run.
func binaries(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VIGIL_E2E_BIN")
	var missing []string
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); dir == "" || err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) == 0 {
		return dir
	}
	msg := fmt.Sprintf("no %s in VIGIL_E2E_BIN=%q: run scripts/e2e.sh, which builds them", strings.Join(missing, ", "), dir)
	if os.Getenv("VIGIL_E2E") == "1" {
		t.Fatal(msg + " (VIGIL_E2E=1: the e2e test must run)")
	}
	t.Skip(msg)
	return ""
}

// buildVigil builds ./cmd/vigil of the enclosing module into dir.
func buildVigil(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "vigil")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/vigil")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/vigil: %v\n%s", err, out)
	}
	return bin
}

// vigil is the running `vigil serve`.
type vigil struct {
	*proc
	addr    string // host:port it serves HTTPS on
	fileOut string // its file output (Falco text lines)
}

// startVigil runs `vigil serve` with a config written for this run: HTTPS
// with a certificate for 127.0.0.1, one cluster authenticated by token,
// the admission webhook, a text stdout output and a text file output (as
// falco.log), the SQLite store and a viewer token for the API.
func startVigil(t *testing.T, dir, bin string, p *pki) *vigil {
	t.Helper()
	v := &vigil{fileOut: filepath.Join(dir, "falco.log")}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
data_dir: %q
tls:
  cert_file: %q
  key_file: %q
auth:
  clusters:
    - name: %s
      token: %q
admission:
  enabled: true
  mode: detect
outputs:
  - type: stdout
    format: text
  - type: file
    format: text
    path: %q
store:
  driver: sqlite
api:
  tokens:
    - name: e2e
      token: %q
      role: viewer
shutdown: 30s
`, filepath.Join(dir, "vigil-data"), p.vigil.certFile, p.vigil.keyFile, p.clusterName, p.auditToken, v.fileOut, p.apiToken)
	cfgFile := writeFile(t, dir, "vigil.yaml", []byte(cfg))
	if out, err := exec.Command(bin, "config", "check", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("vigil config check: %v\n%s", err, out)
	}
	v.proc = startProc(t, dir, "vigil", bin, "serve", "--config", cfgFile)
	addrRE := regexp.MustCompile(`msg="vigil serving" addr=(\S+)`)
	poll(t, 30*time.Second, "vigil serving", func() error {
		b, _ := os.ReadFile(v.log)
		m := addrRE.FindSubmatch(b)
		if m == nil {
			return fmt.Errorf("no %q in its log", "vigil serving")
		}
		v.addr = string(m[1])
		return nil
	}, v.proc)
	return v
}

// startEtcd runs a one-member etcd on loopback and returns its client URL.
func startEtcd(t *testing.T, dir, bins string) (*proc, string) {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	e := startProc(t, dir, "etcd", filepath.Join(bins, "etcd"),
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=e2e="+peer,
		"--unsafe-no-fsync", // a throwaway store: speed over durability
		"--log-level=warn")
	return e, client
}

// kubeconfig writes a kubeconfig for server with a client certificate or
// a token.
func kubeconfig(t *testing.T, dir, name, server string, p *pki, kp *keyPair, token string) string {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	user := fmt.Sprintf("token: %q", token)
	if kp != nil {
		user = fmt.Sprintf("client-certificate-data: %s\n      client-key-data: %s", b64(kp.certPEM), b64(kp.keyPEM))
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster:
      server: %s
      certificate-authority-data: %s
users:
  - name: u
    user:
      %s
contexts:
  - name: c
    context: {cluster: c, user: u}
current-context: c
`, server, b64(p.ca.pem), user)
	return writeFile(t, dir, name, []byte(cfg))
}

// auditPolicy is the policy of ../shared/reference/captured: full bodies
// for the resources a tenant cares about, metadata for the rest, every
// stage kept.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["namespaces", "namespaces/finalize", "namespaces/status",
                    "pods", "pods/exec", "pods/attach", "pods/log", "pods/status",
                    "secrets", "configmaps", "serviceaccounts", "serviceaccounts/token"]
      - group: "rbac.authorization.k8s.io"
        resources: ["clusterroles", "clusterrolebindings", "roles", "rolebindings"]
  - level: Metadata
`

// startAPIServer runs kube-apiserver on loopback, with its audit webhook
// (batch mode, flushed every second) posting to Vigil, and waits until it
// is ready.
func startAPIServer(t *testing.T, dir, bins, etcdURL string, p *pki, v *vigil, watch ...*proc) (*proc, string) {
	t.Helper()
	port := freePort(t)
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	policy := writeFile(t, dir, "audit-policy.yaml", []byte(auditPolicy))
	hook := kubeconfig(t, dir, "audit-webhook.kubeconfig", "https://"+v.addr+"/k8s-audit", p, nil, p.auditToken)
	// The apiserver calls admission webhooks without credentials unless an
	// AdmissionConfiguration gives it some; Vigil's /admission takes the
	// same cluster token as the audit webhook (docs/kubernetes.md). The
	// user's name is the webhook URL's host, with its port when not 443.
	admissionKC := writeFile(t, dir, "admission.kubeconfig", []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
users:
  - name: %q
    user:
      token: %q
`, v.addr, p.auditToken)))
	admissionCfg := writeFile(t, dir, "admission-config.yaml", []byte(fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ValidatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: %q
`, admissionKC)))
	a := startProc(t, dir, "kube-apiserver", filepath.Join(bins, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+p.apiserver.certFile, "--tls-private-key-file="+p.apiserver.keyFile,
		"--client-ca-file="+p.caFile,
		"--service-account-issuer="+server,
		"--service-account-signing-key-file="+p.saKey,
		"--service-account-key-file="+p.saPub,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--endpoint-reconciler-type=none",
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true", // for the privileged pod
		"--admission-control-config-file="+admissionCfg,
		"--audit-policy-file="+policy,
		"--audit-webhook-config-file="+hook,
		"--audit-webhook-mode=batch",
		"--audit-webhook-batch-max-size=100",
		"--audit-webhook-batch-max-wait=1s")
	admin := client(t, server, p, p.admin)
	watch = append(watch, a)
	poll(t, 90*time.Second, "kube-apiserver ready", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}, watch...)
	return a, server
}

// startControllerManager runs the controllers the scenarios need, as the
// captured run did: namespace (deleting a namespace empties it), the
// service accounts and their tokens (pods need their namespace's default
// service account), clusterrole-aggregation and root-ca-cert-publisher.
func startControllerManager(t *testing.T, dir, bins, server string, p *pki) *proc {
	t.Helper()
	kc := kubeconfig(t, dir, "kcm.kubeconfig", server, p, &p.kcm, "")
	return startProc(t, dir, "kube-controller-manager", filepath.Join(bins, "kube-controller-manager"),
		"--kubeconfig="+kc,
		"--controllers=namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation,root-ca-cert-publisher",
		"--use-service-account-credentials",
		"--service-account-private-key-file="+p.saKey,
		"--root-ca-file="+p.caFile,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(freePort(t)),
		"--cert-dir="+filepath.Join(dir, "kcm-certs"))
}

// userAgent marks the test's own requests, so that the audit path's alerts
// can be told from the admission path's (which has no user agent).
const userAgent = "vigil-e2e"

// restConfig is a client configuration for a client certificate.
func restConfig(server string, p *pki, kp keyPair) *rest.Config {
	return &rest.Config{
		Host:      server,
		UserAgent: userAgent,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   p.ca.pem,
			CertData: kp.certPEM,
			KeyData:  kp.keyPEM,
		},
		QPS:   50,
		Burst: 100,
	}
}

func client(t *testing.T, server string, p *pki, kp keyPair) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig(server, p, kp))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
