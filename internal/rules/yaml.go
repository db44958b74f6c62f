package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// aliasBudgetBase is the number of nodes that alias dereferences may reach
// in a file beyond a multiple of the file's own node count. Rules files
// rarely use aliases; the budget defeats "billion laughs" documents, which
// would otherwise make the loader walk the same subtree over and over.
const aliasBudgetBase = 100_000

// decodeAll parses every YAML document in data.
func decodeAll(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, err
		}
		docs = append(docs, &n)
	}
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 parse error into a diagnostic. yaml.v3 reports
// a line but no column.
func yamlError(f *file, err error) Diagnostic {
	msg := err.Error()
	d := Diagnostic{Severity: SeverityError, Code: CodeYAMLParse, Pos: Position{File: f.name}, file: f.index}
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.Pos.Line = line
		d.Line = f.lineText(line)
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.Msg = msg
	return d
}

// subtreeSize counts the nodes under n, not following aliases.
func (ld *loader) subtreeSize(n *yaml.Node) int {
	if s, ok := ld.sizes[n]; ok {
		return s
	}
	s := 1
	for _, c := range n.Content {
		s += ld.subtreeSize(c)
	}
	ld.sizes[n] = s
	return s
}

// deref follows an alias, charging the size of its target to the file's
// alias budget. Once the budget is spent, aliases resolve to null and an
// error is reported.
func (ld *loader) deref(n *yaml.Node, item string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 16 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		ld.aliasBudget -= ld.subtreeSize(n.Alias)
		if ld.aliasBudget < 0 {
			if !ld.aliasReported {
				ld.aliasReported = true
				ld.errAt(n, CodeYAMLValidate, item, "document contains excessive aliasing")
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func isScalar(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode && !isNull(n) }

// mapping is a YAML mapping with its keys indexed.
type mapping struct {
	keys []*yaml.Node       // key nodes, in order
	vals []*yaml.Node       // value nodes, aliases not yet followed
	idx  map[string]int     // key text -> index of its first occurrence
	dups []int              // indexes of repeated keys
	item string             // item label for diagnostics
	ld   *loader            // for alias budgets and diagnostics
	memo map[int]*yaml.Node // values with aliases followed
}

// newMapping indexes n, which must be a MappingNode.
func (ld *loader) newMapping(n *yaml.Node) *mapping {
	m := &mapping{idx: map[string]int{}, ld: ld, memo: map[int]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if _, dup := m.idx[k.Value]; dup {
			m.dups = append(m.dups, len(m.keys)-1)
			continue
		}
		m.idx[k.Value] = len(m.keys) - 1
	}
	return m
}

// vet reports repeated keys (an error: yaml-cpp silently keeps the first,
// which hides mistakes) and unknown keys (a warning), and sets the
// mapping's item label.
func (c *itemCheck) vet(m *mapping, known ...string) {
	m.item = c.item
	for _, i := range m.dups {
		k := m.keys[i]
		first := m.keys[m.idx[k.Value]]
		c.errAt(k, CodeYAMLValidate, fmt.Sprintf("duplicate key '%s' (first defined at line %d)", k.Value, first.Line))
	}
	m.checkKeys(known...)
}

func (m *mapping) has(key string) bool {
	_, ok := m.idx[key]
	return ok
}

// get returns the value and key nodes for key, following aliases.
func (m *mapping) get(key string) (val, keyNode *yaml.Node, ok bool) {
	i, ok := m.idx[key]
	if !ok {
		return nil, nil, false
	}
	v, done := m.memo[i]
	if !done {
		v = m.ld.deref(m.vals[i], m.item)
		m.memo[i] = v
	}
	return v, m.keys[i], true
}

// checkKeys warns about keys not in known.
func (m *mapping) checkKeys(known ...string) {
	for _, k := range m.keys {
		if k.Kind == yaml.ScalarNode && slices.Contains(known, k.Value) {
			continue
		}
		name := k.Value
		if k.Kind != yaml.ScalarNode {
			name = "<non-scalar>"
		}
		m.ld.warnAt(k, CodeUnknownKey, m.item, fmt.Sprintf("Unknown key '%s'. The key will be ignored.", name))
	}
}

// itemCheck collects the errors of one item, so that the item can be
// dropped if it has any.
type itemCheck struct {
	ld     *loader
	item   string     // item label
	at     *yaml.Node // where item-level problems are reported
	errors *int       // shared with sub-checks
}

func (ld *loader) check(item string, at *yaml.Node) *itemCheck {
	return &itemCheck{ld: ld, item: item, at: at, errors: new(int)}
}

// sub returns a check for a part of the item (an exception, a plugin
// entry) that reports item-level problems at at and counts its errors
// with the item's.
func (c *itemCheck) sub(at *yaml.Node) *itemCheck {
	return &itemCheck{ld: c.ld, item: c.item, at: at, errors: c.errors}
}

func (c *itemCheck) errAt(n *yaml.Node, code, msg string) {
	*c.errors++
	c.ld.errAt(n, code, c.item, msg)
}

// errLoc reports an error at a location that is not a YAML node.
func (c *itemCheck) errLoc(l loc, code, msg string) {
	*c.errors++
	c.ld.diagAt(l, SeverityError, code, c.item, msg)
}

func (c *itemCheck) err(msg string) { c.errAt(c.at, CodeYAMLValidate, msg) }

func (c *itemCheck) warnAt(n *yaml.Node, code, msg string) { c.ld.warnAt(n, code, c.item, msg) }

func (c *itemCheck) failed() bool { return *c.errors > 0 }

// str decodes key as a non-empty scalar, as Falco's decode_val does. When
// required is false a missing key is not an error. It returns the value
// node, or nil when the key is missing or wrong.
func (c *itemCheck) str(m *mapping, key string, required bool) *yaml.Node {
	v, k, ok := m.get(key)
	if !ok {
		if required {
			c.err(fmt.Sprintf("Item has no mapping for key '%s'", key))
		}
		return nil
	}
	switch {
	case isNull(v):
		c.errAt(k, CodeYAMLValidate, fmt.Sprintf("Mapping for key '%s' is empty", key))
	case v.Kind != yaml.ScalarNode:
		c.errAt(v, CodeYAMLValidate, "Value is not a scalar value")
	case v.Value == "":
		c.errAt(v, CodeYAMLValidate, "Value must be non-empty")
	default:
		return v
	}
	return nil
}

// boolean decodes an optional boolean the way yaml-cpp does (true/false,
// yes/no, on/off, y/n in lower, upper or title case).
func (c *itemCheck) boolean(m *mapping, key string, required bool) (val, present bool) {
	v := c.str(m, key, required)
	if v == nil {
		return false, false
	}
	b, ok := parseBool(v.Value)
	if !ok {
		c.errAt(v, CodeYAMLValidate, "Can't decode YAML scalar value")
		return false, false
	}
	return b, true
}

func parseBool(s string) (bool, bool) {
	if s == "" {
		return false, false
	}
	l := strings.ToLower(s)
	if s != l && s != strings.ToUpper(s) && s != strings.ToUpper(s[:1])+l[1:] {
		return false, false
	}
	switch l {
	case "y", "yes", "true", "on":
		return true, true
	case "n", "no", "false", "off":
		return false, true
	}
	return false, false
}

// uint decodes an unsigned integer scalar.
func (c *itemCheck) uint(m *mapping, key string) (uint64, bool) {
	v := c.str(m, key, false)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(v.Value, 10, 64)
	if err != nil {
		c.errAt(v, CodeYAMLValidate, "Can't decode YAML scalar value")
		return 0, false
	}
	return n, true
}

// strings decodes a sequence of scalars (list items, tags). It returns the
// item nodes, and false when the value is missing or malformed.
func (c *itemCheck) strings(m *mapping, key string, required bool) ([]*yaml.Node, bool) {
	v, _, ok := m.get(key)
	if !ok {
		if required {
			c.err(fmt.Sprintf("Item has no mapping for key '%s'", key))
		}
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		c.errAt(v, CodeYAMLValidate, "Value is not a sequence")
		return nil, false
	}
	var out []*yaml.Node
	good := true
	for _, it := range v.Content {
		it = c.ld.deref(it, c.item)
		if !isScalar(it) {
			c.errAt(it, CodeYAMLValidate, "sequence value is not scalar")
			good = false
			continue
		}
		out = append(out, it)
	}
	return out, good
}

// overrides decodes the "override" key: a mapping from key to "append" or
// "replace".
func (c *itemCheck) overrides(m *mapping, appendable, replaceable []string) (app, rep map[string]bool) {
	app, rep = map[string]bool{}, map[string]bool{}
	v, _, ok := m.get("override")
	if !ok {
		return app, rep
	}
	if v.Kind != yaml.MappingNode {
		c.errAt(v, CodeYAMLValidate, "value of override must be a mapping")
		return app, rep
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		kn, vn := v.Content[i], c.ld.deref(v.Content[i+1], c.item)
		if kn.Kind != yaml.ScalarNode {
			c.errAt(kn, CodeYAMLValidate, "override keys must be scalars")
			continue
		}
		key := kn.Value
		op := ""
		if vn.Kind == yaml.ScalarNode {
			op = vn.Value
		}
		switch op {
		case "append":
			if !slices.Contains(appendable, key) {
				c.errAt(kn, CodeYAMLValidate, fmt.Sprintf("Key '%s' cannot be appended to, use 'replace' instead", key))
				continue
			}
			app[key] = true
		case "replace":
			if !slices.Contains(replaceable, key) {
				c.errAt(kn, CodeYAMLValidate, fmt.Sprintf("Key '%s' cannot be replaced", key))
				continue
			}
			rep[key] = true
		default:
			var allowed []string
			if slices.Contains(appendable, key) {
				allowed = append(allowed, "append")
			}
			if slices.Contains(replaceable, key) {
				allowed = append(allowed, "replace")
			}
			c.errAt(vn, CodeYAMLValidate, fmt.Sprintf("Invalid override operation for key '%s': '%s'. Allowed values are: %s", key, op, strings.Join(allowed, " ")))
		}
	}
	return app, rep
}
