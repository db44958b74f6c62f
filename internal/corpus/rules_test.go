package corpus

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// This file re-states, in Go, the conditions of the upstream Falco
// k8s_audit rules (/work/shared/reference/falco/k8s_audit_rules.yaml,
// loaded unchanged) that the generator is meant to exercise, so that the
// corpus can be checked without the engine it feeds.

var (
	allowedUsers     = []string{"minikube", "minikube-user", "kubelet", "kops", "admin", "kube", "kube-proxy", "kube-apiserver-healthcheck", "kubernetes-admin", "vpa-recommender", "vpa-updater", "cluster-autoscaler", "system:addon-manager", "cloud-controller-manager", "system:kube-controller-manager"}
	sensitiveMounts  = []string{"/proc", "/var/run/docker.sock", "/", "/etc", "/root", "/var/run/crio/crio.sock", "/run/containerd/containerd.sock", "/home/admin", "/var/lib/kubelet", "/var/lib/kubelet/pki", "/etc/kubernetes", "/etc/kubernetes/manifests"}
	knownSAs         = []string{"coredns", "coredns-autoscaler", "cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller", "endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller", "generic-garbage-collector", "horizontal-pod-autoscaler", "job-controller", "namespace-controller", "node-controller", "persistent-volume-binder", "pod-garbage-collector", "pv-protection-controller", "pvc-protection-controller", "replicaset-controller", "resourcequota-controller", "root-ca-cert-publisher", "service-account-controller", "statefulset-controller"}
	credentialWords  = []string{"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id", "aws-s3-access-key-id", "password", "passphrase"}
	writeVerbs       = []string{"create", "update", "patch", "delete", "deletecollection"}
	allowedNamespace = []string{"kube-system", "kube-public", "default"}
)

// get walks a decoded JSON value.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

// anyContainer reports whether f holds for a container of the pod spec in
// the request.
func anyContainer(req map[string]any, f func(c any) bool) bool {
	for _, k := range []string{"containers", "initContainers", "ephemeralContainers"} {
		if slices.ContainsFunc(list(get(req, "spec", k)), f) {
			return true
		}
	}
	return false
}

// ruleValues are the rule fields the conditions use.
type ruleValues struct {
	kevt, started, nonSystem, ok2xx bool
	user, verb, res, sub, ns, name  string
	req                             map[string]any
	e                               *event
}

func values(e *event) ruleValues {
	v := ruleValues{
		kevt:    e.Stage == "ResponseComplete",
		started: e.Stage == "ResponseStarted",
		user:    e.User.Username,
		verb:    e.Verb,
		req:     e.RequestObject,
		e:       e,
	}
	v.nonSystem = !strings.HasPrefix(v.user, "system:")
	if e.ObjectRef != nil {
		v.res, v.sub, v.ns, v.name = e.ObjectRef.Resource, e.ObjectRef.Subresource, e.ObjectRef.Namespace, e.ObjectRef.Name
	}
	if e.ResponseStatus != nil {
		v.ok2xx = e.ResponseStatus.Code/100 == 2
	}
	return v
}

func (v ruleValues) pod() bool { return v.res == "pods" && v.sub == "" }

func (v ruleValues) podCreate() bool { return v.kevt && v.pod() && v.verb == "create" }

func (v ruleValues) rules() []any { return list(get(v.req, "rules")) }

func (v ruleValues) ruleHas(field string, want ...string) bool {
	for _, r := range v.rules() {
		for _, x := range list(get(r, field)) {
			if s, _ := x.(string); slices.Contains(want, s) {
				return true
			}
		}
	}
	return false
}

func (v ruleValues) activity(verb, res string) bool {
	return v.kevt && v.verb == verb && v.res == res && v.ok2xx
}

func isHealth(uri string) bool {
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		if uri == p || strings.HasPrefix(uri, p+"?") {
			return true
		}
	}
	return false
}

