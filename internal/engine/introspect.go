package engine

import (
	"slices"

	"github.com/vigilsec/vigil/internal/condition"
	"github.com/vigilsec/vigil/internal/rules"
)

// This file lets tools reason about what a rule needs from an event
// without evaluating it: 'vigil rules coverage' asks which fields a rule
// reads, which of them must have a value for the rule to match, and which
// values a field such as ka.verb or ka.target.resource can have when it
// matches. The analysis is static and conservative: "unconstrained" means
// only that the condition does not say, never that every value matches.

// Condition returns the rule's condition as loaded: lists substituted,
// macros expanded and exceptions applied as "and not (...)".
func (r *Rule) Condition() condition.Node { return r.src.Condition }

// Stateful returns the rule's "vigil" key, or nil for a plain rule.
func (r *Rule) Stateful() *rules.Stateful { return r.src.Stateful }

// ValueSet is what a condition says about the values of one single-valued
// field when it holds. With Any, nothing. Otherwise, when the field has a
// value, it is one of Values, or with Except it is none of them. A missing
// field is not covered: whether the condition needs a value is
// FieldRefs.Required.
type ValueSet struct {
	Any    bool     // the condition does not constrain the field's value
	Except bool     // Values are the excluded values, not the allowed ones
	Values []string // sorted, without duplicates
}

// Allows reports whether v is a possible value.
func (s ValueSet) Allows(v string) bool {
	if s.Any {
		return true
	}
	_, found := slices.BinarySearch(s.Values, v)
	return found != s.Except
}

// FieldRefs is the static analysis of a condition's field references.
type FieldRefs struct {
	// Fields holds every field reference, as canonical text with its
	// argument ("ka.verb", "jevt.value[/stage]"), once each, in order of
	// first use; a transformer's operand counts as a reference. Fields
	// only negated (exceptions, "not ... exists") are included.
	Fields []string
	// Required holds the references the condition cannot hold without:
	// a comparison that must be true for the condition to hold is false
	// when its field has no value (Falco's semantics, != included).
	Required map[string]bool
	// Constraints holds, per single-valued field reference compared
	// with constants (=, !=, in, and their negations), the values it can
	// have when the condition holds. Fields not in the map are
	// unconstrained.
	Constraints map[string]ValueSet

	cond condition.Node // for Needs
}

// Needs reports whether the condition cannot hold unless at least one
// reference for which pred is true has a value: a group of fields read
// together, say every field of the request body, is needed even when no
// single one of them is ("a or b" needs one of a and b).
func (f FieldRefs) Needs(pred func(ref string) bool) bool {
	return needs(f.cond, false, pred)
}

func needs(n condition.Node, neg bool, pred func(string) bool) bool {
	switch n := n.(type) {
	case *condition.NotNode:
		return needs(n.X, !neg, pred)
	case *condition.BinaryNode:
		conj := (n.Op == condition.And) != neg
		for _, k := range n.Children {
			if needs(k, neg, pred) == conj {
				return conj
			}
		}
		return !conj
	case *condition.CheckNode:
		if neg {
			return false
		}
		switch l := n.Left.(type) {
		case *condition.FieldNode:
			if pred(l.String()) {
				return true
			}
		case *condition.TransformNode:
			if f, ok := l.X.(*condition.FieldNode); ok && l.Name != "len" && pred(f.String()) {
				return true
			}
		}
		var right condition.Operand
		switch r := n.Right.(type) {
		case *condition.FieldValueNode:
			right = r.X
		case condition.Operand:
			right = r
		}
		f, ok := right.(*condition.FieldNode)
		return ok && pred(f.String())
	}
	return false
}

// Values returns the constraint on field ref: ValueSet{Any: true} when
// there is none.
func (f FieldRefs) Values(ref string) ValueSet {
	if s, ok := f.Constraints[ref]; ok {
		return s
	}
	return ValueSet{Any: true}
}

// Refs analyses the rule's condition (see FieldRefs).
func (r *Rule) Refs() FieldRefs { return AnalyzeCondition(r.src.Condition) }

// AnalyzeCondition analyses a condition's field references. It works in
// negation normal form: "not (a and b)" is analysed as "not a or not b".
func AnalyzeCondition(n condition.Node) FieldRefs {
	a := &analysis{seen: map[string]bool{}}
	req, cons := a.walk(n, false)
	out := FieldRefs{Fields: a.fields, Required: map[string]bool{}, Constraints: map[string]ValueSet{}, cond: n}
	for k := range req {
		out.Required[k] = true
	}
	for k, v := range cons {
		out.Constraints[k] = v.valueSet()
	}
	return out
}

type analysis struct {
	fields []string        // every reference, in order of first use
	seen   map[string]bool // fields' members
}

func (a *analysis) ref(o condition.Operand) {
	switch o := o.(type) {
	case *condition.FieldNode:
		if k := o.String(); !a.seen[k] {
			a.seen[k] = true
			a.fields = append(a.fields, k)
		}
	case *condition.TransformNode:
		a.ref(o.X)
	}
}

// vset is a ValueSet under construction: a set of allowed values, or of
// excluded ones.
type vset struct {
	except bool
	vals   map[string]bool
}

