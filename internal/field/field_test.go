package field

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
)

// head is what every synthetic audit event starts with.
const head = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"id-1",` +
	`"stageTimestamp":"2026-01-02T03:04:05.123456789Z",`

// Synthetic events, one per area of the spec.
const (
	// evReq exercises request metadata, annotations and the target.
	evReq = head + `"stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=id&container=c%201&stdin=true&tty=&q=a+b",` +
		`"verb":"create","user":{"username":"alice","groups":["system:masters","system:authenticated"]},` +
		`"impersonatedUser":{"username":"bob"},"sourceIPs":["10.0.0.1","10.0.0.2"],"userAgent":"kubectl/v1.30",` +
		`"objectRef":{"resource":"pods","namespace":"default","name":"p","subresource":"exec","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":101,"reason":"Upgraded"},` +
		`"responseObject":{"metadata":{"name":"p-resp"}},` +
		`"annotations":{"authorization.k8s.io/decision":"allow",` +
		`"authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"x\"",` +
		`"authentication.openshift.io/decision":"allow","authentication.openshift.io/username":"oc-user",` +
		`"validation.policy.admission.k8s.io/validation_failure":"[{\"message\":\"bad\"}]",` +
		`"pod-security.kubernetes.io/audit-violations":"privileged","cluster_name":"prod"}}`

	// evPod is a pod creation with all three container lists.
	evPod = head + `"stage":"ResponseComplete","verb":"create","user":{"username":"rs"},` +
		`"objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},` +
		`"responseObject":{"metadata":{"name":"web-1"}},` +
		`"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,"hostPID":false,"hostIPC":true,` +
		`"securityContext":{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"supplementalGroups":[4000,5000]},` +
		`"volumes":[{"name":"etc","hostPath":{"path":"/etc","type":""}},{"name":"tok","secret":{"secretName":"t"}},` +
		`{"name":"fv","flexVolume":{"driver":"example/lvm"}}],` +
		`"containers":[` +
		`{"name":"web","image":"reg:5000/nginx:1.25@sha256:abc","command":["nginx","-g","daemon off;"],"args":["--x"],` +
		`"ports":[{"containerPort":80},{"containerPort":443,"hostPort":8443}],` +
		`"securityContext":{"privileged":true,"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,` +
		`"runAsUser":0,"procMount":"Default","capabilities":{"add":["NET_ADMIN","SYS_TIME"]}}},` +
		`{"name":"side","image":"busybox","securityContext":{"runAsGroup":7}}],` +
		`"initContainers":[{"name":"init","image":"alpine:3","command":["sh","-c","echo hi"],` +
		`"ports":[{"containerPort":53}],"securityContext":{"privileged":false,"runAsUser":5}}],` +
		`"ephemeralContainers":[{"name":"dbg","image":"docker.io/library/busybox@sha256:def","args":["sleep","1d"],` +
		`"ports":[{"containerPort":9}],"securityContext":{"privileged":true,"capabilities":{"add":["SYS_PTRACE"]}}}]` +
		`}}}`

	// evBinding is a cluster role binding.
	evBinding = head + `"verb":"create","objectRef":{"resource":"clusterrolebindings","name":"b"},` +
		`"requestObject":{"kind":"ClusterRoleBinding","roleRef":{"kind":"ClusterRole","name":"cluster-admin"},` +
		`"subjects":[{"kind":"User","name":"alice"},{"kind":"Group","name":"devs"},` +
		`{"kind":"ServiceAccount","name":"sa1","namespace":"ns1"},{"kind":"ServiceAccount","name":"sa2"},` +
		`{"kind":"ServiceAccount","name":"sa3","namespace":""},{"kind":"User","name":"bob"}]}}`

	// evRole is a cluster role.
	evRole = head + `"verb":"create","objectRef":{"resource":"clusterroles","name":"r"},` +
		`"requestObject":{"rules":[{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["get","create"]},` +
		`{"nonResourceURLs":["/healthz"],"verbs":["get"]}]}}`

	// evConfigMap is a config map, pretty-printed on purpose.
	evConfigMap = head + `"verb":"create","objectRef":{"resource":"configmaps","name":"cm","namespace":"default"},
  "requestObject": {"data": {"a": "x\ny", "b": "two words"}}}`

	// evService is a NodePort service.
	evService = head + `"verb":"create","objectRef":{"resource":"services","name":"s"},` +
		`"requestObject":{"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}}`

	// evNotAudit has no auditID.
	evNotAudit = `{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"x"},` +
		`"stageTimestamp":"2026-01-02T03:04:05.123456789Z","requestObject":{"spec":{"containers":[{"image":"a"}]}}}`
)

// testEnv is the Env the tests bind with.
var testEnv = &Env{Hostname: "host1", Location: time.UTC}

// parse parses one event, which must be valid.
func parse(t testing.TB, js string) *audit.Event {
	t.Helper()
	var ev audit.Event
	if err := audit.Parse(&ev, []byte(js), 0); err != nil {
		t.Fatalf("parse event: %v\n%s", err, js)
	}
	return &ev
}

// splitRef splits "name[arg]" into its parts.
func splitRef(ref string) (name, arg string, hasArg bool) {
	i := strings.IndexByte(ref, '[')
	if i < 0 || !strings.HasSuffix(ref, "]") {
		return ref, "", false
	}
	return ref[:i], ref[i+1 : len(ref)-1], true
}

