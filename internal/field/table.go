package field

import (
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/audit"
)

// Index-argument phrases used in docs.
const (
	idxVolume    = "optional index [N] keeping only volume N"
	idxRule      = "optional index [N] keeping only rule N"
	idxContainer = "optional index [N] keeping only container N"
)

// buildTable returns every field definition, sorted by name.
func buildTable() []*Def {
	ro := audit.KeyRequestObject
	t := []*Def{
		// A.2 Request metadata.
		{Name: "ka.auditid", Doc: "String, no argument: the event's unique ID, from auditID.",
			bind: single(audit.KeyAuditID)},
		{Name: "ka.stage", Doc: "String, no argument: the stage (RequestReceived, ResponseStarted, ResponseComplete or Panic), from stage.",
			bind: single(audit.KeyStage)},
		{Name: "ka.verb", Doc: "String, no argument: the request verb (get, list, watch, create, update, patch, delete, …), from verb.",
			bind: single(audit.KeyVerb)},
		{Name: "ka.uri", Doc: "String, no argument: the request URI as sent, still URL-encoded, from requestURI.",
			bind: single(audit.KeyRequestURI)},
		{Name: "ka.uri.param", Arg: ArgKey,
			Doc:  "String, required key: the first value of the named query parameter (exec requests repeat command= per argv word, so only the first word), from the query string of requestURI; missing when absent or when the URI or query is malformed.",
			bind: uriParam},
		{Name: "ka.user.name", Doc: "String, no argument: the requesting user's name, from user.username.",
			bind: single(audit.KeyUser, "username")},
		{Name: "ka.user.groups", List: true, Doc: "List of strings, no argument: the requesting user's groups, from the user.groups array.",
			bind: array(audit.KeyUser, "groups")},
		{Name: "ka.impuser.name", Doc: "String, no argument: the impersonated user's name, from impersonatedUser.username.",
			bind: single(audit.KeyImpersonatedUser, "username")},
		{Name: "ka.useragent", Doc: "String, no argument: the client's user agent, from userAgent.",
			bind: single(audit.KeyUserAgent)},
		{Name: "ka.sourceips", List: true, Arg: ArgIndex,
			Doc:  "List of strings, optional index [N] keeping only address N: the client's IP addresses, from the top-level sourceIPs array (Falco reads requestObject.rules[*].sourceIPs instead and is always missing).",
			bind: sourceIPs},
		{Name: "ka.cluster.name", Doc: `String, no argument: the cluster name: for events received by vigil serve, the name of the authenticated cluster that sent them; otherwise annotations["cluster_name"], which only the GKE variant fills in.`,
			bind: clusterName},
		{Name: "ka.response.code", Doc: "String, no argument: the HTTP status code as text such as 201, from responseStatus.code.",
			bind: single(audit.KeyResponseStatus, "code")},
		{Name: "ka.response.reason", Doc: "String, no argument: the response reason, usually present only on failures, from responseStatus.reason.",
			bind: single(audit.KeyResponseStatus, "reason")},
		{Name: "ka.resp.name", Doc: "String, no argument: the response object's name, from responseObject.metadata.name.",
			bind: single(audit.KeyResponseObject, "metadata", "name")},

		// A.3 Annotations.
		annotation("ka.auth.decision", "authorization.k8s.io/decision", "the authorization decision (allow or forbid)"),
		annotation("ka.auth.reason", "authorization.k8s.io/reason", "the authorization reason, e.g. an RBAC explanation"),
		annotation("ka.auth.openshift.decision", "authentication.openshift.io/decision", "the OpenShift authentication decision"),
		annotation("ka.auth.openshift.username", "authentication.openshift.io/username", "the OpenShift-authenticated user name"),
		annotation("ka.validations.admission.policy.failure", "validation.policy.admission.k8s.io/validation_failure",
			"the validating admission policy failure, itself JSON text returned as is"),
		annotation("ka.security.pod.violations", "pod-security.kubernetes.io/audit-violations", "the pod security violations"),

		// A.4 Target object.
		{Name: "ka.target.name", Doc: "String, no argument: the target object's name, from objectRef.name.",
			bind: single(audit.KeyObjectRef, "name")},
		{Name: "ka.target.namespace", Doc: "String, no argument: the target object's namespace, missing for cluster-scoped objects, from objectRef.namespace.",
			bind: single(audit.KeyObjectRef, "namespace")},
		{Name: "ka.target.resource", Doc: "String, no argument: the target resource in the plural, such as pods or clusterroles, from objectRef.resource.",
			bind: single(audit.KeyObjectRef, "resource")},
		{Name: "ka.target.subresource", Doc: "String, no argument: the target subresource such as exec or status, missing (not empty) when the request addresses the resource itself, from objectRef.subresource.",
			bind: single(audit.KeyObjectRef, "subresource")},
		{Name: "ka.target.pod.name", Doc: "String, no argument: the pod's name, from responseObject.metadata.name, only when objectRef.resource is pods and objectRef.subresource is absent or empty.",
			bind: targetPodName},
		{Name: "ka.req.configmap.name", Doc: "String, no argument: the config map's name (the same as ka.target.name), from objectRef.name.",
			bind: single(audit.KeyObjectRef, "name")},

		// A.5 Bindings, roles, config maps, services.
		{Name: "ka.req.binding.subjects", List: true, Doc: "List of strings, no argument: each binding subject as compact JSON, from the requestObject.subjects array.",
			bind: array(ro, "subjects")},
		bindingField("user_names", "User", false, "the name of each subject whose kind is User"),
		bindingField("group_names", "Group", false, "the name of each subject whose kind is Group"),
		bindingField("serviceaccount_names", "ServiceAccount", false, "the name of each subject whose kind is ServiceAccount"),
		bindingField("serviceaccount_ns_names", "ServiceAccount", true, "namespace:name of each subject whose kind is ServiceAccount, skipping those without a namespace"),
		{Name: "ka.req.binding.role", Doc: "String, no argument: the bound role's name, from requestObject.roleRef.name.",
			bind: single(ro, "roleRef", "name")},
		{Name: "ka.req.binding.subject.has_name", Arg: ArgKey, Deprecated: true,
			Doc:  "String, required key (ignored), deprecated: always true on audit events whatever the key, reading no JSON, as in Falco.",
			bind: constant("true", true)},
		{Name: "ka.req.role.rules", List: true, Doc: "List of strings, no argument: each role rule as compact JSON, from the requestObject.rules array.",
			bind: array(ro, "rules")},
		roleField("apiGroups"),
		roleField("resources"),
		roleField("verbs"),
		roleField("nonResourceURLs"),
		{Name: "ka.req.configmap.obj", Doc: "String, no argument: the config map's whole data map as compact JSON, from requestObject.data.",
			bind: single(ro, "data")},
		{Name: "ka.req.service.type", Doc: "String, no argument: the service type such as NodePort, from requestObject.spec.type.",
			bind: single(ro, "spec", "type")},
		{Name: "ka.req.service.ports", List: true, Arg: ArgIndex,
			Doc:  "List of strings, optional index [N] that has no effect: one entry holding the whole requestObject.spec.ports array as compact JSON, as in Falco.",
			bind: walked(ro, "spec", "ports")},

		// A.6 Pods.
		{Name: "ka.req.pod.host_network", Doc: "String, no argument: the hostNetwork flag as text, from requestObject.spec.hostNetwork.",
			bind: single(ro, "spec", "hostNetwork")},
		{Name: "ka.req.container.host_network", Deprecated: true,
			Doc:  "String, no argument, deprecated alias of ka.req.pod.host_network: the hostNetwork flag as text, from requestObject.spec.hostNetwork.",
			bind: single(ro, "spec", "hostNetwork")},
		{Name: "ka.req.pod.host_pid", Doc: "String, no argument: the hostPID flag as text, from requestObject.spec.hostPID.",
			bind: single(ro, "spec", "hostPID")},
		{Name: "ka.req.pod.host_ipc", Doc: "String, no argument: the hostIPC flag as text, from requestObject.spec.hostIPC.",
			bind: single(ro, "spec", "hostIPC")},
		{Name: "ka.req.pod.run_as_user", Doc: "String, no argument: the pod's runAsUser, from requestObject.spec.securityContext.runAsUser.",
			bind: single(ro, "spec", "securityContext", "runAsUser")},
		{Name: "ka.req.pod.run_as_group", Doc: "String, no argument: the pod's runAsGroup, from requestObject.spec.securityContext.runAsGroup.",
			bind: single(ro, "spec", "securityContext", "runAsGroup")},
		{Name: "ka.req.pod.fs_group", Doc: "String, no argument: the pod's fsGroup, from requestObject.spec.securityContext.fsGroup.",
			bind: single(ro, "spec", "securityContext", "fsGroup")},
		{Name: "ka.req.pod.supplemental_groups", List: true, Doc: "List of strings, no argument: the pod's supplemental group IDs, from the requestObject.spec.securityContext.supplementalGroups array.",
			bind: array(ro, "spec", "securityContext", "supplementalGroups")},
		{Name: "ka.req.pod.volumes.hostpath", List: true, Arg: ArgIndex,
			Doc:  "List of strings, " + idxVolume + ": each volume's host path, skipping volumes without one, from requestObject.spec.volumes[*].hostPath.path.",
			bind: walked(ro, "spec", "volumes", "hostPath", "path")},
		{Name: "ka.req.pod.volumes.flexvolume_driver", List: true, Arg: ArgIndex,
			Doc:  "List of strings, " + idxVolume + ": each flex volume's driver, from requestObject.spec.volumes[*].flexVolume.driver.",
			bind: walked(ro, "spec", "volumes", "flexVolume", "driver")},
		{Name: "ka.req.pod.volumes.volume_type", List: true, Arg: ArgIndex,
			Doc:  "List of strings, " + idxVolume + ": each volume's type such as hostPath, configMap or secret, being the keys other than name of each requestObject.spec.volumes[*] object.",
			bind: volumeTypes},
		{Name: "ka.req.volume.hostpath", Arg: ArgKey, Deprecated: true,
			Doc:  "String, required key (a path, or a prefix ending in *), deprecated by ka.req.pod.volumes.hostpath: true when any requestObject.spec.volumes[*].hostPath.path equals the path or starts with the prefix, else false, missing without volumes.",
			bind: volumeHostPath},
		{Name: "ka.req.container.image", Deprecated: true,
			Doc:  "String, no argument, deprecated by ka.req.pod.containers.image: the first container's image, from requestObject.spec.containers[0].image.",
			bind: firstContainer(false)},
		{Name: "ka.req.container.image.repository", Deprecated: true,
			Doc:  "String, no argument, deprecated by ka.req.pod.containers.image.repository: the first container's image cut at the first ':' then '@', from requestObject.spec.containers[0].image.",
			bind: firstContainer(true)},
		{Name: "ka.req.container.privileged", Deprecated: true,
			Doc:  "String, no argument, deprecated by ka.req.pod.containers.privileged: true when any requestObject.spec.containers[*].securityContext.privileged is true, else false (init and ephemeral containers not included).",
			bind: anyPrivileged},

		// A.7 The json plugin.
		{Name: "json.value", Arg: ArgKey,
			Doc:  "String, required key (an RFC 6901 JSON pointer, leading / optional, numeric tokens index arrays): the value it points to in the event, a string raw and anything else as compact JSON.",
			bind: jsonValue},
		{Name: "json.obj", Doc: "String, no argument: the whole event JSON pretty-printed with two-space indentation.",
			bind: jsonObj},
		{Name: "json.rawtime", Doc: "String, no argument: the event time (stageTimestamp) in nanoseconds since the epoch as decimal text, always present.",
			bind: rawTime},

		// libsinsp event fields.
		{Name: "evt.time", Doc: "String, no argument: the event time (stageTimestamp) in the local zone as HH:MM:SS.nnnnnnnnn.",
			bind: timeText(layoutTime, false)},
		{Name: "evt.time.s", Doc: "String, no argument: the event time (stageTimestamp) in the local zone as HH:MM:SS.",
			bind: timeText(layoutTimeS, false)},
		{Name: "evt.time.iso8601", Doc: "String, no argument: the event time (stageTimestamp) in UTC as YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000.",
			bind: timeText(layoutISO8601, true)},
		{Name: "evt.datetime", Doc: "String, no argument: the event time (stageTimestamp) in the local zone as YYYY-MM-DD HH:MM:SS.nnnnnnnnn.",
			bind: timeText(layoutDatetime, false)},
		{Name: "evt.datetime.s", Doc: "String, no argument: the event time (stageTimestamp) in the local zone as YYYY-MM-DD HH:MM:SS.",
			bind: timeText(layoutDatetimeS, false)},
		{Name: "evt.rawtime", Type: Number, Doc: "Number, no argument: the event time (stageTimestamp) in nanoseconds since the epoch.",
			bind: rawTime},
		{Name: "evt.rawtime.s", Type: Number, Doc: "Number, no argument: the whole seconds since the epoch of the event time (stageTimestamp).",
			bind: rawTimePart(true)},
		{Name: "evt.rawtime.ns", Type: Number, Doc: "Number, no argument: the nanoseconds within the second of the event time (stageTimestamp).",
			bind: rawTimePart(false)},
		{Name: "evt.source", Doc: "String, no argument: the event source, always k8s_audit, reading no JSON.",
			bind: constant("k8s_audit", false)},
		{Name: "evt.pluginname", Doc: "String, no argument: the name of the plugin that produced the event, always k8saudit, reading no JSON.",
			bind: constant("k8saudit", false)},
		{Name: "evt.hostname", Doc: "String, no argument: the host name Vigil runs on (from its configuration), reading no JSON.",
			bind: hostname},
	}
	t = append(t, containerDefs()...)
	t = append(t, sourceDefs()...)
	t = append(t, jevtAliases(t)...)
	slices.SortFunc(t, func(a, b *Def) int { return strings.Compare(a.Name, b.Name) })
	return t
}

