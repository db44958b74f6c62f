package deploy

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/config"
)

var update = flag.Bool("update", false, "rewrite deploy/manifests from helm template (needs VIGIL_HELM)")

const (
	chartDir     = "helm/vigil"
	allFeatures  = "helm/vigil/ci/all-features-values.yaml"
	manifestsDir = "manifests"
	namespace    = "vigil"
)

// generated lists the files of deploy/manifests that come from helm
// template, by the chart template that renders them.
var generated = []string{"serviceaccount.yaml", "configmap.yaml", "service.yaml", "statefulset.yaml", "validatingwebhookconfiguration.yaml"}

const generatedHeader = "# Generated from deploy/helm/vigil with its default values by\n" +
	"# `scripts/helm.sh --update` (helm template vigil deploy/helm/vigil --namespace vigil).\n" +
	"# Do not edit: change the chart, then regenerate. go test ./deploy checks it.\n"

// helmBin returns the helm binary of scripts/helm.sh, or skips: helm is
// built from the Go module proxy, which takes minutes, so plain go test
// checks only the committed manifests.
func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("VIGIL_HELM")
	if h == "" {
		t.Skip("VIGIL_HELM is not set: scripts/helm.sh builds helm and runs this test")
	}
	return h
}

func helmTemplate(t *testing.T, helm string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helm, append([]string{"template", "vigil", chartDir, "--namespace", namespace}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// splitSources splits helm template output into documents by the template
// file that rendered them ("# Source: vigil/templates/x.yaml").
func splitSources(out []byte) map[string]string {
	files := map[string]string{}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		doc = strings.TrimPrefix(strings.TrimSpace(doc), "---\n")
		src, body, ok := strings.Cut(doc, "\n")
		if !ok || !strings.HasPrefix(src, "# Source: ") {
			continue
		}
		name := path.Base(strings.TrimPrefix(src, "# Source: "))
		if files[name] != "" {
			files[name] += "---\n"
		}
		files[name] += body + "\n"
	}
	return files
}

// TestManifests keeps deploy/manifests equal to helm template of the
// chart's defaults.
func TestManifests(t *testing.T) {
	helm := helmBin(t)
	out, err := helmTemplate(t, helm)
	if err != nil {
		t.Fatal(err)
	}
	files := splitSources(out)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Clone(generated)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("the chart's defaults render %v; deploy/manifests expects %v: update generated in this test", names, want)
	}
	for _, n := range generated {
		body := generatedHeader + files[n]
		p := filepath.Join(manifestsDir, n)
		if *update {
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%v: run scripts/helm.sh --update", err)
			continue
		}
		if string(got) != body {
			t.Errorf("deploy/manifests/%s is stale: run scripts/helm.sh --update", n)
		}
	}
}

