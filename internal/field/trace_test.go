package field

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
)

// traceDir holds the upstream Falco traces (see its README.md).
const traceDir = "testdata/falco"

// loadTrace parses every non-empty line of a trace file. Lines that are not
// valid events (fal_01_003) are returned with their parse error.
func loadTrace(t testing.TB, name string) ([]*audit.Event, []error) {
	t.Helper()
	f, err := os.Open(filepath.Join(traceDir, name))
	if err != nil {
		t.Fatalf("open trace: %v", err)
	}
	defer f.Close()
	var evs []*audit.Event
	var errs []error
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ev := &audit.Event{}
		err := audit.Parse(ev, bytes.Clone(line), 0)
		evs = append(evs, ev)
		errs = append(errs, err)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read trace %s: %v", name, err)
	}
	return evs, errs
}

// traceFiles lists the trace files.
func traceFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(traceDir, "*.json"))
	if err != nil || len(files) != 31 {
		t.Fatalf("want 31 traces in %s, found %d (%v)", traceDir, len(files), err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// TestTraceBasics checks the request metadata the rules test on every
// trace's first event.
func TestTraceBasics(t *testing.T) {
	const rs = "system:serviceaccount:kube-system:replicaset-controller"
	tests := []struct {
		file                                 string
		stage, verb, user, resource, sub, ns string // "" for no value
		name, code                           string
	}{
		{"attach_cluster_admin_role", "ResponseComplete", "create", "minikube-user", "clusterrolebindings", "", "", "some-reader-binding", "201"},
		{"attach_pod", "ResponseStarted", "create", "minikube-user", "pods", "attach", "default", "nginx-deployment-7998647bdf-phvq7", "101"},
		{"create_cluster_role_pod_exec", "ResponseComplete", "create", "minikube-user", "clusterroles", "", "", "some-reader", "201"},
		{"create_cluster_role_wildcard_resources", "ResponseComplete", "create", "minikube-user", "clusterroles", "", "", "some-reader", "201"},
		{"create_clusterrolebinding", "ResponseComplete", "create", "minikube-user", "clusterrolebindings", "", "", "some-reader-binding", "201"},
		{"create_configmap", "ResponseComplete", "create", "minikube-user", "configmaps", "", "default", "my-config", "201"},
		{"create_configmap_sensitive_values", "ResponseComplete", "create", "minikube-user", "configmaps", "", "default", "my-config", "201"},
		{"create_deployment", "ResponseComplete", "create", "minikube-user", "deployments", "", "default", "nginx-deployment", "201"},
		{"create_nginx_pod_hostnetwork", "ResponseComplete", "create", rs, "pods", "", "default", "", "201"},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", "ResponseComplete", "create", rs, "pods", "", "default", "", "201"},
		{"create_nginx_pod_privileged", "ResponseComplete", "create", rs, "pods", "", "default", "", "201"},
		{"create_nginx_pod_sensitive_mount", "ResponseComplete", "create", rs, "pods", "", "default", "", "201"},
		{"create_nginx_pod_unprivileged", "ResponseComplete", "create", rs, "pods", "", "default", "", "201"},
		{"create_nginx_pod_unsensitive_mount", "ResponseComplete", "get", "system:node:minikube", "pods", "", "default", "nginx-deployment-6dfd8b84dc-6dkjc", "200"},
		{"create_nginx_service_nodeport", "ResponseComplete", "create", "minikube-user", "services", "", "default", "nginx", "201"},
		{"create_pod_kube_system_namespace", "ResponseComplete", "create", rs, "pods", "", "kube-system", "", "201"},
		{"create_secret", "ResponseComplete", "create", "minikube-user", "secrets", "", "default", "example-secret", "201"},
		{"create_service", "ResponseComplete", "create", "minikube-user", "services", "", "default", "nginx", "201"},
		{"create_service_account_token_secret", "ResponseComplete", "create", "system:kube-controller-manager", "secrets", "", "test2", "default-token-7v4pb", "201"},
		{"create_serviceaccount", "ResponseComplete", "create", "minikube-user", "serviceaccounts", "", "default", "myacct", "201"},
		{"create_serviceaccount_kube_public_namespace", "ResponseComplete", "create", "minikube-user", "serviceaccounts", "", "kube-public", "myacct", "201"},
		{"delete_cluster_role_kube_aggregator", "ResponseComplete", "delete", "minikube-user", "clusterroles", "", "", "system:kube-aggregator", "200"},
		{"delete_clusterrole", "ResponseComplete", "delete", "minikube-user", "clusterroles", "", "", "some-reader", "200"},
		{"delete_configmap", "ResponseComplete", "delete", "minikube-user", "configmaps", "", "default", "my-config", "200"},
		{"delete_deployment", "ResponseComplete", "delete", "minikube-user", "deployments", "", "default", "nginx-deployment", "200"},
		{"delete_namespace_foo", "ResponseComplete", "delete", "minikube-user", "namespaces", "", "foo", "foo", "200"},
		{"delete_secret", "ResponseComplete", "delete", "minikube-user", "secrets", "", "default", "example-secret", "200"},
		{"delete_serviceaccount", "ResponseComplete", "delete", "minikube-user", "serviceaccounts", "", "default", "myacct", "200"},
		{"minikube_creates_namespace_foo", "ResponseComplete", "create", "minikube-user", "namespaces", "", "", "foo", "201"},
		{"some-user_creates_namespace_foo", "ResponseComplete", "create", "some-user", "namespaces", "", "", "foo", "201"},
	}
	one := func(s string) []string {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			evs, errs := loadTrace(t, tc.file+".json")
			if errs[0] != nil {
				t.Fatalf("parse: %v", errs[0])
			}
			ev := evs[0]
			for _, c := range []struct {
				ref  string
				want []string
			}{
				{"jevt.value[/stage]", one(tc.stage)},
				{"ka.stage", one(tc.stage)},
				{"ka.verb", one(tc.verb)},
				{"ka.user.name", one(tc.user)},
				{"ka.target.resource", one(tc.resource)},
				{"ka.target.subresource", one(tc.sub)},
				{"ka.target.namespace", one(tc.ns)},
				{"ka.target.name", one(tc.name)},
				{"ka.response.code", one(tc.code)},
				{"ka.auth.decision", one("allow")},
				{"jevt.rawtime", one(strconv.FormatInt(ev.Time, 10))},
				{"jevt.value[/requestObject/spec/tls]", nil},
			} {
				if got := extract(t, ev, c.ref, testEnv); !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
					t.Errorf("%s = %s, want %s", c.ref, show(got), show(c.want))
				}
			}
		})
	}
}

