package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/condition"
	"github.com/vigilsec/vigil/internal/field"
)

// template is a compiled rule output: literal text and field references.
type template struct {
	parts []part
	refs  []outRef // distinct references, for output_fields
}

type part struct {
	lit   string // literal text, when ref < 0
	ref   int    // index into template.refs, or -1
	width int    // %Nfield: pad or truncate to N bytes; 0 = as is
}

// maxOutputWidth caps N in %Nfield. Falco sets no limit, but rule files come
// from users, and an unbounded width lets one rule make every alert of it
// arbitrarily large (or overflow int). No real output pads a value to more
// than a line; a larger N is a load error.
const maxOutputWidth = 1024

// outRef is a field reference in an output.
type outRef struct {
	key   string // output_fields key
	slot  int    // the (possibly transformed) value printed
	kslot int    // the value listed under key in output_fields
}

// unknownFieldError reports an output reference to a field that does not
// exist; skip-if-unknown-filter tolerates it.
type unknownFieldError struct{ name string }

func (e *unknownFieldError) Error() string { return fmt.Sprintf("unknown field %q", e.name) }

// template compiles a rule output. pos is the position of output[0].
func (c *compiler) template(output string, pos condition.Pos) *template {
	t := &template{}
	refIdx := map[string]int{}
	lit := []byte{}
	flush := func() {
		if len(lit) > 0 {
			t.parts = append(t.parts, part{lit: string(lit), ref: -1})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(output); {
		ch := output[i]
		if ch != '%' {
			lit = append(lit, ch)
			i++
			continue
		}
		start := i
		i++
		width := 0
		for i < len(output) && output[i] >= '0' && output[i] <= '9' {
			if width = width*10 + int(output[i]-'0'); width > maxOutputWidth {
				c.errorf(pos+condition.Pos(start), "LOAD_ERR_COMPILE_OUTPUT", "invalid output format: width exceeds the maximum of %d", maxOutputWidth)
				return t
			}
			i++
		}
		ref, n, err := c.parseOutputRef(output[i:])
		if err != nil {
			var unknown *unknownFieldError
			if errors.As(err, &unknown) {
				c.unknown++
			}
			c.errorf(pos+condition.Pos(start), "LOAD_ERR_COMPILE_OUTPUT", "invalid output format: %v", err)
			return t
		}
		i += n
		flush()
		k, ok := refIdx[ref.key+"\x00"+c.p.slots[ref.slot].key]
		if !ok {
			k = len(t.refs)
			t.refs = append(t.refs, ref)
			refIdx[ref.key+"\x00"+c.p.slots[ref.slot].key] = k
		}
		t.parts = append(t.parts, part{ref: k, width: width})
	}
	flush()
	return t
}

// parseOutputRef parses the field or transformer after a '%': the longest
// prefix of s that names a known field, with its [argument]. It binds the
// slots it needs and reports errors only through its result; an unknown
// field is an *unknownFieldError.
func (c *compiler) parseOutputRef(s string) (outRef, int, error) {
	// Transformer: name(...)
	j := 0
	for j < len(s) && isIdentByte(s[j]) && s[j] != '.' {
		j++
	}
	if j > 0 && j < len(s) && s[j] == '(' {
		name := s[:j]
		inner, n, err := c.parseOutputRef(s[j+1:])
		if err != nil {
			return outRef{}, 0, err
		}
		end := j + 1 + n
		if end >= len(s) || s[end] != ')' {
			return outRef{}, 0, fmt.Errorf("missing ')' after %s(", name)
		}
		base := c.p.slots[inner.slot]
		key := name + "(" + base.key + ")"
		si, ok := c.p.byKey[key]
		if !ok {
			ts := slot{key: key, list: base.list, base: inner.slot, tf: name}
			switch name {
			case "len":
				ts.list, ts.num = false, true
			case "tolower", "toupper", "basename", "b64":
			default:
				return outRef{}, 0, fmt.Errorf("unknown transformer %q", name)
			}
			c.p.slots = append(c.p.slots, ts)
			si = len(c.p.slots) - 1
			c.p.byKey[key] = si
		}
		return outRef{key: inner.key, slot: si, kslot: inner.kslot}, end + 1, nil
	}
	if strings.HasPrefix(s, "vigil.") {
		return c.vigilRef(s)
	}
	j = 0
	for j < len(s) && isIdentByte(s[j]) {
		j++
	}
	if j == 0 {
		if len(s) == 0 {
			return outRef{}, 0, fmt.Errorf("'%%' at the end of the output")
		}
		return outRef{}, 0, fmt.Errorf("'%%' is not followed by a field name")
	}
	var def *field.Def
	for ; j > 0; j-- {
		if d, ok := field.Lookup(s[:j]); ok {
			def = d
			break
		}
	}
	if def == nil {
		return outRef{}, 0, &unknownFieldError{name: takeIdent(s)}
	}
	name := s[:j]
	arg, hasArg := "", false
	if def.Arg != field.ArgNone && j < len(s) && s[j] == '[' {
		end := j + 1
		depth := 1
		for end < len(s) {
			if s[end] == '[' {
				depth++
			} else if s[end] == ']' {
				depth--
				if depth == 0 {
					break
				}
			}
			end++
		}
		if end >= len(s) {
			return outRef{}, 0, fmt.Errorf("missing ']' after %s[", name)
		}
		arg, hasArg = s[j+1:end], true
		j = end + 1
	}
	key := name
	if hasArg {
		key = name + "[" + arg + "]"
	}
	si, ok := c.p.byKey[key]
	if !ok {
		ext, err := def.Bind(arg, hasArg, c.env)
		if err != nil {
			return outRef{}, 0, err
		}
		c.p.slots = append(c.p.slots, slot{key: key, list: def.List, num: def.Type == field.Number, ext: ext, base: -1})
		si = len(c.p.slots) - 1
		c.p.byKey[key] = si
	}
	return outRef{key: key, slot: si, kslot: si}, j, nil
}

// outputField binds a field reference given on its own, e.g. --append-field.
// Like Falco's append_output, the output_fields key is the reference as
// given and its value is the one printed: for "tolower(ka.verb)" the key is
// "tolower(ka.verb)" and the value the lowered verb. (Inside a rule output a
// transformed reference lists its inner field instead; see template.)
func (c *compiler) outputField(name string) (outRef, error) {
	ref, n, err := c.parseOutputRef(name)
	if err != nil {
		return outRef{}, err
	}
	if n != len(name) {
		return outRef{}, fmt.Errorf("unexpected text %q after field %s", name[n:], name[:n])
	}
	return outRef{key: name, slot: ref.slot, kslot: ref.slot}, nil
}

func isIdentByte(c byte) bool {
	return c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func takeIdent(s string) string {
	j := 0
	for j < len(s) && isIdentByte(s[j]) {
		j++
	}
	return s[:j]
}

// appendValue renders a slot's value as Falco prints it in a message.
func appendValue(dst []byte, vals [][]byte, ok, list bool) []byte {
	if !ok {
		return append(dst, "<NA>"...)
	}
	if !list {
		if len(vals) > 0 {
			return append(dst, vals[0]...)
		}
		return dst
	}
	dst = append(dst, '(')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, v...)
	}
	return append(dst, ')')
}

// render builds the alert for rule r and the event in st.
func (p *Program) render(st *State, r *Rule) *alert.Alert {
	a := &alert.Alert{
		Time:     st.ev.Time,
		Rule:     r.Name,
		Priority: r.Priority,
		Source:   r.Source,
		Tags:     r.Tags,
		Hostname: p.opts.Env.Hostname,
	}
	var msg []byte
	for _, pt := range r.out.parts {
		if pt.ref < 0 {
			msg = append(msg, pt.lit...)
			continue
		}
		ref := r.out.refs[pt.ref]
		vals, ok := st.get(ref.slot)
		start := len(msg)
		msg = appendValue(msg, vals, ok, p.slots[ref.slot].list)
		if pt.width > 0 {
			if n := len(msg) - start; n > pt.width {
				msg = msg[:start+pt.width]
			} else {
				for ; n < pt.width; n++ {
					msg = append(msg, ' ')
				}
			}
		}
	}
	a.Message = string(msg)
	a.Fields = make([]alert.Field, 0, len(r.out.refs)+len(p.append)+1)
	a.Fields = append(a.Fields, alert.Field{Key: "evt.time", Values: []string{strconv.FormatInt(st.ev.Time, 10)}, Int: true})
	seen := map[string]bool{"evt.time": true}
	addRef := func(ref outRef) {
		if seen[ref.key] {
			return
		}
		seen[ref.key] = true
		vals, ok := st.get(ref.kslot)
		f := alert.Field{Key: ref.key, List: p.slots[ref.kslot].list, Missing: !ok}
		for _, v := range vals {
			f.Values = append(f.Values, string(v))
		}
		a.Fields = append(a.Fields, f)
	}
	for _, ref := range r.out.refs {
		addRef(ref)
	}
	for _, ref := range p.append {
		addRef(ref)
	}
	alert.SortFields(a.Fields)
	return a
}
