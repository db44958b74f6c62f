package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/corpus"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
)

const testRules = `
- rule: any delete
  desc: d
  condition: ka.verb = delete
  output: delete %ka.target.resource/%ka.target.name by %ka.user.name (%ka.auditid)
  priority: WARNING
  source: k8s_audit
- rule: any create
  desc: d
  condition: ka.verb = create
  output: create %ka.target.resource/%ka.target.name by %ka.user.name (%ka.auditid)
  priority: NOTICE
  source: k8s_audit
`

func program(t testing.TB) *engine.Program {
	t.Helper()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{{Name: "r.yaml", Data: []byte(testRules)}}, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		t.Fatal(diags)
	}
	return p
}

func captured(t testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "captured", "audit-log.jsonl"))
	if err != nil {
		t.Skip("captured audit log not found")
	}
	return data
}

func replayBytes(t *testing.T, data []byte, workers, chunk int) (string, Summary, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var skips []string
	sum, err := Run(context.Background(), []string{path}, Options{Program: program(t), Format: Text, Workers: workers,
		Location: time.UTC, Out: &out, ChunkSize: chunk, OnSkip: func(e *audit.Error) {
			skips = append(skips, e.Error())
		}})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), sum, skips
}

// TestOrderAcrossWorkers checks that alerts come out in input order whatever
// the number of workers and the chunk size, and that every event is counted.
func TestOrderAcrossWorkers(t *testing.T) {
	data := bytes.Repeat(captured(t), 4)
	want, wsum, _ := replayBytes(t, data, 1, 0)
	if wsum.Events != 4*1306 || wsum.Alerts == 0 {
		t.Fatalf("events %d alerts %d", wsum.Events, wsum.Alerts)
	}
	for _, tc := range []struct{ workers, chunk int }{{2, 0}, {4, 4096}, {3, 1000}, {8, 100}} {
		got, sum, _ := replayBytes(t, data, tc.workers, tc.chunk)
		if got != want || sum.Events != wsum.Events || sum.Alerts != wsum.Alerts {
			t.Errorf("workers=%d chunk=%d: output differs (events %d alerts %d)", tc.workers, tc.chunk, sum.Events, sum.Alerts)
		}
	}
}

// TestFormats checks that the same events give the same alerts as JSON
// lines, one EventList document, a pretty-printed array and gzip.
func TestFormats(t *testing.T) {
	lines := captured(t)
	want, _, _ := replayBytes(t, lines, 2, 0)
	items := strings.Join(strings.Split(strings.TrimSpace(string(lines)), "\n"), ",\n  ")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(lines)
	zw.Close()
	for name, data := range map[string][]byte{
		"eventlist": []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + items + `]}`),
		"array":     []byte("[\n  " + items + "\n]\n"),
		"gzip":      gz.Bytes(),
	} {
		got, sum, skips := replayBytes(t, data, 2, 8192)
		if got != want || sum.Events != 1306 || len(skips) != 0 {
			t.Errorf("%s: output differs (events %d, skips %q)", name, sum.Events, skips)
		}
	}
}

// TestSkippedKeepsPositions checks that bad lines are reported with their
// line number in the whole input even when they fall in a later chunk.
func TestSkippedKeepsPositions(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(string(captured(t))), "\n")
	lines[999] = `{"kind":"Event", broken`
	lines[1200] = `{"kind":"Nope"}`
	got, sum, skips := replayBytes(t, []byte(strings.Join(lines, "\n")+"\n"), 2, 4096)
	if sum.Events != 1304 || sum.SkippedTotal() != 2 || got == "" {
		t.Fatalf("events %d skipped %d", sum.Events, sum.SkippedTotal())
	}
	if !strings.Contains(skips[0], ":1000 (byte ") || !strings.Contains(skips[0], "malformed_json") ||
		!strings.Contains(skips[1], ":1201 (byte ") || !strings.Contains(skips[1], "not_audit_event") {
		t.Errorf("skips = %q", skips)
	}
}

