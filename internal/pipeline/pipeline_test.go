package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
	"github.com/vigilsec/vigil/internal/wal"
)

func builtin(t *testing.T) *engine.Program {
	t.Helper()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{ruleset.Default()}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	return p
}

// record is one logged batch with one event, deleting a namespace (which
// alerts) when alerting is set.
func record(i int, alerting bool) []byte {
	verb, uri, res := "get", "/api/v1/namespaces/d/pods", "pods"
	if alerting {
		verb, uri, res = "delete", "/api/v1/namespaces/demo", "namespaces"
	}
	var e batch.Encoder
	e.Reset(batch.Header{Capture: batch.Webhook, Received: time.Now().UnixNano(), Cluster: "c"})
	e.Add(fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-%d","stage":"ResponseComplete",`+
		`"requestURI":"%s","verb":"%s","user":{"username":"admin"},"objectRef":{"resource":"%s","name":"demo"},"responseStatus":{"code":200},`+
		`"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.000000Z"}`, i, uri, verb, res))
	return e.Bytes()
}

func openLogs(t *testing.T, dir string) (events, jl *wal.Log) {
	t.Helper()
	var err error
	if events, err = wal.Open(wal.Options{Dir: filepath.Join(dir, "events"), SegmentSize: 1 << 20, MaxBytes: 64 << 20, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if jl, err = wal.Open(wal.Options{Dir: filepath.Join(dir, "alerts"), SegmentSize: 1 << 20, MaxBytes: 64 << 20, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	return events, jl
}

// TestCancelNeverSkips: cancelling Run while records wait for busy
// workers must not move the position past a record that was not
// evaluated; a new Evaluator then evaluates every record exactly once.
func TestCancelNeverSkips(t *testing.T) {
	dir := t.TempDir()
	events, jl := openLogs(t, dir)
	const n = 60
	for i := range n {
		if _, _, err := events.Append(context.Background(), record(i, false)); err != nil {
			t.Fatal(err)
		}
	}
	p := builtin(t)
	var slow atomic.Bool
	slow.Store(true)
	opts := Options{Log: events, Journal: jl, Dir: dir, LogMaxBytes: 64 << 20, MaxDepth: 100,
		DedupKeys: 1000, DedupWindow: time.Hour, Workers: 1,
		Program: func() *engine.Program {
			if slow.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			return p
		}}
	e, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	time.Sleep(60 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	first, _ := e.Counts()
	if first == 0 || first == n {
		t.Fatalf("evaluated %d of %d before the cancel; the test needs a partial run", first, n)
	}

	slow.Store(false)
	e2, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- e2.Run(ctx2) }()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := e2.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	cancel2()
	<-done
	second, _ := e2.Counts()
	if first+second != n {
		t.Errorf("evaluated %d + %d events, want %d: records skipped or repeated across the restart", first, second, n)
	}
}

// TestJournalRecordTooLarge: alerts whose events would make a journal
// record larger than the journal takes lose their copy of the event, not
// the alert, and the evaluator goes on.
func TestJournalRecordTooLarge(t *testing.T) {
	dir := t.TempDir()
	events, _ := openLogs(t, dir)
	jl, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "small"), SegmentSize: 1 << 20, MaxBytes: 8 << 20, MaxRecord: 48 << 10, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var e batch.Encoder
	e.Reset(batch.Header{Capture: batch.Webhook, Received: time.Now().UnixNano(), Cluster: "c"})
	_, d, _ := batch.Decode(record(0, true))
	ev, _, _ := d.Next()
	ev = []byte(strings.Replace(string(ev), `"auditID"`, `"annotations":{"pad":"`+strings.Repeat("x", 4000)+`"},"auditID"`, 1))
	for range 20 {
		e.Add(ev) // 20 alerting events of ~4.5 KB: ~90 KB of events
	}
	events.Append(context.Background(), e.Bytes())
	events.Append(context.Background(), record(1, true))
	p := builtin(t)
	var got []int
	ev2, err := New(context.Background(), Options{Log: events, Journal: jl, Dir: dir, LogMaxBytes: 64 << 20, MaxDepth: 100,
		Program: func() *engine.Program { return p }, DedupKeys: 0, DedupWindow: time.Hour,
		OnAlerts: func(r *journal.Record) { got = append(got, len(r.Alerts)) }})
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, ev2)
	if len(got) != 2 || got[0] != 20 || got[1] != 1 {
		t.Errorf("journal records with %v alerts, want [20 1]", got)
	}
}

// TestOnEvents: the hook sees every evaluated event once, in log order,
// and not the resent duplicates.
func TestOnEvents(t *testing.T) {
	dir := t.TempDir()
	events, jl := openLogs(t, dir)
	for _, i := range []int{0, 1, 1, 2} { // the second 1 is a resend: same auditID and stage
		if _, _, err := events.Append(context.Background(), record(i, i == 2)); err != nil {
			t.Fatal(err)
		}
	}
	p := builtin(t)
	var got []string
	ev, err := New(context.Background(), Options{Log: events, Journal: jl, Dir: dir, LogMaxBytes: 64 << 20, MaxDepth: 100,
		Program: func() *engine.Program { return p }, DedupKeys: 1000, DedupWindow: time.Hour,
		OnEvents: func(cluster, capture string, evs [][]byte) {
			for _, e := range evs {
				var v struct{ AuditID string }
				if err := json.Unmarshal(e, &v); err != nil {
					t.Error(err)
				}
				got = append(got, cluster+"/"+capture+"/"+v.AuditID)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, ev)
	if want := []string{"c/webhook/id-0", "c/webhook/id-1", "c/webhook/id-2"}; !slices.Equal(got, want) {
		t.Errorf("OnEvents saw %v, want %v", got, want)
	}
}

// runAll runs ev until every logged record is evaluated, then stops it.
func runAll(t *testing.T, ev *Evaluator) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ev.Run(ctx) }()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := ev.Drain(dctx); err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
