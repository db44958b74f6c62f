package rules

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/condition"
	"go.yaml.in/yaml/v3"
)

// Falco's messages.
const (
	warnAppend = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."

	warnEnabled = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace')."

	errOverrideAppend = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead."

	errNoPreviousMacro = "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"

	errNoPreviousList = "List uses 'append' or 'override.items: append' but no list by that name already exists"

	errNoPreviousRuleAppend = "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"

	errNoPreviousRuleReplace = "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"

	rgxIdentifier = `([a-zA-Z]+[a-zA-Z0-9_]*)`
	rgxBareStr    = `([^()"'[:space:]=,]+)`
)

var (
	identRe   = regexp.MustCompile(`^[a-zA-Z]+[a-zA-Z0-9_]*$`)
	bareStrRe = regexp.MustCompile("^[^()\"'\t\n\v\f\r =,]+$")
)

// Keys of each item kind.
var (
	listKeys  = []string{"list", "items", "append", "override"}
	macroKeys = []string{"macro", "condition", "append", "override"}
	ruleKeys  = []string{"rule", "condition", "output", "desc", "priority", "source", "enabled", "tags",
		"exceptions", "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration", "append", "override", "vigil"}
	ruleAppendable  = []string{"condition", "exceptions", "output", "desc", "tags"}
	ruleReplaceable = []string{"condition", "exceptions", "output", "desc", "tags", "priority", "enabled",
		"warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration"}
)

type listInfo struct {
	name       string
	items      []string // raw items, after appends
	index      int      // seq of the first definition: the list's place in order
	visibility int      // seq of the last definition or append
	pos        loc      // "list:" key of the last definition
	used       bool
}

type macroInfo struct {
	name       string
	cond       *text // condition text after appends
	index      int
	visibility int
	pos        loc // "macro:" key of the last definition
	used       bool
	failed     bool           // did not parse or resolve
	ast        condition.Node // parsed, then resolved in place
}

type ruleInfo struct {
	name            string
	cond            *text
	output          *text
	desc            string
	priority        alert.Priority
	source          string
	tags            map[string]bool
	enabled         bool
	warnEvttypes    bool
	skipUnknown     bool
	capture         bool
	captureDuration uint64
	exceptions      []*exception
	index           int
	visibility      int
	pos             loc // "rule:" key of the last full definition
	unknownSource   bool
	checkOnly       bool          // the item has errors elsewhere: compiled only to report its condition's and output's problems
	stateful        *statefulInfo // the "vigil" key; nil for a plain rule
}

// label returns `kind "name"` when the item's name is readable, else kind.
func label(m *mapping, kind string) string {
	if v, _, ok := m.get(kind); ok && isScalar(v) && v.Value != "" {
		return itemLabel(kind, v.Value)
	}
	return kind
}

// readItem reads one top-level item. Its kind is decided by the first of
// required_engine_version, required_plugin_versions, list, macro, rule that
// it has.
func (ld *loader) readItem(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		ld.errAt(n, CodeYAMLValidate, "", "Unexpected element type. Each element should be a yaml associative array.")
		return
	}
	m := ld.newMapping(n)
	switch {
	case m.has("required_engine_version"):
		ld.readEngineVersion(m)
	case m.has("required_plugin_versions"):
		ld.readPluginVersions(m)
	case m.has("list"):
		ld.readList(m)
	case m.has("macro"):
		ld.readMacro(m)
	case m.has("rule"):
		ld.readRule(m)
	default:
		ld.warnAt(n, CodeUnknownItem, "", "Unknown top level item")
	}
}

