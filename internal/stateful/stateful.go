// Package stateful keeps the state of Vigil's stateful rules (a rule's
// "vigil" key: threshold, distinct, sequence, first_seen) and decides, one
// hit at a time and in event-log order, which hits raise an alert.
//
// The engine stays stateless: Program.Eval reports the events that match
// a stateful rule as engine.Hits, with their key already extracted, and a
// Table turns hits into verdicts. Because a Table is used by one goroutine
// in log order (the pipeline's commit step, replay's ordered writer, the
// rule tester), its decisions never depend on how the events were spread
// over workers.
//
// Time is event time: each hit carries its event's stageTimestamp, and a
// key's window is measured between its events' timestamps, never with a
// clock. Events may arrive out of order: a key keeps the times within one
// window of its newest event, so an event up to one window older than
// that is still counted where it belongs; an older one is too late to
// share a window with anything kept and is dropped (counted as late).
//
// Memory is bounded. A rule holds at most Limits.MaxKeysPerRule keys and
// all rules together Limits.MaxKeys; past either, the least recently
// updated key (of the rule, or of the rule holding the most keys) is
// evicted and counted. Keys whose newest event is a window older than the
// newest event the rule saw are dropped as they expire. A threshold key
// holds at most Count times and a distinct key at most Count values.
//
// A Table can be saved to a file and loaded back (Save, Load), tagged
// with the caller's position, so that a restarted pipeline resumes with
// the state of the position it resumes from.
package stateful

import (
	"slices"
	"sort"
	"sync/atomic"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rules"
)

// Limits bound a Table's memory.
type Limits struct {
	MaxKeysPerRule int // keys one rule may hold; 0 = DefaultMaxKeysPerRule
	MaxKeys        int // keys all rules may hold together; 0 = DefaultMaxKeys
}

