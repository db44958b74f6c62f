package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// TestControlPlane runs both scenarios of issue 7 against a real
// kube-apiserver: the admission path (Scenario A: deleting namespace demo)
// and the audit webhook in batch mode (Scenario B: the namespace's life,
// privileged and hostPath pods, an exec, a binding to cluster-admin, a
// secret read by an ordinary user, a ConfigMap holding a password). While
// the apiserver runs, DeployDryRun dry-run applies the chart and the plain
// manifests to it (deploy_test.go).
func TestControlPlane(t *testing.T) {
	began := time.Now()
	t.Cleanup(func() { t.Logf("e2e wall time: %s", time.Since(began).Round(time.Millisecond)) })
	bins := binaries(t)
	dir := t.TempDir()
	if d := os.Getenv("VIGIL_ARTIFACTS"); d != "" { // keep the logs and data
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if dir, err = os.MkdirTemp(d, "e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("artifacts in %s", dir)
	}

	vigilBin := buildVigil(t, dir)
	p := newPKI(t, dir)
	v := startVigil(t, dir, vigilBin, p)
	etcd, etcdURL := startEtcd(t, dir, bins)
	apiserver, server := startAPIServer(t, dir, bins, etcdURL, p, v, etcd, v.proc)
	kcm := startControllerManager(t, dir, bins, server, p)
	t.Logf("control plane ready after %s", time.Since(began).Round(time.Millisecond))
	watch := []*proc{etcd, apiserver, kcm, v.proc}

	admin := client(t, server, p, p.admin)
	eve := client(t, server, p, p.eve)
	registerAdmissionWebhook(t, admin, p, v, watch)
	act(t, server, p, admin, eve, watch)
	t.Run("DeployDryRun", func(t *testing.T) { deployDryRun(t, server, p, watch) })

	// The apiserver first, so that the audit events it still buffers
	// reach Vigil; then everything else but Vigil.
	for _, pr := range []*proc{kcm, apiserver, etcd} {
		if err := pr.stop(60 * time.Second); err != nil && !pr.signalled() {
			t.Errorf("%s: %v", pr.name, err)
		}
	}
	t.Logf("scenario done after %s", time.Since(began).Round(time.Millisecond))

	api := &vigilAPI{base: "https://" + v.addr, token: p.apiToken, client: httpsClient(p)}
	t.Run("ScenarioA", func(t *testing.T) { scenarioA(t, v, api) })
	t.Run("ScenarioB", func(t *testing.T) { scenarioB(t, v, api) })

	if err := v.stop(60 * time.Second); err != nil {
		t.Errorf("vigil serve did not exit cleanly: %v", err)
	}
}

// registerAdmissionWebhook creates the README's ValidatingWebhookConfiguration
// (detect mode), with Vigil's CA, and waits until the apiserver calls it:
// a server-side dry-run create, repeated until Vigil counts an admission
// event. failurePolicy is Fail here, not the README's Ignore, so that a
// webhook Vigil cannot answer fails the test at the request.
func registerAdmissionWebhook(t *testing.T, admin *kubernetes.Clientset, p *pki, v *vigil, watch []*proc) {
	t.Helper()
	ctx := context.Background()
	fail := admissionv1.Fail
	none := admissionv1.SideEffectClassNone
	timeout := int32(5)
	hookURL := "https://" + v.addr + "/admission"
	all := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect}
	cud := []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete}
	wh := &admissionv1.ValidatingWebhookConfiguration{
		// Not "vigil": that is the chart's, which DeployDryRun applies.
		ObjectMeta: metav1.ObjectMeta{Name: "vigil-e2e"},
		Webhooks: []admissionv1.ValidatingWebhook{{
			Name:                    "admission.vigil.dev",
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			ClientConfig:            admissionv1.WebhookClientConfig{URL: &hookURL, CABundle: p.ca.pem},
			Rules: []admissionv1.RuleWithOperations{
				{Operations: all, Rule: admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"},
					Resources: []string{"pods", "pods/exec", "pods/attach", "pods/portforward", "secrets", "configmaps", "serviceaccounts", "namespaces"}}},
				{Operations: cud, Rule: admissionv1.Rule{APIGroups: []string{"rbac.authorization.k8s.io"}, APIVersions: []string{"v1"},
					Resources: []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}}},
			},
		}},
	}
	if _, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, wh, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the ValidatingWebhookConfiguration: %v", err)
	}
	hc := httpsClient(p)
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vigil-e2e-probe"}}
	poll(t, 30*time.Second, "the apiserver calls Vigil's admission webhook", func() error {
		_, err := admin.CoreV1().ConfigMaps("default").Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return fmt.Errorf("dry-run create: %w", err)
		}
		n, err := metric(hc, "https://"+v.addr+"/metrics", "vigil_events_received_total", `capture="admission"`)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("Vigil has received no admission review yet")
		}
		return nil
	}, watch...)
}

