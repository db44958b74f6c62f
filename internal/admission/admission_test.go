package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
	"github.com/vigilsec/vigil/internal/redact"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// received is the receive time used by every test.
var received = time.Date(2026, 11, 22, 11, 23, 9, 520540123, time.FixedZone("CET", 3600))

func readCaptured(t testing.TB, n int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "captured", fmt.Sprintf("admission-review-%02d.json", n)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeEvent checks that ev is one compact audit event that the audit
// decoder accepts, and returns it indexed.
func decodeEvent(t testing.TB, ev []byte) *audit.Event {
	t.Helper()
	if !json.Valid(ev) {
		t.Fatalf("event is not valid JSON: %s", ev)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, ev); err != nil || !bytes.Equal(c.Bytes(), ev) {
		t.Fatalf("event is not compact: %s", ev)
	}
	d := audit.NewBytesDecoder(ev, audit.Options{Limits: audit.Limits{MaxEventSize: 64 << 20}})
	var e audit.Event
	if err := d.Next(&e); err != nil {
		t.Fatalf("audit decoder: %v\n%s", err, ev)
	}
	if !e.IsAudit() {
		t.Fatalf("no auditID: %s", ev)
	}
	var e2 audit.Event
	if err := d.Next(&e2); err != io.EOF {
		t.Fatalf("second Next = %v, want io.EOF", err)
	}
	return &e
}

func text(e *audit.Event, k audit.Key, path ...string) string {
	v := e.Top(k)
	for _, p := range path {
		v, _ = rawjson.Get(v, p)
	}
	return string(rawjson.AppendText(nil, v))
}

// TestCaptured decodes every captured review. The wanted verb, requestURI
// and objectRef are those of the real audit event of the same request
// where the API server logged one with the same meaning (reviews 01 to
// 12); the deletes of 13 to 19 came from deletecollection requests, which
// the API server logs once per collection.
func TestCaptured(t *testing.T) {
	const (
		admin = "admin"
		nsc   = "system:serviceaccount:kube-system:namespace-controller"
		kcq   = "?fieldManager=kubectl-create&fieldValidation=Strict"
		exec  = "/api/v1/namespaces/demo/pods/demo-pod/exec?command=id&container=demo-pod&stderr=true&stdout=true"
	)
	tests := []struct {
		n                         int
		op, kind, resource, sub   string
		ns, name, user, verb, uri string
		objectRef                 string
		requestObject, respObject bool
		synthetic                 string
	}{
		{1, "CREATE", "Namespace", "namespaces", "", "demo", "demo", admin, "create", "/api/v1/namespaces" + kcq,
			`{"resource":"namespaces","name":"demo","apiVersion":"v1"}`, true, false, syntheticAlways},
		{2, "CREATE", "ServiceAccount", "serviceaccounts", "", "demo", "default", "system:serviceaccount:kube-system:service-account-controller", "create",
			"/api/v1/namespaces/demo/serviceaccounts",
			`{"resource":"serviceaccounts","namespace":"demo","name":"default","apiVersion":"v1"}`, true, false, syntheticAlways},
		{3, "CREATE", "ConfigMap", "configmaps", "", "demo", "kube-root-ca.crt", "system:serviceaccount:kube-system:root-ca-cert-publisher", "create",
			"/api/v1/namespaces/demo/configmaps",
			`{"resource":"configmaps","namespace":"demo","name":"kube-root-ca.crt","apiVersion":"v1"}`, true, false, syntheticAlways},
		{4, "CREATE", "ConfigMap", "configmaps", "", "demo", "demo-config", admin, "create", "/api/v1/namespaces/demo/configmaps" + kcq,
			`{"resource":"configmaps","namespace":"demo","name":"demo-config","apiVersion":"v1"}`, true, false, syntheticAlways},
		// The real event says verb patch: admission cannot tell a patch from an update.
		{5, "UPDATE", "ConfigMap", "configmaps", "", "demo", "demo-config", admin, "update",
			"/api/v1/namespaces/demo/configmaps/demo-config?fieldManager=kubectl-patch",
			`{"resource":"configmaps","namespace":"demo","name":"demo-config","apiVersion":"v1"}`, true, false, syntheticAlways},
		{6, "CREATE", "ConfigMap", "configmaps", "", "demo", "blocked", admin, "create", "/api/v1/namespaces/demo/configmaps" + kcq,
			`{"resource":"configmaps","namespace":"demo","name":"blocked","apiVersion":"v1"}`, true, false, syntheticAlways},
		{7, "CREATE", "Secret", "secrets", "", "demo", "demo-secret", admin, "create", "/api/v1/namespaces/demo/secrets" + kcq,
			`{"resource":"secrets","namespace":"demo","name":"demo-secret","apiVersion":"v1"}`, true, false, syntheticAlways},
		{8, "CREATE", "Pod", "pods", "", "demo", "demo-pod", admin, "create", "/api/v1/namespaces/demo/pods?fieldManager=kubectl-run",
			`{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1"}`, true, false, syntheticAlways},
		{9, "CREATE", "RoleBinding", "rolebindings", "", "demo", "demo-view", admin, "create",
			"/apis/rbac.authorization.k8s.io/v1/namespaces/demo/rolebindings" + kcq,
			`{"resource":"rolebindings","namespace":"demo","name":"demo-view","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}`, true, false, syntheticAlways},
		{10, "CONNECT", "PodExecOptions", "pods", "exec", "demo", "demo-pod", admin, "create", exec,
			`{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1","subresource":"exec"}`, true, false, syntheticAlways},
		{11, "CONNECT", "PodExecOptions", "pods", "exec", "demo", "demo-pod", admin, "create", exec,
			`{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1","subresource":"exec"}`, true, false, syntheticAlways},
		{12, "DELETE", "Namespace", "namespaces", "", "demo", "demo", admin, "delete", "/api/v1/namespaces/demo",
			`{"resource":"namespaces","namespace":"demo","name":"demo","apiVersion":"v1"}`, false, true, syntheticDelete},
		{13, "DELETE", "Pod", "pods", "", "demo", "demo-pod", nsc, "delete", "/api/v1/namespaces/demo/pods/demo-pod",
			`{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1"}`, false, true, syntheticDelete},
		{14, "DELETE", "Pod", "pods", "", "demo", "demo-pod", nsc, "delete", "/api/v1/namespaces/demo/pods/demo-pod",
			`{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1"}`, false, true, syntheticDelete},
		{15, "DELETE", "Secret", "secrets", "", "demo", "demo-secret", nsc, "delete", "/api/v1/namespaces/demo/secrets/demo-secret",
			`{"resource":"secrets","namespace":"demo","name":"demo-secret","apiVersion":"v1"}`, false, true, syntheticDelete},
		{16, "DELETE", "RoleBinding", "rolebindings", "", "demo", "demo-view", nsc, "delete",
			"/apis/rbac.authorization.k8s.io/v1/namespaces/demo/rolebindings/demo-view",
			`{"resource":"rolebindings","namespace":"demo","name":"demo-view","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}`, false, true, syntheticDelete},
		{17, "DELETE", "ConfigMap", "configmaps", "", "demo", "demo-config", nsc, "delete", "/api/v1/namespaces/demo/configmaps/demo-config",
			`{"resource":"configmaps","namespace":"demo","name":"demo-config","apiVersion":"v1"}`, false, true, syntheticDelete},
		{18, "DELETE", "ConfigMap", "configmaps", "", "demo", "kube-root-ca.crt", nsc, "delete", "/api/v1/namespaces/demo/configmaps/kube-root-ca.crt",
			`{"resource":"configmaps","namespace":"demo","name":"kube-root-ca.crt","apiVersion":"v1"}`, false, true, syntheticDelete},
		{19, "DELETE", "ServiceAccount", "serviceaccounts", "", "demo", "default", nsc, "delete", "/api/v1/namespaces/demo/serviceaccounts/default",
			`{"resource":"serviceaccounts","namespace":"demo","name":"default","apiVersion":"v1"}`, false, true, syntheticDelete},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%02d", tc.n), func(t *testing.T) {
			body := readCaptured(t, tc.n)
			r, ev, err := Decode(body, received, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Request struct {
					UID      string
					UserInfo struct{ Groups []string }
					Resource struct{ Group, Version string }
				}
			}
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			want := Review{APIVersion: V1, UID: raw.Request.UID, Operation: tc.op,
				Group: raw.Request.Resource.Group, Version: raw.Request.Resource.Version,
				Resource: tc.resource, SubResource: tc.sub, Namespace: tc.ns, Name: tc.name,
				Kind: tc.kind, User: tc.user, Groups: raw.Request.UserInfo.Groups}
			if !equalReview(*r, want) {
				t.Errorf("review\n got %+v\nwant %+v", *r, want)
			}

			e := decodeEvent(t, ev)
			checks := []struct{ what, got, want string }{
				{"auditID", text(e, audit.KeyAuditID), raw.Request.UID},
				{"verb", text(e, audit.KeyVerb), tc.verb},
				{"requestURI", text(e, audit.KeyRequestURI), tc.uri},
				{"objectRef", string(e.Top(audit.KeyObjectRef)), tc.objectRef},
				{"user.username", text(e, audit.KeyUser, "username"), tc.user},
				{"user.groups", text(e, audit.KeyUser, "groups"), mustJSON(t, raw.Request.UserInfo.Groups)},
				{"stage", text(e, audit.KeyStage), "ResponseComplete"},
				{"level", text(e, audit.KeyLevel), "RequestResponse"},
				{"responseStatus", string(e.Top(audit.KeyResponseStatus)), `{"metadata":{},"code":200}`},
				{"stageTimestamp", text(e, audit.KeyStageTimestamp), "2026-11-22T10:23:09.520540Z"},
				{"requestReceivedTimestamp", text(e, audit.KeyRequestReceivedTimestamp), "2026-11-22T10:23:09.520540Z"},
				{"decision", text(e, audit.KeyAnnotations, "authorization.k8s.io/decision"), "allow"},
				{"capture", text(e, audit.KeyAnnotations, AnnotationCapture), "admission"},
				{"synthetic", text(e, audit.KeyAnnotations, AnnotationSynthetic), tc.synthetic},
				{"requestObject", fmt.Sprint(e.Top(audit.KeyRequestObject) != nil), fmt.Sprint(tc.requestObject)},
				{"responseObject", fmt.Sprint(e.Top(audit.KeyResponseObject) != nil), fmt.Sprint(tc.respObject)},
				{"sourceIPs", fmt.Sprint(e.Top(audit.KeySourceIPs) != nil), "false"},
				{"userAgent", fmt.Sprint(e.Top(audit.KeyUserAgent) != nil), "false"},
				{"impersonatedUser", fmt.Sprint(e.Top(audit.KeyImpersonatedUser) != nil), "false"},
			}
			if tc.respObject {
				checks = append(checks, struct{ what, got, want string }{
					"responseObject.metadata.name", text(e, audit.KeyResponseObject, "metadata", "name"), tc.name})
			}
			if tc.op == "CONNECT" {
				checks = append(checks, struct{ what, got, want string }{
					"requestObject", string(e.Top(audit.KeyRequestObject)),
					`{"kind":"PodExecOptions","apiVersion":"v1","stdout":true,"stderr":true,"container":"demo-pod","command":["id"]}`})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
				}
			}
		})
	}
}