// annotation defines a field that reads one key of the annotations map.
func annotation(name, key, what string) *Def {
	return &Def{Name: name, Doc: "String, no argument: " + what + `, from annotations["` + key + `"].`,
		bind: single(audit.KeyAnnotations, key)}
}

// bindingField defines ka.req.binding.subjects.<suffix>.
func bindingField(suffix, kind string, withNS bool, what string) *Def {
	return &Def{Name: "ka.req.binding.subjects." + suffix, List: true,
		Doc:  "List of strings, no argument: " + what + ", from the requestObject.subjects array.",
		bind: bindingNames(kind, withNS)}
}

// roleField defines ka.req.role.rules.<key>.
func roleField(key string) *Def {
	return &Def{Name: "ka.req.role.rules." + key, List: true, Arg: ArgIndex,
		Doc: "List of strings, " + idxRule + ": every rule's " + key + " entries flattened into one list, from requestObject.rules[*]." +
			key + "[*].",
		bind: flattened(audit.KeyRequestObject, "rules", key)}
}

// containerDefs defines ka.req.pod.<family>.<suffix> for every family and
// suffix.
func containerDefs() []*Def {
	var out []*Def
	for _, f := range families {
		for _, s := range containerSuffixes {
			if s.families != nil && !s.families(f) {
				continue
			}
			doc := "List of strings, " + idxContainer + ": per container of requestObject.spec." + f + ", its " + s.what +
				", from " + s.from
			if s.note != "" {
				doc += "; " + s.note
			}
			out = append(out, &Def{Name: "ka.req.pod." + f + s.name, List: true, Arg: ArgIndex, Doc: doc + ".", bind: s.bind(f)})
		}
	}
	return out
}

// jevtAliases returns jevt.* for every json.* field: the json plugin offers
// both names.
func jevtAliases(t []*Def) []*Def {
	var out []*Def
	for _, d := range t {
		if rest, ok := strings.CutPrefix(d.Name, "json."); ok {
			a := *d
			a.Name = "jevt." + rest
			a.Doc = strings.Replace(d.Doc, ": ", " (alias of "+d.Name+"): ", 1)
			out = append(out, &a)
		}
	}
	return out
}
