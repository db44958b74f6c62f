package tail

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// env is the directory of one test: the followed file and the state file.
type env struct {
	t     *testing.T
	dir   string
	path  string // the followed file
	state string // the state file
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	return &env{t: t, dir: dir, path: filepath.Join(dir, "audit.log"), state: filepath.Join(dir, "audit.pos")}
}

func (e *env) opts() Options {
	return Options{Path: e.path, StateFile: e.state, Poll: testPoll}
}

func (e *env) write(s string) { appendTo(e.t, e.path, s) }

// rename renames the followed file to name in the same directory, as the
// apiserver's lumberjack logger does.
func (e *env) rename(name string) {
	if err := os.Rename(e.path, filepath.Join(e.dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

// copyTruncate copies the followed file to name (if name is not empty) and
// truncates it, as logrotate's copytruncate does.
func (e *env) copyTruncate(name string) {
	if name != "" {
		copyFile(e.t, e.path, filepath.Join(e.dir, name))
	}
	if err := os.Truncate(e.path, 0); err != nil {
		e.t.Fatal(err)
	}
}

// gzip compresses name into name.gz and removes name, as a rotation with
// compression does.
func (e *env) gzip(name string) {
	src := filepath.Join(e.dir, name)
	data, err := os.ReadFile(src)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := os.Create(src + ".gz")
	if err != nil {
		e.t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(data); err != nil {
		e.t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		e.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		e.t.Fatal(err)
	}
}

// savedPosition reads the state file.
func (e *env) savedPosition() Position {
	p, _, ok, err := readState(e.state)
	if err != nil || !ok {
		e.t.Fatalf("read state: ok=%v err=%v", ok, err)
	}
	return p
}

// step is an action on the files followed by the lines that must have been
// published (in total) once the tailer has settled.
type step struct {
	do   func(e *env)
	want []string
}

// runSteps runs the steps against one tailer and checks the lines after
// each.
func runSteps(t *testing.T, e *env, o Options, steps []step) *Tailer {
	t.Helper()
	rec := newRecorder()
	r := start(t, o, rec.publish)
	synctest.Wait() // the tailer has looked at the path
	for i, s := range steps {
		s.do(e)
		settle()
		if got := rec.lines(); !slices.Equal(got, s.want) {
			t.Fatalf("after step %d: published\n%q\nwant\n%q", i, got, s.want)
		}
	}
	r.stop()
	return r.tailer
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name   string
		opts   func(*Options)
		before string // written before the tailer starts; "" = no file
		steps  []step
	}{{
		name: "growth",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 2)) }, names(1, 2)},
			{func(e *env) { e.write(numbered(3, 3)) }, names(1, 3)},
		},
	}, {
		name: "partial line waits for its newline",
		steps: []step{
			{func(e *env) { e.write("a\nb") }, []string{"a"}},
			{func(e *env) { e.write("c") }, []string{"a"}},
			{func(e *env) { e.write("\nd\n") }, []string{"a", "bc", "d"}},
		},
	}, {
		name: "file created late and empty at first",
		steps: []step{
			{func(*env) {}, nil},
			{func(e *env) { e.write("") }, nil},
			{func(e *env) { e.write(numbered(1, 1)) }, names(1, 1)},
		},
	}, {
		name: "small chunks",
		opts: func(o *Options) { o.ChunkBytes = 16 },
		steps: []step{
			{func(e *env) { e.write(numbered(1, 20)) }, names(1, 20)},
		},
	}, {
		name:   "start at end skips existing lines and the rest of a partial last line",
		opts:   func(o *Options) { o.StartAtEnd = true },
		before: "old 1\nold 2\nold part",
		steps: []step{
			{func(e *env) { e.write("ial\n") }, nil},
			{func(e *env) { e.write("z\n") }, []string{"z"}},
		},
	}, {
		name:   "start at end of a file ending in a newline",
		opts:   func(o *Options) { o.StartAtEnd = true },
		before: "old 1\n",
		steps: []step{
			{func(e *env) { e.write("z\n") }, []string{"z"}},
		},
	}, {
		name: "start at end does not apply to a file created later",
		opts: func(o *Options) { o.StartAtEnd = true },
		steps: []step{
			{func(*env) {}, nil},
			{func(e *env) { e.write(numbered(1, 2)) }, names(1, 2)},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				o := e.opts()
				if tc.opts != nil {
					tc.opts(&o)
				}
				if tc.before != "" {
					e.write(tc.before)
				}
				runSteps(t, e, o, tc.steps)
			})
		})
	}
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name        string
		chunk, max  int
		write       string
		wantBatches []string
	}{
		{"whole lines up to the chunk size", 16, 0, "aaaa\nbbbb\ncccc\ndddd\n", []string{"aaaa\nbbbb\ncccc\n", "dddd\n"}},
		{"a line longer than the chunk goes alone", 8, 0, "a\n0123456789\nb\n", []string{"a\n", "0123456789\n", "b\n"}},
		{"a line of exactly max_line is kept", 64, 5, "abcd\nabcde\nx\n", []string{"abcd\n", "x\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				e.write(tc.write)
				o := e.opts()
				o.ChunkBytes, o.MaxLine = tc.chunk, tc.max
				rec := newRecorder()
				r := start(t, o, rec.publish)
				settle()
				r.stop()
				var got []string
				off := int64(0)
				for _, b := range rec.batches {
					got = append(got, string(b.Data))
					if b.File != e.path {
						t.Errorf("batch file %q, want %q", b.File, e.path)
					}
					if b.Offset < off {
						t.Errorf("batch offset %d before %d", b.Offset, off)
					}
					off = b.Offset + int64(len(b.Data))
				}
				if !slices.Equal(got, tc.wantBatches) {
					t.Errorf("batches %q, want %q", got, tc.wantBatches)
				}
			})
		})
	}
}

