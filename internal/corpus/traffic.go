package corpus

// This file holds the action table and the benign actions: kubelets,
// controllers, the apiserver itself, health probes, in-cluster clients,
// CI/CD and people.

// action is one kind of request the generator can make.
type action struct {
	name   string                     // for documentation and tests
	cat    category                   // traffic class
	risk   riskKind                   // risky action, or riskNone
	share  float64                    // % of its class's events: benign of benign, risky of risky
	events float64                    // mean events per request
	fn     func(*Generator, *request) // renders the request
}

// actions returns the action table. The shares of the benign actions add up
// to 100, as do those of the risky ones; see the package doc.
func actions() []action {
	a := []action{
		// kubelets: 40%
		{"kubelet lease update", catKubelet, riskNone, 13, 2, (*Generator).kubeletLeaseUpdate},
		{"kubelet lease get", catKubelet, riskNone, 1.5, 2, (*Generator).kubeletLeaseGet},
		{"kubelet node get", catKubelet, riskNone, 5, 2, (*Generator).kubeletNodeGet},
		{"kubelet node status patch", catKubelet, riskNone, 2.5, 2, (*Generator).kubeletNodeStatus},
		{"kubelet pod get", catKubelet, riskNone, 4.5, 2, (*Generator).kubeletPodGet},
		{"kubelet pod status patch", catKubelet, riskNone, 6.5, 2, (*Generator).kubeletPodStatus},
		{"kubelet event", catKubelet, riskNone, 4, 2, (*Generator).kubeletEvent},
		{"kubelet watch", catKubelet, riskNone, 3, 1.5, (*Generator).kubeletWatch},
		// controllers: 27%
		{"leader election", catController, riskNone, 6, 2, (*Generator).leaderElection},
		{"endpointslice update", catController, riskNone, 4, 2, (*Generator).endpointSliceUpdate},
		{"endpoints update", catController, riskNone, 2, 2, (*Generator).endpointsUpdate},
		{"replicaset creates pod", catController, riskNone, 2, 2, (*Generator).replicaSetCreatePod},
		{"replicaset deletes pod", catController, riskNone, 1, 2, (*Generator).replicaSetDeletePod},
		{"scheduler binds pod", catController, riskNone, 1.5, 2, (*Generator).schedulerBind},
		{"deployment status update", catController, riskNone, 2.5, 2, (*Generator).deploymentStatus},
		{"replicaset status update", catController, riskNone, 2, 2, (*Generator).replicaSetStatus},
		{"controller reads and writes", catController, riskNone, 3, 2, (*Generator).controllerMisc},
		{"controller-manager informers", catController, riskNone, 3, 1.5, (*Generator).informerWatch},
		// apiserver: 6%
		{"apiserver lease", catAPIServer, riskNone, 4, 2, (*Generator).apiserverLease},
		{"apiserver watch", catAPIServer, riskNone, 2, 1.5, (*Generator).apiserverWatch},
		// health probes and anonymous noise: 5%
		{"health probe", catHealth, riskNone, 4.6, 2, (*Generator).healthProbe},
		{"anonymous scan", catHealth, riskNone, 0.4, 2, (*Generator).anonymousScan},
		// in-cluster clients: 14%
		{"kube-proxy watch", catWorkload, riskNone, 3, 1.5, (*Generator).kubeProxyWatch},
		{"coredns watch", catWorkload, riskNone, 2, 1.5, (*Generator).corednsWatch},
		{"prometheus watch", catWorkload, riskNone, 1.5, 1.5, (*Generator).prometheusWatch},
		{"prometheus scrape", catWorkload, riskNone, 1, 2, (*Generator).prometheusScrape},
		{"fluent-bit pod get", catWorkload, riskNone, 2.5, 2, (*Generator).fluentBitPodGet},
		{"cert-manager", catWorkload, riskNone, 1.5, 2, (*Generator).certManager},
		{"ingress-nginx", catWorkload, riskNone, 1.5, 2, (*Generator).ingressNginx},
		{"metrics-server reviews", catWorkload, riskNone, 1, 2, (*Generator).metricsServer},
		// CI/CD: 3%
		{"ci deploy", catCI, riskNone, 3, 2, (*Generator).ciDeploy},
		// people: 5%
		{"human read", catHuman, riskNone, 4, 2, (*Generator).humanRead},
		{"human write", catHuman, riskNone, 1, 2, (*Generator).humanWrite},
	}
	return append(a, riskyActions()...)
}

func (g *Generator) pickNode() *node { return &g.w.nodes[g.rng.IntN(len(g.w.nodes))] }

// pickAppPod returns a pod of an application workload.
func (g *Generator) pickAppPod() *pod { return &g.w.allPods[g.w.pods[g.rng.IntN(len(g.w.pods))]] }

// pickAnyPod returns any pod, application or platform.
func (g *Generator) pickAnyPod() *pod { return &g.w.allPods[g.rng.IntN(len(g.w.allPods))] }

func (g *Generator) pickApp() *workload { return &g.w.workloads[g.w.apps[g.rng.IntN(len(g.w.apps))]] }

func (g *Generator) pickActor(as []actor) *actor { return &as[g.rng.IntN(len(as))] }

