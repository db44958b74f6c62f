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
// whitespace: one JSON document or JSON lines. A malformed item is reported
// with its position and skipped; after a syntax error the decoder resumes at
// the next line.
//
// Memory stays bounded by the event size limit, however large the input:
//
//   - A top-level array is streamed element by element. Each element, an
//     Event or an EventList, is read whole and must fit the limit.
//   - A top-level object whose first member is "kind":"EventList", the order
//     in which the API server writes it, is streamed item by item.
//   - Any other top-level object that fits the limit is read whole and
//     classified: an Event, an EventList, or not an audit event.
//   - A larger object is streamed member by member. An audit Event never has
//     an "items" member, so its "items" array, if it has one, is streamed
//     item by item, each item bounded by the limit. If a "kind" other than
//     "EventList" came before the items, they are skipped and the object is
//     reported once as not_audit_event. If the kind comes only after the
//     items, or never, the items have already been returned when that is
//     found out; the object is then reported as not_audit_event after them.
//     A large object without an items array is reported as too_large.
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

	// Newline cursor: buf[:nlPos] holds nlCount newlines. lineAt moves it
	// forward, so reporting many errors costs one pass over the input.
	nlPos, nlCount int
	nlWork         int64 // bytes scanned for newlines (tests check it stays linear)

	// Containers being streamed: a top-level array, or a top-level object
	// and its items array.
	stack []frame
	// In-memory list whose items are being handed out (an EventList or
	// array small enough to have been read whole).
	pending    rawjson.Elements
	hasPending bool
	pendItem   int
}

type frameKind uint8

const (
	frameArray  frameKind = iota // top-level array: elements are events or lists
	frameItems                   // items array of a streamed object
	frameObject                  // top-level object streamed member by member
)

// listKind is what the "kind" member of a streamed object said.
type listKind uint8

const (
	kindUnseen    listKind = iota // no "kind" member yet
	kindEventList                 // "kind":"EventList"
	kindOther                     // any other kind
)