func (s vset) valueSet() ValueSet {
	out := ValueSet{Except: s.except, Values: make([]string, 0, len(s.vals))}
	for v := range s.vals {
		out.Values = append(out.Values, v)
	}
	slices.Sort(out.Values)
	return out
}

// and is the set of values both s and t allow.
func (s vset) and(t vset) vset {
	out := vset{vals: map[string]bool{}}
	switch {
	case !s.except && !t.except:
		for v := range s.vals {
			if t.vals[v] {
				out.vals[v] = true
			}
		}
	case s.except && t.except:
		out.except = true
		for v := range s.vals {
			out.vals[v] = true
		}
		for v := range t.vals {
			out.vals[v] = true
		}
	default:
		only, excl := s, t
		if s.except {
			only, excl = t, s
		}
		for v := range only.vals {
			if !excl.vals[v] {
				out.vals[v] = true
			}
		}
	}
	return out
}

// or is the set of values either s or t allows.
func (s vset) or(t vset) vset {
	out := vset{vals: map[string]bool{}}
	switch {
	case !s.except && !t.except:
		for v := range s.vals {
			out.vals[v] = true
		}
		for v := range t.vals {
			out.vals[v] = true
		}
	case s.except && t.except:
		out.except = true
		for v := range s.vals {
			if t.vals[v] {
				out.vals[v] = true
			}
		}
	default:
		only, excl := s, t
		if s.except {
			only, excl = t, s
		}
		out.except = true
		for v := range excl.vals {
			if !only.vals[v] {
				out.vals[v] = true
			}
		}
	}
	return out
}

// walk returns the references n requires and its value constraints, for n
// itself or, with neg, for "not n".
func (a *analysis) walk(n condition.Node, neg bool) (map[string]bool, map[string]vset) {
	switch n := n.(type) {
	case *condition.NotNode:
		return a.walk(n.X, !neg)
	case *condition.BinaryNode:
		// and, or its negation "or of negations", needs what any child
		// needs; or needs only what every child needs.
		conj := (n.Op == condition.And) != neg
		var req map[string]bool
		var cons map[string]vset
		for i, k := range n.Children {
			kr, kc := a.walk(k, neg)
			if i == 0 {
				req, cons = kr, kc
				continue
			}
			if conj {
				for f := range kr {
					req[f] = true
				}
				for f, s := range kc {
					if cur, ok := cons[f]; ok {
						cons[f] = cur.and(s)
					} else {
						cons[f] = s
					}
				}
				continue
			}
			for f := range req {
				if !kr[f] {
					delete(req, f)
				}
			}
			for f, s := range cons {
				if t, ok := kc[f]; ok {
					cons[f] = s.or(t)
				} else {
					delete(cons, f)
				}
			}
		}
		return req, cons
	case *condition.CheckNode:
		return a.check(n, neg)
	}
	return map[string]bool{}, map[string]vset{}
}

func (a *analysis) check(n *condition.CheckNode, neg bool) (map[string]bool, map[string]vset) {
	req, cons := map[string]bool{}, map[string]vset{}
	a.ref(n.Left)
	var right condition.Operand
	switch r := n.Right.(type) {
	case *condition.FieldValueNode:
		right = r.X
	case condition.Operand:
		right = r
	}
	if right != nil {
		a.ref(right)
	}
	if neg {
		// A comparison is false when its field has no value, so its
		// negation holds then: it requires nothing. What it excludes is
		// recorded for = and in ("not ka.verb in (get, list)").
		if f, ok := n.Left.(*condition.FieldNode); ok {
			if vals, ok := constValues(n); ok && (n.Op == "=" || n.Op == "==" || n.Op == "in") {
				cons[f.String()] = vset{except: true, vals: vals}
			} else if ok && n.Op == "!=" {
				cons[f.String()] = vset{vals: vals}
			}
		}
		return req, cons
	}
	switch l := n.Left.(type) {
	case *condition.FieldNode:
		req[l.String()] = true
		if vals, ok := constValues(n); ok {
			switch n.Op {
			case "=", "==", "in":
				cons[l.String()] = vset{vals: vals}
			case "!=":
				cons[l.String()] = vset{except: true, vals: vals}
			}
		}
	case *condition.TransformNode:
		// len() of a missing field may still compare true; the other
		// transformers of a missing field have no value.
		if l.Name != "len" {
			if f, ok := l.X.(*condition.FieldNode); ok {
				req[f.String()] = true
			}
		}
	}
	if f, ok := right.(*condition.FieldNode); ok {
		req[f.String()] = true
	}
	return req, cons
}

// constValues returns the constants n compares its field with, for the
// operators whose constants are values of the field: =, ==, != and in.
// intersects is left out: its field is a list, and a constraint on one of
// its values says nothing about the others.
func constValues(n *condition.CheckNode) (map[string]bool, bool) {
	vals := map[string]bool{}
	switch n.Op {
	case "=", "==", "!=":
		v, ok := n.Right.(*condition.ValueNode)
		if !ok {
			return nil, false
		}
		vals[v.Text] = true
	case "in":
		l, ok := n.Right.(*condition.ListNode)
		if !ok {
			return nil, false
		}
		for _, it := range l.Items {
			vals[it.Text] = true
		}
	default:
		return nil, false
	}
	return vals, true
}
