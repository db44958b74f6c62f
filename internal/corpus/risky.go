package corpus

// This file holds the risky actions: user-driven requests that the upstream
// Falco k8s_audit rules (k8s_audit_rules.yaml, plugin k8saudit 0.18) alert
// on. Each riskKind names the rules it is built to trigger.

// riskKind is a risky action; riskNone marks benign traffic.
type riskKind uint8

const (
	riskNone                riskKind = iota
	riskPrivilegedPod                // Create Privileged Pod
	riskHostNetworkPod               // Create HostNetwork Pod
	riskHostPIDPod                   // Create HostPid Pod
	riskHostIPCPod                   // Create HostIPC Pod
	riskSensitiveMount               // Create Sensitive Mount Pod
	riskKubeSystemPod                // Pod Created in Kube Namespace
	riskExec                         // Attach/Exec Pod (exec)
	riskAttach                       // Attach/Exec Pod (attach)
	riskPortForward                  // port-forward
	riskEphemeral                    // EphemeralContainers Created
	riskClusterAdminBinding          // Attach to cluster-admin Role, K8s ClusterRoleBinding Created
	riskWildcardRole                 // ClusterRole With Wildcard Created, K8s (Cluster)Role Created
	riskPodExecRole                  // ClusterRole With Pod Exec Created, ... With Write Privileges Created
	riskCredentialConfigMap          // Create/Modify Configmap With Private Credentials
	riskNodePortService              // Create NodePort Service, K8s Service Created
	riskNamespaceCreate              // Create Disallowed Namespace, K8s Namespace Created
	riskNamespaceDelete              // K8s Namespace Deleted
	riskSecretGet                    // K8s Secret Get Successfully / Unsuccessfully Tried
	riskKubeNamespaceSA              // Service Account Created in Kube Namespace, K8s Serviceaccount Created
	riskAnonymous                    // Anonymous Request Allowed
	riskIngressNoTLS                 // Ingress Object without TLS Certificate Created
	riskSystemRole                   // System ClusterRole Modified/Deleted
	riskRBACChange                   // K8s Role/RoleBinding/ClusterRoleBinding Created/Deleted, K8s ClusterRole Deleted
	riskSecretWrite                  // K8s Secret Created/Deleted
	riskWorkloadChange               // K8s Deployment/Service/ConfigMap/Serviceaccount Created/Deleted
	numRiskKinds
)

var riskNames = [numRiskKinds]string{
	"none", "privileged pod", "hostNetwork pod", "hostPID pod", "hostIPC pod", "sensitive mount",
	"pod in kube-system", "exec", "attach", "port-forward", "ephemeral container",
	"cluster-admin binding", "wildcard role", "pods/exec role", "credentials in configmap",
	"NodePort service", "namespace create", "namespace delete", "secret get",
	"service account in kube namespace", "anonymous allowed", "ingress without TLS",
	"system role modified", "RBAC change", "secret write", "workload change",
}

// riskyActions returns the risky part of the action table. Shares are % of
// risky events.
func riskyActions() []action {
	a := []action{
		{"", catRisky, riskPrivilegedPod, 6, 2, (*Generator).riskyPod},
		{"", catRisky, riskHostNetworkPod, 4, 2, (*Generator).riskyPod},
		{"", catRisky, riskHostPIDPod, 3, 2, (*Generator).riskyPod},
		{"", catRisky, riskHostIPCPod, 3, 2, (*Generator).riskyPod},
		{"", catRisky, riskSensitiveMount, 5, 2, (*Generator).riskyPod},
		{"", catRisky, riskKubeSystemPod, 3, 2, (*Generator).riskyPod},
		{"", catRisky, riskExec, 8, 3, (*Generator).riskyStream},
		{"", catRisky, riskAttach, 3, 3, (*Generator).riskyStream},
		{"", catRisky, riskPortForward, 4, 3, (*Generator).riskyStream},
		{"", catRisky, riskEphemeral, 3, 2, (*Generator).riskyEphemeral},
		{"", catRisky, riskClusterAdminBinding, 4, 2, (*Generator).riskyClusterAdmin},
		{"", catRisky, riskWildcardRole, 3, 2, (*Generator).riskyRole},
		{"", catRisky, riskPodExecRole, 3, 2, (*Generator).riskyRole},
		{"", catRisky, riskCredentialConfigMap, 5, 2, (*Generator).riskyConfigMap},
		{"", catRisky, riskNodePortService, 3, 2, (*Generator).riskyNodePort},
		{"", catRisky, riskNamespaceCreate, 3, 2, (*Generator).riskyNamespaceCreate},
		{"", catRisky, riskNamespaceDelete, 2, 2, (*Generator).riskyNamespaceDelete},
		{"", catRisky, riskSecretGet, 9, 2, (*Generator).riskySecretGet},
		{"", catRisky, riskKubeNamespaceSA, 2, 2, (*Generator).riskyKubeSA},
		{"", catRisky, riskAnonymous, 4, 2, (*Generator).riskyAnonymous},
		{"", catRisky, riskIngressNoTLS, 3, 2, (*Generator).riskyIngress},
		{"", catRisky, riskSystemRole, 2, 2, (*Generator).riskySystemRole},
		{"", catRisky, riskRBACChange, 5, 2, (*Generator).riskyRBACChange},
		{"", catRisky, riskSecretWrite, 5, 2, (*Generator).riskySecretWrite},
		{"", catRisky, riskWorkloadChange, 5, 2, (*Generator).riskyWorkloadChange},
	}
	for i := range a {
		a[i].name = riskNames[a[i].risk]
	}
	return a
}

