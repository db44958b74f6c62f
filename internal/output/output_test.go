package output

import (
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/wal"
)

type recSink struct {
	mu    sync.Mutex
	rules []string
	err   error // returned by every Send while set
	sends int
}

func (s *recSink) Send(_ context.Context, as []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if s.err != nil {
		return s.err
	}
	for _, a := range as {
		s.rules = append(s.rules, a.Alert.Rule)
	}
	return nil
}

func (s *recSink) Close() error { return nil }

func (s *recSink) got() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.rules, ",")
}

func openJournal(t *testing.T, dir string) *wal.Log {
	t.Helper()
	l, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "journal"), SegmentSize: 1 << 20, MaxBytes: 8 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendAlerts journals one record with an alert per "rule:priority".
func appendAlerts(t *testing.T, l *wal.Log, specs ...string) {
	t.Helper()
	r := &journal.Record{}
	for _, s := range specs {
		name, pri, _ := strings.Cut(s, ":")
		p, err := alert.ParsePriority(pri)
		if err != nil {
			t.Fatal(err)
		}
		r.Alerts = append(r.Alerts, journal.Alert{Alert: alert.Alert{Rule: name, Priority: p, Time: 1}, Cluster: "c"})
	}
	data, err := journal.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(context.Background(), data); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		if err := d.Drain(dctx); err != nil {
			t.Error(err)
		}
		cancel()
		<-done
	}
}

func TestDispatcherFilterAndCursor(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	appendAlerts(t, l, "old:critical") // before the outputs existed: not sent
	warn, all := &recSink{}, &recSink{}
	outs := []Output{{Name: "warn", Sink: warn, MinPriority: alert.PriorityWarning}, {Name: "all", Sink: all, MinPriority: alert.PriorityDebug}}
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Outputs: outs})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	appendAlerts(t, l, "a:critical", "b:notice")
	appendAlerts(t, l, "c:debug")
	appendAlerts(t, l, "d:warning")
	stop()
	if g := warn.got(); g != "a,d" {
		t.Errorf("warn output got %q, want a,d", g)
	}
	if g := all.got(); g != "a,b,c,d" {
		t.Errorf("all output got %q, want a,b,c,d", g)
	}
	if warn.sends > 2 {
		t.Errorf("warn output: %d sends, want at most 2 (records with nothing to send are skipped)", warn.sends)
	}

	// A restart resumes after the delivered records.
	appendAlerts(t, l, "e:error")
	warn2, all2 := &recSink{}, &recSink{}
	d2, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Outputs: []Output{
		{Name: "warn", Sink: warn2, MinPriority: alert.PriorityWarning}, {Name: "all", Sink: all2, MinPriority: alert.PriorityDebug}}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d2)()
	if warn2.got() != "e" || all2.got() != "e" {
		t.Errorf("after restart: %q %q, want e e", warn2.got(), all2.got())
	}
}

func TestDispatcherRetryAndDeadLetter(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	flaky := &recSink{err: errors.New("503 from destination")}
	broken := &recSink{err: Permanent(errors.New("400: bad payload"))}
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Outputs: []Output{{Name: "flaky", Sink: flaky, MinPriority: alert.PriorityDebug}, {Name: "broken", Sink: broken, MinPriority: alert.PriorityDebug}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	appendAlerts(t, l, "x:error")
	time.Sleep(30 * time.Millisecond)
	flaky.mu.Lock()
	tries := flaky.sends
	flaky.err = nil
	flaky.mu.Unlock()
	stop()
	if tries < 2 || flaky.got() != "x" {
		t.Errorf("flaky output: %d tries, got %q; want retries, then x", tries, flaky.got())
	}
	if broken.sends != 1 {
		t.Errorf("permanent failure sent %d times, want 1", broken.sends)
	}
	dead, err := os.ReadFile(filepath.Join(dir, "out", "broken.dead.jsonl"))
	if err != nil || !strings.Contains(string(dead), `"error":"400: bad payload"`) || !strings.Contains(string(dead), `"rule":"x"`) {
		t.Errorf("dead letter: %s %v", dead, err)
	}
}

func TestCutTornLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\n"},
		{"a\nb", "a\n"},
		{"torn", ""},
		{"a\nb\n{\"x\":", "a\nb\n"},
		{strings.Repeat("x", 70<<10) + "\n" + strings.Repeat("y", 70<<10), strings.Repeat("x", 70<<10) + "\n"},
	} {
		path := filepath.Join(t.TempDir(), "f")
		os.WriteFile(path, []byte(c.in), 0o600)
		f, err := OpenFile(path, JSON, time.UTC, Rotation{})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got, _ := os.ReadFile(path); string(got) != c.want {
			t.Errorf("%.20q: got %.20q, want %.20q", c.in, got, c.want)
		}
	}
}