// extract binds ref and extracts it from ev, checking the Extractor
// contract on the way. It returns nil for "no value".
func extract(t testing.TB, ev *audit.Event, ref string, env *Env) []string {
	t.Helper()
	name, arg, hasArg := splitRef(ref)
	d, ok := Lookup(name)
	if !ok {
		t.Fatalf("unknown field %q", name)
	}
	x, err := d.Bind(arg, hasArg, env)
	if err != nil {
		t.Fatalf("bind %s: %v", ref, err)
	}
	// A value already in out must survive, whatever happens.
	out := Values{Vals: [][]byte{[]byte("sentinel")}, Buf: []byte("buf")}
	got := x(ev, &out)
	if string(out.Vals[0]) != "sentinel" || string(out.Buf[:3]) != "buf" {
		t.Fatalf("%s overwrote earlier values", ref)
	}
	vals := out.Vals[1:]
	switch {
	case !got && (len(vals) != 0 || len(out.Buf) != 3):
		t.Fatalf("%s reported no value but left %q and %q", ref, vals, out.Buf[3:])
	case got && len(vals) == 0:
		t.Fatalf("%s reported a value but appended none", ref)
	case got && !d.List && len(vals) != 1:
		t.Fatalf("single-valued %s appended %d values", ref, len(vals))
	case !got:
		return nil
	}
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	return s
}

// extractCase is one row of the extraction tables. A nil want means the
// field has no value.
type extractCase struct {
	name  string
	event string
	field string // the reference, e.g. "ka.uri.param[command]"
	want  []string
}

func v(s ...string) []string { return s }

