// Package replay evaluates recorded audit events (files, directories or
// standard input) against a compiled Program and writes one alert per line.
//
// The pipeline uses every core while keeping alerts in input order. For
// JSON-lines input (the API server's log format) a reader cuts the stream
// into chunks at line boundaries and workers decode and evaluate chunks in
// parallel; an ordered writer emits their results by chunk number. Other
// input (a pretty-printed document, one big EventList or array) is decoded by
// the reader itself, which hands batches of events to the workers. Either
// way the number of chunks in flight is bounded, so memory stays flat
// whatever the input size.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rawjson"
	"github.com/vigilsec/vigil/internal/stateful"
)

// Format is the alert output format.
type Format int

// Output formats.
const (
	JSON Format = iota // Falco's JSON alert, one object per line
	Text               // Falco's text line
)

// ParseFormat parses "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json":
		return JSON, nil
	case "text":
		return Text, nil
	}
	return 0, fmt.Errorf("invalid output format %q: expected json or text", s)
}

// Options configure a replay.
type Options struct {
	Program  *engine.Program
	Format   Format
	Workers  int            // parallel workers; 0 = 1
	Limits   audit.Limits   // per-event limits
	Location *time.Location // zone for text times; nil = time.Local
	Out      io.Writer      // alerts
	// OnSkip is called, in input order, with skipped items: every one, except
	// that of a chunk of input with more than MaxSkipReports skipped items
	// only the first MaxSkipReports are kept (all are counted in Summary).
	// It may be nil.
	OnSkip func(*audit.Error)
	// OnAlert, if set, receives every alert in order instead of it being
	// formatted to Out.
	OnAlert func(*alert.Alert)
	// ChunkSize is the target size of a chunk of input; 0 = 256 KiB.
	ChunkSize int
	// Stdin is read for the input "-"; nil means os.Stdin.
	Stdin io.Reader
	// StateLimits bound the in-memory state of stateful rules, which
	// replay evaluates in input order like the server does.
	StateLimits stateful.Limits
}

// MaxSkipReports bounds the skipped items kept per chunk of input, so that a
// stream of garbage cannot hold unbounded memory.
const MaxSkipReports = 64

// Summary counts what a replay did.
type Summary struct {
	Inputs  int                    // inputs read
	Bytes   int64                  // bytes of (decompressed) input
	Events  int64                  // events evaluated
	Alerts  int64                  // alerts written
	Skipped map[audit.Reason]int64 // items skipped, by reason
}

// SkippedTotal returns the number of skipped items.
func (s *Summary) SkippedTotal() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// chunk is a unit of work: raw JSON-lines input, or pre-decoded events.
type chunk struct {
	seq                int64
	input              string
	data               []byte                 // JSON-lines text, or concatenated raw events
	events             []span                 // when decoded: each event's bytes in data and its offset
	decoded            bool                   // data holds events found by the reader's decoder
	base               int64                  // input offset of data[0] (JSON-lines mode)
	inputSeq           int                    // which input the chunk belongs to
	newlines           int                    // newlines in data (JSON-lines mode; counted by the worker)
	extraLines         int                    // lines dropped by the reader before data (a too-long line)
	out                []byte                 // formatted alerts
	skips              []*audit.Error         // the first MaxSkipReports skipped items
	skipCount          map[audit.Reason]int64 // every skipped item, by reason
	alerts             []*alert.Alert         // when OnAlert is set
	hits               []pendingHit           // stateful hits, for the writer to decide on in order
	events64, alerts64 int64
}

// pendingHit is a stateful hit found by a worker. Whether it raises an
// alert depends on the state, which only the ordered writer may touch.
type pendingHit struct {
	hit    engine.Hit
	raw    []byte // a copy of the event (none for a sequence's first step)
	offset int64  // the event's input offset
	out    int    // len(chunk.out) after the event's plain alerts: where its stateful alerts go
	nalert int    // len(chunk.alerts) likewise
}