// TestCommittedManifests checks the plain manifests as committed, with no
// helm needed.
func TestCommittedManifests(t *testing.T) {
	var all []byte
	for _, n := range append([]string{"namespace.yaml"}, generated...) {
		b, err := os.ReadFile(filepath.Join(manifestsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if n != "namespace.yaml" && !bytes.HasPrefix(b, []byte(generatedHeader)) {
			t.Errorf("deploy/manifests/%s lacks the generated header", n)
		}
		all = append(append(all, b...), "\n---\n"...)
	}
	objs := parseObjects(t, all)
	ns := find(objs, "Namespace", namespace)
	if ns == nil {
		t.Fatalf("namespace.yaml does not create Namespace %s", namespace)
	}
	checkObjects(t, objs, renderExpect{tls: true, admission: true, pvc: true, namespace: namespace})

	// The example Secret is the one the StatefulSet mounts.
	b, err := os.ReadFile(filepath.Join(manifestsDir, "examples", "tls-secret.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	secret := find(parseObjects(t, b), "Secret", "vigil-tls")
	if secret == nil || str(secret, "type") != "kubernetes.io/tls" {
		t.Errorf("examples/tls-secret.yaml: want a kubernetes.io/tls Secret vigil-tls, got %v", secret)
	}
}

// TestChartAllFeatures renders the chart with every feature on and checks
// the result like the defaults.
func TestChartAllFeatures(t *testing.T) {
	helm := helmBin(t)
	out, err := helmTemplate(t, helm, "--values", allFeatures)
	if err != nil {
		t.Fatal(err)
	}
	objs := parseObjects(t, out)
	checkObjects(t, objs, renderExpect{tls: true, admission: true, namespace: namespace, pvc: true, certManager: true})
	for _, k := range []string{"Ingress", "ServiceMonitor", "NetworkPolicy", "Certificate", "Issuer"} {
		if !slices.ContainsFunc(objs, func(o obj) bool { return str(o, "kind") == k }) {
			t.Errorf("all features: no %s rendered", k)
		}
	}
	sts := find(objs, "StatefulSet", "vigil")
	c := container(t, sts)
	env := fmt.Sprint(get(c, "env"))
	if !strings.Contains(env, "PGPASSWORD") {
		t.Errorf("postgres: PGPASSWORD not in env: %s", env)
	}
	vwc := find(objs, "ValidatingWebhookConfiguration", "vigil")
	if got := str(vwc, "metadata", "annotations", "cert-manager.io/inject-ca-from"); got != "vigil/vigil" {
		t.Errorf("cert-manager: inject-ca-from = %q, want vigil/vigil", got)
	}
	if got := fmt.Sprint(get(vwc, "webhooks", 0, "namespaceSelector", "matchExpressions", 0, "values")); got != "[vigil kube-system]" {
		t.Errorf("excluded namespaces = %s", got)
	}
	cert := find(objs, "Certificate", "vigil")
	if cert == nil || str(cert, "spec", "secretName") != "vigil-tls" ||
		!slices.Contains(strSlice(get(cert, "spec", "dnsNames")), "vigil.vigil.svc") {
		t.Errorf("serving Certificate: want secret vigil-tls valid for vigil.vigil.svc, got %v", cert)
	}
}

// TestChartRefuses checks that values which cannot work fail at template
// time, with a message saying why.
func TestChartRefuses(t *testing.T) {
	helm := helmBin(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"replicas with sqlite", []string{"--set", "replicas=2"}, "replicas > 1 needs store.driver: postgres"},
		{"postgres without url", []string{"--set", "store.driver=postgres"}, "needs store.postgres.url"},
		{"admission without tls", []string{"--set", "tls.enabled=false"}, "admission.enabled needs tls.enabled"},
		{"bad failure policy", []string{"--set", "admission.failurePolicy=Never"}, "failurePolicy must be Ignore or Fail"},
		{"certNames without client CA", []string{"--set", "auth.clusters[0].name=x", "--set", "auth.clusters[0].certNames[0]=x"}, "set tls.clientCA.secretName"},
		{"compound shutdown", []string{"--set", "config.shutdown=1m30s"}, "config.shutdown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, helm, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// Without TLS and admission the chart renders plain-HTTP probes.
	out, err := helmTemplate(t, helm, "--set", "tls.enabled=false", "--set", "admission.enabled=false", "--set", "persistence.enabled=false")
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, parseObjects(t, out), renderExpect{namespace: namespace})
}

type renderExpect struct {
	tls, admission, pvc, certManager bool
	namespace                        string
}

// checkObjects checks what a deployment of Vigil needs, whatever the
// values: a config that Vigil accepts, every file it names mounted, the
// hardening, the probes, and the wiring of ports and names.
func checkObjects(t *testing.T, objs []obj, want renderExpect) {
	t.Helper()
	cm := find(objs, "ConfigMap", "vigil")
	sts := find(objs, "StatefulSet", "vigil")
	svc := find(objs, "Service", "vigil")
	if cm == nil || sts == nil || svc == nil {
		t.Fatalf("want ConfigMap, StatefulSet and Service named vigil")
	}
	for _, o := range objs {
		if ns := str(o, "metadata", "namespace"); ns != "" && ns != want.namespace {
			t.Errorf("%s %s is in namespace %s", str(o, "kind"), str(o, "metadata", "name"), ns)
		}
	}

	// The config: Vigil's own loader and validation, offline.
	raw := str(cm, "data", "vigil.yaml")
	cfg, err := config.Load([]byte(raw), "configmap vigil.yaml")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("the rendered vigil.yaml is not a valid Vigil config: %v\n%s", err, raw)
	}
	if cfg.DataDir != "/var/lib/vigil" || cfg.Listen != "0.0.0.0:8765" {
		t.Errorf("data_dir %q listen %q", cfg.DataDir, cfg.Listen)
	}
	if (cfg.TLS.CertFile != "") != want.tls {
		t.Errorf("tls.cert_file = %q, want tls %v", cfg.TLS.CertFile, want.tls)
	}

	c := container(t, sts)
	spec := get(sts, "spec", "template", "spec")
	mounts := map[string]string{} // mount path → volume name
	for _, m := range list(get(c, "volumeMounts")) {
		mounts[str(m, "mountPath")] = str(m, "name")
	}
	volumes := map[string]any{}
	for _, v := range list(get(spec, "volumes")) {
		volumes[str(v, "name")] = v
	}
	for _, v := range list(get(sts, "spec", "volumeClaimTemplates")) {
		volumes[str(v, "metadata", "name")] = v
	}
	// mountedAs returns the volume holding file p, and p's path inside it.
	mountedAs := func(p string) (vol any, rel string) {
		best := ""
		for m := range mounts {
			if (p == m || strings.HasPrefix(p, m+"/")) && len(m) > len(best) {
				best = m
			}
		}
		if best == "" {
			return nil, ""
		}
		return volumes[mounts[best]], strings.TrimPrefix(strings.TrimPrefix(p, best), "/")
	}
	if !slices.Contains(strSlice(get(c, "args")), "--config=/etc/vigil/config/vigil.yaml") {
		t.Errorf("args %v do not name the mounted config", get(c, "args"))
	}
	if v, rel := mountedAs("/etc/vigil/config/vigil.yaml"); str(v, "configMap", "name") != "vigil" || rel != "vigil.yaml" {
		t.Errorf("the config file is not mounted from ConfigMap vigil: %v", v)
	}
	dataVol, _ := mountedAs(cfg.DataDir)
	if dataVol == nil {
		t.Errorf("data_dir %s is not mounted", cfg.DataDir)
	} else if isPVC := get(dataVol, "spec", "resources", "requests", "storage") != nil; isPVC != want.pvc {
		t.Errorf("data_dir volume is a PVC: %v, want %v", isPVC, want.pvc)
	}
	if _, rel := mountedAs("/tmp/x"); rel == "" {
		t.Errorf("/tmp is not a writable volume (the root file system is read-only)")
	}

	// Every file the config names is in a mounted Secret or ConfigMap, under
	// the key the path ends with.
	files := []string{cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile, cfg.API.SessionKeyFile}
	for _, cl := range cfg.Auth.Clusters {
		files = append(files, cl.TokenFile)
	}
	for _, u := range cfg.API.Users {
		files = append(files, u.PasswordHashFile)
	}
	for _, tok := range cfg.API.Tokens {
		files = append(files, tok.TokenFile)
	}
	files = append(files, cfg.Rules.Files...)
	for _, f := range files {
		if f == "" {
			continue
		}
		v, rel := mountedAs(f)
		switch {
		case v == nil:
			t.Errorf("%s is named in the config but not mounted", f)
		case get(v, "secret") != nil:
			items := list(get(v, "secret", "items"))
			if len(items) > 0 && !slices.ContainsFunc(items, func(i any) bool { return str(i, "path") == rel }) {
				t.Errorf("%s: secret volume %v has no item %s", f, v, rel)
			}
			if mode, _ := get(v, "secret", "defaultMode").(int); mode&0o007 != 0 {
				t.Errorf("%s: secret volume mode %o lets other users read it", f, mode)
			}
		case get(v, "configMap") != nil:
			cmName := str(v, "configMap", "name")
			src := find(objs, "ConfigMap", cmName)
			if src == nil || get(src, "data", rel) == nil {
				t.Errorf("%s: ConfigMap %s has no key %s", f, cmName, rel)
			}
		default:
			t.Errorf("%s is on volume %v, neither a Secret nor a ConfigMap", f, v)
		}
	}

	// Hardening.
	for _, k := range [][]any{{"runAsNonRoot"}, {"readOnlyRootFilesystem"}} {
		if get(c, append([]any{"securityContext"}, k...)...) != true {
			t.Errorf("container securityContext.%v is not true", k[0])
		}
	}
	if get(c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if fmt.Sprint(get(c, "securityContext", "capabilities", "drop")) != "[ALL]" {
		t.Errorf("capabilities.drop = %v, want [ALL]", get(c, "securityContext", "capabilities", "drop"))
	}
	if str(spec, "securityContext", "seccompProfile", "type") != "RuntimeDefault" || get(spec, "securityContext", "fsGroup") == nil {
		t.Errorf("pod securityContext: want seccomp RuntimeDefault and fsGroup, got %v", get(spec, "securityContext"))
	}
	if get(c, "resources", "limits", "memory") == nil || get(c, "resources", "requests", "cpu") == nil {
		t.Errorf("resources: want requests and a memory limit, got %v", get(c, "resources"))
	}
	if get(spec, "automountServiceAccountToken") != false {
		t.Errorf("the service account token is mounted; Vigil never calls the Kubernetes API")
	}
	grace, _ := get(spec, "terminationGracePeriodSeconds").(int)
	if time.Duration(grace)*time.Second <= time.Duration(cfg.Shutdown) {
		t.Errorf("terminationGracePeriodSeconds %d is not above the shutdown grace %s", grace, time.Duration(cfg.Shutdown))
	}

	// Probes and ports.
	_, port, _ := strings.Cut(cfg.Listen, ":")
	var portName string
	for _, p := range list(get(c, "ports")) {
		if strconv.Itoa(toInt(get(p, "containerPort"))) == port {
			portName = str(p, "name")
		}
	}
	if portName == "" {
		t.Fatalf("no container port %s (listen %s)", port, cfg.Listen)
	}
	scheme := "HTTP"
	if want.tls {
		scheme = "HTTPS"
	}
	for probe, p := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
		hg := get(c, probe, "httpGet")
		if str(hg, "path") != p || str(hg, "port") != portName || str(hg, "scheme") != scheme {
			t.Errorf("%s = %v, want %s %s on %s", probe, hg, scheme, p, portName)
		}
	}
	var svcPort int
	for _, p := range list(get(svc, "spec", "ports")) {
		if str(p, "targetPort") == portName {
			svcPort = toInt(get(p, "port"))
		}
	}
	if svcPort == 0 {
		t.Errorf("Service vigil does not target port %s", portName)
	}
	if sel, labels := fmt.Sprint(get(svc, "spec", "selector")), get(sts, "spec", "template", "metadata", "labels"); !subset(get(svc, "spec", "selector"), labels) {
		t.Errorf("Service selector %s does not select the pods (%v)", sel, labels)
	}
	headless := find(objs, "Service", str(sts, "spec", "serviceName"))
	if headless == nil || str(headless, "spec", "clusterIP") != "None" {
		t.Errorf("the StatefulSet's serviceName %q is not a headless Service", str(sts, "spec", "serviceName"))
	}

	// The admission webhook reaches Vigil's /admission through the Service,
	// never in Vigil's own namespace.
	vwc := find(objs, "ValidatingWebhookConfiguration", "vigil")
	if (vwc != nil) != want.admission {
		t.Fatalf("ValidatingWebhookConfiguration present: %v, want %v", vwc != nil, want.admission)
	}
	if vwc != nil {
		if !cfg.Admission.Enabled {
			t.Errorf("the webhook is configured but Vigil's admission.enabled is false")
		}
		wh := get(vwc, "webhooks", 0)
		s := get(wh, "clientConfig", "service")
		if str(s, "name") != "vigil" || str(s, "namespace") != want.namespace || str(s, "path") != "/admission" || toInt(get(s, "port")) != svcPort {
			t.Errorf("webhook clientConfig.service = %v, want vigil/%s:%d/admission", s, want.namespace, svcPort)
		}
		me := get(wh, "namespaceSelector", "matchExpressions", 0)
		if str(me, "key") != "kubernetes.io/metadata.name" || str(me, "operator") != "NotIn" || !slices.Contains(strSlice(get(me, "values")), want.namespace) {
			t.Errorf("webhook namespaceSelector does not leave out %s: %v", want.namespace, me)
		}
		if fp := str(wh, "failurePolicy"); fp != "Ignore" && fp != "Fail" {
			t.Errorf("failurePolicy %q", fp)
		}
		if str(wh, "sideEffects") != "None" {
			t.Errorf("sideEffects = %q, want None", str(wh, "sideEffects"))
		}
		ops := fmt.Sprint(get(wh, "rules"))
		for _, w := range []string{"pods/exec", "namespaces", "clusterrolebindings", "CONNECT", "DELETE"} {
			if !strings.Contains(ops, w) {
				t.Errorf("webhook rules lack %s", w)
			}
		}
		if want.certManager && get(wh, "clientConfig", "caBundle") != nil {
			t.Errorf("with cert-manager the caBundle is injected, not rendered")
		}
	}
}

// TestSystemd checks the unit against the example config it runs.
func TestSystemd(t *testing.T) {
	unit, err := os.ReadFile("systemd/vigil.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("vigil.service: bad line %q", line)
			continue
		}
		keys[k] = append(keys[k], v)
	}
	one := func(k string) string {
		if len(keys[k]) == 0 {
			t.Errorf("vigil.service: no %s", k)
			return ""
		}
		return keys[k][len(keys[k])-1]
	}
	m := regexp.MustCompile(`--config[= ](\S+)`).FindStringSubmatch(one("ExecStart"))
	if m == nil {
		t.Fatalf("ExecStart %q has no --config", one("ExecStart"))
	}
	if m[1] != "/etc/vigil/vigil.yaml" {
		t.Errorf("ExecStart's config is %s, want /etc/vigil/vigil.yaml (the example)", m[1])
	}
	cfg, err := config.Load(mustRead(t, "systemd/vigil.yaml"), "systemd/vigil.yaml")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("systemd/vigil.yaml: %v", err)
	}
	if want := "/var/lib/" + one("StateDirectory"); cfg.DataDir != want {
		t.Errorf("data_dir %s is not the StateDirectory %s", cfg.DataDir, want)
	}
	stop, err := time.ParseDuration(strings.ReplaceAll(one("TimeoutStopSec"), " ", ""))
	if err != nil {
		t.Errorf("TimeoutStopSec %q: write it with a unit, e.g. 45s: %v", one("TimeoutStopSec"), err)
	} else if stop <= time.Duration(cfg.Shutdown) {
		t.Errorf("TimeoutStopSec %s is not above the shutdown grace %s", stop, time.Duration(cfg.Shutdown))
	}
	if !strings.Contains(one("ExecReload"), "-HUP") {
		t.Errorf("ExecReload %q does not send SIGHUP", one("ExecReload"))
	}
	for k, v := range map[string]string{
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes",
		"SystemCallFilter": "@system-service",
	} {
		if one(k) != v {
			t.Errorf("%s=%s, want %s", k, one(k), v)
		}
	}
	// Files the example names must be readable in the sandbox: under
	// /etc/vigil (ConfigurationDirectory) or the state directory.
	for _, f := range []string{cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile} {
		if f != "" && !strings.HasPrefix(f, "/etc/vigil/") {
			t.Errorf("%s is outside /etc/vigil", f)
		}
	}
}

// TestDockerfile checks the image against the module: the Go version, the
// version stamp and the entry point.
func TestDockerfile(t *testing.T) {
	df := string(mustRead(t, "../Dockerfile"))
	gomod := string(mustRead(t, "../go.mod"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, want := range []string{
		"FROM golang:" + m[1], "CGO_ENABLED=0", "-trimpath", "-X main.version=",
		"gcr.io/distroless/static-debian12:nonroot", "USER 65532", "EXPOSE 8765",
		`VOLUME /var/lib/vigil`, `ENTRYPOINT ["/vigil", "serve"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !strings.Contains(string(mustRead(t, "../cmd/vigil/main.go")), "var version = ") {
		t.Errorf("cmd/vigil has no version variable for -X main.version")
	}
}

// --- YAML helpers: objects as generic maps, read by path.

type obj = map[string]any

func parseObjects(t *testing.T, b []byte) []obj {
	t.Helper()
	var objs []obj
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var o obj
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse manifests: %v", err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

func find(objs []obj, kind, name string) obj {
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

func container(t *testing.T, sts obj) any {
	t.Helper()
	for _, c := range list(get(sts, "spec", "template", "spec", "containers")) {
		if str(c, "name") == "vigil" {
			return c
		}
	}
	t.Fatal("no container vigil")
	return nil
}

// get follows a path of map keys (string) and list indexes (int).
func get(v any, p ...any) any {
	for _, k := range p {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, p ...any) string {
	switch s := get(v, p...).(type) {
	case string:
		return s
	case int:
		return strconv.Itoa(s)
	}
	return ""
}

func list(v any) []any { l, _ := v.([]any); return l }

func strSlice(v any) []string {
	var out []string
	for _, e := range list(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func toInt(v any) int { i, _ := v.(int); return i }

func subset(a, b any) bool {
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	if len(am) == 0 {
		return false
	}
	for k, v := range am {
		if bm[k] != v {
			return false
		}
	}
	return true
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