// act is what the user does: everything both scenarios check, in the
// order of the captured run.
func act(t *testing.T, server string, p *pki, admin, eve *kubernetes.Clientset, watch []*proc) {
	t.Helper()
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	core, rbac := admin.CoreV1(), admin.RbacV1()

	// The namespace, with Pod Security enforcement at privileged so that
	// the pods below are admitted.
	_, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "demo", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}, metav1.CreateOptions{})
	must("create namespace demo", err)
	poll(t, 60*time.Second, "the serviceaccount controller creates demo/default", func() error {
		_, err := core.ServiceAccounts("demo").Get(ctx, "default", metav1.GetOptions{})
		return err
	}, watch...)

	// A ConfigMap holding a password.
	_, err = core.ConfigMaps("demo").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "db-config"},
		Data: map[string]string{"db.properties": "host=db.demo.svc\nuser=app\npassword=hunter2\n"}}, metav1.CreateOptions{})
	must("create configmap db-config", err)

	// A privileged pod and a pod with a hostPath volume.
	yes := true
	pause := "registry.k8s.io/pause:3.10"
	_, err = core.Pods("demo").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "priv"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: pause,
			SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}}, metav1.CreateOptions{})
	must("create pod priv", err)
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	_, err = core.Pods("demo").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostpath"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: pause,
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/srv/e2e-data", Type: &dirOrCreate}}}},
		}}, metav1.CreateOptions{})
	must("create pod hostpath", err)

	// Exec into the privileged pod, over SPDY as kubectl falls back to.
	// There is no kubelet, so the pod has no node: the apiserver answers
	// 400, as in the captured run, and audits the attempt.
	req := core.RESTClient().Post().Resource("pods").Namespace("demo").Name("priv").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "c", Command: []string{"id"}, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(restConfig(server, p, p.admin), "POST", req.URL())
	must("exec executor", err)
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "does not have a host assigned") {
		t.Fatalf("exec into demo/priv: got %v, want the apiserver's 400 (no host assigned)", err)
	}

	// demo's default service account bound to cluster-admin.
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "demo-admin"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: "demo"}}}, metav1.CreateOptions{})
	must("create clusterrolebinding demo-admin", err)

	// A secret, which eve (an ordinary user: a client certificate with no
	// groups) may read, and does.
	_, err = core.Secrets("demo").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "demo-secret"},
		StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{})
	must("create secret demo-secret", err)
	_, err = rbac.Roles("demo").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"demo-secret"}, Verbs: []string{"get"}}}},
		metav1.CreateOptions{})
	must("create role secret-reader", err)
	_, err = rbac.RoleBindings("demo").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "eve-reads-secret"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "secret-reader"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "eve"}}}, metav1.CreateOptions{})
	must("create rolebinding eve-reads-secret", err)
	poll(t, 30*time.Second, "eve reads demo/demo-secret", func() error {
		_, err := eve.CoreV1().Secrets("demo").Get(ctx, "demo-secret", metav1.GetOptions{})
		return err
	}, watch...)

	// Scenario A's action, which Scenario B sees too: the namespace goes,
	// emptied by the namespace controller.
	must("delete namespace demo", core.Namespaces().Delete(ctx, "demo", metav1.DeleteOptions{}))
	poll(t, 120*time.Second, "namespace demo is gone", func() error {
		_, err := core.Namespaces().Get(ctx, "demo", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return errors.New("still there")
	}, watch...)
}

// want is an alert a scenario expects: its rule, the path it came by, and
// words its message must hold.
type want struct {
	rule    string
	capture string   // webhook or admission
	words   []string // in the message
}

// scenarioA: the admission review of `delete namespace demo` raised K8s
// Namespace Deleted, which Vigil wrote to its outputs and stored, with
// the synthetic allow decision the admission path gives its events.
func scenarioA(t *testing.T, v *vigil, api *vigilAPI) {
	w := want{"K8s Namespace Deleted", "admission", []string{"user=admin", "verb=delete", "resource=namespaces", "name=demo", "resp=200"}}
	r := api.wait(t, w)
	if r == nil {
		t.FailNow()
	}
	d := api.alert(t, r.ID)
	if got := d.Event.Annotations["authorization.k8s.io/decision"]; got != "allow" {
		t.Errorf("the alert's event has decision %q, want allow", got)
	}
	if got := d.Event.Annotations["vigil.dev/capture"]; got != "admission" {
		t.Errorf("the alert's event has vigil.dev/capture %q, want admission", got)
	}
	if d.Cluster != "e2e" {
		t.Errorf("cluster %q, want e2e", d.Cluster)
	}
	for _, out := range []string{v.fileOut, v.log} { // the file output, and stdout
		waitLine(t, out, r.Alert.Message)
	}
}

