package engine

import (
	"bytes"
	"regexp"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/field"
)

// State is the per-goroutine scratch space of a Program: the memoized field
// values of the event being evaluated. A State is reused across events so
// that evaluation allocates nothing. It must not be shared between
// goroutines.
type State struct {
	p       *Program
	ev      *audit.Event
	epoch   uint32         // bumped per event; a slot is fresh when stamp[i] == epoch
	stamp   []uint32       // per slot: epoch of the cached value
	ok      []bool         // per slot: whether the field has a value
	vals    []field.Values // per slot: the values
	matches []int          // indices into Program.rules of the rules that matched
	cand    []uint64       // candidate rules for the current event (bitset)
}

// NewState returns a State for p.
func (p *Program) NewState() *State {
	n := len(p.slots)
	return &State{p: p, stamp: make([]uint32, n), ok: make([]bool, n), vals: make([]field.Values, n)}
}

// reset prepares st for a new event.
func (st *State) reset(ev *audit.Event) {
	st.ev = ev
	st.epoch++
	if st.epoch == 0 { // wrapped: clear stamps so no stale slot looks fresh
		clear(st.stamp)
		st.epoch = 1
	}
	st.matches = st.matches[:0]
}

// get returns the values of slot i for the current event, extracting them on
// first use.
func (st *State) get(i int) ([][]byte, bool) {
	if st.stamp[i] != st.epoch {
		st.stamp[i] = st.epoch
		v := &st.vals[i]
		v.Reset()
		st.ok[i] = st.p.slots[i].extract(st.ev, v, st)
	}
	return st.vals[i].Vals, st.ok[i]
}

// evaluator is a compiled condition node.
type evaluator interface {
	eval(st *State) bool
}

type andEval []evaluator

func (a andEval) eval(st *State) bool {
	for _, e := range a {
		if !e.eval(st) {
			return false
		}
	}
	return true
}

type orEval []evaluator

func (o orEval) eval(st *State) bool {
	for _, e := range o {
		if e.eval(st) {
			return true
		}
	}
	return false
}

type notEval struct{ x evaluator }

func (n notEval) eval(st *State) bool { return !n.x.eval(st) }

type constEval bool

func (c constEval) eval(*State) bool { return bool(c) }

// existsEval: the field has at least one value.
type existsEval struct{ slot int }

func (e existsEval) eval(st *State) bool {
	_, ok := st.get(e.slot)
	return ok
}

// cmpOp identifies a binary comparison on single values.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opIContains
	opStartsWith
	opEndsWith
	opGlob
	opIGlob
)

// cmpEval compares the single value of a field with a constant.
type cmpEval struct {
	slot int
	op   cmpOp
	val  []byte
	num  bool    // numeric comparison (len())
	nval float64 // the constant as a number, when num
	glob *globPattern
}

func (c *cmpEval) eval(st *State) bool {
	vals, ok := st.get(c.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	return compare(c.op, vals[0], c.val, c.num, c.nval, c.glob)
}

func compare(op cmpOp, v, k []byte, num bool, nk float64, g *globPattern) bool {
	if num {
		nv, ok := parseNum(v)
		if !ok {
			return false
		}
		switch op {
		case opEq:
			return nv == nk
		case opNe:
			return nv != nk
		case opLt:
			return nv < nk
		case opLe:
			return nv <= nk
		case opGt:
			return nv > nk
		case opGe:
			return nv >= nk
		}
	}
	switch op {
	case opEq:
		return bytes.Equal(v, k)
	case opNe:
		return !bytes.Equal(v, k)
	case opLt:
		return bytes.Compare(v, k) < 0
	case opLe:
		return bytes.Compare(v, k) <= 0
	case opGt:
		return bytes.Compare(v, k) > 0
	case opGe:
		return bytes.Compare(v, k) >= 0
	case opContains:
		return bytes.Contains(v, k)
	case opIContains:
		return containsFold(v, k)
	case opStartsWith:
		return bytes.HasPrefix(v, k)
	case opEndsWith:
		return bytes.HasSuffix(v, k)
	case opGlob, opIGlob:
		return g.match(v)
	}
	return false
}

// fieldCmpEval compares a field with another field of the same event: val().
type fieldCmpEval struct {
	slot, other int
	op          cmpOp
	num         bool
	glob        *globPattern
}

func (c *fieldCmpEval) eval(st *State) bool {
	a, ok := st.get(c.slot)
	if !ok || len(a) == 0 {
		return false
	}
	b, ok := st.get(c.other)
	if !ok || len(b) == 0 {
		return false
	}
	nk := 0.0
	if c.num {
		var ok bool
		if nk, ok = parseNum(b[0]); !ok {
			return false
		}
	}
	g := c.glob
	if c.op == opGlob || c.op == opIGlob {
		g = compileGlob(string(b[0]), c.op == opIGlob)
	}
	return compare(c.op, a[0], b[0], c.num, nk, g)
}

// regexEval is a full-match regular expression.
type regexEval struct {
	slot int
	re   *regexp.Regexp
}

func (r *regexEval) eval(st *State) bool {
	vals, ok := st.get(r.slot)
	return ok && len(vals) > 0 && r.re.Match(vals[0])
}

// setEval is in / intersects against a constant set. For a single-valued
// field both mean membership. For a list field, in is a subset test and
// intersects asks for at least one common element.
type setEval struct {
	slot       int
	set        *valueSet
	list       bool
	intersects bool
}

func (s *setEval) eval(st *State) bool {
	vals, ok := st.get(s.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	if !s.list {
		return s.set.has(vals[0])
	}
	if s.intersects {
		for _, v := range vals {
			if s.set.has(v) {
				return true
			}
		}
		return false
	}
	for _, v := range vals {
		if !s.set.has(v) {
			return false
		}
	}
	return true
}

// pmatchEval: the value is one of the paths or lies beneath one of them.
type pmatchEval struct {
	slot  int
	paths []pathPattern
}

func (p *pmatchEval) eval(st *State) bool {
	vals, ok := st.get(p.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		for i := range p.paths {
			if p.paths[i].match(v) {
				return true
			}
		}
	}
	return false
}

// modEval applies a string operator to each operand of a list: oneof (exactly
// one matches), anyof (at least one) or allof (all).
type modEval struct {
	slot  int
	op    cmpOp
	items []*cmpEval
	mode  byte // '1' oneof, 'a' anyof, 'A' allof
}

func (m *modEval) eval(st *State) bool {
	vals, ok := st.get(m.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	n := 0
	for _, it := range m.items {
		if compare(it.op, vals[0], it.val, it.num, it.nval, it.glob) {
			n++
		}
	}
	switch m.mode {
	case '1':
		return n == 1
	case 'a':
		return n > 0
	default:
		return n == len(m.items)
	}
}

// valueSet holds the constants of an in/intersects list. Small sets are
// scanned; larger ones use a map (indexing a map with string(b) does not
// allocate).
type valueSet struct {
	small [][]byte
	m     map[string]struct{}
}

func newValueSet(items []string) *valueSet {
	s := &valueSet{}
	if len(items) > 8 {
		s.m = make(map[string]struct{}, len(items))
		for _, it := range items {
			s.m[it] = struct{}{}
		}
		return s
	}
	for _, it := range items {
		s.small = append(s.small, []byte(it))
	}
	return s
}

func (s *valueSet) has(v []byte) bool {
	if s.m != nil {
		_, ok := s.m[string(v)]
		return ok
	}
	for _, it := range s.small {
		if bytes.Equal(it, v) {
			return true
		}
	}
	return false
}
