package rules

import (
	"fmt"
	"sort"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/condition"
	"go.yaml.in/yaml/v3"
)

// Source is one rules file.
type Source struct {
	Name string // printed in diagnostics, normally the file path
	Data []byte // the YAML text
}

// Options configures Load. The zero value gives Falco's defaults for the
// k8s_audit ruleset.
type Options struct {
	EngineVersion   string            // Falco engine version we claim; default DefaultEngineVersion
	Plugins         map[string]string // loaded plugins, name -> version; nil means DefaultPlugins
	Sources         []string          // known event sources; nil means DefaultSources
	MaxConditionLen int               // longest condition as written, in bytes; 0 = condition.DefaultMaxLen
	MaxExpandedLen  int               // longest condition after list substitution and appends; 0 = DefaultMaxExpandedLen
	MaxDepth        int               // passed to condition.Parse as MaxDepth; 0 = its default
	MaxFileSize     int64             // largest accepted source in bytes; 0 = DefaultMaxFileSize
}

// Defaults used for zero Options fields.
const (
	DefaultEngineVersion  = "0.63.0"
	DefaultMaxFileSize    = 16 << 20
	DefaultMaxExpandedLen = 16 << 20 // large allowlists expand a short condition a lot
)

// DefaultPlugins returns the plugins assumed to be loaded when
// Options.Plugins is nil: the versions whose fields Vigil implements.
func DefaultPlugins() map[string]string {
	return map[string]string{"k8saudit": "0.18.0", "json": "0.7.4"}
}

// DefaultSources returns the event sources known when Options.Sources is nil.
func DefaultSources() []string { return []string{"k8s_audit"} }

