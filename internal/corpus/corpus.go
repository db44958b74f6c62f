package corpus

import (
	"bufio"
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// Options configures a Generator. The zero value is usable.
type Options struct {
	Seed      int64     // same Seed and options give byte-identical output
	Events    int       // number of events Write produces; Next ignores it
	Start     time.Time // arrival time of the first request (zero: 2026-01-01T00:00:00Z)
	RiskyRate float64   // fraction of events that belong to risky user actions (0: 0.01; negative: none)
}

const (
	defaultRiskyRate = 0.01
	// requestsPerSecond is the mean cluster-wide request rate. Requests make
	// about two events each, so the log grows by about 5,000 events/s.
	requestsPerSecond = 2600
)

// stage is an audit stage.
type stage uint8

const (
	stageReceived stage = iota
	stageStarted
	stageComplete
)

var stageNames = [...]string{"RequestReceived", "ResponseStarted", "ResponseComplete"}

// category is the traffic class of a request, as documented in the package
// doc.
type category uint8

const (
	catKubelet category = iota
	catController
	catAPIServer
	catHealth
	catWorkload
	catCI
	catHuman
	catRisky
	numCategories
)

var categoryNames = [numCategories]string{
	"kubelet", "controller", "apiserver", "health", "workload", "ci", "human", "risky",
}

// stageAt is one stage of a request and the time it is logged, in µs.
type stageAt struct {
	st stage // which stage
	t  int64 // stageTimestamp
}

// request is one API request in flight. Its events share everything but the
// stage, the stage timestamp and what only later stages carry; those shared
// parts are rendered once, when the request arrives.
type request struct {
	cat     category   // traffic class
	risk    riskKind   // risky action, or riskNone
	level   string     // audit level
	id      [36]byte   // auditID
	recv    int64      // requestReceivedTimestamp, µs
	mid     []byte     // "requestURI" through "objectRef", no surrounding commas
	status  []byte     // responseStatus object
	bodies  []byte     // ",requestObject..." and/or ",responseObject..." at ResponseComplete
	annot   []byte     // annotations object
	stages  [3]stageAt // the stages to log, in time order
	n, next uint8      // number of stages, index of the next one to log
}

// pending is a logged-later stage waiting in the queue.
type pending struct {
	t    int64  // stageTimestamp, µs
	seq  uint64 // tie-breaker: first queued, first logged
	slot int32  // index into Generator.slots
}

// Generator produces a stream of audit events. It is deterministic: the
// same Options always produce the same bytes. A Generator is not safe for
// concurrent use.
type Generator struct {
	rng   *rand.Rand // the only source of randomness
	r     rnd        // helpers over rng
	w     *world     // the simulated cluster
	acts  []action   // every action, benign and risky
	cum   []float64  // cumulative selection weights of acts
	now   int64      // arrival time of the request being built, µs
	next  int64      // arrival time of the next request, µs
	gap   float64    // mean gap between arrivals, µs
	slots []request  // requests in flight (reused)
	free  []int32    // unused slots
	queue []pending  // later stages, a min-heap on (t, seq)
	seq   uint64     // next pending.seq
	rv    int64      // the cluster's etcd revision, for resourceVersion
	clk   clock      // formats event timestamps
	bclk  clock      // formats object timestamps
	name  []byte     // scratch: the name of the object being built
	tmp   []byte     // scratch: bodies rendered before being escaped

	last     category // category of the event last returned by Next
	lastRisk riskKind // risky action of the event last returned by Next
}

// New returns a Generator for opts.
func New(opts Options) *Generator {
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rate := opts.RiskyRate
	switch {
	case rate == 0:
		rate = defaultRiskyRate
	case rate < 0:
		rate = 0
	case rate > 1:
		rate = 1
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_c0de_a0d1_7000))
	t0 := opts.Start.UnixMicro()
	g := &Generator{
		rng:  rng,
		r:    rnd{rng},
		now:  t0,
		next: t0,
		gap:  1e6 / requestsPerSecond,
		rv:   48_000_000 + rng.Int64N(4_000_000),
	}
	g.w = newWorld(g.r, t0)
	g.acts = actions()
	g.cum = make([]float64, len(g.acts))
	sum := 0.0
	for i, a := range g.acts {
		share := a.share * (1 - rate)
		if a.cat == catRisky {
			share = a.share * rate
		}
		// Weights are per request; shares are per event.
		sum += share / a.events
		g.cum[i] = sum
	}
	for i := range g.cum {
		g.cum[i] /= sum
	}
	return g
}

// Next appends the next event, as one compact JSON object with no trailing
// newline, to dst and returns the extended slice. Events come out in
// stageTimestamp order. Once its internal buffers have grown, Next does not
// allocate except to grow dst.
func (g *Generator) Next(dst []byte) []byte {
	if len(g.queue) > 0 && g.queue[0].t <= g.next {
		p := g.pop()
		r := &g.slots[p.slot]
		return g.emit(dst, p.slot, r)
	}
	g.now = g.next
	g.next += 1 + int64(g.rng.ExpFloat64()*g.gap)
	slot := g.alloc()
	r := &g.slots[slot]
	g.build(r)
	return g.emit(dst, slot, r)
}

