package rules

import (
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/condition"
	"go.yaml.in/yaml/v3"
)

// entry is the value of an exception's fields, comps or one of its values:
// a scalar or a list of entries.
type entry struct {
	isList bool
	item   string   // scalar text
	sc     *scalar  // the scalar item came from; nil for defaults
	items  []*entry // list elements
	node   *yaml.Node
	f      *file
}

// valid reports whether the entry has content, as Falco's is_valid does:
// a non-empty scalar or a non-empty list.
func (e *entry) valid() bool {
	return e != nil && ((e.isList && len(e.items) > 0) || (!e.isList && e.item != ""))
}

func (e *entry) loc() loc { return nodeLoc(e.f, e.node) }

// exception is one element of a rule's exceptions.
type exception struct {
	name   string
	node   *yaml.Node // the exception's mapping
	f      *file
	fields *entry // nil if not given
	comps  *entry // nil if not given; defaulted by validateException
	values []*entry
}

func (ex *exception) loc() loc { return nodeLoc(ex.f, ex.node) }

// readEntry decodes an exception entry. A null or mapping value gives an
// invalid entry, which Falco treats as absent.
func (ld *loader) readEntry(c *itemCheck, v *yaml.Node) *entry {
	v = ld.deref(v, c.item)
	e := &entry{node: v, f: ld.f}
	switch {
	case isScalar(v):
		if v.Value == "" {
			c.errAt(v, CodeYAMLValidate, "Value must be non-empty")
			return nil
		}
		e.item = v.Value
		e.sc = newScalar(ld.f, v)
	case v.Kind == yaml.SequenceNode:
		e.isList = true
		for _, it := range v.Content {
			sub := ld.readEntry(c, it)
			if sub == nil {
				return nil
			}
			if !sub.isList && sub.item == "" {
				// A null or mapping inside a list: Falco would emit "".
				c.errAt(sub.node, CodeYAMLValidate, "Value must be non-empty")
				return nil
			}
			e.items = append(e.items, sub)
		}
	}
	return e
}

// readExceptions reads the exceptions key. In append mode (appends and
// overrides) fields are optional. present reports whether the key was given.
func (ld *loader) readExceptions(c *itemCheck, m *mapping, appendMode bool) (exs []*exception, present bool) {
	v, _, ok := m.get("exceptions")
	if !ok {
		return nil, false
	}
	if isNull(v) {
		return nil, true
	}
	if v.Kind != yaml.SequenceNode {
		c.errAt(v, CodeYAMLValidate, "Rule exceptions must be a sequence")
		return nil, true
	}
	seen := map[string]bool{}
	for _, en := range v.Content {
		en = ld.deref(en, c.item)
		ec := c.sub(en)
		if en.Kind != yaml.MappingNode {
			ec.errAt(en, CodeYAMLValidate, "Rule exception must be a mapping")
			continue
		}
		em := ld.newMapping(en)
		ec.vet(em, "name", "fields", "comps", "values")
		nameNode := ec.str(em, "name", true)
		if nameNode == nil {
			continue
		}
		ex := &exception{name: nameNode.Value, node: en, f: ld.f}
		if seen[ex.name] {
			ec.warnAt(en, CodeExceptionName, fmt.Sprintf("Multiple definitions of exception '%s' in the same rule", ex.name))
		}
		seen[ex.name] = true
		if fv, _, ok := em.get("fields"); ok {
			ex.fields = ld.readEntry(ec, fv)
		} else if !appendMode {
			ec.err("Item has no mapping for key 'fields'")
		}
		if cv, _, ok := em.get("comps"); ok {
			ex.comps = ld.readEntry(ec, cv)
		}
		if vals, _, ok := em.get("values"); ok {
			if vals.Kind != yaml.SequenceNode {
				ec.errAt(vals, CodeYAMLValidate, "Rule exception values must be a sequence")
			} else {
				for _, val := range vals.Content {
					e := ld.readEntry(ec, val)
					if e == nil {
						continue
					}
					if !e.valid() && !e.isList {
						ec.errAt(e.node, CodeYAMLValidate, "Expected values array to contain a list of strings")
						continue
					}
					ex.values = append(ex.values, e)
				}
			}
		} else if appendMode {
			ec.warnAt(en, CodeAppendNoValues, "Overriding/appending exception with no values")
		}
		exs = append(exs, ex)
	}
	return exs, true
}

// listOps are the operators whose right side is a list.
var listOps = map[string]bool{"in": true, "intersects": true, "pmatch": true}

// isModifierOp reports whether op is "<string-op> oneof|anyof|allof".
func isModifierOp(op string) bool {
	return strings.Contains(op, " ") && condition.IsOperator(op)
}

