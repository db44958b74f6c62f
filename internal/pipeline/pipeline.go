// Package pipeline is Vigil's evaluator: it reads accepted batches from the
// event log in order, drops events already evaluated (the API server
// resends a batch it got no answer for), evaluates the rest against the
// running rules, and appends their alerts to the alert journal.
//
// Exactly once: a journal record carries the position of the event-log
// record its alerts came from, and a checkpoint file the position reached.
// At start the evaluator resumes after the later of the two, and rebuilds
// its dedup set from the retained log before that point. A crash at any
// moment therefore neither loses nor repeats an alert.
//
// Stateful rules. Workers only find the hits of stateful rules (see
// package stateful); the commit step applies them to the state in log
// order and renders the alerts they raise, so results never depend on
// scheduling. The state is saved next to the checkpoint, tagged with the
// log position it includes everything before (stateful.snapshot). At start
// the evaluator loads it and re-applies, without alerting, the records
// between that position and the resume position; records before the saved
// position never touch the state again. The log is released no further
// than the saved position, so those records are still there.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/rawjson"
	"github.com/vigilsec/vigil/internal/stateful"
	"github.com/vigilsec/vigil/internal/wal"
)

// Options configure an Evaluator.
type Options struct {
	Log         *wal.Log               // accepted batches (see package batch)
	LogMaxBytes int64                  // the event log's bound; past half of it, evaluated records are released at once
	Journal     *wal.Log               // where alerts go (see package journal)
	Dir         string                 // holds the checkpoint file
	Program     func() *engine.Program // the running rules; called once per batch
	MaxDepth    int                    // per-event nesting limit
	DedupKeys   int                    // auditID+stage pairs remembered; 0 disables dedup
	DedupWindow time.Duration          // how long a pair is remembered
	Metrics     *metrics.Metrics       // nil = none
	Logger      *slog.Logger           // nil = discard
	Checkpoint  time.Duration          // how often the checkpoint is written; 0 = 1s
	Workers     int                    // parallel evaluation; 0 = GOMAXPROCS
	OnAlerts    func(*journal.Record)  // called after each journal append (tests, the store)
	Now         func() time.Time       // nil = time.Now
	// OnEvents, when set, receives each record's events that were
	// evaluated (not the resent duplicates), in log order, with the
	// cluster and capture they came with. The byte slices are valid only
	// during the call, which must not block: keep a copy.
	OnEvents func(cluster, capture string, events [][]byte)
	// Enricher, when set, backs the ka.source.* fields (it is every
	// event's Locator) and fills each alert's Where; nil leaves those
	// fields missing and Where empty.
	Enricher *enrich.Enricher
	// StateLimits bound the memory of stateful rules; zero values take
	// the stateful package's defaults.
	StateLimits stateful.Limits
}

// Evaluator evaluates the event log. Create it with New, then call Run.
type Evaluator struct {
	o        Options
	instance string // this data directory's ID, the prefix of alert IDs
	dedup    *dedup
	resume   wal.Pos // where Run starts

	ev audit.Event // for rebuild

	processed atomic.Pointer[wal.Pos] // position after the last evaluated record
	jend      wal.Pos                 // journal end after the last append
	lastCkpt  wal.Pos

	state    *stateful.Table // stateful rules' state; used by the committer only
	statePos wal.Pos         // the state includes every record before this position
	snapPos  wal.Pos         // the saved state includes every record before this position
	stateSt  *engine.State   // for rendering stateful alerts in the committer
	stateEv  audit.Event

	mu      sync.Mutex
	samples []sample // processed positions by receive time, for releasing the log
	events  atomic.Uint64
	alerts  atomic.Uint64
}

type sample struct {
	pos      wal.Pos
	received int64
}

const (
	checkpointFile = "evaluator.checkpoint"
	stateFile      = "stateful.snapshot"
	instanceFile   = "instance"
)

// instanceID returns the ID in dir/instance, creating it (8 random bytes,
// hex) on the first start: it sets this data directory's alerts apart
// from any other's, past or present, in a store they share.
func instanceID(dir string) (string, error) {
	path := filepath.Join(dir, instanceFile)
	if b, err := os.ReadFile(path); err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) == 16 {
			if _, err := hex.DecodeString(id); err == nil {
				return id, nil
			}
		}
		return "", fmt.Errorf("%s: not an instance ID (16 hex digits); delete it only together with the data directory", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return id, nil
}

