package wal

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// readBufSize is a Reader's initial read buffer; it grows to hold the
// largest record read.
const readBufSize = 1 << 20

// Record is one record read from the log.
type Record struct {
	Pos  Pos    // position of the record
	Next Pos    // position just after it; pass it to Release or NewReader
	Data []byte // the payload; valid until the next call to Next
}

// Reader reads records in order, up to the durable end of the log. A
// Reader is not safe for concurrent use; any number of Readers may run
// alongside Appends.
type Reader struct {
	l      *Log      // the log read
	pos    Pos       // position of the next record
	sr     segReader // reads the open segment
	seq    uint64    // segment open in sr; 0 if none
	closed bool      // Close was called
}

// NewReader returns a Reader that starts at from: a position the Log
// returned (from Append, Record.Next or Stats), or the zero Pos for the
// oldest retained record. A position before the first retained segment
// starts at the first retained record.
func (l *Log) NewReader(from Pos) *Reader {
	return &Reader{l: l, pos: from}
}

// Pos returns the position of the record the next call to Next returns.
func (r *Reader) Pos() Pos { return r.pos }

// Next returns the next durable record, blocking until one is appended or
// ctx is done (then it returns ctx.Err()). After the Log is closed it
// returns the remaining durable records, then ErrClosed. A bad record is a
// *CorruptError.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	if r.closed {
		return Record{}, ErrClosed
	}
	for {
		limit, wait, err := r.l.locate(&r.pos)
		if err != nil {
			return Record{}, err
		}
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Record{}, ctx.Err()
			}
		}
		if r.seq != r.pos.Seg {
			ok, err := r.open(r.pos.Seg)
			if err != nil {
				return Record{}, err
			}
			if !ok {
				continue // released meanwhile; locate moves past it
			}
		}
		payload, next, err := r.sr.read(r.pos.Off, limit)
		if err != nil {
			if isDecodeError(err) {
				err = &CorruptError{File: r.l.path(r.pos.Seg), Off: r.pos.Off, Err: err}
			}
			return Record{}, err
		}
		rec := Record{Pos: r.pos, Next: Pos{Seg: r.pos.Seg, Off: next}, Data: payload}
		r.pos = rec.Next
		return rec, nil
	}
}

// open opens segment seq for reading. It returns false if the file was
// deleted by Release.
func (r *Reader) open(seq uint64) (bool, error) {
	r.closeFile()
	f, err := os.Open(r.l.path(seq))
	if errors.Is(err, os.ErrNotExist) && r.l.isReleased(seq) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open segment: %w", err)
	}
	r.sr.reset(f, readBufSize)
	r.seq = seq
	return true, nil
}

// closeFile closes the open segment, if any.
func (r *Reader) closeFile() {
	if r.sr.f != nil {
		r.sr.f.Close()
		r.sr.f = nil
	}
	r.seq = 0
}

// Close releases the Reader's open file. Next then returns ErrClosed.
func (r *Reader) Close() error {
	r.closeFile()
	r.closed = true
	return nil
}

// isReleased reports whether segment seq is no longer retained.
func (l *Log) isReleased(seq uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return seq < l.segs[0].seq
}

// locate moves *p past segment ends and released segments and returns the
// offset up to which segment p.Seg may be read. If nothing durable is at
// *p yet it returns a channel that is closed when that may change.
func (l *Log) locate(p *Pos) (limit int64, wait <-chan struct{}, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if !p.Less(l.synced) {
			switch {
			case l.closed:
				return 0, nil, ErrClosed
			case l.err != nil:
				return 0, nil, l.err
			}
			return 0, l.syncedCh, nil
		}
		if p.Seg < l.segs[0].seq {
			*p = Pos{Seg: l.segs[0].seq}
			continue
		}
		i := int(p.Seg - l.segs[0].seq) // segment numbers have no gaps
		if p.Seg == l.synced.Seg {
			return l.synced.Off, nil, nil
		}
		// p.Seg < l.synced.Seg: the segment is whole and durable.
		if p.Off < l.segs[i].size {
			return l.segs[i].size, nil, nil
		}
		*p = Pos{Seg: p.Seg + 1}
	}
}
