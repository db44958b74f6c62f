package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
)

// Hub fans new alerts out to the live streams. Publish never blocks: a
// subscriber that falls behind its buffer loses alerts, which are counted
// (the drop callback) and announced to it in a "dropped" event, so that
// the UI knows to reload rather than show a silently incomplete feed.
type Hub struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	onDrop func(n int)
	done   chan struct{} // closed by Close
	closed bool
}

type subscriber struct {
	q    store.Query
	ch   chan []byte
	lost atomic.Int64
}

// streamBuffer is how many alerts a stream holds for a slow client.
const streamBuffer = 1024

// NewHub returns a hub; onDrop (may be nil) counts alerts a slow stream
// lost.
func NewHub(onDrop func(n int)) *Hub {
	return &Hub{subs: map[*subscriber]struct{}{}, onDrop: onDrop, done: make(chan struct{})}
}

// Close ends every stream and refuses new ones: call it when the server
// shuts down (http.Server.RegisterOnShutdown), since a stream never idles.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// Subscribers returns how many streams are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish sends alerts, just stored, to the streams whose filters they
// match.
func (h *Hub) Publish(alerts []journal.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return
	}
	for i := range alerts {
		a := &alerts[i]
		if a.Summary() {
			continue
		}
		rec := store.Record{Alert: *a, Triage: store.Triage{Status: store.StatusOpen}}
		k := eventKeysOf(a)
		rec.Event = nil
		var data []byte
		for s := range h.subs {
			if !matches(&s.q, a, &k) {
				continue
			}
			if data == nil {
				var err error
				if data, err = json.Marshal(&rec); err != nil {
					break
				}
			}
			select {
			case s.ch <- data:
			default:
				s.lost.Add(1)
				if h.onDrop != nil {
					h.onDrop(1)
				}
			}
		}
	}
}

// matches reports whether a new (open) alert passes the filters of q.
func matches(q *store.Query, a *journal.Alert, k *eventKeys) bool {
	al := &a.Alert
	switch {
	case !q.Since.IsZero() && al.Time < q.Since.UnixNano(),
		!q.Until.IsZero() && al.Time >= q.Until.UnixNano(),
		len(q.Clusters) > 0 && !slices.Contains(q.Clusters, a.Cluster),
		len(q.Rules) > 0 && !slices.Contains(q.Rules, al.Rule),
		q.MinPriority != nil && !al.Priority.AtLeast(*q.MinPriority),
		q.User != "" && k.user != q.User,
		q.Namespace != "" && k.namespace != q.Namespace,
		q.Verb != "" && k.verb != q.Verb,
		q.Resource != "" && k.resource != q.Resource,
		q.SourceIP != "" && !slices.Contains(k.sourceIPs, q.SourceIP),
		len(q.Statuses) > 0 && !slices.Contains(q.Statuses, store.StatusOpen):
		return false
	}
	for _, t := range q.Tags {
		if !slices.Contains(al.Tags, t) {
			return false
		}
	}
	msg := strings.ToLower(al.Message)
	for _, w := range q.Words() {
		if !strings.Contains(msg, strings.ToLower(w)) {
			return false
		}
	}
	return true
}

func (h *Hub) add(s *subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.subs[s] = struct{}{}
	return true
}

func (h *Hub) remove(s *subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// heartbeat keeps proxies from closing an idle stream.
const heartbeat = 15 * time.Second

// streamWriteTimeout bounds each write to a stream: a client that stops
// reading is cut off instead of holding its handler, and the server's
// shutdown, for good.
var streamWriteTimeout = time.Minute

func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query(), s.o.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.Since, q.Until = time.Time{}, time.Time{} // the stream is what arrives from now on
	rc := http.NewResponseController(w)
	arm := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }
	arm()
	sub := &subscriber{q: q, ch: make(chan []byte, streamBuffer)}
	if !s.o.Hub.add(sub) {
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	defer s.o.Hub.remove(sub)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.o.Hub.done:
			return
		case data := <-sub.ch:
			arm()
			if n := sub.lost.Swap(0); n > 0 {
				fmt.Fprintf(w, "event: dropped\ndata: {\"count\":%d}\n\n", n)
			}
			fmt.Fprintf(w, "event: alert\ndata: %s\n\n", data)
			// Send what else is queued in the same write.
			for more := true; more; {
				select {
				case data = <-sub.ch:
					fmt.Fprintf(w, "event: alert\ndata: %s\n\n", data)
				default:
					more = false
				}
			}
		case <-tick.C:
			arm()
			if n := sub.lost.Swap(0); n > 0 {
				fmt.Fprintf(w, "event: dropped\ndata: {\"count\":%d}\n\n", n)
			}
			fmt.Fprint(w, ": ping\n\n")
		}
		if rc.Flush() != nil {
			return
		}
	}
}