type checkpoint struct {
	Log     wal.Pos `json:"log"`     // evaluated up to here
	Journal wal.Pos `json:"journal"` // the journal ended here then
}

// New finds where evaluation resumes and rebuilds the dedup set.
func New(ctx context.Context, o Options) (*Evaluator, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Checkpoint <= 0 {
		o.Checkpoint = time.Second
	}
	e := &Evaluator{o: o, dedup: newDedup(o.DedupKeys, int64(o.DedupWindow))}
	var err0 error
	if e.instance, err0 = instanceID(o.Dir); err0 != nil {
		return nil, fmt.Errorf("instance ID: %w", err0)
	}
	ck, err := readCheckpoint(filepath.Join(o.Dir, checkpointFile))
	if err != nil {
		o.Logger.Warn("evaluator checkpoint unreadable; scanning the whole journal", "err", err)
		ck = checkpoint{}
	}
	resume := ck.Log
	// Journal records after the checkpoint moved evaluation further.
	jr := o.Journal.NewReader(ck.Journal)
	defer jr.Close()
	for {
		rec, err := jr.Next(nonBlocking)
		if errors.Is(err, context.Canceled) {
			break // no more records
		}
		if err != nil {
			return nil, fmt.Errorf("scan alert journal: %w", err)
		}
		r, err := journal.Unmarshal(rec.Data)
		if err != nil {
			return nil, fmt.Errorf("scan alert journal at %v: %w", rec.Pos, err)
		}
		if resume.Less(r.Next) {
			resume = r.Next
		}
	}
	e.resume = resume
	e.jend = o.Journal.Stats().End
	e.lastCkpt = ck.Log
	p := resume
	e.processed.Store(&p)
	e.loadState()
	if err := e.rebuild(ctx); err != nil {
		return nil, err
	}
	keys, _, _ := e.state.Stats()
	o.Logger.Info("evaluator ready", "resume", resume.String(), "dedup_keys", e.dedup.len(), "state_keys", keys)
	return e, nil
}

// loadState loads the saved state of the stateful rules. Without one
// (first start) the state starts empty at the resume position.
func (e *Evaluator) loadState() {
	var pos wal.Pos
	t, err := stateful.Load(filepath.Join(e.o.Dir, stateFile), e.o.StateLimits, &pos)
	switch {
	case err == nil:
		e.state, e.statePos = t, pos
	case stateful.IsNotExist(err):
		e.state, e.statePos = stateful.New(e.o.StateLimits), e.resume
	default:
		e.o.Logger.Warn("stateful rules' state unreadable; starting empty", "err", err)
		e.state, e.statePos = stateful.New(e.o.StateLimits), e.resume
	}
	e.snapPos = e.statePos
}

// rebuild feeds the dedup set with the retained events before the resume
// position, so that a batch resent after a restart is recognised, and
// brings the stateful rules' state from its saved position up to the
// resume position: those records were committed (their alerts are in the
// journal) after the state was last saved.
func (e *Evaluator) rebuild(ctx context.Context) error {
	catchUp := e.statePos.Less(e.resume)
	if e.o.DedupKeys <= 0 && !catchUp {
		return nil
	}
	var prog *engine.Program
	var st *engine.State
	if catchUp && e.o.Program != nil {
		if prog = e.o.Program(); prog != nil && len(prog.Specs()) > 0 {
			st = prog.NewState()
			if e.o.Enricher != nil {
				e.ev.Locator = e.o.Enricher
			}
		} else {
			prog = nil
		}
	}
	defer func() { e.ev.Locator = nil }()
	start := wal.Pos{}
	if e.o.DedupKeys <= 0 {
		start = e.statePos
	}
	replayed := 0
	r := e.o.Log.NewReader(start)
	defer r.Close()
	cutoff := e.o.Now().Add(-e.o.DedupWindow).UnixNano()
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next(nonBlocking)
		if errors.Is(err, context.Canceled) {
			if catchUp {
				e.statePos = e.resume
			}
			return nil // the log ends before the resume position
		}
		if err != nil {
			return fmt.Errorf("rebuild dedup set: %w", err)
		}
		if !rec.Pos.Less(e.resume) {
			if catchUp {
				e.o.Logger.Info("stateful rules' state brought up to date", "records", replayed, "from", e.statePos.String())
				e.statePos = e.resume
			}
			return nil
		}
		// Records after the saved state: what commit did to the state,
		// again (dedup included), without the alerts.
		apply := catchUp && !rec.Pos.Less(e.statePos)
		if apply {
			replayed++
		}
		h, d, b, err := batch.DecodeBuf(rec.Data, buf)
		buf = b
		if err != nil {
			continue // counted when it was evaluated
		}
		if h.Received < cutoff && !apply {
			continue
		}
		for {
			raw, ok, err := d.Next()
			if err != nil || !ok {
				break
			}
			if audit.Parse(&e.ev, raw, e.o.MaxDepth) != nil {
				continue
			}
			dup := false
			if id := e.ev.Top(audit.KeyAuditID); id != nil && e.o.DedupKeys > 0 {
				dup = e.dedup.seen(e.dedup.key(id, e.ev.Top(audit.KeyStage)), h.Received)
			}
			if !apply || dup || prog == nil {
				continue
			}
			e.ev.Cluster = h.Cluster
			prog.Eval(&e.ev, st)
			for _, hit := range prog.Hits(st) {
				e.state.Observe(prog, hit)
			}
		}
	}
}

