package corpus

import (
	"math/rand/v2"
	"strconv"
)

// This file builds the simulated cluster once, in New: nodes, namespaces,
// workloads with their pods, and every identity that talks to the apiserver.
// Everything that can be rendered ahead of time (user objects, annotation
// prefixes, container specs, managedFields) is rendered here as bytes, so
// that Next only copies.

const (
	k8sVersion   = "v1.33.4"
	k8sCommit    = "74cdb42"
	componentUA  = " (linux/amd64) kubernetes/" + k8sCommit
	region       = "eu-west-1"
	nodeCount    = 180
	controlNodes = 3
)

// actor is one identity as it appears in an audit event.
type actor struct {
	name  string // user.username
	user  []byte // the complete "user" object
	ip    string // sourceIPs[0]
	ua    []byte // userAgent, as a JSON string literal
	allow []byte // annotations for an allowed request, without the closing brace
}

// node is one worker node.
type node struct {
	name     string // e.g. ip-10-42-17-203.eu-west-1.compute.internal
	ip       string // InternalIP
	uid      string // Node UID
	leaseUID string // UID of its Lease in kube-node-lease
	kubelet  actor  // system:node:<name>
}

// workload is a Deployment, DaemonSet or StatefulSet with its pods.
type workload struct {
	ns        string   // namespace
	name      string   // Deployment/DaemonSet/StatefulSet name
	app       string   // app.kubernetes.io/name label
	kind      string   // owner kind of the pods: ReplicaSet, DaemonSet, StatefulSet
	owner     string   // owner name: <deployment>-<hash> or the DaemonSet/StatefulSet name
	ownerUID  string   // owner UID
	depUID    string   // Deployment UID (Deployments only)
	hash      string   // pod-template-hash or controller-revision-hash
	container string   // main container name
	image     string   // image reference
	imageID   string   // repo@sha256:...
	sa        string   // service account name
	pods      []int    // indexes into world.pods
	sliceName string   // EndpointSlice name
	sliceUID  string   // EndpointSlice UID
	epUID     string   // Endpoints UID
	cmName    string   // ConfigMap mounted by the workload ("" if none)
	cmUID     [36]byte // ConfigMap UID
	labels    []byte   // pod labels object
	ctrHead   []byte   // container spec from '{' up to the volumeMounts
	ctrTail   []byte   // container spec after the volumeMounts, with the closing '}'
	mfSpec    []byte   // managedFields entry of the pod's creator, after its "time" value
	qos       string   // status.qosClass
	system    bool     // runs in a platform namespace
	ua        string   // user agent of its API client (platform workloads)
}

// pod is one running pod.
type pod struct {
	name     string   // pod name
	wl       int      // index into world.workloads
	node     int      // index into world.nodes
	ip       string   // pod IP
	uid      [36]byte // pod UID
	created  int64    // creationTimestamp, µs
	ctrID    string   // containerd ID of the main container (64 hex)
	tokenSfx [5]byte  // suffix of the kube-api-access-xxxxx volume
	restarts int      // restartCount
}

// world is the simulated cluster.
type world struct {
	nodes           []node
	control         []string // control-plane node IPs
	nsApps          []string // application namespaces
	workloads       []workload
	apps            []int // indexes of application workloads (Deployments in nsApps)
	pods            []int // indexes of pods of application workloads
	allPods         []pod
	byNS            map[string][]int // application workloads by namespace
	kcmCtl          []kcmController
	kcmInf          actor    // system:kube-controller-manager, shared-informers user agent
	sched           actor    // system:kube-scheduler
	leaders         []leader // leader-election leases in kube-system
	apiserver       []actor  // one system:apiserver per control-plane node
	apiLeases       []string // apiserver-<id> lease names
	apiLeaseUIDs    []string
	certLeaseUID    string             // cert-manager-controller lease
	ingressLeaseUID string             // ingress-nginx-leader lease
	probes          []actor            // system:anonymous health checkers
	anonScan        actor              // system:anonymous from the internet (ip and agent vary)
	anonJoin        actor              // system:anonymous reading cluster-info (kubeadm join)
	anonVersion     actor              // system:anonymous reading /version
	anonList        actor              // system:anonymous let in by a careless binding
	inCluster       map[string][]actor // platform clients by workload name, one per pod
	humans          []human
	impersonate     []byte   // impersonatedUser object alice uses
	ci              []actor  // CI/CD identities: ci-deployer (kubectl, helm), argocd
	risky           []human  // identities that perform risky actions; the CI account is last
	scanners        []string // public IPs of internet scanners
	t0              int64    // simulation start, µs
}

