package engine

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rules"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want number
		ok   bool
	}{
		{in: "0", want: number{}, ok: true},
		{in: "-0", want: number{}, ok: true},
		{in: "+12", want: number{mag: 12}, ok: true},
		{in: "-12", want: number{mag: 12, neg: true}, ok: true},
		{in: "1704067200123456001", want: number{mag: 1704067200123456001}, ok: true},
		{in: "18446744073709551615", want: number{mag: math.MaxUint64}, ok: true},
		{in: "18446744073709551616", want: number{isFloat: true, f: 0x1p64}, ok: true},
		{in: "0x10", want: number{mag: 16}, ok: true},
		{in: "0XfF", want: number{mag: 255}, ok: true},
		{in: "0xFFFFFFFFFFFFFFFF", want: number{mag: math.MaxUint64}, ok: true},
		{in: "1.5", want: number{isFloat: true, f: 1.5}, ok: true},
		{in: "1.", want: number{isFloat: true, f: 1}, ok: true},
		{in: "-2e3", want: number{isFloat: true, f: -2000}, ok: true},
		{in: "2E+3", want: number{isFloat: true, f: 2000}, ok: true},
		{in: "", ok: false},
		{in: "-", ok: false},
		{in: ".5", ok: false},
		{in: "1e", ok: false},
		{in: "1e400", ok: false},
		{in: "0x", ok: false},
		{in: "0x1g", ok: false},
		{in: "0x10000000000000000", ok: false},
		{in: "-0x1", ok: false},
		{in: "nan", ok: false},
		{in: "inf", ok: false},
		{in: "1_000", ok: false},
		{in: " 1", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseNumber([]byte(tc.in))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("parseNumber(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCmpNumber(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{a: "1704067200123456001", b: "1704067200123456000", want: 1},
		{a: "1704067200123456000", b: "1704067200123456000", want: 0},
		{a: "1704067200123456000", b: "0x17A6101708C0CA00", want: 0},
		{a: "-1", b: "1", want: -1},
		{a: "-2", b: "-1", want: -1},
		{a: "-0", b: "0", want: 0},
		{a: "18446744073709551615", b: "18446744073709551614", want: 1},
		{a: "3", b: "2.5", want: 1},
		{a: "2", b: "2.5", want: -1},
		{a: "2", b: "2.0", want: 0},
		{a: "-2", b: "-2.5", want: 1},
		{a: "-3", b: "-2.5", want: -1},
		{a: "0", b: "-0.5", want: 1},
		{a: "0", b: "0.5", want: -1},
		{a: "1704067200123456001", b: "1.704067200123456e18", want: 1},
		{a: "18446744073709551615", b: "1e20", want: -1},
		{a: "-18446744073709551615", b: "-1e20", want: 1},
		{a: "1.5", b: "2.5", want: -1},
	}
	for _, tc := range tests {
		a, ok1 := parseNumber([]byte(tc.a))
		b, ok2 := parseNumber([]byte(tc.b))
		if !ok1 || !ok2 {
			t.Fatalf("cannot parse %q or %q", tc.a, tc.b)
		}
		if got := cmpNumber(a, b); got != tc.want {
			t.Errorf("cmpNumber(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := cmpNumber(b, a); got != -tc.want {
			t.Errorf("cmpNumber(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pat, v string
		fold   bool
		want   bool
	}{
		{pat: "web-?", v: "web-1", want: true},
		{pat: "/api/*/pods", v: "/api/v1/namespaces/x/pods", want: true},
		{pat: "[!a-c]x", v: "dx", want: true},
		{pat: "[!a-c]x", v: "bx", want: false},
		{pat: `\*`, v: "*", want: true},
		{pat: "[ab", v: "[ab", want: true},
		{pat: "WEB-*", v: "web-1", fold: true, want: true},
		{pat: "web-*", v: "WEB-1", fold: true, want: true},
		{pat: "[A-C]x", v: "bX", fold: true, want: true},
		{pat: "CAFÉ*", v: "CAFÉ-1", fold: true, want: true},
		{pat: "CAFÉ*", v: "cafÉ-1", fold: true, want: true},
		{pat: "CAFÉ*", v: "café-1", fold: true, want: false}, // C locale: no folding beyond ASCII
		{pat: "café*", v: "CAFÉ-1", fold: true, want: false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pat, []byte(tc.v), tc.fold); got != tc.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tc.pat, tc.v, tc.fold, got, tc.want)
		}
		if got := globMatch([]byte(tc.pat), []byte(tc.v), tc.fold); got != tc.want {
			t.Errorf("globMatch([]byte(%q), %q, %v) = %v, want %v", tc.pat, tc.v, tc.fold, got, tc.want)
		}
	}
}

const simpleRule = `
- rule: r
  desc: d
  condition: ka.verb = get
  output: v=%ka.verb
  priority: INFO
  source: k8s_audit
`

// TestStateFromOtherProgramPanics checks that a State is bound to the
// Program that made it: after a reload, reusing the old State would read
// the wrong slots, so Eval and Alert refuse it loudly.
func TestStateFromOtherProgramPanics(t *testing.T) {
	src := rules.Source{Name: "r.yaml", Data: []byte(simpleRule)}
	p1 := mustLoad(t, DefaultOptions(), src)
	p2 := mustLoad(t, DefaultOptions(), src)
	var ev audit.Event
	if err := audit.Parse(&ev, []byte(`{"kind":"Event","auditID":"1","stage":"ResponseComplete","verb":"get","stageTimestamp":"2026-11-22T10:00:00Z"}`), 0); err != nil {
		t.Fatal(err)
	}
	st := p1.NewState()
	if got := p1.Eval(&ev, st); len(got) != 1 {
		t.Fatalf("own State: matched %v, want one rule", got)
	}
	for name, call := range map[string]func(){
		"Eval":  func() { p2.Eval(&ev, st) },
		"Alert": func() { p2.Alert(st, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "State used with a Program other than") {
					t.Errorf("recovered %v, want a panic about the State's Program", r)
				}
			}()
			call()
		})
	}
}