// validateException applies Falco's checks and comps defaults. Whether the
// fields exist is the engine's business; here a field must only parse as
// one.
func (ld *loader) validateException(c *itemCheck, ex *exception) {
	at := ex.loc()
	if ex.fields.isList {
		if !ex.comps.valid() {
			ex.comps = &entry{isList: true, node: ex.fields.node, f: ex.fields.f}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, &entry{item: "=", node: ex.fields.node, f: ex.fields.f})
			}
		}
		if len(ex.fields.items) != len(ex.comps.items) {
			c.errLoc(at, CodeValidate, "Fields and comps lists must have equal length")
			return
		}
		for _, cp := range ex.comps.items {
			if cp.isList || !condition.IsOperator(cp.item) {
				c.errLoc(cp.loc(), CodeValidate, fmt.Sprintf("'%s' is not a supported comparison operator", cp.item))
			}
		}
		for _, fe := range ex.fields.items {
			ld.checkField(c, fe)
		}
		return
	}
	if !ex.comps.valid() {
		ex.comps = &entry{item: "in", node: ex.fields.node, f: ex.fields.f}
	}
	if ex.comps.isList {
		c.errLoc(at, CodeValidate, "Fields and comps must both be strings")
		return
	}
	if !listOps[ex.comps.item] && !isModifierOp(ex.comps.item) {
		c.errLoc(ex.comps.loc(), CodeValidate, "When fields is a single value, comps must be one of (in, pmatch, intersects)")
	}
	ld.checkField(c, ex.fields)
}

// checkField checks that an exception field is syntactically a field (or a
// transformer applied to one), so that it cannot inject condition text.
func (ld *loader) checkField(c *itemCheck, fe *entry) {
	ok := false
	if !fe.isList && fe.item != "" {
		n, err := condition.Parse(fe.item+" exists", condition.Options{})
		if chk, isCheck := n.(*condition.CheckNode); err == nil && isCheck && chk.Op == "exists" {
			ok = true
		}
	}
	if !ok {
		c.errLoc(fe.loc(), CodeValidate, fmt.Sprintf("'%s' is not a supported filter field", fe.item))
	}
}

// entryText appends a scalar entry, mapping it to its YAML scalar (or, for
// defaults, to where the default was decided).
func entryText(b *textBuilder, e *entry) {
	if e.sc != nil {
		b.scalar(e.sc, 0, len(e.sc.value))
		return
	}
	b.fixed(e.item, origin{at: e.loc()})
}

// quotedEntryText appends a value, double-quoted if it contains a space.
func quotedEntryText(b *textBuilder, e *entry) {
	if q := quoteItem(e.item); q != e.item {
		b.fixed(`"`, origin{at: e.loc()})
		entryText(b, e)
		b.fixed(`"`, origin{at: e.loc()})
		return
	}
	entryText(b, e)
}

// exceptionText builds the text of one exception as Falco's
// build_rule_exception_infos does: "(f comp (v1, v2))" for the single-field
// form, "((f1 c1 v1 and f2 c2 v2) or (...))" for the tuple form, or "" when
// there are no values.
func (ld *loader) exceptionText(c *itemCheck, ex *exception) (*text, bool) {
	var b textBuilder
	glue := origin{at: ex.loc()}
	if !ex.fields.isList {
		for i, v := range ex.values {
			if v.isList {
				c.errLoc(v.loc(), CodeValidate, "Expected values array to contain a list of strings")
				return nil, false
			}
			if i == 0 {
				b.fixed("(", glue)
				entryText(&b, ex.fields)
				b.fixed(" ", glue)
				entryText(&b, ex.comps)
				b.fixed(" (", glue)
			} else {
				b.fixed(", ", glue)
			}
			quotedEntryText(&b, v)
		}
		if len(ex.values) > 0 {
			b.fixed("))", glue)
		}
		return b.text(), true
	}
	b.fixed("(", glue)
	for vi, vals := range ex.values {
		if !vals.isList || len(vals.items) != len(ex.fields.items) {
			c.errLoc(vals.loc(), CodeValidate, "Fields and values lists must have equal length")
			return nil, false
		}
		if vi > 0 {
			b.fixed(" or ", glue)
		}
		b.fixed("(", glue)
		for k, field := range ex.fields.items {
			if k > 0 {
				b.fixed(" and ", glue)
			}
			comp := ex.comps.items[k]
			b.fixed(" ", glue)
			entryText(&b, field)
			b.fixed(" ", glue)
			entryText(&b, comp)
			b.fixed(" ", glue)
			v := vals.items[k]
			switch {
			case v.isList:
				b.fixed("(", origin{at: v.loc()})
				for i, it := range v.items {
					if it.isList {
						c.errLoc(it.loc(), CodeValidate, "Expected values array to contain a list of strings")
						return nil, false
					}
					if i > 0 {
						b.fixed(", ", origin{at: v.loc()})
					}
					quotedEntryText(&b, it)
				}
				b.fixed(")", origin{at: v.loc()})
			case listOps[comp.item]:
				if v.item[0] != '(' {
					b.fixed("(", origin{at: v.loc()})
					entryText(&b, v)
					b.fixed(")", origin{at: v.loc()})
				} else {
					entryText(&b, v)
				}
			default:
				quotedEntryText(&b, v)
			}
		}
		b.fixed(")", glue)
	}
	b.fixed(")", glue)
	t := b.text()
	if t.s == "()" {
		return &text{}, true
	}
	return t, true
}