func TestRenameRotation(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		rotations int64
		lost      int64
	}{{
		name: "lines written to the old file just before the rename",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 3)) }, names(1, 3)},
			{func(e *env) {
				e.write(numbered(4, 5))
				e.rename("audit-2026-08-01T10-00-00.000.log")
				e.write(numbered(6, 7))
			}, names(1, 7)},
			{func(e *env) { e.write(numbered(8, 8)) }, names(1, 8)},
		},
		rotations: 1,
	}, {
		name: "new file created later",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 2)) }, names(1, 2)},
			{func(e *env) {
				e.write(numbered(3, 3))
				e.rename("audit.log.1")
			}, names(1, 3)},
			{func(e *env) { e.write(numbered(4, 4)) }, names(1, 4)},
		},
		rotations: 1,
	}, {
		name: "writer appends to the renamed file before reopening",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 1)) }, names(1, 1)},
			{func(e *env) {
				e.rename("audit.log.1")
				e.write(numbered(3, 3))
				appendTo(e.t, filepath.Join(e.dir, "audit.log.1"), numbered(2, 2))
			}, names(1, 3)},
		},
		rotations: 1,
	}, {
		name: "incomplete last line of the old file is dropped and counted",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 1) + "torn") }, names(1, 1)},
			{func(e *env) {
				e.rename("audit.log.1")
				e.write(numbered(2, 2))
			}, names(1, 2)},
		},
		rotations: 1,
		lost:      int64(len("torn")),
	}, {
		name: "two rotations between two looks lose the middle file (documented)",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 1)) }, names(1, 1)},
			{func(e *env) {
				e.rename("audit.log.1")
				e.write(numbered(2, 2))
				e.rename("audit.log.2")
				e.write(numbered(3, 3))
			}, concat(names(1, 1), names(3, 3))},
		},
		rotations: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				tl := runSteps(t, e, e.opts(), tc.steps)
				s := tl.Stats()
				if s.Rotations != tc.rotations || s.PossiblyLostBytes != tc.lost || s.Truncations != 0 {
					t.Errorf("stats %+v, want %d rotations, %d lost bytes", s, tc.rotations, tc.lost)
				}
				st, err := os.Stat(e.path)
				if err != nil {
					t.Fatal(err)
				}
				if p := e.savedPosition(); p.Offset != st.Size() || p.File != e.path {
					t.Errorf("saved %+v, want %s at %d", p, e.path, st.Size())
				}
			})
		})
	}
}