func (g *Generator) kcmController(name string) *actor {
	for i := range g.w.kcmCtl {
		if g.w.kcmCtl[i].name == name {
			return &g.w.kcmCtl[i].a
		}
	}
	panic("corpus: unknown controller " + name)
}

// ---- kubelets ----

func (g *Generator) kubeletLeaseUpdate(r *request) {
	n := g.pickNode()
	g.name = append(g.name[:0], n.name...)
	b := startURI(r)
	b = append(b, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"...)
	b = append(b, n.name...)
	b = append(b, "?timeout=10s"...)
	b = who(b, "update", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "leases", ns: "kube-node-lease", name: g.name, uid: n.leaseUID,
		group: "coordination.k8s.io", version: "v1", rv: g.oldRV()})
	g.ok(r, 200)
	g.allow(r, &n.kubelet)
	g.complete(r, 2500)
}

func (g *Generator) kubeletLeaseGet(r *request) {
	n := g.pickNode()
	g.name = append(g.name[:0], n.name...)
	b := startURI(r)
	b = append(b, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"...)
	b = append(b, n.name...)
	b = append(b, "?timeout=10s"...)
	b = who(b, "get", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "leases", ns: "kube-node-lease", name: g.name,
		group: "coordination.k8s.io", version: "v1"})
	g.ok(r, 200)
	g.allow(r, &n.kubelet)
	g.complete(r, 700)
}

func (g *Generator) kubeletNodeGet(r *request) {
	n := g.pickNode()
	g.name = append(g.name[:0], n.name...)
	b := startURI(r)
	b = append(b, "/api/v1/nodes/"...)
	b = append(b, n.name...)
	b = append(b, `?resourceVersion=0\u0026timeout=10s`...)
	b = who(b, "get", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "nodes", name: g.name, version: "v1"})
	g.ok(r, 200)
	g.allow(r, &n.kubelet)
	g.complete(r, 500)
}

func (g *Generator) kubeletNodeStatus(r *request) {
	n := g.pickNode()
	g.name = append(g.name[:0], n.name...)
	b := startURI(r)
	b = append(b, "/api/v1/nodes/"...)
	b = append(b, n.name...)
	b = append(b, "/status?timeout=10s"...)
	b = who(b, "patch", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "nodes", name: g.name, version: "v1", sub: "status"})
	g.ok(r, 200)
	g.allow(r, &n.kubelet)
	g.complete(r, 6000)
}

// podPath appends /api/v1/namespaces/<ns>/pods/<name>.
func podPath(b []byte, ns string, name []byte) []byte {
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, ns...)
	b = append(b, "/pods/"...)
	return append(b, name...)
}

func (g *Generator) kubeletPodGet(r *request) {
	p := g.pickAnyPod()
	v := g.view(p)
	n := v.node
	r.level = levelRR
	b := podPath(startURI(r), v.wl.ns, v.name)
	b = who(b, "get", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: v.wl.ns, name: v.name, version: "v1"})
	g.allow(r, &n.kubelet)
	if g.rng.IntN(100) == 0 {
		g.notFound(r, "pods", "", v.name)
		g.statusBody(r)
	} else {
		g.ok(r, 200)
		r.bodies = append(r.bodies, `,"responseObject":`...)
		r.bodies = g.appendPod(r.bodies, &v)
	}
	g.complete(r, 900)
}

func (g *Generator) kubeletPodStatus(r *request) {
	p := g.pickAnyPod()
	v := g.view(p)
	n := v.node
	r.level = levelRR
	b := podPath(startURI(r), v.wl.ns, v.name)
	b = append(b, "/status"...)
	b = who(b, "patch", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: v.wl.ns, name: v.name, version: "v1", sub: "status"})
	g.allow(r, &n.kubelet)
	g.ok(r, 200)
	r.bodies = append(r.bodies, `,"requestObject":`...)
	r.bodies = g.appendPodStatusPatch(r.bodies, &v, g.rng.IntN(5) != 0)
	r.bodies = append(r.bodies, `,"responseObject":`...)
	r.bodies = g.appendPod(r.bodies, &v)
	g.complete(r, 5000)
}

func (g *Generator) kubeletEvent(r *request) {
	p := g.pickAnyPod()
	wl := &g.w.workloads[p.wl]
	n := &g.w.nodes[p.node]
	g.name = append(g.name[:0], p.name...)
	g.name = append(g.name, '.')
	g.name = appendHex(g.name, g.rng.Uint64(), 16)
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/events"...)
	verb := "create"
	if g.rng.IntN(4) == 0 {
		verb = "patch"
		b = append(b, '/')
		b = append(b, g.name...)
		g.ok(r, 200)
	} else {
		g.ok(r, 201)
	}
	b = who(b, verb, &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: "events", ns: wl.ns, name: g.name, version: "v1"})
	g.allow(r, &n.kubelet)
	g.complete(r, 3000)
}

