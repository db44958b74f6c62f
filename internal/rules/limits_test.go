package rules

import (
	"fmt"
	"strings"
	"testing"
)

func TestMaxFileSize(t *testing.T) {
	src := Source{Name: "big.yaml", Data: []byte("- list: l\n  items: [a, b, c]\n")}
	s, ds := Load([]Source{src}, Options{MaxFileSize: 10})
	if len(ds) != 1 || ds[0].Code != CodeFileRead || ds[0].Pos.File != "big.yaml" || s == nil {
		t.Errorf("got %v", ds)
	}
}

func TestAliasBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("- list: l0\n  items: &a [")
	for i := 0; i < 1000; i++ {
		b.WriteString("x, ")
	}
	b.WriteString("x]\n")
	for i := 1; i < 5000; i++ {
		fmt.Fprintf(&b, "- list: l%d\n  items: *a\n", i)
	}
	_, ds := loadStrings(t, b.String())
	found := false
	for _, d := range ds {
		found = found || d.Msg == "document contains excessive aliasing"
	}
	if !found {
		t.Error("no aliasing error")
	}

	// Nested aliases in exception values (the only place values nest).
	b.Reset()
	b.WriteString("- l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "- l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString(rule("r", "ka.verb exists") + "  exceptions:\n  - name: e\n    fields: [ka.verb]\n    values: [*l11]\n")
	_, ds = loadStrings(t, b.String())
	if !HasErrors(ds) {
		t.Error("billion laughs loaded")
	}
}

func TestConditionLimits(t *testing.T) {
	// A list substituted many times.
	items := strings.Repeat("abcdefghij, ", 1000)
	yml := "- list: l\n  items: [" + items + "x]\n" + rule("r", strings.Repeat("ka.verb in (l) or ", 20)+"ka.verb exists")
	_, ds := Load([]Source{{Name: "x", Data: []byte(yml)}}, Options{MaxExpandedLen: 100000})
	if errs := errorsOf(ds); len(errs) != 1 || !strings.Contains(errs[0].Msg, "after substituting list 'l'") {
		t.Errorf("got %v", ds)
	}
	// With the default expansion limit the same file loads: a large
	// allowlist is legitimate, and Falco has no such limit.
	if _, ds := loadStrings(t, yml); HasErrors(ds) {
		t.Errorf("a 240 KB expansion was refused: %v", ds)
	}
	// A 20,000-item allowlist in one rule.
	big := "- list: users\n  items: [" + strings.Repeat("someone@example.com, ", 20000) + "x]\n" + rule("r", "not ka.user.name in (users)")
	if set, ds := loadStrings(t, big); HasErrors(ds) || len(set.Rules) != 1 {
		t.Errorf("large allowlist: %v", ds)
	}
	// The condition as written is still bounded.
	long := rule("r", strings.Repeat("ka.verb exists and ", 6000)+"ka.verb exists")
	if _, ds := loadStrings(t, long); !HasErrors(ds) || !strings.Contains(errorsOf(ds)[0].Msg, "condition too long") {
		t.Errorf("a 114 KB condition was accepted: %v", ds)
	}

	// Macros that double at each step.
	var b strings.Builder
	b.WriteString("- macro: m0\n  condition: ka.verb exists\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&b, "- macro: m%d\n  condition: m%d and m%d\n", i, i-1, i-1)
	}
	b.WriteString(rule("r", "m29"))
	_, ds = loadStrings(t, b.String())
	found := false
	for _, d := range ds {
		found = found || strings.Contains(d.Msg, "too many nodes")
	}
	if !found {
		t.Errorf("no expansion error in %v", ds)
	}

	// MaxConditionLen and MaxDepth reach the parser.
	_, ds = Load([]Source{{Name: "x", Data: []byte(rule("r", "((((ka.verb exists))))"))}}, Options{MaxDepth: 2})
	if !HasErrors(ds) {
		t.Error("MaxDepth ignored")
	}
	_, ds = Load([]Source{{Name: "x", Data: []byte(rule("r", "ka.verb exists and ka.uri exists"))}}, Options{MaxConditionLen: 10})
	if !HasErrors(ds) {
		t.Error("MaxConditionLen ignored")
	}
}

func TestBadEngineVersionOption(t *testing.T) {
	_, ds := Load(nil, Options{EngineVersion: "latest"})
	if len(ds) != 1 || !strings.Contains(ds[0].Msg, "invalid engine version option") {
		t.Errorf("got %v", ds)
	}
}

func TestMaxDiagnostics(t *testing.T) {
	yml := strings.Repeat("- foo: 1\n", maxDiagnostics+2000) + "- list: x\n  items: nope\n"
	_, ds := loadStrings(t, yml)
	if len(ds) != maxDiagnostics+1 {
		t.Fatalf("%d diagnostics", len(ds))
	}
	last := ds[len(ds)-1]
	if last.Msg != "too many problems: 2001 more not reported" || last.Severity != SeverityError {
		t.Errorf("last: %v", last)
	}
}