var extractTests = []extractCase{
	// A.2 Request metadata.
	{"auditid", evReq, "ka.auditid", v("id-1")},
	{"stage", evReq, "ka.stage", v("ResponseComplete")},
	{"stage missing", evPod[:len(head)] + `"verb":"get"}`, "ka.stage", nil},
	{"verb", evReq, "ka.verb", v("create")},
	{"uri raw", evReq, "ka.uri", v("/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&command=id&container=c%201&stdin=true&tty=&q=a+b")},
	{"uri.param first", evReq, "ka.uri.param[command]", v("sh")},
	{"uri.param decoded", evReq, "ka.uri.param[container]", v("c 1")},
	{"uri.param plus", evReq, "ka.uri.param[q]", v("a b")},
	{"uri.param empty value", evReq, "ka.uri.param[tty]", v("")},
	{"uri.param absent", evReq, "ka.uri.param[nope]", nil},
	{"uri.param escaped key", head + `"requestURI":"/x?a%20b=1&a+b=2"}`, "ka.uri.param[a b]", v("1")},
	{"uri.param json escapes", head + `"requestURI":"/x?a=1\u0026b=\u00e9"}`, "ka.uri.param[b]", v("é")},
	{"uri.param no query", head + `"requestURI":"/api/v1/pods"}`, "ka.uri.param[a]", nil},
	{"uri.param fragment", head + `"requestURI":"/x?a=1#b=2"}`, "ka.uri.param[b]", nil},
	{"uri.param no uri", evPod, "ka.uri.param[a]", nil},
	{"uri.param absolute url", head + `"requestURI":"https://h:6443/x?a=%41&a=2"}`, "ka.uri.param[a]", v("A")},
	{"uri.param relative", head + `"requestURI":"x?a=b"}`, "ka.uri.param[a]", v("b")},
	{"uri.param relative colon", head + `"requestURI":"x:y/z?a=b"}`, "ka.uri.param[a]", v("b")},
	{"uri.param bad relative", head + `"requestURI":"1x:y?a=b"}`, "ka.uri.param[a]", nil},
	{"user.name", evReq, "ka.user.name", v("alice")},
	{"user.name escaped", head + `"user":{"username":"al\u0069ce"}}`, "ka.user.name", v("alice")},
	{"user.groups", evReq, "ka.user.groups", v("system:masters", "system:authenticated")},
	{"user.groups null element", head + `"user":{"groups":["a",null,3]}}`, "ka.user.groups", v("a", "null", "3")},
	{"impuser.name", evReq, "ka.impuser.name", v("bob")},
	{"impuser.name missing", evPod, "ka.impuser.name", nil},
	{"useragent", evReq, "ka.useragent", v("kubectl/v1.30")},
	{"sourceips", evReq, "ka.sourceips", v("10.0.0.1", "10.0.0.2")},
	{"sourceips index", evReq, "ka.sourceips[1]", v("10.0.0.2")},
	{"sourceips index out of range", evReq, "ka.sourceips[2]", nil},
	{"cluster.name", evReq, "ka.cluster.name", v("prod")},
	{"response.code", evReq, "ka.response.code", v("101")},
	{"response.reason", evReq, "ka.response.reason", v("Upgraded")},
	{"resp.name", evReq, "ka.resp.name", v("p-resp")},

	// A.3 Annotations.
	{"auth.decision", evReq, "ka.auth.decision", v("allow")},
	{"auth.reason", evReq, "ka.auth.reason", v(`RBAC: allowed by ClusterRoleBinding "x"`)},
	{"auth.openshift.decision", evReq, "ka.auth.openshift.decision", v("allow")},
	{"auth.openshift.username", evReq, "ka.auth.openshift.username", v("oc-user")},
	{"validations failure", evReq, "ka.validations.admission.policy.failure", v(`[{"message":"bad"}]`)},
	{"pod violations", evReq, "ka.security.pod.violations", v("privileged")},
	{"annotation missing", evPod, "ka.auth.decision", nil},

	// A.4 Target object.
	{"target.name", evReq, "ka.target.name", v("p")},
	{"target.namespace", evReq, "ka.target.namespace", v("default")},
	{"target.namespace cluster-scoped", evRole, "ka.target.namespace", nil},
	{"target.resource", evReq, "ka.target.resource", v("pods")},
	{"target.subresource", evReq, "ka.target.subresource", v("exec")},
	{"target.subresource missing", evPod, "ka.target.subresource", nil},
	{"target.pod.name", evPod, "ka.target.pod.name", v("web-1")},
	{"target.pod.name subresource", evReq, "ka.target.pod.name", nil},
	{"target.pod.name empty subresource", head + `"objectRef":{"resource":"pods","subresource":""},"responseObject":{"metadata":{"name":"n"}}}`,
		"ka.target.pod.name", v("n")},
	{"target.pod.name not pods", evService, "ka.target.pod.name", nil},
	{"configmap.name", evConfigMap, "ka.req.configmap.name", v("cm")},

	// A.5 Bindings, roles, config maps, services.
	{"binding.subjects", evBinding, "ka.req.binding.subjects", v(`{"kind":"User","name":"alice"}`, `{"kind":"Group","name":"devs"}`,
		`{"kind":"ServiceAccount","name":"sa1","namespace":"ns1"}`, `{"kind":"ServiceAccount","name":"sa2"}`,
		`{"kind":"ServiceAccount","name":"sa3","namespace":""}`, `{"kind":"User","name":"bob"}`)},
	{"binding.subjects.user_names", evBinding, "ka.req.binding.subjects.user_names", v("alice", "bob")},
	{"binding.subjects.group_names", evBinding, "ka.req.binding.subjects.group_names", v("devs")},
	{"binding.subjects.serviceaccount_names", evBinding, "ka.req.binding.subjects.serviceaccount_names", v("sa1", "sa2", "sa3")},
	{"binding.subjects.serviceaccount_ns_names", evBinding, "ka.req.binding.subjects.serviceaccount_ns_names", v("ns1:sa1")},
	{"binding.subjects.group_names none", head + `"requestObject":{"subjects":[{"kind":"User","name":"u"}]}}`,
		"ka.req.binding.subjects.group_names", nil},
	{"binding.role", evBinding, "ka.req.binding.role", v("cluster-admin")},
	{"binding.subject.has_name", evBinding, "ka.req.binding.subject.has_name[nobody]", v("true")},
	{"role.rules", evRole, "ka.req.role.rules", v(`{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["get","create"]}`,
		`{"nonResourceURLs":["/healthz"],"verbs":["get"]}`)},
	{"role.rules.apiGroups", evRole, "ka.req.role.rules.apiGroups", v("")},
	{"role.rules.resources", evRole, "ka.req.role.rules.resources", v("pods", "pods/exec")},
	{"role.rules.verbs", evRole, "ka.req.role.rules.verbs", v("get", "create", "get")},
	{"role.rules.verbs index", evRole, "ka.req.role.rules.verbs[1]", v("get")},
	{"role.rules.resources index without", evRole, "ka.req.role.rules.resources[1]", nil},
	{"role.rules.nonResourceURLs", evRole, "ka.req.role.rules.nonResourceURLs", v("/healthz")},
	{"role.rules.apiGroups index out of range", evRole, "ka.req.role.rules.apiGroups[5]", nil},
	{"configmap.obj compacted", evConfigMap, "ka.req.configmap.obj", v(`{"a":"x\ny","b":"two words"}`)},
	{"service.type", evService, "ka.req.service.type", v("NodePort")},
	{"service.ports", evService, "ka.req.service.ports", v(`[{"port":80,"nodePort":30080}]`)},

	// A.6 Pods.
	{"pod.host_network", evPod, "ka.req.pod.host_network", v("true")},
	{"pod.host_network unset", evService, "ka.req.pod.host_network", nil},
	{"container.host_network", evPod, "ka.req.container.host_network", v("true")},
	{"pod.host_pid", evPod, "ka.req.pod.host_pid", v("false")},
	{"pod.host_ipc", evPod, "ka.req.pod.host_ipc", v("true")},
	{"pod.run_as_user", evPod, "ka.req.pod.run_as_user", v("1000")},
	{"pod.run_as_group", evPod, "ka.req.pod.run_as_group", v("3000")},
	{"pod.fs_group", evPod, "ka.req.pod.fs_group", v("2000")},
	{"pod.supplemental_groups", evPod, "ka.req.pod.supplemental_groups", v("4000", "5000")},
	{"volumes.hostpath", evPod, "ka.req.pod.volumes.hostpath", v("/etc")},
	{"volumes.hostpath index", evPod, "ka.req.pod.volumes.hostpath[0]", v("/etc")},
	{"volumes.hostpath index without", evPod, "ka.req.pod.volumes.hostpath[1]", nil},
	{"volumes.flexvolume_driver", evPod, "ka.req.pod.volumes.flexvolume_driver", v("example/lvm")},
	{"volumes.volume_type", evPod, "ka.req.pod.volumes.volume_type", v("hostPath", "secret", "flexVolume")},
	{"volumes.volume_type index", evPod, "ka.req.pod.volumes.volume_type[1]", v("secret")},
	{"volumes.volume_type escaped key", head + `"requestObject":{"spec":{"volumes":[{"name":"x","host\u0050ath":{}}]}}}`,
		"ka.req.pod.volumes.volume_type", v("hostPath")},
	{"volume.hostpath equal", evPod, "ka.req.volume.hostpath[/etc]", v("true")},
	{"volume.hostpath prefix", evPod, "ka.req.volume.hostpath[/e*]", v("true")},
	{"volume.hostpath no match", evPod, "ka.req.volume.hostpath[/var]", v("false")},
	{"volume.hostpath star is literal without prefix match", evPod, "ka.req.volume.hostpath[/etcx*]", v("false")},
	{"volume.hostpath no volumes", evService, "ka.req.volume.hostpath[/etc]", nil},
	{"container.image", evPod, "ka.req.container.image", v("reg:5000/nginx:1.25@sha256:abc")},
	{"container.image no containers", head + `"requestObject":{"spec":{"containers":[]}}}`, "ka.req.container.image", nil},
	{"container.image.repository", evPod, "ka.req.container.image.repository", v("reg")},
	{"container.privileged", evPod, "ka.req.container.privileged", v("true")},
	{"container.privileged false", head + `"requestObject":{"spec":{"containers":[{"name":"a"}],` +
		`"initContainers":[{"securityContext":{"privileged":true}}]}}}`, "ka.req.container.privileged", v("false")},
	{"container.privileged no spec", evService, "ka.req.container.privileged", nil},

	// Per-container fields: containers.
	{"containers.name", evPod, "ka.req.pod.containers.name", v("web", "side")},
	{"containers.name index", evPod, "ka.req.pod.containers.name[1]", v("side")},
	{"containers.name index out of range", evPod, "ka.req.pod.containers.name[2]", nil},
	{"containers.image", evPod, "ka.req.pod.containers.image", v("reg:5000/nginx:1.25@sha256:abc", "busybox")},
	{"containers.image.repository", evPod, "ka.req.pod.containers.image.repository", v("reg", "busybox")},
	{"containers.command", evPod, "ka.req.pod.containers.command", v("nginx -g daemon off;")},
	{"containers.command index without", evPod, "ka.req.pod.containers.command[1]", nil},
	{"containers.args", evPod, "ka.req.pod.containers.args", v("--x")},
	{"containers.privileged", evPod, "ka.req.pod.containers.privileged", v("true")},
	{"containers.privileged index without", evPod, "ka.req.pod.containers.privileged[1]", nil},
	{"containers.allow_privilege_escalation", evPod, "ka.req.pod.containers.allow_privilege_escalation", v("false")},
	{"containers.read_only_fs", evPod, "ka.req.pod.containers.read_only_fs", v("true")},
	{"containers.run_as_user", evPod, "ka.req.pod.containers.run_as_user", v("0")},
	{"containers.run_as_group", evPod, "ka.req.pod.containers.run_as_group", v("7")},
	{"containers.proc_mount", evPod, "ka.req.pod.containers.proc_mount", v("Default")},
	{"containers.add_capabilities", evPod, "ka.req.pod.containers.add_capabilities", v(`["NET_ADMIN","SYS_TIME"]`)},
	{"containers.eff_run_as_user", evPod, "ka.req.pod.containers.eff_run_as_user", v("0", "1000")},
	{"containers.eff_run_as_group", evPod, "ka.req.pod.containers.eff_run_as_group", v("3000", "7")},
	{"containers.eff_run_as_group index", evPod, "ka.req.pod.containers.eff_run_as_group[1]", v("7")},
	{"containers.host_port", evPod, "ka.req.pod.containers.host_port", v("80", "8443")},
	{"containers.host_port index", evPod, "ka.req.pod.containers.host_port[0]", v("80", "8443")},
	{"containers.host_port none", evPod, "ka.req.pod.containers.host_port[1]", nil},

	// initContainers.
	{"initContainers.name", evPod, "ka.req.pod.initContainers.name", v("init")},
	{"initContainers.image", evPod, "ka.req.pod.initContainers.image", v("alpine:3")},
	{"initContainers.image.repository", evPod, "ka.req.pod.initContainers.image.repository", v("alpine")},
	{"initContainers.command", evPod, "ka.req.pod.initContainers.command", v("sh -c echo hi")},
	{"initContainers.args", evPod, "ka.req.pod.initContainers.args", nil},
	{"initContainers.privileged", evPod, "ka.req.pod.initContainers.privileged", v("false")},
	{"initContainers.allow_privilege_escalation", evPod, "ka.req.pod.initContainers.allow_privilege_escalation", nil},
	{"initContainers.read_only_fs", evPod, "ka.req.pod.initContainers.read_only_fs", nil},
	{"initContainers.run_as_user", evPod, "ka.req.pod.initContainers.run_as_user", v("5")},
	{"initContainers.run_as_group", evPod, "ka.req.pod.initContainers.run_as_group", nil},
	{"initContainers.proc_mount", evPod, "ka.req.pod.initContainers.proc_mount", nil},
	{"initContainers.add_capabilities", evPod, "ka.req.pod.initContainers.add_capabilities", nil},
	{"initContainers.eff_run_as_user", evPod, "ka.req.pod.initContainers.eff_run_as_user", v("5")},
	{"initContainers.eff_run_as_group", evPod, "ka.req.pod.initContainers.eff_run_as_group", v("3000")},
	{"initContainers.host_port", evPod, "ka.req.pod.initContainers.host_port", v("53")},

	// ephemeralContainers.
	{"ephemeralContainers.name", evPod, "ka.req.pod.ephemeralContainers.name", v("dbg")},
	{"ephemeralContainers.image", evPod, "ka.req.pod.ephemeralContainers.image", v("docker.io/library/busybox@sha256:def")},
	{"ephemeralContainers.image.repository", evPod, "ka.req.pod.ephemeralContainers.image.repository", v("docker.io/library/busybox")},
	{"ephemeralContainers.command", evPod, "ka.req.pod.ephemeralContainers.command", nil},
	{"ephemeralContainers.args", evPod, "ka.req.pod.ephemeralContainers.args", v("sleep 1d")},
	{"ephemeralContainers.privileged", evPod, "ka.req.pod.ephemeralContainers.privileged", v("true")},
	{"ephemeralContainers.allow_privilege_escalation", evPod, "ka.req.pod.ephemeralContainers.allow_privilege_escalation", nil},
	{"ephemeralContainers.read_only_fs", evPod, "ka.req.pod.ephemeralContainers.read_only_fs", nil},
	{"ephemeralContainers.run_as_user", evPod, "ka.req.pod.ephemeralContainers.run_as_user", nil},
	{"ephemeralContainers.run_as_group", evPod, "ka.req.pod.ephemeralContainers.run_as_group", nil},
	{"ephemeralContainers.proc_mount", evPod, "ka.req.pod.ephemeralContainers.proc_mount", nil},
	{"ephemeralContainers.add_capabilities", evPod, "ka.req.pod.ephemeralContainers.add_capabilities", v(`["SYS_PTRACE"]`)},
	{"ephemeralContainers.eff_run_as_user", evPod, "ka.req.pod.ephemeralContainers.eff_run_as_user", v("1000")},
	{"ephemeralContainers.eff_run_as_group", evPod, "ka.req.pod.ephemeralContainers.eff_run_as_group", v("3000")},

	// A.7 The json plugin.
	{"jevt.value stage", evReq, "jevt.value[/stage]", v("ResponseComplete")},
	{"json.value no leading slash", evReq, "json.value[stage]", v("ResponseComplete")},
	{"jevt.value escaped token", evReq, "jevt.value[/annotations/authorization.k8s.io~1decision]", v("allow")},
	{"jevt.value tilde token", head + `"a~b":{"c/d":1}}`, "jevt.value[/a~0b/c~1d]", v("1")},
	{"jevt.value array index", evReq, "jevt.value[/user/groups/1]", v("system:authenticated")},
	{"jevt.value array whole", evReq, "jevt.value[/user/groups]", v(`["system:masters","system:authenticated"]`)},
	{"jevt.value number", evReq, "jevt.value[/responseStatus/code]", v("101")},
	{"jevt.value object compact", evConfigMap, "jevt.value[/requestObject/data]", v(`{"a":"x\ny","b":"two words"}`)},
	{"jevt.value leading zero index", evReq, "jevt.value[/user/groups/01]", nil},
	{"jevt.value dash index", evReq, "jevt.value[/user/groups/-]", nil},
	{"jevt.value signed index", evReq, "jevt.value[/user/groups/+1]", nil},
	{"jevt.value negative zero index", evReq, "jevt.value[/user/groups/-0]", nil},
	{"jevt.value index out of range", evReq, "jevt.value[/user/groups/2]", nil},
	{"jevt.value numeric member", head + `"m":{"0":"zero"}}`, "jevt.value[/m/0]", v("zero")},
	{"jevt.value missing", evReq, "jevt.value[/nope/x]", nil},
	{"jevt.value through scalar", evReq, "jevt.value[/verb/x]", nil},
	{"jevt.value unindexed top member", head + `"extra":{"k":"v"}}`, "jevt.value[/extra/k]", v("v")},
	{"jevt.value ephemeral image", head + `"requestObject":{"ephemeralContainers":[{"image":"i"}]}}`,
		"jevt.value[/requestObject/ephemeralContainers/0/image]", v("i")},
	{"json.value not audit", evNotAudit, "json.value[/verb]", v("get")},
	{"jevt.obj", head[:len(head)-1] + `}`, "jevt.obj", v("{\n  \"kind\": \"Event\",\n  \"apiVersion\": \"audit.k8s.io/v1\",\n" +
		"  \"level\": \"RequestResponse\",\n  \"auditID\": \"id-1\",\n  \"stageTimestamp\": \"2026-01-02T03:04:05.123456789Z\"\n}")},
	{"json.obj nested", `{"stageTimestamp":"2026-01-02T03:04:05Z","a":[1,{}],"b":{"c":[]}}`, "json.obj",
		v("{\n  \"stageTimestamp\": \"2026-01-02T03:04:05Z\",\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": {\n    \"c\": []\n  }\n}")},
	{"jevt.rawtime", evReq, "jevt.rawtime", v("1767323045123456789")},
	{"json.rawtime not audit", evNotAudit, "json.rawtime", v("1767323045123456789")},

	// libsinsp event fields, with testEnv (UTC, host1).
	{"evt.time", evReq, "evt.time", v("03:04:05.123456789")},
	{"evt.time.s", evReq, "evt.time.s", v("03:04:05")},
	{"evt.time.iso8601", evReq, "evt.time.iso8601", v("2026-01-02T03:04:05.123456789+0000")},
	{"evt.datetime", evReq, "evt.datetime", v("2026-01-02 03:04:05.123456789")},
	{"evt.datetime.s", evReq, "evt.datetime.s", v("2026-01-02 03:04:05")},
	{"evt.rawtime", evReq, "evt.rawtime", v("1767323045123456789")},
	{"evt.rawtime.s", evReq, "evt.rawtime.s", v("1767323045")},
	{"evt.rawtime.ns", evReq, "evt.rawtime.ns", v("123456789")},
	{"evt.rawtime.ns before 1970", `{"stageTimestamp":"1969-12-31T23:59:59.25Z"}`, "evt.rawtime.ns", v("250000000")},
	{"evt.rawtime.s before 1970", `{"stageTimestamp":"1969-12-31T23:59:59.25Z"}`, "evt.rawtime.s", v("-1")},
	{"evt.source", evNotAudit, "evt.source", v("k8s_audit")},
	{"evt.hostname", evReq, "evt.hostname", v("host1")},
	{"evt.pluginname", evReq, "evt.pluginname", v("k8saudit")},
}

func runCases(t *testing.T, cases []extractCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := parse(t, tc.event)
			got := extract(t, ev, tc.field, testEnv)
			if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("%s = %s, want %s", tc.field, show(got), show(tc.want))
			}
		})
	}
}

