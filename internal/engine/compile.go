// Package engine compiles a loaded rule set into an immutable Program and
// evaluates audit events against it.
//
// Compilation resolves every name once: each distinct field reference
// (field, argument and transformers) becomes a slot bound to its extractor,
// list constants become sets, regular expressions and globs are compiled,
// and each operator is specialised for its operand types. Evaluation then
// walks small typed evaluators. Field values are extracted lazily, at most
// once per event, into a reusable State, so evaluating an event that raises
// no alert allocates nothing.
package engine

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/condition"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

// Matching selects which matching rules raise alerts for one event.
type Matching int

// Rule matching modes.
const (
	MatchAll   Matching = iota // every matching rule alerts, in rule order (Vigil's default)
	MatchFirst                 // only the first matching rule alerts (Falco's default)
)

// ParseMatching parses "all" or "first".
func ParseMatching(s string) (Matching, error) {
	switch s {
	case "all":
		return MatchAll, nil
	case "first":
		return MatchFirst, nil
	}
	return 0, fmt.Errorf("invalid rule matching %q: expected all or first", s)
}

// Options configure compilation.
type Options struct {
	Env          field.Env      // host name and time zone for evt.* fields and alert text
	Matching     Matching       // all (default) or first
	MinPriority  alert.Priority // rules less severe than this are not enabled; zero value = PriorityEmergency, so callers set it (Default sets Debug)
	AppendFields []string       // extra fields added to every alert's output_fields, like Falco's append_output
	// Override enables (true) or disables (false) rules by name, over what
	// the rules files say: the runtime switch of the API. MinPriority
	// still applies.
	Override map[string]bool
	// NoIndex disables the rule index (see index.go), so that every enabled
	// rule is evaluated for every event. Results are identical; it exists
	// for tests and diagnosis.
	NoIndex bool
}

// DefaultOptions returns options that enable every rule and match all.
func DefaultOptions() Options {
	return Options{MinPriority: alert.PriorityDebug, Matching: MatchAll}
}

// Rule is a compiled rule.
type Rule struct {
	Name     string         // rule name
	Desc     string         // description
	Priority alert.Priority // severity
	Source   string         // event source
	Tags     []string       // sorted tags
	Enabled  bool           // whether it runs (enabled in the file or by Override, and severe enough)
	File     string         // file of its first definition
	// InFile is whether the rules files enable it; Overridden says
	// Options.Override decided instead.
	InFile     bool
	Overridden bool

	cond  evaluator
	out   *template
	src   *rules.Rule
	plain bool    // enabled and not stateful: alerts whenever its condition matches
	spec  *Spec   // enabled and stateful: matches are Hits
	feeds []*Spec // the sequences whose first step it is: its matches are step Hits too
	step  bool    // evaluated only as a sequence's first step (it is not enabled)
}

// Program is an immutable compiled rule set, safe for concurrent use by
// goroutines that each have their own State.
type Program struct {
	all   []*Rule // every compiled rule, in rule order
	rules []*Rule // the enabled ones
	eval  []*Rule // what Eval evaluates: rules, then the disabled first steps of sequences
	specs []*Spec // the enabled stateful rules

	vigilSlots []int // slots of vigil.* output fields
	slots      []slot
	byKey      map[string]int
	opts       Options
	append     []outRef // AppendFields, bound

	index []ruleIndex // fields that narrow the candidate rules per event
	all1  []uint64    // bitset with every enabled rule set
}

// Rules returns every compiled rule in rule order, enabled or not.
func (p *Program) Rules() []*Rule { return p.all }

// Enabled returns the rules that run, in rule order.
func (p *Program) Enabled() []*Rule { return p.rules }