// TestTraceRuleFields checks the fields the upstream rules and their
// outputs use (spec A.8) on the traces that exercise them.
func TestTraceRuleFields(t *testing.T) {
	const rbac = `RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller" of ClusterRole ` +
		`"system:controller:replicaset-controller" to ServiceAccount "replicaset-controller/kube-system"`
	tests := []struct {
		file  string
		event int
		ref   string
		want  []string
	}{
		// Create Privileged Pod.
		{"create_nginx_pod_privileged", 0, "ka.req.pod.containers.privileged", v("true")},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.initContainers.privileged", nil},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.ephemeralContainers.privileged", nil},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.containers.image.repository", v("nginx")},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.containers.image", v("nginx")},
		{"create_nginx_pod_privileged", 0, "ka.resp.name", v("nginx-deployment-5cdcc99dbf-rgw6z")},
		{"create_nginx_pod_privileged", 0, "ka.target.pod.name", v("nginx-deployment-5cdcc99dbf-rgw6z")},
		{"create_nginx_pod_privileged", 0, "ka.auth.reason", v(rbac)},
		{"create_nginx_pod_privileged", 0, "ka.req.container.privileged", v("true")},
		{"create_nginx_pod_privileged", 0, "ka.req.container.image", v("nginx")},
		{"create_nginx_pod_privileged", 0, "ka.req.container.image.repository", v("nginx")},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.volumes.hostpath", nil},
		{"create_nginx_pod_privileged", 0, "ka.req.pod.host_network", nil},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.pod.containers.privileged", v("true")},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.pod.containers.privileged[0]", nil},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.pod.containers.privileged[1]", v("true")},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.pod.containers.image.repository", v("nginx", "mysql")},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.pod.containers.image", v("nginx", "mysql:latest")},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container", 0, "ka.req.container.privileged", v("true")},
		{"create_nginx_pod_unprivileged", 0, "ka.req.pod.containers.privileged", nil},
		{"create_nginx_pod_unprivileged", 0, "ka.req.container.privileged", v("false")},
		{"create_nginx_pod_unprivileged", 0, "ka.req.pod.containers.image.repository", v("nginx")},
		{"create_nginx_pod_unprivileged", 0, "ka.req.container.image", v("nginx")},
		// Create HostNetwork Pod.
		{"create_nginx_pod_hostnetwork", 0, "ka.req.pod.host_network", v("true")},
		{"create_nginx_pod_hostnetwork", 0, "ka.req.container.host_network", v("true")},
		{"create_nginx_pod_hostnetwork", 0, "ka.req.pod.host_pid", nil},
		{"create_nginx_pod_hostnetwork", 0, "ka.req.pod.host_ipc", nil},
		{"create_nginx_pod_hostnetwork", 0, "ka.req.pod.containers.image.repository", v("nginx")},
		// Create Sensitive Mount Pod.
		{"create_nginx_pod_sensitive_mount", 0, "ka.req.pod.volumes.hostpath", v("/etc")},
		{"create_nginx_pod_sensitive_mount", 0, "jevt.value[/requestObject/spec/volumes]", v(`[{"hostPath":{"path":"/etc","type":""},"name":"etc"}]`)},
		{"create_nginx_pod_sensitive_mount", 0, "ka.req.volume.hostpath[/etc]", v("true")},
		{"create_nginx_pod_sensitive_mount", 0, "ka.req.volume.hostpath[/proc*]", v("false")},
		{"create_nginx_pod_sensitive_mount", 0, "ka.req.pod.volumes.volume_type", v("hostPath")},
		{"create_nginx_pod_unsensitive_mount", 0, "ka.req.pod.volumes.hostpath", nil},
		{"create_nginx_pod_unsensitive_mount", 0, "ka.target.pod.name", v("nginx-deployment-6dfd8b84dc-6dkjc")},
		// Pod Created in Kube Namespace.
		{"create_pod_kube_system_namespace", 0, "ka.target.namespace", v("kube-system")},
		// Create NodePort Service.
		{"create_nginx_service_nodeport", 0, "ka.req.service.type", v("NodePort")},
		{"create_nginx_service_nodeport", 0, "ka.req.service.ports", v(`[{"nodePort":30080,"port":80,"protocol":"TCP","targetPort":80}]`)},
		{"create_service", 0, "ka.req.service.type", v("ClusterIP")},
		{"create_service", 0, "ka.req.service.ports", v(`[{"port":80,"protocol":"TCP","targetPort":80}]`)},
		// Create/Modify Configmap With Private Credentials.
		{"create_configmap", 0, "ka.req.configmap.name", v("my-config")},
		{"create_configmap", 0, "ka.req.configmap.obj", v(`{"ui.properties":"color.good=purple\ncolor.bad=yellow\nallow.textmode=true\n"}`)},
		{"create_configmap_sensitive_values", 0, "ka.req.configmap.obj",
			v(`{"access.properties":"aws_access_key_id = MY-ID\naws_secret_access_key = MY-KEY\n","ui.properties":"color.good=purple\ncolor.bad=yellow\nallow.textmode=true\n"}`)},
		// Attach to cluster-admin Role and binding outputs.
		{"attach_cluster_admin_role", 0, "ka.req.binding.role", v("cluster-admin")},
		{"attach_cluster_admin_role", 0, "ka.req.binding.subjects", v(`{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"minikube"}`)},
		{"attach_cluster_admin_role", 0, "ka.req.binding.subjects.user_names", v("minikube")},
		{"attach_cluster_admin_role", 0, "ka.req.binding.subjects.serviceaccount_names", nil},
		{"attach_cluster_admin_role", 0, "ka.auth.reason", v("")},
		{"create_clusterrolebinding", 0, "ka.req.binding.role", v("system:basic-user")},
		// ClusterRole With Pod Exec / Wildcard Created.
		{"create_cluster_role_pod_exec", 0, "ka.req.role.rules.resources", v("pods/exec")},
		{"create_cluster_role_pod_exec", 0, "ka.req.role.rules.verbs", v("get", "get")},
		{"create_cluster_role_pod_exec", 0, "ka.req.role.rules.apiGroups", v("")},
		{"create_cluster_role_pod_exec", 0, "ka.req.role.rules.nonResourceURLs[1]", v("/api", "/api/*", "/apis", "/apis/*",
			"/healthz", "/openapi", "/openapi/*", "/swagger-2.0.0.pb-v1", "/swagger.json", "/swaggerapi", "/swaggerapi/*", "/version", "/version/")},
		{"create_cluster_role_pod_exec", 0, "ka.req.role.rules", v(`{"apiGroups":[""],"resources":["pods/exec"],"verbs":["get"]}`,
			`{"nonResourceURLs":["/api","/api/*","/apis","/apis/*","/healthz","/openapi","/openapi/*","/swagger-2.0.0.pb-v1",`+
				`"/swagger.json","/swaggerapi","/swaggerapi/*","/version","/version/"],"verbs":["get"]}`)},
		{"create_cluster_role_wildcard_resources", 0, "ka.req.role.rules.resources", v("*")},
		{"create_cluster_role_wildcard_resources", 0, "ka.req.role.rules.verbs", v("get", "list", "get")},
		// Attach/Exec Pod.
		{"attach_pod", 0, "ka.uri", v("/api/v1/namespaces/default/pods/nginx-deployment-7998647bdf-phvq7/attach?container=nginx1&stderr=true&stdin=true&stdout=true")},
		{"attach_pod", 0, "ka.uri.param[container]", v("nginx1")},
		{"attach_pod", 0, "ka.uri.param[command]", nil},
		{"attach_pod", 0, "ka.target.pod.name", nil},
		{"attach_pod", 0, "ka.sourceips", v("192.168.99.1")},
		// System ClusterRole Modified/Deleted.
		{"delete_cluster_role_kube_aggregator", 0, "ka.target.name", v("system:kube-aggregator")},
		{"delete_cluster_role_kube_aggregator", 0, "ka.req.role.rules", nil},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.ref, func(t *testing.T) {
			evs, errs := loadTrace(t, tc.file+".json")
			if errs[tc.event] != nil {
				t.Fatalf("parse: %v", errs[tc.event])
			}
			got := extract(t, evs[tc.event], tc.ref, testEnv)
			if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("%s = %s, want %s", tc.ref, show(got), show(tc.want))
			}
		})
	}
}

