package wal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultSegmentSize = 64 << 20 // bytes per segment before rolling
	DefaultMaxBytes    = 1 << 30  // bytes of all segment files
	DefaultMaxRecord   = 64 << 20 // bytes per payload
)

// writeBufSize bounds the buffer that coalesces headers and small payloads
// into one write; a larger payload is written straight from the caller's
// slice.
const writeBufSize = 64 << 10

// maxBatchOnStack is how many payloads Append checksums without allocating.
const maxBatchOnStack = 32

// Sentinel errors callers branch on.
var (
	// ErrFull means the record would take the log past Options.MaxBytes;
	// nothing was written. Release consumed records to make room.
	ErrFull = errors.New("wal: log full")
	// ErrClosed means the Log (or Reader) is closed; for a Reader, only
	// after every durable record has been returned.
	ErrClosed = errors.New("wal: closed")
	// ErrTooLarge means a payload is larger than Options.MaxRecord;
	// nothing was written.
	ErrTooLarge = errors.New("wal: record too large")
)

// Options configure a Log.
type Options struct {
	Dir         string // directory of the segment files; created if missing
	SegmentSize int64  // roll to a new segment once the current one reaches this size; 0 = 64 MiB
	MaxBytes    int64  // bound on the bytes of all segment files; 0 = 1 GiB; Append returns ErrFull past it
	MaxRecord   int    // largest payload; 0 = 64 MiB; larger gives ErrTooLarge
	NoSync      bool   // skip fsync; only for measuring its cost
}

// Stats is a snapshot of a Log's counters.
type Stats struct {
	Bytes     int64  // bytes of all segment files, including written but not yet durable records
	Segments  int    // number of segment files
	First     Pos    // position of the oldest retained record
	End       Pos    // position after the last durable record
	Appends   uint64 // Append calls that succeeded since Open
	Records   uint64 // records appended since Open
	Syncs     uint64 // fsync rounds since Open (group commits plus one per segment roll)
	TornBytes int64  // bytes dropped from a torn tail at Open
}

// Log is a segmented write-ahead log. Its methods are safe for concurrent
// use. A Log owns one syncer goroutine, stopped by Close.
type Log struct {
	opts Options  // with defaults filled in
	dir  *os.File // the directory, for fsync after creating or deleting segments

	mu        sync.Mutex     // guards the fields below
	f         *os.File       // the last (current) segment, open for writing
	segs      []segment      // retained segments in order; the last is current and its size grows
	total     int64          // sum of segs[i].size
	written   Pos            // end of the written records: {current seq, current size}
	synced    Pos            // end of the durable records
	released  Pos            // highest position passed to Release
	retired   []*os.File     // rolled-out segments, closed by the syncer after its round
	dirDirty  bool           // a segment was created since the last directory fsync
	syncedCh  chan struct{}  // closed and replaced whenever synced, closed or err changes
	err       error          // sticky write or fsync error; the Log accepts no more Appends
	closed    bool           // Close was called
	inflight  sync.WaitGroup // Appends between their write and their return
	wbuf      []byte         // coalescing write buffer, used only under mu
	appends   uint64         // successful Appends
	records   uint64         // records appended
	syncs     uint64         // fsync rounds
	tornBytes int64          // bytes dropped at Open

	kick      chan struct{}  // capacity 1: tells the syncer there is work
	trash     chan string    // released segments for the reaper
	stop      chan struct{}  // closed by Close to stop the syncer
	syncerWG  sync.WaitGroup // the syncer goroutine
	closeOnce sync.Once      // makes Close idempotent
	closeErr  error          // result of the first Close
}

