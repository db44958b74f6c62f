package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/config"
)

// startApp starts `vigil serve` in this process (as cmd/vigil does for
// `vigil bench --serve --in-process`).
func startApp(tb testing.TB) func(*config.Config) (Server, error) {
	return func(cfg *config.Config) (Server, error) {
		a, err := app.New(tb.Context(), app.Options{Config: cfg})
		if err != nil {
			return nil, err
		}
		if err := a.Start(); err != nil {
			a.Shutdown(context.Background())
			return nil, err
		}
		return a, nil
	}
}

// capturedReviews returns the AdmissionReviews captured from a real API
// server, or nil (the built-in Pod CREATE) when they are not there.
func capturedReviews(tb testing.TB) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "reference", "captured", "admission-review-*.json"))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// BenchmarkServeIngest is `vigil bench --serve --in-process` for 2 s: 4
// closed-loop senders of 400-event EventLists into the fsynced event log,
// with evaluation by the built-in rules. One op is one whole run. For the
// real figure run `vigil bench --serve --duration 30s` (child process).
func BenchmarkServeIngest(b *testing.B) {
	var r ServeResult
	for b.Loop() {
		var err error
		r, err = Serve(b.Context(), ServeOptions{Start: startApp(b), TempDir: b.TempDir(), Ingest: true,
			Bodies: 16, Duration: 2 * time.Second, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(r.EvaluatedPerSec(), "events/s")
	b.ReportMetric(float64(r.Ack.P99)/1e6, "p99-ms")
	b.ReportMetric(r.AllocsPerEvent(), "allocs/event")
	b.ReportMetric(float64(r.PeakRSS)/1e6, "rss-MB")
}

// BenchmarkAdmission sends AdmissionReviews open loop at 200/s for 2 s.
func BenchmarkAdmission(b *testing.B) {
	var r ServeResult
	for b.Loop() {
		var err error
		r, err = Serve(b.Context(), ServeOptions{Start: startApp(b), TempDir: b.TempDir(),
			AdmissionRate: 200, Reviews: capturedReviews(b), Duration: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(r.Admission.P50)/1e6, "p50-ms")
	b.ReportMetric(float64(r.Admission.P99)/1e6, "p99-ms")
	b.ReportMetric(float64(r.Admission.Max)/1e6, "max-ms")
	b.ReportMetric(float64(r.AdmissionFailed), "failed")
}

func TestServeCountsEveryEvent(t *testing.T) {
	r, err := Serve(t.Context(), ServeOptions{Start: startApp(t), TempDir: t.TempDir(), Ingest: true,
		Senders: 2, Batch: 50, Bodies: 3, Batches: 20, AdmissionRate: 100, Duration: 300 * time.Millisecond,
		Reviews: capturedReviews(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Bodies are reused across rounds with new auditIDs, so dedup drops
	// none of them: every acknowledged event is evaluated once.
	if r.Batches != 20 || r.Events != 1000 || r.Refused != 0 || r.Ack.N != 20 {
		t.Errorf("webhook: %d batches, %d events, %d refused, %d latencies; want 20, 1000, 0, 20", r.Batches, r.Events, r.Refused, r.Ack.N)
	}
	if r.AdmissionSent == 0 || r.AdmissionFailed != 0 || r.Admission.N != int(r.AdmissionSent) {
		t.Errorf("admission: %d sent, %d failed, %d latencies", r.AdmissionSent, r.AdmissionFailed, r.Admission.N)
	}
	if want := uint64(r.Events + r.AdmissionSent); r.Evaluated != want {
		t.Errorf("evaluated %d events, want %d", r.Evaluated, want)
	}
	if r.Ack.P50 <= 0 || r.Ack.P99 < r.Ack.P50 || r.Ack.Max < r.Ack.P99 || r.Mallocs == 0 || r.PeakRSS == 0 {
		t.Errorf("result %+v", r)
	}
	if r.String() == "" {
		t.Error("empty report")
	}
}

func TestBodiesHaveUniqueAuditIDs(t *testing.T) {
	bodies := buildBodies(4, 100, 7)
	seen := map[[2]string]bool{}
	for range 3 {
		for i := range bodies {
			b := &bodies[i]
			b.stamp()
			var list struct {
				Items []struct{ AuditID, Stage string }
			}
			if err := json.Unmarshal(b.data, &list); err != nil {
				t.Fatal(err)
			}
			if len(list.Items) != b.events || len(b.ids) != b.events {
				t.Fatalf("body %d: %d items, %d auditIDs, want %d", i, len(list.Items), len(b.ids), b.events)
			}
			// The evaluator drops an auditID+stage pair it has seen.
			for _, it := range list.Items {
				k := [2]string{it.AuditID, it.Stage}
				if seen[k] {
					t.Fatalf("auditID %s stage %s sent twice", it.AuditID, it.Stage)
				}
				seen[k] = true
			}
		}
	}
}