// kcmController is a kube-controller-manager controller running with its own
// service-account credentials.
type kcmController struct {
	name string
	a    actor
}

// human is a person (or a person's tooling) with kubectl-like access.
type human struct {
	a        actor
	ns       []string // namespaces they usually work in
	admin    bool     // may touch any namespace
	viewOnly bool     // bound to the view ClusterRole: no writes, no secrets
	denyNS   string   // a namespace where RBAC forbids them ("" = none)
}

// leader is a leader-election lease in kube-system and its holder.
type leader struct {
	name string // lease name
	uid  string // lease UID
	a    actor  // the holder
}

// rnd wraps the generator's PRNG with the helpers the builders need.
type rnd struct{ *rand.Rand }

func (r rnd) uuid() string {
	var b [36]byte
	return string(appendUUID(b[:0], r.Uint64(), r.Uint64()))
}

func (r rnd) hex(n int) string {
	b := make([]byte, 0, n)
	for len(b) < n {
		k := min(16, n-len(b))
		b = appendHex(b, r.Uint64(), k)
	}
	return string(b)
}

func (r rnd) suffix(n int) string {
	var b [12]byte
	return string(appendSuffix(b[:0], r.Uint64(), n))
}

// newActor renders an identity. uid and extra may be empty; extra is the
// body of the "extra" object.
func newActor(name, uid string, groups []string, extra, ip, ua, reason string) actor {
	u := append([]byte(nil), `{"username":`...)
	u = appendString(u, name)
	if uid != "" {
		u = append(u, `,"uid":`...)
		u = appendString(u, uid)
	}
	u = append(u, `,"groups":[`...)
	for i, g := range groups {
		if i > 0 {
			u = append(u, ',')
		}
		u = appendString(u, g)
	}
	u = append(u, ']')
	if extra != "" {
		u = append(u, `,"extra":{`...)
		u = append(u, extra...)
		u = append(u, '}')
	}
	u = append(u, '}')
	a := actor{name: name, user: u, ip: ip, ua: appendString(nil, ua)}
	a.allow = append([]byte(nil), `{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":`...)
	a.allow = appendString(a.allow, reason)
	return a
}

func credX509(r rnd) string {
	return `"authentication.kubernetes.io/credential-id":["X509SHA256=` + r.hex(64) + `"]`
}

func credJTI(r rnd) string {
	return `"authentication.kubernetes.io/credential-id":["JTI=` + r.uuid() + `"]`
}

// podBoundExtra is user.extra of a service-account token bound to a pod.
func podBoundExtra(r rnd, p *pod, n *node) string {
	return `"authentication.kubernetes.io/credential-id":["JTI=` + r.uuid() +
		`"],"authentication.kubernetes.io/node-name":["` + n.name +
		`"],"authentication.kubernetes.io/node-uid":["` + n.uid +
		`"],"authentication.kubernetes.io/pod-name":["` + p.name +
		`"],"authentication.kubernetes.io/pod-uid":["` + string(p.uid[:]) + `"]`
}

func saGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

func rbacReason(kind, binding, role, subjKind, subj string) string {
	return "RBAC: allowed by " + kind + ` "` + binding + `" of ClusterRole "` + role + `" to ` + subjKind + ` "` + subj + `"`
}

// appSpec describes one application namespace.
type appSpec struct {
	ns    string
	comps []string
}

var appCatalog = [...]appSpec{
	{"payments", []string{"api", "worker", "ledger", "webhook-relay"}},
	{"checkout", []string{"api", "cart", "pricing"}},
	{"catalog", []string{"api", "indexer", "image-resizer"}},
	{"search", []string{"gateway", "query", "ranker"}},
	{"identity", []string{"auth", "session", "mfa"}},
	{"notifications", []string{"dispatcher", "email-sender", "push-gateway"}},
	{"analytics", []string{"collector", "aggregator"}},
	{"storefront", []string{"web", "bff", "ssr"}},
	{"ml-serving", []string{"predictor", "feature-store"}},
	{"data-pipeline", []string{"ingest", "transformer", "scheduler"}},
	{"inventory", []string{"api", "reconciler"}},
	{"shipping", []string{"api", "label-printer", "tracker"}},
	{"billing", []string{"api", "invoicer"}},
	{"recommendations", []string{"api", "trainer"}},
	{"media", []string{"transcoder", "cdn-purger"}},
	{"support", []string{"portal", "ticket-sync"}},
}

