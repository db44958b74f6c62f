package corpus

// This file holds the helpers every action uses to render the parts of a
// request: the URI/verb/user block, objectRef, responseStatus and
// annotations.

const (
	levelMetadata = "Metadata"
	levelRR       = "RequestResponse"
)

// objRef is an audit objectRef. Empty fields are left out.
type objRef struct {
	resource string // plural resource
	ns       string // namespace
	nsIsName bool   // the namespace is name (a Namespace's own objectRef)
	name     []byte // object name
	uid      string // object UID (updates carry it)
	group    string // API group ("" is core)
	version  string // API version
	rv       int64  // resourceVersion (updates carry it)
	sub      string // subresource
}

// startURI starts r.mid and returns it, ready for the request path.
func startURI(r *request) []byte {
	return append(r.mid[:0], `"requestURI":"`...)
}

// who closes the request URI and appends verb, user, sourceIPs and
// userAgent.
func who(b []byte, verb string, a *actor) []byte {
	b = append(b, `","verb":"`...)
	b = append(b, verb...)
	b = append(b, `","user":`...)
	b = append(b, a.user...)
	return source(b, a)
}

// whoAs is who for an impersonated request.
func whoAs(b []byte, verb string, a *actor, imp []byte) []byte {
	b = append(b, `","verb":"`...)
	b = append(b, verb...)
	b = append(b, `","user":`...)
	b = append(b, a.user...)
	b = append(b, `,"impersonatedUser":`...)
	b = append(b, imp...)
	return source(b, a)
}

func source(b []byte, a *actor) []byte {
	b = append(b, `,"sourceIPs":["`...)
	b = append(b, a.ip...)
	b = append(b, `"],"userAgent":`...)
	return append(b, a.ua...)
}