// show prints a result, telling "no value" from an empty value.
func show(s []string) string {
	if s == nil {
		return "<no value>"
	}
	return "[" + strings.Join(s, " | ") + "]"
}

func TestExtract(t *testing.T) { runCases(t, extractTests) }

// quirkTests pin Falco's quirks (spec, "Quirks worth a regression test
// each") and our two deliberate differences. Each name says which.
var quirkTests = []extractCase{
	// Quirk 1, a difference: the top-level sourceIPs array is read.
	{"sourceips reads top-level sourceIPs (differs from Falco)", evReq, "ka.sourceips", v("10.0.0.1", "10.0.0.2")},
	{"sourceips ignores Falco's requestObject.rules path", head + `"requestObject":{"rules":[{"sourceIPs":["1.2.3.4"]}]}}`,
		"ka.sourceips", nil},
	{"sourceips not an array", head + `"sourceIPs":"1.2.3.4"}`, "ka.sourceips", nil},

	// Quirk 2, a difference: effective IDs read securityContext.
	{"eff_run_as_user uses container securityContext (differs from Falco)",
		head + `"requestObject":{"spec":{"securityContext":{"runAsUser":1000},"containers":[{"securityContext":{"runAsUser":7}},{}]}}}`,
		"ka.req.pod.containers.eff_run_as_user", v("7", "1000")},
	{"eff_run_as_user falls back to 0", head + `"requestObject":{"spec":{"containers":[{"name":"a"}]}}}`,
		"ka.req.pod.containers.eff_run_as_user", v("0")},
	{"eff_run_as_user ignores runAsUser outside securityContext",
		head + `"requestObject":{"spec":{"runAsUser":5,"containers":[{"runAsUser":9}]}}}`,
		"ka.req.pod.containers.eff_run_as_user", v("0")},
	{"eff_run_as_group uses pod securityContext (differs from Falco)",
		head + `"requestObject":{"spec":{"securityContext":{"runAsGroup":44},"initContainers":[{"name":"i"}]}}}`,
		"ka.req.pod.initContainers.eff_run_as_group", v("44")},
	{"eff_run_as_user without containers", head + `"requestObject":{"spec":{"securityContext":{"runAsUser":1}}}}`,
		"ka.req.pod.containers.eff_run_as_user", nil},

	// Quirk 3: host_port falls back to containerPort.
	{"host_port falls back to containerPort", head + `"requestObject":{"spec":{"containers":[{"ports":[{"containerPort":80},` +
		`{"hostPort":81,"containerPort":82},{"name":"none"}]},{"name":"noports"},{"ports":[{"containerPort":90}]}]}}}`,
		"ka.req.pod.containers.host_port", v("80", "81", "90")},
	{"host_port ports not an array", head + `"requestObject":{"spec":{"containers":[{"ports":[{"hostPort":1}]},{"ports":{"hostPort":2}}]}}}`,
		"ka.req.pod.containers.host_port", nil},

	// Quirk 4: image.repository cuts at the first ':' then '@'.
	{"image.repository cuts registry port", head + `"requestObject":{"spec":{"containers":[{"image":"reg:5000/app:1"},` +
		`{"image":"docker.io/falcosecurity/falco:0.30"},{"image":"app@sha256:abc"},{"image":"plain"}]}}}`,
		"ka.req.pod.containers.image.repository", v("reg", "docker.io/falcosecurity/falco", "app", "plain")},

	// Quirk 5: whole arrays as single entries.
	{"service.ports is one entry", head + `"requestObject":{"spec":{"ports":[{"port":1},{"port":2}]}}}`,
		"ka.req.service.ports", v(`[{"port":1},{"port":2}]`)},
	{"service.ports index has no effect", head + `"requestObject":{"spec":{"ports":[{"port":1},{"port":2}]}}}`,
		"ka.req.service.ports[1]", v(`[{"port":1},{"port":2}]`)},
	{"service.ports empty array is one entry", head + `"requestObject":{"spec":{"ports":[]}}}`,
		"ka.req.service.ports", v(`[]`)},
	{"add_capabilities is one entry per container", head + `"requestObject":{"spec":{"containers":[` +
		`{"securityContext":{"capabilities":{"add":["NET_ADMIN","SYS_TIME"]}}},{"securityContext":{"capabilities":{"add":["A"]}}}]}}}`,
		"ka.req.pod.containers.add_capabilities", v(`["NET_ADMIN","SYS_TIME"]`, `["A"]`)},

	// Quirk 6: has_name is always true.
	{"has_name always true", evPod, "ka.req.binding.subject.has_name[whoever]", v("true")},
	{"has_name needs auditID", evNotAudit, "ka.req.binding.subject.has_name[x]", nil},

	// Quirk 7: only the first value of a query parameter.
	{"uri.param first value only", evReq, "ka.uri.param[command]", v("sh")},
	{"uri.param malformed escape", head + `"requestURI":"/x?command=a&b=%zz"}`, "ka.uri.param[command]", nil},
	{"uri.param semicolon", head + `"requestURI":"/x?command=a;b"}`, "ka.uri.param[command]", nil},
	{"uri.param other piece semicolon", head + `"requestURI":"/x?command=a&x;y"}`, "ka.uri.param[command]", nil},
	{"uri.param malformed path", head + `"requestURI":"/x%g1?command=a"}`, "ka.uri.param[command]", nil},
	{"uri.param malformed fragment", head + `"requestURI":"/x?command=a#%"}`, "ka.uri.param[command]", nil},
	{"uri.param control character", head + `"requestURI":"/x\t?command=a"}`, "ka.uri.param[command]", nil},
	{"uri.param bad authority", head + `"requestURI":"//h:port/x?command=a"}`, "ka.uri.param[command]", nil},

	// Quirk 8: empty lists are missing.
	{"empty groups are missing", head + `"user":{"groups":[]}}`, "ka.user.groups", nil},
	{"empty containers are missing", head + `"requestObject":{"spec":{"containers":[]}}}`, "ka.req.pod.containers.privileged", nil},
	{"no privileged flag set is missing", head + `"requestObject":{"spec":{"containers":[{"name":"a"}]}}}`,
		"ka.req.pod.containers.privileged", nil},
	{"empty rules are missing", head + `"requestObject":{"rules":[]}}`, "ka.req.role.rules.verbs", nil},

	// A list whose JSON is not an array is missing.
	{"groups not an array", head + `"user":{"groups":"g"}}`, "ka.user.groups", nil},
	{"subjects not an array", head + `"requestObject":{"subjects":{"kind":"User","name":"u"}}}`, "ka.req.binding.subjects", nil},
	{"rule verbs not an array skipped", head + `"requestObject":{"rules":[{"verbs":"get"},{"verbs":["list"]}]}}`,
		"ka.req.role.rules.verbs", v("list")},

	// A container without the key makes name and image missing as a whole.
	{"image missing in one container", head + `"requestObject":{"spec":{"containers":[{"image":"a"},{"name":"b"}]}}}`,
		"ka.req.pod.containers.image", nil},
	{"name missing in one container", head + `"requestObject":{"spec":{"containers":[{"name":"a"},{"image":"b"}]}}}`,
		"ka.req.pod.containers.name", nil},
	{"image index avoids the container without it", head + `"requestObject":{"spec":{"containers":[{"image":"a"},{"name":"b"}]}}}`,
		"ka.req.pod.containers.image[0]", v("a")},

	// How an index works (A.1).
	{"index selects in every array on the path", head + `"requestObject":{"rules":[{"verbs":["a","b"]},{"verbs":["c"]}]}}`,
		"ka.req.role.rules.verbs[0]", v("a", "b")},
	{"index applies to nested arrays too", head + `"requestObject":{"spec":{"volumes":[[{"hostPath":{"path":"/a"}},{"hostPath":{"path":"/b"}}],` +
		`[{"hostPath":{"path":"/c"}}]]}}}`, "ka.req.pod.volumes.hostpath[1]", nil},
	{"no index fans out over nested arrays", head + `"requestObject":{"spec":{"volumes":[[{"hostPath":{"path":"/a"}},{"hostPath":{"path":"/b"}}],` +
		`[{"hostPath":{"path":"/c"}}]]}}}`, "ka.req.pod.volumes.hostpath", v("/a", "/b", "/c")},
	{"index out of range is missing", evPod, "ka.req.pod.containers.image[9]", nil},
	{"array at the end is never indexed", head + `"requestObject":{"spec":{"containers":[{"command":["a","b"]}]}}}`,
		"ka.req.pod.containers.command[0]", v("a b")},

	// Values are text as Falco makes it.
	{"numbers keep their text", head + `"responseStatus":{"code":2.50e2}}`, "ka.response.code", v("2.50e2")},
	{"null is text", head + `"objectRef":{"namespace":null}}`, "ka.target.namespace", v("null")},
	{"objects are compact", head + `"requestObject":{"data":{ "k" : [ 1, "a b" ] }}}`, "ka.req.configmap.obj", v(`{"k":[1,"a b"]}`)},

	// Duplicate top-level members: indexed members keep the last occurrence
	// (audit's index), nested members the first (rawjson.Get). Falco's
	// k8saudit plugin (fastjson) takes the first everywhere; see the report.
	{"duplicate top-level member takes the first, as Falco", head + `"verb":"get","verb":"delete"}`, "ka.verb", v("get")},
	{"duplicate nested member takes the first", head + `"user":{"username":"a","username":"b"}}`, "ka.user.name", v("a")},
}

