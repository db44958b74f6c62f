package engine

import (
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/rules"
)

// TestStatefulDiagnostics: problems of stateful rules that need the field
// table are reported at their place.
func TestStatefulDiagnostics(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown field in by", `
- rule: r
  desc: d
  condition: ka.verb = get
  output: o
  priority: INFO
  source: k8s_audit
  vigil:
    threshold: {count: 2, window: 1m, by: [ka.user.nam]}
`, `t.yaml:9:44: error: rule "r": vigil.threshold: unknown field "ka.user.nam"`},
		{"unknown distinct field", `
- rule: r
  desc: d
  condition: ka.verb = get
  output: o
  priority: INFO
  source: k8s_audit
  vigil:
    distinct: {count: 2, window: 1m, by: [ka.user.name], field: ka.targetname}
`, `t.yaml:9:65: error: rule "r": vigil.distinct: unknown field "ka.targetname"`},
		{"vigil field in a plain output", `
- rule: r
  desc: d
  condition: ka.verb = get
  output: n=%vigil.count
  priority: INFO
  source: k8s_audit
`, `t.yaml:5:13: error: rule "r": invalid output format: vigil.count is only available in the output of a stateful rule (one with a vigil key)`},
		{"vigil field in a condition", `
- rule: r
  desc: d
  condition: vigil.count > 2
  output: o
  priority: INFO
  source: k8s_audit
  vigil:
    threshold: {count: 2, window: 1m, by: [ka.user.name]}
`, `t.yaml:4:14: error: rule "r": vigil.count is an output field of stateful rules; a condition cannot use it`},
		{"vigil field as a key", `
- rule: r
  desc: d
  condition: ka.verb = get
  output: o
  priority: INFO
  source: k8s_audit
  vigil:
    threshold: {count: 2, window: 1m, by: [vigil.count]}
`, `t.yaml:9:44: error: rule "r": vigil.threshold: vigil.count is an output field, not a field of the event`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Load([]rules.Source{{Name: "t.yaml", Data: []byte(tc.src)}}, rules.Options{}, DefaultOptions())
			var got []string
			for _, d := range diags {
				got = append(got, d.Error())
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}
