package rules

import (
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/condition"
)

// firstErr loads one file and returns its first error.
func firstErr(t *testing.T, yml string) Diagnostic {
	t.Helper()
	_, ds := Load([]Source{{Name: "f.yaml", Data: []byte(yml)}}, Options{})
	errs := errorsOf(ds)
	if len(errs) == 0 {
		t.Fatalf("no error; diagnostics %v", ds)
	}
	return errs[0]
}

func TestConditionErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		yml  string
		pos  string // want file:line:col
		at   string // the source text starting at the caret
	}{
		{"folded scalar, deep line", `- rule: r
  desc: d
  condition: >
    ka.verb = create
    and ka.user.name in (a, b)
    and ka.uri startswith /x
    and (ka.target.name = y or
         ka.target.namespace = )
  output: o
  priority: INFO
  source: k8s_audit
`, "f.yaml:8:32", ")"},
		{"literal scalar with indentation", "- rule: r\n  desc: d\n  condition: |\n    ka.verb = create and\n      (ka.uri exists or\n        ka.uri bogus x)\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:6:16", "bogus x)"},
		{"plain multi-line scalar", "- macro: m\n  condition: ka.verb = create\n    and ka.uri\n    exists and and\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:4:16", "and"},
		{"double-quoted with escapes", "- macro: m\n  condition: \"ka.verb = \\\"a b\\\" and\\tka.uri in (\\x2f, x\"\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:2:56", "\""},
		{"double-quoted with unicode escape and line continuation", "- macro: m\n  condition: \"ka.verb = \\u00e9t\\u00e9 and \\\n    ka.uri =\"\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:3:13", "\""},
		{"single-quoted", "- macro: m\n  condition: 'ka.verb = ''a'' and ka.uri ='\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:2:43", "'"},
		{"flow mapping", "- {macro: m, condition: ka.verb in (a b)}\n- rule: r\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n  source: k8s_audit\n", "f.yaml:1:39", "b)"},
		{"appended condition", "- rule: r\n  desc: d\n  condition: ka.verb = a\n  output: o\n  priority: INFO\n  source: k8s_audit\n- rule: r\n  condition: or or\n  append: true\n", "f.yaml:8:17", "or"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := firstErr(t, tc.yml)
			if d.Code != CodeCompileCondition || d.Pos.String() != tc.pos {
				t.Fatalf("got %s\nwant %s", d.Display(), tc.pos)
			}
			lines := strings.Split(tc.yml, "\n")
			if d.Line != lines[d.Pos.Line-1] {
				t.Errorf("Line = %q", d.Line)
			}
			if !strings.HasPrefix(d.Line[d.Pos.Col-1:], tc.at) {
				t.Errorf("caret at %q, want %q:\n%s", d.Line[d.Pos.Col-1:], tc.at, d.Display())
			}
		})
	}
}

// findCheck returns the first check in n whose left field is name.
func findCheck(n condition.Node, name string) *condition.CheckNode {
	switch n := n.(type) {
	case *condition.BinaryNode:
		for _, c := range n.Children {
			if f := findCheck(c, name); f != nil {
				return f
			}
		}
	case *condition.NotNode:
		return findCheck(n.X, name)
	case *condition.CheckNode:
		if f := innermostField(n.Left); f != nil && f.Name == name {
			return n
		}
	}
	return nil
}

