// Package redact removes Secret contents from audit events, so that they
// never leave Vigil: not in logs, alerts, stored events or files.
//
// Event rewrites one audit event's JSON in place of the secret values and
// keeps every other byte. It applies to events whose objectRef.resource is
// "secrets", whatever the apiGroup (core Secrets have none; a custom
// resource of the same name is treated the same way, erring on the side of
// hiding). In requestObject and responseObject, and in each element of
// their "items" array (list responses, such as the SecretList of a
// deletecollection), it replaces:
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
// Events about other resources are returned unchanged, after reading only
// objectRef.resource, without allocating. Of duplicated members, the first
// objectRef decides, as in the audit decoder, but every requestObject,
// responseObject, data, stringData, metadata and annotations member is
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

// Event returns raw with Secret contents replaced, and whether anything
// changed. raw is one audit Event's JSON, compact or not. When nothing
// changes, raw itself is returned. The result is a new slice otherwise;
// raw is never modified.
func Event(raw []byte) ([]byte, bool) {
	top := trimWS(raw)
	res := get(get(top, "objectRef"), "resource")
	if !isSecrets(res) {
		return raw, false
	}
	var buf [8]span
	r := redactor{raw: raw, spans: buf[:0]}
	m := membersOf(top)
	for {
		k, v, ok := m.Next()
		if !ok {
			break
		}
		if rawjson.KeyEqual(k, "requestObject") || rawjson.KeyEqual(k, "responseObject") {
			r.object(v, true)
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

// isSecrets reports whether the string value v is "secrets".
func isSecrets(v []byte) bool {
	if string(v) == `"secrets"` {
		return true
	}
	if len(v) < 2 || len(v) > 64 || v[0] != '"' || rawjson.IsPlainString(v) {
		return false
	}
	var buf [64]byte
	return string(rawjson.AppendString(buf[:0], v)) == "secrets"
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
		m := membersOf(v)
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

// values redacts each value of a data or stringData map.
func (r *redactor) values(v []byte) {
	switch rawjson.KindOf(v) {
	case rawjson.Null:
	case rawjson.Object:
		m := membersOf(v)
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
	m := membersOf(v)
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
	m := membersOf(v)
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
		m := membersOf(op)
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

// membersOf iterates over the members of obj. rawjson's iterators expect
// validated input, and Members.Next can go out of bounds on an object cut
// off just after a key's opening quote; an object that ends in '}' cannot
// be cut off there. Event does not validate, since validating every event
// would cost more than the redaction check itself.
func membersOf(obj []byte) rawjson.Members {
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return rawjson.Members{}
	}
	return rawjson.MembersOf(obj)
}

// get returns the value of the first member key of obj, or nil.
func get(obj []byte, key string) []byte {
	m := membersOf(obj)
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