func TestCopyTruncate(t *testing.T) {
	tests := []struct {
		name        string
		steps       []step
		truncations int64
		lost        int64
	}{{
		name: "unread lines are read from the copy",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 3)) }, names(1, 3)},
			{func(e *env) {
				e.write(numbered(4, 5))
				e.copyTruncate("audit.log.1")
				e.write(numbered(6, 6))
			}, names(1, 6)},
		},
		truncations: 1,
	}, {
		name: "copy already compressed: lines never seen are lost uncounted",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 3)) }, names(1, 3)},
			{func(e *env) {
				e.write(numbered(4, 5))
				e.copyTruncate("audit.log.1")
				e.gzip("audit.log.1")
				e.write(numbered(6, 6))
			}, concat(names(1, 3), names(6, 6))},
		},
		truncations: 1,
	}, {
		name: "copy already compressed: a partial line seen is counted",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 3) + "torn") }, names(1, 3)},
			{func(e *env) {
				e.copyTruncate("audit.log.1")
				e.gzip("audit.log.1")
				e.write(numbered(6, 6))
			}, concat(names(1, 3), names(6, 6))},
		},
		truncations: 1,
		lost:        int64(len("torn")),
	}, {
		name: "regrown past the offset before the next look: found by fingerprint",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 2)) }, names(1, 2)},
			{func(e *env) {
				e.copyTruncate("audit.log.1")
				e.write(numbered(10, 19))
			}, concat(names(1, 2), names(10, 19))},
		},
		truncations: 1,
	}, {
		name: "truncated with nothing unread and no copy",
		steps: []step{
			{func(e *env) { e.write(numbered(1, 2)) }, names(1, 2)},
			{func(e *env) {
				e.copyTruncate("")
				e.write(numbered(3, 3))
			}, names(1, 3)},
		},
		truncations: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				log, logs := testLogger()
				o := e.opts()
				o.Logger = log
				tl := runSteps(t, e, o, tc.steps)
				s := tl.Stats()
				if s.Truncations != tc.truncations || s.PossiblyLostBytes != tc.lost || s.Rotations != 0 {
					t.Errorf("stats %+v, want %d truncations, %d lost bytes", s, tc.truncations, tc.lost)
				}
				if !strings.Contains(logs.String(), "level=WARN msg=\"file truncated in place") {
					t.Errorf("no truncation warning in log:\n%s", logs)
				}
			})
		})
	}
}