func TestFileSinkFormats(t *testing.T) {
	a := &journal.Alert{Alert: alert.Alert{Rule: "R", Priority: alert.PriorityWarning, Message: "msg (user=admin)", Source: "k8s_audit", Hostname: "h", Time: 1733390000000000000}}
	for _, c := range []struct {
		f    Format
		want string
	}{
		{JSON, `{"hostname":"h","output":"09:13:20.000000000: Warning msg (user=admin)","output_fields":{},"priority":"Warning","rule":"R","source":"k8s_audit","tags":[],"time":"2024-12-05T09:13:20.000000000Z"}` + "\n"},
		{Text, "09:13:20.000000000: Warning msg (user=admin)\n"},
	} {
		path := filepath.Join(t.TempDir(), "alerts")
		f, err := OpenFile(path, c.f, time.UTC, Rotation{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Send(context.Background(), []*journal.Alert{a}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got, _ := os.ReadFile(path); string(got) != c.want {
			t.Errorf("format %d:\n got %s\nwant %s", c.f, got, c.want)
		}
	}
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.log")
	clock := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	f, err := OpenFile(path, Text, time.UTC, Rotation{MaxSize: 200, MaxAge: time.Hour, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.now = func() time.Time { return clock }
	f.born = clock
	a := &journal.Alert{Alert: alert.Alert{Rule: "R", Priority: alert.PriorityWarning, Message: strings.Repeat("m", 50), Time: 1}}
	send := func() {
		if err := f.Send(context.Background(), []*journal.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ { // 3 × 80 bytes: the third rotates by size
		send()
		clock = clock.Add(time.Second)
	}
	clock = clock.Add(2 * time.Hour) // by age
	send()
	for i := 0; i < 6; i++ { // more rotations: only 2 rotated files are kept
		send()
		send()
		send()
		clock = clock.Add(time.Second)
	}
	rotated, _ := filepath.Glob(path + ".2*")
	if len(rotated) != 2 {
		t.Errorf("rotated files %v, want 2", rotated)
	}
	for _, p := range append(rotated, path) {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 200 || fi.Size() == 0 {
			t.Errorf("%s: %v %v", p, fi.Size(), err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", p, fi.Mode())
		}
	}
}

// partialSink refuses the alerts of one rule for good and takes the rest.
type partialSink struct{ recSink }

func (s *partialSink) Send(ctx context.Context, as []*journal.Alert) error {
	var ok, bad []*journal.Alert
	for _, a := range as {
		if a.Alert.Rule == "bad" {
			bad = append(bad, a)
		} else {
			ok = append(ok, a)
		}
	}
	s.recSink.Send(ctx, ok)
	if len(bad) > 0 {
		return Refused(errors.New("400: refused"), bad)
	}
	return nil
}

// TestDeadLetterOnlyRefused: when a sink delivers part of a batch and
// refuses the rest for good, only the refused alerts are dead letters.
func TestDeadLetterOnlyRefused(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	s := &partialSink{}
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Outputs: []Output{{Name: "p", Sink: s, MinPriority: alert.PriorityDebug}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	appendAlerts(t, l, "a:error", "bad:error", "c:error")
	stop()
	if g := s.got(); g != "a,c" {
		t.Errorf("delivered %q", g)
	}
	dead, _ := os.ReadFile(filepath.Join(dir, "out", "p.dead.jsonl"))
	if n := strings.Count(string(dead), "\n"); n != 1 || !strings.Contains(string(dead), `"rule":"bad"`) {
		t.Errorf("dead letters (%d):\n%s", n, dead)
	}
}

// TestSpoolLimit: an output that never recovers cannot fill the journal
// and stop the evaluator: past the spool limit it skips its oldest alerts,
// counted as dropped, while a healthy output gets everything.
func TestSpoolLimit(t *testing.T) {
	dir := t.TempDir()
	l, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "journal"), SegmentSize: 64 << 10, MaxBytes: 1 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	down := &recSink{err: errors.New("503 forever")}
	up := &recSink{}
	m := metrics.New("test")
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Metrics: m, SpoolLimit: 512 << 10, JournalSeg: 64 << 10, IdleInterval: 50 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Outputs: []Output{{Name: "down", Sink: down, MinPriority: alert.PriorityDebug}, {Name: "up", Sink: up, MinPriority: alert.PriorityDebug}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// 3 MB of alerts through a 1 MB journal, waiting on ErrFull as the
	// evaluator does.
	big := strings.Repeat("m", 2000)
	const n = 1500
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < n; i++ {
		data, _ := journal.Marshal(&journal.Record{Alerts: []journal.Alert{{Alert: alert.Alert{Rule: fmt.Sprint(i), Priority: alert.PriorityError, Message: big}}}})
		for {
			_, _, err := l.Append(context.Background(), data)
			if err == nil {
				break
			}
			if !errors.Is(err, wal.ErrFull) || time.Now().After(deadline) {
				t.Fatalf("append %d: %v", i, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Millisecond) // a steady flow the healthy output keeps up with
	}
	for up.got() == "" || strings.Count(up.got(), ",") < n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("healthy output got %d of %d", strings.Count(up.got(), ",")+1, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	dropped := testutil.ToFloat64(m.OutputDropped.WithLabelValues("down", "spool_full"))
	if dropped == 0 {
		t.Error("no alert counted as dropped for the output that is down")
	}
	if testutil.ToFloat64(m.OutputDropped.WithLabelValues("up", "spool_full")) != 0 {
		t.Error("the healthy output dropped alerts")
	}
	t.Logf("down output: %v alerts dropped (spool_full)", dropped)
}

// chunkSink takes the first Send and fails the others until healed.
type chunkSink struct {
	recSink
	sends  atomic.Int32
	healed atomic.Bool
}

func (s *chunkSink) Send(ctx context.Context, as []*journal.Alert) error {
	if s.sends.Add(1) > 1 && !s.healed.Load() {
		return errors.New("503")
	}
	return s.recSink.Send(ctx, as)
}

// TestRestartMidRecord: a record with more alerts than max_batch goes out
// in chunks; a restart after some of them sends only the rest.
func TestRestartMidRecord(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	s := &chunkSink{}
	opts := Options{Journal: l, Dir: filepath.Join(dir, "out"), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Outputs: []Output{{Name: "c", Sink: s, MinPriority: alert.PriorityDebug, MaxBatch: 2}}}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	appendAlerts(t, l, "a:error", "b:error", "c:error", "d:error", "e:error")
	for s.sends.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel() // mid-record: a and b were sent
	<-done
	d.Close()
	if g := s.got(); g != "a,b" {
		t.Fatalf("before the restart: %q", g)
	}

	s2 := &chunkSink{}
	s2.healed.Store(true)
	opts.Outputs[0].Sink = s2
	d2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	run(t, d2)()
	if g := s2.got(); g != "c,d,e" {
		t.Errorf("after the restart: %q, want c,d,e", g)
	}
}