// TestValGlobAllocs checks that glob and iglob against val(), whose pattern
// is only known per event, match in place without allocating, even for
// values too long for the compiler's small-string buffers.
func TestValGlobAllocs(t *testing.T) {
	src := rules.Source{Name: "r.yaml", Data: []byte(`
- rule: glob
  desc: d
  condition: ka.target.name glob val(ka.resp.name) and ka.verb = nomatch
  output: o
  priority: INFO
  source: k8s_audit
- rule: iglob
  desc: d
  condition: ka.target.name iglob val(ka.resp.name) and ka.verb = nomatch
  output: o
  priority: INFO
  source: k8s_audit
- rule: iglob alone
  desc: d
  condition: not ka.target.name iglob val(ka.resp.name)
  output: o
  priority: INFO
  source: k8s_audit
`)}
	o := DefaultOptions()
	o.NoIndex = true // evaluate every rule
	p := mustLoad(t, o, src)
	long := strings.Repeat("segment-", 16)
	var ev audit.Event
	raw := `{"kind":"Event","auditID":"1","stage":"ResponseComplete","verb":"get",` +
		`"objectRef":{"resource":"pods","name":"` + strings.ToUpper(long) + `tail"},` +
		`"responseObject":{"metadata":{"name":"` + long + `*"}},"stageTimestamp":"2026-11-22T10:00:00Z"}`
	if err := audit.Parse(&ev, []byte(raw), 0); err != nil {
		t.Fatal(err)
	}
	st := p.NewState()
	if got := p.Eval(&ev, st); len(got) != 0 {
		t.Fatalf("matched %v, want nothing (the iglob matches)", got)
	}
	allocs := testing.AllocsPerRun(100, func() { p.Eval(&ev, st) })
	if allocs != 0 {
		t.Errorf("%.2f allocations per event, want 0", allocs)
	}
}

// TestCheckOnlyRulesDoNotRun checks that a rule whose item has other errors
// is compiled for its diagnostics but never becomes part of a Program.
func TestCheckOnlyRulesDoNotRun(t *testing.T) {
	src := `
- rule: good
  desc: d
  condition: ka.verb exists
  output: o
  priority: INFO
  source: k8s_audit
- rule: bad priority
  desc: d
  condition: ka.verb exists
  output: o
  priority: URGENT
  source: k8s_audit
`
	set, _ := rules.Load([]rules.Source{{Name: "r.yaml", Data: []byte(src)}}, rules.Options{})
	if len(set.Rules) != 2 || !set.Rules[1].CheckOnly {
		t.Fatalf("set rules: %+v", set.Rules)
	}
	p, _ := Compile(set, DefaultOptions())
	if len(p.Rules()) != 1 || len(p.Enabled()) != 1 || p.Rules()[0].Name != "good" {
		t.Errorf("program rules: %d", len(p.Rules()))
	}
}

// TestOverride checks the runtime switch: it beats the file either way,
// and MinPriority still applies.
func TestOverride(t *testing.T) {
	src := `
- rule: on in file
  desc: d
  condition: ka.verb exists
  output: o
  priority: WARNING
  source: k8s_audit
- rule: off in file
  desc: d
  condition: ka.verb exists
  output: o
  priority: WARNING
  source: k8s_audit
  enabled: false
- rule: debug
  desc: d
  condition: ka.verb exists
  output: o
  priority: DEBUG
  source: k8s_audit
`
	set, _ := rules.Load([]rules.Source{{Name: "r.yaml", Data: []byte(src)}}, rules.Options{})
	opts := DefaultOptions()
	opts.MinPriority = alert.PriorityInformational
	opts.Override = map[string]bool{"on in file": false, "off in file": true, "debug": true}
	p, _ := Compile(set, opts)
	var got []string
	for _, r := range p.Rules() {
		got = append(got, fmt.Sprintf("%s enabled=%v infile=%v overridden=%v", r.Name, r.Enabled, r.InFile, r.Overridden))
	}
	want := []string{
		"on in file enabled=false infile=true overridden=true",
		"off in file enabled=true infile=false overridden=true",
		"debug enabled=false infile=true overridden=true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(p.Enabled()) != 1 || p.Enabled()[0].Name != "off in file" {
		t.Errorf("enabled: %v", p.Enabled())
	}
}
