package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vigilsec/vigil/internal/condition"
)

const (
	// maxExpandNodes caps the nodes one condition may gain from macro
	// expansion, and maxTotalExpandNodes those of all conditions together:
	// macros that each use the previous one twice grow exponentially.
	maxExpandNodes      = 1 << 18
	maxTotalExpandNodes = 1 << 22
	// maxMacroNesting caps how deeply macros may reference macros.
	maxMacroNesting = 256
)

// compile does Falco's compile step: expand lists within lists, parse and
// resolve macros, then build every rule's condition.
func (ld *loader) compile() {
	lists := ld.compileLists()
	ld.compileMacros(lists)
	ld.compileRules(lists)
	for _, m := range ld.macroOrder {
		if !m.used && !m.failed {
			ld.diagAt(m.pos, SeverityWarning, CodeUnusedMacro, itemLabel("macro", m.name), "Macro not referred to by any other rule/macro")
		}
	}
	for _, l := range ld.listOrder {
		if !l.used {
			ld.diagAt(l.pos, SeverityWarning, CodeUnusedList, itemLabel("list", l.name), "List not referred to by any other rule/macro")
		}
	}
}

// compiledList is a list with nested lists expanded.
type compiledList struct {
	info  *listInfo
	items []string
}

// compileLists expands, in every list, the items that name a list defined
// before the list's last definition or append. The expansion uses the
// referenced list's own items, one level deep, as Falco does.
func (ld *loader) compileLists() []compiledList {
	out := make([]compiledList, 0, len(ld.listOrder))
	for _, l := range ld.listOrder {
		cl := compiledList{info: l}
		for _, it := range l.items {
			if ref := ld.lists[it]; ref != nil && ref.index < l.visibility {
				ref.used = true
				cl.items = append(cl.items, ref.items...)
				continue
			}
			cl.items = append(cl.items, it)
		}
		out = append(out, cl)
	}
	return out
}

// substitute replaces list names in t, in list order, marking the lists
// used.
func (ld *loader) substitute(t *text, lists []compiledList) (*text, error) {
	// The condition as written is bounded by MaxConditionLen; what list
	// substitution makes of it by the (larger) MaxExpandedLen, checked as
	// it grows so that a list referenced many times cannot blow up memory.
	if written := ld.maxConditionLen(); len(t.s) > written {
		return t, fmt.Errorf("condition too long: %d bytes, limit %d", len(t.s), written)
	}
	limit := ld.maxExpandedLen()
	for _, l := range lists {
		res, ok := substituteList(t, l.info.name, l.items, limit)
		if !ok {
			return t, fmt.Errorf("condition longer than %d bytes after substituting list '%s'", limit, l.info.name)
		}
		if res != nil {
			t = res
			l.info.used = true
		}
	}
	return t, nil
}

// parse registers t in the Set's position space and parses it.
func (ld *loader) parse(t *text) (condition.Node, error) {
	base := ld.set.addText(t)
	return condition.Parse(t.s, condition.Options{Base: base, MaxLen: ld.maxExpandedLen(), MaxDepth: ld.opts.MaxDepth})
}

func (ld *loader) maxConditionLen() int {
	if ld.opts.MaxConditionLen > 0 {
		return ld.opts.MaxConditionLen
	}
	return condition.DefaultMaxLen
}

func (ld *loader) maxExpandedLen() int {
	if ld.opts.MaxExpandedLen > 0 {
		return max(ld.opts.MaxExpandedLen, ld.maxConditionLen())
	}
	return max(DefaultMaxExpandedLen, ld.maxConditionLen())
}

// parseError reports a condition.Parse error at its position.
func (ld *loader) parseError(err error, item string) {
	var ce *condition.Error
	if errors.As(err, &ce) {
		ld.add(ld.set.Diag(SeverityError, CodeCompileCondition, ce.Pos, item, ce.Msg))
		return
	}
	ld.add(Diagnostic{Severity: SeverityError, Code: CodeCompileCondition, Item: item, Msg: err.Error()})
}

