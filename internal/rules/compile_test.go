package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/alert"
)

// rule returns a minimal k8s_audit rule item.
func rule(name, cond string) string {
	return fmt.Sprintf("- rule: %s\n  desc: d\n  condition: %s\n  output: o\n  priority: INFO\n  source: k8s_audit\n", name, cond)
}

// condOf loads files and returns the canonical condition of rule r.
func condOf(t *testing.T, r string, files ...string) string {
	t.Helper()
	s := mustLoad(t, files...)
	ru := ruleByName(s, r)
	if ru == nil {
		t.Fatalf("no rule %q", r)
	}
	return ru.Condition.String()
}

func TestListSubstitutionInRules(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"simple", []string{"- list: l\n  items: [a, b]\n" + rule("r", "ka.verb in (l)")}, "ka.verb in (a, b)"},
		{"defined after use", []string{rule("r", "ka.verb in (l)") + "- list: l\n  items: [a]\n"}, "ka.verb in (a)"},
		{"empty list swallows comma", []string{"- list: e\n  items: []\n" + rule("r", "ka.verb in (a, e)")}, "ka.verb in (a)"},
		{"empty list first", []string{"- list: e\n  items: []\n" + rule("r", "ka.verb in (e, a)")}, "ka.verb in (a)"},
		{"name in = position", []string{"- list: l\n  items: [v]\n" + rule("r", "ka.verb = l")}, "ka.verb = v"},
		{"undefined name left literal", []string{rule("r", "ka.verb in (nolist)")}, "ka.verb in (nolist)"},
		{"items with spaces quoted", []string{"- list: l\n  items: [\"a b\", c]\n" + rule("r", "ka.verb in (l)")}, `ka.verb in ("a b", c)`},
		{"nested list defined earlier", []string{"- list: inner\n  items: [x, y]\n- list: outer\n  items: [inner, z]\n" + rule("r", "ka.verb in (outer)")}, "ka.verb in (x, y, z)"},
		{"nested list defined later is literal", []string{"- list: outer\n  items: [inner, z]\n- list: inner\n  items: [x]\n" + rule("r", "ka.verb in (outer)")},
			// outer is substituted first (list order), leaving "inner", which
			// is then substituted as a list of its own: Falco's textual quirk.
			"ka.verb in (x, z)"},
		{"later list substituted into earlier items", []string{"- list: a\n  items: [b]\n- list: b\n  items: [x]\n" + rule("r", "ka.verb in (a)")}, "ka.verb in (x)"},
		{"list order decides textual substitution", []string{"- list: b\n  items: [x]\n- list: a\n  items: [bb, b]\n- list: bb\n  items: [y]\n" + rule("r", "ka.verb in (a)")},
			// b is expanded inside a (defined earlier); bb is not, but is
			// substituted into the condition after a, being later in order.
			"ka.verb in (y, x)"},
		{"append to list", []string{"- list: l\n  items: [a]\n", "- list: l\n  items: [b]\n  override:\n    items: append\n" + rule("r", "ka.verb in (l)")}, "ka.verb in (a, b)"},
		{"replace list", []string{"- list: l\n  items: [a]\n", "- list: l\n  items: [b]\n  override:\n    items: replace\n" + rule("r", "ka.verb in (l)")}, "ka.verb in (b)"},
		{"redefine list", []string{"- list: l\n  items: [a]\n", "- list: l\n  items: [b]\n" + rule("r", "ka.verb in (l)")}, "ka.verb in (b)"},
		{"bare list name after in", []string{"- list: l\n  items: [a]\n" + rule("r", "ka.verb in l")}, "ka.verb in a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := condOf(t, "r", tc.files...), canon(t, tc.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestMacros(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string // canonical condition of rule r, or "error: <msg>"
	}{
		{"spliced as subtree", []string{"- macro: m\n  condition: ka.verb=a or ka.verb=b\n" + rule("r", "ka.uri exists and m")},
			"ka.uri exists and (ka.verb = a or ka.verb = b)"},
		{"rule uses macro defined later", []string{rule("r", "m") + "- macro: m\n  condition: ka.verb=a\n"}, "ka.verb = a"},
		{"macro uses earlier macro", []string{"- macro: a\n  condition: ka.verb=a\n- macro: b\n  condition: not a\n" + rule("r", "b")}, "not ka.verb = a"},
		{"macro cannot use later macro", []string{"- macro: b\n  condition: not a\n- macro: a\n  condition: ka.verb=a\n" + rule("r", "b")},
			"error: Undefined macro 'a' used in filter."},
		{"redefinition makes later macro visible", []string{"- macro: b\n  condition: ka.verb=x\n- macro: a\n  condition: ka.verb=a\n- macro: b\n  condition: not a\n" + rule("r", "b")},
			"not ka.verb = a"},
		{"append makes later macro visible", []string{"- macro: b\n  condition: ka.verb=x\n- macro: a\n  condition: ka.verb=a\n- macro: b\n  condition: or a\n  override:\n    condition: append\n" + rule("r", "b")},
			"ka.verb = x or ka.verb = a"},
		{"append joins with one space", []string{"- macro: m\n  condition: ka.verb=a\n", "- macro: m\n  condition: or ka.verb=b\n  append: true\n" + rule("r", "not m")},
			"not (ka.verb = a or ka.verb = b)"},
		{"redefinition replaces", []string{"- macro: m\n  condition: ka.verb=a\n", "- macro: m\n  condition: ka.verb=b\n" + rule("r", "m")}, "ka.verb = b"},
		{"override replace", []string{"- macro: m\n  condition: ka.verb=a\n", "- macro: m\n  condition: ka.verb=b\n  override:\n    condition: replace\n" + rule("r", "m")}, "ka.verb = b"},
		{"undefined", []string{rule("r", "nomacro")}, "error: Undefined macro 'nomacro' used in filter."},
		{"self loop", []string{"- macro: m\n  condition: ka.verb=a\n- macro: m\n  condition: m\n" + rule("r", "ka.uri exists")},
			"error: reference loop in macro 'm'"},
		{"self reference without redefinition", []string{"- macro: m\n  condition: not m\n" + rule("r", "ka.uri exists")},
			"error: Undefined macro 'm' used in filter."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ds := loadStrings(t, tc.files...)
			if msg, ok := strings.CutPrefix(tc.want, "error: "); ok {
				errs := errorsOf(ds)
				if len(errs) == 0 || errs[0].Msg != msg {
					t.Fatalf("got %v, want error %q", ds, msg)
				}
				return
			}
			if HasErrors(ds) {
				t.Fatalf("errors: %v", ds)
			}
			r := ruleByName(s, "r")
			if got, want := r.Condition.String(), canon(t, tc.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestRuleAppendAndOverride(t *testing.T) {
	base := "- rule: r\n  desc: first\n  condition: ka.verb=a\n  output: out1\n  priority: INFO\n  source: k8s_audit\n  tags: [b, a]\n"
	tests := []struct {
		name    string
		overlay string
		check   func(t *testing.T, r *Rule)
	}{
		{"append true joins condition with a space", "- rule: r\n  condition: or ka.verb=b\n  append: true\n", func(t *testing.T, r *Rule) {
			if got, want := r.Condition.String(), canon(t, "ka.verb=a or ka.verb=b"); got != want {
				t.Errorf("condition %s, want %s", got, want)
			}
		}},
		{"override append of every appendable key", "- rule: r\n  condition: and ka.uri exists\n  output: more\n  desc: second\n  tags: [c, a]\n  override:\n    condition: append\n    output: append\n    desc: append\n    tags: append\n", func(t *testing.T, r *Rule) {
			if got, want := r.Condition.String(), canon(t, "ka.verb=a and ka.uri exists"); got != want {
				t.Errorf("condition %s, want %s", got, want)
			}
			if r.Output != "out1 more" || r.Desc != "first second" || !slices.Equal(r.Tags, []string{"a", "b", "c"}) {
				t.Errorf("got output %q desc %q tags %v", r.Output, r.Desc, r.Tags)
			}
		}},
		{"override replace", "- rule: r\n  priority: ERROR\n  enabled: false\n  tags: [z]\n  output: new\n  skip-if-unknown-filter: true\n  warn_evttypes: false\n  capture: true\n  capture_duration: 5\n  override:\n    priority: replace\n    enabled: replace\n    tags: replace\n    output: replace\n    skip-if-unknown-filter: replace\n    warn_evttypes: replace\n    capture: replace\n    capture_duration: replace\n", func(t *testing.T, r *Rule) {
			if r.Priority != alert.PriorityError || r.Enabled || !slices.Equal(r.Tags, []string{"z"}) || r.Output != "new" || r.Desc != "first" ||
				!r.SkipIfUnknownFilter || r.WarnEvttypes || !r.Capture || r.CaptureDuration != 5 {
				t.Errorf("got %+v", r)
			}
		}},
		{"mixed append and replace", "- rule: r\n  condition: or ka.verb=b\n  priority: DEBUG\n  override:\n    condition: append\n    priority: replace\n", func(t *testing.T, r *Rule) {
			if got, want := r.Condition.String(), canon(t, "ka.verb=a or ka.verb=b"); got != want || r.Priority != alert.PriorityDebug {
				t.Errorf("got %s %v", got, r.Priority)
			}
		}},
		{"enabled-only item", "- rule: r\n  enabled: false\n", func(t *testing.T, r *Rule) {
			if r.Enabled {
				t.Error("still enabled")
			}
		}},
		{"redefinition keeps position in order", "- rule: other\n  desc: d\n  condition: ka.verb=x\n  output: o\n  priority: INFO\n  source: k8s_audit\n- rule: r\n  desc: again\n  condition: ka.verb=z\n  output: o2\n  priority: INFO\n  source: k8s_audit\n", func(t *testing.T, r *Rule) {
			if r.Desc != "again" || r.File != "b.yaml" {
				t.Errorf("got %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustLoad(t, base, tc.overlay)
			if s.Rules[0].Name != "r" {
				t.Errorf("rule order: %q first", s.Rules[0].Name)
			}
			tc.check(t, ruleByName(s, "r"))
		})
	}
}

func TestExceptions(t *testing.T) {
	head := "- rule: r\n  desc: d\n  condition: ka.verb=create or ka.verb=update\n  output: o\n  priority: INFO\n  source: k8s_audit\n"
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"single field defaults to in", []string{head + "  exceptions:\n  - name: e\n    fields: ka.user.name\n    values: [alice, bob smith]\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.user.name in (alice, "bob smith"))`},
		{"single field pmatch", []string{head + "  exceptions:\n  - name: e\n    fields: ka.uri\n    comps: pmatch\n    values: [/a, /b]\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.uri pmatch (/a, /b))`},
		{"tuple defaults to =", []string{head + "  exceptions:\n  - name: e\n    fields: [ka.user.name, ka.target.namespace]\n    values:\n    - [alice, default]\n    - [bob, kube system]\n"},
			`(ka.verb=create or ka.verb=update) and not ((ka.user.name = alice and ka.target.namespace = default) or (ka.user.name = bob and ka.target.namespace = "kube system"))`},
		{"tuple with comps, list element and scalar wrapped", []string{head + "  exceptions:\n  - name: e\n    fields: [ka.user.name, ka.target.namespace, ka.uri]\n    comps: [startswith, in, in]\n    values:\n    - [sys, [a, b c], /x]\n"},
			`(ka.verb=create or ka.verb=update) and not ((ka.user.name startswith sys and ka.target.namespace in (a, "b c") and ka.uri in (/x)))`},
		{"two exceptions", []string{head + "  exceptions:\n  - name: e1\n    fields: ka.user.name\n    values: [a]\n  - name: e2\n    fields: ka.verb\n    values: [b]\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.user.name in (a)) and not (ka.verb in (b))`},
		{"no values adds nothing", []string{head + "  exceptions:\n  - name: e\n    fields: [ka.user.name]\n"},
			`(ka.verb=create or ka.verb=update)`},
		{"values appended to existing exception", []string{head + "  exceptions:\n  - name: e\n    fields: ka.user.name\n    values: [a]\n",
			"- rule: r\n  exceptions:\n  - name: e\n    values: [b]\n  override:\n    exceptions: append\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.user.name in (a, b))`},
		{"new exception appended", []string{head, "- rule: r\n  exceptions:\n  - name: e\n    fields: ka.user.name\n    values: [b]\n  append: true\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.user.name in (b))`},
		{"exceptions replaced", []string{head + "  exceptions:\n  - name: e\n    fields: ka.user.name\n    values: [a]\n",
			"- rule: r\n  exceptions:\n  - name: f\n    fields: ka.verb\n    values: [x]\n  override:\n    exceptions: replace\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.verb in (x))`},
		{"exception values are list-substituted", []string{"- list: users\n  items: [a, b]\n" + head + "  exceptions:\n  - name: e\n    fields: ka.user.name\n    values: [users]\n"},
			`(ka.verb=create or ka.verb=update) and not (ka.user.name in (a, b))`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := condOf(t, "r", tc.files...), canon(t, tc.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestNAWarning(t *testing.T) {
	_, ds := loadStrings(t, "- macro: m\n  condition: ka.user.name in (a, <NA>)\n"+
		rule("r", "m and jevt.value[/x] != <NA> and ka.uri contains <NA> and other.field = <NA>"))
	var got []string
	for _, d := range ds {
		if d.Code == CodeUnsafeNACheck {
			got = append(got, d.Pos.String())
		}
	}
	want := []string{"a.yaml:2:14", "a.yaml:5:20"}
	if !slices.Equal(got, want) {
		t.Errorf("NA warnings at %v, want %v (all: %v)", got, want, ds)
	}
}

func TestUnknownSource(t *testing.T) {
	s, ds := loadStrings(t, "- list: l\n  items: [a]\n- rule: r\n  desc: d\n  condition: ka.verb in (l)\n  output: o\n  priority: INFO\n",
		"- rule: r\n  condition: and x\n  append: true\n")
	if HasErrors(ds) || len(s.Rules) != 0 {
		t.Fatalf("got %d rules, %v", len(s.Rules), ds)
	}
	var codes []string
	for _, d := range ds {
		codes = append(codes, d.Code)
	}
	if !slices.Contains(codes, CodeUnknownSource) || !slices.Contains(codes, CodeUnusedList) {
		t.Errorf("codes %v", codes)
	}
	s, ds = Load([]Source{{Name: "x", Data: []byte("- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n")}}, Options{Sources: []string{"syscall"}})
	if HasErrors(ds) || len(s.Rules) != 1 || s.Rules[0].Source != "syscall" {
		t.Errorf("syscall source: %v %v", s.Rules, ds)
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		opts Options
		want string // first error message, or ""
	}{
		{"int", "- required_engine_version: 15\n", Options{}, ""},
		{"semver", "- required_engine_version: 0.40.1\n", Options{}, ""},
		{"too new", "- required_engine_version: 0.64.0\n", Options{}, "Rules require engine version 0.64.0, but engine version is 0.63.0"},
		{"other major", "- required_engine_version: 1.0.0\n", Options{}, "Rules require engine version 1.0.0, but engine version is 0.63.0"},
		{"bad", "- required_engine_version: abc\n", Options{}, `Unable to parse engine version 'abc' as a semver string. Expected "x.y.z" semver format.`},
		{"plugin ok via alternative", "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.18.0\n    alternatives:\n    - name: k8saudit-eks\n      version: 0.12.0\n", Options{Plugins: map[string]string{"k8saudit-eks": "0.13.1"}}, ""},
		{"plugin 0.x minor newer ok", "- required_plugin_versions:\n  - name: json\n    version: 0.7.0\n", Options{}, ""},
		{"plugin too old", "- required_plugin_versions:\n  - name: json\n    version: 0.8.0\n", Options{}, "Plugin 'json' version '0.7.4' is not compatible with required plugin version '0.8.0'"},
		{"plugin missing", "- required_plugin_versions:\n  - name: foo\n    version: 1.0.0\n    alternatives:\n    - name: bar\n      version: 2.0.0\n", Options{}, "Plugin requirement not satisfied, must load one of: foo (>= 1.0.0), bar (>= 2.0.0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := Load([]Source{{Name: "v.yaml", Data: []byte(tc.yaml)}}, tc.opts)
			errs := errorsOf(ds)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("unexpected %v", errs)
			case tc.want != "" && (len(errs) == 0 || errs[0].Msg != tc.want):
				t.Errorf("got %v, want %q", errs, tc.want)
			}
		})
	}
}
