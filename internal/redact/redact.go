// Package redact removes Secret contents and service-account tokens from
// audit events, so that they never leave Vigil: not in logs, alerts, stored
// events or files.
//
// Event rewrites one audit event's JSON in place of the secret values and
// keeps every other byte. Which values are secret depends on the event's
// objectRef.
//
// For objectRef.resource "secrets", whatever the apiGroup (core Secrets
// have none; a custom resource of the same name is treated the same way,
// erring on the side of hiding), it works on requestObject and
// responseObject, on each element of their "items" array (list responses,
// such as the SecretList of a list or deletecollection, and the
// PartialObjectMetadataList of a metadata-only list) and on the "object" of
// each element of their "rows" array (the Table that kubectl get asks for,
// whose rows hold each Secret's metadata, or the whole Secret with
// includeObject=Object). In each it replaces:
//
//   - every value under "data" and "stringData" by the string "<redacted>",
//     keeping the keys, since which key was read or written is useful; a
//     "data" or "stringData" that is not an object (or null) is replaced
//     whole;
//   - the annotation "kubectl.kubernetes.io/last-applied-configuration" in
//     "metadata", which holds the whole Secret as a JSON string.
//
// The requestObject of a patch is the patch document. A merge or strategic
// merge patch is an object and is handled as above. A JSON patch is an
// array of operations: the "value" of each operation whose "path" is under
// /data, /stringData or the last-applied annotation is redacted (for a path
// that is the whole map, each of its values; for "" or "/", the value as a
// whole object). A requestObject or responseObject that is a JSON string
// (a patch body that is not JSON) is replaced whole.
//
// Two kinds of event carry a live bearer token (a service-account JWT, or
// any token a webhook authenticator accepts), which is redacted the same
// way, keeping the key:
//
//   - a TokenRequest, objectRef.resource "serviceaccounts" with subresource
//     "token": "status"."token" of requestObject and responseObject (the
//     issued token is in the response);
//   - a TokenReview, objectRef.resource "tokenreviews": "spec"."token" of
//     requestObject and responseObject (the response echoes the spec).
//
// An empty or null token is left as it is: the request half of a
// TokenRequest always carries "token": "", which is not a secret.
//
// Events about other resources are returned unchanged, after reading only
// objectRef.resource (and, for service accounts, objectRef.subresource),
// without allocating. Of duplicated members, the first objectRef decides,
// as in the audit decoder, but every requestObject, responseObject, data,
// stringData, metadata, annotations, status, spec and token member is
// redacted. Event expects valid JSON (the audit decoders pass on nothing
// else); on invalid input it does its best and never panics.
package redact