func (g *Generator) kubeletWatch(r *request) {
	p := g.pickAnyPod()
	wl := &g.w.workloads[p.wl]
	n := &g.w.nodes[p.node]
	res := "configmaps"
	switch g.rng.IntN(3) {
	case 0:
		g.name = append(g.name[:0], "kube-root-ca.crt"...)
	case 1:
		if wl.cmName != "" {
			g.name = append(g.name[:0], wl.cmName...)
		} else {
			g.name = append(g.name[:0], "kube-root-ca.crt"...)
		}
	default:
		res = "secrets"
		g.name = append(g.name[:0], wl.name...)
		g.name = append(g.name, "-tls"...)
	}
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, '/')
	b = append(b, res...)
	b = append(b, `?allowWatchBookmarks=true\u0026fieldSelector=metadata.name%3D`...)
	b = append(b, g.name...)
	b = append(b, `\u0026`...)
	b, timeout := g.appendWatchQuery(b)
	b = who(b, "watch", &n.kubelet)
	r.mid = appendObjectRef(b, &objRef{resource: res, ns: wl.ns, name: g.name, version: "v1"})
	g.ok(r, 200)
	g.allow(r, &n.kubelet)
	g.watch(r, timeout)
}

// ---- controllers ----

func (g *Generator) leaderElection(r *request) {
	l := &g.w.leaders[g.rng.IntN(len(g.w.leaders))]
	g.name = append(g.name[:0], l.name...)
	b := startURI(r)
	b = append(b, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"...)
	b = append(b, l.name...)
	b = append(b, "?timeout=5s"...)
	ref := objRef{resource: "leases", ns: "kube-system", name: g.name, group: "coordination.k8s.io", version: "v1"}
	verb := "get"
	if g.rng.IntN(2) == 0 {
		verb = "update"
		ref.uid, ref.rv = l.uid, g.oldRV()
	}
	b = who(b, verb, &l.a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 200)
	g.allow(r, &l.a)
	g.complete(r, 1500)
}

func (g *Generator) endpointSliceUpdate(r *request) {
	wl := g.pickApp()
	a := g.kcmController("endpointslice-controller")
	g.name = append(g.name[:0], wl.sliceName...)
	b := startURI(r)
	b = append(b, "/apis/discovery.k8s.io/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/endpointslices/"...)
	b = append(b, wl.sliceName...)
	b = who(b, "update", a)
	r.mid = appendObjectRef(b, &objRef{resource: "endpointslices", ns: wl.ns, name: g.name, uid: wl.sliceUID,
		group: "discovery.k8s.io", version: "v1", rv: g.oldRV()})
	g.allow(r, a)
	if g.rng.IntN(30) == 0 {
		g.conflict(r, "endpointslices", "discovery.k8s.io", g.name)
	} else {
		g.ok(r, 200)
	}
	g.complete(r, 3500)
}

func (g *Generator) endpointsUpdate(r *request) {
	wl := g.pickApp()
	a := g.kcmController("endpoint-controller")
	g.name = append(g.name[:0], wl.name...)
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/endpoints/"...)
	b = append(b, wl.name...)
	b = who(b, "update", a)
	r.mid = appendObjectRef(b, &objRef{resource: "endpoints", ns: wl.ns, name: g.name, uid: wl.epUID,
		version: "v1", rv: g.oldRV()})
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 3500)
}

func (g *Generator) replicaSetCreatePod(r *request) {
	wl := g.pickApp()
	a := g.kcmController("replicaset-controller")
	var uid [36]byte
	var sfx [5]byte
	g.name = append(g.name[:0], wl.owner...)
	g.name = append(g.name, '-')
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	v := podView{name: g.name, uid: g.newUID(&uid), tokenSfx: appendSuffix(sfx[:0], g.rng.Uint64(), 5),
		wl: wl, created: g.now, rv: g.nextRV()}
	r.level = levelRR
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/pods"...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: wl.ns, version: "v1"})
	g.ok(r, 201)
	g.allowWith(r, a, `,"pod-security.kubernetes.io/enforce-policy":"baseline:latest"`)
	r.bodies = append(r.bodies, `,"requestObject":`...)
	r.bodies = g.appendPodTemplate(r.bodies, wl)
	r.bodies = append(r.bodies, `,"responseObject":`...)
	r.bodies = g.appendPod(r.bodies, &v)
	g.complete(r, 14000)
}

func (g *Generator) replicaSetDeletePod(r *request) {
	p := g.pickAppPod()
	v := g.view(p)
	v.deleted = g.now
	a := g.kcmController("replicaset-controller")
	r.level = levelRR
	b := podPath(startURI(r), v.wl.ns, v.name)
	b = who(b, "delete", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: v.wl.ns, name: v.name, version: "v1"})
	g.ok(r, 200)
	g.allow(r, a)
	r.bodies = append(r.bodies, `,"requestObject":`...)
	r.bodies = appendDeleteOptionsUID(r.bodies, v.uid)
	r.bodies = append(r.bodies, `,"responseObject":`...)
	r.bodies = g.appendPod(r.bodies, &v)
	g.complete(r, 9000)
}