// pickRisky returns who performs a risky action. With people set, only
// people (not the CI service account) qualify.
func (g *Generator) pickRisky(people bool) *human {
	n := len(g.w.risky)
	if people {
		n-- // the last one is the CI service account
	}
	return &g.w.risky[g.rng.IntN(n)]
}

func (g *Generator) pickNS(h *human) string { return h.ns[g.rng.IntN(len(h.ns))] }

var riskyImages = [...]string{
	"nicolaka/netshoot:v0.13", "busybox:1.36", "alpine:3.20", "ubuntu:24.04",
	"nginx:1.27", "docker.io/library/debian:bookworm", "ghcr.io/example-corp/toolbox:2.4.1",
}

var riskyPodNames = [...]string{"debug", "netshoot", "toolbox", "priv-test", "node-shell", "nginx", "hack"}

var sensitivePaths = [...]string{
	"/var/run/docker.sock", "/proc", "/", "/etc", "/root", "/var/lib/kubelet",
	"/run/containerd/containerd.sock", "/etc/kubernetes",
}

// userPod is a Pod written by hand and sent with kubectl.
type userPod struct {
	name     []byte // metadata.name
	ns       string // namespace
	image    string // container image
	privInit bool   // privileged init container instead of main container
	priv     bool   // privileged main container
	hostNet  bool   // spec.hostNetwork
	hostPID  bool   // spec.hostPID
	hostIPC  bool   // spec.hostIPC
	hostPath string // a hostPath volume, "" for none
	tokenSfx []byte // kube-api-access suffix (response only)
}