type frame struct {
	kind  frameKind
	n     int      // elements (or members) seen
	start int64    // input offset where the container starts
	line  int      // line where the container starts (the buffer may have moved on)
	list  listKind // frameObject: its "kind" so far
	items bool     // frameObject: an items array was found
	big   bool     // frameObject: streamed because it exceeds the event size limit
	done  bool     // frameObject: the object has been reported as skipped
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

// countNL counts the newlines in b.
func (d *Decoder) countNL(b []byte) int {
	d.nlWork += int64(len(b))
	return bytes.Count(b, []byte{'\n'})
}

// lineAt returns the 1-based line of input offset off, which must be in buf.
// Offsets at or after the newline cursor move it forward; an earlier offset
// is counted from the cursor or from buf[0], whichever is nearer.
func (d *Decoder) lineAt(off int64) int {
	i := max(0, min(int(off-d.base), d.end))
	switch {
	case i >= d.nlPos:
		d.nlCount += d.countNL(d.buf[d.nlPos:i])
		d.nlPos = i
		return d.lines + d.nlCount + 1
	case i < d.nlPos-i:
		return d.lines + d.countNL(d.buf[:i]) + 1
	default:
		return d.lines + d.nlCount - d.countNL(d.buf[i:d.nlPos]) + 1
	}
}

func (d *Decoder) fail(off int64, item int, reason Reason, err error) *Error {
	return d.failLine(off, d.lineAt(off), item, reason, err)
}

func (d *Decoder) failLine(off int64, line, item int, reason Reason, err error) *Error {
	return &Error{Input: d.opt.Name, Line: line, Offset: off, Item: item, Reason: reason, Err: err}
}

func (d *Decoder) tooLarge() error {
	return fmt.Errorf("%w (%d bytes)", errTooLarge, d.lim.MaxEventSize)
}

// fill reads more input, keeping buf[pos:end]. It reports false at EOF or on
// a read error (kept in d.rerr).
func (d *Decoder) fill() bool {
	if d.eof || d.rerr != nil {
		return false
	}
	if d.pos > 0 {
		// Advance the newline cursor to pos (it may already be past it),
		// then drop buf[:pos] from both the buffer and the cursor.
		nl := d.lineAt(d.base+int64(d.pos)) - d.lines - 1
		d.lines += nl
		d.nlCount -= nl
		d.nlPos -= d.pos
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
// input happens to be buffered, nor on whether the end of input has been
// seen yet. In particular a number that fills all limit bytes is too large
// even if the input ends right there: telling would take one more byte.
//
// A value cut off by the end of the buffer is scanned again, whole, once
// more input has arrived. To keep that linear when input trickles in, it is
// rescanned only when a skim of the new bytes says it may have ended (or
// gone wrong), or when the buffered part has doubled since the last scan.
// Scanning a longer prefix never changes the outcome, only when it is known.
func (d *Decoder) readValue(limit int, v rawjson.Visitor, ev *Event) (val []byte, err error) {
	var sk skim
	scanned := -1 // bytes of the value scanned last time
	for {
		data := d.buf[d.pos:d.end]
		window := data[:min(len(data), limit)]
		full := len(window) >= limit
		more := !full && !d.eof && d.rerr == nil
		if more && scanned >= 0 && len(window) < 2*scanned && !sk.mayEnd(window) {
			d.fill()
			continue
		}
		scanned = len(window)
		if ev != nil {
			ev.Raw = data
			ev.top = [numKeys]span{}
		}
		n, serr := rawjson.Scan(window, d.lim.MaxDepth, v)
		if serr == nil && n == len(window) && (full || more) && rawjson.KindOf(window) == rawjson.Number {
			// A number that reaches the end of what was scanned may go on.
			serr = rawjson.ErrUnexpectedEnd
		}
		switch {
		case serr == nil:
			return data[:n], nil
		case !errors.Is(serr, rawjson.ErrUnexpectedEnd):
			return nil, serr
		case full:
			return nil, errTooLarge
		case !more:
			return nil, serr
		}
		d.fill()
	}
}

// skim follows a value's strings and nesting through the bytes seen so far,
// without validating it, to tell readValue when scanning it again is useless.
type skim struct {
	i      int  // bytes of the value looked at
	depth  int  // open objects and arrays
	inStr  bool // inside a string
	esc    bool // after a backslash in a string
	scalar bool // the value is a number or literal
}

// mayEnd reports whether the value at b[0] may end within b, or hold a byte
// that cannot occur where it is. It looks only at the bytes after those of
// the previous call. Other errors, such as a missing comma, are left for
// the next scan to find.
func (s *skim) mayEnd(b []byte) bool {
	if s.i == 0 {
		if len(b) == 0 {
			return false
		}
		switch b[0] {
		case '{', '[':
			s.depth = 1
		case '"':
			s.inStr = true
		default:
			s.scalar = true
		}
		s.i = 1
	}
	for ; s.i < len(b); s.i++ {
		c := b[s.i]
		switch {
		case s.inStr:
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
				if s.depth == 0 {
					s.i++
					return true
				}
			case c < 0x20:
				return true // invalid in a string
			}
		case s.scalar:
			if !isScalarByte(c) {
				return true
			}
		case c == '"':
			s.inStr = true
		case c == '{' || c == '[':
			s.depth++
		case c == '}' || c == ']':
			s.depth--
			if s.depth == 0 {
				s.i++
				return true
			}
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ':' || isScalarByte(c):
		default:
			return true // invalid outside a string
		}
	}
	return false
}

// isScalarByte reports whether c can occur in a JSON number or literal.
func isScalarByte(c byte) bool {
	switch c {
	case '-', '+', '.', 'e', 'E', 't', 'r', 'u', 'f', 'a', 'l', 's', 'n':
		return true
	}
	return c >= '0' && c <= '9'
}

// skipValue consumes the value at d.pos without keeping it, whatever its
// size. It only tracks strings and nesting; it is used for values already
// known to be unwanted or too large. A scalar ends before the ',', space,
// '}' or ']' that follows it: those belong to the enclosing container.
func (d *Decoder) skipValue() {
	depth := 0
	inStr, esc := false, false
	started := false
	for {
		for d.pos < d.end {
			c := d.buf[d.pos]
			switch {
			case inStr:
				if esc {
					esc = false
				} else if c == '\\' {
					esc = true
				} else if c == '"' {
					inStr = false
					if depth == 0 {
						d.pos++
						return
					}
				}
			case c == '"':
				inStr, started = true, true
			case c == '{' || c == '[':
				depth++
				started = true
			case c == '}' || c == ']':
				if depth == 0 {
					return
				}
				depth--
				if depth == 0 {
					d.pos++
					return
				}
			case c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r':
				if depth == 0 && started {
					return
				}
			default:
				started = true
			}
			d.pos++
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
	return d.fail(off, item, reason, err)
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
		d.stack = append(d.stack, frame{kind: frameArray, start: start})
		return errAgain
	case '{':
		if d.isStreamedEventList() {
			return errAgain
		}
		v, err := d.readValue(d.lim.MaxEventSize, indexer{ev}, ev)
		if errors.Is(err, errTooLarge) {
			// Too large to be one event, but possibly an EventList whose
			// kind is not its first member: look at its members one by one.
			d.stack = append(d.stack, frame{kind: frameObject, start: start, line: d.lineAt(start), big: true})
			d.pos++
			return errAgain
		}
		if err != nil {
			return d.valueFail(start, -1, err)
		}
		d.pos += len(v)
		return d.classify(ev, v, start, -1)
	default:
		v, err := d.readValue(d.lim.MaxEventSize, nil, nil)
		if err != nil {
			return d.valueFail(start, -1, err)
		}
		d.pos += len(v)
		return d.fail(start, -1, ReasonNotAudit, errNotAudit)
	}
}

// valueFail turns a readValue error for the value at start into an *Error,
// then consumes what must be consumed so that decoding can go on. The
// error is built first, while start is still in the buffer.
func (d *Decoder) valueFail(start int64, item int, err error) error {
	if errors.Is(err, errTooLarge) {
		e := d.fail(start, item, ReasonTooLarge, d.tooLarge())
		d.skipValue()
		return e
	}
	e := d.syntaxFail(start, item, err)
	var de *rawjson.DepthError
	if errors.As(err, &de) {
		d.skipValue()
	} else {
		d.resync()
	}
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
		return d.fail(off, item, ReasonTooLarge, d.tooLarge())
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

// streamedListPrefix bounds how far isStreamedEventList looks, so that its
// answer does not depend on how much input is buffered.
const streamedListPrefix = 256

// isStreamedEventList checks whether the object at d.pos begins with
// "kind":"EventList", the order in which the API server writes it. If so it
// consumes that much and starts streaming the list's members, so that a body
// of any size is decoded one item at a time and each item is scanned once.
// It reads no more input than it needs to tell, so that a small event on a
// live stream is not held back waiting for the next one.
func (d *Decoder) isStreamedEventList() bool {
	for {
		b := d.buf[d.pos:min(d.end, d.pos+streamedListPrefix)]
		n, match, decided := matchListPrefix(b)
		if !decided && len(b) < streamedListPrefix && d.fill() {
			continue
		}
		if !match || !decided {
			return false
		}
		start := d.base + int64(d.pos)
		d.stack = append(d.stack, frame{kind: frameObject, n: 1, start: start, line: d.lineAt(start), list: kindEventList})
		d.pos += n
		return true
	}
}

// matchListPrefix matches b, which starts with '{', against
// {"kind":"EventList" with optional whitespace. It reports the length of
// the match, and whether more bytes would be needed to decide.
func matchListPrefix(b []byte) (n int, match, decided bool) {
	i := rawjsonWS(b, 1)
	for _, lit := range [...]string{`"kind"`, `:`, `"EventList"`} {
		rest := b[i:]
		if len(rest) < len(lit) {
			return 0, false, string(rest) != lit[:len(rest)]
		}
		if string(rest[:len(lit)]) != lit {
			return 0, false, true
		}
		i = rawjsonWS(b, i+len(lit))
	}
	return i, true, true
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
	if f.kind == frameObject {
		return d.nextMember(f, c)
	}
	if c == ']' {
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
}

// nextMember handles the next member of a top-level object streamed member
// by member (f), or its end; c is the next input byte.
func (d *Decoder) nextMember(f *frame, c byte) error {
	if c == '}' {
		d.pos++
		d.stack = d.stack[:len(d.stack)-1]
		switch {
		case f.done, f.items && f.list == kindEventList:
			return errAgain
		case !f.items && f.big:
			return d.failLine(f.start, f.line, -1, ReasonTooLarge, d.tooLarge())
		default:
			// No items, or items already returned but the kind is not
			// EventList (it came after them, or never).
			return d.failLine(f.start, f.line, -1, ReasonNotAudit, errNotAudit)
		}
	}
	if f.n > 0 {
		if c != ',' {
			return d.containerSyntax(-1, "after object key:value pair")
		}
		d.pos++
		if _, ok := d.peek(); !ok {
			return d.containerSyntax(-1, "looking for beginning of object key string")
		}
	}
	f.n++
	keyStart := d.base + int64(d.pos)
	key, err := d.readValue(d.lim.MaxEventSize, nil, nil)
	switch {
	case errors.Is(err, errTooLarge) && d.buf[d.pos] == '"':
		d.skipValue() // a key this long is neither "kind" nor "items"
	case err != nil && d.buf[d.pos] == '"':
		return d.valueFail(keyStart, -1, err)
	case err != nil || rawjson.KindOf(key) != rawjson.String:
		return d.containerSyntax(-1, "looking for beginning of object key string")
	default:
		d.pos += len(key)
	}
	isKind := string(key) == `"kind"`
	isItems := len(key) >= 2 && rawjson.KeyEqual(key[1:len(key)-1], "items")
	if c, ok := d.peek(); !ok || c != ':' {
		return d.containerSyntax(-1, "after object key")
	}
	d.pos++
	c, ok := d.peek()
	if !ok {
		return d.containerSyntax(-1, "looking for beginning of value")
	}
	if isItems && c == '[' {
		switch {
		case f.items:
			// A second items array: the in-memory path (rawjson.Get) only
			// sees the first.
			d.skipValue()
		case f.list == kindOther:
			f.items = true
			d.skipValue()
			if !f.done {
				f.done = true
				return d.failLine(f.start, f.line, -1, ReasonNotAudit, errNotAudit)
			}
		default:
			f.items = true
			d.pos++
			d.stack = append(d.stack, frame{kind: frameItems, start: d.base + int64(d.pos-1)})
		}
		return errAgain
	}
	start := d.base + int64(d.pos)
	v, err := d.readValue(d.lim.MaxEventSize, nil, nil)
	switch {
	case errors.Is(err, errTooLarge):
		d.skipValue()
	case err != nil:
		return d.valueFail(start, -1, err)
	default:
		d.pos += len(v)
	}
	if isKind && f.list == kindUnseen {
		// The first "kind" counts, as in Event.Top.
		f.list = kindOther
		if string(v) == `"EventList"` {
			f.list = kindEventList
		}
		if f.list == kindOther && f.items && !f.done {
			// The items have been returned already; report the object now.
			f.done = true
			return d.failLine(f.start, f.line, -1, ReasonNotAudit, errNotAudit)
		}
	}
	return errAgain
}
