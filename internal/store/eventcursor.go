package store

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// EventCursor is a position in QueryEvents' order: the last event of a
// page, by its event time and its place in the store's insertion order.
type EventCursor struct {
	Time int64 // event time, Unix ns
	Seq  int64 // the implementation's insertion sequence number
}

// eventCursorMark starts every encoded EventCursor. A Cursor (of alerts)
// starts with a digit, '-' or '^', so neither kind of cursor is taken for
// the other.
const eventCursorMark = "e"

// Encode returns c as an opaque string.
func (c EventCursor) Encode() string {
	s := eventCursorMark + strconv.FormatInt(c.Time, 10) + "/" + strconv.FormatInt(c.Seq, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseEventCursor decodes a string EventCursor.Encode returned, or
// returns ErrBadCursor.
func ParseEventCursor(s string) (EventCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return EventCursor{}, ErrBadCursor
	}
	rest, ok := strings.CutPrefix(string(b), eventCursorMark)
	if !ok {
		return EventCursor{}, ErrBadCursor
	}
	ts, seq, ok := strings.Cut(rest, "/")
	if !ok || ts == "" || seq == "" || ts[0] == '+' || seq[0] == '+' {
		return EventCursor{}, ErrBadCursor
	}
	var c EventCursor
	if c.Time, err = strconv.ParseInt(ts, 10, 64); err != nil {
		return EventCursor{}, ErrBadCursor
	}
	if c.Seq, err = strconv.ParseInt(seq, 10, 64); err != nil {
		return EventCursor{}, ErrBadCursor
	}
	return c, nil
}

// After returns the position q's page starts after: nil for the first
// page, ErrBadCursor for a cursor that EventCursor.Encode did not make
// (an alerts' cursor included).
func (q *EventQuery) After() (*EventCursor, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	c, err := ParseEventCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
