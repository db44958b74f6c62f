package backtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
	"github.com/vigilsec/vigil/internal/stateful"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.New(context.Background(), filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func program(t *testing.T, srcs ...rules.Source) *engine.Program {
	t.Helper()
	p, diags := engine.Load(srcs, rules.Options{}, engine.DefaultOptions())
	if rules.HasErrors(diags) {
		t.Fatalf("rules: %v", diags)
	}
	return p
}

// key identifies an alert: rule, event and what the stateful part said.
func key(a *alert.Alert) string {
	return fmt.Sprintf("%s|%s|%d|%v", a.Rule, a.Message, a.Time, a.Priority)
}

// TestMatchesInOrderEvaluation stores a corpus with risky actions in the
// real sqlite EventStore and checks that a backtest raises exactly what
// evaluating the same events in order raises, stateful rules included,
// whatever the window and however often windows are split.
func TestMatchesInOrderEvaluation(t *testing.T) {
	const n = 30_000
	start := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	p := program(t, ruleset.Default())
	g := corpus.New(corpus.Options{Seed: 11, Start: start, RiskyRate: 0.3})
	var want []string
	table := stateful.New(stateful.Limits{})
	st := p.NewState()
	s := newStore(t)
	var batch []store.Event
	var buf []byte
	var ev audit.Event
	for i := range n {
		buf = g.Next(buf[:0])
		raw := slices.Clone(buf)
		if err := audit.Parse(&ev, raw, 100); err != nil {
			t.Fatal(err)
		}
		ev.Cluster = "prod"
		table.Eval(p, st, &ev, func(a *alert.Alert) { want = append(want, key(a)) })
		e, ok := store.NewEvent(raw, "prod", "webhook")
		if !ok {
			t.Fatalf("event %d: not an object", i)
		}
		batch = append(batch, e)
		if len(batch) == 1000 || i == n-1 {
			if err := s.AddEvents(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Events of another cluster, which --cluster prod leaves out.
	other, _ := store.NewEvent([]byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"x","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system","verb":"delete","user":{"username":"mallory"},"objectRef":{"resource":"namespaces","namespace":"kube-system","name":"kube-system","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-03-10T09:00:01.000000Z","stageTimestamp":"2026-03-10T09:00:01.000000Z","annotations":{"authorization.k8s.io/decision":"allow"}}`), "staging", "webhook")
	if err := s.AddEvents(context.Background(), []store.Event{other}); err != nil {
		t.Fatal(err)
	}
	if len(want) < 100 {
		t.Fatalf("only %d alerts in the corpus; the test shows little", len(want))
	}
	for _, tc := range []struct {
		name      string
		window    time.Duration
		maxEvents int
	}{
		{"one window", time.Hour, 0},
		{"one-second windows", time.Second, 0},
		{"split windows", time.Hour, 2500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			res, err := Run(context.Background(), s, p, Options{Since: start, Until: start.Add(time.Hour), Clusters: []string{"prod"},
				Window: tc.window, MaxWindowEvents: tc.maxEvents, PageSize: 700}, func(a *alert.Alert) { got = append(got, key(a)) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Events != n || res.Skipped != 0 {
				t.Errorf("evaluated %d events (%d skipped), want %d", res.Events, res.Skipped, n)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d alerts, want %d (in the same order)", len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("first difference at %d:\n got %s\nwant %s", i, got[i], want[i])
					}
				}
			}
			if int(res.Alerts) != len(want) {
				t.Errorf("Result.Alerts = %d, want %d", res.Alerts, len(want))
			}
			if tc.maxEvents > 0 && res.Windows < 2 {
				t.Errorf("%d windows: the window was not split", res.Windows)
			}
			t.Logf("%d events, %d alerts, %d windows, %d rules", res.Events, res.Alerts, res.Windows, len(res.PerRule))
		})
	}
}

// TestStatefulAcrossWindows: events stored in random order, a threshold
// that spans two windows, and one that is too slow; the backtest counts in
// event time.
func TestStatefulAcrossWindows(t *testing.T) {
	p := program(t, rules.Source{Name: "r.yaml", Data: []byte(`
- rule: Delete Burst
  desc: d
  condition: ka.verb = delete
  output: "%vigil.count deletes by %ka.user.name"
  priority: WARNING
  source: k8s_audit
  vigil:
    threshold: {count: 3, window: 10m, by: [ka.user.name]}
`)})
	start := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	event := func(i int, user string, at time.Duration) store.Event {
		ts := start.Add(at).Format("2006-01-02T15:04:05.000000Z")
		raw := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"00000000-0000-0000-0000-%012d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/a/pods/p%d","verb":"delete","user":{"username":%q},"objectRef":{"resource":"pods","namespace":"a","name":"p%d","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":%q,"stageTimestamp":%q}`,
			i, i, user, i, ts, ts)
		e, ok := store.NewEvent([]byte(raw), "prod", "webhook")
		if !ok {
			t.Fatal("bad event")
		}
		return e
	}
	events := []store.Event{
		event(1, "alice", 55*time.Minute), event(2, "alice", 58*time.Minute), event(3, "alice", 62*time.Minute), // fires at 62m, across the hour
		event(4, "bob", 10*time.Minute), event(5, "bob", 30*time.Minute), event(6, "bob", 50*time.Minute), // too slow
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	s := newStore(t)
	for _, e := range events {
		if err := s.AddEvents(context.Background(), []store.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	res, err := Run(context.Background(), s, p, Options{Since: start, Until: start.Add(2 * time.Hour)}, func(a *alert.Alert) {
		got = append(got, a.Message)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"3 deletes by alice"}; !slices.Equal(got, want) {
		t.Errorf("alerts %q, want %q", got, want)
	}
	if res.Events != 6 || res.Windows != 2 {
		t.Errorf("%d events in %d windows, want 6 in 2", res.Events, res.Windows)
	}
	if _, err := Run(context.Background(), s, p, Options{Since: start, Until: start}, func(*alert.Alert) {}); err == nil {
		t.Error("an empty time range is accepted")
	}
}
