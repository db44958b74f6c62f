package condition

import (
	"fmt"
	"runtime"
	"strings"
)

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxLen   = 100000 // bytes of condition text
	DefaultMaxDepth = 1000   // nesting of parentheses, not, transformers and val()
)

// Options control Parse.
type Options struct {
	// Base is added to every byte offset, in node and error positions.
	Base Pos
	// MaxLen is the longest accepted text in bytes; 0 means DefaultMaxLen.
	MaxLen int
	// MaxDepth is the deepest accepted nesting of parentheses, "not",
	// transformers and val(); 0 means DefaultMaxDepth.
	MaxDepth int
}

// Error is a syntax error in a condition.
type Error struct {
	Pos Pos    // Options.Base plus the byte offset of the offending token
	Msg string // what went wrong, in lower case
}

// Error returns the position and the message, as "pos: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("%d: %s", e.Pos, e.Msg)
}

// operatorList is the list of check operators for error messages, in the
// order libsinsp gives it.
const operatorList = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', " +
	"'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', " +
	"'intersects', 'in', 'pmatch'"

// isNumOp reports whether op takes a number on its right.
func isNumOp(op string) bool {
	switch op {
	case "<", "<=", ">", ">=":
		return true
	}
	return false
}

// isStrOp reports whether op takes a single value on its right.
func isStrOp(op string) bool {
	switch op {
	case "=", "==", "!=", "contains", "icontains", "bcontains", "startswith",
		"bstartswith", "endswith", "glob", "iglob", "regex":
		return true
	}
	return false
}

// isWordStrOp reports whether op is a string operator spelled as a word.
func isWordStrOp(op string) bool {
	return isStrOp(op) && isLetter(op[0])
}

// isListOp reports whether op takes a list on its right.
func isListOp(op string) bool {
	switch op {
	case "in", "intersects", "pmatch":
		return true
	}
	return false
}

// isModifier reports whether s is a modifier of a string operator.
func isModifier(s string) bool {
	switch s {
	case "oneof", "anyof", "allof":
		return true
	}
	return false
}

// isTransformer reports whether name is a field transformer or val.
func isTransformer(name string) bool {
	switch name {
	case "tolower", "toupper", "basename", "b64", "len", "val":
		return true
	}
	return false
}

// IsOperator reports whether op is a comparison operator of the grammar:
// "exists", "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains",
// "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob",
// "regex", "in", "intersects", "pmatch", or a string operator and a modifier
// separated by one space, such as "contains anyof" (modifiers: oneof, anyof,
// allof).
func IsOperator(op string) bool {
	if base, mod, ok := strings.Cut(op, " "); ok {
		return isStrOp(base) && isModifier(mod)
	}
	return op == "exists" || isNumOp(op) || isStrOp(op) || isListOp(op)
}

// parser is a recursive descent parser with one item of lookahead.
type parser struct {
	lex      *lexer
	tok      item // the current item: the last one read, or the lookahead
	peeked   bool // tok has been peeked at but not consumed
	prev     item // the item consumed before tok
	base     Pos  // added to every offset
	depth    int  // current nesting
	maxDepth int  // nesting limit
}

// Parse parses a condition. Node positions are opts.Base plus byte offsets
// into text. A non-nil error is always an *Error.
func Parse(text string, opts Options) (node Node, err error) {
	maxLen := opts.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	maxDepth := opts.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if len(text) > maxLen {
		return nil, &Error{Pos: opts.Base, Msg: fmt.Sprintf("condition too long: %d bytes, limit %d", len(text), maxLen)}
	}
	if strings.Trim(text, " \t\n\r\b") == "" {
		return nil, &Error{Pos: opts.Base, Msg: "filter input string is empty"}
	}
	p := &parser{lex: newLexer(text), base: opts.Base, maxDepth: maxDepth}
	defer p.recover(&node, &err)
	return p.parse(), nil
}

// recover turns a syntax error panic into a returned error, as
// text/template/parse does. Runtime errors are bugs and panic again.
func (p *parser) recover(node *Node, errp *error) {
	e := recover()
	if e == nil {
		return
	}
	if _, ok := e.(runtime.Error); ok {
		panic(e)
	}
	synErr, ok := e.(*Error)
	if !ok {
		panic(e)
	}
	*node = nil
	*errp = synErr
}

// errorf stops parsing with an error at byte offset off.
func (p *parser) errorf(off int, format string, args ...any) {
	panic(&Error{Pos: p.base + Pos(off), Msg: fmt.Sprintf(format, args...)})
}

