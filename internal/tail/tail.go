// Package tail follows the kube-apiserver's audit log file (JSON lines at
// --audit-log-path) across rotations and hands complete lines to a
// publisher, persisting how far it got.
//
// # Delivery
//
// The position is persisted only after the publisher has returned nil (the
// ack model), so a restart neither skips nor, normally, repeats lines. A
// crash between a successful publish and the write of the position repeats
// that one batch on restart: delivery is at least once here, and exactly
// once downstream, which deduplicates events by auditID. A failing
// publisher is retried with capped backoff for as long as it takes: data is
// never skipped because the consumer is unavailable.
//
// # Identity and rotation
//
// A file is identified by device, inode and a fingerprint: the SHA-256 of
// its first [FingerprintMax] bytes (while it is shorter, of its complete
// lines), so that a reused inode number is not taken for the old file.
//
//   - Rename rotation (the apiserver's own lumberjack logger, logrotate
//     without copytruncate): when the path names a different file, the old
//     one is read to its end through the descriptor already open, and once
//     it has stayed unchanged for one poll interval the new file is read
//     from offset 0.
//   - copytruncate: every read is followed by a check that the file still
//     has the bytes read and still starts with its fingerprinted bytes. If
//     not, it was truncated in place. The copy logrotate made is looked for
//     in the same directory (same fingerprint, at least as long as the
//     offset) and read from the offset; then the file at the path is read
//     from 0.
//   - At start with a saved position: the file at the path is resumed at the
//     saved offset if it is the same file. Otherwise the saved file is looked
//     for in the same directory (renamed: same device, inode and
//     fingerprint; or copied: same fingerprint), finished from the saved
//     offset, and the file at the path is read from 0.
//
// # What can be lost
//
// Lines are lost, and counted or logged where they can be known, only when:
//
//   - copytruncate: lines written between logrotate's copy and its truncate
//     are in neither file (logrotate's race; each truncation is counted and
//     logged, the amount is unknowable). If the copy is not found (already
//     compressed or deleted), everything after the offset is lost; the bytes
//     seen but not yet published are counted as possibly lost.
//   - The saved file rotated away and was deleted or compressed while Vigil
//     was stopped: its unread tail is lost (logged with file and offset, and
//     counted).
//   - The path rotated twice between two looks (twice within one poll
//     interval while running, or twice while stopped): the middle file is
//     never read. This is not detected.
//   - Rename rotation with a writer that keeps appending to the renamed file
//     (logrotate's create mode before the writer reopens): lines it adds
//     after the old file was quiet for one poll interval and reading moved
//     on are not read, and not counted. The apiserver closes the old file
//     before renaming it, so it never does this.
//   - A rotated file's last line had no newline: it is dropped and its bytes
//     counted as possibly lost.
//   - A line longer than MaxLine is skipped, counted and reported.
package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultPoll       = 250 * time.Millisecond
	DefaultChunkBytes = 1 << 20
	DefaultMaxLine    = 1 << 20
)

// Backoff between attempts to publish the same batch.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 10 * time.Second
)

// Options configure a Tailer.
type Options struct {
	Path       string        // the file to follow
	StateFile  string        // where the position is persisted; "" = not persisted
	Poll       time.Duration // how often to look for growth and rotation; 0 = DefaultPoll
	ChunkBytes int           // most bytes per publish, always whole lines (a single longer line goes alone); 0 = DefaultChunkBytes
	MaxLine    int           // longer lines (counting the newline) are skipped and reported; 0 = DefaultMaxLine
	StartAtEnd bool          // with no saved position, start at the end of the file instead of its beginning
	Logger     *slog.Logger  // nil = discard
	// OnLongLine, if set, is called from Run's goroutine for each line
	// skipped for being longer than MaxLine, with the file, the line's
	// offset and its length. The length is a lower bound if the file was
	// rotated before the line ended.
	OnLongLine func(file string, offset, length int64)
}

// Batch is what a Publisher receives.
type Batch struct {
	Data   []byte // complete lines, each ending in '\n'; valid only until the publisher returns
	File   string // the name the file was opened under
	Offset int64  // where Data[0] was in File
}

// Publisher receives batches in file order, one at a time, from Run's
// goroutine. Returning nil acknowledges the batch: its end is then
// persisted and it is never offered again (except after a crash before the
// position was written). Returning an error makes Run retry the same batch
// after a backoff. It should return promptly when ctx is cancelled.
type Publisher func(ctx context.Context, b Batch) error

// Stats counts what a Tailer did since New.
type Stats struct {
	Bytes             int64 // bytes published
	Lines             int64 // lines published
	Rotations         int64 // times reading moved on to a new file at the path after finishing the old one
	Truncations       int64 // in-place truncations (copytruncate) detected, running or at start
	LongLines         int64 // lines skipped as longer than MaxLine
	MissingFiles      int64 // saved files not found at start: their unread tail is lost
	PossiblyLostBytes int64 // bytes seen but never published: dropped incomplete last lines, the unread tail of a truncated file whose copy was not found
	Retries           int64 // failed publish attempts that were retried
}

