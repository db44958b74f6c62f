package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func (s *server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query(), s.o.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.o.Store.Query(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for i := range page.Alerts {
		page.Alerts[i].Event = nil // the list is for scanning; GET one has the event
	}
	if page.Alerts == nil {
		page.Alerts = []store.Record{}
	}
	writeJSON(w, http.StatusOK, page)
}

// alertDetail is one alert with its comments.
type alertDetail struct {
	store.Record
	Comments []store.Comment `json:"comments"`
}

func (s *server) detail(r *http.Request, id string) (alertDetail, error) {
	rec, err := s.o.Store.Get(r.Context(), id)
	if err != nil {
		return alertDetail{}, err
	}
	cs, err := s.o.Store.Comments(r.Context(), id)
	if err != nil {
		return alertDetail{}, err
	}
	if cs == nil {
		cs = []store.Comment{}
	}
	return alertDetail{Record: rec, Comments: cs}, nil
}

func (s *server) getAlert(w http.ResponseWriter, r *http.Request) {
	d, err := s.detail(r, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// maxText bounds assignees and comments.
const (
	maxAssignee = 200
	maxComment  = 10000
)

func (s *server) patchAlert(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status   *store.Status `json:"status"`
		Assignee *string       `json:"assignee"`
		Note     *string       `json:"note"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	rec, err := s.o.Store.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	t := rec.Triage
	if req.Status != nil {
		if !req.Status.Valid() {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q: expected open, acknowledged or resolved", *req.Status))
			return
		}
		t.Status = *req.Status
	}
	if req.Assignee != nil {
		if len(*req.Assignee) > maxAssignee {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("assignee: longer than %d bytes", maxAssignee))
			return
		}
		t.Assignee = *req.Assignee
	}
	if req.Note != nil {
		if len(*req.Note) > maxComment {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("note: longer than %d bytes", maxComment))
			return
		}
		t.Note = *req.Note
	}
	t.Updated = s.o.Now().UTC()
	if err := s.o.Store.SetStatus(r.Context(), id, t); err != nil {
		s.storeError(w, r, err)
		return
	}
	// The change is recorded as a comment too: the alert's history.
	var what []string
	if req.Status != nil && *req.Status != rec.Triage.Status {
		what = append(what, fmt.Sprintf("status %s → %s", rec.Triage.Status, t.Status))
	}
	if req.Assignee != nil && *req.Assignee != rec.Triage.Assignee {
		what = append(what, fmt.Sprintf("assignee %q", t.Assignee))
	}
	if len(what) > 0 {
		c := store.Comment{Author: principal(r).Name, Text: "changed " + strings.Join(what, ", "), Time: t.Updated}
		if err := s.o.Store.Comment(r.Context(), id, c); err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	d, err := s.detail(r, id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *server) addComment(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	req.Text = strings.TrimSpace(req.Text)
	switch {
	case req.Text == "":
		writeError(w, http.StatusBadRequest, "text: must not be empty")
		return
	case len(req.Text) > maxComment:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("text: longer than %d bytes", maxComment))
		return
	}
	c := store.Comment{Author: principal(r).Name, Text: req.Text, Time: s.o.Now().UTC()}
	if err := s.o.Store.Comment(r.Context(), r.PathValue("id"), c); err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *server) exception(w http.ResponseWriter, r *http.Request) {
	rec, err := s.o.Store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	yaml, err := Exception(&rec.Alert)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"rule": rec.Alert.Alert.Rule, "yaml": yaml})
}

func (s *server) summary(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := parseQuery(v, s.o.Now(), "bucket", "top")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	o := store.SummaryOptions{Bucket: time.Hour, Top: 10}
	if b := v.Get("bucket"); b != "" {
		d, err := time.ParseDuration(b)
		if err != nil || d < time.Minute || d > 31*24*time.Hour {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bucket: %q: expected a duration from 1m to 744h", b))
			return
		}
		o.Bucket = d
	}
	if t := v.Get("top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("top: %q: expected 1 to 100", t))
			return
		}
		o.Top = n
	}
	// A bounded number of buckets: a year in one-minute buckets is a
	// mistake, not a chart.
	if !q.Since.IsZero() {
		until := q.Until
		if until.IsZero() {
			until = s.o.Now()
		}
		if n := until.Sub(q.Since) / o.Bucket; n > 5000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bucket: %s makes %d buckets for this range; at most 5000", o.Bucket, n))
			return
		}
	}
	sum, err := s.o.Store.Summarize(r.Context(), q, o)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if sum.Buckets == nil {
		sum.Buckets = []store.Bucket{}
	}
	writeJSON(w, http.StatusOK, sum)
}

// csvHeader is the export's CSV columns.
var csvHeader = []string{"id", "time", "priority", "rule", "cluster", "namespace", "user", "verb", "resource",
	"source_ips", "status", "assignee", "message"}

func (s *server) export(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := parseQuery(v, s.o.Now(), "format")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	format := v.Get("format")
	switch format {
	case "", "jsonl":
		format = "jsonl"
		w.Header().Set("Content-Type", "application/x-ndjson")
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format: %q: expected jsonl or csv", format))
		return
	}
	q.Limit = store.MaxLimit
	// Check the first page before answering, so that a bad cursor or a
	// failing store is an error status rather than a truncated file.
	page, err := s.o.Store.Query(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	name := "vigil-alerts-" + s.o.Now().UTC().Format("20060102T150405Z") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	cw := csv.NewWriter(w)
	if format == "csv" {
		_ = cw.Write(csvHeader)
	}
	n := 0
	for {
		for i := range page.Alerts {
			rec := &page.Alerts[i]
			if format == "jsonl" {
				if enc.Encode(rec) != nil {
					return
				}
			} else {
				_ = cw.Write(csvRow(rec))
			}
			n++
		}
		cw.Flush()
		if page.Next == "" || n >= s.o.MaxExport {
			break
		}
		q.Cursor = page.Next
		if page, err = s.o.Store.Query(r.Context(), q); err != nil {
			// Mid-stream: the status is sent; log it and cut the file,
			// which the client sees as a truncated download.
			s.o.Logger.Error("api: export interrupted", "alerts", n, "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

func csvRow(rec *store.Record) []string {
	k := eventKeysOf(&rec.Alert)
	a := &rec.Alert.Alert
	row := []string{rec.ID, time.Unix(0, a.Time).UTC().Format(time.RFC3339Nano), a.Priority.String(), a.Rule,
		rec.Cluster, k.namespace, k.user, k.verb, k.resource, strings.Join(k.sourceIPs, " "),
		string(rec.Triage.Status), rec.Triage.Assignee, a.Message}
	for i := range row {
		row[i] = csvSafe(row[i])
	}
	return row
}

// csvSafe defuses a cell that a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