var kcmControllers = [...]string{
	"endpointslice-controller", "endpoint-controller", "replicaset-controller",
	"deployment-controller", "generic-garbage-collector", "horizontal-pod-autoscaler",
	"resourcequota-controller", "job-controller", "cronjob-controller",
	"statefulset-controller", "daemon-set-controller", "node-controller",
	"disruption-controller", "pvc-protection-controller", "ttl-after-finished-controller",
	"endpointslicemirroring-controller", "pod-garbage-collector",
}

// platformCatalog lists the platform workloads: namespace, name, owner kind,
// image, service account and the user agent of their API client.
var platformCatalog = [...]struct{ ns, name, kind, image, sa, ua string }{
	{"kube-system", "coredns", "ReplicaSet", "registry.k8s.io/coredns/coredns:v1.12.1", "coredns",
		"coredns/v1.12.1 (linux/amd64) kubernetes/$Format"},
	{"kube-system", "metrics-server", "ReplicaSet", "registry.k8s.io/metrics-server/metrics-server:v0.7.2", "metrics-server",
		"metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format"},
	{"kube-system", "kube-proxy", "DaemonSet", "registry.k8s.io/kube-proxy:" + k8sVersion, "kube-proxy",
		"kube-proxy/" + k8sVersion + componentUA},
	{"logging", "fluent-bit", "DaemonSet", "cr.fluentbit.io/fluent/fluent-bit:4.0.3", "fluent-bit", "fluent-bit"},
	{"monitoring", "node-exporter", "DaemonSet", "quay.io/prometheus/node-exporter:v1.9.1", "node-exporter", "node_exporter"},
	{"monitoring", "prometheus-k8s", "StatefulSet", "quay.io/prometheus/prometheus:v3.4.1", "prometheus-k8s",
		"Prometheus/3.4.1"},
	{"ingress-nginx", "ingress-nginx-controller", "ReplicaSet", "registry.k8s.io/ingress-nginx/controller:v1.12.3",
		"ingress-nginx", "nginx-ingress-controller/v1.12.3 (linux/amd64) ingress-nginx/5d7c2a3f"},
	{"cert-manager", "cert-manager", "ReplicaSet", "quay.io/jetstack/cert-manager-controller:v1.17.2", "cert-manager",
		"cert-manager-controller/v1.17.2 (linux/amd64) cert-manager/7e6bb2ab"},
	{"argocd", "argocd-application-controller", "StatefulSet", "quay.io/argoproj/argocd:v2.14.11",
		"argocd-application-controller", "argocd-application-controller/v2.14.11+8283115 (linux/amd64)"},
	{"ci", "gitlab-runner", "ReplicaSet", "registry.gitlab.com/gitlab-org/gitlab-runner:v17.11.1", "ci-deployer",
		"kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07"},
}

// appImage returns the image of component c of namespace ns in one of three
// registry layouts.
func appImage(r rnd, ns, c string) string {
	var repo string
	switch r.IntN(3) {
	case 0:
		repo = "registry.example.com/" + ns + "/" + c
	case 1:
		repo = "ghcr.io/example-corp/" + ns + "-" + c
	default:
		repo = "123456789012.dkr.ecr." + region + ".amazonaws.com/" + ns + "/" + c
	}
	return repo + ":v" + strconv.Itoa(1+r.IntN(4)) + "." + strconv.Itoa(r.IntN(40)) + "." + strconv.Itoa(r.IntN(12))
}

