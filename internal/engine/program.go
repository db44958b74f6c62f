package engine

import (
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
)

// Eval evaluates ev against the enabled rules and returns the indices (into
// Enabled()) of the rules that match, in rule order: all of them with
// MatchAll, at most one with MatchFirst. The result is owned by st and valid
// until st is used again. Eval has no side effects on p. st must come from
// p.NewState; Eval panics otherwise.
//
// Stateful rules are not in the result: their matches are Hits (see
// Program.Hits), for the caller to decide on with their state. They are
// evaluated whatever the matching mode: MatchFirst picks the first
// matching plain rule.
func (p *Program) Eval(ev *audit.Event, st *State) []int {
	p.checkState(st)
	st.reset(ev)
	cand := p.candidates(st)
	first := false
	for i := nextRule(cand, 0); i >= 0; i = nextRule(cand, i+1) {
		r := p.eval[i]
		if first && r.plain {
			continue
		}
		if !r.cond.eval(st) {
			continue
		}
		if r.plain {
			st.matches = append(st.matches, i)
			if p.opts.Matching == MatchFirst {
				if len(p.eval) == len(p.rules) && len(p.specs) == 0 {
					break
				}
				first = true
			}
		}
		if r.spec != nil || r.feeds != nil {
			p.hit(st, r)
		}
	}
	if len(st.steps) > 0 {
		// A sequence's own match is decided before its first step is
		// recorded, so one event is never both steps.
		st.hits = append(st.hits, st.steps...)
	}
	return st.matches
}

// Alert renders the alert of enabled rule i for the event last passed to
// Eval with st. st must come from p.NewState; Alert panics otherwise.
func (p *Program) Alert(st *State, i int) *alert.Alert {
	p.checkState(st)
	return p.render(st, p.rules[i])
}

// checkState panics when st belongs to another Program: its slots would not
// line up with p's evaluators, and every result would be silently wrong.
func (p *Program) checkState(st *State) {
	if st.p != p {
		panic("engine: State used with a Program other than the one whose NewState created it")
	}
}
