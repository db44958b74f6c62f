package rules

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// falcoResolveList is a line-by-line port of Falco's resolve_list on plain
// strings, used as the oracle for substituteList.
func falcoResolveList(cnd, name string, items []string) (string, bool) {
	const blanks = " \t\n\r"
	const delims = blanks + "(),="
	used := false
	start := strings.Index(cnd, name)
	for start >= 0 {
		end := start + len(name)
		if (start == 0 || strings.IndexByte(delims, cnd[start-1]) >= 0) &&
			(end >= len(cnd) || strings.IndexByte(delims, cnd[end]) >= 0) {
			for start > 0 && strings.IndexByte(blanks, cnd[start-1]) >= 0 {
				start--
			}
			for end < len(cnd) && strings.IndexByte(blanks, cnd[end]) >= 0 {
				end++
			}
			sub := ""
			for _, v := range items {
				if sub != "" {
					sub += ", "
				}
				sub += quoteItem(v)
			}
			if sub == "" {
				if start > 0 && cnd[start-1] == ',' {
					start--
				} else if end < len(cnd) && cnd[end] == ',' {
					end++
				}
			}
			n := ""
			if start > 0 {
				n += cnd[:start] + " "
			}
			n += sub + " "
			if end <= len(cnd) {
				n += cnd[end:]
			}
			cnd = n
			start += len(sub) + 1
			used = true
		}
		next := strings.Index(safeSlice(cnd, start+1), name)
		if next < 0 {
			break
		}
		start = start + 1 + next
	}
	return cnd, used
}

func safeSlice(s string, i int) string {
	if i > len(s) {
		return ""
	}
	return s[i:]
}

// plainText is a text without a YAML origin.
func plainText(s string) *text {
	var b textBuilder
	b.fixed(s, origin{})
	return b.text()
}

func TestSubstituteList(t *testing.T) {
	tests := []struct {
		name  string
		cond  string
		list  string
		items []string
		want  string // exact text after substitution; "" when unchanged
	}{
		{"in parens", "ka.verb in (verbs)", "verbs", []string{"create", "update"}, "ka.verb in ( create, update )"},
		{"at start", "verbs", "verbs", []string{"a"}, "a "},
		{"item with space quoted", "x in (l)", "l", []string{"a b", "c"}, `x in ( "a b", c )`},
		{"item already quoted", "x in (l)", "l", []string{`"a b"`}, `x in ( "a b" )`},
		{"empty swallows left comma", "x in (a, l)", "l", nil, "x in (a  )"},
		{"empty swallows right comma", "x in (l, a)", "l", nil, "x in (   a)"},
		{"empty alone", "x in (l)", "l", nil, "x in (  )"},
		{"after equals", "x = l", "l", []string{"v"}, "x = v "},
		{"equals without blank", "x=l", "l", []string{"v"}, "x= v "},
		{"not delimited left", "x in (al)", "l", []string{"v"}, ""},
		{"not delimited right", "x in (la)", "l", []string{"v"}, ""},
		{"inside field argument", "jevt.value[/l] exists", "l", []string{"v"}, ""},
		{"inside quotes", `x = "l"`, "l", []string{"v"}, ""},
		{"twice", "x in (l) or y in (l)", "l", []string{"v"}, "x in ( v ) or y in ( v )"},
		{"at start skips a byte", "l l", "l", []string{"v"}, "v l"},
		{"nested name in items", "x in (l)", "l", []string{"l"}, "x in ( l )"},
		{"blanks consumed", "x in (  l\n\t)", "l", []string{"v"}, "x in ( v )"},
		{"macro name too", "l and x exists", "l", []string{"v"}, "v and x exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, ok := substituteList(plainText(tc.cond), tc.list, tc.items, 1<<20)
			if !ok {
				t.Fatal("limit hit")
			}
			got := ""
			if res != nil {
				got = res.s
			}
			if got != tc.want {
				t.Errorf("substituteList(%q, %q, %q) = %q, want %q", tc.cond, tc.list, tc.items, got, tc.want)
			}
			oracle, used := falcoResolveList(tc.cond, tc.list, tc.items)
			if !used {
				oracle = ""
			}
			if got != oracle {
				t.Errorf("substituteList(%q) = %q, Falco gives %q", tc.cond, got, oracle)
			}
		})
	}
}

// TestSubstituteListOracle compares substituteList with the port of
// Falco's algorithm on random conditions.
func TestSubstituteListOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	atoms := []string{"l", "ll", " ", "  ", ",", "(", ")", "=", "x", "\t", "\n", "l,", ",l", "a b"}
	lists := [][]string{nil, {"v"}, {"v", "w w"}, {"l"}}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := r.IntN(12); n >= 0; n-- {
			b.WriteString(atoms[r.IntN(len(atoms))])
		}
		cond := b.String()
		items := lists[r.IntN(len(lists))]
		res, _ := substituteList(plainText(cond), "l", items, 1<<20)
		want, used := falcoResolveList(cond, "l", items)
		got := cond
		if res != nil {
			got = res.s
		}
		if (res != nil) != used || got != want {
			t.Fatalf("substituteList(%q, %q) = %q (used %v), Falco gives %q (used %v)", cond, items, got, res != nil, want, used)
		}
		// Every byte must have an origin, and spans must be ordered.
		if res != nil {
			for k := 1; k < len(res.spans); k++ {
				if res.spans[k].at <= res.spans[k-1].at || res.spans[k].at > len(res.s) {
					t.Fatalf("bad spans for %q: %+v", cond, res.spans)
				}
			}
		}
	}
}

func TestSubstituteListLimit(t *testing.T) {
	if _, ok := substituteList(plainText("x in (l, l, l)"), "l", []string{strings.Repeat("v", 100)}, 200); ok {
		t.Error("limit not enforced")
	}
}
