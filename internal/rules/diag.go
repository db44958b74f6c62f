package rules

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Severity tells whether a Diagnostic is a warning or an error.
type Severity int

// Severities. An error drops the item it belongs to; a warning does not.
const (
	SeverityWarning Severity = iota
	SeverityError
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == SeverityError {
		return "error"
	}
	return "warning"
}

// Diagnostic codes, named after Falco's load_result classes. Errors start
// with LOAD_ERR_; everything else is a warning.
const (
	CodeFileRead         = "LOAD_ERR_FILE_READ"         // the source is unusable (too large)
	CodeYAMLParse        = "LOAD_ERR_YAML_PARSE"        // YAML syntax error
	CodeYAMLValidate     = "LOAD_ERR_YAML_VALIDATE"     // wrong shape or type
	CodeCompileCondition = "LOAD_ERR_COMPILE_CONDITION" // a condition does not parse or compile
	CodeCompileOutput    = "LOAD_ERR_COMPILE_OUTPUT"    // an output does not compile (engine)
	CodeValidate         = "LOAD_ERR_VALIDATE"          // semantic problem: undefined macro, version mismatch, ...
	CodeUnknownSource    = "LOAD_UNKNOWN_SOURCE"        // rule of a source that is not loaded
	CodeUnsafeNACheck    = "LOAD_UNSAFE_NA_CHECK"       // comparison with the literal <NA>
	CodeUnknownFilter    = "LOAD_UNKNOWN_FILTER"        // unknown field in a skip-if-unknown-filter rule (engine)
	CodeUnusedMacro      = "LOAD_UNUSED_MACRO"          // macro nothing refers to
	CodeUnusedList       = "LOAD_UNUSED_LIST"           // list nothing refers to
	CodeUnknownItem      = "LOAD_UNKNOWN_ITEM"          // top-level item of unknown kind
	CodeUnknownKey       = "LOAD_UNKNOWN_KEY"           // unknown key inside an item
	CodeDeprecatedItem   = "LOAD_DEPRECATED_ITEM"       // append: true, enabled-only items
	CodeAppendNoValues   = "LOAD_APPEND_NO_VALUES"      // appended exception without values
	CodeExceptionName    = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
	CodeInvalidMacroName = "LOAD_INVALID_MACRO_NAME"
	CodeInvalidListName  = "LOAD_INVALID_LIST_NAME"
	CodeCompileWarning   = "LOAD_COMPILE_CONDITION" // condition compiles with a warning (engine)
)

// Position is a place in a rules file. Line and Col are 1-based; Col counts
// bytes, as go/token does. A zero Line means the position is unknown.
type Position struct {
	File string // the Source name
	Line int    // 1-based line, 0 if unknown
	Col  int    // 1-based byte column, 0 if unknown
}

// IsValid reports whether the position has a line.
func (p Position) IsValid() bool { return p.Line > 0 }

// String returns "file:line:col", or less when parts are unknown, in the
// manner of go/token.Position.
func (p Position) String() string {
	s := p.File
	if p.IsValid() {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprint(p.Line)
		if p.Col > 0 {
			s += fmt.Sprintf(":%d", p.Col)
		}
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Diagnostic is one problem found while loading rules: where, in which item,
// and why.
type Diagnostic struct {
	Severity Severity
	Code     string   // Falco class, e.g. LOAD_ERR_COMPILE_CONDITION; see the Code constants
	Pos      Position // where the problem is
	Item     string   // e.g. `rule "K8s Namespace Deleted"`, `macro "kevt"`; "" for file-level problems
	Msg      string   // the reason, in Falco's wording where Falco has one
	Line     string   // the source line at Pos, for Display; "" if unknown

	file int // 1 + index of Pos.File among the sources given to Load; 0 if unknown
}

// Error formats the diagnostic as `file:line:col: error: rule "X": msg`.
func (d Diagnostic) Error() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	if d.Item != "" {
		b.WriteString(d.Item)
		b.WriteString(": ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// maxDisplayLine is the longest source line Display prints whole; longer
// lines (minified YAML) are cut to a window around the column.
const maxDisplayLine = 160

// Display returns Error() followed by the source line and a caret under the
// column. Tabs in the line are copied into the caret line so that the caret
// lines up in a terminal.
func (d Diagnostic) Display() string {
	if d.Line == "" {
		return d.Error()
	}
	line, col := d.Line, d.Pos.Col
	if len(line) > maxDisplayLine {
		line, col = window(line, col)
	}
	var b strings.Builder
	b.WriteString(d.Error())
	b.WriteByte('\n')
	b.WriteString(line)
	if col <= 0 {
		return b.String()
	}
	b.WriteByte('\n')
	prefix := line
	if n := col - 1; n < len(prefix) {
		prefix = prefix[:n]
	}
	for len(prefix) > 0 {
		r, size := utf8.DecodeRuneInString(prefix)
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		prefix = prefix[size:]
	}
	b.WriteByte('^')
	return b.String()
}

// window cuts a long line to about maxDisplayLine bytes around col (1-based)
// and returns it with the column adjusted.
func window(line string, col int) (string, int) {
	start := max(0, col-1-maxDisplayLine/2)
	end := min(len(line), start+maxDisplayLine)
	for start > 0 && !utf8.RuneStart(line[start]) {
		start--
	}
	for end < len(line) && !utf8.RuneStart(line[end]) {
		end++
	}
	out := line[start:end]
	if start > 0 {
		out = "..." + out
		col = col - start + 3
	}
	if end < len(line) {
		out += "..."
	}
	return out, col
}

// HasErrors reports whether ds contains at least one error.
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Sort orders ds in place by file (in the order the files were given to
// Load), then line and column, keeping the original order among equal
// positions. It returns the sorted diagnostics with multiple errors on one
// line reduced to the first, like go/scanner's ErrorList.RemoveMultiples;
// warnings are all kept. The result is a new slice: ds itself stays
// complete, so callers must use the result to drop the multiples:
//
//	diags = rules.Sort(diags)
func Sort(ds []Diagnostic) []Diagnostic {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
	type lineKey struct {
		file int
		name string
		line int
	}
	seen := make(map[lineKey]bool)
	out := make([]Diagnostic, 0, len(ds))
	for _, d := range ds {
		if d.Severity == SeverityError && d.Pos.Line > 0 {
			k := lineKey{d.file, d.Pos.File, d.Pos.Line}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, d)
	}
	return out
}
