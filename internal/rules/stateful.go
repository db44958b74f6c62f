package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/condition"
	"go.yaml.in/yaml/v3"
)

// StateKind is the kind of a stateful rule (the key under "vigil:").
type StateKind int

// Stateful rule kinds.
const (
	Threshold StateKind = iota + 1 // at least Count matching events per key within Window
	Distinct                       // at least Count distinct values of Field per key within Window
	Sequence                       // rule After matched, then this rule, for the same key within Window
	FirstSeen                      // a key never seen before, once the Learning period is over
)

var stateKinds = []string{"threshold", "distinct", "sequence", "first_seen"}

// String returns the kind's key in the rules file, e.g. "threshold".
func (k StateKind) String() string {
	if k >= Threshold && k <= FirstSeen {
		return stateKinds[k-1]
	}
	return fmt.Sprintf("StateKind(%d)", int(k))
}

// Limits of the stateful keys, so that one rule cannot ask for unbounded
// memory per key or state that never expires.
const (
	MaxStateCount    = 10000                // threshold and distinct count
	MaxStateWindow   = 7 * 24 * time.Hour   // threshold, distinct and sequence window
	MaxStateLearning = 365 * 24 * time.Hour // first_seen learning period
	MaxStateBy       = 8                    // fields in by
)

// Stateful is the "vigil:" key of a rule: Vigil's extension that makes a
// rule alert on a pattern of events rather than on each one. The rule's
// condition still selects the events; the stateful part decides which of
// them raise an alert. Falco does not know the key: it warns "Unknown key
// 'vigil'. The key will be ignored." and runs the rule as a plain one.
type Stateful struct {
	Kind     StateKind
	Count    int           // threshold, distinct: alert when the count reaches this
	Window   time.Duration // threshold, distinct, sequence: on event time
	Learning time.Duration // first_seen: how long, from the first event of a cluster, keys are only learnt
	By       []string      // fields whose values form the key, e.g. ka.user.name
	Field    string        // distinct: the field whose distinct values are counted
	After    string        // sequence: the rule that must match first

	Pos      condition.Pos   // the "vigil" key; Set.Position maps it back
	ByPos    []condition.Pos // each By entry
	FieldPos condition.Pos   // Field
	AfterPos condition.Pos   // After
}

// Signature is a canonical text of the stateful parameters. State kept for
// a rule is only reused by a rule of the same name and signature: a changed
// window, key or count starts afresh.
func (s *Stateful) Signature() string {
	var b strings.Builder
	b.WriteString(s.Kind.String())
	fmt.Fprintf(&b, " count=%d window=%s learning=%s by=%s", s.Count, s.Window, s.Learning, strings.Join(s.By, ","))
	if s.Field != "" {
		b.WriteString(" field=" + s.Field)
	}
	if s.After != "" {
		b.WriteString(" after=" + strconv.Quote(s.After))
	}
	return b.String()
}

// statefulInfo is a Stateful as read, with source locations.
type statefulInfo struct {
	s                     Stateful
	pos, fieldPos, aftPos loc
	byPos                 []loc
	afterNode             *yaml.Node
}