// newWorld builds the cluster from r. t0 is the simulation start in µs.
func newWorld(r rnd, t0 int64) *world {
	w := &world{t0: t0, inCluster: make(map[string][]actor), byNS: make(map[string][]int)}

	for i := range controlNodes {
		w.control = append(w.control, "10.42.0."+strconv.Itoa(11+i))
	}
	seen := map[string]bool{}
	for len(w.nodes) < nodeCount {
		a, b := 16+r.IntN(48), 2+r.IntN(252)
		ip := "10.42." + strconv.Itoa(a) + "." + strconv.Itoa(b)
		if seen[ip] {
			continue
		}
		seen[ip] = true
		n := node{
			name:     "ip-10-42-" + strconv.Itoa(a) + "-" + strconv.Itoa(b) + "." + region + ".compute.internal",
			ip:       ip,
			uid:      r.uuid(),
			leaseUID: r.uuid(),
		}
		n.kubelet = newActor("system:node:"+n.name, "", []string{"system:nodes", "system:authenticated"},
			credX509(r), ip, "kubelet/"+k8sVersion+componentUA, "")
		w.nodes = append(w.nodes, n)
	}

	for _, app := range appCatalog {
		w.nsApps = append(w.nsApps, app.ns)
		for _, c := range app.comps {
			name := app.ns + "-" + c
			w.addWorkload(r, app.ns, name, c, "ReplicaSet", appImage(r, app.ns, c), name, 2+r.IntN(7), false)
			w.apps = append(w.apps, len(w.workloads)-1)
			w.byNS[app.ns] = append(w.byNS[app.ns], len(w.workloads)-1)
		}
	}
	for _, p := range platformCatalog {
		replicas := 2
		switch p.kind {
		case "DaemonSet":
			replicas = len(w.nodes)
		case "StatefulSet":
			replicas = 2
		}
		w.addWorkload(r, p.ns, p.name, p.name, p.kind, p.image, p.sa, replicas, true)
		w.workloads[len(w.workloads)-1].ua = p.ua
	}
	for _, wl := range w.workloads {
		if !wl.system {
			w.pods = append(w.pods, wl.pods...)
		}
	}

	// In-cluster clients: one actor per pod, each with a pod-bound token.
	for i := range w.workloads {
		wl := &w.workloads[i]
		if !wl.system {
			continue
		}
		ua := wl.ua
		reason := rbacReason("ClusterRoleBinding", wl.name, wl.name, "ServiceAccount", wl.sa+"/"+wl.ns)
		for _, pi := range wl.pods {
			p := &w.allPods[pi]
			n := &w.nodes[p.node]
			a := newActor("system:serviceaccount:"+wl.ns+":"+wl.sa, r.uuid(), saGroups(wl.ns),
				podBoundExtra(r, p, n), p.ip, ua, reason)
			w.inCluster[wl.name] = append(w.inCluster[wl.name], a)
		}
	}
	w.ci = append(w.ci, w.inCluster["gitlab-runner"]...)
	for i := range w.ci {
		if i%2 == 1 { // half of the runner's calls come from helm
			w.ci[i].ua = appendString(nil, "Helm/3.17.3")
		}
	}
	w.ci = append(w.ci, w.inCluster["argocd-application-controller"]...)

	// kube-controller-manager with --use-service-account-credentials.
	kcmIP := w.control[r.IntN(len(w.control))]
	for _, c := range kcmControllers {
		reason := rbacReason("ClusterRoleBinding", "system:controller:"+c, "system:controller:"+c,
			"ServiceAccount", c+"/kube-system")
		w.kcmCtl = append(w.kcmCtl, kcmController{c, newActor("system:serviceaccount:kube-system:"+c,
			r.uuid(), saGroups("kube-system"), credJTI(r), kcmIP,
			"kube-controller-manager/"+k8sVersion+componentUA+"/system:serviceaccount:kube-system:"+c, reason)})
	}
	kcmReason := rbacReason("ClusterRoleBinding", "system:kube-controller-manager", "system:kube-controller-manager",
		"User", "system:kube-controller-manager")
	kcm := newActor("system:kube-controller-manager", "", []string{"system:authenticated"}, credX509(r), kcmIP,
		"kube-controller-manager/"+k8sVersion+componentUA+"/leader-election", kcmReason)
	w.kcmInf = kcm
	w.kcmInf.ua = appendString(nil, "kube-controller-manager/"+k8sVersion+componentUA+"/shared-informers")
	schedIP := w.control[r.IntN(len(w.control))]
	w.sched = newActor("system:kube-scheduler", "", []string{"system:authenticated"}, credX509(r), schedIP,
		"kube-scheduler/"+k8sVersion+componentUA+"/scheduler",
		rbacReason("ClusterRoleBinding", "system:kube-scheduler", "system:kube-scheduler", "User", "system:kube-scheduler"))
	schedLE := w.sched
	schedLE.ua = appendString(nil, "kube-scheduler/"+k8sVersion+componentUA+"/leader-election")
	w.leaders = []leader{
		{"kube-controller-manager", r.uuid(), kcm},
		{"kube-scheduler", r.uuid(), schedLE},
	}
	// The standby instances on the other control-plane nodes poll too.
	for _, ip := range w.control {
		if ip != kcmIP {
			standby := kcm
			standby.ip = ip
			w.leaders = append(w.leaders, leader{"kube-controller-manager", w.leaders[0].uid, standby})
		}
		if ip != schedIP {
			standby := schedLE
			standby.ip = ip
			w.leaders = append(w.leaders, leader{"kube-scheduler", w.leaders[1].uid, standby})
		}
	}
	w.certLeaseUID, w.ingressLeaseUID = r.uuid(), r.uuid()

	for range controlNodes {
		w.apiserver = append(w.apiserver, newActor("system:apiserver", r.uuid(),
			[]string{"system:authenticated", "system:masters"}, "", "127.0.0.1",
			"kube-apiserver/"+k8sVersion+componentUA, ""))
		var lb [32]byte
		id := appendSuffix(appendSuffix(lb[:0], r.Uint64(), 12), r.Uint64(), 12)
		w.apiLeases = append(w.apiLeases, "apiserver-"+string(id))
		w.apiLeaseUIDs = append(w.apiLeaseUIDs, r.uuid())
	}
	pub := rbacReason("ClusterRoleBinding", "system:public-info-viewer", "system:public-info-viewer",
		"Group", "system:unauthenticated")
	anon := []string{"system:unauthenticated"}
	for _, ip := range w.control {
		w.probes = append(w.probes, newActor("system:anonymous", "", anon, "", ip, "kube-probe/1.33", pub))
	}
	w.probes = append(w.probes,
		newActor("system:anonymous", "", anon, "", "10.42.3.77", "ELB-HealthChecker/2.0", pub),
		newActor("system:anonymous", "", anon, "", "10.42.5.140", "ELB-HealthChecker/2.0", pub))
	w.anonScan = newActor("system:anonymous", "", anon, "", "", "", "")
	w.scanners = []string{"198.51.100.23", "203.0.113.250", "192.0.2.144", "198.51.100.201"}
	w.anonJoin = newActor("system:anonymous", "", anon, "", "10.42.77.19", "kubeadm/"+k8sVersion+componentUA,
		`RBAC: allowed by RoleBinding "kubeadm:bootstrap-signer-clusterinfo/kube-public" of Role "kubeadm:bootstrap-signer-clusterinfo" to User "system:anonymous"`)
	w.anonVersion = newActor("system:anonymous", "", anon, "", "203.0.113.250", "curl/8.5.0", pub)
	w.anonList = newActor("system:anonymous", "", anon, "", "192.0.2.144", "python-requests/2.32.3",
		rbacReason("ClusterRoleBinding", "anonymous-debug", "view", "User", "system:anonymous"))
	w.impersonate = []byte(`{"username":"system:serviceaccount:payments:payments-api","groups":["system:serviceaccounts","system:serviceaccounts:payments","system:authenticated"]}`)

	w.humans = []human{
		{a: newActor("alice@example.com", "", []string{"oidc:platform-team", "system:authenticated"}, "",
			"203.0.113.41", "kubectl/v1.33.1 (darwin/arm64) kubernetes/8adc0f0",
			rbacReason("ClusterRoleBinding", "platform-team-admin", "cluster-admin", "Group", "oidc:platform-team")),
			admin: true},
		{a: newActor("bob@example.com", "", []string{"oidc:payments-devs", "system:authenticated"}, "",
			"198.51.100.77", "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07",
			`RBAC: allowed by RoleBinding "payments-devs-edit/payments" of ClusterRole "edit" to Group "oidc:payments-devs"`),
			ns: []string{"payments", "billing", "checkout"}, denyNS: "kube-system"},
		{a: newActor("carol@example.com", "", []string{"oidc:sre", "system:authenticated"}, "",
			"203.0.113.9", "k9s/v0.50.6 (darwin/arm64) kubernetes/$Format",
			rbacReason("ClusterRoleBinding", "sre-view", "view", "Group", "oidc:sre")),
			admin: true, viewOnly: true, denyNS: "identity"},
		{a: newActor("dave@example.com", "", []string{"oidc:data-eng", "system:authenticated"}, "",
			"192.0.2.18", "kubectl/v1.33.1 (windows/amd64) kubernetes/8adc0f0",
			`RBAC: allowed by RoleBinding "data-eng-edit/data-pipeline" of ClusterRole "edit" to Group "oidc:data-eng"`),
			ns: []string{"data-pipeline", "analytics", "ml-serving"}, denyNS: "payments"},
		{a: newActor("kubernetes-admin", "", []string{"kubeadm:cluster-admins", "system:authenticated"}, credX509(r),
			"10.42.0.5", "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0",
			rbacReason("ClusterRoleBinding", "kubeadm:cluster-admins", "cluster-admin", "Group", "kubeadm:cluster-admins")),
			admin: true},
	}
	for i := range w.humans {
		if w.humans[i].admin {
			w.humans[i].ns = w.nsApps
		}
	}
	w.risky = []human{
		w.humans[0], w.humans[4],
		{a: newActor("mallory@contractor.example.net", "", []string{"oidc:contractors", "system:authenticated"}, "",
			"192.0.2.201", "kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc",
			rbacReason("ClusterRoleBinding", "contractors-admin", "cluster-admin", "Group", "oidc:contractors")),
			admin: true, ns: w.nsApps},
		{a: newActor("eve@example.com", "", []string{"oidc:payments-devs", "system:authenticated"}, "",
			"198.51.100.12", "kubectl/v1.33.1 (darwin/arm64) kubernetes/8adc0f0",
			rbacReason("ClusterRoleBinding", "payments-devs-ops", "cluster-admin", "Group", "oidc:payments-devs")),
			admin: true, ns: w.nsApps},
		{a: w.ci[0], admin: true, ns: w.nsApps},
	}
	return w
}

