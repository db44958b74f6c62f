package rules

import (
	"bytes"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// file is one loaded Source with its line table.
type file struct {
	name  string
	index int    // 1-based position among the sources given to Load
	data  []byte // the raw text
	text  string // the raw text again, so that diagnostic lines share it
	lines []int  // byte offset of the start of each line
}

func newFile(name string, index int, data []byte) *file {
	// Drop a UTF-8 byte order mark, so that columns on the first line count
	// from the first visible character as they do on the others.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	f := &file{name: name, index: index, data: data, text: string(data), lines: []int{0}}
	for i, c := range data {
		if c == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	return f
}

// position converts a byte offset to a Position.
func (f *file) position(off int) Position {
	if off < 0 {
		off = 0
	}
	if off > len(f.data) {
		off = len(f.data)
	}
	i := sort.SearchInts(f.lines, off+1) - 1 // last line start <= off
	if i < 0 {
		i = 0
	}
	return Position{File: f.name, Line: i + 1, Col: off - f.lines[i] + 1}
}

// lineText returns line (1-based) without its line terminator.
func (f *file) lineText(line int) string {
	if line < 1 || line > len(f.lines) {
		return ""
	}
	start := f.lines[line-1]
	end := len(f.data)
	if line < len(f.lines) {
		end = f.lines[line] - 1
	}
	if end > start && f.data[end-1] == '\r' {
		end--
	}
	if end < start {
		return ""
	}
	return f.text[start:end]
}

// offsetOf converts a yaml.v3 mark (1-based line, 1-based column counted in
// characters) to a byte offset.
func (f *file) offsetOf(line, col int) int {
	if line < 1 || line > len(f.lines) {
		return len(f.data)
	}
	off := f.lines[line-1]
	for c := 1; c < col && off < len(f.data) && f.data[off] != '\n'; c++ {
		_, size := utf8.DecodeRune(f.data[off:])
		off += size
	}
	return off
}

// loc is a byte offset in a file.
type loc struct {
	f   *file
	off int
}

func (l loc) position() Position {
	if l.f == nil {
		return Position{}
	}
	return l.f.position(l.off)
}

// diag builds a positioned Diagnostic with the source line filled in.
func (l loc) diag(sev Severity, code, item, msg string) Diagnostic {
	d := Diagnostic{Severity: sev, Code: code, Item: item, Msg: msg}
	if l.f != nil {
		d.Pos = l.position()
		d.Line = l.f.lineText(d.Pos.Line)
		d.file = l.f.index
	}
	return d
}

// nodeLoc returns the location of a YAML node.
func nodeLoc(f *file, n *yaml.Node) loc {
	if n == nil || f == nil {
		return loc{f: f}
	}
	return loc{f: f, off: f.offsetOf(n.Line, n.Column)}
}

// scalar is a YAML scalar whose decoded value may be turned back into file
// positions byte by byte.
//
// yaml.Node only gives the position of the scalar's start. Folding, block
// indentation and quoting change only whitespace (and escapes), so the exact
// position of value[i] is recovered by matching the value's non-whitespace
// bytes in order against the raw source from the scalar's start. When that
// fails (an unusual escape, a re-encoded file), every offset maps to the
// scalar's start.
type scalar struct {
	f     *file
	node  *yaml.Node
	value string
	start int       // byte offset of the node in f.data
	once  sync.Once // computes offs on first use; a Set may be shared
	offs  []int     // byte offset in f.data of each byte of value; nil if unmappable
}

func newScalar(f *file, n *yaml.Node) *scalar {
	return &scalar{f: f, node: n, value: n.Value, start: f.offsetOf(n.Line, n.Column)}
}

// loc returns the file location of value[i]; i == len(value) is the
// position just after the last byte.
func (sc *scalar) loc(i int) loc {
	sc.once.Do(func() { sc.offs = mapScalar(sc.f.data, sc.start, sc.node.Style, sc.value) })
	if len(sc.offs) == 0 {
		return loc{f: sc.f, off: sc.start}
	}
	if i < 0 {
		i = 0
	}
	if i >= len(sc.offs) {
		// Just after the last byte. Trailing blanks already map there.
		last := len(sc.offs) - 1
		if isBlank(sc.value[last]) {
			return loc{f: sc.f, off: sc.offs[last]}
		}
		return loc{f: sc.f, off: sc.offs[last] + 1}
	}
	return loc{f: sc.f, off: sc.offs[i]}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// mapScalar returns, for each byte of value, its byte offset in src, or nil
// when the value cannot be matched against the source.
func mapScalar(src []byte, p int, style yaml.Style, value string) []int {
	if p < 0 || p > len(src) || len(value) == 0 {
		return nil
	}
	// Skip a tag and an anchor in front of the scalar: "!!str x", "&a x".
	for p < len(src) && (src[p] == '!' || src[p] == '&') {
		for p < len(src) && !isBlank(src[p]) {
			p++
		}
		for p < len(src) && isBlank(src[p]) {
			p++
		}
	}
	dq, sq := false, false
	switch {
	case style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// Skip the header line ("|", ">-", "> # comment").
		for p < len(src) && src[p] != '\n' {
			p++
		}
	case style&yaml.DoubleQuotedStyle != 0:
		if p >= len(src) || src[p] != '"' {
			return nil
		}
		p++
		dq = true
	case style&yaml.SingleQuotedStyle != 0:
		if p >= len(src) || src[p] != '\'' {
			return nil
		}
		p++
		sq = true
	}
	offs := make([]int, len(value))
	for i := 0; i < len(value); {
		c := value[i]
		if isBlank(c) {
			offs[i] = -1
			i++
			continue
		}
		matched := false
		for !matched {
			if p >= len(src) {
				return nil
			}
			s := src[p]
			switch {
			case isBlank(s):
				p++
			case dq && s == '\\':
				dec, n, ok := yamlEscape(src[p:])
				if !ok {
					return nil
				}
				if allBlank(dec) {
					p += n
					continue
				}
				if i+len(dec) > len(value) || value[i:i+len(dec)] != string(dec) {
					return nil
				}
				for k := range dec {
					offs[i+k] = p
				}
				i += len(dec)
				p += n
				matched = true
			case sq && s == '\'':
				if c != '\'' || p+1 >= len(src) || src[p+1] != '\'' {
					return nil
				}
				offs[i] = p
				i++
				p += 2
				matched = true
			case s == c:
				offs[i] = p
				i++
				p++
				matched = true
			default:
				return nil
			}
		}
	}
	// Blanks map to just after the previous non-blank byte, or to the first
	// non-blank byte when they lead the value.
	prev := -1
	for i := range offs {
		if offs[i] >= 0 {
			prev = offs[i]
			continue
		}
		if prev >= 0 {
			offs[i] = prev + 1
		}
	}
	next := -1
	for i := len(offs) - 1; i >= 0; i-- {
		if offs[i] >= 0 {
			next = offs[i]
			continue
		}
		if next < 0 {
			return nil // no non-blank byte at all
		}
		offs[i] = next
	}
	return offs
}

func allBlank(b []byte) bool {
	for _, c := range b {
		if !isBlank(c) {
			return false
		}
	}
	return true
}

// yamlEscape decodes the double-quoted escape sequence at the start of s
// (which begins with a backslash). It returns the decoded bytes and the
// length of the sequence. A line continuation decodes to nothing.
func yamlEscape(s []byte) ([]byte, int, bool) {
	if len(s) < 2 {
		return nil, 0, false
	}
	switch c := s[1]; c {
	case '0':
		return []byte{0}, 2, true
	case 'a':
		return []byte{7}, 2, true
	case 'b':
		return []byte{8}, 2, true
	case 't', '\t':
		return []byte{'\t'}, 2, true
	case 'n':
		return []byte{'\n'}, 2, true
	case 'v':
		return []byte{11}, 2, true
	case 'f':
		return []byte{12}, 2, true
	case 'r':
		return []byte{'\r'}, 2, true
	case 'e':
		return []byte{0x1b}, 2, true
	case ' ', '"', '/', '\\':
		return []byte{c}, 2, true
	case 'N':
		return []byte("\u0085"), 2, true
	case '_':
		return []byte("\u00a0"), 2, true
	case 'L':
		return []byte("\u2028"), 2, true
	case 'P':
		return []byte("\u2029"), 2, true
	case '\n':
		return nil, 2, true
	case '\r':
		if len(s) > 2 && s[2] == '\n' {
			return nil, 3, true
		}
		return nil, 2, true
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if len(s) < 2+n {
			return nil, 0, false
		}
		v, err := strconv.ParseUint(string(s[2:2+n]), 16, 32)
		if err != nil {
			return nil, 0, false
		}
		return []byte(string(rune(v))), 2 + n, true
	}
	return nil, 0, false
}

// origin says where a byte of a composed text came from: byte off of a
// scalar's value, or a fixed file location.
type origin struct {
	sc  *scalar // if set, the origin is sc.value[off]
	off int
	at  loc // otherwise
}

func (o origin) loc() loc {
	if o.sc != nil {
		return o.sc.loc(o.off)
	}
	return o.at
}