func (ld *loader) readEngineVersion(m *mapping) {
	_, key, _ := m.get("required_engine_version")
	c := ld.check("required_engine_version", key)
	c.vet(m, "required_engine_version")
	v := c.str(m, "required_engine_version", true)
	if v == nil || c.failed() {
		return
	}
	var req version
	if n, err := strconv.ParseUint(v.Value, 10, 32); err == nil {
		req = version{0, n, 0}
	} else if r, ok := parseVersion(v.Value); ok {
		req = r
	} else {
		c.errAt(v, CodeYAMLValidate, fmt.Sprintf("Unable to parse engine version '%s' as a semver string. Expected \"x.y.z\" semver format.", v.Value))
		return
	}
	if ld.engineOK && !ld.engine.compatibleWith(req) {
		c.errAt(v, CodeValidate, fmt.Sprintf("Rules require engine version %s, but engine version is %s", req, ld.engine))
		return
	}
	if !ld.hasReq || ld.maxReq.less(req) {
		ld.maxReq, ld.hasReq = req, true
		ld.set.RequiredEngineVersion = req.String()
	}
}

func (ld *loader) readPluginVersions(m *mapping) {
	v, key, _ := m.get("required_plugin_versions")
	c := ld.check("required_plugin_versions", key)
	c.vet(m, "required_plugin_versions")
	if v.Kind != yaml.SequenceNode {
		c.errAt(v, CodeYAMLValidate, "Value of required_plugin_versions must be a sequence")
		return
	}
	for _, e := range v.Content {
		e = ld.deref(e, c.item)
		// Each entry stands on its own.
		ec := ld.check("required_plugin_versions", e)
		if e.Kind != yaml.MappingNode {
			ec.errAt(e, CodeYAMLValidate, "Plugin version must be a mapping")
			continue
		}
		em := ld.newMapping(e)
		if nv, _, ok := em.get("name"); ok && isScalar(nv) {
			ec.item = itemLabel("plugin", nv.Value)
		}
		ec.vet(em, "name", "version", "alternatives")
		var req PluginRequirement
		req.pos = nodeLoc(ld.f, e)
		add := func(c *itemCheck, em *mapping) {
			name := c.str(em, "name", true)
			ver := c.str(em, "version", true)
			if name != nil && ver != nil {
				req.Alternatives = append(req.Alternatives, PluginVersion{Name: name.Value, Version: ver.Value})
			}
		}
		add(ec, em)
		if alts, _, ok := em.get("alternatives"); ok {
			if alts.Kind != yaml.SequenceNode {
				ec.errAt(alts, CodeYAMLValidate, "Value of plugin version alternatives must be a sequence")
			} else {
				for _, a := range alts.Content {
					a = ld.deref(a, ec.item)
					if a.Kind != yaml.MappingNode {
						ec.errAt(a, CodeYAMLValidate, "Plugin version alternative must be a mapping")
						continue
					}
					am := ld.newMapping(a)
					ac := ec.sub(a)
					ac.vet(am, "name", "version")
					add(ac, am)
				}
			}
		}
		if ec.failed() {
			continue
		}
		seen := map[string]bool{}
		for _, a := range req.Alternatives {
			if _, ok := parseVersion(a.Version); !ok {
				ec.errAt(e, CodeValidate, fmt.Sprintf("Invalid required version '%s' for plugin '%s'", a.Version, a.Name))
			}
			if seen[a.Name] {
				ec.errAt(e, CodeValidate, fmt.Sprintf("Defined multiple alternative version requirements for plugin '%s'", a.Name))
			}
			seen[a.Name] = true
		}
		if !ec.failed() {
			ld.set.RequiredPluginVersions = append(ld.set.RequiredPluginVersions, req)
		}
	}
}

// checkPlugins checks every plugin requirement against the loaded plugins.
func (ld *loader) checkPlugins() {
	for _, req := range ld.set.RequiredPluginVersions {
		satisfied := false
		for _, alt := range req.Alternatives {
			have, loaded := ld.opts.Plugins[alt.Name]
			if !loaded {
				continue
			}
			hv, ok1 := parseVersion(have)
			rv, ok2 := parseVersion(alt.Version)
			if ok1 && ok2 && hv.compatibleWith(rv) {
				satisfied = true
			} else {
				ld.diagAt(req.pos, SeverityError, CodeValidate, itemLabel("plugin", req.Alternatives[0].Name),
					fmt.Sprintf("Plugin '%s' version '%s' is not compatible with required plugin version '%s'", alt.Name, have, alt.Version))
				satisfied = true // reported
			}
			break
		}
		if !satisfied {
			msg := "Plugin requirement not satisfied, must load one of: "
			for i, alt := range req.Alternatives {
				if i > 0 {
					msg += ", "
				}
				msg += fmt.Sprintf("%s (>= %s)", alt.Name, alt.Version)
			}
			ld.diagAt(req.pos, SeverityError, CodeValidate, itemLabel("plugin", req.Alternatives[0].Name), msg)
		}
	}
}