// Write writes opts.Events events to w, one per line, and returns the number
// of bytes written.
func Write(w io.Writer, opts Options) (n int64, err error) {
	g := New(opts)
	bw := bufio.NewWriterSize(w, 256<<10)
	buf := make([]byte, 0, 64<<10)
	for range opts.Events {
		buf = g.Next(buf[:0])
		buf = append(buf, '\n')
		k, err := bw.Write(buf)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// emit renders the next stage of r, queues the stage after it, and frees
// the slot after the last one.
func (g *Generator) emit(dst []byte, slot int32, r *request) []byte {
	s := r.stages[r.next]
	r.next++
	dst = g.render(dst, r, s)
	g.last, g.lastRisk = r.cat, r.risk
	if r.next < r.n {
		g.push(pending{t: r.stages[r.next].t, slot: slot})
	} else {
		g.free = append(g.free, slot)
	}
	return dst
}

// render appends one event: r at stage s.
func (g *Generator) render(dst []byte, r *request, s stageAt) []byte {
	dst = append(dst, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"`...)
	dst = append(dst, r.level...)
	dst = append(dst, `","auditID":"`...)
	dst = append(dst, r.id[:]...)
	dst = append(dst, `","stage":"`...)
	dst = append(dst, stageNames[s.st]...)
	dst = append(dst, `",`...)
	dst = append(dst, r.mid...)
	if s.st != stageReceived {
		dst = append(dst, `,"responseStatus":`...)
		dst = append(dst, r.status...)
		if s.st == stageComplete {
			dst = append(dst, r.bodies...)
		}
	}
	dst = append(dst, `,"requestReceivedTimestamp":"`...)
	dst = g.clk.appendMicro(dst, r.recv)
	dst = append(dst, `","stageTimestamp":"`...)
	dst = g.clk.appendMicro(dst, s.t)
	dst = append(dst, '"')
	if s.st != stageReceived {
		dst = append(dst, `,"annotations":`...)
		dst = append(dst, r.annot...)
	}
	return append(dst, '}')
}

// build picks the next action and renders its request into r.
func (g *Generator) build(r *request) {
	x := g.rng.Float64()
	i := 0
	for i < len(g.cum)-1 && g.cum[i] <= x {
		i++
	}
	a := &g.acts[i]
	r.cat, r.risk = a.cat, a.risk
	r.level = levelMetadata
	r.recv = g.now
	r.mid = r.mid[:0]
	r.status = r.status[:0]
	r.bodies = r.bodies[:0]
	r.annot = r.annot[:0]
	r.n, r.next = 0, 0
	appendUUID(r.id[:0], g.rng.Uint64(), g.rng.Uint64())
	a.fn(g, r)
}

// alloc returns a free request slot.
func (g *Generator) alloc() int32 {
	if n := len(g.free); n > 0 {
		s := g.free[n-1]
		g.free = g.free[:n-1]
		return s
	}
	g.slots = append(g.slots, request{})
	return int32(len(g.slots) - 1)
}

func (p pending) less(q pending) bool { return p.t < q.t || p.t == q.t && p.seq < q.seq }

// push adds p to the queue.
func (g *Generator) push(p pending) {
	p.seq = g.seq
	g.seq++
	g.queue = append(g.queue, p)
	i := len(g.queue) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !g.queue[i].less(g.queue[parent]) {
			break
		}
		g.queue[i], g.queue[parent] = g.queue[parent], g.queue[i]
		i = parent
	}
}

// pop removes and returns the earliest pending stage.
func (g *Generator) pop() pending {
	q := g.queue
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	i := 0
	for {
		l, m := 2*i+1, i
		if l < len(q) && q[l].less(q[m]) {
			m = l
		}
		if r := l + 1; r < len(q) && q[r].less(q[m]) {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	g.queue = q
	return top
}

// latency returns a log-normal duration in µs with the given median.
func (g *Generator) latency(median float64, sigma float64) int64 {
	return 1 + int64(median*math.Exp(sigma*g.rng.NormFloat64()))
}

// complete schedules RequestReceived now and ResponseComplete after a
// latency with the given median (µs).
func (g *Generator) complete(r *request, median float64) {
	lat := g.latency(median, 0.6)
	r.stages[0] = stageAt{stageReceived, g.now}
	r.stages[1] = stageAt{stageComplete, g.now + lat}
	r.n = 2
}

// streamed schedules RequestReceived, ResponseStarted shortly after and
// ResponseComplete when a stream of the given length (µs) ends: exec,
// attach, port-forward.
func (g *Generator) streamed(r *request, length int64) {
	lat := g.latency(8000, 0.5)
	r.stages[0] = stageAt{stageReceived, g.now}
	r.stages[1] = stageAt{stageStarted, g.now + lat}
	r.stages[2] = stageAt{stageComplete, g.now + lat + length}
	r.n = 3
}

// watch schedules a watch. A watch runs for minutes, far longer than the
// gap between the events of one request, so in a steady-state log as many
// watches end as start: half the time this logs the start of a new watch
// (RequestReceived, ResponseStarted; its end falls beyond the window the
// generator keeps), the other half the end of one that started
// timeoutSeconds ago (ResponseComplete only). Either way watch requests
// make 1.5 events on average.
func (g *Generator) watch(r *request, timeoutSeconds int) {
	if g.rng.IntN(2) == 0 {
		r.stages[0] = stageAt{stageReceived, g.now}
		r.stages[1] = stageAt{stageStarted, g.now + g.latency(400, 0.5)}
		r.n = 2
		return
	}
	r.recv = g.now - int64(timeoutSeconds)*1e6 - g.latency(300, 0.5)
	r.stages[0] = stageAt{stageComplete, g.now}
	r.n = 1
}

// nextRV returns a fresh resourceVersion.
func (g *Generator) nextRV() int64 {
	g.rv += 1 + g.rng.Int64N(7)
	return g.rv
}

// oldRV returns a recent resourceVersion, as a watch or update would carry.
func (g *Generator) oldRV() int64 { return g.rv - g.rng.Int64N(50_000) }
