// Package store is the contract of Vigil's alert store: where every alert is
// kept with its context (the redacted audit event, the cluster, the capture)
// and its triage state, so that the API and the UI can search, page through
// and triage alerts. The implementations live in store/sqlite (embedded, the
// default) and store/postgres (shared by several replicas); both pass the
// conformance suite in store/storetest.
package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
)

// Errors callers branch on.
var (
	// ErrNotFound says no alert has the given ID.
	ErrNotFound = errors.New("alert not found")
	// ErrBadCursor says a Query's Cursor was not one a Page returned.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrBadStatus says a Triage's Status is not one of the Status constants.
	ErrBadStatus = errors.New("invalid triage status")
)

// Store keeps alerts. All methods may be called concurrently, from several
// goroutines and, for a shared implementation, from several processes. A
// Store owns no goroutines: retention runs when its owner calls Retain.
type Store interface {
	// Add stores alerts, all of them or none. It is idempotent by ID: an
	// alert whose ID is already stored is skipped, unchanged (outputs
	// deliver at least once), and keeps its triage state. A new alert starts
	// with Status StatusOpen. An error is a failure of the database; the
	// caller may retry the whole batch.
	Add(ctx context.Context, alerts []journal.Alert) error
	// Get returns the alert with the given ID, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// Query returns one page of the alerts that match q, newest event time
	// first (ties broken by ID, descending), or oldest first if q.Oldest.
	// It returns ErrBadCursor for a cursor it did not issue, or issued for
	// the other order.
	Query(ctx context.Context, q Query) (Page, error)
	// SetStatus replaces the triage state of the alert id. It returns
	// ErrNotFound if no alert has that ID, ErrBadStatus for an unknown status.
	SetStatus(ctx context.Context, id string, t Triage) error
	// Comment appends a comment to the alert id, or returns ErrNotFound.
	Comment(ctx context.Context, id string, c Comment) error
	// Comments returns the comments of the alert id, oldest first (none,
	// and no error, for an unknown ID).
	Comments(ctx context.Context, id string) ([]Comment, error)
	// Summarize counts the alerts that match q (its Cursor, Limit and
	// Oldest ignored) per time bucket and per priority, and ranks the most
	// frequent rules, users, namespaces and clusters among them. It returns
	// ErrBadSummary for options out of range.
	Summarize(ctx context.Context, q Query, o SummaryOptions) (Summary, error)
	// Stats reports the number and size of stored alerts.
	Stats(ctx context.Context) (Stats, error)
	// Retain deletes the alerts older than r.MaxAge, then the oldest alerts
	// until the stored size is at most r.MaxBytes, and returns how many it
	// deleted. It deletes in small transactions, so that writers and readers
	// are never locked out for long; cancelling ctx stops it between two.
	Retain(ctx context.Context, r Retention) (int, error)
	// Close releases the database. Other methods must not be called after it.
	Close() error
}

// Status is an alert's place in triage.
type Status string

// The triage statuses, in their usual order.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Valid reports whether s is one of the Status constants.
func (s Status) Valid() bool {
	return s == StatusOpen || s == StatusAcknowledged || s == StatusResolved
}

// Triage is what responders record about an alert.
type Triage struct {
	Status   Status    `json:"status"`             // open, acknowledged or resolved
	Assignee string    `json:"assignee,omitempty"` // who handles it
	Note     string    `json:"note,omitempty"`     // free text
	Updated  time.Time `json:"updated,omitzero"`   // when it last changed; set by the caller
}

// Comment is a responder's remark on an alert.
type Comment struct {
	Author string    `json:"author"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"` // set by the caller
}

// SummaryOptions shapes a Summarize.
type SummaryOptions struct {
	// Bucket is the width of the time buckets (at least a second). Buckets
	// start at multiples of Bucket since the Unix epoch, UTC.
	Bucket time.Duration
	// Top is how many entries each ranking keeps (0 means 10).
	Top int
}

