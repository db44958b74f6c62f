// Package batch is the record format of Vigil's write-ahead log: one
// record is one accepted request (an audit webhook POST, an admission
// review, or a chunk of a tailed audit log) holding its events, already
// validated and redacted, with the authenticated cluster and the time the
// request was received.
//
// Layout, all integers unsigned varints:
//
//	magic 'V' | version 1 | capture | received (Unix ns) |
//	len(cluster) cluster | count | count × (len(event) event)
//
// The log checksums every record, so a decode error here means a bug or a
// record written by an incompatible version, never a torn write.
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Capture says how the events of a batch were captured.
type Capture uint8

// Captures.
const (
	Webhook   Capture = 1 // the API server's audit webhook
	Admission Capture = 2 // an admission review turned into an audit event
	Tail      Capture = 3 // a line of an audit log file
)

func (c Capture) String() string {
	switch c {
	case Webhook:
		return "webhook"
	case Admission:
		return "admission"
	case Tail:
		return "tail"
	}
	return fmt.Sprintf("capture(%d)", uint8(c))
}

const (
	magic   = 'V'
	version = 1
)

// Header describes a batch.
type Header struct {
	Capture  Capture
	Received int64  // Unix nanoseconds
	Cluster  string // authenticated cluster name
}

// Encoder builds one record. The zero value is ready; Reset starts a new
// record and reuses the buffer.
type Encoder struct {
	buf   []byte
	count int
	hdr   int // length of the fixed header, before the count
}

// Reset starts a record with header h.
func (e *Encoder) Reset(h Header) {
	b := e.buf[:0]
	b = append(b, magic, version, byte(h.Capture))
	b = binary.AppendUvarint(b, uint64(h.Received))
	b = binary.AppendUvarint(b, uint64(len(h.Cluster)))
	b = append(b, h.Cluster...)
	e.buf, e.hdr, e.count = b, len(b), 0
}

// Add appends one event.
func (e *Encoder) Add(event []byte) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(event)))
	e.buf = append(e.buf, event...)
	e.count++
}

// Count returns the number of events added since Reset.
func (e *Encoder) Count() int { return e.count }

// Bytes returns the record. The count is written in front of the events
// here, so the result is only valid until the next Reset or Add.
func (e *Encoder) Bytes() []byte {
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], uint64(e.count))
	out := make([]byte, 0, len(e.buf)+n)
	out = append(out, e.buf[:e.hdr]...)
	out = append(out, tmp[:n]...)
	return append(out, e.buf[e.hdr:]...)
}

// Size returns the length Bytes would return.
func (e *Encoder) Size() int {
	var tmp [binary.MaxVarintLen64]byte
	return len(e.buf) + binary.PutUvarint(tmp[:], uint64(e.count))
}

// Decoder reads one record.
type Decoder struct {
	rec   []byte
	off   int
	left  uint64
	index int
}

// ErrFormat is wrapped by every decode error.
var ErrFormat = errors.New("bad batch record")

func formatErr(off int, what string) error {
	return fmt.Errorf("%w: byte %d: %s", ErrFormat, off, what)
}

// Decode reads the header of rec and returns a Decoder positioned at its
// first event. Events returned by Next alias rec.
func Decode(rec []byte) (Header, *Decoder, error) {
	var h Header
	if len(rec) < 3 || rec[0] != magic {
		return h, nil, formatErr(0, "not a batch record")
	}
	if rec[1] != version {
		return h, nil, formatErr(1, fmt.Sprintf("unsupported version %d", rec[1]))
	}
	h.Capture = Capture(rec[2])
	d := &Decoder{rec: rec, off: 3}
	recv, ok := d.uvarint()
	if !ok || recv > 1<<63-1 {
		return h, nil, formatErr(d.off, "bad receive time")
	}
	h.Received = int64(recv)
	n, ok := d.uvarint()
	if !ok || n > uint64(len(rec)-d.off) {
		return h, nil, formatErr(d.off, "bad cluster name length")
	}
	h.Cluster = string(rec[d.off : d.off+int(n)])
	d.off += int(n)
	if d.left, ok = d.uvarint(); !ok || d.left > uint64(len(rec)-d.off) {
		return h, nil, formatErr(d.off, "bad event count")
	}
	return h, d, nil
}

func (d *Decoder) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.rec[d.off:])
	if n <= 0 {
		return 0, false
	}
	d.off += n
	return v, true
}

// Len returns the number of events not yet read.
func (d *Decoder) Len() int { return int(d.left) }

// Next returns the next event, or ok=false after the last one. A record
// whose events do not add up is an error.
func (d *Decoder) Next() (event []byte, ok bool, err error) {
	if d.left == 0 {
		if d.off != len(d.rec) {
			return nil, false, formatErr(d.off, "trailing bytes after the last event")
		}
		return nil, false, nil
	}
	n, good := d.uvarint()
	if !good || n > uint64(len(d.rec)-d.off) {
		return nil, false, formatErr(d.off, fmt.Sprintf("bad length of event %d", d.index))
	}
	event = d.rec[d.off : d.off+int(n)]
	d.off += int(n)
	d.left--
	d.index++
	return event, true, nil
}