// Default limits: at most a few hundred bytes per key (a threshold key
// holds up to Count times, a distinct key up to Count values).
const (
	DefaultMaxKeysPerRule = 50_000
	DefaultMaxKeys        = 500_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxKeysPerRule <= 0 {
		l.MaxKeysPerRule = DefaultMaxKeysPerRule
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	return l
}

// Table is the state of every stateful rule of a Program. It is not safe
// for concurrent use, except for Stats.
type Table struct {
	lim   Limits
	rules map[string]*ruleState // by engine.Spec.Signature
	specs []*ruleState          // by engine.Spec.Index, for prog
	prog  *engine.Program
	keys  int  // keys held by all rules
	dirty bool // changed since the last Save or Load

	evictions atomic.Uint64
	late      atomic.Uint64
	nkeys     atomic.Int64
}

// New returns an empty Table.
func New(lim Limits) *Table {
	return &Table{lim: lim.withDefaults(), rules: map[string]*ruleState{}}
}

// Stats reports the keys held, the keys evicted to stay within the limits
// and the hits dropped for being too late, since New or Load. It is safe
// to call from any goroutine.
func (t *Table) Stats() (keys int, evictions, late uint64) {
	return int(t.nkeys.Load()), t.evictions.Load(), t.late.Load()
}

// ruleState is the state of one stateful rule.
type ruleState struct {
	sig      string
	kind     rules.StateKind
	count    int
	window   int64 // nanoseconds
	learning int64 // nanoseconds
	newest   int64 // newest event time seen: the rule's watermark
	learn    map[string]int64
	keys     map[string]*entry
	lru      entry // sentinel: lru.next is the most recently updated key, lru.prev the least
}

// entry is the state of one key of one rule.
type entry struct {
	key        string
	prev, next *entry
	newest     int64            // newest event time of the key
	times      []int64          // threshold: the event times within the window, sorted
	values     map[string]int64 // distinct: value -> newest time
	mark       int64            // sequence: time of the latest first step
}

func newRuleState(s *engine.Spec) *ruleState {
	r := &ruleState{sig: s.Signature, kind: s.Kind, count: s.Count, window: int64(s.Window),
		learning: int64(s.Learning), keys: map[string]*entry{}}
	r.lru.next, r.lru.prev = &r.lru, &r.lru
	if s.Kind == rules.FirstSeen {
		r.learn = map[string]int64{}
	}
	return r
}

// sync makes the table follow p's stateful rules: state of a rule with the
// same name and parameters carries over, everything else is dropped.
func (t *Table) sync(p *engine.Program) {
	if p == t.prog {
		return
	}
	t.prog = p
	t.specs = t.specs[:0]
	keep := map[string]*ruleState{}
	for _, s := range p.Specs() {
		r := t.rules[s.Signature]
		if r == nil {
			r = newRuleState(s)
		}
		keep[s.Signature] = r
		t.specs = append(t.specs, r)
	}
	for sig, r := range t.rules {
		if keep[sig] == nil {
			t.keys -= len(r.keys)
			t.dirty = true
		}
	}
	t.rules = keep
	t.nkeys.Store(int64(t.keys))
}

// Observe applies one hit of p, evaluated in log order, and returns the
// verdict when it raises an alert, or nil.
func (t *Table) Observe(p *engine.Program, h engine.Hit) *engine.Verdict {
	t.sync(p)
	r := t.specs[h.Spec]
	t.dirty = true
	if h.Time > r.newest {
		r.newest = h.Time
	}
	t.expire(r, 2)
	var v *engine.Verdict
	switch r.kind {
	case rules.Threshold:
		v = t.threshold(r, h)
	case rules.Distinct:
		v = t.distinct(r, h)
	case rules.Sequence:
		v = t.sequence(r, h)
	case rules.FirstSeen:
		v = t.firstSeen(r, h)
	}
	t.nkeys.Store(int64(t.keys))
	return v
}

// Decide applies hits in order and calls fire for each one that raises an
// alert.
func (t *Table) Decide(p *engine.Program, hits []engine.Hit, fire func(engine.Hit, *engine.Verdict)) {
	for _, h := range hits {
		if v := t.Observe(p, h); v != nil {
			fire(h, v)
		}
	}
}

// get returns the entry of key, creating it (and evicting to make room)
// when create is set, and marks it most recently updated.
func (t *Table) get(r *ruleState, key string, create bool) *entry {
	e := r.keys[key]
	if e == nil {
		if !create {
			return nil
		}
		for len(r.keys) >= t.lim.MaxKeysPerRule {
			t.evict(r)
		}
		for t.keys >= t.lim.MaxKeys {
			t.evict(t.largest())
		}
		e = &entry{key: key}
		r.keys[key] = e
		t.keys++
	} else {
		e.unlink()
	}
	e.prev, e.next = &r.lru, r.lru.next
	r.lru.next.prev = e
	r.lru.next = e
	return e
}

func (e *entry) unlink() {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (t *Table) remove(r *ruleState, e *entry) {
	e.unlink()
	delete(r.keys, e.key)
	t.keys--
}

// evict removes r's least recently updated key.
func (t *Table) evict(r *ruleState) {
	if e := r.lru.prev; e != &r.lru {
		t.remove(r, e)
		t.evictions.Add(1)
	}
}

// largest returns the rule holding the most keys.
func (t *Table) largest() *ruleState {
	var best *ruleState
	for _, r := range t.specs {
		if best == nil || len(r.keys) > len(best.keys) {
			best = r
		}
	}
	if best == nil || len(best.keys) == 0 {
		// Keys of rules no longer running are dropped by sync; this only
		// happens with limits below one key.
		for _, r := range t.rules {
			if len(r.keys) > 0 {
				return r
			}
		}
	}
	return best
}

// expire drops up to n of r's least recently updated keys whose newest
// event is more than a window older than the rule's newest event: no new
// event can share a window with them any more.
func (t *Table) expire(r *ruleState, n int) {
	if r.kind == rules.FirstSeen {
		return
	}
	for ; n > 0; n-- {
		e := r.lru.prev
		if e == &r.lru || r.newest-e.newest <= r.window {
			return
		}
		t.remove(r, e)
	}
}

// tooLate reports whether time tm is more than a window older than e's
// newest event (and counts it).
func (t *Table) tooLate(r *ruleState, e *entry, tm int64) bool {
	if e.newest != 0 && e.newest-tm > r.window {
		t.late.Add(1)
		return true
	}
	return false
}

func (t *Table) threshold(r *ruleState, h engine.Hit) *engine.Verdict {
	e := t.get(r, h.Key, true)
	if t.tooLate(r, e, h.Time) {
		return nil
	}
	i := sort.Search(len(e.times), func(i int) bool { return e.times[i] > h.Time })
	e.times = slices.Insert(e.times, i, h.Time)
	if h.Time > e.newest {
		e.newest = h.Time
		drop := 0
		for drop < len(e.times) && e.newest-e.times[drop] > r.window {
			drop++
		}
		e.times = slices.Delete(e.times, 0, drop)
	}
	if len(e.times) < r.count {
		return nil
	}
	v := &engine.Verdict{Count: len(e.times), Since: e.times[0]}
	t.remove(r, e) // counting starts again after an alert
	return v
}

func (t *Table) distinct(r *ruleState, h engine.Hit) *engine.Verdict {
	e := t.get(r, h.Key, true)
	if t.tooLate(r, e, h.Time) {
		return nil
	}
	if e.values == nil {
		e.values = map[string]int64{}
	}
	if old, ok := e.values[h.Value]; !ok || h.Time > old {
		e.values[h.Value] = h.Time
	}
	if h.Time > e.newest {
		e.newest = h.Time
		for val, tm := range e.values {
			if e.newest-tm > r.window {
				delete(e.values, val)
			}
		}
	}
	if len(e.values) < r.count {
		return nil
	}
	v := &engine.Verdict{Count: len(e.values)}
	for val, tm := range e.values {
		v.Values = append(v.Values, val)
		if v.Since == 0 || tm < v.Since {
			v.Since = tm
		}
	}
	sort.Strings(v.Values)
	t.remove(r, e)
	return v
}

func (t *Table) sequence(r *ruleState, h engine.Hit) *engine.Verdict {
	if h.Step {
		e := t.get(r, h.Key, true)
		if h.Time > e.mark {
			e.mark = h.Time
		}
		e.newest = e.mark
		return nil
	}
	e := r.keys[h.Key]
	if e == nil || e.mark > h.Time || h.Time-e.mark > r.window {
		return nil
	}
	v := &engine.Verdict{Count: 2, Since: e.mark}
	t.remove(r, e) // one alert per first step
	return v
}

func (t *Table) firstSeen(r *ruleState, h engine.Hit) *engine.Verdict {
	start, ok := r.learn[h.Scope]
	if !ok || h.Time < start {
		start = h.Time
		r.learn[h.Scope] = start
	}
	if e := r.keys[h.Key]; e != nil {
		t.get(r, h.Key, false)
		if h.Time > e.newest {
			e.newest = h.Time
		}
		return nil
	}
	e := t.get(r, h.Key, true)
	e.newest = h.Time
	if h.Time-start < r.learning {
		return nil // still learning
	}
	return &engine.Verdict{Count: 1}
}

// Eval evaluates ev with p and the table, for callers that evaluate every
// event in order on one goroutine (the rule tester, tools): fn receives
// the alerts of the plain rules, in rule order, then those of the stateful
// rules that fire.
func (t *Table) Eval(p *engine.Program, st *engine.State, ev *audit.Event, fn func(*alert.Alert)) {
	for _, i := range p.Eval(ev, st) {
		fn(p.Alert(st, i))
	}
	for _, h := range p.Hits(st) {
		if v := t.Observe(p, h); v != nil {
			fn(p.StatefulAlert(st, h, v))
		}
	}
}
