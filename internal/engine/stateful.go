package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/condition"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

// Stateful rules (a rule's "vigil" key, see rules.Stateful) are compiled
// like any other, but the Program stays stateless: Eval only reports, as
// Hits, that an event matched a stateful rule (or the first step of a
// sequence) and under which key. Whoever keeps the state (package
// stateful) decides, in event order, whether a hit raises an alert, and
// then calls StatefulAlert to render it.

// Spec is a compiled stateful rule.
type Spec struct {
	Index     int             // position in Program.Specs()
	Rule      *Rule           // the stateful rule
	Kind      rules.StateKind // threshold, distinct, sequence or first_seen
	Count     int             // threshold, distinct
	Window    time.Duration   // threshold, distinct, sequence
	Learning  time.Duration   // first_seen
	After     string          // sequence: the first step's rule
	Signature string          // the rule's name and stateful parameters: state carries over a reload only to an equal signature

	by    []int // slots of the key fields
	field int   // distinct: slot of the counted field; -1 otherwise
}

// Hit is one event matching a stateful rule, or the first step of a
// sequence, as Eval reports it.
type Hit struct {
	Spec  int    // index into Program.Specs()
	Step  bool   // the first step of the sequence matched, not the stateful rule itself
	Key   string // the values of the spec's by fields, each followed by a NUL byte
	Value string // distinct: the counted field's value
	Scope string // first_seen: the event's cluster, whose learning period applies
	Time  int64  // the event's time (stageTimestamp), Unix nanoseconds
}

// Verdict is what the state decided for a Hit that raises an alert; its
// values are the rule's vigil.* output fields.
type Verdict struct {
	Count  int      // vigil.count: events (threshold) or distinct values (distinct) in the window; 2 for a sequence, 1 for first_seen
	Since  int64    // vigil.since: time of the first event counted, or of the sequence's first step; 0 = none
	Values []string // vigil.values: distinct: the values counted
}

// Specs returns the enabled stateful rules.
func (p *Program) Specs() []*Spec { return p.specs }

// Hits returns the stateful hits of the event last passed to Eval with st:
// first the enabled stateful rules that matched, in rule order, then the
// sequence first steps that matched. A by field without a value is <NA>
// in the key, as in outputs; an event without a value for a distinct's
// field gives no hit. The result is owned by st
// and valid until st is used again.
func (p *Program) Hits(st *State) []Hit {
	p.checkState(st)
	return st.hits
}

// hit records the hits of rule r, which matched.
func (p *Program) hit(st *State, r *Rule) {
	if s := r.spec; s != nil {
		if h, ok := p.hitFor(st, s, false); ok {
			st.hits = append(st.hits, h)
		}
	}
	for _, s := range r.feeds {
		if h, ok := p.hitFor(st, s, true); ok {
			st.steps = append(st.steps, h)
		}
	}
}

func (p *Program) hitFor(st *State, s *Spec, step bool) (Hit, bool) {
	key := st.key[:0]
	for _, si := range s.by {
		vals, ok := st.get(si)
		key = appendValue(key, vals, ok, p.slots[si].list) // <NA> when missing, as outputs print it
		key = append(key, 0)
	}
	st.key = key
	h := Hit{Spec: s.Index, Step: step, Key: string(key), Time: st.ev.Time}
	if s.field >= 0 && !step {
		vals, ok := st.get(s.field)
		if !ok {
			return Hit{}, false
		}
		h.Value = string(appendValue(nil, vals, true, p.slots[s.field].list))
	}
	if s.Kind == rules.FirstSeen {
		h.Scope = st.ev.Cluster
	}
	return h, true
}

// Bind makes st hold ev without evaluating it, so that StatefulAlert can
// render an alert for an event evaluated earlier (by another goroutine).
func (p *Program) Bind(ev *audit.Event, st *State) {
	p.checkState(st)
	st.reset(ev)
}

// StatefulAlert renders the alert of h's stateful rule, with v's values in
// its vigil.* fields, for the event st holds (from Eval or Bind).
func (p *Program) StatefulAlert(st *State, h Hit, v *Verdict) *alert.Alert {
	p.checkState(st)
	s := p.specs[h.Spec]
	st.verdict, st.spec = v, s
	for _, i := range p.vigilSlots {
		st.stamp[i] = st.epoch - 1
	}
	a := p.render(st, s.Rule)
	st.verdict, st.spec = nil, nil
	return a
}

// vigilFields are the output fields of stateful rules.
var vigilFields = map[string]byte{"vigil.count": 'c', "vigil.window": 'w', "vigil.since": 's', "vigil.values": 'v'}

// VigilFields returns the names and descriptions of the vigil.* output
// fields, for documentation.
func VigilFields() [][2]string {
	return [][2]string{
		{"vigil.count", "threshold: matching events in the window; distinct: distinct values; sequence: 2; first_seen: 1"},
		{"vigil.window", "the rule's window (e.g. 5m0s), or its learning period for first_seen"},
		{"vigil.since", "time of the first event counted, or of the sequence's first step (RFC 3339)"},
		{"vigil.values", "distinct: the distinct values counted (a list)"},
	}
}