// unexpected stops parsing because of item i, found where something else
// was expected. where is "in list", "after '='" and the like.
func (p *parser) unexpected(i item, where, expected string) {
	if i.typ == itemError {
		p.errorf(i.pos, "%s", i.text)
	}
	p.errorf(i.pos, "unexpected %s %s, expected %s", describe(i), where, expected)
}

// next consumes and returns the next item.
func (p *parser) next() item {
	if p.peeked {
		p.peeked = false
	} else {
		p.prev = p.tok
		p.tok = p.lex.nextItem()
	}
	if p.tok.typ == itemError {
		p.errorf(p.tok.pos, "%s", p.tok.text)
	}
	return p.tok
}

// peek returns the next item without consuming it.
func (p *parser) peek() item {
	if !p.peeked {
		p.prev = p.tok
		p.tok = p.lex.nextItem()
		p.peeked = true
	}
	return p.tok
}

// setMode sets how the lexer reads the next item. If an item has been
// peeked at in the other mode, it is dropped and read again.
func (p *parser) setMode(m lexMode) {
	if p.peeked {
		pos := p.tok.pos
		p.peeked = false
		p.tok = p.prev
		p.lex.reset(pos, m)
		return
	}
	p.lex.mode = m
}

// pos converts a byte offset into a Pos.
func (p *parser) pos(off int) Pos {
	return p.base + Pos(off)
}

// enter records one more level of nesting, at item i.
func (p *parser) enter(i item) {
	p.depth++
	if p.depth > p.maxDepth {
		p.errorf(i.pos, "max expression depth exceeded")
	}
}

// leave undoes enter.
func (p *parser) leave() {
	p.depth--
}

// requireBlank checks that the keyword or word operator i is followed by
// whitespace, or by '(' if paren is set.
func (p *parser) requireBlank(i item, paren bool) {
	end := i.pos + len(i.text)
	if end < len(p.lex.input) {
		c := p.lex.input[end]
		if isBlank(c) || paren && c == '(' {
			return
		}
	}
	if paren {
		p.errorf(end, "expected blank or '(' after '%s'", i.text)
	}
	p.errorf(end, "expected blank after '%s'", i.text)
}

// parse parses a whole condition and checks that nothing follows it.
//
//	Condition ::= Expr EOF
func (p *parser) parse() Node {
	n := p.parseExpr()
	if t := p.next(); t.typ != itemEOF {
		p.errorf(t.pos, "unexpected token after %s, expecting 'or', 'and'", quoteForMessage(p.prev.text))
	}
	return n
}

// parseExpr parses an expression; "or" binds loosest.
//
//	Expr ::= AndExpr ( 'or' AndExpr )*
func (p *parser) parseExpr() Node {
	start := p.peek().pos
	first := p.parseAnd()
	if p.peek().typ != itemOr {
		return first
	}
	children := []Node{first}
	for p.peek().typ == itemOr {
		p.requireBlank(p.next(), true)
		children = append(children, p.parseAnd())
	}
	return &BinaryNode{Pos: p.pos(start), Op: Or, Children: children}
}

// parseAnd parses a chain of "and".
//
//	AndExpr ::= NotExpr ( 'and' NotExpr )*
func (p *parser) parseAnd() Node {
	start := p.peek().pos
	first := p.parseNot()
	if p.peek().typ != itemAnd {
		return first
	}
	children := []Node{first}
	for p.peek().typ == itemAnd {
		p.requireBlank(p.next(), true)
		children = append(children, p.parseNot())
	}
	return &BinaryNode{Pos: p.pos(start), Op: And, Children: children}
}

// parseNot parses any number of "not" before a check. Each "not" is kept as
// a NotNode, so "not not a" prints back as written.
//
//	NotExpr ::= 'not' NotExpr | Check     -- 'not' followed by blank or '('
func (p *parser) parseNot() Node {
	t := p.peek()
	if t.typ != itemNot {
		return p.parseCheck()
	}
	p.next()
	p.requireBlank(t, true)
	p.enter(t)
	x := p.parseNot()
	p.leave()
	return &NotNode{Pos: p.pos(t.pos), X: x}
}

// parseCheck parses a parenthesised expression, a check or a macro name.
//
//	Check ::= '(' Expr ')'
//	        | Operand CheckTail
//	        | Identifier
func (p *parser) parseCheck() Node {
	switch t := p.next(); t.typ {
	case itemLeftParen:
		p.enter(t)
		x := p.parseExpr()
		if c := p.next(); c.typ != itemRightParen {
			p.unexpected(c, "in parenthesized expression", "'and', 'or' or ')'")
		}
		p.leave()
		return x
	case itemField:
		return p.parseCheckTail(p.parseField(t))
	case itemTransformer:
		if t.text != "val" {
			return p.parseCheckTail(p.parseTransformer(t))
		}
	case itemIdentifier:
		return &IdentNode{Pos: p.pos(t.pos), Name: t.text}
	}
	p.unexpected(p.tok, "in condition", "'(', 'not', a field, a transformer or an identifier")
	return nil
}

