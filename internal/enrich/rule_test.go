package enrich

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

const testRules = `
- rule: Request from Paris
  desc: the client is in the Paris office
  condition: ka.source.city = "Paris"
  output: from %ka.source.ip on %ka.source.network (trusted=%ka.source.trusted, unverified=%ka.source.unverified)
  priority: WARNING
  source: k8s_audit
- rule: Request from AS 20712
  desc: the client is on Andrews & Arnold's network
  condition: ka.source.asn = 20712 and ka.source.country_code = GB
  output: from %ka.source.ip in %ka.source.city, %ka.source.country (%ka.source.org)
  priority: NOTICE
  source: k8s_audit
`

// TestRuleConditions evaluates rules on the ka.source.* fields through the
// engine, with the Enricher as the events' Locator: a forged
// X-Forwarded-For does not move the client.
func TestRuleConditions(t *testing.T) {
	e := newTestEnricher(t)
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "geo.yaml", Data: []byte(testRules)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	st := p.NewState()
	tests := []struct {
		name      string
		sourceIPs string
		locator   bool
		want      []string // alert messages
	}{
		{"the seed's example", `["10.23.2.45"]`, true,
			[]string{"from 10.23.2.45 on corp-vpn (trusted=true, unverified=<NA>)"}},
		{"Paris behind a forged London header", `["81.2.69.142","10.23.2.45"]`, true,
			[]string{"from 10.23.2.45 on corp-vpn (trusted=true, unverified=(81.2.69.142))"}},
		{"a forged Paris header does not make London Paris", `["10.23.2.45","81.2.69.142"]`, true,
			[]string{"from 81.2.69.142 in London, United Kingdom (Andrews & Arnold Ltd)"}},
		{"London through the trusted proxy", `["81.2.69.142","10.0.0.5"]`, true,
			[]string{"from 81.2.69.142 in London, United Kingdom (Andrews & Arnold Ltd)"}},
		{"no enrichment: the fields are missing", `["10.23.2.45"]`, false, nil},
		{"somewhere else", `["89.160.20.112"]`, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ev audit.Event
			js := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete",` +
				`"verb":"get","sourceIPs":` + tc.sourceIPs + `,"stageTimestamp":"2026-01-01T00:00:00Z"}`
			if err := audit.Parse(&ev, []byte(js), 0); err != nil {
				t.Fatal(err)
			}
			if tc.locator {
				ev.Locator = e
			}
			var got []string
			for _, i := range p.Eval(&ev, st) {
				got = append(got, p.Alert(st, i).Message)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("alerts %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("alert %d = %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
