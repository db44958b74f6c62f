package field

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// This file holds the json plugin's fields (json.* and its jevt.* aliases).
// Unlike ka.* they work on any event, audit or not.

// ptrStep is one reference token of a compiled JSON pointer.
type ptrStep struct {
	name  string // the member name, ~0 and ~1 resolved
	index int    // the array index the token denotes, or -1
}

// pointer is a JSON pointer compiled at Bind time. When its first token
// names an indexed top-level member, that member is found in O(1).
type pointer struct {
	top    audit.Key // first token's member, when hasTop
	hasTop bool
	steps  []ptrStep // the remaining tokens
}

// compilePointer parses an RFC 6901 pointer whose leading '/' is optional,
// as the json plugin accepts it. A '~' must be followed by '0' or '1'.
func compilePointer(s string) (pointer, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && (i+1 >= len(s) || (s[i+1] != '0' && s[i+1] != '1')) {
			return pointer{}, fmt.Errorf("escape character '~' must be followed by '0' or '1'")
		}
	}
	toks := strings.Split(strings.TrimPrefix(s, "/"), "/")
	var p pointer
	for _, t := range toks {
		t = strings.ReplaceAll(t, "~1", "/")
		t = strings.ReplaceAll(t, "~0", "~")
		idx, ok := parseIndex(t)
		if !ok {
			idx = -1
		}
		p.steps = append(p.steps, ptrStep{name: t, index: idx})
	}
	if k, ok := audit.KeyOf(p.steps[0].name); ok {
		p.top, p.hasTop = k, true
		p.steps = p.steps[1:]
	}
	return p, nil
}

// resolve returns the value p points to in the event.
func (p *pointer) resolve(ev *audit.Event) ([]byte, bool) {
	v := ev.Raw
	if p.hasTop {
		if v = ev.Top(p.top); v == nil {
			return nil, false
		}
	}
	for i := range p.steps {
		st := &p.steps[i]
		switch rawjson.KindOf(v) {
		case rawjson.Object:
			var ok bool
			if v, ok = rawjson.Get(v, st.name); !ok {
				return nil, false
			}
		case rawjson.Array:
			if st.index < 0 {
				return nil, false
			}
			var ok bool
			if v, ok = rawjson.Index(v, st.index); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}

// jsonValue is json.value[ptr]: the text of the value ptr points to.
func jsonValue(b bound) (Extractor, error) {
	p, err := compilePointer(b.key)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON pointer %q for field %q: %w", b.key, b.name, err)
	}
	return func(ev *audit.Event, out *Values) bool {
		v, ok := p.resolve(ev)
		if !ok {
			return false
		}
		out.addText(v)
		return true
	}, nil
}

// jsonObj is json.obj: the whole event, pretty-printed with two-space
// indentation.
func jsonObj(bound) (Extractor, error) {
	return func(ev *audit.Event, out *Values) bool {
		start := len(out.Buf)
		out.Buf = rawjson.AppendIndent(out.Buf, ev.Raw, "  ")
		out.addBufFrom(start)
		return true
	}, nil
}

// rawTime is json.rawtime and evt.rawtime: the event time in nanoseconds
// since the epoch, as decimal text.
func rawTime(bound) (Extractor, error) {
	return func(ev *audit.Event, out *Values) bool {
		start := len(out.Buf)
		out.Buf = strconv.AppendInt(out.Buf, ev.Time, 10)
		out.addBufFrom(start)
		return true
	}, nil
}