func (g *Generator) schedulerBind(r *request) {
	wl := g.pickApp()
	n := g.pickNode()
	a := &g.w.sched
	g.name = append(g.name[:0], wl.owner...)
	g.name = append(g.name, '-')
	g.name = appendSuffix(g.name, g.rng.Uint64(), 5)
	var uid [36]byte
	r.level = levelRR
	b := podPath(startURI(r), wl.ns, g.name)
	b = append(b, "/binding"...)
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: wl.ns, name: g.name, version: "v1", sub: "binding"})
	g.ok(r, 201)
	g.allow(r, a)
	bb := append(r.bodies, `,"requestObject":{"kind":"Binding","apiVersion":"v1","metadata":{"name":"`...)
	bb = append(bb, g.name...)
	bb = append(bb, `","namespace":"`...)
	bb = append(bb, wl.ns...)
	bb = append(bb, `","uid":"`...)
	bb = append(bb, g.newUID(&uid)...)
	bb = append(bb, `","creationTimestamp":null},"target":{"kind":"Node","name":"`...)
	bb = append(bb, n.name...)
	r.bodies = append(bb, `"}},"responseObject":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}`...)
	g.complete(r, 4000)
}

func (g *Generator) deploymentStatus(r *request) {
	wl := g.pickApp()
	a := g.kcmController("deployment-controller")
	g.name = append(g.name[:0], wl.name...)
	b := startURI(r)
	b = append(b, "/apis/apps/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/deployments/"...)
	b = append(b, wl.name...)
	b = append(b, "/status"...)
	b = who(b, "update", a)
	r.mid = appendObjectRef(b, &objRef{resource: "deployments", ns: wl.ns, name: g.name, uid: wl.depUID,
		group: "apps", version: "v1", rv: g.oldRV(), sub: "status"})
	g.allow(r, a)
	if g.rng.IntN(20) == 0 {
		g.conflict(r, "deployments", "apps", g.name)
	} else {
		g.ok(r, 200)
	}
	g.complete(r, 4000)
}

func (g *Generator) replicaSetStatus(r *request) {
	wl := g.pickApp()
	a := g.kcmController("replicaset-controller")
	g.name = append(g.name[:0], wl.owner...)
	b := startURI(r)
	b = append(b, "/apis/apps/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/replicasets/"...)
	b = append(b, wl.owner...)
	b = append(b, "/status"...)
	b = who(b, "update", a)
	r.mid = appendObjectRef(b, &objRef{resource: "replicasets", ns: wl.ns, name: g.name, uid: wl.ownerUID,
		group: "apps", version: "v1", rv: g.oldRV(), sub: "status"})
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 3500)
}