// appendObjectRef appends ,"objectRef":{...}.
func appendObjectRef(b []byte, o *objRef) []byte {
	b = append(b, `,"objectRef":{"resource":"`...)
	b = append(b, o.resource...)
	b = append(b, '"')
	if o.ns != "" {
		b = append(b, `,"namespace":"`...)
		b = append(b, o.ns...)
		b = append(b, '"')
	} else if o.nsIsName {
		b = append(b, `,"namespace":"`...)
		b = appendEscaped(b, o.name)
		b = append(b, '"')
	}
	if len(o.name) > 0 {
		b = append(b, `,"name":"`...)
		b = appendEscaped(b, o.name)
		b = append(b, '"')
	}
	if o.uid != "" {
		b = append(b, `,"uid":"`...)
		b = append(b, o.uid...)
		b = append(b, '"')
	}
	if o.group != "" {
		b = append(b, `,"apiGroup":"`...)
		b = append(b, o.group...)
		b = append(b, '"')
	}
	b = append(b, `,"apiVersion":"`...)
	b = append(b, o.version...)
	b = append(b, '"')
	if o.rv != 0 {
		b = append(b, `,"resourceVersion":`...)
		b = appendQuotedInt(b, o.rv)
	}
	if o.sub != "" {
		b = append(b, `,"subresource":"`...)
		b = append(b, o.sub...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendWatchQuery appends the query of a reflector's watch, starting after
// the '?' or the previous parameter's "\u0026".
func (g *Generator) appendWatchQuery(b []byte) (out []byte, timeout int) {
	timeout = 300 + g.rng.IntN(300)
	b = append(b, `resourceVersion=`...)
	b = appendInt(b, g.oldRV())
	b = append(b, `\u0026timeout=`...)
	b = appendInt(b, int64(timeout/60))
	b = append(b, 'm')
	b = appendInt(b, int64(timeout%60))
	b = append(b, `s\u0026timeoutSeconds=`...)
	b = appendInt(b, int64(timeout))
	b = append(b, `\u0026watch=true`...)
	return b, timeout
}

// ok sets a successful responseStatus.
func (g *Generator) ok(r *request, code int) {
	r.status = append(r.status[:0], `{"metadata":{},"code":`...)
	r.status = appendInt(r.status, int64(code))
	r.status = append(r.status, '}')
}

// kindName appends resource[.group], the way apiserver names a kind in
// messages.
func kindName(b []byte, resource, group string) []byte {
	b = append(b, resource...)
	if group != "" {
		b = append(b, '.')
		b = append(b, group...)
	}
	return b
}

// details appends ,"details":{...} of a failure Status.
func details(b []byte, name []byte, resource, group string) []byte {
	b = append(b, `,"details":{`...)
	if len(name) > 0 {
		b = append(b, `"name":"`...)
		b = appendEscaped(b, name)
		b = append(b, `",`...)
	}
	if group != "" {
		b = append(b, `"group":"`...)
		b = append(b, group...)
		b = append(b, `",`...)
	}
	b = append(b, `"kind":"`...)
	b = append(b, resource...)
	return append(b, `"}`...)
}

// notFound sets a 404 responseStatus.
func (g *Generator) notFound(r *request, resource, group string, name []byte) {
	b := append(r.status[:0], `{"metadata":{},"status":"Failure","message":"`...)
	b = kindName(b, resource, group)
	b = append(b, ` \"`...)
	b = appendEscaped(b, name)
	b = append(b, `\" not found","reason":"NotFound"`...)
	b = details(b, name, resource, group)
	r.status = append(b, `,"code":404}`...)
}

// conflict sets a 409 optimistic-concurrency responseStatus.
func (g *Generator) conflict(r *request, resource, group string, name []byte) {
	b := append(r.status[:0], `{"metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on `...)
	b = kindName(b, resource, group)
	b = append(b, ` \"`...)
	b = appendEscaped(b, name)
	b = append(b, `\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict"`...)
	b = details(b, name, resource, group)
	r.status = append(b, `,"code":409}`...)
}

// forbidden sets an RBAC 403 responseStatus and the forbid annotations.
// An empty resource means a non-resource path (name holds the path).
func (g *Generator) forbidden(r *request, user, verb, resource, group, ns string, name []byte) {
	b := append(r.status[:0], `{"metadata":{},"status":"Failure","message":"`...)
	switch {
	case resource == "":
		b = append(b, `forbidden: User \"`...)
		b = appendEscaped(b, user)
		b = append(b, `\" cannot `...)
		b = append(b, verb...)
		b = append(b, ` path \"`...)
		b = appendEscaped(b, name)
		b = append(b, `\"","reason":"Forbidden","details":{}`...)
	default:
		b = kindName(b, resource, group)
		if len(name) > 0 {
			b = append(b, ` \"`...)
			b = appendEscaped(b, name)
			b = append(b, `\"`...)
		}
		b = append(b, ` is forbidden: User \"`...)
		b = appendEscaped(b, user)
		b = append(b, `\" cannot `...)
		b = append(b, verb...)
		b = append(b, ` resource \"`...)
		b = append(b, resource...)
		b = append(b, `\" in API group \"`...)
		b = append(b, group...)
		if ns != "" {
			b = append(b, `\" in the namespace \"`...)
			b = append(b, ns...)
			b = append(b, `\"","reason":"Forbidden"`...)
		} else {
			b = append(b, `\" at the cluster scope","reason":"Forbidden"`...)
		}
		b = details(b, name, resource, group)
	}
	r.status = append(b, `,"code":403}`...)
	r.annot = append(r.annot[:0], `{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}`...)
}

// statusBody appends the responseStatus as a Status responseObject, the
// way a RequestResponse-level failure is logged.
func (g *Generator) statusBody(r *request) {
	r.bodies = append(r.bodies, `,"responseObject":{"kind":"Status","apiVersion":"v1",`...)
	r.bodies = append(r.bodies, r.status[1:]...)
}

// allow sets the annotations of a request a allowed.
func (g *Generator) allow(r *request, a *actor) {
	r.annot = append(r.annot[:0], a.allow...)
	r.annot = append(r.annot, '}')
}

// allowWith is allow with more annotations, given as `,"key":"value"...`
// and sorted after "authorization.k8s.io/reason".
func (g *Generator) allowWith(r *request, a *actor, extra string) {
	r.annot = append(r.annot[:0], a.allow...)
	r.annot = append(r.annot, extra...)
	r.annot = append(r.annot, '}')
}
