package engine

import (
	"math/bits"
	"sort"

	"github.com/vigilsec/vigil/internal/condition"
)

// The rule index narrows, per event, which rules can match at all.
//
// At compile time each rule's condition is analysed for necessary
// conditions of the form "single-valued field F has one of the values S":
// `F = v` and `F in (...)` give such a set, an `and` intersects its
// children's sets, and an `or` unites them when every child constrains F.
// Anything under a `not` constrains nothing. So "rule matches" implies
// "F exists and F ∈ S". The fields that constrain the most rules (in the
// upstream ruleset: the audit stage, ka.verb and ka.target.resource) become
// index keys. For each event, Eval extracts those fields once (they are
// memoised, and the rules need them anyway) and intersects per-value rule
// bitsets, then evaluates only the remaining candidates, in rule order.

// maxIndexKeys bounds how many fields are indexed.
const maxIndexKeys = 4

// constraints maps a slot to the values it must have, or is nil when the
// node constrains nothing.
type constraints map[int]map[string]bool

// necessary computes the necessary value constraints of n.
func (c *compiler) necessary(n condition.Node) constraints {
	switch n := n.(type) {
	case *condition.BinaryNode:
		if n.Op == condition.And {
			out := constraints{}
			for _, k := range n.Children {
				for s, vals := range c.necessary(k) {
					if cur, ok := out[s]; ok {
						out[s] = intersect(cur, vals)
					} else {
						out[s] = vals
					}
				}
			}
			return out
		}
		var out constraints
		for i, k := range n.Children {
			kc := c.necessary(k)
			if i == 0 {
				out = kc
				continue
			}
			for s, vals := range out {
				if kv, ok := kc[s]; ok {
					out[s] = union(vals, kv)
				} else {
					delete(out, s)
				}
			}
		}
		return out
	case *condition.CheckNode:
		f, ok := n.Left.(*condition.FieldNode)
		if !ok {
			return nil
		}
		si, ok := c.p.byKey[f.String()]
		if !ok || c.p.slots[si].list || c.p.slots[si].num {
			return nil
		}
		vals := map[string]bool{}
		switch n.Op {
		case "=", "==":
			v, ok := n.Right.(*condition.ValueNode)
			if !ok {
				return nil
			}
			vals[v.Text] = true
		case "in", "intersects":
			l, ok := n.Right.(*condition.ListNode)
			if !ok {
				return nil
			}
			for _, it := range l.Items {
				vals[it.Text] = true
			}
		default:
			return nil
		}
		return constraints{si: vals}
	}
	return nil
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for v := range a {
		if b[v] {
			out[v] = true
		}
	}
	return out
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for v := range a {
		out[v] = true
	}
	for v := range b {
		out[v] = true
	}
	return out
}

// ruleIndex is one indexed field.
type ruleIndex struct {
	slot    int
	byValue map[string][]uint64 // value -> rules constrained to allow it
	any     []uint64            // rules this field does not constrain
}

// buildIndex chooses the index keys and fills the bitsets. cons[i] holds
// the constraints of enabled rule i.
func (p *Program) buildIndex(cons []constraints) {
	words := (len(p.eval) + 63) / 64
	p.all1 = make([]uint64, words)
	for i := range p.eval {
		p.all1[i/64] |= 1 << (i % 64)
	}
	count := map[int]int{}
	for _, rc := range cons {
		for s := range rc {
			count[s]++
		}
	}
	var keys []int
	for s, n := range count {
		if n >= 2 {
			keys = append(keys, s)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if count[keys[i]] != count[keys[j]] {
			return count[keys[i]] > count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > maxIndexKeys {
		keys = keys[:maxIndexKeys]
	}
	for _, s := range keys {
		ix := ruleIndex{slot: s, byValue: map[string][]uint64{}, any: make([]uint64, words)}
		for i, rc := range cons {
			vals, ok := rc[s]
			if !ok {
				ix.any[i/64] |= 1 << (i % 64)
				continue
			}
			for v := range vals {
				b := ix.byValue[v]
				if b == nil {
					b = make([]uint64, words)
					ix.byValue[v] = b
				}
				b[i/64] |= 1 << (i % 64)
			}
		}
		p.index = append(p.index, ix)
	}
}

// candidates fills st.cand with the rules that can match the current event.
func (p *Program) candidates(st *State) []uint64 {
	cand := append(st.cand[:0], p.all1...)
	for k := range p.index {
		ix := &p.index[k]
		var allowed []uint64
		if vals, ok := st.get(ix.slot); ok && len(vals) > 0 {
			allowed = ix.byValue[string(vals[0])]
		}
		for w := range cand {
			m := ix.any[w]
			if allowed != nil {
				m |= allowed[w]
			}
			cand[w] &= m
		}
	}
	st.cand = cand
	return cand
}

// nextRule returns the lowest rule index >= i set in cand, or -1.
func nextRule(cand []uint64, i int) int {
	for w := i / 64; w < len(cand); w++ {
		word := cand[w]
		if w == i/64 {
			word &= ^uint64(0) << (i % 64)
		}
		if word != 0 {
			return w*64 + bits.TrailingZeros64(word)
		}
	}
	return -1
}
