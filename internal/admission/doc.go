// Package admission turns a Kubernetes AdmissionReview request
// (admission.k8s.io/v1 or v1beta1), as a validating webhook receives it,
// into a synthesized audit.k8s.io/v1 Event, so that the rules written for
// audit events apply unchanged, and builds the AdmissionReview response.
//
// The package is pure: no I/O, no globals. Decode validates the body once
// (size, UTF-8, JSON syntax, nesting depth), reads the members it needs
// straight from the bytes and appends the event; objects are copied as
// their original JSON text, compacted, so numbers and key order survive.
//
// # Mapping
//
// Each member of the synthesized event comes from the review as follows.
// The real events of the same operations, captured from kube-apiserver
// v1.33, were the model.
//
//   - kind "Event", apiVersion "audit.k8s.io/v1", level "RequestResponse",
//     stage "ResponseComplete".
//   - auditID is request.uid. The API server makes a fresh UID for each
//     webhook call; it is not the request's audit ID, so a synthesized event
//     cannot be joined with the real audit event of the same request.
//   - verb: CREATE → create, UPDATE → update, DELETE → delete, CONNECT →
//     create. A patch reaches admission as UPDATE and cannot be told from an
//     update, so it becomes verb update, never patch. CONNECT is how
//     admission sees exec, attach, portforward and proxy. The API server
//     audits kubectl exec as verb create on pods/exec when kubectl uses SPDY
//     and as get when it uses WebSocket (kubectl v1.33 tries WebSocket
//     first); admission cannot tell them apart, so every CONNECT, on any
//     subresource, becomes create, which is what Falco's exec rules match.
//   - requestURI is what the API server would log: /api/VERSION/... for the
//     core group and /apis/GROUP/VERSION/... otherwise; namespaces/NS/ only
//     for namespaced requests. A CREATE without a subresource addresses the
//     collection (no name in the path), as the real request does. The query
//     holds, for CREATE and UPDATE, the dryRun, fieldManager and
//     fieldValidation members of request.options; for CONNECT, every
//     top-level scalar member of request.object other than kind and
//     apiVersion (true booleans as "true", false ones left out, arrays as
//     repeated keys), which rebuilds the exec query
//     ?command=id&container=c&stderr=true&stdout=true that Falco reads
//     through ka.uri.param[command]; a proxy request's path member is
//     appended to the path instead. DELETE has no query: its options travel
//     in the body. Keys are sorted and values escaped as url.Values.Encode
//     does, which is what kubectl sends.
//   - user is rebuilt from request.userInfo (username, uid, groups, extra).
//     Admission sees the effective user: after impersonation, userInfo is
//     the impersonated user, and the review does not say who impersonated.
//     The synthesized event therefore has no impersonatedUser, and its user
//     is the one a real audit event would put in impersonatedUser. Rules on
//     ka.impuser.* never match admission events.
//   - objectRef: resource, namespace, name, apiGroup (left out for the core
//     group), apiVersion and subresource. The name is request.name; when
//     that is empty, oldObject.metadata.name (a deletecollection reaches
//     admission as one DELETE per object, without request.name); when that
//     is empty too, object.metadata.name (a create with generateName). For
//     the core resource namespaces, objectRef.namespace is the namespace's
//     own name except on CREATE, as the API server logs it.
//   - requestObject is request.object for CREATE, UPDATE and CONNECT (for
//     CONNECT this is the PodExecOptions or similar; the API server logs no
//     request object for exec, but the options are the request). A DELETE
//     has no requestObject: the API server logs the DeleteOptions there,
//     which no rule reads, and request.options is not the body the client
//     sent (the server adds preconditions).
//   - responseObject is request.oldObject for DELETE only. For a named
//     delete the API server answers with the deleted object (or with it
//     marked for deletion, as for a namespace), so the object fits the
//     schema and gives ka.resp.name and ka.target.pod.name a value. For
//     CREATE and UPDATE there is no response yet, so no responseObject.
//     Null objects are left out.
//   - requestReceivedTimestamp and stageTimestamp are the receive time, in
//     UTC with microseconds, as the API server writes them.
//   - sourceIPs and userAgent are unknown on this path and left out.
//
// Some members are synthetic, because Falco rules need them and only the
// finished request could supply them (the Sysdig admission controller logs
// the same values): responseStatus is {"metadata":{},"code":200}, and the
// annotations authorization.k8s.io/decision is "allow" and
// authorization.k8s.io/reason is "". A webhook is only called after
// authorization allowed the request; the response code is a guess.
// Annotations mark the event:
//
//   - "vigil.dev/capture": "admission" on every synthesized event.
//   - "vigil.dev/synthetic": the comma-separated list of members that are
//     made up: "responseStatus.code,authorization.k8s.io/decision,
//     authorization.k8s.io/reason" (without the spaces), followed by
//     ",responseObject" on DELETE events, whose response object is the
//     object as it was before deletion.
//   - "vigil.dev/dry-run": "true" when request.dryRun is true; absent
//     otherwise.
//
// Secret contents (a Secret CREATE carries its data) are copied into the
// event like any object: pass the event through the redact package before
// it leaves the process.
//
// # Errors
//
// Decode rejects a body that is too large (ErrTooLarge), not UTF-8, not
// JSON or nested too deeply (with the byte offset), and a review whose kind,
// apiVersion, request, request.uid, request.operation, request.resource or
// request.userInfo is missing or invalid (with the member's path). It never
// panics.
package admission