// TestTraceSensitiveConfigmaps checks that each of the six events carries
// one of the credential words the rule searches ka.req.configmap.obj for.
func TestTraceSensitiveConfigmaps(t *testing.T) {
	evs, _ := loadTrace(t, "create_configmap_sensitive_values.json")
	words := []string{"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id", "aws-s3-access-key-id", "password", "passphrase"}
	if len(evs) != len(words) {
		t.Fatalf("%d events, want %d", len(evs), len(words))
	}
	for i, ev := range evs {
		got := extract(t, ev, "ka.req.configmap.obj", testEnv)
		if len(got) != 1 || !strings.Contains(got[0], words[i]+" = MY-ID") {
			t.Errorf("event %d: ka.req.configmap.obj = %s, want it to contain %q", i, show(got), words[i])
		}
	}
}

// TestTraceNotAudit checks fal_01_003, which is not an audit event.
func TestTraceNotAudit(t *testing.T) {
	evs, errs := loadTrace(t, "fal_01_003.json")
	if len(evs) != 1 || errs[0] == nil {
		t.Fatalf("fal_01_003 parsed as an event: %v", errs)
	}
	ev := evs[0]
	if ev.IsAudit() {
		t.Fatal("fal_01_003 has an auditID")
	}
	if got := extract(t, ev, "ka.verb", testEnv); got != nil {
		t.Errorf("ka.verb = %s, want no value", show(got))
	}
	if got := extract(t, ev, "json.value[/kind]", testEnv); !slices.Equal(got, v("0")) {
		t.Errorf("json.value[/kind] = %s, want [0]", show(got))
	}
}

// TestTraceAllFields extracts every field, with and without arguments, from
// every trace event: no panic, and the Extractor contract holds (extract
// checks it).
func TestTraceAllFields(t *testing.T) {
	for _, file := range traceFiles(t) {
		evs, _ := loadTrace(t, file)
		for _, ev := range evs {
			for _, ref := range allRefs() {
				extract(t, ev, ref, testEnv)
			}
		}
	}
}

// allRefs returns a reference to every field, plus indexed variants.
func allRefs() []string {
	var refs []string
	for _, d := range All() {
		switch d.Arg {
		case ArgNone:
			refs = append(refs, d.Name)
		case ArgIndex:
			refs = append(refs, d.Name, d.Name+"[0]", d.Name+"[1]")
		case ArgKey:
			key := "command"
			if strings.HasSuffix(d.Name, ".value") {
				key = "/requestObject/spec/containers/0/image"
			}
			refs = append(refs, d.Name+"["+key+"]")
		}
	}
	return refs
}
