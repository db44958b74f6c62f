package output

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/wal"
)

// benchEvent is a typical redacted audit event, as journalled with each
// alert.
const benchEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0c4b5a54-7d3c-4c8b-9b0e-1f4e3e1f2a3b","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/demo","verb":"delete","user":{"username":"admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"namespaces","name":"demo","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-05T10:00:00.000000Z","stageTimestamp":"2026-12-05T10:00:00.100000Z"}`

// fillJournal appends n alerts, 100 per record, as the evaluator would.
func fillJournal(tb testing.TB, l *wal.Log, n int) {
	tb.Helper()
	for i := 0; i < n; {
		r := &journal.Record{}
		for j := 0; j < 100 && i < n; j, i = j+1, i+1 {
			r.Alerts = append(r.Alerts, journal.Alert{ID: fmt.Sprint(i), Cluster: "prod", Capture: "webhook", AuditID: fmt.Sprint(i),
				Alert: alert.Alert{Time: int64(i), Rule: "K8s Namespace Deleted", Priority: alert.PriorityWarning, Source: "k8s_audit",
					Tags: []string{"k8s"}, Message: "K8s namespace deleted (user=admin ns=demo)", Hostname: "h",
					Fields: []alert.Field{{Key: "ka.user.name", Values: []string{"admin"}}, {Key: "ka.target.name", Values: []string{"demo"}}}},
				Event: []byte(benchEvent)})
		}
		data, err := journal.Marshal(r)
		if err != nil {
			tb.Fatal(err)
		}
		if _, _, err := l.Append(context.Background(), data); err != nil {
			tb.Fatal(err)
		}
	}
}

// lineCounter is an HTTP receiver that counts ndjson lines.
type lineCounter struct{ lines atomic.Int64 }

func (c *lineCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c.lines.Add(1)
	}
}

// dispatchAll delivers n journalled alerts to an ndjson HTTP sink and
// returns the wall time.
func dispatchAll(tb testing.TB, n int) (time.Duration, *lineCounter) {
	dir := tb.TempDir()
	l, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "j"), SegmentSize: 32 << 20, MaxBytes: 4 << 30, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	recv := &lineCounter{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	sink, err := NewHTTP(config.HTTPOutput{URL: srv.URL, Batch: "ndjson", MaxBatchBytes: 4 << 20, Format: "json"}, SinkOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	// The cursor starts at the end of the journal: create the output first.
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Outputs: []Output{{Name: "http", Sink: sink, MinPriority: alert.PriorityDebug, MaxBatch: 1000}}})
	if err != nil {
		tb.Fatal(err)
	}
	fillJournal(tb, l, n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { d.Run(ctx); close(done) }()
	for recv.lines.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	cancel()
	<-done
	d.Close()
	return el, recv
}

// BenchmarkDispatchHTTP measures alerts per second through the shared
// wrapper (journal read, decode, filter, batch, retry bookkeeping, cursor)
// to an HTTP sink sending ndjson batches to a local receiver.
func BenchmarkDispatchHTTP(b *testing.B) {
	n := max(b.N, 1000)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	el, _ := dispatchAll(b, n)
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(n)/el.Seconds(), "alerts/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/alert")
}

// TestDispatchNoGrowth: ten times more alerts leave no more goroutines
// and no more retained heap behind: there is no goroutine or buffer per
// alert.
func TestDispatchNoGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 60,000 alerts")
	}
	measure := func(n int) (goroutines int, heap uint64) {
		el, _ := dispatchAll(t, n)
		t.Logf("%d alerts in %v: %.0f alerts/s", n, el, float64(n)/el.Seconds())
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	g1, h1 := measure(5_000)
	g2, h2 := measure(50_000)
	if g2 > g1+2 {
		t.Errorf("goroutines after 5k alerts: %d, after 50k: %d", g1, g2)
	}
	if h2 > h1+8<<20 {
		t.Errorf("heap in use after 5k alerts: %d MB, after 50k: %d MB", h1>>20, h2>>20)
	}
}
