package field

import (
	"bytes"
	"strings"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// This file holds the extractors of the ka.* fields that are not about pod
// containers (see pod.go) or the request URI (see uri.go). Every one of them
// is missing on an event without a top-level auditID.

// constant returns a binder for an extractor that always yields the
// Bind-time bytes of s.
func constant(s string, needAudit bool) binder {
	return func(bound) (Extractor, error) {
		b := []byte(s)
		return func(ev *audit.Event, out *Values) bool {
			if needAudit && !ev.IsAudit() {
				return false
			}
			out.add(b)
			return true
		}, nil
	}
}

// single is the plugin's extractFromKeys for a single-valued field: the
// text of the value at top.rest...
func single(top audit.Key, rest ...string) binder {
	return func(bound) (Extractor, error) {
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			v, ok := lookup(ev, top, rest)
			if !ok {
				return false
			}
			out.addText(v)
			return true
		}, nil
	}
}

// clusterName reads the cluster that vigil serve authenticated, and falls
// back to the annotation Falco reads.
func clusterName(b bound) (Extractor, error) {
	ann, err := single(audit.KeyAnnotations, "cluster_name")(b)
	if err != nil {
		return nil, err
	}
	return func(ev *audit.Event, out *Values) bool {
		if ev.Cluster == "" || !ev.IsAudit() {
			return ann(ev, out)
		}
		s := len(out.Buf)
		out.Buf = append(out.Buf, ev.Cluster...)
		out.add(out.Buf[s:len(out.Buf):len(out.Buf)])
		return true
	}, nil
}

// array is extractFromKeys for a list field: the value at top.rest... must
// be an array, and each element's text is one value.
func array(top audit.Key, rest ...string) binder {
	return func(bound) (Extractor, error) {
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			v, ok := lookup(ev, top, rest)
			if !ok {
				return false
			}
			return out.addElements(v, -1)
		}, nil
	}
}

// addElements appends the text of each element of array v (only element
// index when index >= 0) and reports whether it appended anything.
func (o *Values) addElements(v []byte, index int) bool {
	if rawjson.KindOf(v) != rawjson.Array {
		return false
	}
	if index >= 0 {
		el, ok := rawjson.Index(v, index)
		if !ok {
			return false
		}
		o.addText(el)
		return true
	}
	n := len(o.Vals)
	e := rawjson.ElementsOf(v)
	for {
		el, ok := e.Next()
		if !ok {
			return len(o.Vals) > n
		}
		o.addText(el)
	}
}

// sourceIPs reads the top-level sourceIPs array. Upstream looks under
// requestObject.rules[*].sourceIPs and is always missing (see doc.go).
func sourceIPs(b bound) (Extractor, error) {
	index := b.index
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		v := ev.Top(audit.KeySourceIPs)
		if v == nil {
			return false
		}
		return out.addElements(v, index)
	}, nil
}

// walked is the common shape of the plugin's fan-out fields: walk the path
// from top, then append the text of every leaf that exists
// (arrayAsStringsSkipNil).
func walked(top audit.Key, steps ...string) binder {
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, top, steps, index)
			if !ok {
				return false
			}
			n := len(out.Vals)
			for _, l := range leaves {
				if l != nil {
					out.addText(l)
				}
			}
			return len(out.Vals) > n
		}, nil
	}
}

// flattened is the plugin's extractRulesField: walk the path, then append
// the elements of every leaf that is an array.
func flattened(top audit.Key, steps ...string) binder {
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, top, steps, index)
			if !ok {
				return false
			}
			n := len(out.Vals)
			for _, l := range leaves {
				if rawjson.KindOf(l) == rawjson.Array {
					out.addElements(l, -1)
				}
			}
			return len(out.Vals) > n
		}, nil
	}
}