// Summary is what Summarize counted.
type Summary struct {
	Total   int64    `json:"total"`
	Buckets []Bucket `json:"buckets"` // non-empty buckets, in time order
	// Top ranks each dimension's most frequent values, most frequent first
	// (ties by value, ascending). Keys: rule, user, namespace, cluster.
	Top map[string][]Count `json:"top"`
}

// Bucket counts the alerts whose event time falls in [Start, Start+Bucket).
type Bucket struct {
	Start      time.Time        `json:"start"`
	Count      int64            `json:"count"`
	ByPriority map[string]int64 `json:"by_priority"` // keyed by priority name, e.g. "Critical"
}

// Count is one entry of a ranking.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// TopDimensions are the keys of Summary.Top.
var TopDimensions = []string{"rule", "user", "namespace", "cluster"}

// Record is a stored alert with its triage state.
type Record struct {
	journal.Alert
	Triage Triage `json:"triage"`
}

// Query selects alerts. Zero fields don't filter; list fields match any of
// their values, except Tags, which must all be present.
type Query struct {
	Since       time.Time       // event time at or after
	Until       time.Time       // event time before
	Clusters    []string        // any of these clusters
	Rules       []string        // any of these rules
	MinPriority *alert.Priority // at least this severe
	Tags        []string        // all of these tags
	User        string          // the event's user.username
	Namespace   string          // the event's objectRef.namespace
	Verb        string          // the event's verb
	Resource    string          // the event's objectRef.resource
	Statuses    []Status        // any of these triage statuses
	SourceIP    string          // one of the event's sourceIPs
	// Oldest pages oldest event time first (ties by ID, ascending) instead
	// of newest first.
	Oldest bool
	// Text keeps the alerts whose message contains every
	// whitespace-separated word of Text, ignoring ASCII case.
	Text   string
	Cursor string // Page.Next of the previous page; empty for the first
	Limit  int    // page size: 0 means DefaultLimit, at most MaxLimit
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageLimit returns the page size q asks for.
func (q *Query) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}

// Words returns the words of q.Text.
func (q *Query) Words() []string { return strings.Fields(q.Text) }

// Page is one page of a Query's result.
type Page struct {
	Alerts []Record `json:"alerts"`
	Next   string   `json:"next,omitempty"` // cursor of the next page; empty on the last
}

// Stats describes what is stored.
type Stats struct {
	Count  int64     `json:"count"`  // stored alerts
	Bytes  int64     `json:"bytes"`  // sum of their Size
	Oldest time.Time `json:"oldest"` // event time of the oldest; zero if none
}

// Retention bounds what is stored. A zero bound is no bound.
type Retention struct {
	MaxAge   time.Duration // delete alerts whose event time is older
	MaxBytes int64         // delete the oldest alerts while Stats.Bytes is above
	Now      time.Time     // the reference time for MaxAge; zero means time.Now()
}