// parseOperand parses a field or a transformer applied to one.
//
//	Operand ::= Field | Transformer
func (p *parser) parseOperand(where string) Operand {
	switch t := p.next(); t.typ {
	case itemField:
		return p.parseField(t)
	case itemTransformer:
		if t.text != "val" {
			return p.parseTransformer(t)
		}
	}
	p.unexpected(p.tok, where, "a field or a transformer")
	return nil
}

// parseField parses the optional argument of field t.
//
//	Field    ::= FieldName ( '[' FieldArg ']' )?     -- no blank before '['
//	FieldArg ::= QuotedString | BalancedText
func (p *parser) parseField(t item) *FieldNode {
	f := &FieldNode{Pos: p.pos(t.pos), Name: t.text}
	if p.peek().typ != itemFieldArg {
		return f
	}
	a := p.next()
	arg := a.text[1 : len(a.text)-1]
	if arg != "" && (arg[0] == '"' || arg[0] == '\'') {
		arg = p.unquote(arg, a.pos+1)
	}
	f.Arg, f.HasArg = arg, true
	return f
}

// parseTransformer parses the rest of a transformer whose name is t.
//
//	Transformer     ::= TransformerName '(' Operand ')'
//	TransformerName ::= 'tolower' | 'toupper' | 'basename' | 'b64' | 'len'
func (p *parser) parseTransformer(t item) *TransformNode {
	p.setMode(modeExpr)
	p.enter(t)
	p.next() // '(': the lexer emits a transformer only before one
	where := "in " + t.text + "()"
	x := p.parseOperand(where)
	if c := p.next(); c.typ != itemRightParen {
		p.unexpected(c, where, "')'")
	}
	p.leave()
	return &TransformNode{Pos: p.pos(t.pos), Name: t.text, X: x}
}

// parseFieldValue parses the rest of val(...), whose "val" is t.
//
//	FieldValue ::= 'val' '(' Operand ')'
func (p *parser) parseFieldValue(t item) *FieldValueNode {
	p.setMode(modeExpr)
	p.enter(t)
	p.next() // '('
	x := p.parseOperand("in val()")
	if c := p.next(); c.typ != itemRightParen {
		p.unexpected(c, "in val()", "')'")
	}
	p.leave()
	return &FieldValueNode{Pos: p.pos(t.pos), X: x}
}

// parseCheckTail parses the operator and right-hand side of a check.
//
//	CheckTail ::= 'exists'
//	            | NumOp NumRHS
//	            | StrOp StrRHS
//	            | StrOp Modifier List
//	            | ListOp ListRHS
//	NumOp     ::= '<' | '<=' | '>' | '>='
//	StrOp     ::= '=' | '==' | '!=' | 'contains' | 'icontains' | 'bcontains'
//	            | 'startswith' | 'bstartswith' | 'endswith' | 'glob' | 'iglob' | 'regex'
//	ListOp    ::= 'in' | 'intersects' | 'pmatch'
//	Modifier  ::= 'oneof' | 'anyof' | 'allof'
//
// Symbol operators need no blank after them; word operators do, except
// that a list operator may be followed directly by '('.
func (p *parser) parseCheckTail(left Operand) Node {
	c := &CheckNode{Pos: left.Position(), Left: left}
	t := p.next()
	switch {
	case t.typ == itemIdentifier && t.text == "exists":
		c.Op = "exists"
	case t.typ == itemOperator && isNumOp(t.text):
		c.Op = t.text
		c.Right = p.parseNumRHS(t)
	case t.typ == itemOperator:
		c.Op, c.Right = p.parseStrRHS(t)
	case t.typ == itemIdentifier && isWordStrOp(t.text):
		p.requireBlank(t, false)
		c.Op, c.Right = p.parseStrRHS(t)
	case t.typ == itemIdentifier && isListOp(t.text):
		p.requireBlank(t, true)
		c.Op = t.text
		c.Right = p.parseListRHS(t)
	default:
		p.errorf(t.pos, "expected a valid check operator: one of %s", operatorList)
	}
	return c
}

// parseNumRHS parses the right side of a numeric operator op.
//
//	NumRHS ::= Number | Transformer | FieldValue
//	Number ::= '0' [xX] HexDigit+ | [+-]? Digit+ ( '.' Digit* )? ( [eE] [+-]? Digit+ )?
func (p *parser) parseNumRHS(op item) Node {
	p.setMode(modeValue)
	t := p.next()
	switch t.typ {
	case itemBare:
		if isNumber(t.text) {
			p.setMode(modeExpr)
			return &ValueNode{Pos: p.pos(t.pos), Text: t.text}
		}
	case itemTransformer:
		return p.parseTransformerOrVal(t)
	}
	p.unexpected(t, "after '"+op.text+"'", "a number, a transformer or val()")
	return nil
}

