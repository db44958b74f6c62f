package rawjson

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestScanValid(t *testing.T) {
	good := []string{
		`{}`, `[]`, `""`, `0`, `-0.5e+10`, `1E3`, `true`, `false`, `null`,
		`{"a":[1,2,{"b":null}],"c":"\u00e9\n\"x\""}`,
		" \n\t{ \"a\" : [ 1 , 2 ] } \r\n",
		`"caf` + "\xc3\xa9" + `"`,
		`"\ud83d\ude00"`,
	}
	for _, s := range good {
		if err := Valid([]byte(s), 0); err != nil {
			t.Errorf("Valid(%q) = %v", s, err)
		}
	}
	bad := []struct{ in, msg string }{
		{`{"a":1,}`, `offset 7: invalid character '}' looking for beginning of object key string`},
		{`[1 2]`, `offset 3: invalid character '2' after array element`},
		{`{"a" 1}`, `offset 5: invalid character '1' after object key`},
		{`"a` + "\n" + `"`, `offset 2: invalid character '\n' in string literal`},
		{`"\q"`, `offset 2: invalid character 'q' in string escape code`},
		{`01`, `offset 1: invalid character '1' after top-level value`},
		{`tru`, `offset 3: unexpected end of JSON input`},
		{`nul!`, `offset 3: invalid character '!' in literal null (expecting 'l')`},
		{`{"a":`, `offset 5: unexpected end of JSON input`},
		{`-`, `offset 1: unexpected end of JSON input`},
		{`1.`, `offset 2: unexpected end of JSON input`},
		{`'x'`, `offset 0: invalid character '\'' looking for beginning of value`},
		{``, `offset 0: unexpected end of JSON input`},
	}
	for _, tc := range bad {
		err := Valid([]byte(tc.in), 0)
		if err == nil || err.Error() != tc.msg {
			t.Errorf("Valid(%q) = %v, want %s", tc.in, err, tc.msg)
		}
	}
	if err := Valid([]byte(`{"a":"`), 0); !errors.Is(err, ErrUnexpectedEnd) {
		t.Errorf("truncated input does not wrap ErrUnexpectedEnd: %v", err)
	}
	deep := strings.Repeat("[", 11) + strings.Repeat("]", 11)
	var de *DepthError
	if err := Valid([]byte(deep), 10); !errors.As(err, &de) || de.Max != 10 {
		t.Errorf("depth limit: %v", err)
	}
	if err := Valid([]byte(deep), 11); err != nil {
		t.Errorf("depth 11 within limit 11: %v", err)
	}
}

type members []string

func (m *members) Member(k, v []byte) { *m = append(*m, string(k)+"="+string(v)) }

func TestScanVisitor(t *testing.T) {
	var m members
	in := `{"a": 1, "b" :{"c":[2]}, "d":"x"} trailing`
	end, err := Scan([]byte(in), 0, &m)
	if err != nil || end != len(`{"a": 1, "b" :{"c":[2]}, "d":"x"}`) {
		t.Fatalf("end %d err %v", end, err)
	}
	if got := strings.Join(m, ";"); got != `a=1;b={"c":[2]};d="x"` {
		t.Errorf("members = %s", got)
	}
}

func TestLookups(t *testing.T) {
	doc := []byte(`{"a":{"b~/c":[10,{"d":"e\"f"},[]],"k":"v"},"s":"t\u00e9\n","n":null,"e\u0078":1}`)
	tests := []struct{ ptr, want string }{
		{"/a/b~0~1c/0", "10"},
		{"a/b~0~1c/1/d", "e\"f"},
		{"/a/b~0~1c/2", "[]"},
		{"/a/k", "v"},
		{"/s", "t\u00e9\n"},
		{"/n", "null"},
		{"/ex", "1"},
		{"", string(AppendCompact(nil, doc))},
	}
	for _, tc := range tests {
		v, ok := ParsePointer(tc.ptr).Lookup(doc)
		if !ok {
			t.Errorf("%s: not found", tc.ptr)
			continue
		}
		if got := string(AppendText(nil, v)); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.ptr, got, tc.want)
		}
	}
	for _, miss := range []string{"/a/b~0~1c/3", "/a/b~0~1c/01", "/a/b~0~1c/+1", "/a/b~0~1c/-0", "/x", "/a/k/z"} {
		if v, ok := ParsePointer(miss).Lookup(doc); ok {
			t.Errorf("%s found %q", miss, v)
		}
	}
	if n := Len([]byte(`[1, [2,3] ,"x"]`)); n != 3 {
		t.Errorf("Len = %d", n)
	}
}

