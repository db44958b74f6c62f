package corpus

// This file renders the request and response bodies logged at level
// RequestResponse. Field order follows what kube-apiserver writes (struct
// order for typed objects, sorted keys for patches).

// podView is what the pod renderer needs to know about one pod.
type podView struct {
	name     []byte    // metadata.name
	uid      []byte    // metadata.uid
	tokenSfx []byte    // suffix of the kube-api-access volume
	wl       *workload // owner workload
	p        *pod      // the running pod, nil for a pod being created
	node     *node     // nil while unscheduled
	created  int64     // creationTimestamp, µs
	rv       int64     // resourceVersion
	deleted  int64     // deletionTimestamp, µs, 0 if not being deleted
}

// view returns the podView of a running pod. Its name is copied to g.name.
func (g *Generator) view(p *pod) podView {
	g.name = append(g.name[:0], p.name...)
	return podView{
		name: g.name, uid: p.uid[:], tokenSfx: p.tokenSfx[:], wl: &g.w.workloads[p.wl], p: p,
		node: &g.w.nodes[p.node], created: p.created, rv: g.nextRV(),
	}
}

const tokenVolume = `{"name":"kube-api-access-`

// appendTokenVolume appends the projected service-account token volume the
// ServiceAccount admission plugin adds.
func appendTokenVolume(b, sfx []byte) []byte {
	b = append(b, tokenVolume...)
	b = append(b, sfx...)
	return append(b, `","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}`...)
}

func appendTokenMount(b, sfx []byte) []byte {
	b = append(b, `{"name":"kube-api-access-`...)
	b = append(b, sfx...)
	return append(b, `","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}`...)
}

const podTail = `,"securityContext":{},"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"}`

// appendOwnerRef appends the ownerReferences array of a workload's pods.
func appendOwnerRef(b []byte, wl *workload) []byte {
	b = append(b, `[{"apiVersion":"apps/v1","kind":"`...)
	b = append(b, wl.kind...)
	b = append(b, `","name":"`...)
	b = append(b, wl.owner...)
	b = append(b, `","uid":"`...)
	b = append(b, wl.ownerUID...)
	return append(b, `","controller":true,"blockOwnerDeletion":true}]`...)
}

// appendPodTemplate appends the Pod a workload controller POSTs: no name
// (generateName), no volumes, no node.
func (g *Generator) appendPodTemplate(b []byte, wl *workload) []byte {
	b = append(b, `{"kind":"Pod","apiVersion":"v1","metadata":{"generateName":"`...)
	b = append(b, wl.owner...)
	b = append(b, `-","creationTimestamp":null,"labels":`...)
	b = append(b, wl.labels...)
	b = append(b, `,"ownerReferences":`...)
	b = appendOwnerRef(b, wl)
	b = append(b, `},"spec":{"containers":[`...)
	b = append(b, wl.ctrHead...)
	b = append(b, wl.ctrTail...)
	b = append(b, `],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"`...)
	b = append(b, wl.sa...)
	b = append(b, `","serviceAccount":"`...)
	b = append(b, wl.sa...)
	b = append(b, `","securityContext":{},"schedulerName":"default-scheduler"},"status":{}}`...)
	return b
}