func TestRestart(t *testing.T) {
	tests := []struct {
		name        string
		before      func(e *env) // with the first tailer running
		stopped     func(e *env) // between the tailers
		want        []string     // published by the second tailer
		rotations   int64
		truncations int64
		missing     int64
		log         string // in the second tailer's log
	}{{
		name:    "resume at the saved offset",
		before:  func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) { e.write(numbered(4, 5)) },
		want:    names(4, 5),
	}, {
		name:    "resume before a partial line",
		before:  func(e *env) { e.write(numbered(1, 1) + "line") },
		stopped: func(e *env) { e.write(" 2\n") },
		want:    names(2, 2),
	}, {
		name:   "rotated while stopped: finish the renamed file, then the new one",
		before: func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) {
			e.write(numbered(4, 4))
			e.rename("audit-2026-08-01T10-00-00.000.log")
			e.write(numbered(5, 6))
		},
		want:      names(4, 6),
		rotations: 1,
		log:       `msg="resuming rotated file" file=` + "",
	}, {
		name:   "rotated and compressed while stopped: warning and counter",
		before: func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) {
			e.write(numbered(4, 4))
			e.rename("audit.log.1")
			e.gzip("audit.log.1")
			e.write(numbered(5, 6))
		},
		want:    names(5, 6),
		missing: 1,
		log:     `level=WARN msg="saved file not found: its unread part is lost" saved_file=`,
	}, {
		name:   "rotated and deleted while stopped, new file not created yet",
		before: func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) {
			e.rename("audit.log.1")
			if err := os.Remove(filepath.Join(e.dir, "audit.log.1")); err != nil {
				e.t.Fatal(err)
			}
		},
		missing: 1,
	}, {
		name:   "copytruncate while stopped: finish the copy, then the file",
		before: func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) {
			e.write(numbered(4, 4))
			e.copyTruncate("audit.log.1")
			e.write(numbered(5, 5))
		},
		want:        names(4, 5),
		truncations: 1,
	}, {
		name:   "copytruncate while stopped, copy gone",
		before: func(e *env) { e.write(numbered(1, 3)) },
		stopped: func(e *env) {
			e.write(numbered(4, 4))
			e.copyTruncate("")
			e.write(numbered(5, 5))
		},
		want:    names(5, 5),
		missing: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				first := newRecorder()
				r := start(t, e.opts(), first.publish)
				tc.before(e)
				settle()
				r.stop()
				tc.stopped(e)

				log, logs := testLogger()
				o := e.opts()
				o.Logger = log
				o.StartAtEnd = true // must not matter: there is a saved position
				second := newRecorder()
				r = start(t, o, second.publish)
				settle()
				r.stop()
				if got := second.lines(); !slices.Equal(got, tc.want) {
					t.Errorf("second tailer published %q, want %q", got, tc.want)
				}
				all := append(first.lines(), second.lines()...)
				if n := len(slices.Compact(slices.Clone(all))); n != len(all) {
					t.Errorf("lines repeated: %q", all)
				}
				s := r.tailer.Stats()
				if s.Rotations != tc.rotations || s.Truncations != tc.truncations || s.MissingFiles != tc.missing {
					t.Errorf("stats %+v, want %d rotations, %d truncations, %d missing", s, tc.rotations, tc.truncations, tc.missing)
				}
				if !strings.Contains(logs.String(), tc.log) {
					t.Errorf("log lacks %q:\n%s", tc.log, logs)
				}
				if tc.missing > 0 && !strings.Contains(logs.String(), "offset=") {
					t.Errorf("missing-file warning lacks the offset:\n%s", logs)
				}
			})
		})
	}
}

func TestPublishRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write(numbered(1, 2))
		rec := newRecorder()
		var failures atomic.Int64
		rec.fail = func() error {
			if failures.Add(1) <= 4 {
				return errors.New("sink down")
			}
			return nil
		}
		log, logs := testLogger()
		o := e.opts()
		o.Logger = log
		begin := time.Now()
		r := start(t, o, rec.publish)
		if err := rec.waitFor(time.Minute, func(n int, _ string) bool { return n >= 2 }); err != nil {
			t.Fatal(err)
		}
		// Backoff: 100ms, 200ms, 400ms, 800ms of fake time.
		if d := time.Since(begin); d < 1500*time.Millisecond || d > 1500*time.Millisecond+testPoll {
			t.Errorf("published after %v, want 1.5s of backoff", d)
		}
		e.write(numbered(3, 3))
		settle()
		r.stop()
		if got, want := rec.lines(), names(1, 3); !slices.Equal(got, want) {
			t.Errorf("published %q, want %q", got, want)
		}
		if s := r.tailer.Stats(); s.Retries != 4 || s.Lines != 3 {
			t.Errorf("stats %+v, want 4 retries, 3 lines", s)
		}
		if n := strings.Count(logs.String(), "publish failed"); n != 1 {
			t.Errorf("%d failure warnings for the same error, want 1:\n%s", n, logs)
		}
	})
}