func TestCompactIndent(t *testing.T) {
	in := []byte(` { "a" : [ 1 , "x y" ] , "b" : { } , "c":[] } `)
	if got := string(AppendCompact(nil, in)); got != `{"a":[1,"x y"],"b":{},"c":[]}` {
		t.Errorf("compact = %s", got)
	}
	want := "{\n  \"a\": [\n    1,\n    \"x y\"\n  ],\n  \"b\": {},\n  \"c\": []\n}"
	if got := string(AppendIndent(nil, AppendCompact(nil, in), "  ")); got != want {
		t.Errorf("indent =\n%s\nwant\n%s", got, want)
	}
}

// TestPlainWord checks the 8-byte fast path against the byte table for
// every byte value in every lane.
func TestPlainWord(t *testing.T) {
	for lane := 0; lane < 8; lane++ {
		for c := 0; c < 256; c++ {
			var b [8]byte
			for i := range b {
				b[i] = 'a'
			}
			b[lane] = byte(c)
			if got, want := plainWord(binary.LittleEndian.Uint64(b[:])), strPlain[c]; got != want {
				t.Fatalf("lane %d byte %#x: plainWord %v, table %v", lane, c, got, want)
			}
		}
	}
}

// FuzzScan checks that Scan agrees with encoding/json on validity and that
// the value-walking helpers never panic on what it accepts.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,{"b":"c\"d"}],"e":null}`, `[]`, `"\ud800"`, `{"a":1,}`, `-1.5e3`, `[[[[`,
		`{"`, `{"a`, `{"a"`, `{"a":`, `[`, `["`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Valid(data, 10000)
		if (err == nil) != json.Valid(data) {
			t.Fatalf("Valid = %v, encoding/json says %v for %q", err, json.Valid(data), data)
		}
		if err != nil {
			return
		}
		v := data[skipWS(data, 0):]
		AppendIndent(nil, AppendCompact(nil, v), " ")
		AppendText(nil, v)
		m := MembersOf(v)
		for {
			_, mv, ok := m.Next()
			if !ok {
				break
			}
			Len(mv)
		}
		if c := AppendCompact(nil, v); !json.Valid(c) {
			t.Fatalf("compact form is invalid: %q", c)
		}
	})
}

// TestNextSpecial compares the word-at-a-time search with a byte loop on
// random data, including multiple special bytes per word (where SWAR
// borrows can flag later lanes falsely).
func TestNextSpecial(t *testing.T) {
	alphabet := []byte{'a', '"', '\\', 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xff, '0'}
	seed := uint64(1)
	for n := 0; n < 20000; n++ {
		b := make([]byte, n%40)
		for i := range b {
			seed = seed*6364136223846793005 + 1442695040888963407
			b[i] = alphabet[(seed>>33)%uint64(len(alphabet))]
		}
		for start := 0; start <= len(b); start++ {
			want := start
			for want < len(b) && strPlain[b[want]] {
				want++
			}
			if got := nextSpecial(b, start); got != want {
				t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, start, got, want)
			}
		}
	}
}

