package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// Default limits.
const (
	DefaultMaxEventSize = 256 << 10 // Falco's maxEventSize
	DefaultMaxDepth     = 100       // nesting of one event; Kubernetes objects are far shallower
)

// Limits bound what one event may cost. Zero values mean the defaults.
type Limits struct {
	MaxEventSize int // largest event in bytes, as received
	MaxDepth     int // deepest nesting of objects and arrays inside one event
}

func (l Limits) withDefaults() Limits {
	if l.MaxEventSize <= 0 {
		l.MaxEventSize = DefaultMaxEventSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Reason classifies why an item was skipped. The values are stable: they are
// used as metric labels and in summaries.
type Reason string

// Reasons for skipping an item.
const (
	ReasonMalformed    Reason = "malformed_json"
	ReasonTooLarge     Reason = "too_large"
	ReasonTooDeep      Reason = "too_deep"
	ReasonNotAudit     Reason = "not_audit_event"
	ReasonBadTimestamp Reason = "bad_timestamp"
)

// Error reports one skipped item. Decoding goes on after it.
type Error struct {
	Input  string // input name
	Line   int    // 1-based line where the item starts
	Offset int64  // byte offset where the item starts (or where the syntax error is)
	Item   int    // index inside an EventList or array, or -1
	Reason Reason // classification
	Err    error  // detail
}

func (e *Error) Error() string {
	loc := fmt.Sprintf("%s:%d (byte %d)", e.Input, e.Line, e.Offset)
	if e.Item >= 0 {
		loc += fmt.Sprintf(" item %d", e.Item)
	}
	return fmt.Sprintf("%s: %s: %v", loc, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var (
	errNotAudit = errors.New("data not recognized as a k8s audit event")
	errTooLarge = errors.New("event larger than the event size limit")
)

// Options configure a Decoder.
type Options struct {
	Name       string // input name used in errors and Event.Input
	Limits     Limits // size and depth limits
	BaseOffset int64  // offset of the reader's first byte in the whole input
	BaseLine   int    // number of lines before the reader's first byte
}

// Decoder reads audit events from a stream holding any sequence of Event
// objects, EventList objects and JSON arrays of them, separated by
// whitespace: one JSON document or JSON lines. Memory stays bounded by the
// event size limit: an EventList or array is streamed element by element,
// however large it is. A malformed item is reported with its position and
// skipped; after a syntax error the decoder resumes at the next line.
type Decoder struct {
	r   io.Reader
	opt Options
	lim Limits

	buf      []byte // buf[pos:end] is unread input
	pos, end int
	base     int64 // input offset of buf[0]
	lines    int   // newlines in the input before buf[0]
	eof      bool  // r returned EOF
	rerr     error // sticky read error

	// Container being streamed. A top-level array, or the items array of
	// an EventList that is being streamed.
	stack []frame
	// In-memory list whose items are being handed out (an EventList or
	// array small enough to have been read whole).
	pending    rawjson.Elements
	hasPending bool
	pendBase   int64 // input offset of the pending list's first byte
	pendItem   int
}

type frameKind uint8

const (
	frameArray    frameKind = iota // top-level array: elements are events or lists
	frameItems                     // items array of a streamed EventList
	frameEventObj                  // the EventList object around frameItems
)

type frame struct {
	kind  frameKind
	n     int   // elements (or members) seen
	items bool  // frameEventObj: an items array was found
	start int64 // input offset where the container starts
}

// NewDecoder returns a decoder for r. Gzip input is detected by its magic
// number and decompressed.
func NewDecoder(r io.Reader, opt Options) (*Decoder, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("open gzip stream: %w", err)
		}
		r = zr
	} else {
		r = br
	}
	d := &Decoder{r: r, opt: opt, lim: opt.Limits.withDefaults(), base: opt.BaseOffset, lines: opt.BaseLine}
	return d, nil
}

// NewBytesDecoder decodes an in-memory body without copying it. Events alias
// data. Gzip is not detected.
func NewBytesDecoder(data []byte, opt Options) *Decoder {
	return &Decoder{opt: opt, lim: opt.Limits.withDefaults(), buf: data, end: len(data), eof: true,
		base: opt.BaseOffset, lines: opt.BaseLine}
}

// Next decodes the next event into ev. ev.Raw stays valid until the next call.
// It returns io.EOF at the end of input, an *Error for a skipped item (call
// Next again to go on), or another error when reading failed.
func (d *Decoder) Next(ev *Event) error {
	for {
		if d.hasPending {
			v, ok := d.pending.Next()
			if ok {
				item := d.pendItem
				d.pendItem++
				off := d.offsetOf(v)
				return d.event(ev, v, off, item)
			}
			d.hasPending = false
		}
		var err error
		if len(d.stack) > 0 {
			err = d.nextInContainer(ev)
		} else {
			err = d.top(ev)
		}
		if err != errAgain {
			return err
		}
	}
}

// errAgain tells Next to loop: something was consumed but no event is ready.
var errAgain = errors.New("again")

// offsetOf returns the input offset of a slice of buf.
func (d *Decoder) offsetOf(v []byte) int64 {
	return d.base + int64(cap(d.buf)-cap(v))
}

// lineAt returns the 1-based line of input offset off, which must be in buf.
func (d *Decoder) lineAt(off int64) int {
	i := int(off - d.base)
	if i < 0 {
		return d.lines + 1
	}
	if i > d.end {
		i = d.end
	}
	return d.lines + bytes.Count(d.buf[:i], []byte{'\n'}) + 1
}

func (d *Decoder) fail(off int64, item int, reason Reason, err error) *Error {
	return &Error{Input: d.opt.Name, Line: d.lineAt(off), Offset: off, Item: item, Reason: reason, Err: err}
}

// fill reads more input, keeping buf[pos:end]. It reports false at EOF or on
// a read error (kept in d.rerr).
func (d *Decoder) fill() bool {
	if d.eof || d.rerr != nil {
		return false
	}
	if d.pos > 0 {
		d.lines += bytes.Count(d.buf[:d.pos], []byte{'\n'})
		d.base += int64(d.pos)
		n := copy(d.buf, d.buf[d.pos:d.end])
		d.pos, d.end = 0, n
	}
	if d.end == len(d.buf) {
		size := 2 * len(d.buf)
		if size < 128<<10 {
			size = 128 << 10
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	n, err := d.r.Read(d.buf[d.end:])
	d.end += n
	if err == io.EOF {
		d.eof = true
	} else if err != nil {
		d.rerr = err
	}
	return n > 0 || (!d.eof && d.rerr == nil)
}

// skipWS consumes whitespace, reading more as needed. It reports false when
// the input ends first.
func (d *Decoder) skipWS() bool {
	for {
		for d.pos < d.end {
			switch d.buf[d.pos] {
			case ' ', '\t', '\r', '\n':
				d.pos++
				continue
			}
			return true
		}
		if !d.fill() {
			return false
		}
	}
}

// peek returns the next non-space byte without consuming it.
func (d *Decoder) peek() (byte, bool) {
	if !d.skipWS() {
		return 0, false
	}
	return d.buf[d.pos], true
}

func (d *Decoder) endErr() error {
	if d.rerr != nil {
		return fmt.Errorf("read %s: %w", d.opt.Name, d.rerr)
	}
	return io.EOF
}

// readValue returns the complete, validated value at d.pos without consuming
// it. limit bounds its size. For an object, v (if non-nil) sees its members.
//
// Only the first limit bytes of the input are ever scanned for the value, so
// the outcome (value, syntax error or too large) does not depend on how much
// input happens to be buffered.
func (d *Decoder) readValue(limit int, v rawjson.Visitor, ev *Event) (val []byte, err error) {
	for {
		data := d.buf[d.pos:d.end]
		window := data[:min(len(data), limit)]
		more := len(window) < len(data) || (!d.eof && d.rerr == nil)
		if ev != nil {
			ev.Raw = data
			ev.top = [numKeys]span{}
		}
		n, serr := rawjson.Scan(window, d.lim.MaxDepth, v)
		if serr == nil && n == len(window) && more && rawjson.KindOf(window) == rawjson.Number {
			// A number that reaches the end of what was scanned may go on.
			serr = rawjson.ErrUnexpectedEnd
		}
		switch {
		case serr == nil:
			return data[:n], nil
		case !errors.Is(serr, rawjson.ErrUnexpectedEnd):
			return nil, serr
		case len(window) >= limit:
			return nil, errTooLarge
		case !more:
			return nil, serr
		}
		d.fill()
	}
}

// skipValue consumes the value at d.pos without keeping it, whatever its
// size. It only tracks strings and nesting; it is used for values already
// known to be unwanted or too large.
func (d *Decoder) skipValue() {
	depth := 0
	inStr, esc := false, false
	started := false
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			d.pos++
			switch {
			case inStr:
				if esc {
					esc = false
				} else if c == '\\' {
					esc = true
				} else if c == '"' {
					inStr = false
					if depth == 0 {
						return
					}
				}
			case c == '"':
				inStr, started = true, true
			case c == '{' || c == '[':
				depth++
				started = true
			case c == '}' || c == ']':
				depth--
				if depth <= 0 {
					return
				}
			case c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r':
				if depth == 0 && started {
					d.pos--
					return
				}
			default:
				started = true
			}
		}
		if !d.fill() {
			return
		}
	}
}

// resync drops input up to and including the next newline.
func (d *Decoder) resync() {
	d.stack = d.stack[:0]
	for {
		if i := bytes.IndexByte(d.buf[d.pos:d.end], '\n'); i >= 0 {
			d.pos += i + 1
			return
		}
		d.pos = d.end
		if !d.fill() {
			return
		}
	}
}

// syntaxFail reports a syntax error at the absolute position of a scan error.
func (d *Decoder) syntaxFail(start int64, item int, err error) *Error {
	off := start
	var se *rawjson.SyntaxError
	var de *rawjson.DepthError
	reason := ReasonMalformed
	switch {
	case errors.As(err, &se):
		off += int64(se.Offset)
		err = errors.New(se.Msg)
	case errors.As(err, &de):
		off += int64(de.Offset)
		reason = ReasonTooDeep
		err = fmt.Errorf("nesting deeper than %d levels", de.Max)
	case errors.Is(err, rawjson.ErrUnexpectedEnd):
		err = rawjson.ErrUnexpectedEnd
	}
	e := d.fail(off, item, reason, err)
	return e
}

// top handles one top-level value.
func (d *Decoder) top(ev *Event) error {
	c, ok := d.peek()
	if !ok {
		return d.endErr()
	}
	start := d.base + int64(d.pos)
	switch c {
	case '[':
		d.pos++
		d.stack = append(d.stack, frame{kind: frameArray})
		return errAgain
	case '{':
		if d.isStreamedEventList() {
			return errAgain
		}
		return d.whole(ev, start, -1)
	default:
		v, err := d.readValue(d.lim.MaxEventSize, nil, nil)
		if err != nil {
			return d.valueFail(start, -1, err)
		}
		d.pos += len(v)
		return d.fail(start, -1, ReasonNotAudit, errNotAudit)
	}
}

// valueFail turns a readValue error into an *Error, consuming what must be
// consumed so that decoding can go on.
func (d *Decoder) valueFail(start int64, item int, err error) error {
	if errors.Is(err, errTooLarge) {
		d.skipValue()
		return d.fail(start, item, ReasonTooLarge, fmt.Errorf("%w (%d bytes)", errTooLarge, d.lim.MaxEventSize))
	}
	var de *rawjson.DepthError
	if errors.As(err, &de) {
		e := d.syntaxFail(start, item, err)
		d.skipValue()
		return e
	}
	e := d.syntaxFail(start, item, err)
	d.resync()
	return e
}

// whole reads the object or array at d.pos whole (up to the event size
// limit) and classifies it.
func (d *Decoder) whole(ev *Event, start int64, item int) error {
	v, err := d.readValue(d.lim.MaxEventSize, indexer{ev}, ev)
	if err != nil {
		return d.valueFail(start, item, err)
	}
	d.pos += len(v)
	return d.classify(ev, v, start, item)
}

// classify decides what a complete value is: an Event, an EventList or an
// array. ev has already been indexed if v is an object.
func (d *Decoder) classify(ev *Event, v []byte, start int64, item int) error {
	switch rawjson.KindOf(v) {
	case rawjson.Object:
		kind := ev.Top(KeyKind)
		switch {
		case bytes.Equal(kind, []byte(`"Event"`)):
			return d.finish(ev, v, start, item)
		case bytes.Equal(kind, []byte(`"EventList"`)):
			items, _ := rawjson.Get(v, "items")
			if rawjson.KindOf(items) != rawjson.Array {
				return d.fail(start, item, ReasonNotAudit, errNotAudit)
			}
			d.startPending(items)
			return errAgain
		}
	case rawjson.Array:
		d.startPending(v)
		return errAgain
	}
	return d.fail(start, item, ReasonNotAudit, errNotAudit)
}

func (d *Decoder) startPending(list []byte) {
	d.pending = rawjson.ElementsOf(list)
	d.hasPending = true
	d.pendItem = 0
}

// event parses one list element as an event.
func (d *Decoder) event(ev *Event, v []byte, off int64, item int) error {
	if len(v) > d.lim.MaxEventSize {
		return d.fail(off, item, ReasonTooLarge, fmt.Errorf("%w (%d bytes)", errTooLarge, d.lim.MaxEventSize))
	}
	if rawjson.KindOf(v) != rawjson.Object {
		return d.fail(off, item, ReasonNotAudit, errNotAudit)
	}
	if err := Parse(ev, v, d.lim.MaxDepth); err != nil {
		return d.eventFail(off, item, err)
	}
	d.stamp(ev, off)
	return nil
}

func (d *Decoder) eventFail(off int64, item int, err error) error {
	switch {
	case errors.Is(err, errNoStageTimestamp), errors.Is(err, errBadTimestamp):
		return d.fail(off, item, ReasonBadTimestamp, err)
	default:
		return d.syntaxFail(off, item, err)
	}
}

func (d *Decoder) finish(ev *Event, v []byte, off int64, item int) error {
	ev.Raw = v
	if err := ev.setTime(); err != nil {
		return d.fail(off, item, ReasonBadTimestamp, err)
	}
	d.stamp(ev, off)
	return nil
}

func (d *Decoder) stamp(ev *Event, off int64) {
	ev.Offset = off
	ev.Input = d.opt.Name
}

// ensure tries to have at least n unread bytes buffered.
func (d *Decoder) ensure(n int) {
	for d.end-d.pos < n && d.fill() {
	}
}

// isStreamedEventList checks whether the object at d.pos begins with
// "kind":"EventList", the order in which the API server writes it. If so it
// consumes that much and starts streaming the list's members, so that a body
// of any size is decoded one item at a time and each item is scanned once.
func (d *Decoder) isStreamedEventList() bool {
	d.ensure(256)
	b := d.buf[d.pos:d.end]
	i := rawjsonWS(b, 1)
	for _, lit := range []string{`"kind"`, `:`, `"EventList"`} {
		if !bytes.HasPrefix(b[i:], []byte(lit)) {
			return false
		}
		i = rawjsonWS(b, i+len(lit))
	}
	start := d.base + int64(d.pos)
	d.pos += i
	d.stack = append(d.stack, frame{kind: frameEventObj, n: 1, start: start})
	return true
}

func rawjsonWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// containerSyntax reports a structural error inside a streamed container and
// resynchronises at the next line.
func (d *Decoder) containerSyntax(item int, what string) error {
	off := d.base + int64(d.pos)
	var err error
	if d.pos >= d.end {
		err = rawjson.ErrUnexpectedEnd
	} else {
		err = fmt.Errorf("invalid character %q %s", d.buf[d.pos], what)
	}
	e := d.fail(off, item, ReasonMalformed, err)
	d.resync()
	return e
}

// nextInContainer advances inside the innermost streamed container.
func (d *Decoder) nextInContainer(ev *Event) error {
	f := &d.stack[len(d.stack)-1]
	c, ok := d.peek()
	if !ok {
		if d.rerr != nil {
			return d.endErr()
		}
		d.stack = d.stack[:0]
		return d.fail(d.base+int64(d.pos), -1, ReasonMalformed, rawjson.ErrUnexpectedEnd)
	}
	switch f.kind {
	case frameArray, frameItems:
		closer := byte(']')
		if c == closer {
			d.pos++
			d.stack = d.stack[:len(d.stack)-1]
			return errAgain
		}
		if f.n > 0 {
			if c != ',' {
				return d.containerSyntax(f.n, "after array element")
			}
			d.pos++
			if _, ok := d.peek(); !ok {
				return d.containerSyntax(f.n, "after array element")
			}
		}
		item := f.n
		f.n++
		start := d.base + int64(d.pos)
		if f.kind == frameArray {
			return d.whole(ev, start, item)
		}
		v, err := d.readValue(d.lim.MaxEventSize, indexer{ev}, ev)
		if err != nil {
			return d.valueFail(start, item, err)
		}
		d.pos += len(v)
		if rawjson.KindOf(v) != rawjson.Object {
			return d.fail(start, item, ReasonNotAudit, errNotAudit)
		}
		return d.finish(ev, v, start, item)
	default: // frameEventObj: between members of a streamed EventList
		if c == '}' {
			d.pos++
			d.stack = d.stack[:len(d.stack)-1]
			if !f.items {
				return d.fail(f.start, -1, ReasonNotAudit, errNotAudit)
			}
			return errAgain
		}
		if c != ',' {
			return d.containerSyntax(-1, "after object key:value pair")
		}
		d.pos++
		if _, ok := d.peek(); !ok {
			return d.containerSyntax(-1, "looking for beginning of object key string")
		}
		key, err := d.readValue(1024, nil, nil)
		if err != nil || rawjson.KindOf(key) != rawjson.String {
			return d.containerSyntax(-1, "looking for beginning of object key string")
		}
		isItems := string(key) == `"items"`
		d.pos += len(key)
		if c, ok := d.peek(); !ok || c != ':' {
			return d.containerSyntax(-1, "after object key")
		}
		d.pos++
		c, ok = d.peek()
		if !ok {
			return d.containerSyntax(-1, "looking for beginning of value")
		}
		if isItems && c == '[' {
			f.items = true
			d.pos++
			d.stack = append(d.stack, frame{kind: frameItems})
			return errAgain
		}
		start := d.base + int64(d.pos)
		if _, err := d.readValue(d.lim.MaxEventSize, nil, nil); err != nil && !errors.Is(err, errTooLarge) {
			return d.valueFail(start, -1, err)
		}
		d.skipValue()
		return errAgain
	}
}