// slot is one distinct field reference: a field bound to its argument, or a
// transformer applied to another slot.
type slot struct {
	key  string          // canonical text, e.g. "tolower(ka.user.name)"
	list bool            // yields several values
	num  bool            // numeric (len)
	ext  field.Extractor // for a plain field
	base int             // for a transformer: the slot it transforms; -1 otherwise
	tf   string          // transformer name
	// vigil is the kind of a vigil.* output field of stateful rules (see
	// vigilFields), whose value comes from the Verdict being rendered; 0
	// for every other slot.
	vigil byte
}

type compiler struct {
	p        *Program
	set      *rules.Set
	diags    []rules.Diagnostic // every diagnostic so far, of finished items
	item     string             // current item, for diagnostics
	env      *field.Env
	errs     int                // errors of the current rule
	unknown  int                // how many of errs are unknown fields; errs == unknown means skip-if-unknown-filter applies
	pending  []rules.Diagnostic // diagnostics of the current rule, kept back until it is done
	stateful bool               // the current rule has a vigil key: its output may use vigil.* fields
}

// Compile checks every rule of set against the field table and builds a
// Program. It returns every problem found; when any is an error the Program
// should not be used.
func Compile(set *rules.Set, opts Options) (*Program, []rules.Diagnostic) {
	env := opts.Env
	c := &compiler{p: &Program{byKey: map[string]int{}, opts: opts}, set: set, env: &env}
	c.p.opts.Env = env
	var cons []constraints
	for _, r := range set.Rules {
		if cr := c.rule(r); cr != nil && cr.Enabled {
			if opts.NoIndex {
				cons = append(cons, nil)
			} else {
				cons = append(cons, c.necessary(r.Condition))
			}
		}
	}
	c.p.eval = append([]*Rule(nil), c.p.rules...)
	for _, r := range c.linkSteps() {
		if opts.NoIndex {
			cons = append(cons, nil)
		} else {
			cons = append(cons, c.necessary(r.Condition))
		}
	}
	c.p.buildIndex(cons)
	// Append fields are not part of any rule: their errors go straight to
	// the diagnostics and the per-rule counters are not involved.
	for _, name := range opts.AppendFields {
		ref, err := c.outputField(name)
		if err != nil {
			c.diags = append(c.diags, rules.Diagnostic{Severity: rules.SeverityError, Code: "LOAD_ERR_COMPILE_OUTPUT",
				Item: "append field", Msg: err.Error()})
			continue
		}
		c.p.append = append(c.p.append, ref)
	}
	return c.p, c.diags
}

func (c *compiler) rule(r *rules.Rule) *Rule {
	c.item = fmt.Sprintf("rule %q", r.Name)
	c.errs, c.unknown, c.pending = 0, 0, nil
	c.stateful = r.Stateful != nil
	ev := c.node(r.Condition)
	out := c.template(r.Output, r.OutputPos)
	var spec *Spec
	if r.Stateful != nil {
		spec = c.statefulSpec(r)
	}
	if c.errs > 0 {
		if r.SkipIfUnknownFilter && c.errs == c.unknown {
			c.diags = append(c.diags, c.set.Diag(rules.SeverityWarning, "LOAD_UNKNOWN_FILTER", r.Pos, c.item,
				"unknown field or event-type in condition or output; the rule is skipped (skip-if-unknown-filter)"))
			return nil
		}
		c.diags = append(c.diags, c.pending...)
		return nil
	}
	c.diags = append(c.diags, c.pending...)
	if r.CheckOnly {
		return nil // compiled for its diagnostics only
	}
	on, overridden := c.p.opts.Override[r.Name]
	if !overridden {
		on = r.Enabled
	}
	cr := &Rule{Name: r.Name, Desc: r.Desc, Priority: r.Priority, Source: r.Source, Tags: r.Tags, File: r.File,
		InFile: r.Enabled, Overridden: overridden, Enabled: on && r.Priority.AtLeast(c.p.opts.MinPriority), cond: ev, out: out, src: r}
	c.p.all = append(c.p.all, cr)
	if cr.Enabled {
		if spec != nil {
			spec.Index, spec.Rule = len(c.p.specs), cr
			c.p.specs = append(c.p.specs, spec)
			cr.spec = spec
		} else {
			cr.plain = true
		}
		c.p.rules = append(c.p.rules, cr)
	}
	return cr
}

