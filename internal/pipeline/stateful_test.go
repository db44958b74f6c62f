package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/rules"
)

const thresholdRules = `
- rule: Five Gets
  desc: five gets by one user
  condition: ka.verb = get
  output: "%ka.user.name made %vigil.count gets"
  priority: WARNING
  source: k8s_audit
  vigil:
    threshold: {count: 5, window: 1h, by: [ka.user.name]}
`

func thresholdProgram(t *testing.T) *engine.Program {
	t.Helper()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "t.yaml", Data: []byte(thresholdRules)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	return p
}

// TestStatefulSurvivesCrash: the state of stateful rules matches the
// position evaluation resumes from, even when the process dies after
// journalling an alert but before saving its checkpoint and state: the
// records in between are applied again to the state (not alerted again),
// and the records after are evaluated once. Counting then goes on as if
// there had been no crash: a threshold of 5 fires on the 5th and the 10th
// event, and only there.
func TestStatefulSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	events, jl := openLogs(t, dir)
	p := thresholdProgram(t)
	var got []string
	opts := Options{Log: events, Journal: jl, Dir: dir, LogMaxBytes: 64 << 20, MaxDepth: 100,
		DedupKeys: 1000, DedupWindow: time.Hour, Workers: 3,
		Program: func() *engine.Program { return p },
		OnAlerts: func(r *journal.Record) {
			for _, a := range r.Alerts {
				got = append(got, a.AuditID+" "+a.Alert.Message)
			}
		}}
	next := 0
	appendN := func(n int) {
		for range n {
			if _, _, err := events.Append(context.Background(), record(next, false)); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	run := func() {
		t.Helper()
		e, err := New(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		if err := e.Drain(dctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	save := func() map[string][]byte {
		m := map[string][]byte{}
		for _, f := range []string{checkpointFile, stateFile} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			m[f] = b
		}
		return m
	}

	appendN(3)
	run()
	old := save() // checkpoint and state after 3 events
	appendN(4)
	run() // alerts on the 5th event (id-4)
	// The crash: the checkpoint and state of the second run are lost; the
	// journal, written before them, is not.
	for f, b := range old {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run() // re-applies id-3 and id-4 to the state, evaluates id-5 and id-6 again
	appendN(5)
	run() // alerts on the 10th event (id-9)
	want := []string{"id-4 admin made 5 gets", "id-9 admin made 5 gets"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts = %q, want %q", got, want)
	}
}
