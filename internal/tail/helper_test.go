package tail

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// testPoll is the poll interval of the tests. Inside a synctest bubble the
// clock is fake, so it costs no real time.
const testPoll = 10 * time.Millisecond

// recorder is a Publisher that keeps copies of what it receives.
type recorder struct {
	mu      sync.Mutex    // guards the fields below
	data    []byte        // every published byte, in order
	batches []Batch       // every batch, with its data copied
	n       int           // lines published
	last    string        // the last line published, without its newline
	fail    func() error  // if set, called first; a non-nil result is returned instead of accepting
	changed chan struct{} // closed and replaced after each accepted batch
}

func newRecorder() *recorder {
	return &recorder{changed: make(chan struct{})}
}

func (r *recorder) publish(_ context.Context, b Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(); err != nil {
			return err
		}
	}
	r.data = append(r.data, b.Data...)
	b.Data = bytes.Clone(b.Data)
	r.batches = append(r.batches, b)
	r.n += bytes.Count(b.Data, []byte{'\n'})
	d := b.Data[:len(b.Data)-1]
	r.last = string(d[bytes.LastIndexByte(d, '\n')+1:])
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// lines returns the published lines without their newlines.
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.TrimSuffix(string(r.data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitFor waits until cond holds for the number of published lines and the
// last one, failing after a deadline. It may be called from several
// goroutines at once.
func (r *recorder) waitFor(deadline time.Duration, cond func(n int, last string) bool) error {
	timeout := time.After(deadline)
	for {
		r.mu.Lock()
		ok, n, changed := cond(r.n, r.last), r.n, r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-timeout:
			return fmt.Errorf("timed out after %v with %d lines published", deadline, n)
		}
	}
}

// runner runs a Tailer in a goroutine it owns.
type runner struct {
	tailer *Tailer
	stop   func() // cancels Run and waits for it; may be called more than once
}

// start runs a Tailer with o until stop is called (at the latest at the
// end of the test). Run must return nil.
func start(t testing.TB, o Options, pub Publisher) *runner {
	t.Helper()
	tl, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, pub) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return &runner{tailer: tl, stop: stop}
}

// settle lets the fake clock of the synctest bubble run several poll
// intervals, so that the tailer has looked at the files and done all it
// can with what it found (it is not a real sleep), then waits until the
// tailer is blocked again, so that what the test does next happens while
// the tailer is not looking.
func settle() {
	<-time.After(5 * testPoll)
	synctest.Wait()
}

// appendTo appends s to the file at path, creating it if needed.
func appendTo(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// numbered returns the lines "line <from>" through "line <to>", each with
// a newline.
func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

// names returns the line texts numbered would produce, without newlines.
func names(from, to int) []string {
	var l []string
	for i := from; i <= to; i++ {
		l = append(l, fmt.Sprintf("line %d", i))
	}
	return l
}

// concat concatenates line lists.
func concat(l ...[]string) []string {
	var all []string
	for _, x := range l {
		all = append(all, x...)
	}
	return all
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for log output.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a logger writing text to a buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// copyFile copies src to dst, as logrotate's copytruncate does.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