// controllerMisc is the long tail of controller traffic: autoscaling,
// garbage collection, quotas, disruption budgets, jobs.
func (g *Generator) controllerMisc(r *request) {
	wl := g.pickApp()
	b := startURI(r)
	var a *actor
	ref := objRef{ns: wl.ns, name: g.name[:0], version: "v1"}
	verb := "get"
	code := 200
	switch g.rng.IntN(6) {
	case 0:
		a = g.kcmController("horizontal-pod-autoscaler")
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		b = append(b, "/scale"...)
		ref.name = append(ref.name, wl.name...)
		ref.resource, ref.group, ref.sub = "deployments", "apps", "scale"
	case 1:
		a = g.kcmController("horizontal-pod-autoscaler")
		verb = "update"
		b = append(b, "/apis/autoscaling/v2/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/horizontalpodautoscalers/"...)
		b = append(b, wl.name...)
		b = append(b, "/status"...)
		ref.name = append(ref.name, wl.name...)
		ref.resource, ref.group, ref.version, ref.sub, ref.rv = "horizontalpodautoscalers", "autoscaling", "v2", "status", g.oldRV()
	case 2:
		// An old ReplicaSet the collector still holds a reference to.
		a = g.kcmController("generic-garbage-collector")
		ref.name = append(ref.name, wl.name...)
		ref.name = append(ref.name, '-')
		ref.name = appendSuffix(ref.name, g.rng.Uint64(), 10)
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/replicasets/"...)
		b = append(b, ref.name...)
		ref.resource, ref.group = "replicasets", "apps"
		code = 404
	case 3:
		a = g.kcmController("resourcequota-controller")
		verb = "update"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/resourcequotas/compute-quota/status"...)
		ref.name = append(ref.name, "compute-quota"...)
		ref.resource, ref.sub, ref.rv = "resourcequotas", "status", g.oldRV()
	case 4:
		a = g.kcmController("disruption-controller")
		verb = "update"
		b = append(b, "/apis/policy/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/poddisruptionbudgets/"...)
		b = append(b, wl.name...)
		b = append(b, "/status"...)
		ref.name = append(ref.name, wl.name...)
		ref.resource, ref.group, ref.sub, ref.rv = "poddisruptionbudgets", "policy", "status", g.oldRV()
	default:
		a = g.kcmController("cronjob-controller")
		verb = "list"
		b = append(b, "/apis/batch/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, `/jobs?limit=500\u0026resourceVersion=0`...)
		ref.resource, ref.group = "jobs", "batch"
	}
	g.name = ref.name
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.allow(r, a)
	if code == 404 {
		g.notFound(r, ref.resource, ref.group, ref.name)
	} else {
		g.ok(r, code)
	}
	g.complete(r, 1500)
}

// clusterResources are the cluster-wide lists that informers watch.
var clusterResources = [...]struct{ path, resource, group, version string }{
	{"/api/v1/pods", "pods", "", "v1"},
	{"/api/v1/nodes", "nodes", "", "v1"},
	{"/api/v1/services", "services", "", "v1"},
	{"/api/v1/namespaces", "namespaces", "", "v1"},
	{"/api/v1/configmaps", "configmaps", "", "v1"},
	{"/api/v1/serviceaccounts", "serviceaccounts", "", "v1"},
	{"/api/v1/persistentvolumeclaims", "persistentvolumeclaims", "", "v1"},
	{"/api/v1/resourcequotas", "resourcequotas", "", "v1"},
	{"/apis/apps/v1/deployments", "deployments", "apps", "v1"},
	{"/apis/apps/v1/replicasets", "replicasets", "apps", "v1"},
	{"/apis/apps/v1/daemonsets", "daemonsets", "apps", "v1"},
	{"/apis/apps/v1/statefulsets", "statefulsets", "apps", "v1"},
	{"/apis/batch/v1/jobs", "jobs", "batch", "v1"},
	{"/apis/batch/v1/cronjobs", "cronjobs", "batch", "v1"},
	{"/apis/discovery.k8s.io/v1/endpointslices", "endpointslices", "discovery.k8s.io", "v1"},
	{"/apis/policy/v1/poddisruptionbudgets", "poddisruptionbudgets", "policy", "v1"},
	{"/apis/autoscaling/v2/horizontalpodautoscalers", "horizontalpodautoscalers", "autoscaling", "v2"},
	{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "clusterrolebindings", "rbac.authorization.k8s.io", "v1"},
	{"/apis/networking.k8s.io/v1/ingresses", "ingresses", "networking.k8s.io", "v1"},
	{"/apis/storage.k8s.io/v1/storageclasses", "storageclasses", "storage.k8s.io", "v1"},
}

// clusterWatch renders a watch of a cluster-wide list by a.
func (g *Generator) clusterWatch(r *request, a *actor, first, n int) {
	c := &clusterResources[first+g.rng.IntN(n)]
	b := startURI(r)
	b = append(b, c.path...)
	b = append(b, `?allowWatchBookmarks=true\u0026`...)
	b, timeout := g.appendWatchQuery(b)
	b = who(b, "watch", a)
	r.mid = appendObjectRef(b, &objRef{resource: c.resource, group: c.group, version: c.version})
	g.ok(r, 200)
	g.allow(r, a)
	g.watch(r, timeout)
}

func (g *Generator) informerWatch(r *request) {
	g.clusterWatch(r, &g.w.kcmInf, 0, len(clusterResources))
}

// ---- apiserver ----

func (g *Generator) apiserverLease(r *request) {
	i := g.rng.IntN(len(g.w.apiserver))
	a := &g.w.apiserver[i]
	g.name = append(g.name[:0], g.w.apiLeases[i]...)
	b := startURI(r)
	b = append(b, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"...)
	b = append(b, g.name...)
	ref := objRef{resource: "leases", ns: "kube-system", name: g.name, group: "coordination.k8s.io", version: "v1"}
	verb := "get"
	if g.rng.IntN(2) == 0 {
		verb = "update"
		ref.uid, ref.rv = g.w.apiLeaseUIDs[i], g.oldRV()
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 1800)
}

func (g *Generator) apiserverWatch(r *request) {
	g.clusterWatch(r, g.pickActor(g.w.apiserver), 0, len(clusterResources))
}

// ---- health probes and anonymous noise ----

var healthPaths = [...]string{"/livez", "/readyz", "/healthz", "/readyz", "/livez", "/readyz?verbose", "/livez?exclude=etcd"}

func (g *Generator) healthProbe(r *request) {
	a := g.pickActor(g.w.probes)
	b := startURI(r)
	b = append(b, healthPaths[g.rng.IntN(len(healthPaths))]...)
	r.mid = who(b, "get", a)
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 600)
}

// scanPaths are what internet scanners try; RBAC forbids all of them.
var scanPaths = [...]struct{ path, resource, ns, verb string }{
	{"/", "", "", "get"},
	{"/.env", "", "", "get"},
	{"/metrics", "", "", "get"},
	{"/api/v1/pods", "pods", "", "list"},
	{"/api/v1/namespaces/kube-system/secrets", "secrets", "kube-system", "list"},
	{"/apis/apps/v1/deployments", "deployments", "", "list"},
	{"/api/v1/nodes", "nodes", "", "list"},
}

var scanAgents = [...]string{`"Go-http-client/1.1"`, `"python-requests/2.32.3"`, `"curl/8.5.0"`, `"Mozilla/5.0 zgrab/0.x"`}

func (g *Generator) anonymousScan(r *request) {
	s := &scanPaths[g.rng.IntN(len(scanPaths))]
	a := g.w.anonScan
	a.ip = g.w.scanners[g.rng.IntN(len(g.w.scanners))]
	b := startURI(r)
	b = append(b, s.path...)
	b = append(b, `","verb":"`...)
	b = append(b, s.verb...)
	b = append(b, `","user":`...)
	b = append(b, a.user...)
	b = append(b, `,"sourceIPs":["`...)
	b = append(b, a.ip...)
	b = append(b, `"],"userAgent":`...)
	b = append(b, scanAgents[g.rng.IntN(len(scanAgents))]...)
	g.name = append(g.name[:0], s.path...)
	group := ""
	if s.resource != "" {
		if s.resource == "deployments" {
			group = "apps"
		}
		b = appendObjectRef(b, &objRef{resource: s.resource, ns: s.ns, group: group, version: "v1"})
		g.name = g.name[:0]
	}
	r.mid = b
	g.forbidden(r, "system:anonymous", s.verb, s.resource, group, s.ns, g.name)
	g.complete(r, 400)
}

// ---- in-cluster clients ----

func (g *Generator) kubeProxyWatch(r *request) {
	n := g.rng.IntN(len(g.w.nodes))
	a := &g.w.inCluster["kube-proxy"][n]
	b := startURI(r)
	ref := objRef{version: "v1"}
	switch g.rng.IntN(3) {
	case 0:
		b = append(b, `/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true\u0026labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name\u0026`...)
		ref.resource, ref.group = "endpointslices", "discovery.k8s.io"
	case 1:
		b = append(b, `/api/v1/services?allowWatchBookmarks=true\u0026labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name\u0026`...)
		ref.resource = "services"
	default:
		g.name = append(g.name[:0], g.w.nodes[n].name...)
		b = append(b, `/api/v1/nodes?allowWatchBookmarks=true\u0026fieldSelector=metadata.name%3D`...)
		b = append(b, g.name...)
		b = append(b, `\u0026`...)
		ref.resource, ref.name = "nodes", g.name
	}
	b, timeout := g.appendWatchQuery(b)
	b = who(b, "watch", a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 200)
	g.allow(r, a)
	g.watch(r, timeout)
}

func (g *Generator) corednsWatch(r *request) {
	a := g.pickActor(g.w.inCluster["coredns"])
	c := [...]int{2, 3, 14}[g.rng.IntN(3)] // services, namespaces, endpointslices
	g.clusterWatch(r, a, c, 1)
}

func (g *Generator) prometheusWatch(r *request) {
	a := g.pickActor(g.w.inCluster["prometheus-k8s"])
	ns := g.w.nsApps[g.rng.IntN(len(g.w.nsApps))]
	res := [...]string{"pods", "services", "endpoints"}[g.rng.IntN(3)]
	b := startURI(r)
	b = append(b, "/api/v1/namespaces/"...)
	b = append(b, ns...)
	b = append(b, '/')
	b = append(b, res...)
	b = append(b, `?allowWatchBookmarks=true\u0026`...)
	b, timeout := g.appendWatchQuery(b)
	b = who(b, "watch", a)
	r.mid = appendObjectRef(b, &objRef{resource: res, ns: ns, version: "v1"})
	g.ok(r, 200)
	g.allow(r, a)
	g.watch(r, timeout)
}

func (g *Generator) prometheusScrape(r *request) {
	a := g.pickActor(g.w.inCluster["prometheus-k8s"])
	b := startURI(r)
	if g.rng.IntN(3) == 0 {
		b = append(b, "/metrics"...)
		r.mid = who(b, "get", a)
	} else {
		n := g.pickNode()
		g.name = append(g.name[:0], n.name...)
		b = append(b, "/api/v1/nodes/"...)
		b = append(b, n.name...)
		b = append(b, "/proxy/metrics/cadvisor"...)
		b = who(b, "get", a)
		r.mid = appendObjectRef(b, &objRef{resource: "nodes", name: g.name, version: "v1", sub: "proxy"})
	}
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 25000)
}