// skip records a skipped item.
func (c *chunk) skip(e *audit.Error) {
	if c.skipCount == nil {
		c.skipCount = map[audit.Reason]int64{}
	}
	c.skipCount[e.Reason]++
	if len(c.skips) < MaxSkipReports {
		c.skips = append(c.skips, e)
	}
}

type span struct {
	start, end int
	offset     int64
}

// Run replays inputs ("-" is standard input; a directory means its regular
// files, oldest first) and returns the summary. It stops early when ctx is
// cancelled. A missing or unreadable input is an error, after the inputs
// before it have been replayed.
func Run(ctx context.Context, inputs []string, opt Options) (Summary, error) {
	if opt.Workers <= 0 {
		opt.Workers = 1
	}
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 256 << 10
	}
	if opt.Location == nil {
		opt.Location = time.Local
	}
	sum := Summary{Skipped: map[audit.Reason]int64{}}
	paths, err := expand(inputs)
	if err != nil {
		return sum, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inflight := 4 * opt.Workers
	work := make(chan *chunk, inflight)
	done := make(chan *chunk, inflight)
	free := make(chan *chunk, inflight+opt.Workers+2)
	for i := 0; i < cap(free); i++ {
		free <- &chunk{}
	}

	var state *decider
	if len(opt.Program.Specs()) > 0 {
		state = newDecider(opt)
	}

	var wg sync.WaitGroup
	for i := 0; i < opt.Workers; i++ {
		wg.Go(func() {
			w := newWorker(opt)
			for c := range work {
				w.process(c)
				done <- c
			}
		})
	}

	// The writer emits chunks in sequence order.
	var werr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		pending := map[int64]*chunk{}
		next := int64(0)
		lineInput, lineBase := 0, 0 // lines before the next chunk of input lineInput
		for c := range done {
			pending[c.seq] = c
			for {
				c, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if c.inputSeq != lineInput {
					lineInput, lineBase = c.inputSeq, 0
				}
				if !c.decoded {
					// JSON-lines chunks report lines relative to
					// themselves: add the lines of the chunks before.
					for _, e := range c.skips {
						e.Line += lineBase
					}
					lineBase += c.extraLines + c.newlines
				}
				if state != nil && len(c.hits) > 0 {
					state.decide(c)
				}
				for reason, n := range c.skipCount {
					sum.Skipped[reason] += n
				}
				if opt.OnSkip != nil {
					for _, e := range c.skips {
						opt.OnSkip(e)
					}
				}
				for _, a := range c.alerts {
					opt.OnAlert(a)
				}
				sum.Events += c.events64
				// Each chunk's alerts are one batch already: write it
				// directly, so that an alert counts as written only once
				// the writer has taken it.
				if werr == nil && len(c.out) > 0 {
					if _, err := opt.Out.Write(c.out); err != nil {
						werr = fmt.Errorf("write alerts: %w", err)
						cancel()
					} else {
						sum.Alerts += c.alerts64
					}
				} else if werr == nil {
					sum.Alerts += c.alerts64 // handed to OnAlert
				}
				free <- c
			}
		}
	}()

	r := &reader{opt: opt, work: work, free: free, ctx: ctx}
	var rerr error
	for _, p := range paths {
		n, err := r.input(p)
		sum.Bytes += n
		sum.Inputs++
		if err != nil {
			rerr = err
			break
		}
	}
	close(work)
	wg.Wait()
	close(done)
	<-writerDone
	// A write error cancels the context, so it comes first: the reader's
	// context error is only its consequence.
	if werr != nil {
		return sum, werr
	}
	if rerr == nil && ctx.Err() != nil {
		rerr = ctx.Err()
	}
	return sum, rerr
}