// Cutoff returns the event time before which alerts are too old, and
// whether there is one.
func (r *Retention) Cutoff() (int64, bool) {
	if r.MaxAge <= 0 {
		return 0, false
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	return now.Add(-r.MaxAge).UnixNano(), true
}

// RetainBatch is how many alerts Retain deletes per transaction.
const RetainBatch = 500

// Row is an alert as implementations store it: the columns that queries
// filter on, the alert without its event as JSON, and the event verbatim
// (never re-encoded, so the store cannot change the redaction).
type Row struct {
	ID        string
	Time      int64 // event time, Unix ns
	Priority  int
	Rule      string
	Cluster   string
	Tags      []string
	Message   string
	User      string
	Namespace string
	Verb      string
	Resource  string
	SourceIPs []string // the event's sourceIPs
	Data      []byte   // JSON of the journal.Alert without Event
	Event     []byte   // the redacted event as received
	Size      int64    // len(Data) + len(Event)
}

// NewRow builds the Row of a.
func NewRow(a *journal.Alert) (Row, error) {
	c := *a
	c.Event = nil
	data, err := json.Marshal(&c)
	if err != nil {
		return Row{}, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	r := Row{
		ID:       a.ID,
		Time:     a.Alert.Time,
		Priority: int(a.Alert.Priority),
		Rule:     a.Alert.Rule,
		Cluster:  a.Cluster,
		Tags:     a.Alert.Tags,
		Message:  a.Alert.Message,
		Data:     data,
		Event:    a.Event,
		Size:     int64(len(data) + len(a.Event)),
	}
	r.User, r.Namespace, r.Verb, r.Resource, r.SourceIPs = keys(a)
	return r, nil
}

// Size returns how many bytes a counts for in Stats and Retention.
func Size(a *journal.Alert) int64 {
	r, err := NewRow(a)
	if err != nil {
		return 0
	}
	return r.Size
}

// DecodeRecord rebuilds a stored alert from its Row's Data and Event.
func DecodeRecord(data, event []byte, t Triage) (Record, error) {
	var rec Record
	if err := json.Unmarshal(data, &rec.Alert); err != nil {
		return Record{}, fmt.Errorf("decode stored alert: %w", err)
	}
	rec.Event = nil // Data holds "event":null
	if len(event) > 0 {
		rec.Event = json.RawMessage(event)
	}
	rec.Triage = t
	return rec, nil
}

// keys returns the user, namespace, verb, resource and source IPs of a's
// event, or, when the event was omitted or is not a JSON object, of its
// output fields.
func keys(a *journal.Alert) (user, ns, verb, res string, ips []string) {
	if len(a.Event) > 0 {
		if k, ok := scanEvent(a.Event); ok {
			return k.user, k.namespace, k.verb, k.resource, k.sourceIPs
		}
	}
	for _, f := range a.Alert.Fields {
		if f.Missing || len(f.Values) == 0 {
			continue
		}
		switch f.Key {
		case "ka.user.name":
			user = f.Values[0]
		case "ka.target.namespace":
			ns = f.Values[0]
		case "ka.verb":
			verb = f.Values[0]
		case "ka.target.resource":
			res = f.Values[0]
		case "ka.sourceips":
			ips = f.Values
		}
	}
	return user, ns, verb, res, ips
}

// Cursor is a position in a Query's order: the last alert of a page.
type Cursor struct {
	Time   int64
	ID     string
	Oldest bool // the position is in the oldest-first order
}

// Encode returns c as an opaque string.
func (c Cursor) Encode() string {
	s := strconv.FormatInt(c.Time, 10) + "/" + c.ID
	if c.Oldest {
		s = "^" + s
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ParseCursor decodes a string Encode returned.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	var c Cursor
	rest, oldest := strings.CutPrefix(string(b), "^")
	c.Oldest = oldest
	ts, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return Cursor{}, ErrBadCursor
	}
	c.Time, err = strconv.ParseInt(ts, 10, 64)
	if err != nil || ts[0] == '+' {
		return Cursor{}, ErrBadCursor
	}
	c.ID = id
	return c, nil
}

// After returns the position q's page starts after: nil for the first
// page, ErrBadCursor for a cursor that Encode did not make or that a query
// in the other order returned.
func (q *Query) After() (*Cursor, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	c, err := ParseCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	if c.Oldest != q.Oldest {
		return nil, fmt.Errorf("%w: it pages the other order", ErrBadCursor)
	}
	return &c, nil
}

// Summary options.
const (
	DefaultTop = 10   // SummaryOptions.Top when zero
	MaxTop     = 1000 // the largest SummaryOptions.Top
)

// ErrBadSummary says SummaryOptions are out of range.
var ErrBadSummary = errors.New("invalid summary options")

// Check validates o and returns its bucket width in nanoseconds and its
// ranking length.
func (o *SummaryOptions) Check() (bucket int64, top int, err error) {
	if o.Bucket < time.Second {
		return 0, 0, fmt.Errorf("%w: bucket %v is shorter than a second", ErrBadSummary, o.Bucket)
	}
	switch {
	case o.Top < 0:
		return 0, 0, fmt.Errorf("%w: negative top %d", ErrBadSummary, o.Top)
	case o.Top == 0:
		top = DefaultTop
	default:
		top = min(o.Top, MaxTop)
	}
	return int64(o.Bucket), top, nil
}

// SummaryBuilder assembles a Summary from grouped counts.
type SummaryBuilder struct {
	bucket int64
	s      Summary
	idx    map[int64]int // bucket number → index in s.Buckets
}

// NewSummaryBuilder starts a Summary of buckets bucket nanoseconds wide.
func NewSummaryBuilder(bucket int64) *SummaryBuilder {
	b := &SummaryBuilder{bucket: bucket, idx: map[int64]int{}}
	b.s.Buckets = []Bucket{}
	b.s.Top = make(map[string][]Count, len(TopDimensions))
	for _, d := range TopDimensions {
		b.s.Top[d] = []Count{}
	}
	return b
}

// AddBucket counts n alerts of priority p in bucket number k (the bucket
// starting k*bucket ns after the epoch). Buckets must come in order of k.
func (b *SummaryBuilder) AddBucket(k int64, p int, n int64) {
	i, ok := b.idx[k]
	if !ok {
		i = len(b.s.Buckets)
		b.idx[k] = i
		b.s.Buckets = append(b.s.Buckets, Bucket{Start: time.Unix(0, k*b.bucket).UTC(), ByPriority: map[string]int64{}})
	}
	bk := &b.s.Buckets[i]
	bk.Count += n
	bk.ByPriority[alert.Priority(p).String()] += n
	b.s.Total += n
}

// AddTop appends value, counted n times, to the ranking of dimension dim.
// Entries must come in ranking order.
func (b *SummaryBuilder) AddTop(dim, value string, n int64) {
	b.s.Top[dim] = append(b.s.Top[dim], Count{Value: value, Count: n})
}

// Summary returns what was added.
func (b *SummaryBuilder) Summary() Summary { return b.s }

// MigrationVersions returns the versions of the migration files names,
// sorted: the number each base name starts with, as 3 for
// "migrations/0003_index.sql". Numbers may skip, never repeat: a version is
// what a database records as applied.
func MigrationVersions(names []string) ([]int, error) {
	versions := make([]int, len(names))
	for i, name := range names {
		base := path.Base(name)
		digits := base[:len(base)-len(strings.TrimLeft(base, "0123456789"))]
		v, err := strconv.Atoi(digits)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name does not start with its version", name)
		}
		if i > 0 && v <= versions[i-1] {
			return nil, fmt.Errorf("migration %s: version %d repeats or is out of order", name, v)
		}
		versions[i] = v
	}
	return versions, nil
}

// LikePattern returns the LIKE pattern (escape character '\') that matches
// strings containing w.
func LikePattern(w string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(w) + "%"
}

// UnixNano returns t in Unix ns, 0 for the zero time: how stores keep
// times.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromUnixNano is the inverse of UnixNano, in UTC.
func FromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// RetainBatches is the loop every Retain and RetainEvents runs: with a
// cutoff, byAge deletes up to RetainBatch records older than it until a
// call deletes fewer; with MaxBytes, bySize deletes a batch of the oldest
// until a call deletes none. Each call is one short transaction; ctx is
// checked between them. what names the records in errors ("alerts",
// "events"). It returns how many were deleted.
func RetainBatches(ctx context.Context, r Retention, what string,
	byAge func(cutoff int64) (int, error), bySize func() (int, error)) (int, error) {
	deleted := 0
	run := func(how string, step func() (int, error), done func(n int) bool) error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := step()
			deleted += n
			if err != nil {
				return fmt.Errorf("retain %s by %s: %w", what, how, err)
			}
			if done(n) {
				return nil
			}
		}
	}
	if cutoff, ok := r.Cutoff(); ok {
		if err := run("age", func() (int, error) { return byAge(cutoff) }, func(n int) bool { return n < RetainBatch }); err != nil {
			return deleted, err
		}
	}
	if r.MaxBytes > 0 {
		if err := run("size", bySize, func(n int) bool { return n == 0 }); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