// scenarioB: the audit webhook's batches raised one alert per action, in
// the file output and in the store.
func scenarioB(t *testing.T, v *vigil, api *vigilAPI) {
	ua := "useragent=" + userAgent
	wants := []want{
		{"Pod Security Enforcement Weakened", "webhook", []string{"enforce=privileged", "user=admin", "verb=create", "name=demo", "resp=201", ua}},
		{"ConfigMap With Credentials Written", "webhook", []string{"user=admin", "verb=create", "ns=demo", "name=db-config", "resp=201", ua}},
		{"Privileged Pod Created", "webhook", []string{"user=admin", "ns=demo", "name=priv", "resp=201", ua}},
		{"HostPath Volume Pod Created", "webhook", []string{"/srv/e2e-data", "user=admin", "ns=demo", "name=hostpath", "resp=201", ua}},
		{"Exec or Attach Into Pod", "webhook", []string{"command=id", "user=admin", "verb=create", "subresource=exec", "ns=demo", "name=priv", "resp=400", ua}},
		{"Admin Role Bound", "webhook", []string{"role=cluster-admin", "user=admin", "name=demo-admin", "resp=201", ua}},
		{"Secret Read by User", "webhook", []string{"user=eve", "verb=get", "ns=demo", "name=demo-secret", "resp=200", ua}},
		{"K8s Namespace Deleted", "webhook", []string{"user=admin", "verb=delete", "name=demo", "resp=200", ua}},
	}
	for _, w := range wants {
		r := api.wait(t, w)
		if r == nil {
			continue
		}
		if r.Cluster != "e2e" {
			t.Errorf("%s: cluster %q, want e2e", w.rule, r.Cluster)
		}
		waitLine(t, v.fileOut, r.Alert.Message)
	}
}

// record is the part of an alert of Vigil's API the test reads.
type record struct {
	ID    string `json:"id"`
	Alert struct {
		Rule    string `json:"rule"`
		Message string `json:"message"`
	} `json:"alert"`
	Cluster string `json:"cluster"`
	Capture string `json:"capture"`
	Event   struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"event"`
}

func find(recs []record, w want) *record {
next:
	for i, r := range recs {
		if r.Alert.Rule != w.rule || r.Capture != w.capture {
			continue
		}
		for _, word := range w.words {
			if !strings.Contains(r.Alert.Message, word) {
				continue next
			}
		}
		return &recs[i]
	}
	return nil
}

func describe(recs []record) string {
	if len(recs) == 0 {
		return "  nothing"
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  [%s] %s: %s\n", r.Capture, r.Alert.Rule, r.Alert.Message)
	}
	return b.String()
}

// deliveryTimeout bounds the wait for an alert to reach the store and the
// outputs, which Vigil feeds from its journal asynchronously.
const deliveryTimeout = 30 * time.Second

// wait returns the stored alert w describes, polling until it is there;
// after deliveryTimeout it reports what the store holds for the rule and
// returns nil.
func (a *vigilAPI) wait(t *testing.T, w want) *record {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		recs := a.alerts(t, url.Values{"rule": {w.rule}})
		if r := find(recs, w); r != nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Errorf("no %s alert by the %s path with %q; the store has for this rule:\n%s", w.rule, w.capture, w.words, describe(recs))
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitLine waits until a line of file ends with msg, as Falco's text lines
// ("HH:MM:SS.nnnnnnnnn: Priority message") do. Like Falco, Vigil writes
// the line through a JSON string encoder without the quotes, so msg is
// looked for escaped the same way.
func waitLine(t *testing.T, file, msg string) {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		t.Fatal(err)
	}
	msg = strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]
	deadline := time.Now().Add(deliveryTimeout)
	for !hasLine(file, msg) {
		if time.Now().After(deadline) {
			t.Errorf("%s has no line ending with %q", file, msg)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hasLine(file, msg string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasSuffix(sc.Text(), " "+msg) {
			return true
		}
	}
	return false
}

// vigilAPI is Vigil's JSON API, with a viewer token.
type vigilAPI struct {
	base, token string
	client      *http.Client
}

func (a *vigilAPI) get(t *testing.T, path string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// alerts returns every stored alert matching q.
func (a *vigilAPI) alerts(t *testing.T, q url.Values) []record {
	t.Helper()
	var all []record
	q.Set("limit", "1000")
	for {
		var page struct {
			Alerts []record `json:"alerts"`
			Next   string   `json:"next"`
		}
		a.get(t, "/api/v1/alerts?"+q.Encode(), &page)
		all = append(all, page.Alerts...)
		if page.Next == "" {
			return all
		}
		q.Set("cursor", page.Next)
	}
}

// alert returns one stored alert, with its event.
func (a *vigilAPI) alert(t *testing.T, id string) record {
	t.Helper()
	var r record
	a.get(t, "/api/v1/alerts/"+url.PathEscape(id), &r)
	return r
}

// httpsClient trusts the run's CA.
func httpsClient(p *pki) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca.cert)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// metric sums the samples of name whose labels contain label, from a
// Prometheus text exposition.
func metric(c *http.Client, addr, name, label string) (float64, error) {
	resp, err := c.Get(addr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", addr, resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", line, err)
		}
		sum += f
	}
	return sum, sc.Err()
}
