package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// deployNamespace is the namespace the chart is rendered for and the plain
// manifests name.
const deployNamespace = "vigil"

// helmBinary returns the helm that scripts/e2e.sh built (VIGIL_HELM, from
// scripts/helm.sh --print-helm). Without it the caller's subtest is
// skipped, or fails when VIGIL_E2E=1 says everything must run.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("VIGIL_HELM")
	if fi, err := os.Stat(h); h != "" && err == nil && fi.Mode()&0o111 != 0 {
		return h
	}
	msg := fmt.Sprintf("no helm in VIGIL_HELM=%q: run scripts/e2e.sh, which builds it with scripts/helm.sh", h)
	if os.Getenv("VIGIL_E2E") == "1" {
		t.Fatal(msg + " (VIGIL_E2E=1: the chart's dry run must run)")
	}
	t.Skip(msg)
	return ""
}

// deployDryRun is issue 7's "server-side dry-run apply of the chart against
// the e2e apiserver": the chart rendered with its default values and with
// ci/all-features-values.yaml, and the plain manifests of deploy/manifests,
// each object server-side applied with dryRun=All. The apiserver decodes,
// defaults, validates and admits every object (Pod Security included: the
// namespace warns at restricted, and any warning fails the test), and
// stores none. The kinds of CRDs a bare apiserver lacks (the ServiceMonitor
// of the Prometheus operator, cert-manager's Certificate and Issuer) are
// given stand-in CRDs first; see deployCRDs.
func deployDryRun(t *testing.T, server string, p *pki, watch []*proc) {
	began := time.Now()
	ctx := context.Background()
	warn := &warnings{}
	cfg := restConfig(server, p, p.admin)
	cfg.WarningHandler = warn
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	// The namespace as deploy/manifests/namespace.yaml makes it, and
	// warning of what the restricted Pod Security Standard would refuse, so
	// that a pod template of the chart breaking it shows.
	admin := client(t, server, p, p.admin)
	_, err = admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: deployNamespace, Labels: map[string]string{
			"app.kubernetes.io/name":             "vigil",
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", deployNamespace, err)
	}
	createCRDs(t, ctx, dyn, mapper, watch)

	root := filepath.Join("..", "..")
	chart := filepath.Join(root, "deploy", "helm", "vigil")
	var applied []string
	run := func(name string, docs func(t *testing.T) []byte) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			objs := decodeAll(t, docs(t))
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, o := range objs {
				id := dryRunApply(t, ctx, dyn, mapper, warn, o)
				if id != "" {
					t.Logf("dry-run applied: %s", id)
					applied = append(applied, name+": "+id)
				}
			}
			t.Logf("%d objects in %s", len(objs), time.Since(start).Round(time.Millisecond))
		})
	}
	run("ChartDefaults", func(t *testing.T) []byte { return helmTemplate(t, chart) })
	if _, err := os.Stat(filepath.Join(chart, "ci", "all-features-values.yaml")); err == nil {
		run("ChartAllFeatures", func(t *testing.T) []byte {
			return helmTemplate(t, chart, "--values", filepath.Join(chart, "ci", "all-features-values.yaml"))
		})
	}
	// deploy/manifests/*.yaml, as `kubectl apply -f deploy/manifests/`
	// takes them. Not examples/: its Secret holds placeholders, not PEM,
	// and the apiserver rightly warns of it.
	run("Manifests", func(t *testing.T) []byte {
		files, err := filepath.Glob(filepath.Join(root, "deploy", "manifests", "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no deploy/manifests/*.yaml (%v)", err)
		}
		var all bytes.Buffer
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all.WriteString("\n---\n")
			all.Write(b)
		}
		return all.Bytes()
	})
	t.Logf("%d objects accepted by the dry run in %s:\n  %s", len(applied), time.Since(began).Round(time.Millisecond), strings.Join(applied, "\n  "))
}