// upstreamRules are the conditions, by rule name.
var upstreamRules = []struct {
	name string
	cond func(v ruleValues) bool
}{
	{"Disallowed K8s User", func(v ruleValues) bool {
		return v.kevt && v.nonSystem && !slices.Contains(allowedUsers, v.user)
	}},
	{"Create Privileged Pod", func(v ruleValues) bool {
		return v.podCreate() && anyContainer(v.req, func(c any) bool { return get(c, "securityContext", "privileged") == true })
	}},
	{"Create Sensitive Mount Pod", func(v ruleValues) bool {
		return v.podCreate() && slices.ContainsFunc(list(get(v.req, "spec", "volumes")), func(vol any) bool {
			p, _ := get(vol, "hostPath", "path").(string)
			return slices.Contains(sensitiveMounts, p)
		})
	}},
	{"Create HostNetwork Pod", func(v ruleValues) bool { return v.podCreate() && get(v.req, "spec", "hostNetwork") == true }},
	{"Create HostPid Pod", func(v ruleValues) bool { return v.podCreate() && get(v.req, "spec", "hostPID") == true }},
	{"Create HostIPC Pod", func(v ruleValues) bool { return v.podCreate() && get(v.req, "spec", "hostIPC") == true }},
	{"Create NodePort Service", func(v ruleValues) bool {
		return v.kevt && v.res == "services" && v.verb == "create" && get(v.req, "spec", "type") == "NodePort"
	}},
	{"Create/Modify Configmap With Private Credentials", func(v ruleValues) bool {
		if !v.kevt || v.res != "configmaps" || !slices.Contains([]string{"create", "update", "patch"}, v.verb) {
			return false
		}
		data, _ := json.Marshal(get(v.req, "data"))
		return slices.ContainsFunc(credentialWords, func(w string) bool { return strings.Contains(string(data), w) })
	}},
	{"Anonymous Request Allowed", func(v ruleValues) bool {
		return v.kevt && v.user == "system:anonymous" && v.e.Annotations["authorization.k8s.io/decision"] == "allow" &&
			!isHealth(v.e.RequestURI)
	}},
	{"Attach/Exec Pod", func(v ruleValues) bool {
		return v.started && v.res == "pods" && (v.sub == "exec" || v.sub == "attach") && (v.verb == "create" || v.verb == "get")
	}},
	{"port-forward", func(v ruleValues) bool { return v.sub == "portforward" }},
	{"EphemeralContainers Created", func(v ruleValues) bool {
		return v.kevt && v.res == "pods" && v.sub == "ephemeralcontainers" && slices.Contains([]string{"create", "update", "patch"}, v.verb)
	}},
	{"Create Disallowed Namespace", func(v ruleValues) bool {
		return v.kevt && v.res == "namespaces" && v.verb == "create" && !slices.Contains(allowedNamespace, v.name)
	}},
	{"Pod Created in Kube Namespace", func(v ruleValues) bool {
		return v.podCreate() && (v.ns == "kube-system" || v.ns == "kube-public")
	}},
	{"Service Account Created in Kube Namespace", func(v ruleValues) bool {
		return v.kevt && v.res == "serviceaccounts" && v.verb == "create" && (v.ns == "kube-system" || v.ns == "kube-public") &&
			v.ok2xx && !slices.Contains(knownSAs, v.name)
	}},
	{"System ClusterRole Modified/Deleted", func(v ruleValues) bool {
		return v.kevt && (v.res == "roles" || v.res == "clusterroles") &&
			slices.Contains([]string{"create", "update", "patch", "delete"}, v.verb) && strings.HasPrefix(v.name, "system:") &&
			v.name != "system:coredns" && v.name != "system:managed-certificate-controller"
	}},
	{"Attach to cluster-admin Role", func(v ruleValues) bool {
		return v.kevt && v.res == "clusterrolebindings" && v.verb == "create" && get(v.req, "roleRef", "name") == "cluster-admin"
	}},
	{"ClusterRole With Wildcard Created", func(v ruleValues) bool {
		return v.kevt && (v.res == "roles" || v.res == "clusterroles") && v.verb == "create" &&
			(v.ruleHas("resources", "*") || v.ruleHas("verbs", "*"))
	}},
	{"ClusterRole With Write Privileges Created", func(v ruleValues) bool {
		return v.kevt && (v.res == "roles" || v.res == "clusterroles") && v.verb == "create" && v.ruleHas("verbs", writeVerbs...)
	}},
	{"ClusterRole With Pod Exec Created", func(v ruleValues) bool {
		return v.kevt && (v.res == "roles" || v.res == "clusterroles") && v.verb == "create" && v.ruleHas("resources", "pods/exec")
	}},
	{"K8s Deployment Created", func(v ruleValues) bool { return v.activity("create", "deployments") }},
	{"K8s Deployment Deleted", func(v ruleValues) bool { return v.activity("delete", "deployments") }},
	{"K8s Service Created", func(v ruleValues) bool { return v.activity("create", "services") }},
	{"K8s Service Deleted", func(v ruleValues) bool { return v.activity("delete", "services") }},
	{"K8s ConfigMap Created", func(v ruleValues) bool { return v.activity("create", "configmaps") }},
	{"K8s ConfigMap Deleted", func(v ruleValues) bool { return v.activity("delete", "configmaps") }},
	{"K8s Namespace Created", func(v ruleValues) bool { return v.activity("create", "namespaces") }},
	{"K8s Namespace Deleted", func(v ruleValues) bool { return v.nonSystem && v.activity("delete", "namespaces") }},
	{"K8s Serviceaccount Created", func(v ruleValues) bool { return v.activity("create", "serviceaccounts") }},
	{"K8s Serviceaccount Deleted", func(v ruleValues) bool { return v.activity("delete", "serviceaccounts") }},
	{"K8s Role Created", func(v ruleValues) bool { return v.activity("create", "roles") }},
	{"K8s Role Deleted", func(v ruleValues) bool { return v.activity("delete", "roles") }},
	{"K8s ClusterRole Created", func(v ruleValues) bool { return v.activity("create", "clusterroles") }},
	{"K8s ClusterRole Deleted", func(v ruleValues) bool { return v.activity("delete", "clusterroles") }},
	{"K8s RoleBinding Created", func(v ruleValues) bool { return v.activity("create", "rolebindings") }},
	{"K8s RoleBinding Deleted", func(v ruleValues) bool { return v.activity("delete", "rolebindings") }},
	{"K8s ClusterRoleBinding Created", func(v ruleValues) bool { return v.activity("create", "clusterrolebindings") }},
	{"K8s ClusterRoleBinding Deleted", func(v ruleValues) bool { return v.activity("delete", "clusterrolebindings") }},
	{"K8s Secret Created", func(v ruleValues) bool {
		return v.activity("create", "secrets") && v.ns != "kube-system" && v.nonSystem
	}},
	{"K8s Secret Deleted", func(v ruleValues) bool {
		return v.activity("delete", "secrets") && v.ns != "kube-system" && v.nonSystem
	}},
	{"K8s Secret Get Successfully", func(v ruleValues) bool { return v.activity("get", "secrets") }},
	{"K8s Secret Get Unsuccessfully Tried", func(v ruleValues) bool {
		return v.kevt && v.verb == "get" && v.res == "secrets" && !v.ok2xx
	}},
	{"Ingress Object without TLS Certificate Created", func(v ruleValues) bool {
		return v.activity("create", "ingresses") && get(v.req, "spec", "tls") == nil
	}},
}