// expand resolves directories into their regular files, oldest first (by
// modification time, then name), as Falco's plugin reads a directory.
func expand(inputs []string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		if in == "-" {
			out = append(out, in)
			continue
		}
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		if !st.IsDir() {
			out = append(out, in)
			continue
		}
		ents, err := os.ReadDir(in)
		if err != nil {
			return nil, fmt.Errorf("read input directory: %w", err)
		}
		type f struct {
			path string
			mod  time.Time
		}
		var files []f
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("read input directory: %w", err)
			}
			files = append(files, f{filepath.Join(in, e.Name()), info.ModTime()})
		}
		sort.SliceStable(files, func(i, j int) bool {
			if !files[i].mod.Equal(files[j].mod) {
				return files[i].mod.Before(files[j].mod)
			}
			return files[i].path < files[j].path
		})
		for _, f := range files {
			out = append(out, f.path)
		}
	}
	return out, nil
}

// reader cuts inputs into chunks.
type reader struct {
	inputs int // inputs started so far
	opt    Options
	work   chan<- *chunk
	free   chan *chunk
	ctx    context.Context
	seq    int64
}

func (r *reader) get() (*chunk, bool) {
	select {
	case c := <-r.free:
		c.data = c.data[:0]
		c.events = c.events[:0]
		c.out = c.out[:0]
		c.skips = c.skips[:0]
		clear(c.skipCount)
		c.alerts = nil
		c.hits = c.hits[:0]
		c.decoded = false
		c.newlines, c.extraLines = 0, 0
		c.events64, c.alerts64 = 0, 0
		c.seq = r.seq
		r.seq++
		return c, true
	case <-r.ctx.Done():
		return nil, false
	}
}