func TestQuirks(t *testing.T) { runCases(t, quirkTests) }

// TestEveryFieldTested makes sure the tables above name every field.
func TestEveryFieldTested(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range slices.Concat(extractTests, quirkTests, sourceTests) {
		name, _, _ := splitRef(tc.field)
		seen[name] = true
	}
	for _, d := range All() {
		if !seen[d.Name] && !seen[aliasOf(d.Name)] {
			t.Errorf("field %s has no extraction test", d.Name)
		}
	}
}

// aliasOf maps jevt.* to json.* and back.
func aliasOf(name string) string {
	if rest, ok := strings.CutPrefix(name, "jevt."); ok {
		return "json." + rest
	}
	if rest, ok := strings.CutPrefix(name, "json."); ok {
		return "jevt." + rest
	}
	return name
}

// TestNoAuditID checks that every ka.* field is missing without auditID,
// while json.*, jevt.* and evt.* still work.
func TestNoAuditID(t *testing.T) {
	withID := parse(t, evPod)
	noID := parse(t, strings.Replace(evPod, `"auditID":"id-1",`, "", 1))
	for _, d := range All() {
		ref := d.Name
		switch d.Arg {
		case ArgKey:
			ref += "[/a]"
		}
		got := extract(t, noID, ref, testEnv)
		if strings.HasPrefix(d.Name, "ka.") {
			if got != nil {
				t.Errorf("%s = %s without auditID, want no value", ref, show(got))
			}
			continue
		}
		if want := extract(t, withID, ref, testEnv); d.Name != "json.obj" && d.Name != "jevt.obj" &&
			!slices.Equal(got, want) {
			t.Errorf("%s = %s without auditID, want %s as with it", ref, show(got), show(want))
		}
	}
}