// addWorkload adds a workload and its pods.
func (w *world) addWorkload(r rnd, ns, name, ctr, kind, image, sa string, replicas int, system bool) {
	wl := workload{
		ns: ns, name: name, app: name, kind: kind, container: ctr, image: image, sa: sa,
		system: system, ownerUID: r.uuid(), depUID: r.uuid(),
		sliceUID: r.uuid(), epUID: r.uuid(), hash: r.suffix(10),
	}
	switch kind {
	case "ReplicaSet":
		wl.owner = name + "-" + wl.hash
	default:
		wl.owner = name
	}
	wl.sliceName = name + "-" + r.suffix(5)
	repo := image
	for i := len(image) - 1; i >= 0; i-- {
		if image[i] == ':' {
			repo = image[:i]
			break
		}
		if image[i] == '/' {
			break
		}
	}
	wl.imageID = repo + "@sha256:" + r.hex(64)
	if !system && r.IntN(2) == 0 {
		wl.cmName = name + "-config"
		appendUUID(wl.cmUID[:0], r.Uint64(), r.Uint64())
	}
	wl.render(r)
	idx := len(w.workloads)
	for i := range replicas {
		p := pod{wl: idx, ctrID: r.hex(64), restarts: r.IntN(3) * r.IntN(2)}
		appendUUID(p.uid[:0], r.Uint64(), r.Uint64())
		appendSuffix(p.tokenSfx[:0], r.Uint64(), 5)
		switch kind {
		case "ReplicaSet":
			p.name = wl.owner + "-" + r.suffix(5)
			p.node = r.IntN(len(w.nodes))
		case "DaemonSet":
			p.name = name + "-" + r.suffix(5)
			p.node = i
		case "StatefulSet":
			p.name = name + "-" + strconv.Itoa(i)
			p.node = r.IntN(len(w.nodes))
		}
		p.ip = "172." + strconv.Itoa(16+r.IntN(16)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
		if kind == "DaemonSet" && (name == "kube-proxy" || name == "node-exporter") {
			p.ip = w.nodes[p.node].ip // hostNetwork
		}
		p.created = w.t0 - int64(3600+r.IntN(30*86400))*1e6
		wl.pods = append(wl.pods, len(w.allPods))
		w.allPods = append(w.allPods, p)
	}
	w.workloads = append(w.workloads, wl)
}

// render pre-renders the parts of the workload's pod objects that do not
// change from pod to pod.
func (wl *workload) render(r rnd) {
	l := append([]byte(nil), `{"app.kubernetes.io/name":`...)
	l = appendString(l, wl.app)
	l = append(l, `,"app.kubernetes.io/part-of":`...)
	l = appendString(l, wl.ns)
	switch wl.kind {
	case "ReplicaSet":
		l = append(l, `,"pod-template-hash":`...)
		l = appendString(l, wl.hash)
	case "DaemonSet":
		l = append(l, `,"controller-revision-hash":`...)
		l = appendString(l, wl.hash)
		l = append(l, `,"pod-template-generation":"3"`...)
	case "StatefulSet":
		l = append(l, `,"controller-revision-hash":`...)
		l = appendString(l, wl.name+"-"+wl.hash)
	}
	wl.labels = append(l, '}')

	port := 8080
	if wl.system {
		port = 9000 + r.IntN(1000)
	}
	cpu := []string{"50m", "100m", "250m", "500m", "1"}[r.IntN(5)]
	mem := []string{"128Mi", "256Mi", "512Mi", "1Gi", "2Gi"}[r.IntN(5)]
	wl.qos = "Burstable"
	h := append([]byte(nil), `{"name":`...)
	h = appendString(h, wl.container)
	h = append(h, `,"image":`...)
	h = appendString(h, wl.image)
	h = append(h, `,"ports":[{"name":"http","containerPort":`...)
	h = appendInt(h, int64(port))
	h = append(h, `,"protocol":"TCP"}],"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://otel-collector.monitoring.svc:4317"},{"name":"POD_NAME","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"POD_NAMESPACE","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}}],"resources":{"limits":{"memory":"`...)
	h = append(h, mem...)
	h = append(h, `"},"requests":{"cpu":"`...)
	h = append(h, cpu...)
	h = append(h, `","memory":"`...)
	h = append(h, mem...)
	h = append(h, `"}}`...)
	wl.ctrHead = h
	t := append([]byte(nil), `,"livenessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"initialDelaySeconds":10,"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},"readinessProbe":{"httpGet":{"path":"/ready","port":"http","scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"capabilities":{"drop":["ALL"]},"runAsNonRoot":true,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false}}`...)
	wl.ctrTail = t

	m := append([]byte(nil), `","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{`...)
	switch wl.kind {
	case "ReplicaSet":
		m = append(m, `"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:pod-template-hash":{}}`...)
	case "DaemonSet":
		m = append(m, `"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:controller-revision-hash":{},"f:pod-template-generation":{}}`...)
	default:
		m = append(m, `"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:app.kubernetes.io/part-of":{},"f:controller-revision-hash":{}}`...)
	}
	m = append(m, `,"f:ownerReferences":{".":{},"k:{\"uid\":\"`...)
	m = append(m, wl.ownerUID...)
	m = append(m, `\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"`...)
	m = appendEscaped(m, wl.container)
	m = append(m, `\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"LOG_LEVEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"OTEL_EXPORTER_OTLP_ENDPOINT\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}},"k:{\"name\":\"POD_NAMESPACE\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:fieldRef":{}}}},"f:image":{},"f:imagePullPolicy":{},"f:livenessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:initialDelaySeconds":{},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":`...)
	m = appendInt(m, int64(port))
	m = append(m, `,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{".":{},"f:failureThreshold":{},"f:httpGet":{".":{},"f:path":{},"f:port":{},"f:scheme":{}},"f:periodSeconds":{},"f:successThreshold":{},"f:timeoutSeconds":{}},"f:resources":{".":{},"f:limits":{".":{},"f:memory":{}},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:securityContext":{".":{},"f:allowPrivilegeEscalation":{},"f:capabilities":{".":{},"f:drop":{}},"f:readOnlyRootFilesystem":{},"f:runAsNonRoot":{}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{}}}}`...)
	wl.mfSpec = m
}
