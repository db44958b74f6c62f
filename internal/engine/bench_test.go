package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
)

// upstreamRules returns Falco's k8s_audit rules, or skips.
func upstreamRules(tb testing.TB) rules.Source {
	tb.Helper()
	p := filepath.Join("..", "..", "..", "shared", "reference", "falco", "k8s_audit_rules.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		tb.Skip("Falco reference rules not found")
	}
	return rules.Source{Name: "k8s_audit_rules.yaml", Data: data}
}

func mustLoad(tb testing.TB, opts Options, srcs ...rules.Source) *Program {
	tb.Helper()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := Load(srcs, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		tb.Fatal(diags)
	}
	return p
}

// corpusEvents returns n generated events, each with its own buffer.
func corpusEvents(tb testing.TB, n int) []audit.Event {
	tb.Helper()
	g := corpus.New(corpus.Options{Seed: 7, Events: n})
	evs := make([]audit.Event, n)
	for i := range evs {
		if err := audit.Parse(&evs[i], g.Next(nil), 0); err != nil {
			tb.Fatal(err)
		}
	}
	return evs
}

// TestIndexIsTransparent checks that the rule index changes no result: on a
// generated corpus, indexed and unindexed evaluation match the same rules.
func TestIndexIsTransparent(t *testing.T) {
	evs := corpusEvents(t, 20000)
	for _, srcs := range [][]rules.Source{{upstreamRules(t)}, {ruleset.Default()}} {
		for _, m := range []Matching{MatchAll, MatchFirst} {
			o := DefaultOptions()
			o.Matching = m
			fast := mustLoad(t, o, srcs...)
			o.NoIndex = true
			slow := mustLoad(t, o, srcs...)
			if len(fast.index) == 0 {
				t.Errorf("%s: no index keys chosen", srcs[0].Name)
			}
			fs, ss := fast.NewState(), slow.NewState()
			total := 0
			for i := range evs {
				a := fast.Eval(&evs[i], fs)
				b := slow.Eval(&evs[i], ss)
				total += len(b)
				if !slices.Equal(a, b) {
					t.Fatalf("%s matching %d event %d: indexed %v, unindexed %v", srcs[0].Name, m, i, a, b)
				}
			}
			if total == 0 {
				t.Errorf("%s: no rule matched at all; the test proves nothing", srcs[0].Name)
			}
		}
	}
}

// TestEvalAllocs checks that evaluating an event that raises no alert
// allocates nothing once the State is warm.
func TestEvalAllocs(t *testing.T) {
	p := mustLoad(t, DefaultOptions(), upstreamRules(t))
	evs := corpusEvents(t, 2000)
	st := p.NewState()
	var quiet []audit.Event
	for i := range evs {
		if len(p.Eval(&evs[i], st)) == 0 {
			quiet = append(quiet, evs[i])
		}
	}
	k := 0
	allocs := testing.AllocsPerRun(len(quiet), func() {
		p.Eval(&quiet[k%len(quiet)], st)
		k++
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per non-alerting event, want 0", allocs)
	}
}

// BenchmarkEval measures evaluation alone (events already decoded) with
// the upstream rules; allocs/op is per event.
func BenchmarkEval(b *testing.B) {
	p := mustLoad(b, DefaultOptions(), upstreamRules(b))
	evs := corpusEvents(b, 10000)
	st := p.NewState()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev := &evs[n%len(evs)]
		for _, i := range p.Eval(ev, st) {
			p.Alert(st, i)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeEval measures one event's decode (validation and index)
// plus evaluation, the per-event work of replay; allocs/op is per event.
func BenchmarkDecodeEval(b *testing.B) {
	p := mustLoad(b, DefaultOptions(), upstreamRules(b))
	g := corpus.New(corpus.Options{Seed: 7, Events: 10000})
	raws := make([][]byte, 10000)
	size := 0
	for i := range raws {
		raws[i] = g.Next(nil)
		size += len(raws[i])
	}
	st := p.NewState()
	var ev audit.Event
	b.SetBytes(int64(size / len(raws)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := audit.Parse(&ev, raws[n%len(raws)], 0); err != nil {
			b.Fatal(err)
		}
		for _, i := range p.Eval(&ev, st) {
			p.Alert(st, i)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