// TestEvtZone checks that evt.time and evt.datetime use the Env's zone and
// evt.time.iso8601 stays in UTC.
func TestEvtZone(t *testing.T) {
	ev := parse(t, evReq)
	env := &Env{Location: time.FixedZone("X", 2*3600+30*60)}
	for _, tc := range []struct{ field, want string }{
		{"evt.time", "05:34:05.123456789"},
		{"evt.time.s", "05:34:05"},
		{"evt.datetime", "2026-01-02 05:34:05.123456789"},
		{"evt.datetime.s", "2026-01-02 05:34:05"},
		{"evt.time.iso8601", "2026-01-02T03:04:05.123456789+0000"},
		{"evt.hostname", ""},
	} {
		if got := extract(t, ev, tc.field, env); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s = %s, want %q", tc.field, show(got), tc.want)
		}
	}
	// A nil Env binds with the local zone and an empty host name.
	d, _ := Lookup("evt.time")
	x, err := d.Bind("", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out Values
	if !x(ev, &out) || string(out.Vals[0]) != time.Unix(0, ev.Time).Format(layoutTime) {
		t.Errorf("evt.time with nil Env = %q", out.Vals)
	}
}

func TestBindErrors(t *testing.T) {
	tests := []struct {
		ref  string
		want string
	}{
		{"ka.verb[x]", `field "ka.verb" takes no argument`},
		{"ka.verb[]", `field "ka.verb" takes no argument`},
		{"jevt.obj[0]", `field "jevt.obj" takes no argument`},
		{"ka.uri.param", `field "ka.uri.param" requires an argument`},
		{"ka.uri.param[]", `field "ka.uri.param" requires a non-empty argument`},
		{"ka.req.volume.hostpath", `field "ka.req.volume.hostpath" requires an argument`},
		{"ka.req.binding.subject.has_name", `field "ka.req.binding.subject.has_name" requires an argument`},
		{"jevt.value", `field "jevt.value" requires an argument`},
		{"ka.req.pod.containers.image[01]", `invalid index argument "01" for field "ka.req.pod.containers.image"`},
		{"ka.req.pod.containers.image[-1]", `invalid index argument "-1" for field "ka.req.pod.containers.image"`},
		{"ka.req.pod.containers.image[+1]", `invalid index argument "+1" for field "ka.req.pod.containers.image"`},
		{"ka.req.pod.containers.image[x]", `invalid index argument "x" for field "ka.req.pod.containers.image"`},
		{"ka.req.pod.containers.image[]", `invalid index argument "" for field "ka.req.pod.containers.image"`},
		{"ka.sourceips[99999999999]", `invalid index argument "99999999999" for field "ka.sourceips"`},
		{"jevt.value[/a~2]", `invalid JSON pointer "/a~2" for field "jevt.value": escape character '~' must be followed by '0' or '1'`},
		{"json.value[/a~]", `invalid JSON pointer "/a~" for field "json.value": escape character '~' must be followed by '0' or '1'`},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			name, arg, hasArg := splitRef(tc.ref)
			d, ok := Lookup(name)
			if !ok {
				t.Fatalf("unknown field %q", name)
			}
			_, err := d.Bind(arg, hasArg, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Bind(%s) error = %v, want %s", tc.ref, err, tc.want)
			}
		})
	}
	// Valid indexes.
	for _, arg := range []string{"0", "7", "10", "1073741824"} {
		d, _ := Lookup("ka.req.pod.containers.image")
		if _, err := d.Bind(arg, true, nil); err != nil {
			t.Errorf("Bind([%s]): %v", arg, err)
		}
	}
}

