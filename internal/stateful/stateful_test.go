package stateful

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

const testRules = `
- rule: Gets
  desc: d
  condition: ka.verb = get and ka.target.resource = pods
  output: "%ka.user.name %vigil.count %vigil.window %vigil.since"
  priority: WARNING
  source: k8s_audit
  vigil:
    threshold: {count: 3, window: 1m, by: [ka.user.name]}
- rule: Secrets
  desc: d
  condition: ka.verb = get and ka.target.resource = secrets
  output: "%ka.user.name %vigil.count %vigil.values"
  priority: WARNING
  source: k8s_audit
  vigil:
    distinct: {count: 3, window: 1m, by: [ka.user.name], field: ka.target.name}
- rule: Bind
  desc: a building block, never an alert of its own
  condition: ka.verb = create and ka.target.resource = clusterrolebindings
  output: bound
  priority: INFO
  source: k8s_audit
  enabled: false
- rule: Bind Then Delete
  desc: d
  condition: ka.verb = delete
  output: "%ka.user.name since %vigil.since"
  priority: CRITICAL
  source: k8s_audit
  vigil:
    sequence: {window: 10m, by: [ka.user.name], after: Bind}
- rule: New User
  desc: d
  condition: ka.verb = list
  output: "new %ka.user.name"
  priority: INFO
  source: k8s_audit
  vigil:
    first_seen: {by: [ka.user.name], learning: 1h}
`

func program(t testing.TB, src string) *engine.Program {
	t.Helper()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "t.yaml", Data: []byte(src)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		for _, d := range diags {
			t.Error(d.Display())
		}
		t.FailNow()
	}
	return p
}

var t0 = time.Date(2026, 3, 18, 9, 0, 0, 0, time.UTC)

// event is one audit event at t0+sec.
func event(sec float64, user, verb, resource, name string) []byte {
	ts := t0.Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)
	return fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%v","stage":"ResponseComplete",`+
		`"requestURI":"/x","verb":%q,"user":{"username":%q},"objectRef":{"resource":%q,"name":%q},"responseStatus":{"code":200},`+
		`"requestReceivedTimestamp":%q,"stageTimestamp":%q}`, sec, verb, user, resource, name, ts, ts)
}

// run evaluates events in order with a fresh table and returns
// "rule: message" per alert.
func run(t *testing.T, tab *Table, p *engine.Program, events ...[]byte) []string {
	t.Helper()
	st := p.NewState()
	var ev audit.Event
	var got []string
	for _, raw := range events {
		if err := audit.Parse(&ev, raw, 100); err != nil {
			t.Fatal(err)
		}
		tab.Eval(p, st, &ev, func(a *alert.Alert) { got = append(got, a.Rule+": "+a.Message) })
	}
	return got
}