func (g *Generator) fluentBitPodGet(r *request) {
	p := g.pickAnyPod()
	v := g.view(p)
	a := &g.w.inCluster["fluent-bit"][p.node]
	r.level = levelRR
	b := podPath(startURI(r), v.wl.ns, v.name)
	b = who(b, "get", a)
	r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: v.wl.ns, name: v.name, version: "v1"})
	g.ok(r, 200)
	g.allow(r, a)
	r.bodies = append(r.bodies, `,"responseObject":`...)
	r.bodies = g.appendPod(r.bodies, &v)
	g.complete(r, 1100)
}

// leaseOp renders a get or update of a leader-election lease by a.
func (g *Generator) leaseOp(r *request, a *actor, ns, name, uid string) {
	g.name = append(g.name[:0], name...)
	b := startURI(r)
	b = append(b, "/apis/coordination.k8s.io/v1/namespaces/"...)
	b = append(b, ns...)
	b = append(b, "/leases/"...)
	b = append(b, name...)
	ref := objRef{resource: "leases", ns: ns, name: g.name, group: "coordination.k8s.io", version: "v1"}
	verb := "get"
	if g.rng.IntN(2) == 0 {
		verb = "update"
		ref.uid, ref.rv = uid, g.oldRV()
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 1800)
}

func (g *Generator) certManager(r *request) {
	a := &g.w.inCluster["cert-manager"][0] // the leader
	if g.rng.IntN(2) == 0 {
		g.leaseOp(r, a, "kube-system", "cert-manager-controller", g.w.certLeaseUID)
		return
	}
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	g.name = append(g.name, "-tls"...)
	b := startURI(r)
	b = append(b, "/apis/cert-manager.io/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/certificates/"...)
	b = append(b, g.name...)
	ref := objRef{resource: "certificates", ns: wl.ns, name: g.name, group: "cert-manager.io", version: "v1"}
	verb := "get"
	if g.rng.IntN(4) == 0 {
		verb = "update"
		b = append(b, "/status"...)
		ref.sub, ref.rv = "status", g.oldRV()
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 1500)
}