// nonBlocking makes a log Reader's Next return context.Canceled at once
// instead of waiting for a record.
var nonBlocking = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Processed returns the position after the last evaluated record.
func (e *Evaluator) Processed() wal.Pos { return *e.processed.Load() }

// Counts returns the events evaluated and alerts raised since New.
func (e *Evaluator) Counts() (events, alerts uint64) { return e.events.Load(), e.alerts.Load() }

// Run evaluates records as they become durable until ctx is done, then
// writes a last checkpoint. Use Drain to stop after the records already
// logged.
//
// Records are evaluated by Workers goroutines in parallel, and committed
// (dedup, journal, position) by this one, in log order: the journal's
// order is the log's, which is what makes resuming exact.
func (e *Evaluator) Run(ctx context.Context) error {
	workers := e.o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rctx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	jobs := make(chan *job, workers)
	order := make(chan *job, 2*workers)
	readErr := make(chan error, 1)
	go func() {
		defer close(jobs)
		defer close(order)
		readErr <- e.read(rctx, jobs, order)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := &evalWorker{e: e}
			if e.o.Enricher != nil { // a nil *Enricher in the interface would not be a nil Locator
				w.ev.Locator = e.o.Enricher
			}
			for j := range jobs {
				w.eval(j)
				close(j.done)
			}
		})
	}
	defer wg.Wait()
	tick := time.NewTicker(e.o.Checkpoint)
	defer tick.Stop()
	defer e.writeCheckpoint()
	for {
		select {
		case <-tick.C:
			e.writeCheckpoint()
			e.release()
			continue
		case j, ok := <-order:
			if !ok {
				if err := <-readErr; err != nil && ctx.Err() == nil {
					return err
				}
				return nil
			}
			<-j.done
			if j.abandoned {
				e.putBuf(j.data)
				for j := range order {
					<-j.done
				}
				if err := <-readErr; err != nil && ctx.Err() == nil {
					return err
				}
				return nil
			}
			err := e.commit(ctx, j)
			e.putBuf(j.data)
			if j.plain != nil {
				e.putBuf(j.plain)
			}
			if err != nil {
				stopReader()
				for j := range order { // let the reader and workers finish
					<-j.done
				}
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// job is one log record on its way through the workers.
type job struct {
	rec        wal.Record // Data is data
	data       []byte     // a copy of the record, owned by the job
	plain      []byte     // the record decompressed; events alias it
	done       chan struct{}
	hdr        batch.Header
	bad        bool            // the record could not be decoded
	trunc      bool            // decoding stopped early
	evs        []evResult      // one per event that parsed
	prog       *engine.Program // what evaluated evs (their hits refer to its Specs)
	unparsable int
	abandoned  bool // the reader stopped before a worker got it
}

// evResult is what a worker found for one event.
type evResult struct {
	key    uint64 // dedup key; 0 = none (no auditID)
	raw    []byte // the event, in job.plain
	id     string // auditID
	stage  string
	alerts []*alert.Alert
	where  *enrich.Where // for the alerts; nil without an Enricher or sourceIPs
	hits   []engine.Hit  // stateful hits, for the committer to decide on
}

// read feeds records to the workers and, in the same order, to the
// committer.
func (e *Evaluator) read(ctx context.Context, jobs, order chan<- *job) error {
	r := e.o.Log.NewReader(e.resume)
	defer r.Close()
	for {
		rec, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, wal.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read event log: %w", err)
		}
		j := &job{rec: rec, done: make(chan struct{})}
		j.data = append(e.getBuf(len(rec.Data)), rec.Data...)
		j.rec.Data = j.data
		select {
		case order <- j:
		case <-ctx.Done():
			return nil
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			j.abandoned = true // never evaluated: the committer must stop here
			close(j.done)
			return nil
		}
	}
}

var bufPool sync.Pool

func (e *Evaluator) getBuf(n int) []byte {
	if b, ok := bufPool.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]byte, 0, max(n, 1<<20))
}