// Tailer follows one file. It is used once: call Run a single time.
type Tailer struct {
	o       Options
	log     *slog.Logger
	buf     []byte               // read buffer: max(ChunkBytes, MaxLine+1) bytes
	scratch [FingerprintMax]byte // for reading the start of a file

	// The fields below are used only by Run's goroutine.
	saved   *Position   // loaded by New; resolved when Run first opens a file
	savedFP fingerprint // the fingerprint of saved
	fresh   bool        // the path has not been looked at yet (for StartAtEnd)
	cur     *file       // the file being read; nil while waiting for the path
	last    Position    // last persisted position

	running atomic.Bool // Run was called
	stats   struct {
		bytes, lines, rotations, truncations, longLines, missing, lost, retries atomic.Int64
	}
}

// New checks the options and loads the saved position, if any. A state file
// that exists but cannot be read or parsed is an error: restarting from the
// beginning (or the end) instead would repeat or skip data silently.
func New(o Options) (*Tailer, error) {
	if o.Path == "" {
		return nil, errors.New("tail: no path")
	}
	if o.Poll < 0 || o.ChunkBytes < 0 || o.MaxLine < 0 {
		return nil, errors.New("tail: negative poll, chunk_bytes or max_line")
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.MaxLine == 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Path = filepath.Clean(o.Path)
	t := &Tailer{
		o:     o,
		log:   o.Logger,
		buf:   make([]byte, max(o.ChunkBytes, o.MaxLine+1)),
		fresh: true,
	}
	if o.StateFile != "" {
		t.o.StateFile = filepath.Clean(o.StateFile)
		if _, err := os.Stat(filepath.Dir(t.o.StateFile)); err != nil {
			return nil, fmt.Errorf("tail state directory: %w", err)
		}
		p, fp, ok, err := readState(t.o.StateFile)
		if err != nil {
			return nil, err
		}
		if ok {
			t.saved, t.savedFP, t.last = &p, fp, p
		}
	}
	return t, nil
}

// Stats returns the counters. It may be called from any goroutine.
func (t *Tailer) Stats() Stats {
	s := &t.stats
	return Stats{
		Bytes:             s.bytes.Load(),
		Lines:             s.lines.Load(),
		Rotations:         s.rotations.Load(),
		Truncations:       s.truncations.Load(),
		LongLines:         s.longLines.Load(),
		MissingFiles:      s.missing.Load(),
		PossiblyLostBytes: s.lost.Load(),
		Retries:           s.retries.Load(),
	}
}

// Run follows the file until ctx is cancelled, then returns nil. It
// publishes each batch and persists the position after publish succeeds;
// a failed publish is retried with capped backoff until it succeeds or ctx
// is cancelled, so data is never skipped. The file not existing yet is not
// an error: Run waits for it. Errors are returned for what retrying cannot
// fix: a file that exists but cannot be opened or read, or a position that
// cannot be persisted. Run starts no goroutines.
func (t *Tailer) Run(ctx context.Context, publish Publisher) error {
	if publish == nil {
		return errors.New("tail: nil publisher")
	}
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("tail: Run called more than once")
	}
	defer t.close()
	for ctx.Err() == nil {
		if t.cur == nil {
			if err := t.open(); err != nil {
				return err
			}
			if t.cur == nil {
				t.wait(ctx, t.o.Poll)
				continue
			}
		}
		got, err := t.pass(ctx, publish)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if got {
			continue
		}
		switched, err := t.checkPath(ctx, publish)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !switched {
			t.wait(ctx, t.o.Poll)
		}
	}
	return nil
}