func (o Options) withDefaults() Options {
	if o.EngineVersion == "" {
		o.EngineVersion = DefaultEngineVersion
	}
	if o.Plugins == nil {
		o.Plugins = DefaultPlugins()
	}
	if o.Sources == nil {
		o.Sources = DefaultSources()
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	return o
}

// Set is the result of loading rules files: the rules, ready for the engine
// to check and compile, and the position tables that map condition and
// output offsets back to the YAML source. Its methods are safe for
// concurrent use.
type Set struct {
	Rules                  []*Rule             // in order of first definition
	RequiredEngineVersion  string              // highest required_engine_version seen, "x.y.z"; "" if none
	RequiredPluginVersions []PluginRequirement // every required_plugin_versions entry, in file order

	texts []posText     // every text handed to condition.Parse, and outputs, by base
	next  condition.Pos // base of the next text
}

// posText is a text registered in the Set's position space.
type posText struct {
	base condition.Pos
	t    *text
}

// Rule is a loaded rule. Its condition has lists substituted, macros
// expanded and exceptions applied.
type Rule struct {
	Name      string         // unique in the Set
	Desc      string         // description, with appends joined by a space
	Output    string         // trimmed of surrounding whitespace
	OutputPos condition.Pos  // Set.Position(OutputPos+i) is the position of Output[i]
	Priority  alert.Priority // Emergency (0) to Debug (7)
	Source    string         // event source, "syscall" unless given
	Tags      []string       // sorted, without duplicates
	Enabled   bool           // disabled rules are still loaded and must still compile

	SkipIfUnknownFilter bool   // unknown fields make the engine skip the rule with a warning
	WarnEvttypes        bool   // only meaningful for the syscall source
	Capture             bool   // syscall capture; irrelevant to k8s_audit
	CaptureDuration     uint64 // syscall capture duration; irrelevant to k8s_audit

	// Condition is the parsed condition: lists substituted, macros spliced in
	// as subtrees (no IdentNode remains) and exceptions applied as
	// "(cond) and not (exc1) and not (exc2) ...". Node positions map back to
	// the YAML source through Set.Position.
	Condition condition.Node
	Pos       condition.Pos // position of the item's "rule:" key (of its last full definition)
	File      string        // file of the last full definition

	// CheckOnly marks a rule whose item has errors elsewhere (an invalid
	// priority, say). Its condition and output are still compiled so that
	// their problems are reported in the same run, but it must not run.
	CheckOnly bool

	// Stateful is the rule's "vigil" key (see Stateful), or nil for a plain
	// rule, which alerts on every event its condition matches.
	Stateful *Stateful
}

// Item returns the diagnostic item label of the rule: rule "Name".
func (r *Rule) Item() string { return itemLabel("rule", r.Name) }

func itemLabel(kind, name string) string { return fmt.Sprintf("%s %q", kind, name) }

// addText registers t in the position space and returns its base.
func (s *Set) addText(t *text) condition.Pos {
	base := s.next
	s.texts = append(s.texts, posText{base: base, t: t})
	s.next += condition.Pos(len(t.s) + 1)
	return base
}

// addLoc registers a single position and returns it.
func (s *Set) addLoc(l loc) condition.Pos {
	return s.addText(&text{s: " ", spans: []span{{org: origin{at: l}}}})
}

func (s *Set) locate(p condition.Pos) loc {
	i := sort.Search(len(s.texts), func(i int) bool { return s.texts[i].base > p }) - 1
	if i < 0 {
		return loc{}
	}
	pt := s.texts[i]
	off := int(p - pt.base)
	if off > len(pt.t.s) {
		off = len(pt.t.s)
	}
	return pt.t.origin(off).loc()
}

// Position maps a position inside any Rule.Condition (including spliced
// macro subtrees and exception checks) or inside an output
// (Rule.OutputPos+offset) back to its place in the YAML source. Bytes that
// came from a list substitution map to the list name's position.
func (s *Set) Position(p condition.Pos) Position { return s.locate(p).position() }

// Diag builds a diagnostic at p with the source line filled in. The engine
// uses it for problems it finds when checking fields and types, for example
//
//	s.Diag(rules.SeverityError, rules.CodeCompileCondition, n.Position(), r.Item(), "unknown field ka.foo")
func (s *Set) Diag(sev Severity, code string, p condition.Pos, item, msg string) Diagnostic {
	return s.locate(p).diag(sev, code, item, msg)
}

// Load reads the sources in order (later files may append to, override or
// redefine items of earlier ones), then expands lists, macros and exceptions
// as Falco does. Unlike Falco, which stops at the first error, it reports
// every independent problem: an item with an error is left out and items
// that depend on it report their own errors. The Set is never nil; rules
// that failed are not in it. The diagnostics are sorted (see Sort).
//
// Load does not know which fields exist: checking fields and outputs is the
// engine's job (see Set.Diag).
func Load(srcs []Source, opts Options) (*Set, []Diagnostic) {
	ld := newLoader(opts.withDefaults())
	for i, src := range srcs {
		ld.readSource(src, i+1)
	}
	ld.checkPlugins()
	ld.compile()
	return ld.set, Sort(ld.diags)
}

// loader holds the state of one Load call.
type loader struct {
	opts    Options
	set     *Set
	diags   []Diagnostic
	sources map[string]bool

	engine   version // opts.EngineVersion
	engineOK bool    // opts.EngineVersion parsed
	maxReq   version // highest required_engine_version
	hasReq   bool

	seq        int // Falco's m_cur_index: counts definitions and appends
	lists      map[string]*listInfo
	listOrder  []*listInfo
	macros     map[string]*macroInfo
	macroOrder []*macroInfo
	rules      map[string]*ruleInfo
	ruleOrder  []*ruleInfo
	expanded   int // nodes created by macro expansion so far
	dropped    int // diagnostics past maxDiagnostics

	// per-file state
	f             *file
	sizes         map[*yaml.Node]int
	aliasBudget   int
	aliasReported bool
}

func newLoader(opts Options) *loader {
	ld := &loader{
		opts:    opts,
		set:     &Set{next: 1},
		sources: map[string]bool{},
		lists:   map[string]*listInfo{},
		macros:  map[string]*macroInfo{},
		rules:   map[string]*ruleInfo{},
	}
	for _, s := range opts.Sources {
		ld.sources[s] = true
	}
	ld.engine, ld.engineOK = parseVersion(opts.EngineVersion)
	if !ld.engineOK {
		ld.add(Diagnostic{Severity: SeverityError, Code: CodeValidate,
			Msg: fmt.Sprintf("invalid engine version option %q: expected \"x.y.z\"", opts.EngineVersion)})
	}
	return ld
}

// maxDiagnostics caps the diagnostics of one Load: a large generated file
// with a systematic mistake would otherwise produce millions.
const maxDiagnostics = 10000

// add records a diagnostic, up to maxDiagnostics; past that it keeps one
// note saying how many were dropped, which is an error if any dropped one
// was.
func (ld *loader) add(d Diagnostic) {
	if len(ld.diags) < maxDiagnostics {
		ld.diags = append(ld.diags, d)
		return
	}
	ld.dropped++
	if len(ld.diags) == maxDiagnostics {
		// file sorts the note after everything else.
		ld.diags = append(ld.diags, Diagnostic{Severity: SeverityWarning, file: 1 << 30})
	}
	note := &ld.diags[maxDiagnostics]
	if d.Severity == SeverityError {
		note.Severity, note.Code = SeverityError, CodeValidate
	}
	note.Msg = fmt.Sprintf("too many problems: %d more not reported", ld.dropped)
}

func (ld *loader) errAt(n *yaml.Node, code, item, msg string) {
	ld.add(nodeLoc(ld.f, n).diag(SeverityError, code, item, msg))
}

func (ld *loader) warnAt(n *yaml.Node, code, item, msg string) {
	ld.add(nodeLoc(ld.f, n).diag(SeverityWarning, code, item, msg))
}

func (ld *loader) diagAt(l loc, sev Severity, code, item, msg string) {
	ld.add(l.diag(sev, code, item, msg))
}

// readSource parses one file and reads its items.
func (ld *loader) readSource(src Source, index int) {
	if int64(len(src.Data)) > ld.opts.MaxFileSize {
		ld.add(Diagnostic{Severity: SeverityError, Code: CodeFileRead,
			Pos: Position{File: src.Name}, file: index,
			Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d", len(src.Data), ld.opts.MaxFileSize)})
		return
	}
	f := newFile(src.Name, index, src.Data)
	ld.f = f
	docs, err := decodeAll(f.data)
	if err != nil {
		ld.add(yamlError(f, err))
		return
	}
	ld.sizes = map[*yaml.Node]int{}
	total := 0
	for _, d := range docs {
		total += ld.subtreeSize(d)
	}
	ld.aliasBudget = aliasBudgetBase + 4*total
	ld.aliasReported = false
	for _, d := range docs {
		ld.readDoc(d)
	}
	ld.sizes = nil
}

// readDoc reads the items of one YAML document.
func (ld *loader) readDoc(doc *yaml.Node) {
	root := doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return
		}
		root = doc.Content[0]
	}
	root = ld.deref(root, "")
	if isNull(root) {
		return
	}
	if root.Kind != yaml.SequenceNode {
		ld.errAt(root, CodeYAMLValidate, "", "Rules content is not yaml array of objects")
		return
	}
	for _, it := range root.Content {
		it = ld.deref(it, "")
		if isNull(it) {
			continue
		}
		ld.readItem(it)
	}
}