func TestMissingInput(t *testing.T) {
	_, err := Run(context.Background(), []string{"/nonexistent/x"}, Options{Program: program(t), Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "open input") {
		t.Fatalf("err = %v", err)
	}
}

func TestDirectoryOldestFirst(t *testing.T) {
	dir := t.TempDir()
	ev := func(id, verb string) string {
		return `{"kind":"Event","auditID":"` + id + `","verb":"` + verb + `","stageTimestamp":"2026-11-22T10:00:00Z"}` + "\n"
	}
	os.WriteFile(filepath.Join(dir, "a"), []byte(ev("new", "delete")), 0o644)
	os.WriteFile(filepath.Join(dir, "b"), []byte(ev("old", "create")), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "b"), old, old)
	var out bytes.Buffer
	if _, err := Run(context.Background(), []string{dir}, Options{Program: program(t), Format: Text, Location: time.UTC, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if o := out.String(); strings.Index(o, "(old)") > strings.Index(o, "(new)") {
		t.Errorf("not oldest first:\n%s", o)
	}
}

// TestMemoryFlat streams a ~170 MB EventList through a pipe and checks that
// the live heap stays far below the input size: decoding streams item by
// item and the chunks in flight are bounded.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 170 MB")
	}
	const events = 100000
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		bw.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
		g := corpus.New(corpus.Options{Seed: 5, Events: events})
		var buf []byte
		for i := 0; i < events; i++ {
			if i > 0 {
				bw.WriteByte(',')
			}
			buf = g.Next(buf[:0])
			bw.Write(buf)
		}
		bw.WriteString("]}")
		bw.Flush()
		pw.Close()
	}()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	sum, err := Run(context.Background(), []string{"-"}, Options{Program: program(t), Workers: 2, Out: io.Discard, Stdin: pr})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != events || sum.Bytes < 150<<20 {
		t.Fatalf("events %d bytes %d", sum.Events, sum.Bytes)
	}
	t.Logf("peak live heap %.1f MB for %d MB of input", float64(peak.Load())/(1<<20), sum.Bytes>>20)
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("peak live heap %d MB for a %d MB input", p>>20, sum.Bytes>>20)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteErrorIsReported checks that a failing output is reported as such
// (not as an interruption), that the replay stops, and that no goroutine is
// left behind.
func TestWriteErrorIsReported(t *testing.T) {
	before := runtime.NumGoroutine()
	data := bytes.Repeat(captured(t), 20)
	path := filepath.Join(t.TempDir(), "in")
	os.WriteFile(path, data, 0o644)
	sum, err := Run(context.Background(), []string{path}, Options{Program: program(t), Workers: 2, Out: failWriter{}, ChunkSize: 4096})
	if err == nil || !strings.Contains(err.Error(), "write alerts: disk full") {
		t.Fatalf("err = %v", err)
	}
	if sum.Alerts != 0 {
		t.Errorf("%d alerts counted as written", sum.Alerts)
	}
	waitGoroutines(t, before)
}

// TestCancel checks that cancelling stops a replay from a stream that never
// ends, promptly and without leaking goroutines.
func TestCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	alerts := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, []string{"-"}, Options{Program: program(t), Workers: 2, Stdin: pr,
			OnAlert: func(*alert.Alert) {
				select {
				case alerts <- struct{}{}:
				default:
				}
			}})
		done <- err
	}()
	// A live stream: one deleting event, then silence. Its alert must come
	// out while the stream is still open.
	ev := `{"kind":"Event","auditID":"live","verb":"delete","stageTimestamp":"2026-11-22T10:00:00Z"}` + "\n"
	go pw.Write([]byte(ev + ev))
	select {
	case <-alerts:
	case <-time.After(10 * time.Second):
		t.Fatal("no alert while the stream stays open: input is being held back")
	}
	cancel()
	pr.CloseWithError(context.Canceled) // what the stdin read deadline does for os.Stdin
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replay did not stop")
	}
	waitGoroutines(t, before)
}

// TestLongLine checks that a line longer than the event size limit is
// dropped and reported, and the lines around it are still evaluated.
func TestLongLine(t *testing.T) {
	ev := func(id string) string {
		return `{"kind":"Event","auditID":"` + id + `","verb":"delete","stageTimestamp":"2026-11-22T10:00:00Z"}` + "\n"
	}
	long := `{"kind":"Event","x":"` + strings.Repeat("y", 3<<20) + `"}` + "\n"
	out, sum, skips := replayBytes(t, []byte(ev("a")+long+ev("b")), 2, 0)
	if sum.Events != 2 || sum.Skipped[audit.ReasonTooLarge] != 1 || !strings.Contains(out, "(a)") || !strings.Contains(out, "(b)") {
		t.Fatalf("events %d skipped %v out %q", sum.Events, sum.Skipped, out)
	}
	if want := fmt.Sprintf(":2 (byte %d)", len(ev("a"))); len(skips) != 1 || !strings.Contains(skips[0], want) {
		t.Errorf("skips = %q", skips)
	}
}

// TestSkipsBounded checks that a flood of bad lines is counted in full but
// only a bounded number of reports is kept per chunk.
func TestSkipsBounded(t *testing.T) {
	data := []byte(`{"kind":"Event","auditID":"a","verb":"get","stageTimestamp":"2026-11-22T10:00:00Z"}` + "\n" + strings.Repeat("{bad\n", 50000))
	_, sum, skips := replayBytes(t, data, 2, 0)
	if sum.Skipped[audit.ReasonMalformed] != 50000 {
		t.Fatalf("skipped %v", sum.Skipped)
	}
	if len(skips) >= 50000 || len(skips) < MaxSkipReports {
		t.Errorf("%d reports kept", len(skips))
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if runtime.NumGoroutine() <= want {
			return
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("%d goroutines left, want %d", runtime.NumGoroutine(), want)
}
