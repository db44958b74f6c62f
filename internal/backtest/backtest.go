// Package backtest evaluates rules against the raw audit events kept in
// the store (store.keep_events): what would these rules have raised over
// the last day? It reads and evaluates; it writes nothing and alerts no
// one.
//
// The store answers newest first (store.EventStore.QueryEvents), while
// stateful rules need event-time order. Run therefore reads the time range
// in windows (an hour by default), each read whole, reversed, and
// evaluated before the next, so that memory holds one window. A window
// holding more than Options.MaxWindowEvents events is read again in
// halves, so that a burst cannot exhaust memory either.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/stateful"
	"github.com/vigilsec/vigil/internal/store"
)

// Options select the events and bound the work.
type Options struct {
	Since, Until    time.Time       // event time range, [Since, Until); both required
	Clusters        []string        // only these clusters; empty: all
	Window          time.Duration   // events read per window; 0 = DefaultWindow
	MaxWindowEvents int             // a window with more events is split; 0 = DefaultMaxWindowEvents
	PageSize        int             // events per query; 0 = store.MaxLimit
	MaxDepth        int             // JSON nesting accepted in one event; 0 = audit.DefaultMaxDepth
	Locator         audit.Locator   // backs ka.source.*; nil leaves them missing
	Limits          stateful.Limits // state bounds of stateful rules
}

// Defaults for zero Options fields.
const (
	DefaultWindow          = time.Hour
	DefaultMaxWindowEvents = 500_000
)

// Result sums up a run.
type Result struct {
	Events  int64          // events evaluated
	Skipped int64          // stored events that could not be parsed
	Alerts  int64          // alerts raised
	PerRule map[string]int // alerts per rule
	Windows int            // windows read (splits included)
}

// errTooMany aborts a window that holds too many events.
var errTooMany = errors.New("window too large")

// Run evaluates p over the events of es that opts selects, in event-time
// order (ties in the order they were stored), stateful rules included, and
// calls fn for every alert in that order.
func Run(ctx context.Context, es store.EventStore, p *engine.Program, opts Options, fn func(*alert.Alert)) (Result, error) {
	if opts.Since.IsZero() || opts.Until.IsZero() || !opts.Since.Before(opts.Until) {
		return Result{}, fmt.Errorf("backtest: empty time range %s to %s", opts.Since.Format(time.RFC3339), opts.Until.Format(time.RFC3339))
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.MaxWindowEvents <= 0 {
		opts.MaxWindowEvents = DefaultMaxWindowEvents
	}
	if opts.PageSize <= 0 {
		opts.PageSize = store.MaxLimit
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = audit.DefaultMaxDepth
	}
	r := &runner{es: es, p: p, opts: opts, st: p.NewState(), table: stateful.New(opts.Limits), fn: fn,
		res: Result{PerRule: map[string]int{}}}
	for from := opts.Since; from.Before(opts.Until); {
		to := from.Add(opts.Window)
		if to.After(opts.Until) {
			to = opts.Until
		}
		if err := r.window(ctx, from, to); err != nil {
			return r.res, err
		}
		from = to
	}
	return r.res, nil
}

type runner struct {
	es    store.EventStore
	p     *engine.Program
	opts  Options
	st    *engine.State
	table *stateful.Table
	fn    func(*alert.Alert)
	res   Result
	buf   []store.Event // the current window, newest first; reused
}

// window reads [from, to) whole and evaluates it oldest first; a window
// with too many events is done as two halves.
func (r *runner) window(ctx context.Context, from, to time.Time) error {
	err := r.read(ctx, from, to)
	if errors.Is(err, errTooMany) {
		half := from.Add(to.Sub(from) / 2)
		if !half.After(from) {
			return fmt.Errorf("backtest: more than %d events at %s", r.opts.MaxWindowEvents, from.Format(time.RFC3339Nano))
		}
		if err := r.window(ctx, from, half); err != nil {
			return err
		}
		return r.window(ctx, half, to)
	}
	if err != nil {
		return err
	}
	r.res.Windows++
	slices.Reverse(r.buf)
	// The store orders by event time, then storage order: reversed, ties
	// come in storage order. Sort stably in case an implementation breaks
	// ties otherwise.
	slices.SortStableFunc(r.buf, func(a, b store.Event) int { return a.Time.Compare(b.Time) })
	var ev audit.Event
	for i := range r.buf {
		e := &r.buf[i]
		ev = audit.Event{}
		if err := audit.Parse(&ev, e.Raw, r.opts.MaxDepth); err != nil {
			r.res.Skipped++
			continue
		}
		ev.Cluster, ev.Input, ev.Locator = e.Cluster, "store", r.opts.Locator
		r.res.Events++
		r.table.Eval(r.p, r.st, &ev, func(a *alert.Alert) {
			r.res.Alerts++
			r.res.PerRule[a.Rule]++
			r.fn(a)
		})
	}
	clear(r.buf)
	r.buf = r.buf[:0]
	return ctx.Err()
}

// read fills r.buf with the events of [from, to), newest first.
func (r *runner) read(ctx context.Context, from, to time.Time) error {
	clear(r.buf)
	r.buf = r.buf[:0]
	q := store.EventQuery{Since: from, Until: to, Clusters: r.opts.Clusters, Limit: r.opts.PageSize}
	for {
		page, err := r.es.QueryEvents(ctx, q)
		if err != nil {
			return fmt.Errorf("backtest: query events: %w", err)
		}
		r.buf = append(r.buf, page.Events...)
		if len(r.buf) > r.opts.MaxWindowEvents {
			return errTooMany
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}