func (e *Evaluator) putBuf(b []byte) {
	if cap(b) <= 16<<20 {
		bufPool.Put(&b)
	}
}

// evalWorker evaluates records; it owns an engine State per Program.
type evalWorker struct {
	e     *Evaluator
	prog  *engine.Program
	state *engine.State
	ev    audit.Event
}

func (w *evalWorker) eval(j *job) {
	e := w.e
	h, d, plain, err := batch.DecodeBuf(j.data, e.getBuf(0))
	j.plain = plain
	if err != nil {
		j.bad = true
		return
	}
	j.hdr = h
	if p := e.o.Program(); p != w.prog {
		w.prog, w.state = p, p.NewState()
	}
	j.prog = w.prog
	j.evs = make([]evResult, 0, d.Len())
	for {
		raw, ok, err := d.Next()
		if err != nil {
			j.trunc = true
			return
		}
		if !ok {
			return
		}
		if err := audit.Parse(&w.ev, raw, e.o.MaxDepth); err != nil {
			// Ingest validated every event with the same limits; this
			// only happens if the limits shrank across a restart.
			j.unparsable++
			continue
		}
		w.ev.Cluster = h.Cluster
		r := evResult{raw: raw}
		if id := w.ev.Top(audit.KeyAuditID); id != nil {
			r.key = e.dedup.key(id, w.ev.Top(audit.KeyStage))
		}
		for _, i := range w.prog.Eval(&w.ev, w.state) {
			r.alerts = append(r.alerts, w.prog.Alert(w.state, i))
		}
		if hits := w.prog.Hits(w.state); len(hits) > 0 {
			r.hits = append([]engine.Hit(nil), hits...)
			r.id, r.stage = str(w.ev.Top(audit.KeyAuditID)), str(w.ev.Top(audit.KeyStage))
		}
		if len(r.alerts) > 0 {
			r.id, r.stage = str(w.ev.Top(audit.KeyAuditID)), str(w.ev.Top(audit.KeyStage))
			if en := e.o.Enricher; en != nil {
				// Only for events that alert: the others pay nothing
				// unless a rule reads a ka.source.* field.
				r.where = en.WhereEvent(&w.ev)
			}
		}
		j.evs = append(j.evs, r)
	}
}

