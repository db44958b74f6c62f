// Package output delivers journalled alerts to their destinations.
//
// Each destination is a Sink: it sends one batch and says, by wrapping the
// error with Permanent, when retrying cannot help. Everything else is
// shared and lives in the Dispatcher: one reader per output over the alert
// journal, with its own persisted cursor, so that an output that is down
// loses nothing (the journal is the spool, across restarts too) and holds
// back no other output; retry with exponential backoff and jitter; a
// dead-letter file for permanent failures; per-output priority filtering;
// metrics. Delivery is at least once: after a crash, an output may get the
// alerts of its last unconfirmed batch again.
package output

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/wal"
)

// Sink sends alerts to one destination.
type Sink interface {
	// Send delivers the batch, or returns an error; wrap it with
	// Permanent when sending the same batch again cannot succeed.
	Send(ctx context.Context, alerts []*journal.Alert) error
	// Close releases the sink's resources.
	Close() error
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Output is one configured destination and what it lets through.
type Output struct {
	Name        string         // unique; names the cursor and dead-letter files and the metrics
	Sink        Sink           // the destination
	MinPriority alert.Priority // less severe alerts are not sent
	Filter      Filter         // rules and tags
	// RedactFields are output fields whose values are replaced by
	// "<redacted>", in the fields and in the message.
	RedactFields []string
	Throttle     Throttle
	MaxBatch     int           // most alerts per Send; 0 = 100
	MaxWait      time.Duration // how long to wait for more alerts to fill a batch; 0 = send what is there
	Timeout      time.Duration // one Send attempt; 0 = 10s
	MaxBackoff   time.Duration // longest wait between attempts; 0 = the Dispatcher's
}

// Options configure a Dispatcher.
type Options struct {
	Journal      *wal.Log         // the alert journal
	JournalSeg   int64            // the journal's segment size, for the backlog estimate; 0 = 32 MiB
	Dir          string           // cursor and dead-letter files
	Outputs      []Output         // destinations
	Metrics      *metrics.Metrics // nil = none
	Logger       *slog.Logger     // nil = discard
	MinBackoff   time.Duration    // first retry delay; 0 = 100ms
	MaxBackoff   time.Duration    // longest retry delay; 0 = 30s
	Now          func() time.Time // nil = time.Now
	IdleInterval time.Duration    // housekeeping (throttle summaries, gauges, journal release); 0 = 1s
	// SpoolLimit bounds the journal bytes the outputs may hold back. Past
	// it, the outputs furthest behind skip the oldest journal segment:
	// those alerts are counted as dropped (spool_full) and logged, so that
	// an output down for good never stops evaluation. 0 = no bound (the
	// evaluator then waits for the outputs).
	SpoolLimit int64
}

// Dispatcher runs one delivery loop per output.
type Dispatcher struct {
	o       Options
	workers []*worker
}

type worker struct {
	d      *Dispatcher
	out    Output
	path   string // cursor file
	mu     sync.Mutex
	cursor wal.Pos // position after the last delivered record
	saved  wal.Pos
	thr    *throttler
	batch  []*journal.Alert
	skipTo atomic.Pointer[wal.Pos] // set by the dispatcher when the spool is full
	// closeWindows asks the worker to close its throttle windows and send
	// their summaries (Drain, before a stop).
	closeWindows atomic.Bool
	// skipDropped counts alerts of batches given up because of skipTo.
	skipDropped int
	// sentInBatch counts the alerts, read from the records after cursor,
	// already sent in the chunks of a batch still in progress; it is saved
	// with the cursor. resumeSkip is that count read back at start: so
	// many alerts that pass the filters are skipped before sending again.
	sentInBatch, resumeSkip int
}

// New reads the outputs' cursors.
func New(o Options) (*Dispatcher, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleInterval <= 0 {
		o.IdleInterval = time.Second
	}
	if o.JournalSeg <= 0 {
		o.JournalSeg = 32 << 20
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	d := &Dispatcher{o: o}
	start := o.Journal.Stats().End // a new output starts with new alerts
	for _, out := range o.Outputs {
		if out.MaxBatch <= 0 {
			out.MaxBatch = 100
		}
		if out.Timeout <= 0 {
			out.Timeout = 10 * time.Second
		}
		if out.MaxBackoff <= 0 {
			out.MaxBackoff = o.MaxBackoff
		}
		w := &worker{d: d, out: out, path: filepath.Join(o.Dir, out.Name+".cursor")}
		if out.Throttle.Window > 0 {
			w.thr = newThrottler(out.Throttle)
		}
		data, err := os.ReadFile(w.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			w.cursor = start
			if err := w.save(); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, fmt.Errorf("output %s: %w", out.Name, err)
		default:
			text, sent, _ := strings.Cut(string(data), "+")
			if n, err := strconv.Atoi(sent); err == nil && n > 0 {
				w.resumeSkip = n
			}
			if err := w.cursor.UnmarshalText([]byte(text)); err != nil {
				// A power loss can leave it empty. Starting over from the
				// oldest retained alert repeats some; skipping would lose some.
				o.Logger.Warn("output cursor unreadable; delivering again from the oldest retained alert",
					"output", out.Name, "file", w.path, "err", err)
				w.cursor = wal.Pos{}
			}
		}
		w.saved = w.cursor
		d.workers = append(d.workers, w)
	}
	return d, nil
}

// Run delivers until ctx is done. It releases journal segments every
// output has delivered.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	t := time.NewTicker(d.o.IdleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			d.release()
			return
		case <-t.C:
			d.release()
		}
	}
}