// appendPod appends a complete Pod as the apiserver returns it.
func (g *Generator) appendPod(b []byte, v *podView) []byte {
	wl := v.wl
	b = append(b, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"`...)
	b = append(b, v.name...)
	if wl.kind != "StatefulSet" {
		b = append(b, `","generateName":"`...)
		b = append(b, wl.owner...)
		b = append(b, '-')
	}
	b = append(b, `","namespace":"`...)
	b = append(b, wl.ns...)
	b = append(b, `","uid":"`...)
	b = append(b, v.uid...)
	b = append(b, `","resourceVersion":`...)
	b = appendQuotedInt(b, v.rv)
	b = append(b, `,"creationTimestamp":"`...)
	b = g.bclk.appendSecond(b, v.created)
	b = append(b, '"')
	if v.deleted != 0 {
		b = append(b, `,"deletionTimestamp":"`...)
		b = g.bclk.appendSecond(b, v.deleted+30e6)
		b = append(b, `","deletionGracePeriodSeconds":30`...)
	}
	b = append(b, `,"labels":`...)
	b = append(b, wl.labels...)
	b = append(b, `,"ownerReferences":`...)
	b = appendOwnerRef(b, wl)
	b = append(b, `,"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"`...)
	b = g.bclk.appendSecond(b, v.created)
	b = append(b, wl.mfSpec...)
	if v.p != nil {
		b = append(b, `,{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"`...)
		b = g.bclk.appendSecond(b, v.created+9e6)
		b = append(b, `","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodReadyToStartContainers\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"`...)
		b = append(b, v.p.ip...)
		b = append(b, `\"}":{".":{},"f:ip":{}}},"f:startTime":{}}},"subresource":"status"}`...)
	}
	b = append(b, `]},"spec":{"volumes":[`...)
	b = appendTokenVolume(b, v.tokenSfx)
	b = append(b, `],"containers":[`...)
	b = append(b, wl.ctrHead...)
	b = append(b, `,"volumeMounts":[`...)
	b = appendTokenMount(b, v.tokenSfx)
	b = append(b, ']')
	b = append(b, wl.ctrTail...)
	b = append(b, `],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"`...)
	b = append(b, wl.sa...)
	b = append(b, `","serviceAccount":"`...)
	b = append(b, wl.sa...)
	b = append(b, '"')
	if v.node != nil {
		b = append(b, `,"nodeName":"`...)
		b = append(b, v.node.name...)
		b = append(b, '"')
	}
	b = append(b, podTail...)
	if v.p == nil {
		return append(b, `,"status":{"phase":"Pending","qosClass":"`+"Burstable"+`"}}`...)
	}
	return g.appendRunningStatus(b, v)
}

// appendRunningStatus appends ,"status":{...}} of a running pod and closes
// the Pod.
func (g *Generator) appendRunningStatus(b []byte, v *podView) []byte {
	p, wl := v.p, v.wl
	t0 := p.created + 2e6
	b = append(b, `,"status":{"phase":"Running","conditions":[`...)
	b = g.condition(b, "PodReadyToStartContainers", p.created+5e6)
	b = append(b, ',')
	b = g.condition(b, "Initialized", t0)
	b = append(b, ',')
	b = g.condition(b, "Ready", p.created+9e6)
	b = append(b, ',')
	b = g.condition(b, "ContainersReady", p.created+9e6)
	b = append(b, ',')
	b = g.condition(b, "PodScheduled", p.created)
	b = append(b, `],"hostIP":"`...)
	b = append(b, v.node.ip...)
	b = append(b, `","hostIPs":[{"ip":"`...)
	b = append(b, v.node.ip...)
	b = append(b, `"}],"podIP":"`...)
	b = append(b, p.ip...)
	b = append(b, `","podIPs":[{"ip":"`...)
	b = append(b, p.ip...)
	b = append(b, `"}],"startTime":"`...)
	b = g.bclk.appendSecond(b, t0)
	b = append(b, `","containerStatuses":[{"name":"`...)
	b = append(b, wl.container...)
	b = append(b, `","state":{"running":{"startedAt":"`...)
	b = g.bclk.appendSecond(b, p.created+5e6)
	b = append(b, `"}},"lastState":{},"ready":true,"restartCount":`...)
	b = appendInt(b, int64(p.restarts))
	b = append(b, `,"image":"`...)
	b = append(b, wl.image...)
	b = append(b, `","imageID":"`...)
	b = append(b, wl.imageID...)
	b = append(b, `","containerID":"containerd://`...)
	b = append(b, p.ctrID...)
	b = append(b, `","started":true,"volumeMounts":[{"name":"kube-api-access-`...)
	b = append(b, v.tokenSfx...)
	b = append(b, `","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true,"recursiveReadOnly":"Disabled"}]}],"qosClass":"`...)
	b = append(b, wl.qos...)
	return append(b, `"}}`...)
}

func (g *Generator) condition(b []byte, typ string, t int64) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","status":"True","lastProbeTime":null,"lastTransitionTime":"`...)
	b = g.bclk.appendSecond(b, t)
	return append(b, `"}`...)
}