// compileMacros substitutes lists into every macro and parses it on its
// own, then resolves macro references in order of first definition. A
// macro sees the macros whose first definition came before its own last
// definition or append; a referenced macro's own references are resolved
// with the referencing macro's view, as in Falco.
func (ld *loader) compileMacros(lists []compiledList) {
	for _, m := range ld.macroOrder {
		item := itemLabel("macro", m.name)
		t, err := ld.substitute(m.cond, lists)
		if err != nil {
			ld.diagAt(m.cond.origin(0).loc(), SeverityError, CodeCompileCondition, item, err.Error())
			m.failed = true
			continue
		}
		m.ast, err = ld.parse(t)
		if err != nil {
			ld.parseError(err, item)
			m.failed = true
		}
	}
	for _, m := range ld.macroOrder {
		if m.failed {
			continue
		}
		vis := m.visibility
		r := ld.newResolver(func(name string) *macroInfo {
			mi := ld.macros[name]
			if mi == nil || mi.failed || mi.index >= vis {
				return nil
			}
			return mi
		})
		m.ast = r.expand(m.ast)
		if r.report(itemLabel("macro", m.name)) {
			m.failed = true
		}
	}
}

// compileRules builds the conditions of all rules of known sources.
func (ld *loader) compileRules(lists []compiledList) {
	for _, r := range ld.ruleOrder { // in order of first definition
		if r.unknownSource {
			continue
		}
		item := itemLabel("rule", r.name)
		c := &itemCheck{ld: ld, item: item, errors: new(int)}
		t := r.cond
		if len(r.exceptions) > 0 {
			var b textBuilder
			o := t.origin(0)
			b.fixed("(", o)
			b.copy(t, 0, len(t.s))
			b.fixed(")", t.origin(len(t.s)))
			for _, ex := range r.exceptions {
				et, ok := ld.exceptionText(c, ex)
				if !ok {
					continue
				}
				if et.s != "" {
					b.fixed(" and not ", origin{at: ex.loc()})
					b.copy(et, 0, len(et.s))
				}
			}
			if c.failed() {
				continue
			}
			t = b.text()
		}
		t, err := ld.substitute(t, lists)
		if err != nil {
			ld.diagAt(t.origin(0).loc(), SeverityError, CodeCompileCondition, item, err.Error())
			continue
		}
		ast, err := ld.parse(t)
		if err != nil {
			ld.parseError(err, item)
			continue
		}
		res := ld.newResolver(func(name string) *macroInfo {
			mi := ld.macros[name]
			if mi == nil || mi.failed {
				return nil
			}
			return mi
		})
		ast = res.expand(ast)
		if res.report(item) {
			continue
		}
		ld.warnNA(ast, item)
		sf, ok := ld.stateful(r, item)
		if !ok {
			continue
		}

		out := trimText(r.output)
		rule := &Rule{
			Name:                r.name,
			Desc:                r.desc,
			Output:              out.s,
			OutputPos:           ld.set.addText(out),
			Priority:            r.priority,
			Source:              r.source,
			Enabled:             r.enabled,
			SkipIfUnknownFilter: r.skipUnknown,
			WarnEvttypes:        r.warnEvttypes,
			Capture:             r.capture,
			CaptureDuration:     r.captureDuration,
			Condition:           ast,
			Pos:                 ld.set.addLoc(r.pos),
			CheckOnly:           r.checkOnly,
			Stateful:            sf,
		}
		if r.pos.f != nil {
			rule.File = r.pos.f.name
		}
		for tag := range r.tags {
			rule.Tags = append(rule.Tags, tag)
		}
		sort.Strings(rule.Tags)
		ld.set.Rules = append(ld.set.Rules, rule)
	}
}

// resolver splices macros into a condition.
type resolver struct {
	ld     *loader
	lookup func(string) *macroInfo
	path   []string // macros being expanded, for loop detection
	nodes  int      // nodes created by splicing
	errs   []resolveErr
	big    bool // expansion stopped for size
}

type resolveErr struct {
	pos condition.Pos
	msg string
}

func (ld *loader) newResolver(lookup func(string) *macroInfo) *resolver {
	return &resolver{ld: ld, lookup: lookup}
}