// Open opens the log in o.Dir, creating the directory and a first segment
// if needed. It validates every segment; a torn tail of the last segment
// is truncated (see Stats.TornBytes) and anything else bad is a
// *CorruptError.
func Open(o Options) (*Log, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRecord == 0 {
		o.MaxRecord = DefaultMaxRecord
	}
	switch {
	case o.Dir == "":
		return nil, errors.New("open wal: no directory")
	case o.SegmentSize < 0 || o.MaxBytes < 0 || o.MaxRecord < 0:
		return nil, errors.New("open wal: negative size option")
	case int64(o.MaxRecord) > math.MaxUint32-headerSize:
		return nil, fmt.Errorf("open wal: max record %d exceeds the 4 GiB format limit", o.MaxRecord)
	case o.SegmentSize > o.MaxBytes/2:
		// Only whole, non-current segments can be released; with a
		// segment bigger than half the bound the log could fill up
		// with nothing releasable.
		return nil, fmt.Errorf("open wal: segment size %d exceeds half of max bytes %d", o.SegmentSize, o.MaxBytes)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	dir, err := os.Open(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	l := &Log{
		opts:     o,
		dir:      dir,
		syncedCh: make(chan struct{}),
		wbuf:     make([]byte, 0, writeBufSize),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		trash:    make(chan string, 64),
	}
	removeTrash(o.Dir)
	if err := l.load(); err != nil {
		dir.Close()
		return nil, fmt.Errorf("open wal: %w", err)
	}
	l.syncerWG.Go(l.syncLoop)
	l.syncerWG.Go(l.reapLoop)
	return l, nil
}

// load scans the segment files, repairs a torn tail and opens the last
// segment for appending.
func (l *Log) load() error {
	seqs, err := listSegments(l.opts.Dir)
	if err != nil {
		return err
	}
	var sr segReader
	for i, seq := range seqs {
		path := l.path(seq)
		last := i == len(seqs)-1
		good, size, err := scanSegment(path, last, &sr)
		if err != nil {
			return err
		}
		if good < size {
			if err := truncateFile(path, good); err != nil {
				return err
			}
			l.tornBytes = size - good
		}
		l.segs = append(l.segs, segment{seq: seq, size: good})
		l.total += good
	}
	if len(l.segs) == 0 {
		f, err := l.create(1)
		if err != nil {
			return err
		}
		if err := l.syncDir(); err != nil {
			f.Close()
			return err
		}
		l.f = f
		l.segs = []segment{{seq: 1}}
	} else {
		cur := l.segs[len(l.segs)-1]
		f, err := os.OpenFile(l.path(cur.seq), os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open segment: %w", err)
		}
		if _, err := f.Seek(cur.size, 0); err != nil {
			f.Close()
			return fmt.Errorf("seek segment: %w", err)
		}
		l.f = f
	}
	cur := l.segs[len(l.segs)-1]
	l.written = Pos{Seg: cur.seq, Off: cur.size}
	l.synced = l.written
	return nil
}

// truncateFile cuts the file at path to size and makes that durable.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate torn tail: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate torn tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("truncate torn tail: %w", err)
	}
	return nil
}

// path returns the file path of segment seq.
func (l *Log) path(seq uint64) string {
	return filepath.Join(l.opts.Dir, segName(seq))
}

