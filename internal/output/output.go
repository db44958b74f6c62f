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
	"sync"
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

// Output is one configured destination.
type Output struct {
	Name        string         // unique; names the cursor and dead-letter files and the metrics
	Sink        Sink           // the destination
	MinPriority alert.Priority // less severe alerts are not sent
}

// Options configure a Dispatcher.
type Options struct {
	Journal    *wal.Log         // the alert journal
	Dir        string           // cursor and dead-letter files
	Outputs    []Output         // destinations
	Metrics    *metrics.Metrics // nil = none
	Logger     *slog.Logger     // nil = discard
	MinBackoff time.Duration    // first retry delay; 0 = 100ms
	MaxBackoff time.Duration    // longest retry delay; 0 = 30s
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
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	d := &Dispatcher{o: o}
	start := o.Journal.Stats().End // a new output starts with new alerts
	for _, out := range o.Outputs {
		w := &worker{d: d, out: out, path: filepath.Join(o.Dir, out.Name+".cursor")}
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
			if err := w.cursor.UnmarshalText(data); err != nil {
				return nil, fmt.Errorf("output %s: cursor file %s: %w", out.Name, w.path, err)
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
	t := time.NewTicker(time.Second)
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
	for _, w := range d.workers {
		for w.pos().Less(target) {
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

func (w *worker) run(ctx context.Context) {
	r := w.d.o.Journal.NewReader(w.pos())
	defer r.Close()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		rec, err := r.Next(rctx)
		cancel()
		if err != nil {
			if w.pos() != w.saved {
				w.save()
			}
			if ctx.Err() != nil || errors.Is(err, wal.ErrClosed) {
				return
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			w.d.o.Logger.Error("read alert journal", "output", w.out.Name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		jr, err := journal.Unmarshal(rec.Data)
		if err != nil {
			w.d.o.Logger.Error("alert journal record unreadable; skipped", "output", w.out.Name, "pos", rec.Pos.String(), "err", err)
			if m := w.d.o.Metrics; m != nil {
				m.OutputDropped.WithLabelValues(w.out.Name, "unreadable_record").Inc()
			}
		} else if !w.deliver(ctx, jr) {
			return // ctx done: the record is delivered again next time
		}
		w.mu.Lock()
		w.cursor = rec.Next
		w.mu.Unlock()
		// Saved after every delivery (a rename, no fsync): after a crash,
		// only the batch in flight is delivered again.
		if err := w.save(); err != nil {
			w.d.o.Logger.Warn("save output cursor", "output", w.out.Name, "err", err)
		}
	}
}

// deliver sends the record's alerts that pass the filter. It returns false
// only when ctx is done before they were delivered.
func (w *worker) deliver(ctx context.Context, jr *journal.Record) bool {
	var batch []*journal.Alert
	for i := range jr.Alerts {
		if jr.Alerts[i].Alert.Priority.AtLeast(w.out.MinPriority) {
			batch = append(batch, &jr.Alerts[i])
		}
	}
	if len(batch) == 0 {
		return true
	}
	m := w.d.o.Metrics
	backoff := w.d.o.MinBackoff
	for attempt := 1; ; attempt++ {
		err := w.out.Sink.Send(ctx, batch)
		if err == nil {
			if m != nil {
				m.OutputSent.WithLabelValues(w.out.Name).Add(float64(len(batch)))
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if IsPermanent(err) {
			if m != nil {
				m.OutputFailed.WithLabelValues(w.out.Name, "permanent").Inc()
				m.OutputDropped.WithLabelValues(w.out.Name, "permanent_error").Add(float64(len(batch)))
			}
			w.d.o.Logger.Error("output failed permanently; alerts written to the dead-letter file",
				"output", w.out.Name, "alerts", len(batch), "err", err)
			w.deadLetter(batch, err)
			return true
		}
		if m != nil {
			m.OutputFailed.WithLabelValues(w.out.Name, "retryable").Inc()
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
		select {
		case <-ctx.Done():
			return false
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, w.d.o.MaxBackoff)
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

func (w *worker) save() error {
	p := w.pos()
	text, _ := p.MarshalText()
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
