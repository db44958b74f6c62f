package condition

import (
	"errors"
	"testing"
)

// seeds returns the inputs of the table tests.
func seeds() []string {
	var s []string
	for _, tests := range [][]parseTest{parseTests, falcoTests} {
		for _, tc := range tests {
			s = append(s, tc.input)
		}
	}
	return append(s,
		`ka.x = "a\d"`, `ka.x["a" ] exists`, "ka.x[a[b] exists", "ka.x in (a,)",
		"not", "a and", "((((a))))", `tolower(val(ka.x)) = a`, "ka.x > 0xg",
	)
}

// FuzzLex checks that the lexer ends, in both modes, and that every item
// it emits is text of the input, in order.
func FuzzLex(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, mode := range []lexMode{modeExpr, modeValue} {
			l := newLexer(input)
			l.mode = mode
			last := 0
			for n := 0; ; n++ {
				if n > len(input)+1 {
					t.Fatalf("mode %d: lexer does not end on %q", mode, input)
				}
				i := l.nextItem()
				if i.pos < last || i.pos > len(input) {
					t.Fatalf("mode %d: item %v out of order (last %d) in %q", mode, i, last, input)
				}
				if i.typ == itemError || i.typ == itemEOF {
					break
				}
				if i.text == "" || i.pos+len(i.text) > len(input) || input[i.pos:i.pos+len(i.text)] != i.text {
					t.Fatalf("mode %d: item %v is not input text in %q", mode, i, input)
				}
				last = i.pos + len(i.text)
			}
		}
	})
}

// FuzzParse checks that Parse never panics, that errors are *Error with a
// position inside the input, and that a successful parse prints text that
// parses to the same tree and prints identically.
func FuzzParse(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		n, err := Parse(input, Options{Base: 3})
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T, want *Error", input, err)
			}
			if perr.Pos < 3 || int(perr.Pos) > len(input)+3 {
				t.Fatalf("Parse(%q) error position %d outside the input", input, perr.Pos)
			}
			if n != nil {
				t.Fatalf("Parse(%q) returned a node and an error", input)
			}
			return
		}
		s1 := n.String()
		n2, err := Parse(s1, Options{})
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", input, s1, err)
		}
		if s2 := n2.String(); s2 != s1 {
			t.Fatalf("round trip of %q:\nfirst:  %q\nsecond: %q", input, s1, s2)
		}
		if d1, d2 := dump(n, false), dump(n2, false); d1 != d2 {
			t.Fatalf("round trip of %q changed the tree:\nfirst:  %s\nsecond: %s", input, d1, d2)
		}
	})
}
