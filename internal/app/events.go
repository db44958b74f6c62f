package app

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/store"
)

// eventKeeper writes raw audit events to the store (store.keep_events) off
// the evaluation path: the evaluator hands over copies, which queue in
// memory up to a byte budget, and one writer inserts them in batches.
// Raw events are for investigation, so when the store falls behind the
// keeper drops them rather than slow evaluation; every drop is counted
// (vigil_store_events_dropped_total) and logged, at most every 10 s.
type eventKeeper struct {
	st      store.EventStore
	m       *metrics.Metrics
	log     *slog.Logger
	ch      chan rawBatch
	queued  atomic.Int64 // bytes in ch and in the writer's hands
	budget  int64
	dropped atomic.Int64 // since the last log line
	done    chan struct{}
	closing sync.Once
}

type rawBatch struct {
	cluster, capture string
	events           [][]byte
	bytes            int64
}

// keeperBudget is the memory the queue may hold; keeperBatch the events
// per insert.
const (
	keeperBudget = 64 << 20
	keeperBatch  = 1000
)

func newEventKeeper(st store.EventStore, m *metrics.Metrics, log *slog.Logger) *eventKeeper {
	return &eventKeeper{st: st, m: m, log: log, ch: make(chan rawBatch, 4096), budget: keeperBudget, done: make(chan struct{})}
}

// offer queues copies of events; it never blocks.
func (k *eventKeeper) offer(cluster, capture string, events [][]byte) {
	var n int64
	for _, e := range events {
		n += int64(len(e))
	}
	if k.queued.Load()+n > k.budget {
		k.drop("queue_full", len(events))
		return
	}
	// One allocation for the batch's bytes.
	buf := make([]byte, 0, n)
	cp := make([][]byte, len(events))
	for i, e := range events {
		buf = append(buf, e...)
		cp[i] = buf[len(buf)-len(e) : len(buf) : len(buf)]
	}
	k.queued.Add(n)
	select {
	case k.ch <- rawBatch{cluster: cluster, capture: capture, events: cp, bytes: n}:
	default:
		k.queued.Add(-n)
		k.drop("queue_full", len(events))
	}
}

func (k *eventKeeper) drop(reason string, n int) {
	k.m.EventsNotKept.WithLabelValues(reason).Add(float64(n))
	k.dropped.Add(int64(n))
}

// run writes until ctx is done, then writes what is queued and returns.
// Every write runs under drainCtx, so that the end of the intake never
// fails an insert in progress; cancelling drainCtx abandons the rest
// (counted as store_error).
func (k *eventKeeper) run(ctx, drainCtx context.Context) {
	defer close(k.done)
	var pending []store.Event
	var pendingBytes int64
	flush := func(c context.Context) {
		if len(pending) == 0 {
			return
		}
		var err error
	retry:
		for attempt := range 3 {
			if err = k.st.AddEvents(c, pending); err == nil {
				break
			}
			select {
			case <-c.Done():
				break retry
			case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
			}
		}
		if err != nil {
			k.log.Warn("raw events not kept: the store failed", "events", len(pending), "err", err)
			k.drop("store_error", len(pending))
		} else {
			k.m.EventsKept.Add(float64(len(pending)))
		}
		k.queued.Add(-pendingBytes)
		pending, pendingBytes = pending[:0], 0
	}
	take := func(b rawBatch) {
		for _, raw := range b.events {
			ev, ok := store.NewEvent(raw, b.cluster, b.capture)
			if !ok {
				k.drop("unparsable", 1)
				continue
			}
			pending = append(pending, ev)
		}
		pendingBytes += b.bytes
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	logTick := time.NewTicker(10 * time.Second)
	defer logTick.Stop()
	for {
		select {
		case b := <-k.ch:
			take(b)
			if len(pending) >= keeperBatch {
				flush(drainCtx)
			}
		case <-tick.C:
			flush(drainCtx)
		case <-logTick.C:
			if n := k.dropped.Swap(0); n > 0 {
				k.log.Warn("raw events dropped: the store fell behind or failed (alerts are unaffected)", "events", n)
			}
		case <-ctx.Done():
			for {
				select {
				case b := <-k.ch:
					take(b)
					if len(pending) >= keeperBatch {
						flush(drainCtx)
					}
					continue
				default:
				}
				break
			}
			flush(drainCtx)
			if n := k.dropped.Swap(0); n > 0 {
				k.log.Warn("raw events dropped: the store fell behind or failed (alerts are unaffected)", "events", n)
			}
			return
		}
	}
}