import (
	"strings"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// Redacted replaces each secret value.
const Redacted = "<redacted>"

const (
	redactedJSON  = `"` + Redacted + `"`
	lastApplied   = "kubectl.kubernetes.io/last-applied-configuration"
	lastAppliedJP = "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"
)

// span is a value to replace: raw[start:end].
type span struct{ start, end int }

// redactor collects the spans to replace in one event.
type redactor struct {
	raw   []byte
	spans []span
}

// kind is what an event's objectRef says about where its secrets are.
type kind uint8

const (
	kindNone         kind = iota // nothing to redact
	kindSecret                   // Secret data, stringData and last-applied annotation
	kindTokenRequest             // status.token of a serviceaccounts/token TokenRequest
	kindTokenReview              // spec.token of a TokenReview
)

// kindOf classifies an event by its (first) objectRef.
func kindOf(top []byte) kind {
	ref := get(top, "objectRef")
	res := get(ref, "resource")
	switch {
	case isName(res, "secrets"):
		return kindSecret
	case isName(res, "serviceaccounts") && isName(get(ref, "subresource"), "token"):
		return kindTokenRequest
	case isName(res, "tokenreviews"):
		return kindTokenReview
	}
	return kindNone
}

// Event returns raw with Secret contents and bearer tokens replaced, and
// whether anything changed. raw is one audit Event's JSON, compact or not.
// When nothing changes, raw itself is returned. The result is a new slice
// otherwise; raw is never modified.
func Event(raw []byte) ([]byte, bool) {
	top := trimWS(raw)
	k := kindOf(top)
	if k == kindNone {
		return raw, false
	}
	var buf [8]span
	r := redactor{raw: raw, spans: buf[:0]}
	m := rawjson.MembersOf(top)
	for {
		key, v, ok := m.Next()
		if !ok {
			break
		}
		if !rawjson.KeyEqual(key, "requestObject") && !rawjson.KeyEqual(key, "responseObject") {
			continue
		}
		switch k {
		case kindSecret:
			r.object(v, true)
		case kindTokenRequest:
			r.token(v, "status")
		case kindTokenReview:
			r.token(v, "spec")
		}
	}
	if len(r.spans) == 0 {
		return raw, false
	}
	n := len(raw)
	for _, s := range r.spans {
		n += len(redactedJSON) - (s.end - s.start)
	}
	out := make([]byte, 0, n)
	last := 0
	for _, s := range r.spans {
		out = append(out, raw[last:s.start]...)
		out = append(out, redactedJSON...)
		last = s.end
	}
	return append(out, raw[last:]...), true
}

// isName reports whether the string value v is name, which must be at most
// 64 bytes long.
func isName(v []byte, name string) bool {
	if len(v) == len(name)+2 && v[0] == '"' && string(v[1:len(v)-1]) == name {
		return true
	}
	if len(v) < 2 || len(v) > 64 || v[0] != '"' || rawjson.IsPlainString(v) {
		return false
	}
	var buf [64]byte
	return string(rawjson.AppendString(buf[:0], v)) == name
}

// replace marks v, a value inside raw, for replacement unless it already is
// the replacement.
func (r *redactor) replace(v []byte) {
	if len(v) == 0 || string(v) == redactedJSON {
		return
	}
	start := cap(r.raw) - cap(v)
	if start < 0 || start+len(v) > len(r.raw) {
		return // not inside raw: cannot happen, but never panic
	}
	if n := len(r.spans); n > 0 && start < r.spans[n-1].end {
		return // overlaps a value already replaced
	}
	r.spans = append(r.spans, span{start, start + len(v)})
}

// object redacts a request or response object, or (when top is set) a
// JSON patch or a patch body given as a string.
func (r *redactor) object(v []byte, top bool) {
	switch rawjson.KindOf(v) {
	case rawjson.Object:
		m := rawjson.MembersOf(v)
		for {
			k, mv, ok := m.Next()
			if !ok {
				return
			}
			switch {
			case rawjson.KeyEqual(k, "data"), rawjson.KeyEqual(k, "stringData"):
				r.values(mv)
			case rawjson.KeyEqual(k, "metadata"):
				r.metadata(mv)
			case top && rawjson.KeyEqual(k, "items"):
				e := rawjson.ElementsOf(mv)
				for {
					item, ok := e.Next()
					if !ok {
						break
					}
					if rawjson.KindOf(item) == rawjson.Object {
						r.object(item, false)
					}
				}
			case top && rawjson.KeyEqual(k, "rows"):
				r.tableRows(mv)
			}
		}
	case rawjson.Array:
		if top {
			r.jsonPatch(v)
		}
	case rawjson.String:
		if top {
			r.replace(v)
		}
	}
}

// tableRows redacts the "object" of each row of a meta.k8s.io Table, the
// form kubectl get asks for: each is a PartialObjectMetadata (whose
// annotations may hold the last-applied Secret) or, with
// includeObject=Object, the whole Secret.
func (r *redactor) tableRows(v []byte) {
	e := rawjson.ElementsOf(v)
	for {
		row, ok := e.Next()
		if !ok {
			return
		}
		m := rawjson.MembersOf(row)
		for {
			k, obj, ok := m.Next()
			if !ok {
				break
			}
			if rawjson.KeyEqual(k, "object") && rawjson.KindOf(obj) == rawjson.Object {
				r.object(obj, false)
			}
		}
	}
}

// token redacts the "token" members of the outer member of object v, such
// as status.token of a TokenRequest. An empty or null token is kept.
func (r *redactor) token(v []byte, outer string) {
	m := rawjson.MembersOf(v)
	for {
		k, ov, ok := m.Next()
		if !ok {
			return
		}
		if !rawjson.KeyEqual(k, outer) {
			continue
		}
		om := rawjson.MembersOf(ov)
		for {
			tk, tv, ok := om.Next()
			if !ok {
				break
			}
			if rawjson.KeyEqual(tk, "token") && string(tv) != `""` && rawjson.KindOf(tv) != rawjson.Null {
				r.replace(tv)
			}
		}
	}
}

// values redacts each value of a data or stringData map.
func (r *redactor) values(v []byte) {
	switch rawjson.KindOf(v) {
	case rawjson.Null:
	case rawjson.Object:
		m := rawjson.MembersOf(v)
		for {
			_, mv, ok := m.Next()
			if !ok {
				return
			}
			r.replace(mv)
		}
	default:
		r.replace(v)
	}
}

// metadata redacts the last-applied annotation of an object's metadata.
func (r *redactor) metadata(v []byte) {
	m := rawjson.MembersOf(v)
	for {
		k, mv, ok := m.Next()
		if !ok {
			return
		}
		if rawjson.KeyEqual(k, "annotations") {
			r.annotations(mv)
		}
	}
}

func (r *redactor) annotations(v []byte) {
	m := rawjson.MembersOf(v)
	for {
		k, mv, ok := m.Next()
		if !ok {
			return
		}
		if rawjson.KeyEqual(k, lastApplied) {
			r.replace(mv)
		}
	}
}

// jsonPatch redacts the values of the operations of an RFC 6902 JSON patch
// that write secret data.
func (r *redactor) jsonPatch(v []byte) {
	e := rawjson.ElementsOf(v)
	for {
		op, ok := e.Next()
		if !ok {
			return
		}
		pv := get(op, "path")
		if rawjson.KindOf(pv) != rawjson.String {
			continue
		}
		var buf [128]byte
		path := rawjson.AppendString(buf[:0], pv)
		m := rawjson.MembersOf(op)
		for {
			k, val, ok := m.Next()
			if !ok {
				break
			}
			if rawjson.KeyEqual(k, "value") {
				r.patchValue(string(path), val)
			}
		}
	}
}

// patchValue redacts the value a JSON patch operation writes at path.
func (r *redactor) patchValue(path string, v []byte) {
	switch {
	case path == "" || path == "/":
		r.object(v, false)
	case path == "/data" || path == "/stringData":
		r.values(v)
	case strings.HasPrefix(path, "/data/"), strings.HasPrefix(path, "/stringData/"), path == lastAppliedJP:
		r.replace(v)
	case path == "/metadata":
		r.metadata(v)
	case path == "/metadata/annotations":
		r.annotations(v)
	}
}

// get returns the value of the first member key of obj, or nil.
func get(obj []byte, key string) []byte {
	m := rawjson.MembersOf(obj)
	for {
		k, v, ok := m.Next()
		if !ok {
			return nil
		}
		if rawjson.KeyEqual(k, key) {
			return v
		}
	}
}

func trimWS(b []byte) []byte {
	isWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
