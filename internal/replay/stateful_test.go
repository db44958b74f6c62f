package replay

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/stateful"
)

const statefulRules = `
- rule: busy user
  desc: d
  condition: ka.verb in (get, list, watch)
  output: "%ka.user.name made %vigil.count reads (%ka.auditid)"
  priority: NOTICE
  source: k8s_audit
  vigil:
    threshold: {count: 40, window: 1m, by: [ka.user.name]}
- rule: any delete
  desc: d
  condition: ka.verb = delete
  output: delete %ka.target.resource/%ka.target.name by %ka.user.name (%ka.auditid)
  priority: WARNING
  source: k8s_audit
`

// TestStatefulOrder: stateful rules are decided in input order, so replay
// gives the same alerts, in the same places, with any number of workers
// and chunk size, as one goroutine evaluating the events one by one.
func TestStatefulOrder(t *testing.T) {
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "r.yaml", Data: []byte(statefulRules)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	var data bytes.Buffer
	if _, err := corpus.Write(&data, corpus.Options{Seed: 3, Events: 20000}); err != nil {
		t.Fatal(err)
	}
	// The reference: one event at a time.
	tab := stateful.New(stateful.Limits{})
	st := p.NewState()
	var ev audit.Event
	var want strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if err := audit.Parse(&ev, sc.Bytes(), 100); err != nil {
			t.Fatal(err)
		}
		tab.Eval(p, st, &ev, func(a *alert.Alert) {
			want.Write(alert.AppendText(nil, a, time.UTC))
			want.WriteByte('\n')
		})
	}
	if n := strings.Count(want.String(), "reads"); n < 10 {
		t.Fatalf("the reference raised %d stateful alerts; the test needs more", n)
	}
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ workers, chunk int }{{1, 0}, {4, 4096}, {3, 1000}} {
		var out bytes.Buffer
		sum, err := Run(context.Background(), []string{path}, Options{Program: p, Format: Text, Workers: tc.workers,
			Location: time.UTC, Out: &out, ChunkSize: tc.chunk})
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != want.String() || sum.Alerts != int64(strings.Count(want.String(), "\n")) {
			t.Errorf("workers=%d chunk=%d: alerts differ from the one-by-one evaluation (%d alerts)", tc.workers, tc.chunk, sum.Alerts)
		}
	}
}
