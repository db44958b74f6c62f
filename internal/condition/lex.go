package condition

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// itemType identifies the kind of a lexed item.
type itemType int

const (
	itemError       itemType = iota // lexing failed; text is the message
	itemEOF                         // end of input
	itemLeftParen                   // (
	itemRightParen                  // )
	itemComma                       // ,
	itemAnd                         // the keyword and
	itemOr                          // the keyword or
	itemNot                         // the keyword not
	itemIdentifier                  // one name segment: a macro name, a list name or a word operator
	itemField                       // two or more dot-separated name segments
	itemFieldArg                    // [arg] right after a field, brackets included
	itemTransformer                 // transformer name or val, immediately followed by '('
	itemOperator                    // symbol operator: = == != < <= > >=
	itemString                      // quoted string, quotes and escapes as written
	itemBare                        // bare string (value mode only)
	itemChar                        // any other character
)

// item is a token: its type, byte offset in the input and text as written.
type item struct {
	typ  itemType // kind of item
	pos  int      // byte offset of the item's first byte
	text string   // raw text; the message for itemError
}

func (i item) String() string {
	switch i.typ {
	case itemEOF:
		return "EOF"
	case itemError:
		return "error: " + i.text
	}
	return fmt.Sprintf("%d:%q", i.pos, i.text)
}

// lexMode tells the lexer how to read the next item. The parser sets it,
// because the same text means different things in different places: after
// an operator, "a.b" is a bare string and not a field, and "and" is a value.
type lexMode int

const (
	modeExpr  lexMode = iota // structure: keywords, fields, identifiers, operators
	modeValue                // right-hand sides: values, lists, transformers
)

// stateFn is a lexer state; it returns the next state, or nil once it has
// emitted an item.
type stateFn func(*lexer) stateFn

// lexer holds the state of the scanner. As in text/template/parse, there is
// no goroutine: nextItem runs states until one of them emits an item.
type lexer struct {
	input      string  // the text being scanned
	start      int     // start of the current item
	pos        int     // current position in input
	mode       lexMode // how to read the next item
	inFieldArg bool    // a field was just emitted and '[' follows it
	item       item    // the item most recently emitted
}

func newLexer(input string) *lexer {
	return &lexer{input: input}
}

// nextItem returns the next item from the input.
func (l *lexer) nextItem() item {
	l.item = item{itemEOF, len(l.input), ""}
	state := lexExpr
	if l.mode == modeValue {
		state = lexValue
	}
	for state != nil {
		state = state(l)
	}
	return l.item
}

// reset makes the lexer continue at pos in the given mode. The parser uses
// it to re-read a lookahead item after changing the mode.
func (l *lexer) reset(pos int, mode lexMode) {
	l.pos = pos
	l.start = pos
	l.mode = mode
	l.inFieldArg = false
}

// emit records an item of type t spanning start..pos.
func (l *lexer) emit(t itemType) stateFn {
	l.item = item{t, l.start, l.input[l.start:l.pos]}
	l.start = l.pos
	return nil
}

// errorf records an error item at byte offset pos and ends the item.
func (l *lexer) errorf(pos int, format string, args ...any) stateFn {
	l.item = item{itemError, pos, fmt.Sprintf(format, args...)}
	l.start = l.pos
	return nil
}

// peekByte returns the byte at pos, or 0 at the end of input.
func (l *lexer) peekByte() byte {
	if l.pos < len(l.input) {
		return l.input[l.pos]
	}
	return 0
}

// skipBlank skips whitespace and starts the next item after it.
func (l *lexer) skipBlank() {
	for l.pos < len(l.input) && isBlank(l.input[l.pos]) {
		l.pos++
	}
	l.start = l.pos
}

// lexExpr scans an item in expression mode.
func lexExpr(l *lexer) stateFn {
	if l.inFieldArg {
		l.inFieldArg = false
		return lexFieldArg
	}
	l.skipBlank()
	if l.pos >= len(l.input) {
		return l.emit(itemEOF)
	}
	switch c := l.input[l.pos]; {
	case c == '(':
		l.pos++
		return l.emit(itemLeftParen)
	case c == ')':
		l.pos++
		return l.emit(itemRightParen)
	case c == ',':
		l.pos++
		return l.emit(itemComma)
	case c == '"' || c == '\'':
		return lexQuote
	case isLetter(c):
		return lexWord
	case c == '=' || c == '<' || c == '>':
		l.pos++
		if l.peekByte() == '=' {
			l.pos++
		}
		return l.emit(itemOperator)
	case c == '!':
		l.pos++
		if l.peekByte() == '=' {
			l.pos++
			return l.emit(itemOperator)
		}
		return l.emit(itemChar)
	}
	return lexChar
}

// lexChar emits one character (a whole UTF-8 sequence if valid) as itemChar.
func lexChar(l *lexer) stateFn {
	_, size := utf8.DecodeRuneInString(l.input[l.pos:])
	l.pos += size
	return l.emit(itemChar)
}