// appendUserPod appends the pod as sent (full=false) or as returned.
func (g *Generator) appendUserPod(b []byte, p *userPod, full bool) []byte {
	b = append(b, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"`...)
	b = append(b, p.name...)
	b = append(b, `","namespace":"`...)
	b = append(b, p.ns...)
	if full {
		var uid [36]byte
		b = append(b, `","uid":"`...)
		b = append(b, g.newUID(&uid)...)
		b = append(b, `","resourceVersion":`...)
		b = appendQuotedInt(b, g.nextRV())
		b = append(b, `,"creationTimestamp":"`...)
		b = g.bclk.appendSecond(b, g.now)
		b = append(b, `","labels":{"run":"`...)
		b = append(b, p.name...)
		b = append(b, `"},"managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1","time":"`...)
		b = g.bclk.appendSecond(b, g.now)
		b = append(b, `","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:run":{}}},"f:spec":{"f:containers":{},"f:dnsPolicy":{},"f:restartPolicy":{},"f:securityContext":{}}}}]},"spec":{"volumes":[`...)
		if p.hostPath != "" {
			b = append(b, `{"name":"host","hostPath":{"path":"`...)
			b = append(b, p.hostPath...)
			b = append(b, `","type":""}},`...)
		}
		b = appendTokenVolume(b, p.tokenSfx)
		b = append(b, ']')
	} else {
		b = append(b, `","creationTimestamp":null,"labels":{"run":"`...)
		b = append(b, p.name...)
		b = append(b, `"}},"spec":{`...)
		if p.hostPath != "" {
			b = append(b, `"volumes":[{"name":"host","hostPath":{"path":"`...)
			b = append(b, p.hostPath...)
			b = append(b, `","type":""}}],`...)
		}
	}
	if full {
		b = append(b, ',')
	}
	if p.privInit {
		b = append(b, `"initContainers":[{"name":"setup","image":"`...)
		b = append(b, p.image...)
		b = append(b, `","command":["sh","-c","sysctl -w net.ipv4.ip_forward=1"],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"privileged":true}}],`...)
	}
	b = append(b, `"containers":[{"name":"`...)
	b = append(b, p.name...)
	b = append(b, `","image":"`...)
	b = append(b, p.image...)
	b = append(b, `","command":["sleep","infinity"],"resources":{}`...)
	if p.hostPath != "" || full {
		b = append(b, `,"volumeMounts":[`...)
		if p.hostPath != "" {
			b = append(b, `{"name":"host","mountPath":"/host"}`...)
			if full {
				b = append(b, ',')
			}
		}
		if full {
			b = appendTokenMount(b, p.tokenSfx)
		}
		b = append(b, ']')
	}
	b = append(b, `,"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"`...)
	if p.priv {
		b = append(b, `,"securityContext":{"privileged":true}`...)
	}
	b = append(b, `,"stdin":true,"tty":true}],"restartPolicy":"Never","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst"`...)
	if full {
		b = append(b, `,"serviceAccountName":"default","serviceAccount":"default"`...)
	}
	if p.hostNet {
		b = append(b, `,"hostNetwork":true`...)
	}
	if p.hostPID {
		b = append(b, `,"hostPID":true`...)
	}
	if p.hostIPC {
		b = append(b, `,"hostIPC":true`...)
	}
	if full {
		b = append(b, podTail...)
		return append(b, `,"status":{"phase":"Pending","qosClass":"BestEffort"}}`...)
	}
	return append(b, `,"securityContext":{},"schedulerName":"default-scheduler","enableServiceLinks":true},"status":{}}`...)
}

// riskyPod creates a hand-written pod that breaks one of the pod rules.
func (g *Generator) riskyPod(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	var sfx [5]byte
	p := userPod{ns: g.pickNS(h), image: riskyImages[g.rng.IntN(len(riskyImages))],
		tokenSfx: appendSuffix(sfx[:0], g.rng.Uint64(), 5)}
	switch r.risk {
	case riskPrivilegedPod:
		if g.rng.IntN(4) == 0 {
			p.privInit = true
		} else {
			p.priv = true
		}
	case riskHostNetworkPod:
		p.hostNet = true
	case riskHostPIDPod:
		p.hostPID = true
		p.priv = g.rng.IntN(2) == 0 // nsenter-style node shells ask for both
	case riskHostIPCPod:
		p.hostIPC = true
	case riskSensitiveMount:
		p.hostPath = sensitivePaths[g.rng.IntN(len(sensitivePaths))]
	case riskKubeSystemPod:
		p.ns = "kube-system"
	}
	g.name = append(g.name[:0], riskyPodNames[g.rng.IntN(len(riskyPodNames))]...)
	g.name = append(g.name, '-')
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	p.name = g.name
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, p.ns...)
	b = append(b, `/pods?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: p.ns, name: g.name, version: "v1"})
	g.ok(r, 201)
	g.allowWith(r, a, `,"pod-security.kubernetes.io/enforce-policy":"privileged:latest"`)
	r.bodies = append(r.bodies, `,"requestObject":`...)
	r.bodies = g.appendUserPod(r.bodies, &p, false)
	r.bodies = append(r.bodies, `,"responseObject":`...)
	r.bodies = g.appendUserPod(r.bodies, &p, true)
	g.complete(r, 15000)
}

var execCommands = [...]string{
	`command=%2Fbin%2Fsh`, `command=bash`, `command=env`,
	`command=cat\u0026command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken`,
	`command=sh\u0026command=-c\u0026command=curl+-s+http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F`,
}

// riskyStream is kubectl exec, attach or port-forward into an application
// pod. The stream starts (ResponseStarted, 101) and ends seconds to minutes
// later.
func (g *Generator) riskyStream(r *request) {
	h := g.pickRisky(true)
	a := &h.a
	p := g.pickAppPod()
	wl := &g.w.workloads[p.wl]
	g.name = append(g.name[:0], p.name...)
	r.level = levelRR
	b := podPath(startURI(r), wl.ns, g.name)
	sub := "exec"
	switch r.risk {
	case riskExec:
		b = append(b, "/exec?"...)
		b = append(b, execCommands[g.rng.IntN(len(execCommands))]...)
		b = append(b, `\u0026container=`...)
		b = append(b, wl.container...)
		b = append(b, `\u0026stdin=true\u0026stdout=true\u0026tty=true`...)
	case riskAttach:
		sub = "attach"
		b = append(b, "/attach?container="...)
		b = append(b, wl.container...)
		b = append(b, `\u0026stdin=true\u0026stdout=true\u0026tty=true`...)
	default:
		sub = "portforward"
		b = append(b, "/portforward"...)
	}
	verb := "get" // kubectl >= 1.31 streams over WebSockets
	if g.rng.IntN(4) == 0 {
		verb = "create" // the SPDY fallback
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: wl.ns, name: g.name, version: "v1", sub: sub})
	g.ok(r, 101)
	g.allow(r, a)
	g.streamed(r, g.latency(30e6, 1))
}

func (g *Generator) riskyEphemeral(r *request) {
	h := g.pickRisky(true)
	a := &h.a
	p := g.pickAppPod()
	v := g.view(p)
	r.level = levelRR
	b := podPath(startURI(r), v.wl.ns, v.name)
	b = append(b, "/ephemeralcontainers"...)
	b = who(b, "patch", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: v.wl.ns, name: v.name, version: "v1", sub: "ephemeralcontainers"})
	g.ok(r, 200)
	g.allow(r, a)
	bb := append(r.bodies, `,"requestObject":{"spec":{"ephemeralContainers":[{"name":"debugger-`...)
	bb = appendSuffix(bb, g.rng.Uint64(), 5)
	bb = append(bb, `","image":"`...)
	bb = append(bb, riskyImages[g.rng.IntN(len(riskyImages))]...)
	bb = append(bb, `","resources":{},"terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","stdin":true,"tty":true,"targetContainerName":"`...)
	bb = append(bb, v.wl.container...)
	bb = append(bb, `"}]}},"responseObject":`...)
	r.bodies = g.appendPod(bb, &v)
	g.complete(r, 12000)
}

// createBodies appends requestObject and responseObject of a created
// object. rest is everything after metadata, from the comma to the closing
// brace.
func (g *Generator) createBodies(r *request, kind, apiVersion string, name []byte, ns, manager, fields string, rest []byte) {
	var uid [36]byte
	b := append(r.bodies, `,"requestObject":{"kind":"`...)
	b = append(b, kind...)
	b = append(b, `","apiVersion":"`...)
	b = append(b, apiVersion...)
	b = append(b, `","metadata":{"name":"`...)
	b = appendEscaped(b, name)
	if ns != "" {
		b = append(b, `","namespace":"`...)
		b = append(b, ns...)
	}
	b = append(b, `","creationTimestamp":null}`...)
	b = append(b, rest...)
	b = append(b, `,"responseObject":{"kind":"`...)
	b = append(b, kind...)
	b = append(b, `","apiVersion":"`...)
	b = append(b, apiVersion...)
	b = append(b, `",`...)
	b = g.appendMeta(b, name, ns, g.newUID(&uid), g.now, manager, apiVersion, fields)
	r.bodies = append(b, rest...)
}

// deleted sets the Success status of a delete; at RequestResponse level it
// also logs DeleteOptions and the Status.
func (g *Generator) deleted(r *request, resource, group string, name []byte) {
	var uid [36]byte
	b := append(r.status[:0], `{"metadata":{},"status":"Success","details":{"name":"`...)
	b = appendEscaped(b, name)
	if group != "" {
		b = append(b, `","group":"`...)
		b = append(b, group...)
	}
	b = append(b, `","kind":"`...)
	b = append(b, resource...)
	b = append(b, `","uid":"`...)
	b = append(b, g.newUID(&uid)...)
	b = append(b, `"},"code":200}`...)
	r.status = b
	if r.level == levelRR {
		r.bodies = append(r.bodies, `,"requestObject":`...)
		r.bodies = append(r.bodies, deleteOptions...)
		r.bodies = append(r.bodies, `,"responseObject":{"kind":"Status","apiVersion":"v1",`...)
		r.bodies = append(r.bodies, r.status[1:len(r.status)-len(`,"code":200}`)]...)
		r.bodies = append(r.bodies, '}')
	}
}

const rbacGroup = "rbac.authorization.k8s.io"

// rbacPath appends the collection path of an RBAC resource.
func rbacPath(b []byte, resource, ns string) []byte {
	b = append(b, "/apis/rbac.authorization.k8s.io/v1/"...)
	if ns != "" {
		b = append(b, "namespaces/"...)
		b = append(b, ns...)
		b = append(b, '/')
	}
	return append(b, resource...)
}

var bindingNames = [...]string{"debug-admin", "temp-cluster-admin", "ops-admin", "break-glass", "ci-admin", "test-binding"}

func (g *Generator) riskyClusterAdmin(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	g.name = append(g.name[:0], bindingNames[g.rng.IntN(len(bindingNames))]...)
	g.name = append(g.name, '-')
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	r.level = levelRR
	b := rbacPath(startURI(r), "clusterrolebindings", "")
	b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "clusterrolebindings", name: g.name, group: rbacGroup, version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	t := append(g.tmp[:0], `,"subjects":[`...)
	switch g.rng.IntN(3) {
	case 0:
		t = append(t, `{"kind":"ServiceAccount","name":"default","namespace":"`...)
		t = append(t, g.pickNS(h)...)
		t = append(t, `"}`...)
	case 1:
		t = append(t, `{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"`...)
		t = appendEscaped(t, g.w.risky[g.rng.IntN(len(g.w.risky)-1)].a.name)
		t = append(t, `"}`...)
	default:
		t = append(t, `{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"oidc:contractors"}`...)
	}
	g.tmp = append(t, `],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}}`...)
	g.createBodies(r, "ClusterRoleBinding", "rbac.authorization.k8s.io/v1", g.name, "", "kubectl-create",
		`{"f:roleRef":{},"f:subjects":{}}`, g.tmp)
	g.complete(r, 6000)
}

var wildcardRules = [...]string{
	`,"rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]}`,
	`,"rules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["*"]}]}`,
	`,"rules":[{"verbs":["*"],"apiGroups":["","apps"],"resources":["pods","deployments","secrets"]}]}`,
}

const podExecRules = `,"rules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["pods","pods/log"]},{"verbs":["create","get"],"apiGroups":[""],"resources":["pods/exec","pods/attach"]}]}`

var roleNames = [...]string{"debugger", "support-access", "power-user", "incident-response", "dev-full-access"}

// riskyRole creates a Role or ClusterRole with wildcards or pods/exec.
func (g *Generator) riskyRole(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	resource, kind, ns := "clusterroles", "ClusterRole", ""
	if g.rng.IntN(3) == 0 {
		resource, kind, ns = "roles", "Role", g.pickNS(h)
	}
	g.name = append(g.name[:0], roleNames[g.rng.IntN(len(roleNames))]...)
	g.name = append(g.name, '-')
	g.name = appendSuffix(g.name, g.rng.Uint64(), 4)
	r.level = levelRR
	b := rbacPath(startURI(r), resource, ns)
	b = append(b, `?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: resource, ns: ns, name: g.name, group: rbacGroup, version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	rules := podExecRules
	if r.risk == riskWildcardRole {
		rules = wildcardRules[g.rng.IntN(len(wildcardRules))]
	}
	g.tmp = append(g.tmp[:0], rules...)
	g.createBodies(r, kind, "rbac.authorization.k8s.io/v1", g.name, ns, "kubectl-client-side-apply", `{"f:rules":{}}`, g.tmp)
	g.complete(r, 5000)
}

// appendFakeKey appends n characters that look like an AWS access key body.
// They are random, not real.
func (g *Generator) appendFakeKey(b []byte, n int) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	for range n {
		b = append(b, alphabet[g.rng.IntN(len(alphabet))])
	}
	return b
}

// riskyConfigMap creates or patches a ConfigMap holding credentials.
func (g *Generator) riskyConfigMap(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	ns := g.pickNS(h)
	g.name = append(g.name[:0], [...]string{"app-config", "backup-settings", "db-config", "legacy-env", "s3-sync"}[g.rng.IntN(5)]...)
	d := append(g.tmp[:0], '{')
	switch g.rng.IntN(4) {
	case 0:
		d = append(d, `"aws_access_key_id":"AKIA`...)
		d = g.appendFakeKey(d, 16)
		d = append(d, `","aws_secret_access_key":"`...)
		d = g.appendFakeKey(d, 40)
		d = append(d, `","region":"eu-west-1"`...)
	case 1:
		d = append(d, `"application.properties":"spring.datasource.url=jdbc:postgresql://db.`...)
		d = append(d, ns...)
		d = append(d, `.svc:5432/app\nspring.datasource.username=app\nspring.datasource.password=`...)
		d = g.appendFakeKey(d, 12)
		d = append(d, `\n"`...)
	case 2:
		d = append(d, `"backup.conf":"aws-s3-access-key-id = AKIA`...)
		d = g.appendFakeKey(d, 16)
		d = append(d, `\nbucket = backups-`...)
		d = append(d, ns...)
		d = append(d, `\n"`...)
	default:
		d = append(d, `"signing.conf":"keyid=0x`...)
		d = appendHex(d, g.rng.Uint64(), 16)
		d = append(d, `\npassphrase=`...)
		d = g.appendFakeKey(d, 20)
		d = append(d, `\n"`...)
	}
	g.tmp = append(d, '}')
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, ns...)
	b = append(b, "/configmaps"...)
	verb := "create"
	if g.rng.IntN(3) == 0 {
		verb = "patch"
		b = append(b, '/')
		b = append(b, g.name...)
		b = append(b, "?fieldManager=kubectl-patch"...)
		g.ok(r, 200)
		var uid [36]byte
		bb := append(r.bodies, `,"requestObject":{"data":`...)
		bb = append(bb, g.tmp...)
		bb = append(bb, `},"responseObject":`...)
		r.bodies = g.appendConfigMap(bb, g.name, ns, g.newUID(&uid), g.now-int64(g.rng.IntN(30*86400))*1e6, "kubectl-patch", g.tmp)
	} else {
		b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
		g.ok(r, 201)
		var uid [36]byte
		bb := append(r.bodies, `,"requestObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"`...)
		bb = append(bb, g.name...)
		bb = append(bb, `","namespace":"`...)
		bb = append(bb, ns...)
		bb = append(bb, `","creationTimestamp":null},"data":`...)
		bb = append(bb, g.tmp...)
		bb = append(bb, `},"responseObject":`...)
		r.bodies = g.appendConfigMap(bb, g.name, ns, g.newUID(&uid), g.now, "kubectl-create", g.tmp)
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &objRef{resource: "configmaps", ns: ns, name: g.name, version: "v1"})
	g.allow(r, a)
	g.complete(r, 5000)
}

// riskyNodePort exposes a workload on every node.
func (g *Generator) riskyNodePort(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	g.name = append(g.name, "-nodeport"...)
	port := 30000 + g.rng.IntN(2768)
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, `/services?fieldManager=kubectl-expose\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "services", ns: wl.ns, name: g.name, version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	t := append(g.tmp[:0], `,"spec":{"ports":[{"protocol":"TCP","port":80,"targetPort":8080,"nodePort":`...)
	t = appendInt(t, int64(port))
	t = append(t, `}],"selector":{"app.kubernetes.io/name":"`...)
	t = append(t, wl.app...)
	t = append(t, `"},"type":"NodePort","externalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}`...)
	g.tmp = t
	g.createBodies(r, "Service", "v1", g.name, wl.ns, "kubectl-expose", `{"f:spec":{"f:externalTrafficPolicy":{},"f:ports":{},"f:selector":{},"f:type":{}}}`, g.tmp)
	g.complete(r, 9000)
}

var nsPrefixes = [...]string{"feature-", "sandbox-", "load-test-", "tmp-", "preview-", "poc-"}

const nsRest = `,"spec":{},"status":{"phase":"Active"}}`

func (g *Generator) riskyNamespaceCreate(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	g.name = append(g.name[:0], nsPrefixes[g.rng.IntN(len(nsPrefixes))]...)
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	r.level = levelRR
	b := startURI(r)
	b = append(b, `/api/v1/namespaces?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "namespaces", name: g.name, version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	g.tmp = append(g.tmp[:0], nsRest...)
	g.createBodies(r, "Namespace", "v1", g.name, "", "kubectl-create", `{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{}}}}`, g.tmp)
	g.complete(r, 40000)
}

func (g *Generator) riskyNamespaceDelete(r *request) {
	h := g.pickRisky(true)
	a := &h.a
	g.name = append(g.name[:0], nsPrefixes[g.rng.IntN(len(nsPrefixes))]...)
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, g.name...)
	b = who(b, "delete", a)
	r.mid = appendObjectRef(b, &objRef{resource: "namespaces", nsIsName: true, name: g.name, version: "v1"})
	g.ok(r, 200)
	g.allow(r, a)
	var uid [36]byte
	bb := append(r.bodies, `,"requestObject":`...)
	bb = append(bb, deleteOptions...)
	bb = append(bb, `,"responseObject":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"`...)
	bb = append(bb, g.name...)
	bb = append(bb, `","uid":"`...)
	bb = append(bb, g.newUID(&uid)...)
	bb = append(bb, `","resourceVersion":`...)
	bb = appendQuotedInt(bb, g.nextRV())
	bb = append(bb, `,"creationTimestamp":"`...)
	bb = g.bclk.appendSecond(bb, g.now-int64(3600+g.rng.IntN(7*86400))*1e6)
	bb = append(bb, `","deletionTimestamp":"`...)
	bb = g.bclk.appendSecond(bb, g.now)
	bb = append(bb, `","labels":{"kubernetes.io/metadata.name":"`...)
	bb = append(bb, g.name...)
	r.bodies = append(bb, `"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Terminating"}}`...)
	g.complete(r, 11000)
}

var secretSuffixes = [...]string{"-db-credentials", "-api-keys", "-tls", "-oauth-client", "-smtp"}

// riskySecretGet reads a secret; people without access are refused.
func (g *Generator) riskySecretGet(r *request) {
	var h *human
	if g.rng.IntN(3) == 0 {
		h = &g.w.humans[1+g.rng.IntN(3)] // bob, carol, dave: some of it is forbidden
	} else {
		h = g.pickRisky(true)
	}
	a := &h.a
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	g.name = append(g.name, secretSuffixes[g.rng.IntN(len(secretSuffixes))]...)
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/secrets/"...)
	b = append(b, g.name...)
	b = who(b, "get", a)
	r.mid = appendObjectRef(b, &objRef{resource: "secrets", ns: wl.ns, name: g.name, version: "v1"})
	if h.viewOnly || !h.admin && !contains(h.ns, wl.ns) {
		g.forbidden(r, a.name, "get", "secrets", "", wl.ns, g.name)
	} else {
		g.ok(r, 200)
		g.allow(r, a)
	}
	g.complete(r, 900)
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

var kubeSANames = [...]string{"backup-agent", "debug-sa", "ops-automation", "tiller", "node-debugger", "log-shipper"}

func (g *Generator) riskyKubeSA(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	ns := "kube-system"
	if g.rng.IntN(3) == 0 {
		ns = "kube-public"
	}
	g.name = append(g.name[:0], kubeSANames[g.rng.IntN(len(kubeSANames))]...)
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, ns...)
	b = append(b, `/serviceaccounts?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "serviceaccounts", ns: ns, name: g.name, version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	g.tmp = append(g.tmp[:0], '}')
	g.createBodies(r, "ServiceAccount", "v1", g.name, ns, "kubectl-create", `{}`, g.tmp)
	g.complete(r, 4000)
}

// riskyAnonymous is an unauthenticated request that RBAC lets through.
func (g *Generator) riskyAnonymous(r *request) {
	b := startURI(r)
	switch g.rng.IntN(3) {
	case 0:
		a := &g.w.anonJoin
		g.name = append(g.name[:0], "cluster-info"...)
		b = append(b, "/api/v1/namespaces/kube-public/configmaps/cluster-info"...)
		b = who(b, "get", a)
		r.mid = appendObjectRef(b, &objRef{resource: "configmaps", ns: "kube-public", name: g.name, version: "v1"})
		g.allow(r, a)
	case 1:
		a := &g.w.anonVersion
		b = append(b, "/version"...)
		r.mid = who(b, "get", a)
		g.allow(r, a)
	default:
		a := &g.w.anonList
		b = append(b, "/api/v1/namespaces/default/pods?limit=500"...)
		b = who(b, "list", a)
		r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: "default", version: "v1"})
		g.allow(r, a)
	}
	g.ok(r, 200)
	g.complete(r, 800)
}

func (g *Generator) riskyIngress(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/apis/networking.k8s.io/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, `/ingresses?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict`...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "ingresses", ns: wl.ns, name: g.name, group: "networking.k8s.io", version: "v1"})
	g.ok(r, 201)
	g.allow(r, a)
	t := append(g.tmp[:0], `,"spec":{"ingressClassName":"nginx","rules":[{"host":"`...)
	t = append(t, wl.name...)
	t = append(t, `.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"`...)
	t = append(t, wl.name...)
	g.tmp = append(t, `","port":{"number":80}}}}]}}]},"status":{"loadBalancer":{}}}`...)
	g.createBodies(r, "Ingress", "networking.k8s.io/v1", g.name, wl.ns, "kubectl-client-side-apply",
		`{"f:spec":{"f:ingressClassName":{},"f:rules":{}}}`, g.tmp)
	g.complete(r, 20000)
}

var systemRoles = [...]string{"system:aggregate-to-view", "system:aggregate-to-edit", "system:kube-aggregator", "system:node-proxier", "system:discovery"}

func (g *Generator) riskySystemRole(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	g.name = append(g.name[:0], systemRoles[g.rng.IntN(len(systemRoles))]...)
	r.level = levelRR
	b := rbacPath(startURI(r), "clusterroles", "")
	b = append(b, '/')
	b = append(b, g.name...)
	verb := "delete"
	if g.rng.IntN(2) == 0 {
		verb = "patch"
		b = append(b, "?fieldManager=kubectl-patch"...)
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &objRef{resource: "clusterroles", name: g.name, group: rbacGroup, version: "v1"})
	g.allow(r, a)
	if verb == "delete" {
		g.deleted(r, "clusterroles", rbacGroup, g.name)
	} else {
		g.ok(r, 200)
		var uid [36]byte
		bb := append(r.bodies, `,"requestObject":{"rules":[{"verbs":["*"],"apiGroups":[""],"resources":["secrets"]}]},"responseObject":{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1",`...)
		bb = g.appendMeta(bb, g.name, "", g.newUID(&uid), g.w.t0-400*86400e6, "kubectl-patch", "rbac.authorization.k8s.io/v1", `{"f:rules":{}}`)
		r.bodies = append(bb, `,"rules":[{"verbs":["*"],"apiGroups":[""],"resources":["secrets"]}]}`...)
	}
	g.complete(r, 5000)
}

// riskyRBACChange is ordinary but audited RBAC churn: read-only roles and
// bindings created and removed.
func (g *Generator) riskyRBACChange(r *request) {
	h := g.pickRisky(false)
	a := &h.a
	ns := g.pickNS(h)
	g.name = append(g.name[:0], ns...)
	g.name = append(g.name, [...]string{"-viewers", "-readers", "-oncall", "-auditors"}[g.rng.IntN(4)]...)
	r.level = levelRR
	b := startURI(r)
	var ref objRef
	switch k := g.rng.IntN(5); k {
	case 0: // Role
		b = rbacPath(b, "roles", ns)
		b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
		b = who(b, "create", a)
		ref = objRef{resource: "roles", ns: ns, name: g.name, group: rbacGroup, version: "v1"}
		g.ok(r, 201)
		g.tmp = append(g.tmp[:0], `,"rules":[{"verbs":["get","list","watch"],"apiGroups":["","apps"],"resources":["pods","deployments","services"]}]}`...)
		g.createBodies(r, "Role", "rbac.authorization.k8s.io/v1", g.name, ns, "kubectl-create", `{"f:rules":{}}`, g.tmp)
	case 1, 2: // RoleBinding or ClusterRoleBinding to view
		resource, kind, bns := "rolebindings", "RoleBinding", ns
		if k == 2 {
			resource, kind, bns = "clusterrolebindings", "ClusterRoleBinding", ""
		}
		b = rbacPath(b, resource, bns)
		b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
		b = who(b, "create", a)
		ref = objRef{resource: resource, ns: bns, name: g.name, group: rbacGroup, version: "v1"}
		g.ok(r, 201)
		g.tmp = append(g.tmp[:0], `,"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"oidc:`...)
		g.tmp = append(g.tmp, ns...)
		g.tmp = append(g.tmp, `-devs"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}`...)
		g.createBodies(r, kind, "rbac.authorization.k8s.io/v1", g.name, bns, "kubectl-create", `{"f:roleRef":{},"f:subjects":{}}`, g.tmp)
	default: // delete a Role, RoleBinding, ClusterRoleBinding or ClusterRole
		resource, rns := [...]string{"roles", "rolebindings", "clusterrolebindings", "clusterroles"}[g.rng.IntN(4)], ns
		if resource == "clusterrolebindings" || resource == "clusterroles" {
			rns = ""
		}
		b = rbacPath(b, resource, rns)
		b = append(b, '/')
		b = append(b, g.name...)
		b = who(b, "delete", a)
		ref = objRef{resource: resource, ns: rns, name: g.name, group: rbacGroup, version: "v1"}
		g.deleted(r, resource, rbacGroup, g.name)
	}
	r.mid = appendObjectRef(b, &ref)
	g.allow(r, a)
	g.complete(r, 5000)
}

// riskySecretWrite creates or deletes a secret by hand.
func (g *Generator) riskySecretWrite(r *request) {
	h := g.pickRisky(true)
	a := &h.a
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	g.name = append(g.name, secretSuffixes[g.rng.IntN(len(secretSuffixes))]...)
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/secrets"...)
	verb := "create"
	if g.rng.IntN(2) == 0 {
		verb = "delete"
		b = append(b, '/')
		b = append(b, g.name...)
		g.deleted(r, "secrets", "", g.name)
	} else {
		b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
		g.ok(r, 201)
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &objRef{resource: "secrets", ns: wl.ns, name: g.name, version: "v1"})
	g.allow(r, a)
	g.complete(r, 4000)
}

// riskyWorkloadChange creates or deletes deployments, services, configmaps
// and service accounts by hand instead of through the pipeline.
func (g *Generator) riskyWorkloadChange(r *request) {
	h := g.pickRisky(true)
	a := &h.a
	wl := g.pickApp()
	b := startURI(r)
	ref := objRef{ns: wl.ns, version: "v1"}
	verb := "create"
	g.name = append(g.name[:0], wl.name...)
	g.name = append(g.name, "-canary"...)
	ref.name = g.name
	switch g.rng.IntN(6) {
	case 0, 1: // Deployment (apps is logged at Metadata)
		ref.resource, ref.group = "deployments", "apps"
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments"...)
		if g.rng.IntN(2) == 0 {
			verb = "delete"
			b = append(b, '/')
			b = append(b, g.name...)
			g.deleted(r, "deployments", "apps", g.name)
		} else {
			b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
			g.ok(r, 201)
		}
	case 2: // Service delete
		verb = "delete"
		r.level = levelRR
		ref.resource = "services"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/services/"...)
		b = append(b, g.name...)
		g.deleted(r, "services", "", g.name)
	case 3, 4: // ConfigMap create or delete
		r.level = levelRR
		ref.resource = "configmaps"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/configmaps"...)
		if g.rng.IntN(2) == 0 {
			verb = "delete"
			b = append(b, '/')
			b = append(b, g.name...)
			g.deleted(r, "configmaps", "", g.name)
		} else {
			b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
			g.ok(r, 201)
			g.tmp = append(g.tmp[:0], `,"data":`...)
			g.tmp = g.appendAppConfig(g.tmp, wl)
			g.tmp = append(g.tmp, '}')
			g.createBodies(r, "ConfigMap", "v1", g.name, wl.ns, "kubectl-create", `{"f:data":{".":{}}}`, g.tmp)
		}
	default: // ServiceAccount create or delete
		r.level = levelRR
		ref.resource = "serviceaccounts"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/serviceaccounts"...)
		if g.rng.IntN(2) == 0 {
			verb = "delete"
			b = append(b, '/')
			b = append(b, g.name...)
			g.deleted(r, "serviceaccounts", "", g.name)
		} else {
			b = append(b, `?fieldManager=kubectl-create\u0026fieldValidation=Strict`...)
			g.ok(r, 201)
			g.tmp = append(g.tmp[:0], '}')
			g.createBodies(r, "ServiceAccount", "v1", g.name, wl.ns, "kubectl-create", `{}`, g.tmp)
		}
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.allow(r, a)
	g.complete(r, 6000)
}