// vigilValue extracts a vigil.* field from the verdict being rendered.
func (st *State) vigilValue(kind byte, out *field.Values) bool {
	v, s := st.verdict, st.spec
	if v == nil || s == nil {
		return false
	}
	add := func(b []byte) {
		start := len(out.Buf)
		out.Buf = append(out.Buf, b...)
		out.Vals = append(out.Vals, out.Buf[start:])
	}
	switch kind {
	case 'c':
		add(strconv.AppendInt(nil, int64(v.Count), 10))
	case 'w':
		w := s.Window
		if s.Kind == rules.FirstSeen {
			w = s.Learning
		}
		add([]byte(w.String()))
	case 's':
		if v.Since == 0 {
			return false
		}
		add(time.Unix(0, v.Since).UTC().AppendFormat(nil, time.RFC3339Nano))
	case 'v':
		if len(v.Values) == 0 {
			return false
		}
		for _, x := range v.Values {
			add([]byte(x))
		}
	}
	return true
}

// vigilRef binds a vigil.* output field, which only stateful rules have.
func (c *compiler) vigilRef(s string) (outRef, int, error) {
	name := takeIdent(s)
	kind, ok := vigilFields[name]
	if !ok {
		return outRef{}, 0, &unknownFieldError{name: name}
	}
	if !c.stateful {
		return outRef{}, 0, fmt.Errorf("%s is only available in the output of a stateful rule (one with a vigil key)", name)
	}
	si, ok := c.p.byKey[name]
	if !ok {
		c.p.slots = append(c.p.slots, slot{key: name, vigil: kind, list: kind == 'v', num: kind == 'c', base: -1})
		si = len(c.p.slots) - 1
		c.p.byKey[name] = si
		c.p.vigilSlots = append(c.p.vigilSlots, si)
	}
	return outRef{key: name, slot: si, kslot: si}, len(name), nil
}

// statefulSpec compiles the key fields of rule r's vigil key. Sequences
// are linked to their first step later, by linkSteps, once every rule is
// compiled.
func (c *compiler) statefulSpec(r *rules.Rule) *Spec {
	sf := r.Stateful
	s := &Spec{Kind: sf.Kind, Count: sf.Count, Window: sf.Window, Learning: sf.Learning, After: sf.After,
		Signature: r.Name + "\x00" + sf.Signature(), field: -1}
	bind := func(name string, pos int) (int, bool) {
		if strings.HasPrefix(name, "vigil.") {
			c.errorf(sfPos(sf, pos), "LOAD_ERR_VALIDATE", "vigil.%s: %s is an output field, not a field of the event", sf.Kind, name)
			return 0, false
		}
		ref, err := c.outputField(name)
		if err != nil {
			var unknown *unknownFieldError
			if errors.As(err, &unknown) {
				c.unknown++
			}
			c.errorf(sfPos(sf, pos), "LOAD_ERR_VALIDATE", "vigil.%s: %v", sf.Kind, err)
			return 0, false
		}
		return ref.slot, true
	}
	for i, name := range sf.By {
		if si, ok := bind(name, i); ok {
			s.by = append(s.by, si)
		}
	}
	if sf.Kind == rules.Distinct {
		if si, ok := bind(sf.Field, -1); ok {
			s.field = si
		}
	}
	return s
}

// sfPos returns the position of by entry i, or of the field (i < 0).
func sfPos(sf *rules.Stateful, i int) condition.Pos {
	if i < 0 {
		return sf.FieldPos
	}
	return sf.ByPos[i]
}

// linkSteps adds each sequence to the feeds of its first step, and makes a
// disabled first step evaluated (without alerting), since its matches are
// what the sequence waits for.
func (c *compiler) linkSteps() []*rules.Rule {
	var extra []*rules.Rule
	for _, s := range c.p.specs {
		if s.Kind != rules.Sequence {
			continue
		}
		var a *Rule
		for _, r := range c.p.all {
			if r.Name == s.After {
				a = r
			}
		}
		if a == nil {
			c.diags = append(c.diags, c.set.Diag(rules.SeverityError, "LOAD_ERR_VALIDATE", s.Rule.src.Stateful.AfterPos,
				fmt.Sprintf("rule %q", s.Rule.Name), fmt.Sprintf("vigil.sequence.after: rule %q did not compile", s.After)))
			continue
		}
		if a.spec != nil {
			c.diags = append(c.diags, c.set.Diag(rules.SeverityError, "LOAD_ERR_VALIDATE", s.Rule.src.Stateful.AfterPos,
				fmt.Sprintf("rule %q", s.Rule.Name), fmt.Sprintf("vigil.sequence.after: rule %q is itself stateful", s.After)))
			continue
		}
		a.feeds = append(a.feeds, s)
		if !a.Enabled && !a.step {
			a.step = true
			c.p.eval = append(c.p.eval, a)
			extra = append(extra, a.src)
		}
	}
	return extra
}

// For reports whether st was made by p's NewState.
func (st *State) For(p *Program) bool { return st.p == p }