// wait returns after d or when ctx is cancelled.
func (t *Tailer) wait(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// close closes the current file.
func (t *Tailer) close() {
	if t.cur != nil {
		t.cur.f.Close()
		t.cur = nil
	}
}

// open opens the file to read when none is open: the saved one on the
// first call with a saved position, else the file at the path. It leaves
// t.cur nil when there is nothing to open yet.
func (t *Tailer) open() error {
	if t.saved != nil {
		return t.openSaved()
	}
	// StartAtEnd applies only to a file that exists at the first look: a
	// file created later holds nothing but new lines.
	fresh := t.fresh
	t.fresh = false
	c, err := openFile(t.o.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", t.o.Path, err)
	}
	if fresh && t.o.StartAtEnd && c.size > 0 {
		if err := t.startAtEnd(c); err != nil {
			c.f.Close()
			return err
		}
	}
	t.cur = c
	t.log.Info("following file", "file", c.name, "offset", c.off)
	return t.persist()
}

// startAtEnd places c at its end. A partial last line there is skipped up
// to its newline rather than published as a fragment.
func (t *Tailer) startAtEnd(c *file) error {
	var last [1]byte
	if _, err := c.f.ReadAt(last[:], c.size-1); err != nil {
		return fmt.Errorf("read %s: %w", c.name, err)
	}
	c.off = c.size
	if last[0] != '\n' {
		c.skip, c.skipFrom = skipPartial, c.size
	}
	return nil
}

// openSaved resolves the saved position: the file at the path if it is the
// saved file, else the saved file found in the directory (rotated while
// stopped), else the file at the path from 0 with a warning that the rest
// of the saved file is lost.
func (t *Tailer) openSaved() error {
	pos, fp := *t.saved, t.savedFP
	t.saved, t.fresh = nil, false
	c, err := openFile(t.o.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open %s: %w", t.o.Path, err)
	}
	var exclude os.FileInfo
	if c != nil {
		if c.ino != 0 && c.dev == pos.Dev && c.ino == pos.Inode || c.ino == 0 && pos.Inode == 0 {
			prefix, err := readPrefix(c.f, c.size, &t.scratch)
			if err != nil {
				c.f.Close()
				return err
			}
			if fp.matches(prefix) && c.size >= pos.Offset {
				c.fp, c.off = fp, pos.Offset
				t.cur = c
				t.log.Info("resuming file", "file", c.name, "offset", c.off)
				return nil
			}
			// Same inode, other content: truncated in place
			// (copytruncate), or the inode was freed and reused. Only
			// finding the copy below tells which.
			t.log.Info("file at the path has the saved inode but not the saved content", "file", c.name, "offset", pos.Offset)
		}
		exclude = c.info
	}
	old, err := findFile(filepath.Dir(t.o.Path), pos, fp, exclude, t.o.StateFile)
	if err != nil {
		if c != nil {
			c.f.Close()
		}
		return err
	}
	if old != nil {
		if c != nil {
			c.f.Close()
		}
		t.cur = old
		if old.isCopy {
			t.stats.truncations.Add(1)
			t.log.Warn("file was truncated in place while stopped; reading the rest from its copy; lines written between the copy and the truncation are lost",
				"file", t.o.Path, "offset", old.off, "copy", old.name)
			return nil
		}
		t.log.Info("resuming rotated file", "file", old.name, "offset", old.off, "saved_file", pos.File)
		return nil
	}
	t.stats.missing.Add(1)
	t.log.Warn("saved file not found: its unread part is lost", "saved_file", pos.File, "offset", pos.Offset)
	if c == nil {
		return nil
	}
	t.cur = c
	t.log.Info("following file", "file", c.name, "offset", c.off)
	return t.persist()
}

// pass reads the current file to its end, publishing complete lines. It
// reports whether any bytes were read.
func (t *Tailer) pass(ctx context.Context, publish Publisher) (got bool, err error) {
	for ctx.Err() == nil {
		n, err := t.fill()
		if errors.Is(err, errTruncated) {
			return true, t.truncated()
		}
		if err != nil || n == 0 {
			return got, err
		}
		got = true
		t.cur.quiet = false
		if err := t.drain(ctx, publish); err != nil {
			return got, err
		}
	}
	return got, ctx.Err()
}

// fill reads what follows the buffered bytes, then verifies the file was
// not truncated meanwhile.
func (t *Tailer) fill() (int, error) {
	c := t.cur
	if c.lo == c.hi {
		c.lo, c.hi = 0, 0
	} else if c.lo > 0 {
		c.hi = copy(t.buf, t.buf[c.lo:c.hi])
		c.lo = 0
	}
	at := c.off + int64(c.hi)
	n, err := c.f.ReadAt(t.buf[c.hi:], at)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", c.name, err)
	}
	if err := c.verify(at+int64(n), &t.scratch); err != nil {
		return 0, err
	}
	c.hi += n
	return n, nil
}

// drain publishes the complete lines in the buffer and skips too long ones,
// leaving at most the start of an incomplete line.
func (t *Tailer) drain(ctx context.Context, publish Publisher) error {
	c := t.cur
	for c.lo < c.hi {
		data := t.buf[c.lo:c.hi]
		if c.skip != skipNone {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				c.off += int64(len(data))
				c.lo = c.hi
				return nil
			}
			c.off += int64(i + 1)
			c.lo += i + 1
			if c.skip == skipLong {
				t.longLine(c)
			}
			c.skip = skipNone
			if err := t.persist(); err != nil {
				return err
			}
			continue
		}
		n, long := cut(data, t.o.ChunkBytes, t.o.MaxLine)
		if long {
			c.skip, c.skipFrom = skipLong, c.off
			continue
		}
		if n == 0 {
			return nil
		}
		if err := t.publish(ctx, publish, Batch{Data: data[:n], File: c.name, Offset: c.off}); err != nil {
			return err
		}
		c.off += int64(n)
		c.lo += n
		t.stats.bytes.Add(int64(n))
		t.stats.lines.Add(int64(bytes.Count(data[:n], []byte{'\n'})))
		if err := t.persist(); err != nil {
			return err
		}
	}
	return nil
}

