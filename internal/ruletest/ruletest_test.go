package ruletest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/rules"
)

const base = `
- rule: Delete
  desc: d
  condition: ka.verb = delete
  output: deleted %ka.target.name by %ka.user.name
  priority: WARNING
  source: k8s_audit
- rule: Any
  desc: d
  condition: ka.verb exists
  output: any %ka.verb
  priority: DEBUG
  source: k8s_audit
`

func ev(verb string) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x","stage":"ResponseComplete","verb":"` + verb +
		`","user":{"username":"alice"},"objectRef":{"resource":"namespaces","name":"ns1"},"stageTimestamp":"2026-11-22T10:00:00Z"}` + "\n"
}

func writeCase(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "case.txtar")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, text string) *Result {
	t.Helper()
	r, err := NewRunner(Options{Rules: []rules.Source{{Name: "base.yaml", Data: []byte(base)}}})
	if err != nil {
		t.Fatal(err)
	}
	p := writeCase(t, text)
	data, _ := os.ReadFile(p)
	c, err := Parse(p, data)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(c)
}

func TestPassAndFail(t *testing.T) {
	ok := run(t, "Deletes alert twice.\n-- events.jsonl --\n"+ev("delete")+ev("get")+"-- want --\nDelete\nAny\n# comment\nAny\n")
	if !ok.Passed() {
		t.Errorf("want pass, got %q: %s", ok.Got, ok.Report())
	}
	bad := run(t, "A get is not a delete.\n-- events.jsonl --\n"+ev("get")+"-- want --\nDelete\n")
	if bad.Passed() {
		t.Fatal("want failure")
	}
	rep := bad.Report()
	for _, s := range []string{"A get is not a delete.", "- Delete   (wanted, not raised)", "+ Any   (raised, not wanted)", "Debug any get"} {
		if !strings.Contains(rep, s) {
			t.Errorf("report lacks %q:\n%s", s, rep)
		}
	}
}

func TestOverlayAndOptions(t *testing.T) {
	res := run(t, `An overlay disables Any; first-match keeps one alert.
-- overlay.yaml --
- rule: Any
  enabled: false
-- options --
rule_matching=first
-- events.jsonl --
`+ev("delete")+"-- want --\nDelete\n")
	if !res.Passed() {
		t.Errorf("got %q: %s", res.Got, res.Report())
	}
	broken := run(t, "-- bad.yaml --\n- rule: X\n  condition: ka.nosuch = 1\n  output: o\n  desc: d\n  priority: INFO\n  source: k8s_audit\n-- events.jsonl --\n"+ev("get")+"-- want --\n")
	if broken.Err == nil || !strings.Contains(broken.Report(), `unknown field "ka.nosuch"`) {
		t.Errorf("report: %s", broken.Report())
	}
	empty := run(t, "-- events.jsonl --\n[]\n-- want --\n")
	if empty.Passed() || !strings.Contains(empty.Report(), "no events") {
		t.Errorf("a case without events must fail: %s", empty.Report())
	}
	spaced := run(t, "-- options --\nrule_matching = first\n-- events.jsonl --\n"+ev("delete")+"-- want --\nDelete\n")
	if !spaced.Passed() {
		t.Errorf("options with spaces: %s", spaced.Report())
	}
	junk := run(t, "-- events.jsonl --\nnot json\n-- want --\n")
	if junk.Passed() || !strings.Contains(junk.Report(), "malformed_json") {
		t.Errorf("undecodable events must fail the case: %s", junk.Report())
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, msg string }{
		{"-- want --\n", "no events.jsonl section"},
		{"-- events.jsonl --\n", "no want section"},
		{"-- events.jsonl --\n-- want --\n-- wnat --\n", `unknown section "wnat"`},
		{"-- options --\nmatching=first\n-- events.jsonl --\n-- want --\n", `unknown option "matching"`},
	} {
		if _, err := Parse("c.txtar", []byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %v, want %q", tc.text, err, tc.msg)
		}
	}
}

func TestUpdate(t *testing.T) {
	text := "Update me.\n-- events.jsonl --\n" + ev("delete") + "-- want --\n# kept\nWrong\n"
	r, _ := NewRunner(Options{Rules: []rules.Source{{Name: "base.yaml", Data: []byte(base)}}})
	p := writeCase(t, text)
	c, _ := Parse(p, []byte(text))
	if err := Update(r.Run(c)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if !strings.HasSuffix(string(data), "-- want --\n# kept\nDelete\nAny\n") || !strings.HasPrefix(string(data), "Update me.\n") {
		t.Errorf("updated file:\n%s", data)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	for _, f := range []string{"b.txtar", "a.txtar", "sub/c.txtar", "notes.md"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if got, err := Find([]string{link}); err != nil || len(got) != 3 {
		t.Errorf("symlinked root: %q, %v", got, err)
	}
	got, err := Find([]string{dir, filepath.Join(dir, ".", "a.txtar")})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, g := range got {
		r, _ := filepath.Rel(dir, g)
		rel = append(rel, r)
	}
	if strings.Join(rel, ",") != "a.txtar,b.txtar,sub/c.txtar" {
		t.Errorf("found %q", rel)
	}
}