// helmTemplate renders chart as scripts/helm.sh does (release vigil, in
// namespace vigil), with a throwaway helm home.
func helmTemplate(t *testing.T, chart string, args ...string) []byte {
	t.Helper()
	helm := helmBinary(t)
	home := t.TempDir()
	cmd := exec.Command(helm, append([]string{"template", "vigil", chart, "--namespace", deployNamespace}, args...)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	return out
}

// decodeAll splits a multi-document YAML stream into objects, leaving out
// the empty documents (comments only) helm and the manifests have.
func decodeAll(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decode YAML: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// dryRunApply server-side applies o with dryRun=All, in deployNamespace
// when its kind is namespaced, and fails the test unless the apiserver
// accepts it without a warning. It returns the object's kind/name.
func dryRunApply(t *testing.T, ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, warn *warnings, o *unstructured.Unstructured) string {
	t.Helper()
	gvk := o.GroupVersionKind()
	id := fmt.Sprintf("%s %s %s", o.GetAPIVersion(), gvk.Kind, o.GetName())
	if gvk.Kind == "" || o.GetName() == "" {
		t.Errorf("an object without a kind or a name: %v", o.Object)
		return ""
	}
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Errorf("%s: the apiserver does not serve this kind: %v", id, err)
		return ""
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		switch ns := o.GetNamespace(); ns {
		case "":
			o.SetNamespace(deployNamespace)
		case deployNamespace:
		default:
			t.Errorf("%s: namespace %q, want %q", id, ns, deployNamespace)
			return ""
		}
		ri = dyn.Resource(m.Resource).Namespace(deployNamespace)
		id = fmt.Sprintf("%s %s %s/%s", o.GetAPIVersion(), gvk.Kind, deployNamespace, o.GetName())
	}
	warn.take()
	got, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "vigil-e2e-dry-run", DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Errorf("%s: the dry-run apply was refused: %v", id, err)
		return ""
	}
	if w := warn.take(); len(w) > 0 {
		t.Errorf("%s: the apiserver warned:\n  %s", id, strings.Join(w, "\n  "))
	}
	if got.GetName() != o.GetName() || got.GetKind() != gvk.Kind {
		t.Errorf("%s: the dry run returned %s %s", id, got.GetKind(), got.GetName())
	}
	return id
}

// warnings keeps the warnings the apiserver sends (deprecations, Pod
// Security, unknown fields).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

var _ rest.WarningHandler = (*warnings)(nil)

// deployCRDs are stand-ins for the CRDs of the kinds the chart renders
// that a bare apiserver does not serve. They are not the real schemas
// (which are large and versioned by their projects): they require what
// those require at the top (a ServiceMonitor's selector, a Certificate's
// secretName and issuerRef.name, an Issuer's spec) and keep any other
// field, so a dry run checks the objects' names, namespace, metadata and
// overall shape, not every field.
var deployCRDs = []struct {
	group, kind, plural string
	required            []string // in spec
	spec                string   // more of the spec's schema, as YAML
}{
	{"monitoring.coreos.com", "ServiceMonitor", "servicemonitors", []string{"selector"},
		"selector: {type: object, x-kubernetes-preserve-unknown-fields: true}\nendpoints: {type: array, items: {type: object, x-kubernetes-preserve-unknown-fields: true}}"},
	{"cert-manager.io", "Certificate", "certificates", []string{"secretName", "issuerRef"},
		"secretName: {type: string}\nissuerRef: {type: object, required: [name], properties: {name: {type: string}, kind: {type: string}, group: {type: string}}}\ndnsNames: {type: array, items: {type: string}}"},
	{"cert-manager.io", "Issuer", "issuers", nil, ""},
}

// createCRDs creates deployCRDs and waits until the apiserver serves
// their kinds.
func createCRDs(t *testing.T, ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, watch []*proc) {
	t.Helper()
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, c := range deployCRDs {
		spec := map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		if c.spec != "" {
			var props map[string]any
			if err := utilyaml.Unmarshal([]byte(c.spec), &props); err != nil {
				t.Fatalf("%s: %v", c.kind, err)
			}
			spec["properties"] = props
		}
		if len(c.required) > 0 {
			spec["required"] = toAny(c.required)
		}
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": c.plural + "." + c.group},
			"spec": map[string]any{
				"group": c.group,
				"scope": "Namespaced",
				"names": map[string]any{"kind": c.kind, "listKind": c.kind + "List", "plural": c.plural, "singular": strings.ToLower(c.kind)},
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type":     "object",
						"required": []any{"spec"},
						"properties": map[string]any{
							"apiVersion": map[string]any{"type": "string"},
							"kind":       map[string]any{"type": "string"},
							"metadata":   map[string]any{"type": "object"},
							"spec":       spec,
						},
					}},
				}},
			},
		}}
		if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create the stand-in CRD for %s: %v", c.kind, err)
		}
	}
	poll(t, 30*time.Second, "the stand-in CRDs are served", func() error {
		mapper.Reset()
		var missing []string
		for _, c := range deployCRDs {
			if _, err := mapper.RESTMapping(schema.GroupKind{Group: c.group, Kind: c.kind}, "v1"); err != nil {
				missing = append(missing, c.kind)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			return fmt.Errorf("not yet: %s", strings.Join(missing, ", "))
		}
		return nil
	}, watch...)
}

func toAny(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}