func (ld *loader) readList(m *mapping) {
	_, key, _ := m.get("list")
	c := ld.check(label(m, "list"), key)
	c.vet(m, listKeys...)
	nameNode := c.str(m, "list", true)
	if nameNode == nil {
		return
	}
	name := nameNode.Value
	if !bareStrRe.MatchString(name) {
		c.warnAt(key, CodeInvalidListName, "List has an invalid name. List names should match a regular expression: "+rgxBareStr)
	}
	nodes, _ := c.strings(m, "items", true)
	appendFlag, _ := c.boolean(m, "append", false)
	if appendFlag {
		c.warnAt(key, CodeDeprecatedItem, warnAppend)
	}
	app, rep := c.overrides(m, []string{"items"}, []string{"items"})
	if appendFlag && len(app)+len(rep) > 0 {
		c.err(errOverrideAppend)
	}
	if c.failed() {
		return
	}
	items := make([]string, len(nodes))
	for i, n := range nodes {
		items[i] = n.Value
	}
	prev := ld.lists[name]
	if appendFlag || app["items"] {
		if prev == nil {
			c.errAt(key, CodeValidate, errNoPreviousList)
			return
		}
		prev.items = append(prev.items, items...)
		prev.visibility = ld.seq
		ld.seq++
		return
	}
	if prev != nil {
		prev.items = items
		prev.visibility = ld.seq
		prev.pos = nodeLoc(ld.f, key)
	} else {
		l := &listInfo{name: name, items: items, index: ld.seq, visibility: ld.seq, pos: nodeLoc(ld.f, key)}
		ld.lists[name] = l
		ld.listOrder = append(ld.listOrder, l)
	}
	ld.seq++
}

func (ld *loader) readMacro(m *mapping) {
	_, key, _ := m.get("macro")
	c := ld.check(label(m, "macro"), key)
	c.vet(m, macroKeys...)
	nameNode := c.str(m, "macro", true)
	if nameNode == nil {
		return
	}
	name := nameNode.Value
	if !identRe.MatchString(name) {
		c.warnAt(key, CodeInvalidMacroName, "Macro has an invalid name. Macro names should match a regular expression: "+rgxIdentifier)
	}
	condNode := c.str(m, "condition", true)
	appendFlag, _ := c.boolean(m, "append", false)
	if appendFlag {
		c.warnAt(key, CodeDeprecatedItem, warnAppend)
	}
	app, rep := c.overrides(m, []string{"condition"}, []string{"condition"})
	if appendFlag && len(app)+len(rep) > 0 {
		c.err(errOverrideAppend)
	}
	if c.failed() {
		return
	}
	cond := scalarText(newScalar(ld.f, condNode))
	prev := ld.macros[name]
	if appendFlag || app["condition"] {
		if prev == nil {
			c.errAt(key, CodeValidate, errNoPreviousMacro)
			return
		}
		prev.cond = joinText(prev.cond, cond)
		prev.visibility = ld.seq
		ld.seq++
		return
	}
	if prev != nil {
		prev.cond = cond
		prev.visibility = ld.seq
		prev.pos = nodeLoc(ld.f, key)
	} else {
		mi := &macroInfo{name: name, cond: cond, index: ld.seq, visibility: ld.seq, pos: nodeLoc(ld.f, key)}
		ld.macros[name] = mi
		ld.macroOrder = append(ld.macroOrder, mi)
	}
	ld.seq++
}

// ruleUpdate is what an append or override item carries.
type ruleUpdate struct {
	cond, output    *text
	desc            *string
	tags            []string
	hasTags         bool
	exceptions      []*exception
	hasExceptions   bool
	priority        *alert.Priority
	enabled         *bool
	warnEvttypes    *bool
	skipUnknown     *bool
	capture         *bool
	captureDuration *uint64
}

