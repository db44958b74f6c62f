// Package audit holds Vigil's view of a Kubernetes audit event
// (audit.k8s.io/v1 and v1beta1) and the decoders that find events in
// EventList bodies, JSON arrays and the API server's JSON-lines log.
//
// An Event keeps the JSON text it arrived as, plus the offsets of its
// top-level members, filled in by the same single pass that validates it.
// Field extraction then reads values straight from those bytes: an event is
// never decoded into maps or structs.
//
// Decoding is streamed, and memory is bounded by the event size limit
// however large an EventList is. Objects within the limit are read whole
// and classified before any of their items is returned. A larger object
// that does not start with "kind":"EventList" is taken member by member:
// when its "kind" comes after its "items" (keys sorted, as jq -S writes
// them), the items are returned as events before the kind is seen, and if
// the kind then turns out not to be "EventList", or is missing, the object
// is reported as not_audit_event after its items. See Decoder.
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
	// Cluster is the name of the cluster the event came from, as
	// authenticated by the server that received it; empty for recorded
	// input, where ka.cluster.name falls back to the event's annotation.
	Cluster string
	// Locator, when set, says where the request came from: the
	// ka.source.* fields ask it. The evaluator sets it when source
	// enrichment is configured; nil leaves those fields missing (as in
	// replay without enrichment). Parse leaves it as it is.
	Locator Locator

	top [numKeys]span
}

// Locator says where the request behind an event came from. The
// ka.source.* fields call it for every event they are extracted from, once
// per field, from many goroutines at once, so it must be safe for
// concurrent use and should not allocate once warm.
type Locator interface {
	// Source returns where the request came from, given the raw JSON value
	// of the event's top-level sourceIPs member (nil when absent), or nil
	// when nothing is known. The result is shared: callers must not modify
	// it.
	Source(sourceIPs []byte) *Source
}

// Source is where a request came from, as a Locator worked it out from
// the event's sourceIPs. Strings are empty and ASN is 0 when unknown.
type Source struct {
	// IP is the client's address. It is never just a claim of a
	// forwarding header: it is the address of the connection the API
	// server saw, or one that trusted proxies reported. It is empty when
	// even the last entry is not an address.
	IP string
	// Trusted reports that IP is the request's origin. It is false when
	// IP is only the farthest trusted proxy, because the proxies reported
	// no origin or an unreadable one.
	Trusted bool
	// Unverified is how many leading sourceIPs entries come from
	// forwarding headers that nothing vouches for: anyone can set them.
	Unverified int

	City        string // the city of IP, e.g. "Paris"
	Region      string // the first subdivision of the country, e.g. "Île-de-France"
	Country     string // the country's English name, e.g. "France"
	CountryCode string // the ISO 3166-1 alpha-2 code, e.g. "FR"
	ASN         uint32 // the autonomous system number
	Org         string // the network's owner, e.g. the AS organisation
	Network     string // the name of the network-map entry that holds IP
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
	if len(v) < 2 || v[0] != '"' {
		return errNoStageTimestamp
	}
	var t int64
	var ok bool
	if rawjson.IsPlainString(v) {
		t, ok = ParseTime(v[1 : len(v)-1])
	} else {
		t, ok = parseEscapedTime(v)
	}
	if !ok {
		return errBadTimestamp
	}
	e.Time = t
	return nil
}

// parseEscapedTime parses a string value with JSON escapes, which Falco's
// plugin resolves before parsing the time. Kept apart so that the common
// path does not pay for the scratch buffer.
//
//go:noinline
func parseEscapedTime(v []byte) (int64, bool) {
	var scratch [64]byte
	return ParseTime(rawjson.AppendString(scratch[:0], v))
}

// ParseTime parses a timestamp into Unix nanoseconds. It accepts exactly
// what time.Parse(time.RFC3339Nano, s) accepts, which is what Falco's
// k8saudit plugin uses, and returns the same instant as its UnixNano. That
// includes time.Parse's leniencies: a ',' before the fraction, more than
// nine fractional digits (truncated), a one-digit hour, zone offsets up to
// +24:00 or ±hh:60; but 'T' and 'Z' must be upper case. For years before
// 1678 or after 2262 the instant does not fit in int64 nanoseconds and the
// result is UnixNano's wrapped value, as Falco's plugin gets.
//
// The common form, 2006-01-02T15:04:05[.frac](Z|±hh:mm), is parsed without
// allocating; anything else is handed to time.Parse.
func ParseTime(b []byte) (int64, bool) {
	if ns, ok := parseTimeFast(b); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// parseTimeFast parses the common form of an RFC 3339 timestamp. What it
// accepts is a subset of what time.Parse's own RFC 3339 fast path accepts
// (time/format_rfc3339.go parseRFC3339), with the same result; it rejects
// the rest, including inputs that time.Parse may still accept.
func parseTimeFast(b []byte) (int64, bool) {
	// 2006-01-02T15:04:05[.frac](Z|±hh:mm)
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' && i+1 < len(b) && isDigit(b[i+1]) {
		i++
		// Digits past the ninth are dropped, not rounded, as time.Parse does.
		for scale := 100000000; i < len(b) && isDigit(b[i]); i++ {
			nsec += int(b[i]-'0') * scale
			scale /= 10
		}
	}
	offset := 0
	switch z := b[i:]; {
	case len(z) == 1 && z[0] == 'Z':
	case len(z) == 6 && (z[0] == '+' || z[0] == '-') && z[3] == ':':
		oh, okh := digits(z[1:3])
		om, okm := digits(z[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if z[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return secs*1e9 + int64(nsec), true // wraps outside 1678-2262, like Time.UnixNano
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days in month of the proleptic Gregorian
// year, as time.Date counts them.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given proleptic
// Gregorian date, for years 0 to 9999 (H. Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year) + 400 // one 400-year era later, so that division truncates like floor
	if month <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400                               // [0, 399]
	doy := int64((153*((month+9)%12)+2)/5 + day - 1) // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy           // [0, 146096]
	return era*146097 + doe - 719468 - 146097
}