func (r *reader) send(c *chunk) bool {
	select {
	case r.work <- c:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// input replays one input and returns the bytes it read.
func (r *reader) input(path string) (int64, error) {
	r.inputs++
	var f io.Reader
	name := path
	if path == "-" {
		f = r.opt.Stdin
		if f == nil {
			f = os.Stdin
			// A read from a terminal or pipe can block for ever: on
			// cancellation, make it return (where the file supports
			// deadlines) so that the replay stops.
			stop := context.AfterFunc(r.ctx, func() { os.Stdin.SetReadDeadline(time.Now()) })
			defer stop()
		}
		name = "stdin"
	} else {
		fh, err := os.Open(path)
		if err != nil {
			return 0, fmt.Errorf("open input: %w", err)
		}
		defer fh.Close()
		f = fh
	}
	br := bufio.NewReaderSize(f, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("open gzip input %s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	if r.isJSONLines(br) {
		return r.lines(br, name)
	}
	return r.document(br, name)
}

// isJSONLines reports whether the first non-empty line of the input is one
// complete JSON value: the API server's log format, which can be cut at any
// newline. It reads only as far as that first line (or the buffer size), so
// a live pipe is not held up waiting for more.
func (r *reader) isJSONLines(br *bufio.Reader) bool {
	for {
		buf, _ := br.Peek(br.Buffered())
		i := 0
		for i < len(buf) && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n') {
			i++
		}
		if nl := bytes.IndexByte(buf[i:], '\n'); nl >= 0 {
			return rawjson.Valid(buf[i:i+nl], r.opt.Limits.MaxDepth) == nil
		}
		if br.Buffered() == br.Size() {
			// One line fills the window: a document, or a line the line
			// reader would reject anyway; the document reader handles both.
			return false
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return false // the input ends within its first line
		}
	}
}

// lines cuts JSON-lines input at newlines into chunks. A chunk is shipped
// when it is full, or as soon as it holds a complete line and no more input
// is ready, so alerts from a live pipe come out promptly. A line longer than
// the event size limit is dropped up to its end and reported as too large.
func (r *reader) lines(br *bufio.Reader, name string) (int64, error) {
	limit := r.opt.Limits.MaxEventSize
	if limit <= 0 {
		limit = audit.DefaultMaxEventSize
	}
	var total int64 // input offset of the next chunk's first byte
	var carry []byte
	for {
		c, ok := r.get()
		if !ok {
			return total, r.ctx.Err()
		}
		c.input, c.base, c.inputSeq = name, total, r.inputs
		c.data = append(c.data, carry...)
		carry = carry[:0]
		if cap(c.data) < r.opt.ChunkSize {
			c.data = slices.Grow(c.data, r.opt.ChunkSize-len(c.data))
		}
		var rerr error
		for len(c.data) < cap(c.data) {
			n, err := br.Read(c.data[len(c.data):cap(c.data)])
			c.data = c.data[:len(c.data)+n]
			if rerr = err; err != nil {
				break
			}
			if br.Buffered() == 0 && bytes.IndexByte(c.data, '\n') >= 0 {
				break // nothing more is ready: ship what we have
			}
		}
		if rerr == nil {
			if cut := lastNewline(c.data); cut >= 0 {
				carry = append(carry, c.data[cut+1:]...)
				c.data = c.data[:cut+1]
			} else {
				// A line longer than the chunk: read on to its end, up to
				// the event size limit.
				for len(c.data) <= limit {
					b, err := br.ReadSlice('\n')
					c.data = append(c.data, b...)
					if errors.Is(err, bufio.ErrBufferFull) {
						continue
					}
					rerr = err
					break
				}
				if len(c.data) > limit && c.data[len(c.data)-1] != '\n' {
					n, ended, err := discardLine(br)
					rerr = err
					c.skip(&audit.Error{Input: name, Line: 1, Offset: total, Item: -1, Reason: audit.ReasonTooLarge,
						Err: fmt.Errorf("line longer than the event size limit (%d bytes)", limit)})
					total += int64(len(c.data)) + n
					if ended {
						c.extraLines = 1
					}
					c.data = c.data[:0]
				}
			}
		}
		total += int64(len(c.data))
		if len(c.data) > 0 || len(c.skips) > 0 {
			if !r.send(c) {
				return total, r.ctx.Err()
			}
		} else {
			r.free <- c
			r.seq--
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			if r.ctx.Err() != nil {
				return total, r.ctx.Err()
			}
			return total, fmt.Errorf("read %s: %w", name, rerr)
		}
	}
}

// discardLine drops input up to and including the next newline. It returns
// the bytes dropped and whether a newline ended them.
func discardLine(br *bufio.Reader) (int64, bool, error) {
	var n int64
	for {
		b, err := br.ReadSlice('\n')
		n += int64(len(b))
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return n, false, err
		}
		return n, true, nil
	}
}

func lastNewline(b []byte) int { return bytes.LastIndexByte(b, '\n') }

// document decodes non-line input in the reader and ships batches of events.
func (r *reader) document(br *bufio.Reader, name string) (int64, error) {
	cr := &countingReader{r: br}
	d, err := audit.NewDecoder(cr, audit.Options{Name: name, Limits: r.opt.Limits})
	if err != nil {
		return 0, err
	}
	var ev audit.Event
	c, ok := r.get()
	if !ok {
		return 0, r.ctx.Err()
	}
	c.input, c.decoded = name, true
	for {
		err := d.Next(&ev)
		var de *audit.Error
		switch {
		case err == io.EOF:
			if !r.send(c) {
				return cr.n, r.ctx.Err()
			}
			return cr.n, nil
		case errors.As(err, &de):
			c.skip(de)
			if len(c.skips) >= MaxSkipReports {
				// Ship now: a stream of bad items must not pile up here.
				if !r.send(c) {
					return cr.n, r.ctx.Err()
				}
				if c, ok = r.get(); !ok {
					return cr.n, r.ctx.Err()
				}
				c.input, c.decoded = name, true
			}
			continue
		case err != nil:
			r.send(c)
			return cr.n, err
		}
		start := len(c.data)
		c.data = append(c.data, ev.Raw...)
		c.events = append(c.events, span{start: start, end: len(c.data), offset: ev.Offset})
		if len(c.data) >= r.opt.ChunkSize {
			if !r.send(c) {
				return cr.n, r.ctx.Err()
			}
			if c, ok = r.get(); !ok {
				return cr.n, r.ctx.Err()
			}
			c.input, c.decoded = name, true
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// worker decodes and evaluates chunks. Each worker owns its engine State.
type worker struct {
	opt Options
	st  *engine.State
	ev  audit.Event
}

func newWorker(opt Options) *worker {
	return &worker{opt: opt, st: opt.Program.NewState()}
}

func (w *worker) process(c *chunk) {
	if c.decoded {
		for _, s := range c.events {
			if err := audit.Parse(&w.ev, c.data[s.start:s.end], w.opt.Limits.MaxDepth); err != nil {
				continue // already validated by the reader's decoder
			}
			w.ev.Offset, w.ev.Input = s.offset, c.input
			w.eval(c)
		}
		return
	}
	// Lines are counted here, in parallel, relative to the chunk; the
	// writer adds the lines of the chunks before it.
	c.newlines = bytes.Count(c.data, []byte{'\n'})
	d := audit.NewBytesDecoder(c.data, audit.Options{Name: c.input, Limits: w.opt.Limits, BaseOffset: c.base})
	for {
		err := d.Next(&w.ev)
		if err == io.EOF {
			return
		}
		var de *audit.Error
		if errors.As(err, &de) {
			c.skip(de)
			continue
		}
		if err != nil {
			return
		}
		w.eval(c)
	}
}

func (w *worker) eval(c *chunk) {
	p := w.opt.Program
	c.events64++
	for _, i := range p.Eval(&w.ev, w.st) {
		a := p.Alert(w.st, i)
		c.alerts64++
		if w.opt.OnAlert != nil {
			c.alerts = append(c.alerts, a)
			continue
		}
		switch w.opt.Format {
		case Text:
			c.out = alert.AppendText(c.out, a, w.opt.Location)
		default:
			c.out = alert.AppendJSON(c.out, a, w.opt.Location)
		}
		c.out = append(c.out, '\n')
	}
	for _, h := range p.Hits(w.st) {
		ph := pendingHit{hit: h, offset: w.ev.Offset, out: len(c.out), nalert: len(c.alerts)}
		if !h.Step {
			ph.raw = append([]byte(nil), w.ev.Raw...)
		}
		c.hits = append(c.hits, ph)
	}
}

// decider keeps the state of the stateful rules. The ordered writer uses
// it, so decisions follow input order whatever the number of workers.
type decider struct {
	opt   Options
	table *stateful.Table
	st    *engine.State
	ev    audit.Event
}

func newDecider(opt Options) *decider {
	return &decider{opt: opt, table: stateful.New(opt.StateLimits), st: opt.Program.NewState()}
}

// decide applies a chunk's stateful hits in order and splices the alerts
// they raise into the chunk's output, after the plain alerts of the same
// event.
func (d *decider) decide(c *chunk) {
	p := d.opt.Program
	var out []byte
	var alerts []*alert.Alert
	doneOut, doneAlerts, fired := 0, 0, false
	var bound []byte
	for _, ph := range c.hits {
		v := d.table.Observe(p, ph.hit)
		if v == nil {
			continue
		}
		if !fired {
			fired = true
			out = make([]byte, 0, len(c.out)+1024)
		}
		if len(bound) == 0 || &bound[0] != &ph.raw[0] {
			if err := audit.Parse(&d.ev, ph.raw, d.opt.Limits.MaxDepth); err != nil {
				continue // it parsed in the worker with the same limits
			}
			d.ev.Offset, d.ev.Input = ph.offset, c.input
			p.Bind(&d.ev, d.st)
			bound = ph.raw
		}
		a := p.StatefulAlert(d.st, ph.hit, v)
		out = append(out, c.out[doneOut:ph.out]...)
		alerts = append(alerts, c.alerts[doneAlerts:ph.nalert]...)
		doneOut, doneAlerts = ph.out, ph.nalert
		c.alerts64++
		if d.opt.OnAlert != nil {
			alerts = append(alerts, a)
			continue
		}
		switch d.opt.Format {
		case Text:
			out = alert.AppendText(out, a, d.opt.Location)
		default:
			out = alert.AppendJSON(out, a, d.opt.Location)
		}
		out = append(out, '\n')
	}
	if fired {
		c.out = append(out, c.out[doneOut:]...)
		c.alerts = append(alerts, c.alerts[doneAlerts:]...)
	}
}