func equalReview(a, b Review) bool {
	return reflect.DeepEqual(a, b)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestObjectsPreserved checks that the objects are the review's own bytes,
// compacted: numbers and key order survive.
func TestObjectsPreserved(t *testing.T) {
	for _, n := range []int{8, 13} {
		body := readCaptured(t, n)
		_, ev, err := Decode(body, received, Options{})
		if err != nil {
			t.Fatal(err)
		}
		e := decodeEvent(t, ev)
		req, _ := rawjson.Get(trimWS(body), "request")
		key, top := "object", audit.KeyRequestObject
		if n == 13 {
			key, top = "oldObject", audit.KeyResponseObject
		}
		want, _ := rawjson.Get(req, key)
		if got := e.Top(top); !bytes.Equal(got, want) {
			t.Errorf("review %02d: %s is not %s byte for byte", n, top, key)
		}
	}
}

// TestV1beta1 decodes a review rewritten to admission.k8s.io/v1beta1 and
// pretty-printed: the event is the same, and the response echoes v1beta1.
func TestV1beta1(t *testing.T) {
	body := readCaptured(t, 10)
	_, want, err := Decode(body, received, Options{})
	if err != nil {
		t.Fatal(err)
	}
	beta := bytes.Replace(body, []byte(`"apiVersion":"admission.k8s.io/v1"`), []byte(`"apiVersion":"admission.k8s.io/v1beta1"`), 1)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, beta, "", "  "); err != nil {
		t.Fatal(err)
	}
	r, got, err := Decode(pretty.Bytes(), received, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.APIVersion != V1beta1 {
		t.Errorf("APIVersion = %q, want %q", r.APIVersion, V1beta1)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("v1beta1 event differs from v1\n got %s\nwant %s", got, want)
	}
	resp := Response(r, true, 0, "", nil)
	if !bytes.HasPrefix(resp, []byte(`{"apiVersion":"admission.k8s.io/v1beta1",`)) {
		t.Errorf("response = %s", resp)
	}
}

// TestGolden compares the whole synthesized events of a few reviews with
// testdata/*.event.json (indented for reading). Run with -update to
// rewrite them.
func TestGolden(t *testing.T) {
	for _, n := range []int{1, 5, 9, 10, 12, 15} {
		t.Run(fmt.Sprintf("%02d", n), func(t *testing.T) {
			_, ev, err := Decode(readCaptured(t, n), received, Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, fmt.Sprintf("review-%02d.event.json", n), ev, true)
		})
	}
}

// golden compares got with testdata/name, indented for reading when indent
// is set, else byte for byte.
func golden(t *testing.T, name string, got []byte, indent bool) {
	t.Helper()
	var ind bytes.Buffer
	if indent {
		if err := json.Indent(&ind, got, "", "  "); err != nil {
			t.Fatalf("indent: %v\n%s", err, got)
		}
	} else {
		ind.Write(got)
	}
	ind.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, ind.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(ind.Bytes(), want) {
		t.Errorf("%s differs (run go test -update to accept):\n got %s\nwant %s", path, ind.Bytes(), want)
	}
}

// request returns an AdmissionReview whose request is base with the given
// members replaced (a nil value deletes the member).
func request(t testing.TB, set map[string]any) []byte {
	t.Helper()
	req := map[string]any{
		"uid":       "0000-1111",
		"kind":      map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource":  map[string]any{"group": "", "version": "v1", "resource": "pods"},
		"namespace": "ns",
		"name":      "p",
		"operation": "CREATE",
		"userInfo":  map[string]any{"username": "u", "groups": []string{"g"}},
		"object":    map[string]any{"kind": "Pod", "metadata": map[string]any{"name": "p"}},
		"oldObject": nil,
		"dryRun":    false,
		"options":   map[string]any{"kind": "CreateOptions"},
	}
	for k, v := range set {
		if v == nil {
			delete(req, k)
		} else {
			req[k] = v
		}
	}
	b, err := json.Marshal(map[string]any{"kind": "AdmissionReview", "apiVersion": V1, "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type gvr = map[string]any

// TestMapping covers the mapping rules on made-up reviews: URIs of every
// shape, names, namespaces, objects, dry runs and escaping.
func TestMapping(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		// wanted values; "" means the member must be absent
		verb, uri, objectRef, requestObject, responseObject, dryRun, user string
	}{
		{name: "cluster-scoped group resource",
			set: map[string]any{"resource": gvr{"group": "rbac.authorization.k8s.io", "version": "v1", "resource": "clusterrolebindings"},
				"namespace": "", "name": "admin-binding", "object": gvr{"metadata": gvr{"name": "admin-binding"}}},
			verb: "create", uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
			objectRef:     `{"resource":"clusterrolebindings","name":"admin-binding","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}`,
			requestObject: `{"metadata":{"name":"admin-binding"}}`},
		{name: "cluster-scoped update with a colon in the name",
			set: map[string]any{"resource": gvr{"group": "rbac.authorization.k8s.io", "version": "v1", "resource": "clusterroles"},
				"namespace": "", "name": "system:coredns", "operation": "UPDATE",
				"object": gvr{"metadata": gvr{"name": "system:coredns"}}, "oldObject": gvr{"metadata": gvr{"name": "system:coredns"}}},
			verb: "update", uri: "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:coredns",
			objectRef:     `{"resource":"clusterroles","name":"system:coredns","apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}`,
			requestObject: `{"metadata":{"name":"system:coredns"}}`},
		{name: "generateName create takes the name from object",
			set:  map[string]any{"name": "", "object": gvr{"metadata": gvr{"generateName": "web-", "name": "web-x7k2p"}}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods",
			objectRef: `{"resource":"pods","namespace":"ns","name":"web-x7k2p","apiVersion":"v1"}`, requestObject: `{"metadata":{"generateName":"web-","name":"web-x7k2p"}}`},
		{name: "create without any name",
			set:  map[string]any{"name": nil, "object": gvr{"metadata": gvr{"generateName": "web-"}}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods",
			objectRef: `{"resource":"pods","namespace":"ns","apiVersion":"v1"}`, requestObject: `{"metadata":{"generateName":"web-"}}`},
		{name: "create options with dry run",
			set: map[string]any{"dryRun": true, "options": gvr{"kind": "CreateOptions", "dryRun": []string{"All"},
				"fieldManager": "kubectl client-side apply", "fieldValidation": "Strict", "ignored": "x"}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods?dryRun=All&fieldManager=kubectl+client-side+apply&fieldValidation=Strict",
			objectRef: `{"resource":"pods","namespace":"ns","name":"p","apiVersion":"v1"}`, requestObject: `{"kind":"Pod","metadata":{"name":"p"}}`,
			dryRun: "true"},
		{name: "create on a subresource names the object",
			set: map[string]any{"resource": gvr{"group": "", "version": "v1", "resource": "serviceaccounts"}, "subResource": "token",
				"name": "default", "object": gvr{"kind": "TokenRequest"}},
			verb: "create", uri: "/api/v1/namespaces/ns/serviceaccounts/default/token",
			objectRef: `{"resource":"serviceaccounts","namespace":"ns","name":"default","apiVersion":"v1","subresource":"token"}`, requestObject: `{"kind":"TokenRequest"}`},
		{name: "namespace status update",
			set: map[string]any{"resource": gvr{"group": "", "version": "v1", "resource": "namespaces"}, "subResource": "status",
				"name": "demo", "namespace": "demo", "operation": "UPDATE", "object": gvr{"kind": "Namespace"}, "oldObject": gvr{"kind": "Namespace"}},
			verb: "update", uri: "/api/v1/namespaces/demo/status",
			objectRef: `{"resource":"namespaces","namespace":"demo","name":"demo","apiVersion":"v1","subresource":"status"}`, requestObject: `{"kind":"Namespace"}`},
		{name: "exec with several words",
			set: map[string]any{"operation": "CONNECT", "subResource": "exec", "options": nil,
				"object": gvr{"kind": "PodExecOptions", "apiVersion": "v1", "stdin": true, "stdout": true, "stderr": false, "tty": true,
					"container": "c", "command": []string{"sh", "-c", "cat /etc/shadow & id"}}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=cat+%2Fetc%2Fshadow+%26+id&container=c&stdin=true&stdout=true&tty=true",
			objectRef:     `{"resource":"pods","namespace":"ns","name":"p","apiVersion":"v1","subresource":"exec"}`,
			requestObject: `{"apiVersion":"v1","command":["sh","-c","cat /etc/shadow \u0026 id"],"container":"c","kind":"PodExecOptions","stderr":false,"stdin":true,"stdout":true,"tty":true}`},
		{name: "attach",
			set: map[string]any{"operation": "CONNECT", "subResource": "attach",
				"object": gvr{"kind": "PodAttachOptions", "stdin": true, "container": "c"}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods/p/attach?container=c&stdin=true",
			objectRef:     `{"resource":"pods","namespace":"ns","name":"p","apiVersion":"v1","subresource":"attach"}`,
			requestObject: `{"container":"c","kind":"PodAttachOptions","stdin":true}`},
		{name: "portforward",
			set: map[string]any{"operation": "CONNECT", "subResource": "portforward",
				"object": gvr{"kind": "PodPortForwardOptions", "ports": []int{8080, 9090}}},
			verb: "create", uri: "/api/v1/namespaces/ns/pods/p/portforward?ports=8080&ports=9090",
			objectRef:     `{"resource":"pods","namespace":"ns","name":"p","apiVersion":"v1","subresource":"portforward"}`,
			requestObject: `{"kind":"PodPortForwardOptions","ports":[8080,9090]}`},
		{name: "service proxy path",
			set: map[string]any{"operation": "CONNECT", "subResource": "proxy", "name": "web:http",
				"resource": gvr{"group": "", "version": "v1", "resource": "services"},
				"object":   gvr{"kind": "ServiceProxyOptions", "path": "/metrics/a b"}},
			verb: "create", uri: "/api/v1/namespaces/ns/services/web:http/proxy/metrics/a%20b",
			objectRef:     `{"resource":"services","namespace":"ns","name":"web:http","apiVersion":"v1","subresource":"proxy"}`,
			requestObject: `{"kind":"ServiceProxyOptions","path":"/metrics/a b"}`},
		{name: "node proxy is cluster-scoped",
			set: map[string]any{"operation": "CONNECT", "subResource": "proxy", "name": "node-1", "namespace": "",
				"resource": gvr{"group": "", "version": "v1", "resource": "nodes"},
				"object":   gvr{"kind": "NodeProxyOptions", "path": "configz"}},
			verb: "create", uri: "/api/v1/nodes/node-1/proxy/configz",
			objectRef:     `{"resource":"nodes","name":"node-1","apiVersion":"v1","subresource":"proxy"}`,
			requestObject: `{"kind":"NodeProxyOptions","path":"configz"}`},
		{name: "dry-run delete keeps the old object as the response",
			set: map[string]any{"operation": "DELETE", "name": "", "dryRun": true, "object": nil,
				"oldObject": gvr{"metadata": gvr{"name": "old", "n": 1.50}}, "options": gvr{"kind": "DeleteOptions", "dryRun": []string{"All"}}},
			verb: "delete", uri: "/api/v1/namespaces/ns/pods/old",
			objectRef:      `{"resource":"pods","namespace":"ns","name":"old","apiVersion":"v1"}`,
			responseObject: `{"metadata":{"n":1.5,"name":"old"}}`, dryRun: "true"},
		{name: "delete without old object",
			set:  map[string]any{"operation": "DELETE", "object": nil},
			verb: "delete", uri: "/api/v1/namespaces/ns/pods/p",
			objectRef: `{"resource":"pods","namespace":"ns","name":"p","apiVersion":"v1"}`},
		{name: "escaping and impersonated user",
			set: map[string]any{"name": "a\"b\\c/d?e", "namespace": "n s",
				"userInfo": gvr{"username": "eve\u2028\n", "uid": "42", "groups": []string{}, "extra": gvr{"k": []string{"v"}}}},
			verb: "create", uri: "/api/v1/namespaces/n%20s/pods", user: `{"username":"eve\u2028\n","uid":"42","groups":[],"extra":{"k":["v"]}}`,
			objectRef:     `{"resource":"pods","namespace":"n s","name":"a\"b\\c/d?e","apiVersion":"v1"}`,
			requestObject: `{"kind":"Pod","metadata":{"name":"p"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ev, err := Decode(request(t, tc.set), received, Options{})
			if err != nil {
				t.Fatal(err)
			}
			e := decodeEvent(t, ev)
			if tc.user == "" {
				tc.user = `{"username":"u","groups":["g"]}`
			}
			checks := []struct{ what, got, want string }{
				{"verb", text(e, audit.KeyVerb), tc.verb},
				{"requestURI", text(e, audit.KeyRequestURI), tc.uri},
				{"objectRef", string(e.Top(audit.KeyObjectRef)), tc.objectRef},
				{"requestObject", string(e.Top(audit.KeyRequestObject)), tc.requestObject},
				{"responseObject", string(e.Top(audit.KeyResponseObject)), tc.responseObject},
				{"dry-run", text(e, audit.KeyAnnotations, AnnotationDryRun), tc.dryRun},
				{"user", string(e.Top(audit.KeyUser)), tc.user},
				{"Review.DryRun", fmt.Sprint(r.DryRun), fmt.Sprint(tc.dryRun == "true")},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	review := func(request string) string {
		return `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":` + request + `}`
	}
	const user = `"userInfo":{"username":"u"}`
	const res = `"resource":{"group":"","version":"v1","resource":"pods"}`
	ok := func(members string) string {
		return review(`{"uid":"1","operation":"CREATE",` + res + `,` + user + members + `}`)
	}
	tests := []struct {
		name string
		body string
		opt  Options
		want string
	}{
		{"empty", ``, Options{}, "parse admission review: offset 0: unexpected end of JSON input"},
		{"not json", `{"kind":AdmissionReview}`, Options{}, "parse admission review: offset 8: invalid character 'A' looking for beginning of value"},
		{"trailing", ok(``) + `x`, Options{}, "parse admission review: offset 189: invalid character 'x' after top-level value"},
		{"truncated", ok(``)[:50], Options{}, "parse admission review: offset 50: unexpected end of JSON input"},
		{"not utf-8", review(`{"uid":"` + "\xff" + `"}`), Options{}, "admission review is not valid UTF-8 at offset 79"},
		{"array", `[]`, Options{}, "admission review is an array, want an object"},
		{"too large", ok(``), Options{MaxBodyBytes: 100}, "admission review larger than the body size limit: 189 bytes, limit 100"},
		{"too deep", review(`{"uid":"1","object":[[[[[[]]]]]]}`), Options{MaxDepth: 6}, "parse admission review: offset 95: nesting deeper than 6 levels"},
		{"missing kind", `{"apiVersion":"admission.k8s.io/v1"}`, Options{}, "missing member kind"},
		{"wrong kind", `{"kind":"Pod","apiVersion":"admission.k8s.io/v1"}`, Options{}, `kind is "Pod", want "AdmissionReview"`},
		{"kind not a string", `{"kind":1}`, Options{}, `kind is a number, want a string`},
		{"missing apiVersion", `{"kind":"AdmissionReview"}`, Options{}, "missing member apiVersion"},
		{"wrong apiVersion", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v2"}`, Options{},
			`apiVersion is "admission.k8s.io/v2", want "admission.k8s.io/v1" or "admission.k8s.io/v1beta1"`},
		{"missing request", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{}}`, Options{}, "missing member request"},
		{"null request", review(`null`), Options{}, "request is null, want an object"},
		{"missing uid", review(`{"operation":"CREATE"}`), Options{}, "missing member request.uid"},
		{"empty uid", review(`{"uid":""}`), Options{}, "request.uid is empty"},
		{"uid not a string", review(`{"uid":7}`), Options{}, "request.uid is a number, want a string"},
		{"missing operation", review(`{"uid":"1"}`), Options{}, "missing member request.operation"},
		{"unknown operation", review(`{"uid":"1","operation":"PATCH"}`), Options{},
			`request.operation is "PATCH", want CREATE, UPDATE, DELETE or CONNECT`},
		{"lower-case operation", review(`{"uid":"1","operation":"create"}`), Options{},
			`request.operation is "create", want CREATE, UPDATE, DELETE or CONNECT`},
		{"missing resource", review(`{"uid":"1","operation":"CREATE"}`), Options{}, "missing member request.resource"},
		{"resource not an object", review(`{"uid":"1","operation":"CREATE","resource":"pods"}`), Options{},
			"request.resource is a string, want an object"},
		{"missing resource.resource", review(`{"uid":"1","operation":"CREATE","resource":{"version":"v1"}}`), Options{},
			"missing member request.resource.resource"},
		{"empty version", review(`{"uid":"1","operation":"CREATE","resource":{"version":"","resource":"pods"}}`), Options{},
			"request.resource.version is empty"},
		{"group not a string", review(`{"uid":"1","operation":"CREATE","resource":{"group":false,"version":"v1","resource":"pods"}}`), Options{},
			"request.resource.group is a boolean, want a string"},
		{"missing userInfo", review(`{"uid":"1","operation":"CREATE",` + res + `}`), Options{}, "missing member request.userInfo"},
		{"missing username", review(`{"uid":"1","operation":"CREATE",` + res + `,"userInfo":{}}`), Options{},
			"missing member request.userInfo.username"},
		{"group not a string", review(`{"uid":"1","operation":"CREATE",` + res + `,"userInfo":{"username":"u","groups":["a",1]}}`), Options{},
			"request.userInfo.groups[1] is a number, want a string"},
		{"extra not arrays", review(`{"uid":"1","operation":"CREATE",` + res + `,"userInfo":{"username":"u","extra":{"a\"b":"x"}}}`), Options{},
			`request.userInfo.extra["a\"b"] is a string, want an array`},
		{"extra element", review(`{"uid":"1","operation":"CREATE",` + res + `,"userInfo":{"username":"u","extra":{"k":["x",{}]}}}`), Options{},
			`request.userInfo.extra["k"][1] is an object, want a string`},
		{"object not an object", ok(`,"object":[]`), Options{}, "request.object is an array, want an object"},
		{"oldObject not an object", ok(`,"oldObject":"x"`), Options{}, "request.oldObject is a string, want an object"},
		{"options not an object", ok(`,"options":1`), Options{}, "request.options is a number, want an object"},
		{"dryRun not a boolean", ok(`,"dryRun":"true"`), Options{}, "request.dryRun is a string, want a boolean"},
		{"name not a string", ok(`,"name":["a"]`), Options{}, "request.name is an array, want a string"},
		{"kind.kind not a string", ok(`,"kind":{"kind":1}`), Options{}, "request.kind.kind is a number, want a string"},
		{"bad metadata", ok(`,"object":{"metadata":"x"}`), Options{}, "request.object.metadata is a string, want an object"},
		{"bad metadata name", ok(`,"oldObject":{"metadata":{"name":1}}`), Options{}, "request.oldObject.metadata.name is a number, want a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ev, err := Decode([]byte(tc.body), received, tc.opt)
			if err == nil {
				t.Fatalf("no error; event %s", ev)
			}
			if r != nil || ev != nil {
				t.Errorf("got a review or event with the error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
	_, _, err := Decode([]byte(ok(``)), received, Options{MaxBodyBytes: 10})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v does not wrap ErrTooLarge", err)
	}
	if _, _, err := Decode([]byte(ok(``)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Options{}); err == nil ||
		err.Error() != "receive time 10000 is outside years 0 to 9999" {
		t.Errorf("year 10000: %v", err)
	}
}

// TestDuplicateMembers checks that the first of duplicated members wins,
// as in the audit decoder.
func TestDuplicateMembers(t *testing.T) {
	body := `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"1","uid":"2","operation":"DELETE","operation":"CREATE",` +
		`"resource":{"version":"v1","resource":"pods"},"userInfo":{"username":"a","username":"b"}}}`
	r, ev, err := Decode([]byte(body), received, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.UID != "1" || r.Operation != "DELETE" || r.User != "a" {
		t.Errorf("review %+v", r)
	}
	decodeEvent(t, ev)
}

func TestResponse(t *testing.T) {
	v1 := &Review{APIVersion: V1, UID: "705ab4f5-6393-11e8-b7cc-42010a800002"}
	beta := &Review{APIVersion: V1beta1, UID: "705ab4f5-6393-11e8-b7cc-42010a800002"}
	tests := []struct {
		name     string
		r        *Review
		allowed  bool
		code     int32
		message  string
		warnings []string
	}{
		{"allowed", v1, true, 0, "", nil},
		{"allowed-warnings", v1, true, 200, "ignored", []string{"secret created", `quote " and <tag>`}},
		{"refused", v1, false, 403, "configmaps labelled policy=deny are rejected by vigil", nil},
		{"refused-default-code", v1, false, 0, "", []string{"w"}},
		{"v1beta1-allowed", beta, true, 0, "", nil},
		{"v1beta1-refused", beta, false, 422, "bad\nthing", []string{"w1", "w2"}},
		{"nil-review", nil, false, 500, "decode failed", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Response(tc.r, tc.allowed, tc.code, tc.message, tc.warnings)
			var c bytes.Buffer
			if err := json.Compact(&c, got); err != nil || !bytes.Equal(c.Bytes(), got) {
				t.Fatalf("not compact valid JSON: %s", got)
			}
			var resp struct {
				APIVersion, Kind string
				Response         struct {
					UID     string
					Allowed bool
					Status  *struct {
						Code    int32
						Message string
					}
					Warnings []string
				}
			}
			if err := json.Unmarshal(got, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Response.Allowed != tc.allowed || (resp.Response.Status == nil) != tc.allowed ||
				!slices.Equal(resp.Response.Warnings, tc.warnings) {
				t.Errorf("response %+v", resp)
			}
			golden(t, "response-"+tc.name+".json", got, false)
		})
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\t\n\r", "é日本\u2028\u2029", "bad \xff utf8 \xc3", "<&>"} {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is invalid: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
		std, _ := json.Marshal(s)
		if s != "<&>" && !bytes.Equal(got, std) {
			t.Errorf("appendString(%q) = %s, encoding/json gives %s", s, got, std)
		}
	}
}

// TestSecretRedactable checks that the Secret data a CREATE carries into
// the synthesized event (review 07) and the DELETE's old object (review 15)
// are removed by the redact package, as they must be before an event
// leaves the process.
func TestSecretRedactable(t *testing.T) {
	for _, n := range []int{7, 15} {
		_, ev, err := Decode(readCaptured(t, n), received, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ev, []byte("aHVudGVyMg==")) {
			t.Fatalf("review %02d: the secret should be in the unredacted event", n)
		}
		out, changed := redact.Event(ev)
		if !changed || bytes.Contains(out, []byte("aHVudGVyMg==")) {
			t.Errorf("review %02d: secret left after redaction: %s", n, out)
		}
		decodeEvent(t, out)
	}
}