func (ld *loader) readRule(m *mapping) {
	_, key, _ := m.get("rule")
	c := ld.check(label(m, "rule"), key)
	c.vet(m, ruleKeys...)
	nameNode := c.str(m, "rule", true)
	if nameNode == nil {
		return
	}
	name := nameNode.Value
	appendFlag, _ := c.boolean(m, "append", false)
	if appendFlag {
		c.warnAt(key, CodeDeprecatedItem, warnAppend)
	}
	app, rep := c.overrides(m, ruleAppendable, ruleReplaceable)
	if appendFlag && len(app)+len(rep) > 0 {
		c.err(errOverrideAppend)
	}
	if c.failed() {
		// Falco stops at the first of these; going on would only report
		// consequences of the bad override as if the item were a definition.
		return
	}
	if _, vkey, ok := m.get("vigil"); ok && (appendFlag || len(app)+len(rep) > 0) {
		c.errAt(vkey, CodeYAMLValidate, "vigil: only a rule's full definition can make it stateful, not an append or override")
		return
	}
	switch {
	case len(app)+len(rep) > 0:
		ld.readRuleOverride(c, m, name, app, rep)
	case appendFlag:
		var u ruleUpdate
		if m.has("condition") {
			u.cond = ld.textOf(c.str(m, "condition", true))
		}
		if m.has("exceptions") {
			u.exceptions, u.hasExceptions = ld.readExceptions(c, m, true)
		}
		if c.failed() {
			return
		}
		ld.appendRule(c, name, &u)
	default:
		ld.defineRule(c, m, name, key)
	}
}

// textOf returns the text of a scalar node, or nil.
func (ld *loader) textOf(n *yaml.Node) *text {
	if n == nil {
		return nil
	}
	return scalarText(newScalar(ld.f, n))
}

// decodeUpdate decodes key of an override item into u.
func (ld *loader) decodeUpdate(c *itemCheck, m *mapping, key string, u *ruleUpdate) {
	boolKey := func() *bool {
		if b, ok := c.boolean(m, key, true); ok {
			return &b
		}
		return nil
	}
	switch key {
	case "condition":
		u.cond = ld.textOf(c.str(m, key, true))
	case "output":
		u.output = ld.textOf(c.str(m, key, true))
	case "desc":
		if v := c.str(m, key, true); v != nil {
			u.desc = &v.Value
		}
	case "tags":
		nodes, _ := c.strings(m, key, true)
		for _, n := range nodes {
			u.tags = append(u.tags, n.Value)
		}
		u.hasTags = true
	case "exceptions":
		u.exceptions, u.hasExceptions = ld.readExceptions(c, m, true)
	case "priority":
		if v := c.str(m, key, true); v != nil {
			p, err := alert.ParsePriority(v.Value)
			if err != nil {
				c.errAt(v, CodeYAMLValidate, "Invalid priority")
			}
			u.priority = &p
		}
	case "enabled":
		u.enabled = boolKey()
	case "warn_evttypes":
		u.warnEvttypes = boolKey()
	case "skip-if-unknown-filter":
		u.skipUnknown = boolKey()
	case "capture":
		u.capture = boolKey()
	case "capture_duration":
		if n, ok := c.uint(m, key); ok {
			u.captureDuration = &n
		}
	}
}

func (ld *loader) readRuleOverride(c *itemCheck, m *mapping, name string, app, rep map[string]bool) {
	expected := map[string]bool{}
	for _, k := range ruleReplaceable { // a superset of ruleAppendable
		if m.has(k) {
			expected[k] = true
		}
	}
	var appU, repU ruleUpdate
	for _, pass := range []struct {
		verb string
		keys []string
		set  map[string]bool
		u    *ruleUpdate
	}{{"append", ruleAppendable, app, &appU}, {"replace", ruleReplaceable, rep, &repU}} {
		for _, k := range pass.keys {
			if !pass.set[k] {
				continue
			}
			if !expected[k] {
				c.err(fmt.Sprintf("An %s override for '%s' was specified but '%s' is not defined", pass.verb, k, k))
				continue
			}
			delete(expected, k)
			ld.decodeUpdate(c, m, k, pass.u)
		}
	}
	for i, k := range m.keys {
		if expected[k.Value] && m.idx[k.Value] == i {
			c.errAt(k, CodeYAMLValidate, fmt.Sprintf("Unexpected key '%s': no corresponding entry under 'override' is defined.", k.Value))
		}
	}
	if c.failed() {
		return
	}
	if len(app) > 0 && !ld.appendRule(c, name, &appU) {
		return
	}
	if len(rep) > 0 {
		ld.replaceRule(c, name, &repU)
	}
}

