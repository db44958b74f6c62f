// Package journal is the record format of Vigil's alert journal: the
// durable log the evaluator writes its alerts to, and that outputs (and the
// store) read, each from its own cursor.
//
// One journal record holds the alerts raised by one record of the event
// log, together with that record's position. Since a record is appended
// atomically, and the evaluator resumes after the last journalled source
// position, every logged event is evaluated, and its alerts journalled,
// exactly once, whatever the crash.
package journal

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/wal"
)

// Record is one journal record.
type Record struct {
	Src    wal.Pos `json:"src"`  // position of the event-log record the alerts came from
	Next   wal.Pos `json:"next"` // position just after it: where evaluation resumes
	Alerts []Alert `json:"alerts"`
}

// Alert is a rule match with what Vigil knows about its event beyond
// Falco's alert: where the event came from (the cluster, and the client's
// address and location) and the event itself, redacted.
type Alert struct {
	ID       string          `json:"id"` // unique and stable: the source position and the alert's index
	Alert    alert.Alert     `json:"alert"`
	Cluster  string          `json:"cluster"`
	Capture  string          `json:"capture"` // webhook, admission or tail
	AuditID  string          `json:"audit_id"`
	Stage    string          `json:"stage"`
	Received time.Time       `json:"received"` // when Vigil received the event
	Event    json.RawMessage `json:"event"`    // the audit event, with secrets redacted
	// Where says which of the event's source IPs to believe and where
	// each one is; nil when source enrichment is not configured or the
	// event has no sourceIPs.
	Where *enrich.Where `json:"where,omitempty"`
	// EventOmitted says Event was left out to keep the journal record
	// within its size limit (an event raising many alerts, or huge ones).
	EventOmitted bool `json:"event_omitted,omitempty"`
}

// summarySuffix ends the ID of a throttle's summary alert.
const summarySuffix = "-repeated"

// Summary reports whether a is a throttle's summary of repeated alerts
// rather than an alert of the journal.
func (a *Alert) Summary() bool { return strings.HasSuffix(a.ID, summarySuffix) }

// SummaryID returns the ID of the summary that follows the alert id.
func SummaryID(id string) string { return id + summarySuffix }

// AlertID returns the ID of the i-th alert of the record at src, in the
// event log of the data directory whose instance ID is instance.
// Positions restart in a new data directory, and a store may outlive one
// (PostgreSQL, or a restored alerts.db): the instance keeps those IDs from
// meeting the old ones, which the store's idempotent Add would skip.
func AlertID(instance string, src wal.Pos, i int) string {
	return fmt.Sprintf("%s%016x%016x%04x", instance, src.Seg, src.Off, i)
}

// Marshal encodes r.
func Marshal(r *Record) ([]byte, error) { return json.Marshal(r) }

// Unmarshal decodes a record.
func Unmarshal(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("journal record: %w", err)
	}
	return &r, nil
}