// appendPodStatusPatch appends the strategic-merge patch a kubelet sends to
// pods/status. ready=false reports a failing readiness probe.
func (g *Generator) appendPodStatusPatch(b []byte, v *podView, ready bool) []byte {
	p, wl := v.p, v.wl
	b = append(b, `{"metadata":{"uid":"`...)
	b = append(b, v.uid...)
	b = append(b, `"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[`...)
	for i, typ := range [2]string{"Ready", "ContainersReady"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"lastTransitionTime":"`...)
		b = g.bclk.appendSecond(b, g.now)
		if ready {
			b = append(b, `","status":"True","type":"`...)
		} else {
			b = append(b, `","message":"containers with unready status: [`...)
			b = append(b, wl.container...)
			b = append(b, `]","reason":"ContainersNotReady","status":"False","type":"`...)
		}
		b = append(b, typ...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"containerStatuses":[{"containerID":"containerd://`...)
	b = append(b, p.ctrID...)
	b = append(b, `","image":"`...)
	b = append(b, wl.image...)
	b = append(b, `","imageID":"`...)
	b = append(b, wl.imageID...)
	b = append(b, `","lastState":{},"name":"`...)
	b = append(b, wl.container...)
	b = append(b, `","ready":`...)
	if ready {
		b = append(b, `true`...)
	} else {
		b = append(b, `false`...)
	}
	b = append(b, `,"restartCount":`...)
	b = appendInt(b, int64(p.restarts))
	b = append(b, `,"started":true,"state":{"running":{"startedAt":"`...)
	b = g.bclk.appendSecond(b, p.created+5e6)
	b = append(b, `"}},"volumeMounts":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-`...)
	b = append(b, v.tokenSfx...)
	return append(b, `","readOnly":true,"recursiveReadOnly":"Disabled"}]}]}}`...)
}

// deleteOptions is the requestObject of a DELETE as the apiserver logs it.
const deleteOptions = `{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/__internal","propagationPolicy":"Background"}`

// appendDeleteOptionsUID is deleteOptions with a UID precondition, as
// controllers send it.
func appendDeleteOptionsUID(b, uid []byte) []byte {
	b = append(b, `{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/__internal","preconditions":{"uid":"`...)
	b = append(b, uid...)
	return append(b, `"},"propagationPolicy":"Background"}`...)
}

// appendMeta appends "metadata":{...} of an object created at created (µs)
// and last written now by manager: name, namespace, uid, resourceVersion,
// creationTimestamp and one managedFields entry whose fieldsV1 is given. ns
// may be empty.
func (g *Generator) appendMeta(b []byte, name []byte, ns string, uid []byte, created int64, manager, apiVersion, fields string) []byte {
	b = append(b, `"metadata":{"name":"`...)
	b = appendEscaped(b, name)
	b = append(b, '"')
	if ns != "" {
		b = append(b, `,"namespace":"`...)
		b = append(b, ns...)
		b = append(b, '"')
	}
	b = append(b, `,"uid":"`...)
	b = append(b, uid...)
	b = append(b, `","resourceVersion":`...)
	b = appendQuotedInt(b, g.nextRV())
	b = append(b, `,"creationTimestamp":"`...)
	b = g.bclk.appendSecond(b, created)
	b = append(b, `","managedFields":[{"manager":"`...)
	b = append(b, manager...)
	b = append(b, `","operation":"Update","apiVersion":"`...)
	b = append(b, apiVersion...)
	b = append(b, `","time":"`...)
	b = g.bclk.appendSecond(b, g.now)
	b = append(b, `","fieldsType":"FieldsV1","fieldsV1":`...)
	b = append(b, fields...)
	return append(b, `}]}`...)
}

// newUID renders a fresh UID into dst.
func (g *Generator) newUID(dst *[36]byte) []byte {
	return appendUUID(dst[:0], g.rng.Uint64(), g.rng.Uint64())
}

// appendConfigMap appends a ConfigMap object with the given data object.
func (g *Generator) appendConfigMap(b []byte, name []byte, ns string, uid []byte, created int64, manager string, data []byte) []byte {
	b = append(b, `{"kind":"ConfigMap","apiVersion":"v1",`...)
	b = g.appendMeta(b, name, ns, uid, created, manager, "v1", `{"f:data":{".":{}}}`)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// appendAppConfig appends an ordinary application ConfigMap data object. It
// never contains any of the words the credentials rule looks for.
func (g *Generator) appendAppConfig(b []byte, wl *workload) []byte {
	b = append(b, `{"APP_ENV":"production","CACHE_TTL_SECONDS":"`...)
	b = appendInt(b, int64(30+g.rng.IntN(600)))
	b = append(b, `","FEATURE_FLAGS":"checkout-v2=on,search-boost=`...)
	if g.rng.IntN(2) == 0 {
		b = append(b, "off"...)
	} else {
		b = append(b, "on"...)
	}
	b = append(b, `","LOG_FORMAT":"json","UPSTREAM_URL":"http://`...)
	b = append(b, wl.name...)
	b = append(b, `.`...)
	b = append(b, wl.ns...)
	b = append(b, `.svc.cluster.local:8080","config.yaml":"server:\n  port: 8080\n  readTimeout: 5s\n  writeTimeout: 10s\nmetrics:\n  enabled: true\n  path: /metrics\ntracing:\n  sampleRatio: 0.05\n"}`...)
	return b
}