// firing returns the names of the upstream rules e triggers.
func firing(e *event) []string {
	v := values(e)
	var out []string
	for _, r := range upstreamRules {
		if r.cond(v) {
			out = append(out, r.name)
		}
	}
	return out
}

// riskExpect is, per risky kind, the stage at which its requests must fire
// and the rules they fire: every such event fires at least one, and
// together they fire all of them.
var riskExpect = map[riskKind]struct {
	stage string
	rules []string
}{
	riskPrivilegedPod:       {"ResponseComplete", []string{"Create Privileged Pod"}},
	riskHostNetworkPod:      {"ResponseComplete", []string{"Create HostNetwork Pod"}},
	riskHostPIDPod:          {"ResponseComplete", []string{"Create HostPid Pod"}},
	riskHostIPCPod:          {"ResponseComplete", []string{"Create HostIPC Pod"}},
	riskSensitiveMount:      {"ResponseComplete", []string{"Create Sensitive Mount Pod"}},
	riskKubeSystemPod:       {"ResponseComplete", []string{"Pod Created in Kube Namespace"}},
	riskExec:                {"ResponseStarted", []string{"Attach/Exec Pod"}},
	riskAttach:              {"ResponseStarted", []string{"Attach/Exec Pod"}},
	riskPortForward:         {"", []string{"port-forward"}},
	riskEphemeral:           {"ResponseComplete", []string{"EphemeralContainers Created"}},
	riskClusterAdminBinding: {"ResponseComplete", []string{"Attach to cluster-admin Role", "K8s ClusterRoleBinding Created"}},
	riskWildcardRole:        {"ResponseComplete", []string{"ClusterRole With Wildcard Created"}},
	riskPodExecRole:         {"ResponseComplete", []string{"ClusterRole With Pod Exec Created", "ClusterRole With Write Privileges Created"}},
	riskCredentialConfigMap: {"ResponseComplete", []string{"Create/Modify Configmap With Private Credentials"}},
	riskNodePortService:     {"ResponseComplete", []string{"Create NodePort Service", "K8s Service Created"}},
	riskNamespaceCreate:     {"ResponseComplete", []string{"Create Disallowed Namespace", "K8s Namespace Created"}},
	riskNamespaceDelete:     {"ResponseComplete", []string{"K8s Namespace Deleted"}},
	riskSecretGet:           {"ResponseComplete", []string{"K8s Secret Get Successfully", "K8s Secret Get Unsuccessfully Tried"}},
	riskKubeNamespaceSA:     {"ResponseComplete", []string{"Service Account Created in Kube Namespace", "K8s Serviceaccount Created"}},
	riskAnonymous:           {"ResponseComplete", []string{"Anonymous Request Allowed"}},
	riskIngressNoTLS:        {"ResponseComplete", []string{"Ingress Object without TLS Certificate Created"}},
	riskSystemRole:          {"ResponseComplete", []string{"System ClusterRole Modified/Deleted"}},
	riskRBACChange: {"ResponseComplete", []string{"K8s Role Created", "K8s RoleBinding Created", "K8s ClusterRoleBinding Created",
		"K8s Role Deleted", "K8s RoleBinding Deleted", "K8s ClusterRoleBinding Deleted", "K8s ClusterRole Deleted"}},
	riskSecretWrite: {"ResponseComplete", []string{"K8s Secret Created", "K8s Secret Deleted"}},
	riskWorkloadChange: {"ResponseComplete", []string{"K8s Deployment Created", "K8s Deployment Deleted", "K8s Service Deleted",
		"K8s ConfigMap Created", "K8s ConfigMap Deleted", "K8s Serviceaccount Created", "K8s Serviceaccount Deleted"}},
}

