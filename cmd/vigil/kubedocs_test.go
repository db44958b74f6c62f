package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/config"
)

// The deployment documentation: docs/kubernetes.md, the files in
// docs/examples and the "Connecting Kubernetes clusters" section of
// README.md. These tests keep the YAML in them parseable and shaped as
// kube-apiserver and Vigil need it.

var kubeExamplesDir = filepath.Join("..", "..", "docs", "examples")

// kubeconfig is the part of a kubeconfig file that the API server reads for
// --audit-webhook-config-file.
type kubeconfig struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Clusters   []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token                 string `yaml:"token"`
			TokenFile             string `yaml:"tokenFile"`
			ClientCertificate     string `yaml:"client-certificate"`
			ClientCertificateData string `yaml:"client-certificate-data"`
			ClientKey             string `yaml:"client-key"`
			ClientKeyData         string `yaml:"client-key-data"`
		} `yaml:"user"`
	} `yaml:"users"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	CurrentContext string `yaml:"current-context"`
}

// webhookConfiguration is the part of a ValidatingWebhookConfiguration the
// tests check.
type webhookConfiguration struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Webhooks []struct {
		Name                    string   `yaml:"name"`
		AdmissionReviewVersions []string `yaml:"admissionReviewVersions"`
		SideEffects             string   `yaml:"sideEffects"`
		FailurePolicy           string   `yaml:"failurePolicy"`
		TimeoutSeconds          *int     `yaml:"timeoutSeconds"`
		ClientConfig            struct {
			URL     string `yaml:"url"`
			Service *struct {
				Namespace string `yaml:"namespace"`
				Name      string `yaml:"name"`
				Port      int    `yaml:"port"`
				Path      string `yaml:"path"`
			} `yaml:"service"`
			CABundle string `yaml:"caBundle"`
		} `yaml:"clientConfig"`
		Rules []struct {
			APIGroups   []string `yaml:"apiGroups"`
			APIVersions []string `yaml:"apiVersions"`
			Operations  []string `yaml:"operations"`
			Resources   []string `yaml:"resources"`
			Scope       string   `yaml:"scope"`
		} `yaml:"rules"`
	} `yaml:"webhooks"`
}

// auditPolicy is the part of an audit.k8s.io/v1 Policy the tests check.
type auditPolicy struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	OmitStages []string `yaml:"omitStages"`
	Rules      []struct {
		Level     string   `yaml:"level"`
		Verbs     []string `yaml:"verbs"`
		Resources []struct {
			Group     *string  `yaml:"group"`
			Resources []string `yaml:"resources"`
		} `yaml:"resources"`
		NonResourceURLs []string `yaml:"nonResourceURLs"`
	} `yaml:"rules"`
}

// yamlDocs splits data into its YAML documents, each decoded to a node.
func yamlDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, &n)
	}
}

// decodeYAML decodes one YAML document into v. Unknown keys are allowed:
// the structs above hold only what is checked.
func decodeYAML(t *testing.T, name string, data []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func topKind(data []byte) (apiVersion, kind string) {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	_ = yaml.Unmarshal(data, &head)
	return head.APIVersion, head.Kind
}

func checkKubeconfig(t *testing.T, name string, data []byte) (token, cert bool) {
	t.Helper()
	var kc kubeconfig
	decodeYAML(t, name, data, &kc)
	if kc.APIVersion != "v1" || kc.Kind != "Config" {
		t.Errorf("%s: apiVersion/kind = %q/%q, want v1/Config", name, kc.APIVersion, kc.Kind)
	}
	if len(kc.Clusters) == 0 {
		t.Fatalf("%s: no clusters", name)
	}
	clusters := map[string]bool{}
	for _, c := range kc.Clusters {
		clusters[c.Name] = true
		u, err := url.Parse(c.Cluster.Server)
		if err != nil || u.Host == "" {
			t.Errorf("%s: cluster %q: server %q is not a URL", name, c.Name, c.Cluster.Server)
			continue
		}
		if u.Path != "/k8s-audit" && u.Path != "/k8s_audit" {
			t.Errorf("%s: cluster %q: server %q: path must be /k8s-audit or /k8s_audit", name, c.Name, c.Cluster.Server)
		}
		if u.Scheme != "https" {
			t.Errorf("%s: cluster %q: server %q: credentials must go over https", name, c.Name, c.Cluster.Server)
		}
		if c.Cluster.CertificateAuthority == "" && c.Cluster.CertificateAuthorityData == "" {
			t.Errorf("%s: cluster %q: no certificate-authority for Vigil's server certificate", name, c.Name)
		}
	}
	if len(kc.Users) == 0 {
		t.Fatalf("%s: no users", name)
	}
	users := map[string]bool{}
	for _, u := range kc.Users {
		users[u.Name] = true
		if u.User.TokenFile != "" {
			t.Errorf("%s: user %q: the API server's webhook kubeconfig does not read tokenFile; use token", name, u.Name)
		}
		hasCert := (u.User.ClientCertificate != "" || u.User.ClientCertificateData != "") &&
			(u.User.ClientKey != "" || u.User.ClientKeyData != "")
		switch {
		case u.User.Token != "":
			token = true
		case hasCert:
			cert = true
		default:
			t.Errorf("%s: user %q has neither token nor client-certificate and client-key", name, u.Name)
		}
	}
	current := false
	for _, c := range kc.Contexts {
		if !clusters[c.Context.Cluster] || !users[c.Context.User] {
			t.Errorf("%s: context %q names cluster %q / user %q, which are not defined", name, c.Name, c.Context.Cluster, c.Context.User)
		}
		current = current || c.Name == kc.CurrentContext
	}
	if !current {
		t.Errorf("%s: current-context %q is not a context", name, kc.CurrentContext)
	}
	return token, cert
}

func checkValidatingWebhook(t *testing.T, name string, data []byte) {
	t.Helper()
	var wc webhookConfiguration
	decodeYAML(t, name, data, &wc)
	if wc.APIVersion != "admissionregistration.k8s.io/v1" || wc.Kind != "ValidatingWebhookConfiguration" {
		t.Errorf("%s: apiVersion/kind = %q/%q, want admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration", name, wc.APIVersion, wc.Kind)
	}
	if wc.Metadata.Name == "" {
		t.Errorf("%s: no metadata.name", name)
	}
	if len(wc.Webhooks) == 0 {
		t.Fatalf("%s: no webhooks", name)
	}
	ops := []string{"CREATE", "UPDATE", "DELETE", "CONNECT", "*"}
	for _, w := range wc.Webhooks {
		if strings.Count(w.Name, ".") < 2 {
			t.Errorf("%s: webhook name %q must be fully qualified (at least three segments)", name, w.Name)
		}
		if w.SideEffects != "None" {
			t.Errorf("%s: %s: sideEffects = %q, want None", name, w.Name, w.SideEffects)
		}
		if !slices.Contains(w.AdmissionReviewVersions, "v1") {
			t.Errorf("%s: %s: admissionReviewVersions %v lacks v1", name, w.Name, w.AdmissionReviewVersions)
		}
		if w.FailurePolicy != "Ignore" && w.FailurePolicy != "Fail" {
			t.Errorf("%s: %s: failurePolicy = %q, want Ignore or Fail", name, w.Name, w.FailurePolicy)
		}
		if w.TimeoutSeconds != nil && (*w.TimeoutSeconds < 1 || *w.TimeoutSeconds > 30) {
			t.Errorf("%s: %s: timeoutSeconds %d is outside 1..30", name, w.Name, *w.TimeoutSeconds)
		}
		cc := w.ClientConfig
		switch {
		case cc.URL != "" && cc.Service != nil:
			t.Errorf("%s: %s: clientConfig has both url and service", name, w.Name)
		case cc.URL != "":
			u, err := url.Parse(cc.URL)
			if err != nil || u.Scheme != "https" || u.Path != "/admission" {
				t.Errorf("%s: %s: clientConfig.url %q: want https://HOST[:PORT]/admission", name, w.Name, cc.URL)
			}
		case cc.Service != nil:
			if cc.Service.Path != "/admission" || cc.Service.Name == "" || cc.Service.Namespace == "" {
				t.Errorf("%s: %s: clientConfig.service %+v: want a name, a namespace and path /admission", name, w.Name, *cc.Service)
			}
		default:
			t.Errorf("%s: %s: clientConfig has neither url nor service", name, w.Name)
		}
		if cc.CABundle == "" {
			t.Errorf("%s: %s: no clientConfig.caBundle", name, w.Name)
		}
		if len(w.Rules) == 0 {
			t.Errorf("%s: %s: no rules", name, w.Name)
		}
		for i, r := range w.Rules {
			if len(r.APIGroups) == 0 || len(r.APIVersions) == 0 || len(r.Resources) == 0 || len(r.Operations) == 0 {
				t.Errorf("%s: %s: rules[%d] lacks apiGroups, apiVersions, resources or operations", name, w.Name, i)
			}
			for _, op := range r.Operations {
				if !slices.Contains(ops, op) {
					t.Errorf("%s: %s: rules[%d]: operation %q is not one of %v", name, w.Name, i, op, ops)
				}
			}
			if r.Scope != "" && r.Scope != "*" && r.Scope != "Cluster" && r.Scope != "Namespaced" {
				t.Errorf("%s: %s: rules[%d]: scope %q", name, w.Name, i, r.Scope)
			}
		}
	}
}

func checkAuditPolicy(t *testing.T, name string, data []byte) {
	t.Helper()
	var p auditPolicy
	decodeYAML(t, name, data, &p)
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Errorf("%s: apiVersion/kind = %q/%q, want audit.k8s.io/v1/Policy", name, p.APIVersion, p.Kind)
	}
	if len(p.Rules) == 0 {
		t.Fatalf("%s: no rules", name)
	}
	levels := []string{"None", "Metadata", "Request", "RequestResponse"}
	for i, r := range p.Rules {
		if !slices.Contains(levels, r.Level) {
			t.Errorf("%s: rules[%d]: level %q is not one of %v", name, i, r.Level, levels)
		}
		for j, res := range r.Resources {
			if res.Group == nil {
				t.Errorf("%s: rules[%d].resources[%d]: group missing (use \"\" for the core group)", name, i, j)
			}
		}
	}
	// Vigil's exec rules fire on ResponseStarted.
	if slices.Contains(p.OmitStages, "ResponseStarted") {
		t.Errorf("%s: omitStages drops ResponseStarted, which the exec and attach rules need", name)
	}
	if last := p.Rules[len(p.Rules)-1]; last.Level == "None" || len(last.Resources) > 0 || len(last.Verbs) > 0 || len(last.NonResourceURLs) > 0 {
		t.Errorf("%s: the last rule should be a catch-all at Metadata level or more", name)
	}
}

// isVigilConfig reports whether a YAML block is a Vigil configuration: a
// mapping without apiVersion whose keys are all Vigil's.
func isVigilConfig(data []byte) bool {
	var m map[string]any
	if yaml.Unmarshal(data, &m) != nil || len(m) == 0 {
		return false
	}
	known := []string{"listen", "data_dir", "tls", "auth", "rules", "ingest", "admission", "tail", "outputs", "hostname", "shutdown"}
	for k := range m {
		if !slices.Contains(known, k) {
			return false
		}
	}
	return true
}

func checkVigilConfigBlock(t *testing.T, name string, data []byte) {
	t.Helper()
	c, err := config.Load(data, name)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if err := c.Validate(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// checkBlock checks one YAML document by what it is.
func checkBlock(t *testing.T, name string, data []byte) {
	t.Helper()
	switch apiVersion, kind := topKind(data); {
	case kind == "Config" && apiVersion == "v1" && !bytes.Contains(data, []byte("\nclusters:")):
		// The API server's admission kubeconfig: users matched by host.
		var kc kubeconfig
		decodeYAML(t, name, data, &kc)
		if len(kc.Users) == 0 {
			t.Errorf("%s: no users", name)
		}
		for _, u := range kc.Users {
			if u.Name == "" || (u.User.Token == "" && u.User.ClientCertificate == "" && u.User.ClientCertificateData == "") {
				t.Errorf("%s: user %q needs a name and a token or a client certificate", name, u.Name)
			}
		}
	case kind == "Config" && apiVersion == "v1":
		checkKubeconfig(t, name, data)
	case kind == "ValidatingWebhookConfiguration":
		checkValidatingWebhook(t, name, data)
	case kind == "Policy":
		checkAuditPolicy(t, name, data)
	case apiVersion == "" && isVigilConfig(data):
		checkVigilConfigBlock(t, name, data)
	}
}

func TestKubeDocsExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(kubeExamplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"audit-policy.yaml", "webhook-kubeconfig-token.yaml", "webhook-kubeconfig-cert.yaml",
		"vigil-token.yaml", "vigil-mtls.yaml", "validating-webhook.yaml"}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("docs/examples/%s is missing", w)
		}
	}
	for _, p := range paths {
		name := "docs/examples/" + filepath.Base(p)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := yamlDocs(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(docs) != 1 {
			t.Errorf("%s: %d YAML documents, want 1", name, len(docs))
		}
		switch base := filepath.Base(p); {
		case strings.HasPrefix(base, "webhook-kubeconfig-"):
			token, cert := checkKubeconfig(t, name, data)
			if strings.Contains(base, "token") && !token {
				t.Errorf("%s: no user with a token", name)
			}
			if strings.Contains(base, "cert") && !cert {
				t.Errorf("%s: no user with client-certificate and client-key", name)
			}
		case base == "validating-webhook.yaml":
			checkValidatingWebhook(t, name, data)
		case base == "audit-policy.yaml":
			checkAuditPolicy(t, name, data)
		case strings.HasPrefix(base, "vigil-"):
			// LoadFile resolves relative paths and validates; Validate does
			// no I/O, so the certificate and token paths in the examples
			// need not exist here.
			c, err := config.LoadFile(p)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(c.Auth.Clusters) == 0 {
				t.Errorf("%s: no auth.clusters", name)
			}
			if c.Auth.AllowUnauthenticated {
				t.Errorf("%s: an example must not allow unauthenticated requests", name)
			}
			if c.TLS.CertFile == "" {
				t.Errorf("%s: an example must use HTTPS", name)
			}
			if strings.Contains(base, "mtls") && c.TLS.ClientCAFile == "" {
				t.Errorf("%s: no tls.client_ca_file", name)
			}
		default:
			t.Errorf("%s: no check for this example; add one", name)
		}
	}
}

var fenceRE = regexp.MustCompile("(?ms)^```([a-z]*)[^\n]*\n(.*?)^```")

// codeBlocks returns the fenced code blocks of markdown text with their
// language tag.
func codeBlocks(md string) (langs, bodies []string) {
	for _, m := range fenceRE.FindAllStringSubmatch(md, -1) {
		langs = append(langs, m[1])
		bodies = append(bodies, m[2])
	}
	return langs, bodies
}

// readmeKubeSection returns the "Connecting Kubernetes clusters" section of
// README.md, up to the next level-2 heading.
func readmeKubeSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const h = "\n## Connecting Kubernetes clusters\n"
	i := strings.Index(s, h)
	if i < 0 {
		t.Fatal("README.md has no '## Connecting Kubernetes clusters' section")
	}
	rest := s[i+len(h):]
	j := strings.Index(rest, "\n## ")
	if j < 0 {
		t.Fatal("README.md: the Kubernetes section is not followed by another section")
	}
	if !strings.HasPrefix(rest[j:], "\n## Commands\n") {
		t.Error("README.md: '## Connecting Kubernetes clusters' must come right before '## Commands'")
	}
	return rest[:j]
}

func TestKubeDocsReadme(t *testing.T) {
	sec := readmeKubeSection(t)
	langs, bodies := codeBlocks(sec)
	var token, cert, webhook bool
	n := 0
	for i, body := range bodies {
		if langs[i] != "yaml" {
			continue
		}
		n++
		name := fmt.Sprintf("README.md yaml block %d", n)
		docs, err := yamlDocs([]byte(body))
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
			continue
		}
		if len(docs) != 1 {
			t.Errorf("%s: %d YAML documents, want 1", name, len(docs))
		}
		apiVersion, kind := topKind([]byte(body))
		switch {
		case kind == "Config" && apiVersion == "v1":
			tk, c := checkKubeconfig(t, name, []byte(body))
			token, cert = token || tk, cert || c
		case kind == "ValidatingWebhookConfiguration":
			webhook = true
		}
		checkBlock(t, name, []byte(body))
	}
	if !token || !cert || !webhook {
		t.Errorf("README.md section: want a webhook kubeconfig with a token (%v), one with client certificates (%v) and a ValidatingWebhookConfiguration (%v)", token, cert, webhook)
	}
	for _, s := range []string{
		"--audit-policy-file", "--audit-webhook-config-file", "--audit-webhook-batch-max-size",
		"--audit-webhook-batch-max-wait", "ibmcloud ks cluster master audit-webhook set",
		"--remote-server", "ibmcloud ks cluster master refresh", "docs/kubernetes.md",
	} {
		if !strings.Contains(sec, s) {
			t.Errorf("README.md section does not mention %s", s)
		}
	}
}

func TestKubeDocsGuide(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	langs, bodies := codeBlocks(md)
	n := 0
	for i, body := range bodies {
		if langs[i] != "yaml" {
			continue
		}
		n++
		name := fmt.Sprintf("docs/kubernetes.md yaml block %d (%s)", n, strings.TrimSpace(strings.SplitN(body, "\n", 2)[0]))
		if _, err := yamlDocs([]byte(body)); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
			continue
		}
		checkBlock(t, name, []byte(body))
	}
	if n == 0 {
		t.Error("docs/kubernetes.md has no yaml blocks")
	}
	// Every example file is linked from the guide, and every link to an
	// example resolves.
	for _, m := range regexp.MustCompile(`\]\((examples/[^)#]+)\)`).FindAllStringSubmatch(md, -1) {
		if _, err := os.Stat(filepath.Join("..", "..", "docs", m[1])); err != nil {
			t.Errorf("docs/kubernetes.md links to %s: %v", m[1], err)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(kubeExamplesDir, "*.yaml"))
	for _, p := range paths {
		if !strings.Contains(md, "(examples/"+filepath.Base(p)+")") {
			t.Errorf("docs/kubernetes.md does not link examples/%s", filepath.Base(p))
		}
	}
}
