package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

func upstream(tb testing.TB) *engine.Program {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "falco", "k8s_audit_rules.yaml"))
	if err != nil {
		tb.Skip("Falco reference rules not found")
	}
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "bench", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "k8s_audit_rules.yaml", Data: data}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		tb.Fatal(diags)
	}
	return p
}

// BenchmarkReplay is 'vigil bench' as a Go benchmark: the upstream 48 rules
// over a 200k-event generated corpus, decode + evaluate + Falco-JSON
// formatting, with GOMAXPROCS workers. Run with -cpu 1 for the single-core
// figure. One op is one whole replay; events/s and allocs/event are
// reported per event.
func BenchmarkReplay(b *testing.B) {
	p := upstream(b)
	path, err := Generate(b.TempDir(), 200000, 1)
	if err != nil {
		b.Fatal(err)
	}
	var events int64
	var mallocs uint64
	var elapsed time.Duration
	for b.Loop() {
		r, err := Run(context.Background(), Options{Program: p, Corpus: path, Workers: runtime.GOMAXPROCS(0)})
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
		mallocs += r.Mallocs
		elapsed += r.Elapsed
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(mallocs)/float64(events), "allocs/event")
}

func TestRunReportsCorpus(t *testing.T) {
	p := upstream(t)
	r, err := Run(context.Background(), Options{Program: p, Events: 5000, Seed: 3, Workers: 2, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Events != 5000 || r.Skipped != 0 || r.Alerts == 0 || r.Bytes < 5000*1000 {
		t.Errorf("result %+v", r)
	}
	if s := r.String(); s == "" {
		t.Error("empty report")
	}
}