// appendRule applies an append (append: true or override ...: append).
func (ld *loader) appendRule(c *itemCheck, name string, u *ruleUpdate) bool {
	prev := ld.rules[name]
	if prev == nil {
		c.errLoc(nodeLoc(ld.f, c.at), CodeValidate, errNoPreviousRuleAppend)
		return false
	}
	if u.cond == nil && !u.hasExceptions && u.output == nil && u.desc == nil && !u.hasTags {
		c.errLoc(nodeLoc(ld.f, c.at), CodeValidate, "Appended rule must have exceptions or condition property")
		return false
	}
	// Merge exceptions into a copy, so that nothing changes if one fails.
	exs := make([]*exception, len(prev.exceptions))
	for i, ex := range prev.exceptions {
		cp := *ex
		cp.values = append([]*entry(nil), ex.values...)
		exs[i] = &cp
	}
	for _, ex := range u.exceptions {
		var old *exception
		for _, e := range exs {
			if e.name == ex.name {
				old = e
				break
			}
		}
		ec := c.sub(ex.node)
		if old == nil {
			if !ex.fields.valid() {
				ec.errLoc(ex.loc(), CodeValidate, "Rule exception must have fields property with a list of fields")
				continue
			}
			if len(ex.values) == 0 {
				ec.errLoc(ex.loc(), CodeValidate, "Rule exception must have values property with a list of values")
				continue
			}
			ld.validateException(ec, ex)
			exs = append(exs, ex)
			continue
		}
		if ex.fields.valid() {
			ec.errLoc(ex.loc(), CodeValidate, "Can not append exception fields to existing exception, only values")
			continue
		}
		if ex.comps.valid() {
			ec.errLoc(ex.loc(), CodeValidate, "Can not append exception comps to existing exception, only values")
			continue
		}
		old.values = append(old.values, ex.values...)
	}
	if c.failed() {
		return false
	}
	if u.cond != nil && u.cond.s != "" {
		prev.cond = joinText(prev.cond, u.cond)
	}
	if u.output != nil && u.output.s != "" {
		prev.output = joinText(prev.output, u.output)
	}
	if u.desc != nil && *u.desc != "" {
		prev.desc += " " + *u.desc
	}
	for _, t := range u.tags {
		prev.tags[t] = true
	}
	prev.exceptions = exs
	prev.visibility = ld.seq
	ld.seq++
	return true
}

// replaceRule applies an override ...: replace.
func (ld *loader) replaceRule(c *itemCheck, name string, u *ruleUpdate) {
	prev := ld.rules[name]
	if prev == nil {
		c.errLoc(nodeLoc(ld.f, c.at), CodeValidate, errNoPreviousRuleReplace)
		return
	}
	if u.hasExceptions {
		for _, ex := range u.exceptions {
			ec := c.sub(ex.node)
			if !ex.fields.valid() {
				ec.errLoc(ex.loc(), CodeValidate, "Rule exception item must have fields property with a list of fields")
				continue
			}
			ld.validateException(ec, ex)
		}
	}
	if c.failed() {
		return
	}
	if u.cond != nil {
		prev.cond = u.cond
	}
	if u.output != nil {
		prev.output = u.output
	}
	if u.desc != nil {
		prev.desc = *u.desc
	}
	if u.hasTags {
		prev.tags = map[string]bool{}
		for _, t := range u.tags {
			prev.tags[t] = true
		}
	}
	if u.hasExceptions {
		prev.exceptions = u.exceptions
	}
	if u.priority != nil {
		prev.priority = *u.priority
	}
	if u.enabled != nil {
		prev.enabled = *u.enabled
	}
	if u.warnEvttypes != nil {
		prev.warnEvttypes = *u.warnEvttypes
	}
	if u.skipUnknown != nil {
		prev.skipUnknown = *u.skipUnknown
	}
	if u.capture != nil {
		prev.capture = *u.capture
	}
	if u.captureDuration != nil {
		prev.captureDuration = *u.captureDuration
	}
	prev.visibility = ld.seq
	ld.seq++
}