// parseStrRHS parses the right side of a string operator, and returns the
// canonical operator with it.
//
//	StrRHS ::= Value | Transformer | FieldValue
func (p *parser) parseStrRHS(op item) (string, Node) {
	name := op.text
	if name == "==" {
		name = "="
	}
	p.setMode(modeValue)
	t := p.next()
	switch t.typ {
	case itemString, itemBare:
		if t.typ == itemBare && isModifier(t.text) && p.peek().typ == itemLeftParen {
			return name + " " + t.text, p.parseList(p.next())
		}
		v := p.value(t)
		p.setMode(modeExpr)
		return name, v
	case itemTransformer:
		return name, p.parseTransformerOrVal(t)
	}
	p.unexpected(t, "after '"+op.text+"'", "a value, a transformer or val()")
	return "", nil
}

// parseListRHS parses the right side of a list operator.
//
//	ListRHS ::= List | Identifier | Transformer | FieldValue
func (p *parser) parseListRHS(op item) Node {
	p.setMode(modeValue)
	t := p.next()
	switch t.typ {
	case itemLeftParen:
		return p.parseList(t)
	case itemBare:
		if isIdentifier(t.text) {
			p.setMode(modeExpr)
			return &ListNode{
				Pos:   p.pos(t.pos),
				Items: []*ValueNode{{Pos: p.pos(t.pos), Text: t.text}},
				Bare:  true,
			}
		}
	case itemTransformer:
		return p.parseTransformerOrVal(t)
	}
	p.unexpected(t, "after '"+op.text+"'", "a list, an identifier, a transformer or val()")
	return nil
}

// parseTransformerOrVal parses a transformer or val() on the right side.
func (p *parser) parseTransformerOrVal(t item) Node {
	if t.text == "val" {
		return p.parseFieldValue(t)
	}
	return p.parseTransformer(t)
}

// parseList parses a parenthesised list whose '(' is open. The lexer is in
// value mode.
//
//	List  ::= '(' ( Value ( ',' Value )* )? ')'
//	Value ::= QuotedString | BareString
func (p *parser) parseList(open item) *ListNode {
	l := &ListNode{Pos: p.pos(open.pos), Items: []*ValueNode{}}
	t := p.next()
	if t.typ != itemRightParen {
		expected := "value or ')'"
		for {
			if t.typ != itemString && t.typ != itemBare {
				p.unexpected(t, "in list", expected)
			}
			l.Items = append(l.Items, p.value(t))
			t = p.next()
			if t.typ == itemRightParen {
				break
			}
			if t.typ != itemComma {
				p.unexpected(t, "in list", "',' or ')'")
			}
			t = p.next()
			expected = "value"
		}
	}
	p.setMode(modeExpr)
	return l
}

// value makes a ValueNode from a string or bare item.
func (p *parser) value(t item) *ValueNode {
	if t.typ == itemBare {
		return &ValueNode{Pos: p.pos(t.pos), Text: t.text}
	}
	return &ValueNode{Pos: p.pos(t.pos), Text: p.unquote(t.text, t.pos), Quoted: true}
}

// unquote resolves the escapes of quoted string s, which starts at offset
// off. Escapes: \\ \" (in "...") \' (in '...') \n \t \r \b \f \/ \xHH.
func (p *parser) unquote(s string, off int) string {
	quote := s[0]
	body := s[1 : len(s)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		at := off + 1 + i // offset of the backslash
		i++               // the scanner guarantees a byte after '\'
		switch e := body[i]; e {
		case '\\', '/':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case '"', '\'':
			if e != quote {
				if e == '"' {
					p.errorf(at, `invalid \" escape in '-quoted string`)
				}
				p.errorf(at, `invalid \' escape in "-quoted string`)
			}
			b.WriteByte(e)
		case 'x':
			if i+2 >= len(body) || !isHex(body[i+1]) || !isHex(body[i+2]) {
				p.errorf(at, `invalid \x escape: expected two hex digits`)
			}
			b.WriteByte(unhex(body[i+1])<<4 | unhex(body[i+2]))
			i += 2
		default:
			if e < 0x20 || e >= 0x7f {
				p.errorf(at, "unsupported string escape sequence: backslash before byte 0x%02x", e)
			}
			p.errorf(at, "unsupported string escape sequence: \\%c", e)
		}
	}
	return b.String()
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