// Drain waits until every record logged before the call is evaluated, or
// ctx is done.
func (e *Evaluator) Drain(ctx context.Context) error {
	target := e.o.Log.Stats().End
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for e.Processed().Less(target) && e.pending() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: evaluated up to %v of %v: %w", e.Processed(), target, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// pending reports whether the log holds a record after the processed
// position. (Positions alone cannot say: the end of one segment and the
// start of the next are the same place.)
func (e *Evaluator) pending() bool {
	r := e.o.Log.NewReader(e.Processed())
	defer r.Close()
	_, err := r.Next(nonBlocking)
	return !errors.Is(err, context.Canceled)
}

// maxJournalEvents bounds the bytes of events copied into the alerts of
// one journal record; alerts past it go without their event.
const maxJournalEvents = 16 << 20

// commit applies dedup to an evaluated record, in log order, journals its
// alerts and moves the position past it.
func (e *Evaluator) commit(ctx context.Context, j *job) error {
	start := time.Now()
	m := e.o.Metrics
	rec := j.rec
	if j.bad {
		e.o.Logger.Error("event log record unreadable; skipped", "pos", rec.Pos.String())
		if m != nil {
			m.EvalSkipped.WithLabelValues("bad_record").Inc()
		}
		e.advance(rec.Next, 0)
		e.stateDone(rec)
		return nil
	}
	if j.trunc {
		e.o.Logger.Error("event log record truncated; rest skipped", "pos", rec.Pos.String())
		if m != nil {
			m.EvalSkipped.WithLabelValues("bad_record").Inc()
		}
	}
	if j.unparsable > 0 && m != nil {
		m.EvalSkipped.WithLabelValues("unparsable").Add(float64(j.unparsable))
	}
	h := j.hdr
	var out []journal.Alert
	var n, dups, eventBytes int
	var kept [][]byte
	applyState := !rec.Pos.Less(e.statePos) // not yet in the state (see rebuild)
	for i := range j.evs {
		r := &j.evs[i]
		if r.key != 0 && e.dedup.seen(r.key, h.Received) {
			dups++
			continue
		}
		n++
		if e.o.OnEvents != nil {
			kept = append(kept, r.raw)
		}
		if len(r.hits) > 0 && applyState {
			r.alerts = e.decide(j, r, r.alerts)
		}
		for _, a := range r.alerts {
			out = append(out, journal.Alert{
				ID:       journal.AlertID(e.instance, rec.Pos, len(out)),
				Alert:    *a,
				Cluster:  h.Cluster,
				Capture:  h.Capture.String(),
				AuditID:  r.id,
				Stage:    r.stage,
				Received: time.Unix(0, h.Received).UTC(),
				Where:    r.where,
			})
			a := &out[len(out)-1]
			if eventBytes+len(r.raw) <= maxJournalEvents {
				a.Event = json.RawMessage(append([]byte(nil), r.raw...))
				eventBytes += len(r.raw)
			} else {
				a.EventOmitted = true
			}
		}
	}
	if len(out) > 0 {
		jr := &journal.Record{Src: rec.Pos, Next: rec.Next, Alerts: out}
		err := e.appendJournal(ctx, jr)
		if errors.Is(err, wal.ErrTooLarge) {
			// Alerts matter more than their copies of the event.
			for i := range out {
				out[i].Event, out[i].EventOmitted = nil, true
			}
			err = e.appendJournal(ctx, jr)
			e.o.Logger.Warn("alerts journalled without their events: the record was too large", "pos", rec.Pos.String(), "alerts", len(out))
		}
		if errors.Is(err, wal.ErrTooLarge) {
			e.o.Logger.Error("alerts lost: too many for one journal record", "pos", rec.Pos.String(), "alerts", len(out))
			if m != nil {
				m.EvalSkipped.WithLabelValues("journal_record_too_large").Add(float64(len(out)))
			}
			out = nil
		} else if err != nil {
			return err
		} else if e.o.OnAlerts != nil {
			e.o.OnAlerts(jr)
		}
	}
	if len(kept) > 0 {
		e.o.OnEvents(h.Cluster, h.Capture.String(), kept)
	}
	e.events.Add(uint64(n))
	e.alerts.Add(uint64(len(out)))
	if m != nil {
		m.Evaluated.WithLabelValues(h.Cluster).Add(float64(n))
		if dups > 0 {
			m.DedupHits.WithLabelValues(h.Cluster).Add(float64(dups))
		}
		for i := range out {
			a := &out[i].Alert
			m.Alerts.WithLabelValues(a.Rule, a.Priority.String(), h.Cluster).Inc()
		}
		m.EvalSeconds.Observe(time.Since(start).Seconds())
	}
	e.advance(rec.Next, h.Received)
	e.stateDone(rec)
	return nil
}

// decide applies an event's stateful hits to the state, in log order, and
// appends the alerts they raise to alerts. Rendering needs the event's
// fields, so the (rare) event that raises one is parsed again here.
func (e *Evaluator) decide(j *job, r *evResult, alerts []*alert.Alert) []*alert.Alert {
	bound := false
	for _, h := range r.hits {
		v := e.state.Observe(j.prog, h)
		if v == nil {
			continue
		}
		if !bound {
			if err := audit.Parse(&e.stateEv, r.raw, e.o.MaxDepth); err != nil {
				continue // it parsed in the worker with the same limits
			}
			e.stateEv.Cluster = j.hdr.Cluster
			if e.o.Enricher != nil {
				e.stateEv.Locator = e.o.Enricher
			}
			if e.stateSt == nil || !e.stateSt.For(j.prog) {
				e.stateSt = j.prog.NewState()
			}
			j.prog.Bind(&e.stateEv, e.stateSt)
			bound = true
			if r.where == nil && e.o.Enricher != nil {
				r.where = e.o.Enricher.WhereEvent(&e.stateEv)
			}
		}
		alerts = append(alerts, j.prog.StatefulAlert(e.stateSt, h, v))
	}
	return alerts
}

// stateDone records that the state includes rec.
func (e *Evaluator) stateDone(rec wal.Record) {
	if e.statePos.Less(rec.Next) {
		e.statePos = rec.Next
	}
}

// StateStats reports the keys the stateful rules hold, the keys evicted to
// stay within Options.StateLimits, and the hits dropped for arriving more
// than a window late, since New. It is safe to call from any goroutine.
func (e *Evaluator) StateStats() (keys int, evictions, late uint64) { return e.state.Stats() }

// appendJournal appends r, waiting while the journal is full: outputs that
// are behind hold the evaluator back, and the event log fills up behind
// it, so ingest answers 503 instead of anything being dropped.
func (e *Evaluator) appendJournal(ctx context.Context, r *journal.Record) error {
	data, err := journal.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode alerts: %w", err)
	}
	wait := 10 * time.Millisecond
	for {
		_, end, err := e.o.Journal.Append(ctx, data)
		if err == nil {
			e.jend = end
			return nil
		}
		if !errors.Is(err, wal.ErrFull) {
			return fmt.Errorf("append to alert journal: %w", err)
		}
		if wait == 10*time.Millisecond {
			e.o.Logger.Warn("alert journal full: evaluation waits for the outputs to catch up")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func (e *Evaluator) advance(next wal.Pos, received int64) {
	e.processed.Store(&next)
	if received == 0 {
		return
	}
	e.mu.Lock()
	if n := len(e.samples); n == 0 || received-e.samples[n-1].received >= int64(100*time.Millisecond) {
		e.samples = append(e.samples, sample{next, received})
	} else {
		e.samples[n-1].pos = next
	}
	e.mu.Unlock()
}

// release lets the event log delete segments that are evaluated and older
// than the dedup window, or simply evaluated once the log is half full:
// the log's bound protects ingest first, dedup across restarts second.
func (e *Evaluator) release() {
	cutoff := e.o.Now().Add(-e.o.DedupWindow).UnixNano()
	var upto wal.Pos
	e.mu.Lock()
	i := 0
	for i < len(e.samples) && e.samples[i].received < cutoff {
		upto = e.samples[i].pos
		i++
	}
	e.samples = e.samples[i:]
	e.mu.Unlock()
	st := e.o.Log.Stats()
	if st.Bytes > 0 && float64(st.Bytes) > 0.5*float64(e.logMax()) {
		upto = e.Processed()
	}
	if e.snapPos.Less(upto) {
		// A restart re-applies the records after the saved state.
		upto = e.snapPos
	}
	if upto == (wal.Pos{}) {
		return
	}
	if err := e.o.Log.Release(upto); err != nil && !errors.Is(err, wal.ErrClosed) {
		e.o.Logger.Warn("release event log", "err", err)
	}
}

func (e *Evaluator) logMax() int64 { return e.o.LogMaxBytes }

// str returns the text of a raw JSON string, or "" for nil.
func str(v []byte) string {
	if v == nil {
		return ""
	}
	return string(rawjson.AppendString(nil, v))
}

func (e *Evaluator) writeCheckpoint() {
	p := e.Processed()
	if p == e.lastCkpt {
		return
	}
	ck := checkpoint{Log: p, Journal: e.jend}
	if err := writeFileAtomic(filepath.Join(e.o.Dir, checkpointFile), ck); err != nil {
		e.o.Logger.Warn("write evaluator checkpoint", "err", err)
		return
	}
	e.lastCkpt = p
	// The state after the checkpoint: saved at a position the resume
	// position can only be at or after, so a restart re-applies exactly
	// the records in between (see rebuild).
	if err := e.state.Save(filepath.Join(e.o.Dir, stateFile), e.statePos); err != nil {
		e.o.Logger.Warn("save stateful rules' state", "err", err)
		return
	}
	e.snapPos = e.statePos
}

func readCheckpoint(path string) (checkpoint, error) {
	var ck checkpoint
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ck, nil
	}
	if err != nil {
		return ck, err
	}
	if err := json.Unmarshal(data, &ck); err != nil {
		return checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	return ck, nil
}

// writeFileAtomic writes v as JSON to path through a synced temporary file
// and a rename.
func writeFileAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