func TestPublishFailureKeepsPosition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write(numbered(1, 1))
		rec := newRecorder()
		r := start(t, e.opts(), rec.publish)
		settle()
		rec.mu.Lock()
		rec.fail = func() error { return errors.New("sink down") }
		rec.mu.Unlock()
		e.write(numbered(2, 2))
		settle()
		r.stop()
		if p := e.savedPosition(); p.Offset != int64(len(numbered(1, 1))) {
			t.Fatalf("saved offset %d after a failed publish, want %d", p.Offset, len(numbered(1, 1)))
		}
		rec2 := newRecorder()
		r = start(t, e.opts(), rec2.publish)
		settle()
		r.stop()
		if got := rec2.lines(); !slices.Equal(got, names(2, 2)) {
			t.Errorf("after restart published %q, want line 2", got)
		}
	})
}

func TestLongLine(t *testing.T) {
	type report struct{ off, n int64 }
	tests := []struct {
		name   string
		writes []string // each followed by settling
		want   []string
		report []report
	}{{
		name:   "complete long line between short ones",
		writes: []string{"a\n" + strings.Repeat("x", 100) + "\nb\n"},
		want:   []string{"a", "b"},
		report: []report{{2, 101}},
	}, {
		name:   "long line arriving over several reads",
		writes: []string{"a\n" + strings.Repeat("x", 50), strings.Repeat("x", 200), "\nb\n"},
		want:   []string{"a", "b"},
		report: []report{{2, 251}},
	}, {
		name:   "two long lines in a row",
		writes: []string{strings.Repeat("x", 70) + "\n" + strings.Repeat("y", 300) + "\nc\n"},
		want:   []string{"c"},
		report: []report{{0, 71}, {71, 301}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				var reports []report
				o := e.opts()
				o.MaxLine, o.ChunkBytes = 64, 64
				o.OnLongLine = func(file string, off, n int64) {
					if file != e.path {
						t.Errorf("reported file %q", file)
					}
					reports = append(reports, report{off, n})
				}
				rec := newRecorder()
				r := start(t, o, rec.publish)
				for _, w := range tc.writes {
					e.write(w)
					settle()
				}
				r.stop()
				if got := rec.lines(); !slices.Equal(got, tc.want) {
					t.Errorf("published %q, want %q", got, tc.want)
				}
				if !slices.Equal(reports, tc.report) {
					t.Errorf("reports %v, want %v", reports, tc.report)
				}
				if s := r.tailer.Stats(); s.LongLines != int64(len(tc.report)) {
					t.Errorf("LongLines = %d, want %d", s.LongLines, len(tc.report))
				}
				st, _ := os.Stat(e.path)
				if p := e.savedPosition(); p.Offset != st.Size() {
					t.Errorf("saved offset %d, want %d", p.Offset, st.Size())
				}
			})
		})
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env)
		publish func(rec *recorder) Publisher
	}{
		{"waiting for the file", func(*env) {}, nil},
		{"idle at the end of the file", func(e *env) { e.write("a\n") }, nil},
		{"retrying a failing publish", func(e *env) { e.write("a\n") }, func(*recorder) Publisher {
			return func(context.Context, Batch) error { return errors.New("down") }
		}},
		{"inside a blocked publish", func(e *env) { e.write("a\n") }, func(*recorder) Publisher {
			return func(ctx context.Context, _ Batch) error { <-ctx.Done(); return ctx.Err() }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The bubble also proves that Run leaves no goroutine behind:
			// synctest.Test fails if one is still blocked at the end.
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				tc.setup(e)
				rec := newRecorder()
				pub := Publisher(rec.publish)
				if tc.publish != nil {
					pub = tc.publish(rec)
				}
				r := start(t, e.opts(), pub)
				settle()
				begin := time.Now()
				r.stop()
				if d := time.Since(begin); d != 0 {
					t.Errorf("Run returned %v after cancel, want at once", d)
				}
			})
		})
	}
}