// defineRule reads a full rule definition, or an enable-only item.
func (ld *loader) defineRule(c *itemCheck, m *mapping, name string, key *yaml.Node) {
	if !m.has("condition") && !m.has("output") && !m.has("desc") && !m.has("priority") {
		enabled, ok := c.boolean(m, "enabled", true)
		if !ok || c.failed() {
			return
		}
		c.warnAt(key, CodeDeprecatedItem, warnEnabled)
		prev := ld.rules[name]
		if prev == nil {
			c.errAt(key, CodeValidate, "Rule has 'enabled' key but no rule by that name already exists")
			return
		}
		prev.enabled = enabled
		return
	}
	r := &ruleInfo{name: name, source: "syscall", enabled: true, warnEvttypes: true, tags: map[string]bool{}, pos: nodeLoc(ld.f, key)}
	r.cond = ld.textOf(c.str(m, "condition", true))
	if out := ld.textOf(c.str(m, "output", true)); out != nil {
		r.output = trimText(out)
	}
	if v := c.str(m, "desc", true); v != nil {
		r.desc = v.Value
	}
	if v := c.str(m, "priority", true); v != nil {
		p, err := alert.ParsePriority(v.Value)
		if err != nil {
			c.errAt(v, CodeYAMLValidate, fmt.Sprintf("Invalid priority %q: expected one of emergency, alert, critical, error, warning, notice, informational (or info), debug", v.Value))
		}
		r.priority = p
	}
	if v := c.str(m, "source", false); v != nil {
		r.source = v.Value
	}
	if b, ok := c.boolean(m, "enabled", false); ok {
		r.enabled = b
	}
	if b, ok := c.boolean(m, "warn_evttypes", false); ok {
		r.warnEvttypes = b
	}
	if b, ok := c.boolean(m, "skip-if-unknown-filter", false); ok {
		r.skipUnknown = b
	}
	if b, ok := c.boolean(m, "capture", false); ok {
		r.capture = b
	}
	if n, ok := c.uint(m, "capture_duration"); ok {
		r.captureDuration = n
	}
	tags, _ := c.strings(m, "tags", false)
	for _, t := range tags {
		r.tags[t.Value] = true
	}
	r.exceptions, _ = ld.readExceptions(c, m, false)
	r.stateful = ld.readStateful(c, m)
	if c.failed() {
		if r.cond != nil && r.output != nil && ld.sources[r.source] {
			// Still check the condition and output, so that every
			// problem of the item is reported at once; the rule itself
			// is not kept.
			r.checkOnly, r.exceptions = true, nil
			ld.ruleOrder = append(ld.ruleOrder, r)
		}
		return
	}
	prev := ld.rules[name]
	if prev != nil && prev.source != r.source {
		c.errAt(key, CodeValidate, "Rule has been re-defined with a different source")
		return
	}
	if !ld.sources[r.source] {
		r.unknownSource = true
		c.warnAt(key, CodeUnknownSource, fmt.Sprintf("Unknown source %s, skipping", r.source))
	}
	for _, ex := range r.exceptions {
		ec := c.sub(ex.node)
		if !ex.fields.valid() {
			ec.errLoc(ex.loc(), CodeValidate, "Rule exception item must have fields property with a list of fields")
			continue
		}
		ld.validateException(ec, ex)
	}
	if c.failed() {
		return
	}
	r.visibility = ld.seq
	if prev != nil {
		r.index = prev.index
		*prev = *r
	} else {
		r.index = ld.seq
		ld.rules[name] = r
		ld.ruleOrder = append(ld.ruleOrder, r)
	}
	ld.seq++
}