func TestRiskyEventsFireRules(t *testing.T) {
	fired := map[riskKind]map[string]int{}
	each(t, Options{Seed: 21, RiskyRate: 0.25}, 60000, func(_ int, g *generated) {
		if g.risk == riskNone {
			return
		}
		want, ok := riskExpect[g.risk]
		if !ok {
			t.Fatalf("no expectation for risky kind %s", riskNames[g.risk])
		}
		if g.cat != catRisky {
			t.Fatalf("risky kind %s in category %s", riskNames[g.risk], categoryNames[g.cat])
		}
		got := firing(&g.ev)
		if fired[g.risk] == nil {
			fired[g.risk] = map[string]int{}
		}
		for _, r := range got {
			fired[g.risk][r]++
		}
		if want.stage != "" && g.ev.Stage != want.stage {
			return
		}
		if !slices.ContainsFunc(want.rules, func(r string) bool { return slices.Contains(got, r) }) {
			t.Errorf("%s event fires %v, want one of %v\n%s", riskNames[g.risk], got, want.rules, g.line)
		}
	})
	for k := riskKind(1); k < numRiskKinds; k++ {
		for _, r := range riskExpect[k].rules {
			if fired[k][r] == 0 {
				t.Errorf("%s: rule %q never fired (fired: %v)", riskNames[k], r, fired[k])
			}
		}
	}
}

// TestBenignTrafficQuiet checks that benign traffic fires no upstream rule,
// except "Disallowed K8s User" for people outside allowed_k8s_users.
func TestBenignTrafficQuiet(t *testing.T) {
	disallowed := 0
	each(t, Options{Seed: 33, RiskyRate: -1}, 100000, func(_ int, g *generated) {
		got := firing(&g.ev)
		if len(got) == 0 {
			return
		}
		if len(got) == 1 && got[0] == "Disallowed K8s User" && g.cat == catHuman {
			disallowed++
			return
		}
		t.Errorf("benign %s event fires %v\n%s", categoryNames[g.cat], got, g.line)
	})
	if disallowed == 0 {
		t.Error("people's requests never fire Disallowed K8s User")
	}
}
