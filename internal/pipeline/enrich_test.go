package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/wal"
)

const geoRules = `
- rule: Delete
  desc: any delete
  condition: ka.verb = delete
  output: deleted by %ka.user.name from %ka.source.ip
  priority: WARNING
  source: k8s_audit
- rule: From the VPN
  desc: a request from the corporate VPN
  condition: ka.source.network = corp-vpn
  output: "%ka.verb from %ka.source.city"
  priority: NOTICE
  source: k8s_audit
`

// TestEnrichedAlerts: with an Enricher, rules see the ka.source.* fields
// and every journalled alert carries the Where of its event; without one,
// the fields are missing and Where is nil.
func TestEnrichedAlerts(t *testing.T) {
	en, err := enrich.New(enrich.Options{
		Networks: []enrich.Network{{Prefix: netip.MustParsePrefix("10.23.0.0/16"), Name: "corp-vpn",
			City: "Paris", Country: "France", CountryCode: "FR"}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "geo.yaml", Data: []byte(geoRules)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	event := func(i int, verb, sourceIPs string) []byte {
		if sourceIPs != "" {
			sourceIPs = `"sourceIPs":` + sourceIPs + `,`
		}
		return fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-%d",`+
			`"stage":"ResponseComplete","verb":"%s","user":{"username":"admin"},%s`+
			`"stageTimestamp":"2026-01-01T00:00:00Z"}`, i, verb, sourceIPs)
	}
	var b batch.Encoder
	b.Reset(batch.Header{Capture: batch.Webhook, Received: time.Now().UnixNano(), Cluster: "c"})
	b.Add(event(1, "delete", `["81.2.69.142","10.23.2.45"]`)) // forged header, VPN peer
	b.Add(event(2, "delete", ""))                             // no sourceIPs
	b.Add(event(3, "get", `["10.23.2.45","10.0.0.5"]`))       // VPN client through the trusted proxy
	b.Add(event(4, "get", `["10.23.2.45","81.2.69.142"]`))    // a forged VPN address: no alert
	rec := b.Bytes()

	run := func(t *testing.T, en *enrich.Enricher) []journal.Alert {
		dir := t.TempDir()
		events, jl := openLogs(t, dir)
		if _, _, err := events.Append(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		ev, err := New(context.Background(), Options{Log: events, Journal: jl, Dir: dir, LogMaxBytes: 64 << 20, MaxDepth: 100,
			Program: func() *engine.Program { return p }, DedupKeys: 0, DedupWindow: time.Hour, Workers: 2, Enricher: en})
		if err != nil {
			t.Fatal(err)
		}
		runAll(t, ev)
		// Read the alerts back from the journal: Where must survive it.
		r := jl.NewReader(wal.Pos{})
		defer r.Close()
		var out []journal.Alert
		for {
			jrec, err := r.Next(nonBlocking)
			if errors.Is(err, context.Canceled) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			jr, err := journal.Unmarshal(jrec.Data)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, jr.Alerts...)
		}
	}
	describe := func(w *enrich.Where) string {
		if w == nil {
			return "<nil>"
		}
		s := fmt.Sprintf("%s %t", w.ClientIP, w.Trusted)
		for _, ip := range w.IPs {
			s += fmt.Sprintf(" | %s %s %t %s", ip.Addr, ip.Role, ip.Trusted, ip.City)
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		enricher *enrich.Enricher
		want     []string // per alert: rule message, then Where
	}{
		{"enriched", en, []string{
			"deleted by admin from 10.23.2.45 / 10.23.2.45 true | 81.2.69.142 forwarded false  | 10.23.2.45 client true Paris",
			"delete from Paris / 10.23.2.45 true | 81.2.69.142 forwarded false  | 10.23.2.45 client true Paris",
			"deleted by admin from <NA> / <nil>",
			"get from Paris / 10.23.2.45 true | 10.23.2.45 client true Paris | 10.0.0.5 proxy true ",
		}},
		{"not enriched", nil, []string{
			"deleted by admin from <NA> / <nil>",
			"deleted by admin from <NA> / <nil>",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := run(t, tc.enricher)
			var got []string
			for _, a := range alerts {
				got = append(got, a.Alert.Message+" / "+describe(a.Where))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("alerts:\n%q\nwant\n%q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("alert %d:\n%s\nwant\n%s", i, got[i], tc.want[i])
				}
			}
		})
	}
}