// create creates the empty segment file seq.
func (l *Log) create(seq uint64) (*os.File, error) {
	f, err := os.OpenFile(l.path(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	return f, nil
}

// syncDir fsyncs the directory so that created and deleted segment files
// survive a crash.
func (l *Log) syncDir() error {
	if l.opts.NoSync {
		return nil
	}
	if err := l.dir.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// Append writes the payloads as consecutive records and returns the
// position of the first and the position just after the last, once they
// are durable. Concurrent Appends share fsyncs (group commit).
//
// Append writes nothing and returns ErrFull if the records would take the
// log past MaxBytes, ErrTooLarge (wrapped) if a payload exceeds MaxRecord,
// ErrClosed after Close, and ctx.Err() if ctx is done before it starts.
// If ctx is done while waiting for the fsync, Append returns ctx.Err(); the
// records were written and may still become durable. A write or fsync
// error is returned to every affected appender and to all later Appends.
func (l *Log) Append(ctx context.Context, payloads ...[]byte) (first, end Pos, err error) {
	first, end, _, err = l.append(ctx, -1, payloads)
	return first, end, err
}

// AppendWithin is Append, except that it waits for the fsync at most
// syncWait: if the records are written but not yet durable by then, it
// returns them with durable false and a nil error. Written records survive
// the process dying (they are in the file); the fsync under way makes them
// survive the machine failing too. For answers that cannot wait for the
// disk, such as admission reviews.
func (l *Log) AppendWithin(ctx context.Context, syncWait time.Duration, payloads ...[]byte) (first, end Pos, durable bool, err error) {
	return l.append(ctx, syncWait, payloads)
}

// append writes the payloads and waits for their fsync, at most syncWait
// when it is not negative.
func (l *Log) append(ctx context.Context, syncWait time.Duration, payloads [][]byte) (first, end Pos, durable bool, err error) {
	if err := ctx.Err(); err != nil {
		return Pos{}, Pos{}, false, err
	}
	// Checksum outside the mutex: it is the only per-byte work besides
	// the write itself.
	var stack [maxBatchOnStack]uint32
	sums := stack[:0]
	if len(payloads) > maxBatchOnStack {
		sums = make([]uint32, 0, len(payloads))
	}
	var need int64
	for _, p := range payloads {
		if len(p) > l.opts.MaxRecord {
			return Pos{}, Pos{}, false, fmt.Errorf("append %d-byte record (limit %d): %w", len(p), l.opts.MaxRecord, ErrTooLarge)
		}
		need += headerSize + int64(len(p))
		sums = append(sums, headerChecksum(p))
	}

	l.mu.Lock()
	first, end, err = l.writeLocked(payloads, sums, need)
	if err != nil {
		l.mu.Unlock()
		return Pos{}, Pos{}, false, err
	}
	l.inflight.Add(1)
	defer l.inflight.Done()
	select {
	case l.kick <- struct{}{}:
	default:
	}
	var timeout <-chan time.Time
	if syncWait >= 0 {
		t := time.NewTimer(syncWait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		if !l.synced.Less(end) {
			l.mu.Unlock()
			return first, end, true, nil
		}
		if l.err != nil {
			err := l.err
			l.mu.Unlock()
			return Pos{}, Pos{}, false, err
		}
		ch := l.syncedCh
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			return first, end, false, nil
		case <-ctx.Done():
			if syncWait >= 0 {
				return first, end, false, nil // written; AppendWithin does not wait
			}
			return Pos{}, Pos{}, false, ctx.Err()
		}
		l.mu.Lock()
	}
}

// writeLocked checks the limits and writes the records to the current
// segment, rolling as needed. On an error nothing is left written.
func (l *Log) writeLocked(payloads [][]byte, sums []uint32, need int64) (first, end Pos, err error) {
	if l.closed {
		return Pos{}, Pos{}, ErrClosed
	}
	if l.err != nil {
		return Pos{}, Pos{}, l.err
	}
	if l.total+need > l.opts.MaxBytes {
		if err := l.rollReleasedLocked(); err != nil {
			return Pos{}, Pos{}, err
		}
		if l.total+need > l.opts.MaxBytes {
			return Pos{}, Pos{}, ErrFull
		}
	}
	start := l.written
	first = start
	for i, p := range payloads {
		if l.written.Off >= l.opts.SegmentSize {
			if err := l.flushLocked(); err != nil {
				return Pos{}, Pos{}, l.undoLocked(start, err)
			}
			if err := l.rollLocked(); err != nil {
				return Pos{}, Pos{}, l.undoLocked(start, err)
			}
		}
		if i == 0 {
			first = l.written
		}
		var h [headerSize]byte
		putHeader(h[:], len(p), sums[i])
		if len(l.wbuf)+headerSize > cap(l.wbuf) {
			if err := l.flushLocked(); err != nil {
				return Pos{}, Pos{}, l.undoLocked(start, err)
			}
		}
		l.wbuf = append(l.wbuf, h[:]...)
		if len(l.wbuf)+len(p) <= cap(l.wbuf) {
			l.wbuf = append(l.wbuf, p...)
		} else {
			if err := l.flushLocked(); err != nil {
				return Pos{}, Pos{}, l.undoLocked(start, err)
			}
			if _, err := l.f.Write(p); err != nil {
				return Pos{}, Pos{}, l.undoLocked(start, fmt.Errorf("write segment: %w", err))
			}
		}
		n := headerSize + int64(len(p))
		l.written.Off += n
		l.segs[len(l.segs)-1].size += n
		l.total += n
	}
	if err := l.flushLocked(); err != nil {
		return Pos{}, Pos{}, l.undoLocked(start, err)
	}
	l.appends++
	l.records += uint64(len(payloads))
	if len(payloads) == 0 {
		first = l.written
	}
	return first, l.written, nil
}

// flushLocked writes the coalescing buffer to the current segment.
func (l *Log) flushLocked() error {
	if len(l.wbuf) == 0 {
		return nil
	}
	_, err := l.f.Write(l.wbuf)
	l.wbuf = l.wbuf[:0]
	if err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	return nil
}

// undoLocked takes the current segment back to start after a failed
// write, so nothing of the Append stays. If that is impossible (the
// Append rolled, or truncation fails) the error becomes sticky.
func (l *Log) undoLocked(start Pos, err error) error {
	l.wbuf = l.wbuf[:0]
	cur := &l.segs[len(l.segs)-1]
	if cur.seq == start.Seg {
		if terr := l.f.Truncate(start.Off); terr == nil {
			if _, serr := l.f.Seek(start.Off, 0); serr == nil {
				l.total -= cur.size - start.Off
				cur.size = start.Off
				l.written = start
				return err
			}
		}
	}
	l.failLocked(err)
	return err
}

// failLocked makes err sticky and wakes every waiter.
func (l *Log) failLocked(err error) {
	if l.err == nil {
		l.err = err
	}
	l.broadcastLocked()
}

// broadcastLocked wakes every Append and Reader waiting on syncedCh.
func (l *Log) broadcastLocked() {
	close(l.syncedCh)
	l.syncedCh = make(chan struct{})
}

// rollLocked makes the current segment durable and starts the next one.
// Syncing before creating the next segment is what lets Open treat any bad
// record in a non-last segment as corruption. Rolls are rare (one per
// SegmentSize bytes), so this one fsync under the mutex is cheap overall.
func (l *Log) rollLocked() error {
	if !l.opts.NoSync {
		if err := l.f.Sync(); err != nil {
			err = fmt.Errorf("sync segment: %w", err)
			l.failLocked(err)
			return err
		}
		l.syncs++
	}
	seq := l.written.Seg + 1
	f, err := l.create(seq)
	if err != nil {
		return err
	}
	l.retired = append(l.retired, l.f)
	l.f = f
	l.segs = append(l.segs, segment{seq: seq})
	l.written = Pos{Seg: seq}
	l.dirDirty = true
	return nil
}

// rollReleasedLocked handles a full log whose current segment has been
// released entirely: it rolls and deletes the old segment, which Release
// could not do because it was current.
func (l *Log) rollReleasedLocked() error {
	if l.written.Off == 0 || l.released.Less(l.written) || l.synced.Less(l.written) {
		return nil
	}
	if err := l.rollLocked(); err != nil {
		return err
	}
	return l.removeLocked(l.released)
}

// removeLocked deletes the segments that end at or before p, except the
// current one. It is called only from the rare full-log path; Release
// deletes files outside the mutex.
func (l *Log) removeLocked(p Pos) error {
	victims := l.takeReleasedLocked(p)
	return l.removeFiles(victims)
}

// takeReleasedLocked removes from segs the segments that end at or before
// p, except the current one, and returns them.
func (l *Log) takeReleasedLocked(p Pos) []segment {
	k := 0
	for k < len(l.segs)-1 && !p.Less(Pos{Seg: l.segs[k].seq, Off: l.segs[k].size}) {
		l.total -= l.segs[k].size
		k++
	}
	victims := slices.Clone(l.segs[:k])
	l.segs = slices.Delete(l.segs, 0, k)
	return victims
}

// removeFiles deletes the files of the given segments and fsyncs the
// directory.
func (l *Log) removeFiles(victims []segment) error {
	if len(victims) == 0 {
		return nil
	}
	// Unlinking a large file frees all its blocks in one journal
	// transaction, and the file system stalls the current segment's fsync
	// (and so every Append) for as long: 25 to 120 ms for 64 MiB on ext4.
	// So a released segment is renamed out of the sequence (cheap), and a
	// background reaper shrinks it a little at a time before unlinking it.
	// Open deletes trash left by a crash.
	var errs []error
	var trash []string
	for _, s := range victims {
		p := l.path(s.seq)
		if err := os.Rename(p, p+trashExt); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove segment: %w", err))
			}
			continue
		}
		trash = append(trash, p+trashExt)
	}
	if err := l.syncDir(); err != nil {
		errs = append(errs, err)
	}
	for _, t := range trash {
		select {
		case l.trash <- t:
		default:
			// The reaper is far behind: remove it here, stall and all.
			if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove segment: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// trashExt marks a released segment waiting for the reaper.
const trashExt = ".trash"

// reapStep is how much of a released segment the reaper frees at a time.
const reapStep = 4 << 20

// reapLoop shrinks and deletes released segments, one step at a time,
// until stop is closed.
func (l *Log) reapLoop() {
	for {
		select {
		case <-l.stop:
			return
		case path := <-l.trash:
			reap(path, l.stop)
		}
	}
}

// reap shrinks the file at path by reapStep at a time, pausing between
// steps, then unlinks it. When stop closes it leaves the rest for Open.
func reap(path string, stop <-chan struct{}) {
	fi, err := os.Stat(path)
	if err != nil {
		return
	}
	for size := fi.Size(); size > reapStep; {
		size -= reapStep
		if os.Truncate(path, size) != nil {
			break
		}
		select {
		case <-stop:
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
	os.Remove(path)
}

// removeTrash deletes released segments a crash left behind.
func removeTrash(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segExt+trashExt) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Release tells the log that records before p are no longer needed. Whole
// segments that end at or before p are deleted; the current segment never
// is (but if the log is full and the current segment is released
// entirely, the next Append rolls and deletes it).
func (l *Log) Release(p Pos) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.released.Less(p) {
		l.released = p
	}
	victims := l.takeReleasedLocked(p)
	l.mu.Unlock()
	if err := l.removeFiles(victims); err != nil {
		return fmt.Errorf("release %v: %w", p, err)
	}
	return nil
}

// syncLoop is the syncer goroutine: it fsyncs the current segment whenever
// records were written past the durable end, then wakes the waiters. Each
// round covers every write made before it started.
func (l *Log) syncLoop() {
	for {
		select {
		case <-l.kick:
		case <-l.stop:
			// Records written by AppendWithin may not be durable yet.
			for l.syncOnce() {
			}
			return
		}
		for l.syncOnce() {
		}
	}
}

// syncOnce runs one fsync round and reports whether there was work.
func (l *Log) syncOnce() bool {
	l.mu.Lock()
	if !l.synced.Less(l.written) || l.err != nil {
		l.mu.Unlock()
		return false
	}
	target := l.written
	f := l.f
	dirty := l.dirDirty
	l.dirDirty = false
	retired := l.retired
	l.retired = nil
	l.mu.Unlock()

	var err error
	if dirty {
		err = l.syncDir()
	}
	if err == nil && !l.opts.NoSync {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync segment: %w", err)
		}
	}
	// Retired segments were synced by the roll; no write uses them now.
	for _, r := range retired {
		r.Close()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// After a failed fsync the page cache cannot be trusted; stop.
		l.failLocked(err)
		return false
	}
	l.synced = target
	l.syncs++
	l.broadcastLocked()
	return true
}

// Stats returns a snapshot of the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{
		Bytes:     l.total,
		Segments:  len(l.segs),
		First:     Pos{Seg: l.segs[0].seq},
		End:       l.synced,
		Appends:   l.appends,
		Records:   l.records,
		Syncs:     l.syncs,
		TornBytes: l.tornBytes,
	}
}

// Close waits for in-flight Appends, stops the syncer and closes the
// files. Later Appends return ErrClosed; Readers return the remaining
// durable records, then ErrClosed. Close is idempotent; every call returns
// the first call's result.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.inflight.Wait()
		close(l.stop)
		l.syncerWG.Wait()

		l.mu.Lock()
		defer l.mu.Unlock()
		var errs []error
		for _, r := range l.retired {
			errs = append(errs, r.Close())
		}
		l.retired = nil
		errs = append(errs, l.f.Close(), l.dir.Close())
		l.broadcastLocked()
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("close wal: %w", err)
		}
	})
	return l.closeErr
}
