package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/txtar"
)

// fuzzEvents are evaluated by every rule FuzzCompile manages to compile:
// one rich event (lists, a pod spec, query parameters, a base64 value, a
// control character), one with almost nothing, and one with odd JSON types.
var fuzzEvents = []string{
	`{"kind":"Event","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c",` +
		`"verb":"create","user":{"username":"Alice","groups":["dev","system:authenticated"]},"userAgent":"kubectl\n1","sourceIPs":["10.0.0.1"],` +
		`"objectRef":{"resource":"pods","subresource":"exec","namespace":"default","name":"web-1"},"responseStatus":{"code":201},` +
		`"requestObject":{"spec":{"hostNetwork":true,"containers":[{"image":"nginx:1.2","securityContext":{"privileged":true}},{"image":"reg:5000/busybox"}],` +
		`"volumes":[{"hostPath":{"path":"/var/run/docker.sock"}}]},"data":{"k":"aGVsbG8="}},"responseObject":{"metadata":{"name":"web-*"}},` +
		`"annotations":{"authorization.k8s.io/decision":"allow"},"stageTimestamp":"2026-11-22T10:00:00.123456789Z"}`,
	`{"kind":"Event","stageTimestamp":"1970-01-01T00:00:00Z"}`,
	`{"kind":"Event","auditID":7,"verb":null,"user":{"username":["x"],"groups":"notalist"},"objectRef":[],"stageTimestamp":"2262-04-11T23:47:16.854775807Z"}`,
}

// fuzzRules is the rules file FuzzCompile fills in: a list and a macro the
// condition may use, and the rule under test.
func fuzzRules(cond, output string) []byte {
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	return []byte(`- list: fuzz_list
  items: [get, "a b", 2]
- macro: fuzz_macro
  condition: ka.verb in (fuzz_list)
- rule: fuzz
  desc: d
  condition: ` + q(cond) + `
  output: ` + q(output) + `
  priority: INFO
  source: k8s_audit
`)
}

// FuzzCompile loads a rule whose condition and output are fuzzed and, when it
// compiles, evaluates fixed events and renders the rule's alert for each:
// nothing may panic or hang, whatever the rule says.
func FuzzCompile(f *testing.F) {
	for _, s := range [][2]string{
		{`ka.verb regex "zzz)|(.*"`, `%1500000000ka.verb`},
		{`evt.rawtime = 1704067200123456001`, `%evt.rawtime %len(ka.user.groups)`},
		{`len(ka.user.groups) in (1, 2) and evt.rawtime.ns intersects (0x10)`, `%tolower(b64(jevt.value[/requestObject/data/k]))`},
		{`ka.target.name iglob val(ka.resp.name) or ka.user.name iglob "CAFÉ*"`, `%10ka.target.name|%-1ka.verb|%`},
		{`fuzz_macro and not ka.verb in (fuzz_list)`, `%basename(toupper(ka.uri))`},
	} {
		f.Add(s[0], s[1])
	}
	// Every condition and output of the golden cases.
	files, _ := filepath.Glob("testdata/*.txtar")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var srcs []rules.Source
		for _, fl := range txtar.Parse(string(data)).Files {
			if strings.HasSuffix(fl.Name, ".yaml") {
				srcs = append(srcs, rules.Source{Name: fl.Name, Data: []byte(fl.Data)})
			}
		}
		set, _ := rules.Load(srcs, rules.Options{})
		if set == nil {
			continue
		}
		for _, r := range set.Rules {
			cond := ""
			if r.Condition != nil {
				cond = r.Condition.String()
			}
			f.Add(cond, r.Output)
		}
	}
	evs := make([]audit.Event, len(fuzzEvents))
	for i, raw := range fuzzEvents {
		if err := audit.Parse(&evs[i], []byte(raw), 0); err != nil {
			f.Fatalf("event %d: %v", i, err)
		}
	}
	f.Fuzz(func(t *testing.T, cond, output string) {
		opts := DefaultOptions()
		opts.Env = field.Env{Hostname: "h", Location: time.UTC}
		opts.AppendFields = []string{"ka.verb", "len(ka.user.groups)"}
		p, diags := Load([]rules.Source{{Name: "fuzz.yaml", Data: fuzzRules(cond, output)}}, rules.Options{}, opts)
		for _, d := range diags {
			_ = d.Display()
		}
		if rules.HasErrors(diags) || len(p.Enabled()) == 0 {
			return
		}
		st := p.NewState()
		for i := range evs {
			matched := p.Eval(&evs[i], st)
			if len(matched) > 1 {
				t.Fatalf("one rule, %d matches", len(matched))
			}
			// Render whether or not the rule matched, to exercise every
			// output path.
			al := p.Alert(st, 0)
			alert.AppendText(nil, al, time.UTC)
			alert.AppendJSON(nil, al, time.UTC)
		}
	})
}