func (c *compiler) errorf(pos condition.Pos, code string, format string, args ...any) {
	c.errs++
	c.pending = append(c.pending, c.set.Diag(rules.SeverityError, code, pos, c.item, fmt.Sprintf(format, args...)))
}

func (c *compiler) warnf(pos condition.Pos, code string, format string, args ...any) {
	c.pending = append(c.pending, c.set.Diag(rules.SeverityWarning, code, pos, c.item, fmt.Sprintf(format, args...)))
}

func (c *compiler) node(n condition.Node) evaluator {
	switch n := n.(type) {
	case *condition.BinaryNode:
		var kids []evaluator
		for _, k := range n.Children {
			e := c.node(k)
			// Flatten nested chains of the same connective.
			switch e := e.(type) {
			case andEval:
				if n.Op == condition.And {
					kids = append(kids, e...)
					continue
				}
			case orEval:
				if n.Op == condition.Or {
					kids = append(kids, e...)
					continue
				}
			}
			kids = append(kids, e)
		}
		if n.Op == condition.And {
			return andEval(kids)
		}
		return orEval(kids)
	case *condition.NotNode:
		x := c.node(n.X)
		if nn, ok := x.(notEval); ok {
			return nn.x
		}
		return notEval{x}
	case *condition.IdentNode:
		c.errorf(n.Pos, "LOAD_ERR_VALIDATE", "undefined macro %q used in filter", n.Name)
		return constEval(false)
	case *condition.CheckNode:
		return c.check(n)
	case nil:
		c.errorf(0, "LOAD_ERR_COMPILE_CONDITION", "empty condition")
		return constEval(false)
	}
	c.errorf(n.Position(), "LOAD_ERR_COMPILE_CONDITION", "unexpected %T in condition", n)
	return constEval(false)
}

// operand binds a field or transformer to a slot.
func (c *compiler) operand(o condition.Operand) (int, bool) {
	key := o.String()
	if i, ok := c.p.byKey[key]; ok {
		return i, true
	}
	var s slot
	switch o := o.(type) {
	case *condition.FieldNode:
		def, ok := field.Lookup(o.Name)
		if _, vigil := vigilFields[o.Name]; !ok && vigil {
			c.errorf(o.Pos, "LOAD_ERR_COMPILE_CONDITION", "%s is an output field of stateful rules; a condition cannot use it", o.Name)
			return 0, false
		}
		if !ok {
			c.unknown++
			c.errorf(o.Pos, "LOAD_ERR_COMPILE_CONDITION", "unknown field %q", o.Name)
			return 0, false
		}
		ext, err := def.Bind(o.Arg, o.HasArg, c.env)
		if err != nil {
			c.errorf(o.Pos, "LOAD_ERR_COMPILE_CONDITION", "%v", err)
			return 0, false
		}
		s = slot{key: key, list: def.List, num: def.Type == field.Number, ext: ext, base: -1}
	case *condition.TransformNode:
		base, ok := c.operand(o.X)
		if !ok {
			return 0, false
		}
		b := c.p.slots[base]
		s = slot{key: key, list: b.list, base: base, tf: o.Name}
		switch o.Name {
		case "len":
			s.list, s.num = false, true
		case "tolower", "toupper", "basename", "b64":
			if b.num {
				c.errorf(o.Pos, "LOAD_ERR_COMPILE_CONDITION", "transformer %s() does not apply to a numeric value", o.Name)
				return 0, false
			}
		default:
			c.errorf(o.Pos, "LOAD_ERR_COMPILE_CONDITION", "unknown transformer %q", o.Name)
			return 0, false
		}
	default:
		c.errorf(o.Position(), "LOAD_ERR_COMPILE_CONDITION", "unexpected operand %s", o)
		return 0, false
	}
	c.p.slots = append(c.p.slots, s)
	c.p.byKey[key] = len(c.p.slots) - 1
	return len(c.p.slots) - 1, true
}