func (g *Generator) ingressNginx(r *request) {
	as := g.w.inCluster["ingress-nginx-controller"]
	a := &as[g.rng.IntN(len(as))]
	if g.rng.IntN(2) == 0 {
		g.leaseOp(r, a, "ingress-nginx", "ingress-nginx-leader", g.w.ingressLeaseUID)
		return
	}
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	b := startURI(r)
	b = append(b, "/apis/networking.k8s.io/v1/namespaces/"...)
	b = append(b, wl.ns...)
	b = append(b, "/ingresses/"...)
	b = append(b, wl.name...)
	b = append(b, "/status"...)
	b = who(b, "update", a)
	r.mid = appendObjectRef(b, &objRef{resource: "ingresses", ns: wl.ns, name: g.name, group: "networking.k8s.io",
		version: "v1", rv: g.oldRV(), sub: "status"})
	g.ok(r, 200)
	g.allow(r, a)
	g.complete(r, 3000)
}

func (g *Generator) metricsServer(r *request) {
	a := g.pickActor(g.w.inCluster["metrics-server"])
	b := startURI(r)
	ref := objRef{version: "v1"}
	if g.rng.IntN(2) == 0 {
		b = append(b, "/apis/authentication.k8s.io/v1/tokenreviews"...)
		ref.resource, ref.group = "tokenreviews", "authentication.k8s.io"
	} else {
		b = append(b, "/apis/authorization.k8s.io/v1/subjectaccessreviews"...)
		ref.resource, ref.group = "subjectaccessreviews", "authorization.k8s.io"
	}
	b = who(b, "create", a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, 201)
	g.allow(r, a)
	g.complete(r, 1200)
}

// ---- CI/CD ----

// ciDeploy is a pipeline (kubectl or helm from a GitLab runner pod, or
// Argo CD) rolling out a new version: reads, patches, rollout status, helm
// release bookkeeping. Deployments already exist, so nothing is created
// except helm's release secrets.
func (g *Generator) ciDeploy(r *request) {
	a := g.pickActor(g.w.ci)
	wl := g.pickApp()
	g.name = append(g.name[:0], wl.name...)
	b := startURI(r)
	ref := objRef{ns: wl.ns, name: g.name, version: "v1"}
	verb := "get"
	code := 200
	switch k := g.rng.IntN(7); {
	case k == 0:
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		ref.resource, ref.group = "deployments", "apps"
	case k == 1:
		verb = "patch"
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		b = append(b, `?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict`...)
		ref.resource, ref.group = "deployments", "apps"
	case k == 2 && wl.cmName != "":
		verb = "patch"
		g.name = append(g.name[:0], wl.cmName...)
		ref.name = g.name
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/configmaps/"...)
		b = append(b, wl.cmName...)
		b = append(b, `?fieldManager=kubectl-client-side-apply\u0026fieldValidation=Strict`...)
		ref.resource = "configmaps"
		r.level = levelRR
		g.tmp = g.appendAppConfig(g.tmp[:0], wl)
		bb := append(r.bodies, `,"requestObject":{"data":`...)
		bb = append(bb, g.tmp...)
		bb = append(bb, `},"responseObject":`...)
		r.bodies = g.appendConfigMap(bb, g.name, wl.ns, wl.cmUID[:], g.w.t0-90*86400e6, "kubectl-client-side-apply", g.tmp)
	case k == 3:
		verb = "list"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, `/pods?labelSelector=app.kubernetes.io%2Fname%3D`...)
		b = append(b, wl.app...)
		ref.resource, ref.name = "pods", nil
	case k == 4:
		verb = "list"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, `/secrets?labelSelector=name%3D`...)
		b = append(b, wl.name...)
		b = append(b, `%2Cowner%3Dhelm`...)
		ref.resource, ref.name = "secrets", nil
	case k == 5:
		verb, code = "create", 201
		g.name = append(g.name[:0], "sh.helm.release.v1."...)
		g.name = append(g.name, wl.name...)
		g.name = append(g.name, ".v"...)
		g.name = appendInt(g.name, int64(2+g.rng.IntN(300)))
		ref.name = g.name
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/secrets"...)
		ref.resource = "secrets"
	default:
		verb = "watch"
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, `/deployments?fieldSelector=metadata.name%3D`...)
		b = append(b, wl.name...)
		b = append(b, `\u0026`...)
		b, _ = g.appendWatchQuery(b)
		ref.resource, ref.group = "deployments", "apps"
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.ok(r, code)
	g.allow(r, a)
	if verb == "watch" {
		// rollout status: a short watch that ends when the rollout does.
		r.stages[0] = stageAt{stageReceived, g.now}
		r.stages[1] = stageAt{stageStarted, g.now + g.latency(400, 0.5)}
		r.n = 2
		return
	}
	g.complete(r, 5000)
}

// ---- people ----

func (g *Generator) pickHuman() *human { return &g.w.humans[g.rng.IntN(len(g.w.humans))] }