// lexWord scans a name: one or more segments joined by dots. A segment is a
// letter followed by letters, digits or underscores.
func lexWord(l *lexer) stateFn {
	l.scanSegment()
	dotted := false
	for l.pos+1 < len(l.input) && l.input[l.pos] == '.' && isLetter(l.input[l.pos+1]) {
		l.pos++
		l.scanSegment()
		dotted = true
	}
	if dotted {
		l.inFieldArg = l.peekByte() == '['
		return l.emit(itemField)
	}
	switch word := l.input[l.start:l.pos]; {
	case word == "and":
		return l.emit(itemAnd)
	case word == "or":
		return l.emit(itemOr)
	case word == "not":
		return l.emit(itemNot)
	case l.peekByte() == '(' && isTransformer(word):
		return l.emit(itemTransformer)
	}
	return l.emit(itemIdentifier)
}

func (l *lexer) scanSegment() {
	l.pos++ // the leading letter
	for l.pos < len(l.input) && isWordByte(l.input[l.pos]) {
		l.pos++
	}
}

// lexFieldArg scans a field argument, "[...]". It is either one quoted
// string, or any text in which brackets balance.
func lexFieldArg(l *lexer) stateFn {
	open := l.pos
	l.pos++ // '['
	if c := l.peekByte(); c == '"' || c == '\'' {
		end := scanQuoted(l.input, l.pos)
		if end < 0 {
			return l.errorf(l.pos, "unterminated quoted string")
		}
		l.pos = end
		if l.peekByte() != ']' {
			return l.errorf(l.pos, "expected ']' after quoted field argument")
		}
		l.pos++
		return l.emit(itemFieldArg)
	}
	depth := 0
	for ; l.pos < len(l.input); l.pos++ {
		switch l.input[l.pos] {
		case '[':
			depth++
		case ']':
			if depth == 0 {
				l.pos++
				return l.emit(itemFieldArg)
			}
			depth--
		}
	}
	return l.errorf(open, "unterminated field argument")
}

// lexQuote scans a quoted string; escapes are resolved by the parser.
func lexQuote(l *lexer) stateFn {
	end := scanQuoted(l.input, l.pos)
	if end < 0 {
		return l.errorf(l.pos, "unterminated quoted string")
	}
	l.pos = end
	return l.emit(itemString)
}

// scanQuoted returns the offset just past the quoted string that starts at
// input[pos], or -1 if it is not terminated. A backslash hides the next byte.
func scanQuoted(input string, pos int) int {
	quote := input[pos]
	for i := pos + 1; i < len(input); i++ {
		switch input[i] {
		case '\\':
			i++
		case quote:
			return i + 1
		}
	}
	return -1
}

// lexValue scans an item in value mode: a quoted or bare string, a list
// delimiter, or a transformer name.
func lexValue(l *lexer) stateFn {
	l.skipBlank()
	if l.pos >= len(l.input) {
		return l.emit(itemEOF)
	}
	switch l.input[l.pos] {
	case '(':
		l.pos++
		return l.emit(itemLeftParen)
	case ')':
		l.pos++
		return l.emit(itemRightParen)
	case ',':
		l.pos++
		return l.emit(itemComma)
	case '"', '\'':
		return lexQuote
	case '=':
		l.pos++
		return l.emit(itemChar)
	}
	for l.pos < len(l.input) && !isBareStop(l.input[l.pos]) {
		l.pos++
	}
	if l.peekByte() == '(' && isTransformer(l.input[l.start:l.pos]) {
		return l.emit(itemTransformer)
	}
	return l.emit(itemBare)
}

// isBlank reports whether c separates tokens: space, tab, CR, LF, backspace.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\b'
}

// isBareStop reports whether c ends a bare string.
func isBareStop(c byte) bool {
	switch c {
	case '(', ')', ',', '=', '"', '\'':
		return true
	}
	return isBlank(c)
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isWordByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '_'
}

// isIdentifier reports whether s is one name segment.
func isIdentifier(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

// isNumber reports whether s is a number as accepted after <, <=, > and >=:
// 0x followed by hex digits, or an optionally signed decimal with an
// optional fraction and exponent.
func isNumber(s string) bool {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for i := 2; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		digits()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// describe renders an item for an error message.
func describe(i item) string {
	switch i.typ {
	case itemEOF:
		return "end of input"
	case itemString:
		// The text carries its own quotes.
		s, ok := shorten(i.text)
		if !ok {
			s = strconv.Quote(s)
		}
		return "quoted string " + s
	case itemTransformer:
		return quoteForMessage(i.text + "(")
	}
	return quoteForMessage(i.text)
}

// quoteForMessage puts s in single quotes, shortened if long, or uses Go
// quoting if s has bytes that would garble a message.
func quoteForMessage(s string) string {
	s, ok := shorten(s)
	if !ok {
		return strconv.Quote(s)
	}
	return "'" + s + "'"
}

// shorten cuts s to at most 40 bytes plus "...", and reports whether it is
// printable ASCII.
func shorten(s string) (string, bool) {
	const maxLen = 40
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return s, false
		}
	}
	return s, true
}
