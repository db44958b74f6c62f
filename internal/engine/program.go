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
func (p *Program) Eval(ev *audit.Event, st *State) []int {
	p.checkState(st)
	st.reset(ev)
	cand := p.candidates(st)
	for i := nextRule(cand, 0); i >= 0; i = nextRule(cand, i+1) {
		if p.rules[i].cond.eval(st) {
			st.matches = append(st.matches, i)
			if p.opts.Matching == MatchFirst {
				break
			}
		}
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