// readStateful reads the "vigil" key of a rule definition, or returns nil
// when there is none. Unlike Falco's own keys, the key is checked strictly:
// anything unknown in it is an error.
func (ld *loader) readStateful(c *itemCheck, m *mapping) *statefulInfo {
	v, key, ok := m.get("vigil")
	if !ok {
		return nil
	}
	si := &statefulInfo{pos: nodeLoc(ld.f, key)}
	if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
		c.errAt(v, CodeYAMLValidate, "vigil: expected a mapping with one of threshold, distinct, sequence, first_seen")
		return nil
	}
	vm := ld.newMapping(v)
	vc := c.sub(v)
	for _, i := range vm.dups {
		vc.errAt(vm.keys[i], CodeYAMLValidate, fmt.Sprintf("duplicate key '%s'", vm.keys[i].Value))
	}
	var kindKey, body *yaml.Node
	for i, k := range vm.keys {
		kind := 0
		for j, name := range stateKinds {
			if k.Kind == yaml.ScalarNode && k.Value == name {
				kind = j + 1
			}
		}
		if kind == 0 {
			vc.errAt(k, CodeYAMLValidate, fmt.Sprintf("vigil: unknown key '%s': expected one of threshold, distinct, sequence, first_seen", k.Value))
			continue
		}
		if kindKey != nil {
			vc.errAt(k, CodeYAMLValidate, fmt.Sprintf("vigil: '%s' and '%s' cannot be combined: a rule has one stateful kind", kindKey.Value, k.Value))
			continue
		}
		kindKey, body = k, ld.deref(vm.vals[i], c.item)
		si.s.Kind = StateKind(kind)
	}
	if kindKey == nil || c.failed() {
		return nil
	}
	kind := si.s.Kind
	if body.Kind != yaml.MappingNode {
		vc.errAt(body, CodeYAMLValidate, fmt.Sprintf("vigil.%s: expected a mapping", kind))
		return nil
	}
	bm := ld.newMapping(body)
	bc := c.sub(kindKey)
	for _, i := range bm.dups {
		bc.errAt(bm.keys[i], CodeYAMLValidate, fmt.Sprintf("duplicate key '%s'", bm.keys[i].Value))
	}
	var allowed []string
	switch kind {
	case Threshold:
		allowed = []string{"count", "window", "by"}
	case Distinct:
		allowed = []string{"count", "window", "by", "field"}
	case Sequence:
		allowed = []string{"window", "by", "after"}
	case FirstSeen:
		allowed = []string{"by", "learning"}
	}
	for _, k := range bm.keys {
		if k.Kind != yaml.ScalarNode || !contains(allowed, k.Value) {
			bc.errAt(k, CodeYAMLValidate, fmt.Sprintf("vigil.%s: unknown key '%s': expected %s", kind, k.Value, strings.Join(allowed, ", ")))
		}
	}
	name := "vigil." + kind.String()
	required := func(key string) *yaml.Node {
		if !bm.has(key) {
			bc.errAt(kindKey, CodeYAMLValidate, fmt.Sprintf("%s: missing '%s'", name, key))
			return nil
		}
		return bc.str(bm, key, true)
	}
	if contains(allowed, "count") {
		if n := required("count"); n != nil {
			cnt, err := strconv.Atoi(n.Value)
			if err != nil || cnt < 1 || cnt > MaxStateCount {
				bc.errAt(n, CodeYAMLValidate, fmt.Sprintf("%s.count: %q is not a whole number from 1 to %d", name, n.Value, MaxStateCount))
			}
			si.s.Count = cnt
		}
	}
	duration := func(key string, limit time.Duration, zero bool) time.Duration {
		n := required(key)
		if n == nil {
			return 0
		}
		d, err := time.ParseDuration(n.Value)
		switch {
		case err != nil:
			bc.errAt(n, CodeYAMLValidate, fmt.Sprintf("%s.%s: invalid duration %q: expected a number and a unit, such as 90s, 5m or 24h", name, key, n.Value))
		case d < 0 || (d == 0 && !zero):
			bc.errAt(n, CodeYAMLValidate, fmt.Sprintf("%s.%s: the duration must be positive, not %s", name, key, n.Value))
		case d > limit:
			bc.errAt(n, CodeYAMLValidate, fmt.Sprintf("%s.%s: %s is longer than the limit of %s", name, key, n.Value, limit))
		}
		return d
	}
	if contains(allowed, "window") {
		si.s.Window = duration("window", MaxStateWindow, false)
	}
	if contains(allowed, "learning") {
		si.s.Learning = duration("learning", MaxStateLearning, true)
	}
	if !bm.has("by") {
		bc.errAt(kindKey, CodeYAMLValidate, fmt.Sprintf("%s: missing 'by'", name))
	} else if nodes, ok := bc.strings(bm, "by", true); ok {
		byNode, _, _ := bm.get("by")
		switch {
		case len(nodes) == 0:
			bc.errAt(byNode, CodeYAMLValidate, fmt.Sprintf("%s.by: expected at least one field", name))
		case len(nodes) > MaxStateBy:
			bc.errAt(byNode, CodeYAMLValidate, fmt.Sprintf("%s.by: %d fields, more than the limit of %d", name, len(nodes), MaxStateBy))
		}
		for _, n := range nodes {
			si.s.By = append(si.s.By, n.Value)
			si.byPos = append(si.byPos, nodeLoc(ld.f, n))
		}
	}
	if contains(allowed, "field") {
		if n := required("field"); n != nil {
			si.s.Field, si.fieldPos = n.Value, nodeLoc(ld.f, n)
		}
	}
	if contains(allowed, "after") {
		if n := required("after"); n != nil {
			si.s.After, si.aftPos, si.afterNode = n.Value, nodeLoc(ld.f, n), n
		}
	}
	if c.failed() {
		return nil
	}
	return si
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stateful builds r's exported Stateful, checking what needs every rule to
// be known: that a sequence's first step names a rule of the same source.
// It reports problems and returns nil for them.
func (ld *loader) stateful(r *ruleInfo, item string) (*Stateful, bool) {
	si := r.stateful
	if si == nil {
		return nil, true
	}
	if si.s.Kind == Sequence {
		a := ld.rules[si.s.After]
		switch {
		case si.s.After == r.name:
			ld.diagAt(si.aftPos, SeverityError, CodeValidate, item, "vigil.sequence.after: a rule cannot follow itself")
			return nil, false
		case a == nil:
			ld.diagAt(si.aftPos, SeverityError, CodeValidate, item, fmt.Sprintf("vigil.sequence.after: no rule named %q", si.s.After))
			return nil, false
		case a.source != r.source:
			ld.diagAt(si.aftPos, SeverityError, CodeValidate, item, fmt.Sprintf("vigil.sequence.after: rule %q is of source %s, not %s", si.s.After, a.source, r.source))
			return nil, false
		case a.stateful != nil:
			ld.diagAt(si.aftPos, SeverityError, CodeValidate, item, fmt.Sprintf("vigil.sequence.after: rule %q is itself stateful; the first step must be a plain rule", si.s.After))
			return nil, false
		}
	}
	s := si.s
	s.By = append([]string(nil), si.s.By...)
	s.Pos = ld.set.addLoc(si.pos)
	for _, p := range si.byPos {
		s.ByPos = append(s.ByPos, ld.set.addLoc(p))
	}
	if s.Field != "" {
		s.FieldPos = ld.set.addLoc(si.fieldPos)
	}
	if s.After != "" {
		s.AfterPos = ld.set.addLoc(si.aftPos)
	}
	return &s, true
}