func TestNodePositions(t *testing.T) {
	a := "- list: verbs\n  items: [create, update]\n- macro: m\n  condition: >\n    ka.uri exists and\n    ka.user.name = bob\n"
	b := `- rule: r
  desc: d
  condition: m and ka.verb in (verbs)
  output: >
    user=%ka.user.name
    verb=%ka.verb
  priority: INFO
  source: k8s_audit
  exceptions:
  - name: e
    fields: [ka.target.name, ka.target.namespace]
    values:
    - [x, "y z"]
`
	s := mustLoad(t, a, b)
	r := s.Rules[0]
	tests := []struct {
		name string
		p    condition.Pos
		want string
	}{
		{"rule key", r.Pos, "b.yaml:1:3"},
		{"spliced macro check", findCheck(r.Condition, "ka.user.name").Pos, "a.yaml:6:5"},
		{"spliced macro value", findCheck(r.Condition, "ka.user.name").Right.Position(), "a.yaml:6:20"},
		{"rule check", findCheck(r.Condition, "ka.verb").Pos, "b.yaml:3:20"},
		{"substituted list item", findCheck(r.Condition, "ka.verb").Right.(*condition.ListNode).Items[1].Pos, "b.yaml:3:32"},
		{"exception field", findCheck(r.Condition, "ka.target.namespace").Pos, "b.yaml:11:30"},
		{"exception quoted value", findCheck(r.Condition, "ka.target.namespace").Right.Position(), "b.yaml:13:11"},
		{"output start", r.OutputPos, "b.yaml:5:5"},
		{"output second line", r.OutputPos + condition.Pos(strings.Index(r.Output, "%ka.verb")), "b.yaml:6:10"},
		{"output end", r.OutputPos + condition.Pos(len(r.Output)), "b.yaml:6:18"},
	}
	for _, tc := range tests {
		if got := s.Position(tc.p).String(); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	if r.Output != "user=%ka.user.name verb=%ka.verb" {
		t.Errorf("Output = %q", r.Output)
	}
	d := s.Diag(SeverityError, CodeCompileCondition, findCheck(r.Condition, "ka.user.name").Pos, r.Item(), "unknown field")
	want := "a.yaml:6:5: error: rule \"r\": unknown field\n    ka.user.name = bob\n    ^"
	if got := d.Display(); got != want {
		t.Errorf("Display:\n%s\nwant\n%s", got, want)
	}
	if p := s.Position(0); p.IsValid() {
		t.Errorf("Position(0) = %v", p)
	}
}

func TestDisplay(t *testing.T) {
	d := Diagnostic{Severity: SeverityWarning, Code: CodeUnknownKey, Pos: Position{File: "x.yaml", Line: 3, Col: 7},
		Item: `macro "m"`, Msg: "Unknown key 'k'. The key will be ignored.", Line: "\t  é k: v"}
	want := "x.yaml:3:7: warning: macro \"m\": Unknown key 'k'. The key will be ignored.\n\t  é k: v\n\t    ^"
	if got := d.Display(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	long := Diagnostic{Severity: SeverityError, Pos: Position{File: "x", Line: 1, Col: 1001}, Msg: "m",
		Line: strings.Repeat("a", 1000) + "X" + strings.Repeat("b", 1000)}
	lines := strings.Split(long.Display(), "\n")
	if len(lines[1]) > maxDisplayLine+6 || lines[1][strings.Index(lines[2], "^")] != 'X' {
		t.Errorf("long line:\n%s", long.Display())
	}
	if got := (Diagnostic{Severity: SeverityError, Msg: "m"}).Error(); got != "-: error: m" {
		t.Errorf("no position: %q", got)
	}
	if got := (Position{File: "f", Line: 2}).String(); got != "f:2" {
		t.Errorf("no column: %q", got)
	}
}

func TestSort(t *testing.T) {
	ds := []Diagnostic{
		{Severity: SeverityError, Pos: Position{File: "b", Line: 1, Col: 1}, Msg: "b1", file: 2},
		{Severity: SeverityError, Pos: Position{File: "a", Line: 5, Col: 9}, Msg: "a5-9", file: 1},
		{Severity: SeverityWarning, Pos: Position{File: "a", Line: 5, Col: 1}, Msg: "a5w", file: 1},
		{Severity: SeverityError, Pos: Position{File: "a", Line: 5, Col: 2}, Msg: "a5-2", file: 1},
		{Severity: SeverityError, Pos: Position{File: "a", Line: 2, Col: 1}, Msg: "a2", file: 1},
	}
	var got []string
	for _, d := range Sort(ds) {
		got = append(got, d.Msg)
	}
	if strings.Join(got, " ") != "a2 a5w a5-2 b1" {
		t.Errorf("got %v", got)
	}
	// ds itself is sorted and complete, for callers that ignore the result.
	got = got[:0]
	for _, d := range ds {
		got = append(got, d.Msg)
	}
	if strings.Join(got, " ") != "a2 a5w a5-2 a5-9 b1" {
		t.Errorf("ds after Sort: %v", got)
	}
}

func TestCRLFAndBOM(t *testing.T) {
	yml := "\ufeff- rule: r\r\n  desc: d\r\n  condition: >\r\n    ka.verb = create\r\n    and (ka.uri = )\r\n  output: o\r\n  priority: INFO\r\n  source: k8s_audit\r\n"
	d := firstErr(t, yml)
	if d.Pos.String() != "f.yaml:5:19" || d.Line != "    and (ka.uri = )" {
		t.Errorf("got %s", d.Display())
	}
	s, _ := Load([]Source{{Name: "f.yaml", Data: []byte(strings.Replace(yml, "(ka.uri = )", "ka.uri exists", 1))}}, Options{})
	if len(s.Rules) != 1 || s.Position(s.Rules[0].Pos).String() != "f.yaml:1:3" {
		t.Errorf("rules %v", s.Rules)
	}
}