// Drain waits until every output has delivered what the journal held at
// the call, or ctx is done.
func (d *Dispatcher) Drain(ctx context.Context) error {
	target := d.o.Journal.Stats().End
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	// Throttle windows still open are closed: their summaries go out now,
	// since a restart would forget them.
	for _, w := range d.workers {
		if w.thr != nil {
			w.closeWindows.Store(true)
		}
	}
	for _, w := range d.workers {
		for w.pos().Less(target) && w.pending() || w.closeWindows.Load() {
			select {
			case <-ctx.Done():
				return fmt.Errorf("output %s: %w", w.out.Name, ctx.Err())
			case <-t.C:
			}
		}
	}
	return nil
}

// Close closes the sinks.
func (d *Dispatcher) Close() error {
	var errs []error
	for _, w := range d.workers {
		if err := w.save(); err != nil {
			errs = append(errs, err)
		}
		if err := w.out.Sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", w.out.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (d *Dispatcher) release() {
	if len(d.workers) == 0 {
		d.o.Journal.Release(d.o.Journal.Stats().End)
		return
	}
	if st := d.o.Journal.Stats(); d.o.SpoolLimit > 0 && st.Bytes > d.o.SpoolLimit {
		// Free the oldest segments, down to three quarters of the limit:
		// the outputs still in them skip them.
		n := (st.Bytes-d.o.SpoolLimit*3/4)/d.o.JournalSeg + 1
		target := wal.Pos{Seg: st.First.Seg + uint64(n)}
		if end := d.o.Journal.Stats().End; end.Less(target) {
			target = end
		}
		for _, w := range d.workers {
			if w.pos().Less(target) {
				if old := w.skipTo.Load(); old == nil || old.Less(target) {
					w.skipTo.Store(&target)
				}
			}
		}
	}
	low := d.workers[0].pos()
	for _, w := range d.workers[1:] {
		if p := w.pos(); p.Less(low) {
			low = p
		}
	}
	if err := d.o.Journal.Release(low); err != nil && !errors.Is(err, wal.ErrClosed) {
		d.o.Logger.Warn("release alert journal", "err", err)
	}
}

func (w *worker) pos() wal.Pos {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cursor
}

// pending reports whether the journal holds a record after the cursor.
func (w *worker) pending() bool {
	r := w.d.o.Journal.NewReader(w.pos())
	defer r.Close()
	_, err := r.Next(nonBlocking)
	return !errors.Is(err, context.Canceled)
}

// nonBlocking makes a Reader's Next return context.Canceled at once when
// no record is there.
var nonBlocking = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// run is the output's loop: read journal records, keep what passes the
// filters, send in batches, move the cursor past what was sent.
func (w *worker) run(ctx context.Context) {
	r := w.d.o.Journal.NewReader(w.pos())
	defer r.Close()
	defer w.gauges()
	var last wal.Pos // after the last record read
	read := false    // records read since the last flush
	var lingerUntil time.Time
	for {
		if skip := w.skipTo.Load(); skip != nil {
			w.skip(*skip)
			r.Close()
			r = w.d.o.Journal.NewReader(w.pos())
			read, lingerUntil = false, time.Time{}
		}
		var rctx context.Context = nonBlocking
		var cancel context.CancelFunc = func() {}
		switch {
		case len(w.batch) > 0 && w.out.MaxWait > 0:
			if lingerUntil.IsZero() {
				lingerUntil = time.Now().Add(w.out.MaxWait)
			}
			rctx, cancel = context.WithDeadline(ctx, lingerUntil)
		case len(w.batch) == 0 && !read:
			rctx, cancel = context.WithTimeout(ctx, w.d.o.IdleInterval)
		}
		rec, err := r.Next(rctx)
		cancel()
		if err == nil {
			jr, derr := journal.Unmarshal(rec.Data)
			if derr != nil {
				w.d.o.Logger.Error("alert journal record unreadable; skipped", "output", w.out.Name, "pos", rec.Pos.String(), "err", derr)
				if m := w.d.o.Metrics; m != nil {
					m.OutputDropped.WithLabelValues(w.out.Name, "unreadable_record").Inc()
				}
			} else {
				for i := range jr.Alerts {
					w.accept(&jr.Alerts[i])
				}
			}
			last, read = rec.Next, true
			if len(w.batch) < w.out.MaxBatch {
				continue
			}
		} else if ctx.Err() != nil || errors.Is(err, wal.ErrClosed) {
			w.saveQuiet()
			return
		} else if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			w.d.o.Logger.Error("read alert journal", "output", w.out.Name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		// A full batch, or nothing more to read now: housekeeping, then send.
		closing := w.closeWindows.Load()
		if w.thr != nil {
			now := w.d.o.Now()
			if closing {
				now = now.Add(w.out.Throttle.Window + time.Hour) // close every window
			}
			w.batch = append(w.batch, w.thr.sweep(now, w.out.Name, w.d.o.Metrics)...)
		}
		for len(w.batch) > 0 {
			n := min(len(w.batch), w.out.MaxBatch)
			chunk := w.batch[:n]
			if !w.deliver(ctx, chunk) {
				w.saveQuiet()
				return // ctx done: these records are read again next time
			}
			w.batch = w.batch[n:]
			if len(w.batch) > 0 && read {
				// More chunks to go (a record with more alerts than
				// max_batch): remember how many of the records' alerts
				// were sent, so that a restart does not send them again.
				for _, a := range chunk {
					if !a.Summary() {
						w.sentInBatch++
					}
				}
				w.forceSave()
			}
		}
		w.batch = nil
		lingerUntil = time.Time{}
		if read {
			w.mu.Lock()
			w.cursor, w.sentInBatch = last, 0
			w.mu.Unlock()
			read = false
			// Saved after every delivery (a rename, no fsync): after a
			// crash, only the batch in flight is delivered again.
			w.saveQuiet()
		}
		if closing {
			w.closeWindows.Store(false)
		}
		w.gauges()
	}
}

// skip moves the cursor to target, past alerts it will never send: the
// batch in hand and the journal records before target. Each is counted
// as dropped (spool_full) and the whole is logged once.
func (w *worker) skip(target wal.Pos) {
	defer w.skipTo.Store(nil)
	dropped := len(w.batch) + w.skipDropped
	w.batch, w.skipDropped, w.resumeSkip = nil, 0, 0
	w.mu.Lock()
	w.sentInBatch = 0
	w.mu.Unlock()
	from := w.pos()
	if from.Less(target) {
		r := w.d.o.Journal.NewReader(from)
		for {
			rec, err := r.Next(nonBlocking)
			if err != nil || !rec.Pos.Less(target) {
				break
			}
			if jr, err := journal.Unmarshal(rec.Data); err == nil {
				dropped += len(jr.Alerts)
			}
		}
		r.Close()
		w.mu.Lock()
		w.cursor = target
		w.mu.Unlock()
		w.saveQuiet()
	}
	if m := w.d.o.Metrics; m != nil {
		m.OutputDropped.WithLabelValues(w.out.Name, "spool_full").Add(float64(dropped))
	}
	w.d.o.Logger.Warn("output too far behind: the alert journal is at its bound, so its oldest alerts are dropped for this output",
		"output", w.out.Name, "dropped", dropped, "spool_limit", w.d.o.SpoolLimit)
}

// accept filters, throttles and redacts one alert into the batch.
func (w *worker) accept(a *journal.Alert) {
	m := w.d.o.Metrics
	if !a.Alert.Priority.AtLeast(w.out.MinPriority) || !w.out.Filter.Match(&a.Alert) {
		if m != nil {
			m.OutputFiltered.WithLabelValues(w.out.Name).Inc()
		}
		return
	}
	if w.thr != nil {
		send, closed := w.thr.admit(a, w.d.o.Now())
		if closed != nil {
			w.batch = append(w.batch, closed)
		}
		if !send {
			if m != nil {
				m.OutputThrottled.WithLabelValues(w.out.Name).Inc()
			}
			return
		}
	}
	if w.resumeSkip > 0 {
		w.resumeSkip-- // sent before a restart, with part of its batch
		return
	}
	if len(w.out.RedactFields) > 0 {
		redactFields(&a.Alert, w.out.RedactFields)
		// The event holds the same values; sinks that describe alerts
		// from it (chat) then use the redacted fields only.
		a.Event = nil
	}
	w.batch = append(w.batch, a)
}

func (w *worker) gauges() {
	m := w.d.o.Metrics
	if m == nil {
		return
	}
	m.OutputQueued.WithLabelValues(w.out.Name).Set(float64(len(w.batch)))
	end, cur := w.d.o.Journal.Stats().End, w.pos()
	var backlog int64
	switch {
	case !cur.Less(end):
	case cur.Seg == end.Seg:
		backlog = end.Off - cur.Off
	default:
		backlog = int64(end.Seg-cur.Seg-1)*w.d.o.JournalSeg + end.Off + max(w.d.o.JournalSeg-cur.Off, 0)
	}
	m.OutputBacklog.WithLabelValues(w.out.Name).Set(float64(backlog))
}

// forceSave saves even if the position did not move.
func (w *worker) forceSave() {
	if err := w.save(); err != nil {
		w.d.o.Logger.Warn("save output cursor", "output", w.out.Name, "err", err)
	}
}

func (w *worker) saveQuiet() {
	if w.pos() == w.saved {
		return
	}
	if err := w.save(); err != nil {
		w.d.o.Logger.Warn("save output cursor", "output", w.out.Name, "err", err)
	}
}

// deliver sends a batch, retrying until it is delivered or refused for
// good. It returns false only when ctx is done first.
func (w *worker) deliver(ctx context.Context, batch []*journal.Alert) bool {
	m := w.d.o.Metrics
	backoff := w.d.o.MinBackoff
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, w.out.Timeout)
		err := w.out.Sink.Send(sctx, batch)
		cancel()
		if err == nil {
			if m != nil {
				m.OutputSent.WithLabelValues(w.out.Name).Add(float64(len(batch)))
			}
			if attempt > 1 {
				w.d.o.Logger.Info("output delivered after retries", "output", w.out.Name, "attempts", attempt)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if w.skipTo.Load() != nil {
			// The spool is full and this output is behind: give up on the
			// batch (w.skip then moves the cursor).
			w.skipDropped += len(batch)
			return true
		}
		if IsPermanent(err) {
			dead := refusedAlerts(err, batch)
			if m != nil {
				m.OutputFailed.WithLabelValues(w.out.Name, "permanent").Inc()
				m.OutputDropped.WithLabelValues(w.out.Name, "permanent_error").Add(float64(len(dead)))
				if delivered := len(batch) - len(dead); delivered > 0 {
					m.OutputSent.WithLabelValues(w.out.Name).Add(float64(delivered))
				}
			}
			w.d.o.Logger.Error("output refused alerts for good; they are in the dead-letter file",
				"output", w.out.Name, "alerts", len(dead), "of", len(batch), "err", err)
			w.deadLetter(dead, err)
			return true
		}
		if m != nil {
			m.OutputFailed.WithLabelValues(w.out.Name, "retryable").Inc()
			m.OutputRetried.WithLabelValues(w.out.Name).Inc()
		}
		if attempt == 1 || attempt%10 == 0 {
			w.d.o.Logger.Warn("output failed; retrying", "output", w.out.Name, "attempt", attempt, "err", err)
		}
		// Jitter keeps many Vigils from retrying in step; a destination's
		// Retry-After is a floor.
		sleep := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		if d, ok := RetryDelay(err); ok && d > sleep {
			sleep = d
		}
		w.gauges()
		select {
		case <-ctx.Done():
			return false
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, w.out.MaxBackoff)
	}
}

// deadLetter appends alerts that could not be delivered to
// <dir>/<name>.dead.jsonl, one JSON object per line with the error.
func (w *worker) deadLetter(batch []*journal.Alert, cause error) {
	path := filepath.Join(w.d.o.Dir, w.out.Name+".dead.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		w.d.o.Logger.Error("dead-letter file", "output", w.out.Name, "err", err)
		return
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, a := range batch {
		enc.Encode(struct {
			Error string         `json:"error"`
			Alert *journal.Alert `json:"alert"`
		}{cause.Error(), a})
	}
}

// save writes the cursor with a rename, without fsync: it is saved after
// every delivery, and New reads a cursor lost by a power loss as "from the
// oldest retained alert".
func (w *worker) save() error {
	w.mu.Lock()
	p, sent := w.cursor, w.sentInBatch
	w.mu.Unlock()
	text, _ := p.MarshalText()
	if sent > 0 {
		text = fmt.Appendf(text, "+%d", sent)
	}
	tmp := w.path + ".tmp"
	if err := os.WriteFile(tmp, text, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, w.path); err != nil {
		return err
	}
	w.saved = p
	return nil
}
