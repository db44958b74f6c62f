package condition

import (
	"strings"
	"testing"
)

// collect lexes input in one mode up to EOF or an error.
func collect(input string, mode lexMode) []item {
	l := newLexer(input)
	l.mode = mode
	var items []item
	for range len(input) + 2 {
		i := l.nextItem()
		items = append(items, i)
		if i.typ == itemEOF || i.typ == itemError {
			break
		}
	}
	return items
}

func itemsString(items []item) string {
	var parts []string
	for _, i := range items {
		parts = append(parts, typeName[i.typ]+":"+i.text)
	}
	return strings.Join(parts, " ")
}

var typeName = map[itemType]string{
	itemError: "error", itemEOF: "eof", itemLeftParen: "lparen", itemRightParen: "rparen",
	itemComma: "comma", itemAnd: "and", itemOr: "or", itemNot: "not", itemIdentifier: "ident",
	itemField: "field", itemFieldArg: "arg", itemTransformer: "transformer", itemOperator: "op",
	itemString: "string", itemBare: "bare", itemChar: "char",
}

func TestLex(t *testing.T) {
	tests := []struct {
		name  string
		mode  lexMode
		input string
		want  string
	}{
		{"empty", modeExpr, "", "eof:"},
		{"keywords", modeExpr, "a and not(b) or notice", "ident:a and:and not:not lparen:( ident:b rparen:) or:or ident:notice eof:"},
		{"field and ops", modeExpr, "ka.verb=create", "field:ka.verb op:= ident:create eof:"},
		{"symbol ops", modeExpr, "== != <= >= < > = !", "op:== op:!= op:<= op:>= op:< op:> op:= char:! eof:"},
		{"field arg", modeExpr, "jevt.value[/a~1b]exists", "field:jevt.value arg:[/a~1b] ident:exists eof:"},
		{"field arg quoted", modeExpr, `ka.x["a b"] in`, `field:ka.x arg:["a b"] ident:in eof:`},
		{"field arg nested", modeExpr, "ka.x[a[0]]", "field:ka.x arg:[a[0]] eof:"},
		{"no arg after blank", modeExpr, "ka.x [a]", "field:ka.x char:[ ident:a char:] eof:"},
		{"ident bracket is not arg", modeExpr, "a[b]", "ident:a char:[ ident:b char:] eof:"},
		{"dot then digit", modeExpr, "a.1", "ident:a char:. char:1 eof:"},
		{"transformer", modeExpr, "tolower(ka.x) val(x) tolower (x)", "transformer:tolower lparen:( field:ka.x rparen:) transformer:val lparen:( ident:x rparen:) ident:tolower lparen:( ident:x rparen:) eof:"},
		{"quoted", modeExpr, `"a\"b" 'c'`, `string:"a\"b" string:'c' eof:`},
		{"unterminated", modeExpr, `"abc`, "error:unterminated quoted string"},
		{"utf8 char", modeExpr, "é", "char:é eof:"},
		{"value bare", modeValue, "system:anonymous", "bare:system:anonymous eof:"},
		{"value list", modeValue, "(/a, b.c,'d')", "lparen:( bare:/a comma:, bare:b.c comma:, string:'d' rparen:) eof:"},
		{"value keywords are bare", modeValue, "and or not", "bare:and bare:or bare:not eof:"},
		{"value transformer", modeValue, "tolower(ka.x)", "transformer:tolower lparen:( bare:ka.x rparen:) eof:"},
		{"value equals", modeValue, "a=b", "bare:a char:= bare:b eof:"},
		{"value brackets", modeValue, "a[b c]", "bare:a[b bare:c] eof:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := itemsString(collect(tc.input, tc.mode)); got != tc.want {
				t.Errorf("lex(%q)\n got: %s\nwant: %s", tc.input, got, tc.want)
			}
		})
	}
}

func TestIsNumber(t *testing.T) {
	for _, s := range []string{"0", "400", "-1", "+1", "1.", "1.5", "1e5", "1E+5", "1.5e-3", "0x1f", "0XAB"} {
		if !isNumber(s) {
			t.Errorf("isNumber(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-", "+", ".5", "1e", "1e+", "0x", "0xg", "1a", "abc", "1.2.3", "--1", "1 "} {
		if isNumber(s) {
			t.Errorf("isNumber(%q) = true", s)
		}
	}
}
