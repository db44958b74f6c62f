// Package audit holds Vigil's view of a Kubernetes audit event
// (audit.k8s.io/v1 and v1beta1) and the decoders that find events in
// EventList bodies, JSON arrays and the API server's JSON-lines log.
//
// An Event keeps the JSON text it arrived as, plus the offsets of its
// top-level members, filled in by the same single pass that validates it.
// Field extraction then reads values straight from those bytes: an event is
// never decoded into maps or structs.
package audit

import (
	"errors"
	"time"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// Key names a top-level member of an audit event that is indexed on decode.
type Key uint8

// Indexed top-level members of audit.k8s.io/v1 Event.
const (
	KeyKind Key = iota
	KeyAPIVersion
	KeyLevel
	KeyAuditID
	KeyStage
	KeyRequestURI
	KeyVerb
	KeyUser
	KeyImpersonatedUser
	KeySourceIPs
	KeyUserAgent
	KeyObjectRef
	KeyResponseStatus
	KeyRequestObject
	KeyResponseObject
	KeyRequestReceivedTimestamp
	KeyStageTimestamp
	KeyAnnotations
	numKeys
)

var keyNames = [numKeys]string{
	"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
	"impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus",
	"requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp", "annotations",
}

// String returns the JSON member name.
func (k Key) String() string {
	if k < numKeys {
		return keyNames[k]
	}
	return "?"
}

// KeyOf returns the Key for a top-level member name.
func KeyOf(name string) (Key, bool) {
	for k, n := range keyNames {
		if n == name {
			return Key(k), true
		}
	}
	return 0, false
}

type span struct{ start, end uint32 }

// Event is one audit event.
type Event struct {
	Raw    []byte // the event's JSON object as received (validated); may alias decoder buffers
	Time   int64  // stageTimestamp in nanoseconds since the Unix epoch
	Offset int64  // byte offset of the event in its input (after decompression)
	Input  string // the input's name, e.g. a file path or "-"

	top [numKeys]span
}

// Top returns the raw value of an indexed top-level member, or nil.
func (e *Event) Top(k Key) []byte {
	s := e.top[k]
	if s.end == 0 {
		return nil
	}
	return e.Raw[s.start:s.end]
}

// Member returns the raw value of any top-level member.
func (e *Event) Member(name string) ([]byte, bool) {
	if k, ok := KeyOf(name); ok {
		v := e.Top(k)
		return v, v != nil
	}
	return rawjson.Get(e.Raw, name)
}

// IsAudit reports whether the event has a top-level auditID, which Falco's
// k8saudit plugin requires before it extracts any ka.* field.
func (e *Event) IsAudit() bool { return e.top[KeyAuditID].end != 0 }

// indexer records top-level member offsets during validation.
type indexer struct{ ev *Event }

func (x indexer) Member(key, val []byte) {
	k, ok := keyOfBytes(key)
	if !ok {
		return
	}
	if x.ev.top[k].end != 0 {
		return // duplicate member: keep the first, as Falco's plugin does
	}
	raw := x.ev.Raw
	start := cap(raw) - cap(val)
	x.ev.top[k] = span{uint32(start), uint32(start + len(val))}
}

func keyOfBytes(b []byte) (Key, bool) {
	switch string(b) {
	case "kind":
		return KeyKind, true
	case "apiVersion":
		return KeyAPIVersion, true
	case "level":
		return KeyLevel, true
	case "auditID":
		return KeyAuditID, true
	case "stage":
		return KeyStage, true
	case "requestURI":
		return KeyRequestURI, true
	case "verb":
		return KeyVerb, true
	case "user":
		return KeyUser, true
	case "impersonatedUser":
		return KeyImpersonatedUser, true
	case "sourceIPs":
		return KeySourceIPs, true
	case "userAgent":
		return KeyUserAgent, true
	case "objectRef":
		return KeyObjectRef, true
	case "responseStatus":
		return KeyResponseStatus, true
	case "requestObject":
		return KeyRequestObject, true
	case "responseObject":
		return KeyResponseObject, true
	case "requestReceivedTimestamp":
		return KeyRequestReceivedTimestamp, true
	case "stageTimestamp":
		return KeyStageTimestamp, true
	case "annotations":
		return KeyAnnotations, true
	}
	return 0, false
}

var (
	errNoStageTimestamp = errors.New("can't read stageTimestamp")
	errBadTimestamp     = errors.New("stageTimestamp is not an RFC 3339 time")
)

// Parse validates raw as one JSON object, indexes it and reads its time. ev
// keeps raw without copying. It is the single per-event pass; decoders call
// it for every event they find.
func Parse(ev *Event, raw []byte, maxDepth int) error {
	ev.Raw = raw
	ev.top = [numKeys]span{}
	if _, err := rawjson.Scan(raw, maxDepth, indexer{ev}); err != nil {
		return err
	}
	return ev.setTime()
}

func (e *Event) setTime() error {
	v := e.Top(KeyStageTimestamp)
	if v == nil || !rawjson.IsPlainString(v) {
		return errNoStageTimestamp
	}
	t, ok := ParseTime(v[1 : len(v)-1])
	if !ok {
		return errBadTimestamp
	}
	e.Time = t
	return nil
}

// ParseTime parses an RFC 3339 timestamp with optional fractional seconds and
// a Z or ±hh:mm offset, as Falco's plugin accepts it, into Unix nanoseconds.
// A space in place of 'T' is rejected. It does not allocate.
func ParseTime(b []byte) (int64, bool) {
	// 2006-01-02T15:04:05[.frac](Z|±hh:mm)
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return 0, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		start := i
		scale := 100000000
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			nsec += int(b[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, okh := digits(b[i+1 : i+3])
		om, okm := digits(b[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day || t.Second() != sec {
		return 0, false // impossible date such as February 31, or a leap second
	}
	return t.UnixNano() - int64(offset)*int64(time.Second), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
