package admission

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// Annotation keys and values set on synthesized events.
const (
	AnnotationCapture   = "vigil.dev/capture"   // always "admission"
	AnnotationSynthetic = "vigil.dev/synthetic" // members that are made up, comma-separated
	AnnotationDryRun    = "vigil.dev/dry-run"   // "true" for a dry run, else absent

	syntheticAlways = "responseStatus.code,authorization.k8s.io/decision,authorization.k8s.io/reason"
	syntheticDelete = syntheticAlways + ",responseObject"
)

// timeLayout is how the API server writes audit timestamps: UTC with
// microseconds.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// eventSize estimates the synthesized event's length, so that it is built
// in one allocation.
func eventSize(r *review) int {
	return 1024 + len(r.object) + len(r.oldObject) + len(r.extra) + 2*len(r.Name) + len(r.Namespace)
}

// appendEvent appends the audit event synthesized from r.
func appendEvent(b []byte, r *review, now time.Time) []byte {
	verb, _ := verbOf(r.Operation)
	namespace := r.Namespace
	if r.Group == "" && r.Resource == "namespaces" {
		// The API server takes a namespace's namespace from the URL, which
		// names it for everything but a create.
		namespace = ""
		if !isCollection(r) {
			namespace = r.Name
		}
	}

	b = append(b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":`...)
	b = appendString(b, r.UID)
	b = append(b, `,"stage":"ResponseComplete","requestURI":`...)
	b = appendString(b, string(appendURI(nil, r, namespace)))
	b = append(b, `,"verb":`...)
	b = appendString(b, verb)

	b = append(b, `,"user":{"username":`...)
	b = appendString(b, r.User)
	if r.userUID != "" {
		b = append(b, `,"uid":`...)
		b = appendString(b, r.userUID)
	}
	if r.Groups != nil {
		b = append(b, `,"groups":[`...)
		for i, g := range r.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, g)
		}
		b = append(b, ']')
	}
	if r.extra != nil {
		b = append(b, `,"extra":`...)
		b = rawjson.AppendCompact(b, r.extra)
	}
	b = append(b, '}')

	b = append(b, `,"objectRef":{"resource":`...)
	b = appendString(b, r.Resource)
	if namespace != "" {
		b = append(b, `,"namespace":`...)
		b = appendString(b, namespace)
	}
	if r.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, r.Name)
	}
	if r.Group != "" {
		b = append(b, `,"apiGroup":`...)
		b = appendString(b, r.Group)
	}
	b = append(b, `,"apiVersion":`...)
	b = appendString(b, r.Version)
	if r.SubResource != "" {
		b = append(b, `,"subresource":`...)
		b = appendString(b, r.SubResource)
	}
	b = append(b, '}')

	b = append(b, `,"responseStatus":{"metadata":{},"code":200}`...)
	synthetic := syntheticAlways
	if r.Operation == "DELETE" {
		if r.oldObject != nil {
			b = append(b, `,"responseObject":`...)
			b = rawjson.AppendCompact(b, r.oldObject)
			synthetic = syntheticDelete
		}
	} else if r.object != nil {
		b = append(b, `,"requestObject":`...)
		b = rawjson.AppendCompact(b, r.object)
	}

	b = append(b, `,"requestReceivedTimestamp":"`...)
	t := now.UTC()
	b = t.AppendFormat(b, timeLayout)
	b = append(b, `","stageTimestamp":"`...)
	b = t.AppendFormat(b, timeLayout)
	b = append(b, `","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"","`...)
	b = append(b, AnnotationCapture+`":"admission"`...)
	if r.DryRun {
		b = append(b, `,"`+AnnotationDryRun+`":"true"`...)
	}
	b = append(b, `,"`+AnnotationSynthetic+`":"`...)
	b = append(b, synthetic...)
	b = append(b, `"}}`...)
	return b
}

// isCollection reports whether the request addresses the collection rather
// than one object: a create without a subresource.
func isCollection(r *review) bool {
	return r.Operation == "CREATE" && r.SubResource == ""
}

// appendURI appends the request URI the API server would have logged.
func appendURI(b []byte, r *review, namespace string) []byte {
	if r.Group == "" {
		b = append(b, "/api/"...)
	} else {
		b = append(b, "/apis/"...)
		b = appendSegment(b, r.Group)
		b = append(b, '/')
	}
	b = appendSegment(b, r.Version)
	if namespace != "" && !(r.Group == "" && r.Resource == "namespaces") {
		b = append(b, "/namespaces/"...)
		b = appendSegment(b, namespace)
	}
	b = append(b, '/')
	b = appendSegment(b, r.Resource)
	if r.Name != "" && !isCollection(r) {
		b = append(b, '/')
		b = appendSegment(b, r.Name)
	}
	if r.SubResource != "" {
		b = append(b, '/')
		b = appendSegment(b, r.SubResource)
	}

	var q []param
	switch r.Operation {
	case "CREATE", "UPDATE":
		q = optionParams(q, r.options)
	case "CONNECT":
		var path string
		q, path = connectParams(q, r.object, r.SubResource == "proxy")
		if path != "" {
			for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
				b = append(b, '/')
				b = appendSegment(b, seg)
			}
		}
	}
	slices.SortStableFunc(q, func(a, b param) int { return cmp.Compare(a.key, b.key) })
	for i, p := range q {
		if i == 0 {
			b = append(b, '?')
		} else {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(p.key)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(p.val)...)
	}
	return b
}

func appendSegment(b []byte, s string) []byte {
	return append(b, url.PathEscape(s)...)
}

// param is one query parameter.
type param struct{ key, val string }

// optionParams adds the members of CreateOptions or UpdateOptions that
// clients send in the query.
func optionParams(q []param, options []byte) []param {
	m := rawjson.MembersOf(options)
	for {
		k, v, ok := m.Next()
		if !ok {
			return q
		}
		var kb [32]byte
		switch key := string(keyText(kb[:0], k)); key {
		case "dryRun", "fieldManager", "fieldValidation":
			q = scalarParams(q, key, v)
		}
	}
}

// connectParams adds the query parameters of a CONNECT request, one per
// scalar member of its options object (PodExecOptions and the like). When
// proxy is set, the path member goes into the URL path and is returned.
func connectParams(q []param, object []byte, proxy bool) ([]param, string) {
	var path string
	m := rawjson.MembersOf(object)
	for {
		k, v, ok := m.Next()
		if !ok {
			return q, path
		}
		var kb [32]byte
		switch key := string(keyText(kb[:0], k)); key {
		case "kind", "apiVersion":
		case "path":
			if proxy && rawjson.KindOf(v) == rawjson.String {
				path = str(v)
				continue
			}
			q = scalarParams(q, key, v)
		default:
			q = scalarParams(q, key, v)
		}
	}
}

// scalarParams adds key=value for a scalar and one key=value per scalar
// element of an array. False, null, objects and nested arrays add nothing,
// as Kubernetes' query parameter codec leaves out empty values.
func scalarParams(q []param, key string, v []byte) []param {
	switch rawjson.KindOf(v) {
	case rawjson.String:
		return append(q, param{key, str(v)})
	case rawjson.Number:
		return append(q, param{key, string(v)})
	case rawjson.Bool:
		if v[0] == 't' {
			return append(q, param{key, "true"})
		}
	case rawjson.Array:
		e := rawjson.ElementsOf(v)
		for {
			el, ok := e.Next()
			if !ok {
				break
			}
			if k := rawjson.KindOf(el); k != rawjson.Array && k != rawjson.Object {
				q = scalarParams(q, key, el)
			}
		}
	}
	return q
}