// volumeTypes yields, for each volume, every key other than "name".
func volumeTypes(b bound) (Extractor, error) {
	index := b.index
	steps := []string{"spec", "volumes", self}
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, index)
		if !ok {
			return false
		}
		n := len(out.Vals)
		for _, l := range leaves {
			m := rawjson.MembersOf(l)
			for {
				k, _, ok := m.Next()
				if !ok {
					break
				}
				if rawjson.KeyEqual(k, "name") {
					continue
				}
				if isPlainKey(k) {
					out.add(k)
					continue
				}
				start := len(out.Buf)
				out.Buf = appendKey(out.Buf, k)
				out.addBufFrom(start)
			}
		}
		return len(out.Vals) > n
	}, nil
}

// isPlainKey reports whether raw key text has no escapes.
func isPlainKey(k []byte) bool { return bytes.IndexByte(k, '\\') < 0 }

// appendKey appends the decoded text of a raw key (the bytes between its
// quotes, escapes unresolved) without allocating once dst has grown.
func appendKey(dst, k []byte) []byte {
	s := len(dst)
	dst = append(dst, '"')
	dst = append(dst, k...)
	dst = append(dst, '"')
	end := len(dst)
	dst = rawjson.AppendString(dst, dst[s:end]) // decoded text goes after the quoted copy
	n := copy(dst[s:], dst[end:])               // and moves down over it
	return dst[:s+n]
}

// bindingNames yields the name of every requestObject.subjects entry whose
// kind is kind. With withNS it yields "namespace:name" and skips subjects
// without a namespace.
func bindingNames(kind string, withNS bool) binder {
	return func(bound) (Extractor, error) {
		path := []string{"subjects"}
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			subjects, ok := lookup(ev, audit.KeyRequestObject, path)
			if !ok || rawjson.KindOf(subjects) != rawjson.Array {
				return false
			}
			n := len(out.Vals)
			e := rawjson.ElementsOf(subjects)
			for {
				s, ok := e.Next()
				if !ok {
					break
				}
				k, ok := rawjson.Get(s, "kind")
				if !ok || !textIs(k, kind) {
					continue
				}
				name, ok := rawjson.Get(s, "name")
				if !ok {
					continue
				}
				if !withNS {
					out.addText(name)
					continue
				}
				ns, ok := rawjson.Get(s, "namespace")
				if !ok || textEmpty(ns) {
					continue
				}
				start := len(out.Buf)
				out.Buf = rawjson.AppendText(out.Buf, ns)
				out.Buf = append(out.Buf, ':')
				out.Buf = rawjson.AppendText(out.Buf, name)
				out.addBufFrom(start)
			}
			return len(out.Vals) > n
		}, nil
	}
}

// targetPodName is responseObject.metadata.name when the request addresses
// a pod itself: objectRef.resource is "pods" and objectRef.subresource is
// absent or empty.
func targetPodName(bound) (Extractor, error) {
	namePath := []string{"metadata", "name"}
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		ref := ev.Top(audit.KeyObjectRef)
		res, ok := rawjson.Get(ref, "resource")
		if !ok || !textIs(res, "pods") {
			return false
		}
		if sub, ok := rawjson.Get(ref, "subresource"); ok && !textEmpty(sub) {
			return false
		}
		v, ok := lookup(ev, audit.KeyResponseObject, namePath)
		if !ok {
			return false
		}
		out.addText(v)
		return true
	}, nil
}

// volumeHostPath is the deprecated ka.req.volume.hostpath[path]: "true" when
// any volume's hostPath.path equals the key, or starts with it when the key
// ends in '*'; "false" otherwise, as long as requestObject.spec.volumes
// exists.
func volumeHostPath(b bound) (Extractor, error) {
	key := b.key
	prefix, isPrefix := strings.CutSuffix(key, "*")
	prefixB := []byte(prefix)
	steps := []string{"spec", "volumes", "hostPath", "path"}
	yes, no := []byte("true"), []byte("false")
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, -1)
		if !ok {
			return false
		}
		nb := len(out.Buf)
		for _, l := range leaves {
			if l == nil {
				continue
			}
			t := out.text(l)
			if isPrefix && bytes.HasPrefix(t, prefixB) || string(t) == key {
				out.Buf = out.Buf[:nb]
				out.add(yes)
				return true
			}
		}
		out.Buf = out.Buf[:nb]
		out.add(no)
		return true
	}, nil
}
