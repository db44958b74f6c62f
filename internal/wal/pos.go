package wal

import (
	"fmt"
	"strconv"
	"strings"
)

// Pos is the position of a record: the sequence number of its segment and
// its byte offset in that segment. Positions are ordered by segment, then
// offset. The zero Pos is before every record.
type Pos struct {
	Seg uint64 // segment sequence number; the first segment is 1
	Off int64  // byte offset in the segment
}

// Less reports whether p is before q.
func (p Pos) Less(q Pos) bool {
	if p.Seg != q.Seg {
		return p.Seg < q.Seg
	}
	return p.Off < q.Off
}

// String returns the position as "seg:off", for example "3:1048576".
func (p Pos) String() string {
	return strconv.FormatUint(p.Seg, 10) + ":" + strconv.FormatInt(p.Off, 10)
}

// MarshalText encodes p as its String form, so callers can persist it.
func (p Pos) MarshalText() ([]byte, error) {
	return p.AppendText(nil)
}

// AppendText appends the String form of p to b.
func (p Pos) AppendText(b []byte) ([]byte, error) {
	b = strconv.AppendUint(b, p.Seg, 10)
	b = append(b, ':')
	return strconv.AppendInt(b, p.Off, 10), nil
}

// UnmarshalText decodes a position written by MarshalText.
func (p *Pos) UnmarshalText(text []byte) error {
	s := string(text)
	seg, off, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("parse wal position %q: missing colon", s)
	}
	n, err := strconv.ParseUint(seg, 10, 64)
	if err != nil {
		return fmt.Errorf("parse wal position %q: segment: %w", s, err)
	}
	o, err := strconv.ParseInt(off, 10, 64)
	if err != nil {
		return fmt.Errorf("parse wal position %q: offset: %w", s, err)
	}
	if o < 0 {
		return fmt.Errorf("parse wal position %q: negative offset", s)
	}
	*p = Pos{Seg: n, Off: o}
	return nil
}