// expand replaces macro references in n, which it may modify in place, and
// returns the result.
func (r *resolver) expand(n condition.Node) condition.Node {
	switch n := n.(type) {
	case *condition.BinaryNode:
		for i, c := range n.Children {
			n.Children[i] = r.expand(c)
		}
	case *condition.NotNode:
		n.X = r.expand(n.X)
	case *condition.IdentNode:
		m := r.lookup(n.Name)
		if m == nil {
			r.errs = append(r.errs, resolveErr{n.Pos, fmt.Sprintf("Undefined macro '%s' used in filter.", n.Name)})
			return n
		}
		for _, p := range r.path {
			if p == m.name {
				r.errs = append(r.errs, resolveErr{n.Pos, fmt.Sprintf("reference loop in macro '%s'", m.name)})
				return n
			}
		}
		m.used = true
		if r.big {
			return n
		}
		if len(r.path) >= maxMacroNesting {
			r.big = true
			r.errs = append(r.errs, resolveErr{n.Pos, fmt.Sprintf("macros nested more than %d deep at macro '%s'", maxMacroNesting, m.name)})
			return n
		}
		before := r.nodes
		c := cloneNode(m.ast, &r.nodes)
		r.ld.expanded += r.nodes - before
		if r.nodes > maxExpandNodes || r.ld.expanded > maxTotalExpandNodes {
			r.big = true
			r.errs = append(r.errs, resolveErr{n.Pos, fmt.Sprintf("too many nodes after expanding macro '%s' (more than %d in one condition or %d in all)", m.name, maxExpandNodes, maxTotalExpandNodes)})
			return n
		}
		r.path = append(r.path, m.name)
		c = r.expand(c)
		r.path = r.path[:len(r.path)-1]
		return c
	}
	return n
}

// report emits the resolver's errors and reports whether there were any.
func (r *resolver) report(item string) bool {
	seen := map[resolveErr]bool{}
	for _, e := range r.errs {
		if seen[e] {
			continue
		}
		seen[e] = true
		r.ld.add(r.ld.set.Diag(SeverityError, CodeValidate, e.pos, item, e.msg))
	}
	return len(r.errs) > 0
}

// cloneNode deep-copies a condition tree, counting the nodes it creates.
func cloneNode(n condition.Node, count *int) condition.Node {
	*count++
	switch n := n.(type) {
	case *condition.BinaryNode:
		c := *n
		c.Children = make([]condition.Node, len(n.Children))
		for i, ch := range n.Children {
			c.Children[i] = cloneNode(ch, count)
		}
		return &c
	case *condition.NotNode:
		c := *n
		c.X = cloneNode(n.X, count)
		return &c
	case *condition.IdentNode:
		c := *n
		return &c
	case *condition.CheckNode:
		c := *n
		if n.Left != nil {
			c.Left = cloneNode(n.Left, count).(condition.Operand)
		}
		if n.Right != nil {
			c.Right = cloneNode(n.Right, count)
		}
		return &c
	case *condition.FieldNode:
		c := *n
		return &c
	case *condition.TransformNode:
		c := *n
		if n.X != nil {
			c.X = cloneNode(n.X, count).(condition.Operand)
		}
		return &c
	case *condition.ValueNode:
		c := *n
		return &c
	case *condition.ListNode:
		c := *n
		c.Items = make([]*condition.ValueNode, len(n.Items))
		for i, it := range n.Items {
			v := *it
			c.Items[i] = &v
		}
		*count += len(n.Items)
		return &c
	case *condition.FieldValueNode:
		c := *n
		if n.X != nil {
			c.X = cloneNode(n.X, count).(condition.Operand)
		}
		return &c
	}
	return n
}

// innermostField returns the field an operand reads, through transformers.
func innermostField(o condition.Node) *condition.FieldNode {
	for {
		switch n := o.(type) {
		case *condition.FieldNode:
			return n
		case *condition.TransformNode:
			o = n.X
		default:
			return nil
		}
	}
}

var naOps = map[string]bool{"=": true, "==": true, "!=": true, "in": true, "intersects": true, "pmatch": true}

// warnNA warns about equality comparisons of ka.* and jevt.* fields with
// the literal <NA>, which the plugins never produce (Falco's
// LOAD_UNSAFE_NA_CHECK). The walk is iterative: expanded conditions may be
// deep.
func (ld *loader) warnNA(n condition.Node, item string) {
	stack := []condition.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n := n.(type) {
		case *condition.BinaryNode:
			for i := len(n.Children) - 1; i >= 0; i-- {
				stack = append(stack, n.Children[i])
			}
		case *condition.NotNode:
			stack = append(stack, n.X)
		case *condition.CheckNode:
			f := innermostField(n.Left)
			if f == nil || !naOps[n.Op] || !(strings.HasPrefix(f.Name, "ka.") || strings.HasPrefix(f.Name, "jevt.")) {
				continue
			}
			na := false
			switch r := n.Right.(type) {
			case *condition.ValueNode:
				na = r.Text == "<NA>"
			case *condition.ListNode:
				for _, it := range r.Items {
					na = na || it.Text == "<NA>"
				}
			}
			if na {
				ld.add(ld.set.Diag(SeverityWarning, CodeUnsafeNACheck, n.Pos, item, "Unsafe <NA> comparison in condition"))
			}
		}
	}
}