var cmpOps = map[string]cmpOp{
	"=": opEq, "==": opEq, "!=": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"contains": opContains, "icontains": opIContains, "startswith": opStartsWith,
	"endswith": opEndsWith, "glob": opGlob, "iglob": opIGlob,
}

func (c *compiler) check(n *condition.CheckNode) evaluator {
	si, ok := c.operand(n.Left)
	if !ok {
		return constEval(false)
	}
	s := c.p.slots[si]
	op := n.Op
	if op == "exists" {
		return existsEval{si}
	}
	if s.list && op != "in" && op != "intersects" {
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "'%s' operator not supported list filters (field %s accepts only exists, in, intersects)", op, s.key)
		return constEval(false)
	}
	if mod := strings.Fields(op); len(mod) == 2 {
		return c.modifier(n, si, mod[0], mod[1])
	}
	switch op {
	case "bcontains", "bstartswith":
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "'%s' operator only applies to byte-buffer fields, and %s is a string", op, s.key)
		return constEval(false)
	case "in", "intersects", "pmatch":
		return c.setCheck(n, si, s, op)
	case "regex":
		v, ok := n.Right.(*condition.ValueNode)
		if !ok {
			c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "'regex' needs a constant pattern")
			return constEval(false)
		}
		// Validate the pattern on its own first: wrapped, "a)|(b" would
		// balance the parentheses and compile as (?:a)|(?:b) unanchored.
		if _, err := regexp.Compile(v.Text); err != nil {
			c.errorf(v.Pos, "LOAD_ERR_COMPILE_CONDITION", "invalid regular expression %q: %v", v.Text, err)
			return constEval(false)
		}
		re, err := regexp.Compile(`^(?:` + v.Text + `)$`)
		if err != nil {
			c.errorf(v.Pos, "LOAD_ERR_COMPILE_CONDITION", "invalid regular expression %q: %v", v.Text, err)
			return constEval(false)
		}
		if simpler := regexSimpler(v.Text); simpler != "" {
			c.warnf(v.Pos, "LOAD_COMPILE_CONDITION", "regex %q could use the simpler '%s' operator", v.Text, simpler)
		}
		return &regexEval{slot: si, re: re}
	}
	cop, known := cmpOps[op]
	if !known {
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "unsupported operator %q", op)
		return constEval(false)
	}
	switch r := n.Right.(type) {
	case *condition.ValueNode:
		ce, ok := c.constCmp(n, si, s, cop, op, r)
		if !ok {
			return constEval(false)
		}
		return ce
	case *condition.FieldValueNode:
		return c.fieldCmp(n, si, s, cop, r.X)
	case condition.Operand:
		return c.fieldCmp(n, si, s, cop, r)
	}
	c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' needs a single value", op)
	return constEval(false)
}

