package store

import (
	"context"
	"encoding/json"
	"time"
)

// EventStore keeps raw audit events, when the configuration asks for it
// (store.keep_events), for investigation: "what else did this user do in
// the last hour?". Both implementations of Store implement it; the
// conformance suite runs it.
type EventStore interface {
	// AddEvents stores events, all of them or none. It is idempotent by
	// (Cluster, AuditID, Stage): an event already stored is skipped.
	AddEvents(ctx context.Context, events []Event) error
	// QueryEvents returns one page of the events that match q, newest
	// event time first (ties: the last stored first). ErrBadCursor for a
	// cursor it did not issue.
	QueryEvents(ctx context.Context, q EventQuery) (EventPage, error)
	// EventStats reports the number and size of stored events.
	EventStats(ctx context.Context) (Stats, error)
	// RetainEvents deletes events older than r.MaxAge, then the oldest
	// until their size is at most r.MaxBytes, in small transactions, and
	// returns how many it deleted.
	RetainEvents(ctx context.Context, r Retention) (int, error)
}

// Event is a raw audit event as kept: the columns queries filter on, and
// the event itself, redacted at ingest, verbatim.
type Event struct {
	Time      time.Time       `json:"time"` // stageTimestamp
	Cluster   string          `json:"cluster"`
	Capture   string          `json:"capture"` // webhook, admission or tail
	AuditID   string          `json:"audit_id"`
	Stage     string          `json:"stage"`
	User      string          `json:"user"`
	Verb      string          `json:"verb"`
	Namespace string          `json:"namespace"`
	Resource  string          `json:"resource"`
	Name      string          `json:"name"`
	SourceIPs []string        `json:"source_ips"`
	Code      int             `json:"code"` // responseStatus.code; 0 if none
	Raw       json.RawMessage `json:"event"`
}

// Size returns how many bytes e counts for in EventStats and retention.
func (e *Event) Size() int64 { return int64(len(e.Raw)) }

// NewEvent reads the columns of a raw (redacted) audit event. It returns
// false for an event that is not a JSON object.
func NewEvent(raw []byte, cluster, capture string) (Event, bool) {
	var ev struct {
		AuditID string `json:"auditID"`
		Stage   string `json:"stage"`
		Verb    string `json:"verb"`
		User    struct {
			Username string `json:"username"`
		} `json:"user"`
		SourceIPs []string `json:"sourceIPs"`
		ObjectRef struct {
			Namespace string `json:"namespace"`
			Resource  string `json:"resource"`
			Name      string `json:"name"`
		} `json:"objectRef"`
		ResponseStatus struct {
			Code int `json:"code"`
		} `json:"responseStatus"`
		StageTimestamp time.Time `json:"stageTimestamp"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return Event{}, false
	}
	return Event{Time: ev.StageTimestamp.UTC(), Cluster: cluster, Capture: capture, AuditID: ev.AuditID, Stage: ev.Stage,
		User: ev.User.Username, Verb: ev.Verb, Namespace: ev.ObjectRef.Namespace, Resource: ev.ObjectRef.Resource,
		Name: ev.ObjectRef.Name, SourceIPs: ev.SourceIPs, Code: ev.ResponseStatus.Code, Raw: raw}, true
}

// EventQuery selects events. Zero fields don't filter.
type EventQuery struct {
	Since     time.Time // event time at or after
	Until     time.Time // event time before
	Clusters  []string  // any of these clusters
	User      string
	Namespace string
	Verb      string
	Resource  string
	Name      string
	SourceIP  string // one of the event's sourceIPs
	Cursor    string // EventPage.Next of the previous page
	Limit     int    // 0 means DefaultLimit, at most MaxLimit
}

// PageLimit returns the page size q asks for.
func (q *EventQuery) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultLimit
	case q.Limit > MaxLimit:
		return MaxLimit
	}
	return q.Limit
}

// EventPage is one page of an EventQuery's result.
type EventPage struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"`
}
