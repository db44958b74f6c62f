package engine

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strconv"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/field"
)

// State is the per-goroutine scratch space of a Program: the memoized field
// values of the event being evaluated. A State is reused across events so
// that evaluation allocates nothing. It must not be shared between
// goroutines, and it belongs to the Program that created it: its slots are
// that Program's, so using it with another Program (for example the one
// that replaced it on reload) is a programmer error that Eval and Alert
// report with a panic.
type State struct {
	p       *Program // the Program that created the State
	ev      *audit.Event
	epoch   uint32         // bumped per event; a slot is fresh when stamp[i] == epoch
	stamp   []uint32       // per slot: epoch of the cached value
	ok      []bool         // per slot: whether the field has a value
	vals    []field.Values // per slot: the values
	matches []int          // indices into Program.rules of the rules that matched
	cand    []uint64       // candidate rules for the current event (bitset)
	hits    []Hit          // stateful hits of the current event
	steps   []Hit          // sequence first-step hits, appended to hits at the end of Eval
	key     []byte         // scratch for hit keys
	verdict *Verdict       // being rendered by StatefulAlert
	spec    *Spec          // being rendered by StatefulAlert
}

// NewState returns a State for p. It may be used only with p: after a
// reload, make a new State for the new Program.
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
	st.hits = st.hits[:0]
	st.steps = st.steps[:0]
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

// extract computes slot s's values for the current event.
func (s *slot) extract(ev *audit.Event, out *field.Values, st *State) bool {
	if s.base < 0 {
		if s.vigil != 0 {
			return st.vigilValue(s.vigil, out)
		}
		return s.ext(ev, out)
	}
	vals, ok := st.get(s.base)
	if !ok {
		return false
	}
	switch s.tf {
	case "len":
		n := len(vals)
		if !st.p.slots[s.base].list && len(vals) > 0 {
			n = len(vals[0])
		}
		start := len(out.Buf)
		out.Buf = strconv.AppendInt(out.Buf, int64(n), 10)
		out.Vals = append(out.Vals, out.Buf[start:])
		return true
	}
	for _, v := range vals {
		start := len(out.Buf)
		switch s.tf {
		case "tolower":
			for _, c := range v {
				out.Buf = append(out.Buf, lower(c))
			}
		case "toupper":
			for _, c := range v {
				if c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				}
				out.Buf = append(out.Buf, c)
			}
		case "basename":
			i := len(v) - 1
			for i >= 0 && v[i] != '/' {
				i--
			}
			out.Buf = append(out.Buf, v[i+1:]...)
		case "b64":
			n := base64.StdEncoding.DecodedLen(len(v))
			out.Buf = append(out.Buf, make([]byte, n)...)
			m, err := base64.StdEncoding.Decode(out.Buf[start:], v)
			if err != nil {
				out.Buf = out.Buf[:start]
				return false
			}
			out.Buf = out.Buf[:start+m]
		}
		out.Vals = append(out.Vals, out.Buf[start:])
	}
	return len(out.Vals) > 0
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
	val  []byte // the constant (the pattern for glob and iglob)
	num  bool   // numeric comparison (a Number field or len())
	nval number // the constant as a number, when num
}

func (c *cmpEval) eval(st *State) bool {
	vals, ok := st.get(c.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	if c.num {
		return c.test(vals[0])
	}
	return compareBytes(c.op, vals[0], c.val)
}

// test applies the comparison to the value v.
func (c *cmpEval) test(v []byte) bool {
	if c.num {
		nv, ok := parseNumber(v)
		return ok && order(c.op, cmpNumber(nv, c.nval))
	}
	return compareBytes(c.op, v, c.val)
}

// order applies an equality or ordering operator to the result of a
// three-way comparison.
func order(op cmpOp, c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

// compareBytes applies a string operator: the ordering operators compare
// lexicographically, as strcmp does.
func compareBytes(op cmpOp, v, k []byte) bool {
	switch op {
	case opEq:
		return bytes.Equal(v, k)
	case opNe:
		return !bytes.Equal(v, k)
	case opLt, opLe, opGt, opGe:
		return order(op, bytes.Compare(v, k))
	case opContains:
		return bytes.Contains(v, k)
	case opIContains:
		return containsFold(v, k)
	case opStartsWith:
		return bytes.HasPrefix(v, k)
	case opEndsWith:
		return bytes.HasSuffix(v, k)
	case opGlob:
		return globMatch(k, v, false)
	case opIGlob:
		return globMatch(k, v, true)
	}
	return false
}

// fieldCmpEval compares a field with another field of the same event: val().
// A glob pattern taken from the other field is matched in place, so nothing
// is compiled or allocated per event.
type fieldCmpEval struct {
	slot, other int
	op          cmpOp
	num         bool // both sides numeric
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
	if c.num {
		na, ok := parseNumber(a[0])
		if !ok {
			return false
		}
		nb, ok := parseNumber(b[0])
		return ok && order(c.op, cmpNumber(na, nb))
	}
	return compareBytes(c.op, a[0], b[0])
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
// The compiler accepts pmatch only on single-valued fields (list fields take
// only exists, in and intersects), so just the first value is tested.
type pmatchEval struct {
	slot  int
	paths []pathPattern
}

func (p *pmatchEval) eval(st *State) bool {
	vals, ok := st.get(p.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	for i := range p.paths {
		if p.paths[i].match(vals[0]) {
			return true
		}
	}
	return false
}

// numSetEval is in / intersects on a numeric value: numeric equality with
// one of the constants.
type numSetEval struct {
	slot int
	nums []number
}

func (s *numSetEval) eval(st *State) bool {
	vals, ok := st.get(s.slot)
	if !ok || len(vals) == 0 {
		return false
	}
	v, ok := parseNumber(vals[0])
	if !ok {
		return false
	}
	for _, k := range s.nums {
		if cmpNumber(v, k) == 0 {
			return true
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
		if it.test(vals[0]) {
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
