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
// Version 2 is version 1 with everything after the version byte
// compressed as one S2 block (github.com/klauspost/compress/s2): audit
// JSON shrinks five to ten times at gigabytes per second, and the log's
// disk writes and fsyncs shrink with it. Encoder writes version 2; Decode
// reads both.
//
// The log checksums every record, so a decode error here means a bug or a
// record written by an incompatible version, never a torn write.
package batch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
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
	magic      = 'V'
	version    = 1
	compressed = 2
	// MaxDecoded bounds the decompressed size of a record.
	MaxDecoded = 256 << 20
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
	buf     []byte
	count   int
	hdr     int    // length of the fixed header, before the count
	scratch []byte // the plain record, reused
	out     []byte // the compressed record, reused
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

// Bytes returns the record, compressed (version 2). The result is owned
// by the Encoder and valid until the next Reset, Add or Bytes.
func (e *Encoder) Bytes() []byte {
	e.scratch = e.appendPlain(e.scratch[:0])
	plain := e.scratch
	need := 2 + s2.MaxEncodedLen(len(plain)-2)
	if cap(e.out) < need {
		e.out = make([]byte, need)
	}
	out := e.out[:need]
	out[0], out[1] = magic, compressed
	enc := s2.Encode(out[2:], plain[2:])
	return out[:2+len(enc)]
}

// plain returns the uncompressed (version 1) record in a new slice.
func (e *Encoder) plain() []byte { return e.appendPlain(nil) }

func (e *Encoder) appendPlain(out []byte) []byte {
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], uint64(e.count))
	out = append(out, e.buf[:e.hdr]...)
	out = append(out, tmp[:n]...)
	return append(out, e.buf[e.hdr:]...)
}

// PlainSize returns the uncompressed size of the record.
func (e *Encoder) PlainSize() int {
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
// first event. Events returned by Next alias rec, or a new buffer for a
// compressed record.
func Decode(rec []byte) (Header, *Decoder, error) {
	h, d, _, err := DecodeBuf(rec, nil)
	return h, d, err
}

// DecodeBuf is Decode, decompressing into buf (grown as needed) and
// returning it for reuse; events alias it.
func DecodeBuf(rec, buf []byte) (Header, *Decoder, []byte, error) {
	var h Header
	if len(rec) < 3 || rec[0] != magic {
		return h, nil, buf, formatErr(0, "not a batch record")
	}
	switch rec[1] {
	case version:
	case compressed:
		n, err := s2.DecodedLen(rec[2:])
		if err != nil || n > MaxDecoded {
			return h, nil, buf, formatErr(2, "bad compressed length")
		}
		if cap(buf) < n+2 {
			buf = make([]byte, n+2)
		}
		buf = buf[:n+2]
		buf[0], buf[1] = magic, version
		if _, err := s2.Decode(buf[2:], rec[2:]); err != nil {
			return h, nil, buf, formatErr(2, "bad compressed data: "+err.Error())
		}
		rec = buf
		if len(rec) < 3 {
			return h, nil, buf, formatErr(0, "empty record")
		}
	default:
		return h, nil, buf, formatErr(1, fmt.Sprintf("unsupported version %d", rec[1]))
	}
	h.Capture = Capture(rec[2])
	d := &Decoder{rec: rec, off: 3}
	recv, ok := d.uvarint()
	if !ok || recv > 1<<63-1 {
		return h, nil, buf, formatErr(d.off, "bad receive time")
	}
	h.Received = int64(recv)
	n, ok := d.uvarint()
	if !ok || n > uint64(len(rec)-d.off) {
		return h, nil, buf, formatErr(d.off, "bad cluster name length")
	}
	h.Cluster = string(rec[d.off : d.off+int(n)])
	d.off += int(n)
	if d.left, ok = d.uvarint(); !ok || d.left > uint64(len(rec)-d.off) {
		return h, nil, buf, formatErr(d.off, "bad event count")
	}
	return h, d, buf, nil
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