// TestTruncated runs the iterators and lookups over truncated and otherwise
// invalid input, which they must stop on cleanly (never panic), after
// yielding only the members or elements that are complete.
func TestTruncated(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		members  string // "k=v;..." from Members.Next
		elements string // ";"-joined values from Elements.Next
	}{
		{name: "open brace quote", in: `{"`},
		{name: "unclosed key", in: `{"a`},
		{name: "key without colon", in: `{"a"`},
		{name: "colon without value", in: `{"a":`},
		{name: "colon then space", in: `{"a": `},
		{name: "unclosed string value", in: `{"a":"`},
		{name: "unclosed escape in value", in: `{"a":"x\`},
		{name: "unclosed object value", in: `{"a":{`},
		{name: "unclosed object value with string", in: `{"a":{"b":"c`},
		{name: "escaped quote is not a close", in: `{"\"`},
		{name: "key ends in backslash", in: `{"\`},
		{name: "space before quote", in: `{ "`},
		{name: "second key unclosed", in: `{"a":1,"`, members: "a=1"},
		{name: "second key without value", in: `{"a":1,"b":`, members: "a=1"},
		{name: "trailing comma", in: `{"a":1,`, members: "a=1"},
		{name: "empty value", in: `{"a":,"b":2}`},
		{name: "open bracket", in: `[`},
		{name: "open bracket quote", in: `["`},
		{name: "open bracket backslash", in: `["\`},
		{name: "unclosed nested array", in: `[1,[2`, elements: "1"},
		{name: "array trailing comma", in: `[1,`, elements: "1"},
		{name: "array empty element", in: `[,1]`},
		{name: "array comma before close", in: `[1,]`, elements: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			var ms []string
			m := MembersOf(in)
			for {
				k, v, ok := m.Next()
				if !ok {
					break
				}
				ms = append(ms, string(k)+"="+string(v))
			}
			if got := strings.Join(ms, ";"); got != tc.members {
				t.Errorf("members = %q, want %q", got, tc.members)
			}
			var es []string
			e := ElementsOf(in)
			for {
				v, ok := e.Next()
				if !ok {
					break
				}
				es = append(es, string(v))
			}
			if got := strings.Join(es, ";"); got != tc.elements {
				t.Errorf("elements = %q, want %q", got, tc.elements)
			}
			if v, ok := ParsePointer("/b/0").Lookup(in); ok {
				t.Errorf("Lookup(/b/0) found %q", v)
			}
			walkAll(in)
		})
	}
}

// walkAll calls every read helper on v and on everything the iterators
// yield from it, for tests that only check that nothing panics.
func walkAll(v []byte) {
	KindOf(v)
	Len(v)
	IsPlainString(v)
	AppendText(nil, v)
	AppendCompact(nil, v)
	AppendIndent(nil, v, "  ")
	Get(v, "a")
	Index(v, 1)
	ParsePointer("/a/0/b~1c").Lookup(v)
	m := MembersOf(v)
	for {
		k, mv, ok := m.Next()
		if !ok {
			break
		}
		KeyEqual(k, "a")
		AppendString(nil, mv)
		Len(mv)
	}
	e := ElementsOf(v)
	for {
		ev, ok := e.Next()
		if !ok {
			break
		}
		AppendText(nil, ev)
		Get(ev, "a")
	}
}

// FuzzWalk checks that the read helpers, which assume validated input,
// never panic on arbitrary bytes, and that on valid input every member and
// element they yield is itself a valid value.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		`{"`, `{"a`, `{"a"`, `{"a":`, `[`, `["`, `{"\`, `{"\"`, `{"a":"x\`,
		`{"a":{"b":"c`, `{"a":1,"`, `[1,[2`, `[,1]`, `{"a":,"b":2}`,
		`{"a":[1,{"b":"c\"d"}],"e":null}`, `"\u00e9\ud83d\ude00"`, `"\ud83d\u`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		walkAll(data)
		if Valid(data, 0) != nil {
			return
		}
		v := data[skipWS(data, 0):]
		m := MembersOf(v)
		for {
			_, mv, ok := m.Next()
			if !ok {
				break
			}
			if err := Valid(mv, 0); err != nil {
				t.Fatalf("member value %q of %q: %v", mv, data, err)
			}
		}
		e := ElementsOf(v)
		for {
			ev, ok := e.Next()
			if !ok {
				break
			}
			if err := Valid(ev, 0); err != nil {
				t.Fatalf("element %q of %q: %v", ev, data, err)
			}
		}
	})
}
