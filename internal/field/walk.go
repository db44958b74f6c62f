package field

import (
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// self, as a path step, stays on the current value. The plugin writes it as
// an empty key, so that an array at the end of a path is still fanned out
// (ka.req.pod.volumes.volume_type needs each volume object itself).
const self = ""

// lookup follows an object path from an indexed top-level member, like the
// plugin's fastjson Get(keys...).
func lookup(ev *audit.Event, top audit.Key, rest []string) ([]byte, bool) {
	v := ev.Top(top)
	if v == nil {
		return nil, false
	}
	for _, k := range rest {
		var ok bool
		if v, ok = rawjson.Get(v, k); !ok {
			return nil, false
		}
	}
	return v, true
}

// walk appends to dst the values found by following steps below v, with the
// semantics of the plugin's getValuesRecursive: whenever an array is met
// before a step, it fans out over every element (index < 0) or descends into
// element index only. An element where the rest of the path is missing adds
// a nil entry. An array reached by the last step is returned whole. walk
// reports false, having added nothing, when the path is missing (outside a
// fan-out) or the index is out of range.
func walk(dst [][]byte, v []byte, steps []string, index int) ([][]byte, bool) {
	for i, k := range steps {
		if rawjson.KindOf(v) == rawjson.Array {
			if index < 0 {
				e := rawjson.ElementsOf(v)
				for {
					el, ok := e.Next()
					if !ok {
						return dst, true
					}
					var found bool
					if dst, found = walk(dst, el, steps[i:], index); !found {
						dst = append(dst, nil)
					}
				}
			}
			el, ok := rawjson.Index(v, index)
			if !ok {
				return dst, false
			}
			v = el
		}
		if k != self {
			var ok bool
			if v, ok = rawjson.Get(v, k); !ok {
				return dst, false
			}
		}
	}
	return append(dst, v), true
}

// walkEvent runs walk from an indexed top-level member into out's scratch
// list. The result is valid until the next walkEvent on out.
func (o *Values) walkEvent(ev *audit.Event, top audit.Key, steps []string, index int) ([][]byte, bool) {
	v := ev.Top(top)
	if v == nil {
		return nil, false
	}
	l, ok := walk(o.leaves[:0], v, steps, index)
	o.leaves = l
	return l, ok
}

// mark and undo let an extractor that fails part-way leave out unchanged.
func (o *Values) mark() (int, int) { return len(o.Vals), len(o.Buf) }

func (o *Values) undo(nv, nb int) bool {
	o.Vals = o.Vals[:nv]
	o.Buf = o.Buf[:nb]
	return false
}

// add appends one value. Its capacity is cut to its length so that a
// careless append by a caller cannot overwrite the event or the arena.
func (o *Values) add(b []byte) {
	o.Vals = append(o.Vals, b[:len(b):len(b)])
}

// addBufFrom appends Buf[start:] as a value.
func (o *Values) addBufFrom(start int) {
	o.add(o.Buf[start:])
}

// addText appends the text of the raw JSON value v: a string's decoded text,
// anything else as compact JSON. Plain strings and compact values are not
// copied.
func (o *Values) addText(v []byte) {
	o.add(o.text(v))
}

// text returns the text of v (see addText), decoding or compacting into Buf
// only when needed.
func (o *Values) text(v []byte) []byte {
	switch rawjson.KindOf(v) {
	case rawjson.String:
		if rawjson.IsPlainString(v) {
			return v[1 : len(v)-1 : len(v)-1]
		}
		s := len(o.Buf)
		o.Buf = rawjson.AppendString(o.Buf, v)
		return o.Buf[s:len(o.Buf):len(o.Buf)]
	case rawjson.Object, rawjson.Array:
		if isCompact(v) {
			return v[:len(v):len(v)]
		}
		s := len(o.Buf)
		o.Buf = rawjson.AppendCompact(o.Buf, v)
		return o.Buf[s:len(o.Buf):len(o.Buf)]
	}
	return v[:len(v):len(v)] // numbers and literals carry no whitespace
}

// isCompact reports whether the validated value v has no whitespace outside
// strings.
func isCompact(v []byte) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		}
	}
	return true
}

// textIs reports whether the text of raw value v equals s.
func textIs(v []byte, s string) bool {
	if rawjson.KindOf(v) == rawjson.String {
		return rawjson.KeyEqual(v[1:len(v)-1], s)
	}
	return string(v) == s // scalars are compact; objects never equal a plain word
}

// textEmpty reports whether the text of raw value v is empty.
func textEmpty(v []byte) bool { return len(v) == 2 && v[0] == '"' }