// TestDefs checks the table itself.
func TestDefs(t *testing.T) {
	all := All()
	if len(all) != 127 {
		t.Errorf("%d fields, want 127", len(all))
	}
	for i, d := range all {
		if i > 0 && all[i-1].Name >= d.Name {
			t.Errorf("fields not sorted and unique at %s", d.Name)
		}
		if got, ok := Lookup(d.Name); !ok || got != d {
			t.Errorf("Lookup(%s) does not find it", d.Name)
		}
		if d.Doc == "" || !strings.HasSuffix(d.Doc, ".") || strings.Contains(strings.ReplaceAll(d.Doc, "e.g. ", ""), ". ") {
			t.Errorf("%s: doc is not one sentence ending in a full stop: %q", d.Name, d.Doc)
		}
		if d.Arg > ArgKey {
			t.Errorf("%s: invalid ArgKind %d", d.Name, d.Arg)
		}
		if d.Type > Number {
			t.Errorf("%s: invalid Type %d", d.Name, d.Type)
		}
		if d.bind == nil {
			t.Errorf("%s: no binder", d.Name)
		}
		if strings.HasPrefix(d.Name, "ka.") || strings.HasPrefix(d.Name, "json.") || strings.HasPrefix(d.Name, "jevt.") {
			if d.Type != String {
				t.Errorf("%s: type %s, want string as in Falco", d.Name, d.Type)
			}
		}
		if d.Arg == ArgIndex && !d.List {
			t.Errorf("%s: index argument on a single-valued field", d.Name)
		}
		typ := "String"
		if d.List {
			typ = "List of strings"
		} else if d.Type == Number {
			typ = "Number"
		}
		if !strings.HasPrefix(d.Doc, typ+",") {
			t.Errorf("%s: doc does not start with its type %q: %q", d.Name, typ, d.Doc)
		}
	}
	if _, ok := Lookup("ka.req.pod.ephemeralContainers.host_port"); ok {
		t.Error("ephemeral containers must not have host_port")
	}
	if _, ok := Lookup("ka.nope"); ok {
		t.Error("Lookup found an unknown field")
	}
	deprecated := []string{}
	for _, d := range all {
		if d.Deprecated {
			deprecated = append(deprecated, d.Name)
		}
	}
	want := []string{"ka.req.binding.subject.has_name", "ka.req.container.host_network", "ka.req.container.image",
		"ka.req.container.image.repository", "ka.req.container.privileged", "ka.req.volume.hostpath"}
	if !slices.Equal(deprecated, want) {
		t.Errorf("deprecated = %v, want %v", deprecated, want)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var sb strings.Builder
	if err := WriteMarkdown(&sb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n")
	if len(lines) != 2+len(All()) {
		t.Fatalf("%d lines, want %d", len(lines), 2+len(All()))
	}
	if lines[0] != "| field | type | list | argument | description |" {
		t.Errorf("header = %q", lines[0])
	}
	for _, l := range lines[2:] {
		if n := strings.Count(l, " | ") - strings.Count(l, `\|`); n != 4 {
			t.Errorf("row has %d separators: %s", n, l)
		}
	}
	for _, want := range []string{
		"| `ka.verb` | string |  | none | String, no argument: the request verb",
		"| `ka.req.volume.hostpath` (deprecated) | string |  | key (required) |",
		"| `ka.req.pod.containers.image` | string | yes | index |",
		"| `evt.rawtime` | number |  | none |",
	} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