// longLine counts and reports the line being skipped, which ends at c.off.
func (t *Tailer) longLine(c *file) {
	t.stats.longLines.Add(1)
	n := c.off - c.skipFrom
	t.log.Warn("skipped a line longer than max_line", "file", c.name, "offset", c.skipFrom, "bytes", n)
	if t.o.OnLongLine != nil {
		t.o.OnLongLine(c.name, c.skipFrom, n)
	}
}

// publish calls the publisher until it accepts b or ctx is cancelled,
// waiting between attempts with exponential backoff capped at retryMax.
// A failure is logged only when it differs from the previous one.
func (t *Tailer) publish(ctx context.Context, publish Publisher, b Batch) error {
	delay, last := retryMin, ""
	for attempt := 1; ; attempt++ {
		err := publish(ctx, b)
		if err == nil {
			if attempt > 1 {
				t.log.Info("publish succeeded after retrying", "file", b.File, "offset", b.Offset, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.stats.retries.Add(1)
		if msg := err.Error(); msg != last {
			t.log.Warn("publish failed; retrying", "file", b.File, "offset", b.Offset, "attempt", attempt, "error", err)
			last = msg
		}
		t.wait(ctx, delay)
		delay = min(2*delay, retryMax)
	}
}

// truncated handles an in-place truncation of the current file: read the
// rest from logrotate's copy if it can be found, else count what was seen
// and not published as possibly lost; then read the file from 0.
func (t *Tailer) truncated() error {
	c := t.cur
	t.stats.truncations.Add(1)
	cp, err := findFile(filepath.Dir(c.name), c.position(), c.fp, c.info, t.o.StateFile)
	if err != nil {
		return err
	}
	if cp != nil {
		t.log.Warn("file truncated in place; reading the rest from its copy; lines written between the copy and the truncation are lost",
			"file", c.name, "offset", c.off, "copy", cp.name)
		c.f.Close()
		t.cur = cp
		return t.persist()
	}
	lost := max(c.size-c.off, 0)
	t.stats.lost.Add(lost)
	t.log.Warn("file truncated in place and no copy found; its unread part is lost",
		"file", c.name, "offset", c.off, "lost_bytes", lost)
	c.off, c.lo, c.hi, c.size = 0, 0, 0, 0
	c.skip, c.fp, c.quiet = skipNone, fingerprint{}, false
	return t.persist()
}

// checkPath looks at what the path names when the current file has no new
// data. If it names another file, the current one is finished once it has
// been quiet for one poll interval (a writer may still add its last lines),
// and reading moves on to the new file from 0. It reports whether it moved.
func (t *Tailer) checkPath(ctx context.Context, publish Publisher) (bool, error) {
	c := t.cur
	fi, err := os.Stat(t.o.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // renamed, the new file not created yet: keep reading the old one
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", t.o.Path, err)
	}
	if os.SameFile(fi, c.info) {
		return false, nil
	}
	if !c.quiet {
		c.quiet = true
		return false, nil
	}
	// One last look, in case a line arrived since the previous pass.
	if got, err := t.pass(ctx, publish); err != nil || got || t.cur != c {
		return false, err
	}
	t.finish(c)
	if err := t.open(); err != nil {
		return false, err
	}
	if !c.isCopy {
		t.stats.rotations.Add(1)
	}
	next := ""
	if t.cur != nil {
		next = t.cur.name
	}
	t.log.Info("finished rotated file", "file", c.name, "offset", c.off, "next_file", next)
	return true, nil
}

// finish closes the current file, counting an incomplete last line.
func (t *Tailer) finish(c *file) {
	switch {
	case c.skip == skipLong:
		c.off += int64(c.hi - c.lo)
		t.longLine(c)
	case c.skip == skipNone && c.hi > c.lo:
		n := int64(c.hi - c.lo)
		t.stats.lost.Add(n)
		t.log.Warn("rotated file ends in an incomplete line; dropped", "file", c.name, "offset", c.off, "lost_bytes", n)
	}
	c.f.Close()
	t.cur = nil
}

// persist saves the current position if it changed.
func (t *Tailer) persist() error {
	if t.o.StateFile == "" || t.cur == nil {
		return nil
	}
	p := t.cur.position()
	if p == t.last {
		return nil
	}
	if err := writeState(t.o.StateFile, p); err != nil {
		return fmt.Errorf("persist position: %w", err)
	}
	t.last = p
	return nil
}