func TestKinds(t *testing.T) {
	p := program(t, testRules)
	for _, tc := range []struct {
		name   string
		events [][]byte
		want   []string
	}{
		{"threshold fires at the count, then counts again", [][]byte{
			event(0, "u", "get", "pods", "a"), event(10, "u", "get", "pods", "a"), event(20, "u", "get", "pods", "a"),
			event(30, "u", "get", "pods", "a"), event(40, "u", "get", "pods", "a"), event(50, "u", "get", "pods", "a"),
		}, []string{"Gets: u 3 1m0s 2026-03-18T09:00:00Z", "Gets: u 3 1m0s 2026-03-18T09:00:30Z"}},
		{"threshold window slides on event time", [][]byte{
			event(0, "u", "get", "pods", "a"), event(40, "u", "get", "pods", "a"), event(70, "u", "get", "pods", "a"),
			event(90, "u", "get", "pods", "a"),
		}, []string{"Gets: u 3 1m0s 2026-03-18T09:00:40Z"}},
		{"threshold is per key", [][]byte{
			event(0, "u", "get", "pods", "a"), event(1, "v", "get", "pods", "a"), event(2, "u", "get", "pods", "a"),
			event(3, "v", "get", "pods", "a"),
		}, nil},
		{"out of order within a window counts", [][]byte{
			event(50, "u", "get", "pods", "a"), event(10, "u", "get", "pods", "a"), event(30, "u", "get", "pods", "a"),
		}, []string{"Gets: u 3 1m0s 2026-03-18T09:00:10Z"}},
		{"more than a window late is dropped", [][]byte{
			event(100, "u", "get", "pods", "a"), event(101, "u", "get", "pods", "a"), event(10, "u", "get", "pods", "a"),
		}, nil},
		{"distinct counts values", [][]byte{
			event(0, "u", "get", "secrets", "a"), event(1, "u", "get", "secrets", "a"), event(2, "u", "get", "secrets", "b"),
			event(3, "u", "get", "secrets", "b"), event(4, "u", "get", "secrets", "c"),
		}, []string{"Secrets: u 3 (a,b,c)"}},
		{"distinct values expire", [][]byte{
			event(0, "u", "get", "secrets", "a"), event(30, "u", "get", "secrets", "b"), event(61, "u", "get", "secrets", "c"),
		}, nil},
		{"sequence through a disabled first step", [][]byte{
			event(0, "u", "create", "clusterrolebindings", "x"), event(300, "u", "delete", "pods", "p"),
			event(310, "u", "delete", "pods", "q"),
		}, []string{"Bind Then Delete: u since 2026-03-18T09:00:00Z"}},
		{"sequence out of window", [][]byte{
			event(0, "u", "create", "clusterrolebindings", "x"), event(601, "u", "delete", "pods", "p"),
		}, nil},
		{"sequence in the wrong order", [][]byte{
			event(0, "u", "delete", "pods", "p"), event(10, "u", "create", "clusterrolebindings", "x"),
		}, nil},
		{"sequence of another key", [][]byte{
			event(0, "u", "create", "clusterrolebindings", "x"), event(10, "v", "delete", "pods", "p"),
		}, nil},
		{"first seen after learning", [][]byte{
			event(0, "u", "list", "pods", ""), event(1800, "v", "list", "pods", ""), event(3600, "w", "list", "pods", ""),
			event(3700, "w", "list", "pods", ""), event(3800, "u", "list", "pods", ""),
		}, []string{"New User: new w"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, New(Limits{}), p, tc.events...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLimits: keys past the per-rule and total limits evict the least
// recently updated key, and count it.
func TestLimits(t *testing.T) {
	p := program(t, testRules)
	tab := New(Limits{MaxKeysPerRule: 3, MaxKeys: 4})
	var evs [][]byte
	for i := range 5 {
		evs = append(evs, event(float64(i), fmt.Sprint("u", i), "get", "pods", "a"))
	}
	evs = append(evs, event(10, "v", "list", "pods", ""), event(11, "w", "list", "pods", ""))
	run(t, tab, p, evs...)
	keys, evictions, _ := tab.Stats()
	if keys != 4 || evictions != 3 {
		t.Errorf("keys %d, evictions %d; want 4 and 3", keys, evictions)
	}
	// u0 and u1 were evicted: two more gets for u0 do not reach 3.
	if got := run(t, tab, p, event(20, "u0", "get", "pods", "a"), event(21, "u0", "get", "pods", "a")); got != nil {
		t.Errorf("evicted key kept its count: %q", got)
	}
	// u4 was kept: two more gets reach 3.
	if got := run(t, tab, p, event(22, "u4", "get", "pods", "a"), event(23, "u4", "get", "pods", "a")); len(got) != 1 {
		t.Errorf("kept key lost its count: %q", got)
	}
}

// TestSaveLoad: a saved and loaded table decides as the original would,
// and a rule whose parameters changed starts afresh.
func TestSaveLoad(t *testing.T) {
	p := program(t, testRules)
	tab := New(Limits{})
	run(t, tab, p, event(0, "u", "get", "pods", "a"), event(1, "u", "get", "pods", "a"),
		event(2, "u", "get", "secrets", "a"), event(3, "u", "create", "clusterrolebindings", "x"), event(4, "u", "list", "pods", ""))
	path := filepath.Join(t.TempDir(), "state")
	if err := tab.Save(path, map[string]int{"seg": 7}); err != nil {
		t.Fatal(err)
	}
	var pos map[string]int
	tab2, err := Load(path, Limits{}, &pos)
	if err != nil {
		t.Fatal(err)
	}
	if pos["seg"] != 7 {
		t.Errorf("position %v", pos)
	}
	got := run(t, tab2, p, event(5, "u", "get", "pods", "a"), event(6, "u", "delete", "pods", "p"), event(7200, "z", "list", "pods", ""))
	want := []string{"Gets: u 3 1m0s 2026-03-18T09:00:00Z", "Bind Then Delete: u since 2026-03-18T09:00:03Z", "New User: new z"}
	if !slices.Equal(got, want) {
		t.Errorf("after load: %q, want %q", got, want)
	}

	changed := program(t, strings.Replace(testRules, "count: 3, window: 1m, by: [ka.user.name]}", "count: 3, window: 2m, by: [ka.user.name]}", 1))
	tab3, err := Load(path, Limits{}, &pos)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, tab3, changed, event(5, "u", "get", "pods", "a")); got != nil {
		t.Errorf("changed rule kept its state: %q", got)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none"), Limits{}, &pos); !IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