func (c *compiler) constCmp(n *condition.CheckNode, si int, s slot, cop cmpOp, op string, r *condition.ValueNode) (*cmpEval, bool) {
	ce := &cmpEval{slot: si, op: cop, val: []byte(r.Text), num: s.num}
	ordering := cop == opLt || cop == opLe || cop == opGt || cop == opGe
	if s.num && cop != opEq && cop != opNe && !ordering {
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' does not apply to numeric %s", op, s.key)
		return nil, false
	}
	// A numeric field needs a number; so does an ordering operator, even on
	// a string field, which then compares the text (strcmp) as Falco does.
	if ordering || s.num {
		nv, ok := parseNumber(ce.val)
		if !ok {
			c.errorf(r.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' needs a number, got %q", op, r.Text)
			return nil, false
		}
		ce.nval = nv
	}
	if !r.Quoted {
		if _, isField := field.Lookup(r.Text); isField {
			c.warnf(r.Pos, "LOAD_COMPILE_CONDITION", "string %q may be a valid field misused as a const string value", r.Text)
		}
	}
	return ce, true
}

func (c *compiler) fieldCmp(n *condition.CheckNode, si int, s slot, cop cmpOp, o condition.Operand) evaluator {
	oi, ok := c.operand(o)
	if !ok {
		return constEval(false)
	}
	os := c.p.slots[oi]
	if os.list != s.list || os.num != s.num {
		c.errorf(o.Position(), "LOAD_ERR_COMPILE_CONDITION", "cannot compare %s with %s: both sides must have the same type", s.key, os.key)
		return constEval(false)
	}
	return &fieldCmpEval{slot: si, other: oi, op: cop, num: s.num}
}

func (c *compiler) setCheck(n *condition.CheckNode, si int, s slot, op string) evaluator {
	var items []*condition.ValueNode
	switch r := n.Right.(type) {
	case *condition.ListNode:
		items = r.Items
	case *condition.ValueNode:
		items = []*condition.ValueNode{r}
	default:
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' needs a list of values", op)
		return constEval(false)
	}
	if op == "pmatch" {
		if s.num {
			c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' does not apply to numeric %s", op, s.key)
			return constEval(false)
		}
		pe := &pmatchEval{slot: si}
		for _, it := range items {
			pe.paths = append(pe.paths, compilePath(it.Text))
		}
		return pe
	}
	if s.num {
		// Numeric membership: equal, as numbers, to one of the items.
		ne := &numSetEval{slot: si}
		for _, it := range items {
			nv, ok := parseNumber([]byte(it.Text))
			if !ok {
				c.errorf(it.Pos, "LOAD_ERR_COMPILE_CONDITION", "operator '%s' on numeric %s needs numbers, got %q", op, s.key, it.Text)
				return constEval(false)
			}
			ne.nums = append(ne.nums, nv)
		}
		if len(ne.nums) == 0 {
			return constEval(false)
		}
		return ne
	}
	if len(items) == 0 {
		return constEval(false)
	}
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.Text
	}
	return &setEval{slot: si, set: newValueSet(texts), list: s.list, intersects: op == "intersects"}
}

func (c *compiler) modifier(n *condition.CheckNode, si int, op, mode string) evaluator {
	cop, ok := cmpOps[op]
	if !ok || c.p.slots[si].list {
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "modifier '%s' does not apply to operator '%s'", mode, op)
		return constEval(false)
	}
	l, ok := n.Right.(*condition.ListNode)
	if !ok {
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "modifier '%s' needs a list of values", mode)
		return constEval(false)
	}
	m := &modEval{slot: si, op: cop}
	switch mode {
	case "oneof":
		m.mode = '1'
	case "anyof":
		m.mode = 'a'
	case "allof":
		m.mode = 'A'
	default:
		c.errorf(n.Pos, "LOAD_ERR_COMPILE_CONDITION", "unknown modifier %q", mode)
		return constEval(false)
	}
	s := c.p.slots[si]
	for _, it := range l.Items {
		ce, ok := c.constCmp(n, si, s, cop, op, it)
		if !ok {
			return constEval(false)
		}
		m.items = append(m.items, ce)
	}
	return m
}

// regexSimpler suggests a simpler operator for a pattern without
// metacharacters.
func regexSimpler(p string) string {
	const meta = `\.+*?()|[]{}^$`
	core := p
	lead := strings.HasPrefix(core, ".*")
	core = strings.TrimPrefix(core, ".*")
	trail := strings.HasSuffix(core, ".*")
	core = strings.TrimSuffix(core, ".*")
	if core == "" || strings.ContainsAny(core, meta) {
		return ""
	}
	switch {
	case lead && trail:
		return "contains"
	case lead:
		return "endswith"
	case trail:
		return "startswith"
	}
	return "="
}