func TestRunTwice(t *testing.T) {
	e := newEnv(t)
	tl, err := New(e.opts())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tl.Run(ctx, newRecorder().publish); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := tl.Run(ctx, newRecorder().publish); err == nil || err.Error() != "tail: Run called more than once" {
		t.Errorf("second Run: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	good, _ := json.Marshal(stateFile{Version: 1, Position: Position{Fingerprint: strings.Repeat("0", 64)}})
	tests := []struct {
		name  string
		opts  func(e *env) Options
		state string // written to the state file when not empty
		want  string // the error; "%s" stands for the state file
	}{
		{"no path", func(*env) Options { return Options{} }, "", "tail: no path"},
		{"negative poll", func(e *env) Options { o := e.opts(); o.Poll = -1; return o }, "", "tail: negative poll, chunk_bytes or max_line"},
		{"state directory missing", func(e *env) Options {
			o := e.opts()
			o.StateFile = filepath.Join(e.dir, "nope", "pos")
			return o
		}, "", "tail state directory: stat %d/nope: no such file or directory"},
		{"garbage", (*env).opts, "{", "tail state %s is corrupt: unexpected EOF"},
		{"empty", (*env).opts, " ", "tail state %s is corrupt: EOF"},
		{"unknown field", (*env).opts, `{"version":1,"offsett":3}`, `tail state %s is corrupt: json: unknown field "offsett"`},
		{"wrong version", (*env).opts, `{"version":2}`, "tail state %s is corrupt: version 2, want 1"},
		{"bad fingerprint", (*env).opts, `{"version":1,"fingerprint":"zz"}`, `tail state %s is corrupt: bad fingerprint "zz"`},
		{"negative offset", (*env).opts, strings.Replace(string(good), `"offset":0`, `"offset":-5`, 1), "tail state %s is corrupt: negative offset -5"},
		{"good", (*env).opts, string(good), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.state != "" {
				if err := os.WriteFile(e.state, []byte(tc.state), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := strings.ReplaceAll(strings.ReplaceAll(tc.want, "%s", e.state), "%d", e.dir)
			_, err := New(tc.opts(e))
			if got := errString(err); got != want {
				t.Errorf("New: %q\nwant %q", got, want)
			}
		})
	}
}

func TestUnreadableState(t *testing.T) {
	e := newEnv(t)
	if err := os.Mkdir(e.state, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(e.opts())
	if want := "read tail state: read " + e.state + ": is a directory"; errString(err) != want {
		t.Errorf("New: %v, want %q", err, want)
	}
}

func TestStateFileAtomic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write(numbered(1, 3))
		rec := newRecorder()
		r := start(t, e.opts(), rec.publish)
		settle()
		r.stop()
		p := e.savedPosition()
		st, err := os.Stat(e.path)
		if err != nil {
			t.Fatal(err)
		}
		dev, ino := inode(st)
		want := fingerprintOf([]byte(numbered(1, 3)))
		if p.Offset != st.Size() || p.Dev != dev || p.Inode != ino || p.FingerprintLen != want.n {
			t.Errorf("saved %+v, want offset %d dev %d inode %d fingerprint over %d bytes", p, st.Size(), dev, ino, want.n)
		}
		entries, err := os.ReadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range entries {
			if strings.Contains(de.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", de.Name())
			}
		}
	})
}

func TestFingerprint(t *testing.T) {
	long := strings.Repeat("x", FingerprintMax+10)
	tests := []struct {
		name   string
		prefix string
		wantN  int
	}{
		{"empty", "", 0},
		{"no complete line", `{"kind":"Event"`, 0},
		{"complete lines only", "a\nbb\nccc", 5},
		{"capped", long, FingerprintMax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := []byte(tc.prefix)
			if len(p) > FingerprintMax {
				p = p[:FingerprintMax]
			}
			fp := fingerprintOf(p)
			if fp.n != tc.wantN {
				t.Errorf("covers %d bytes, want %d", fp.n, tc.wantN)
			}
			if !fp.matches(p) {
				t.Error("does not match its own prefix")
			}
			if tc.wantN > 0 && fp.matches([]byte("different\n"+tc.prefix)) {
				t.Error("matches a different prefix")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