// humanWorkload returns an application workload in one of h's namespaces.
func (g *Generator) humanWorkload(h *human) *workload {
	ns := h.ns[g.rng.IntN(len(h.ns))]
	ws := g.w.byNS[ns]
	return &g.w.workloads[ws[g.rng.IntN(len(ws))]]
}

func (g *Generator) humanRead(r *request) {
	h := g.pickHuman()
	a := &h.a
	wl := g.humanWorkload(h)
	p := &g.w.allPods[wl.pods[g.rng.IntN(len(wl.pods))]]
	b := startURI(r)
	ref := objRef{ns: wl.ns, version: "v1"}
	verb := "get"
	k := g.rng.IntN(10)
	if h.denyNS != "" && g.rng.IntN(25) == 0 {
		// Trying a namespace RBAC does not open to them.
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, h.denyNS...)
		b = append(b, "/pods?limit=500"...)
		b = who(b, "list", a)
		r.mid = appendObjectRef(b, &objRef{resource: "pods", ns: h.denyNS, version: "v1"})
		g.forbidden(r, a.name, "list", "pods", "", h.denyNS, nil)
		g.complete(r, 700)
		return
	}
	switch k {
	case 0, 1, 2:
		v := g.view(p)
		r.level = levelRR
		b = podPath(b, wl.ns, v.name)
		ref.resource, ref.name = "pods", v.name
		if g.rng.IntN(12) == 0 { // a typo or a pod that is already gone
			g.name = append(g.name, 'x')
			ref.name = g.name
			b = append(b, 'x')
			g.notFound(r, "pods", "", g.name)
			g.statusBody(r)
		} else {
			g.ok(r, 200)
			r.bodies = append(r.bodies, `,"responseObject":`...)
			r.bodies = g.appendPod(r.bodies, &v)
		}
	case 3, 4:
		verb = "list"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/pods?limit=500"...)
		ref.resource = "pods"
	case 5:
		g.name = append(g.name[:0], p.name...)
		b = podPath(b, wl.ns, g.name)
		b = append(b, "/log?container="...)
		b = append(b, wl.container...)
		b = append(b, `\u0026follow=true\u0026tailLines=100`...)
		ref.resource, ref.name, ref.sub = "pods", g.name, "log"
	case 6:
		verb = "list"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, `/events?fieldSelector=involvedObject.name%3D`...)
		b = append(b, p.name...)
		b = append(b, `%2CinvolvedObject.namespace%3D`...)
		b = append(b, wl.ns...)
		b = append(b, `%2CinvolvedObject.uid%3D`...)
		b = append(b, p.uid[:]...)
		ref.resource = "events"
	case 7:
		g.name = append(g.name[:0], wl.name...)
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		ref.resource, ref.group, ref.name = "deployments", "apps", g.name
	case 8:
		verb = "list"
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments?limit=500"...)
		ref.resource, ref.group = "deployments", "apps"
	default:
		verb = "list"
		b = append(b, "/api/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/services?limit=500"...)
		ref.resource = "services"
	}
	if h == &g.w.humans[0] && g.rng.IntN(10) == 0 {
		// alice checks what a workload's service account can see.
		b = whoAs(b, verb, a, g.w.impersonate)
	} else {
		b = who(b, verb, a)
	}
	r.mid = appendObjectRef(b, &ref)
	if len(r.status) == 0 {
		g.ok(r, 200)
	}
	g.allow(r, a)
	g.complete(r, 1200)
}

func (g *Generator) humanWrite(r *request) {
	h := g.pickHuman()
	if h.viewOnly {
		h = &g.w.humans[0]
	}
	a := &h.a
	wl := g.humanWorkload(h)
	b := startURI(r)
	ref := objRef{ns: wl.ns, version: "v1"}
	var verb string
	switch g.rng.IntN(3) {
	case 0:
		verb = "patch"
		g.name = append(g.name[:0], wl.name...)
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		b = append(b, "?fieldManager=kubectl-rollout"...)
		ref.resource, ref.group, ref.name = "deployments", "apps", g.name
		g.ok(r, 200)
	case 1:
		verb = "patch"
		g.name = append(g.name[:0], wl.name...)
		b = append(b, "/apis/apps/v1/namespaces/"...)
		b = append(b, wl.ns...)
		b = append(b, "/deployments/"...)
		b = append(b, wl.name...)
		b = append(b, "/scale?fieldManager=kubectl-scale"...)
		ref.resource, ref.group, ref.name, ref.sub = "deployments", "apps", g.name, "scale"
		g.ok(r, 200)
	default:
		verb = "delete"
		p := &g.w.allPods[wl.pods[g.rng.IntN(len(wl.pods))]]
		v := g.view(p)
		v.deleted = g.now
		r.level = levelRR
		b = podPath(b, wl.ns, v.name)
		ref.resource, ref.name = "pods", v.name
		g.ok(r, 200)
		r.bodies = append(r.bodies, `,"requestObject":`...)
		r.bodies = append(r.bodies, deleteOptions...)
		r.bodies = append(r.bodies, `,"responseObject":`...)
		r.bodies = g.appendPod(r.bodies, &v)
	}
	b = who(b, verb, a)
	r.mid = appendObjectRef(b, &ref)
	g.allow(r, a)
	g.complete(r, 6000)
}
