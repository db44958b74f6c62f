package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/vigilsec/vigil/internal/store"
)

var eventParams = map[string]bool{"since": true, "until": true, "cluster": true, "user": true, "namespace": true,
	"verb": true, "resource": true, "name": true, "source_ip": true, "cursor": true, "limit": true}

// listEvents answers GET /api/v1/events: the raw audit events kept with
// store.keep_events, newest first, e.g. everything one user did in the
// hour around an alert.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) {
	if s.o.Events == nil {
		writeError(w, http.StatusNotFound, "raw events are not kept: set store.keep_events to keep them")
		return
	}
	v := r.URL.Query()
	for k := range v {
		if !eventParams[k] {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q", k))
			return
		}
	}
	var q store.EventQuery
	var err error
	now := s.o.Now()
	if q.Since, err = ParseTime(v.Get("since"), now); err != nil {
		writeError(w, http.StatusBadRequest, "since: "+err.Error())
		return
	}
	if q.Until, err = ParseTime(v.Get("until"), now); err != nil {
		writeError(w, http.StatusBadRequest, "until: "+err.Error())
		return
	}
	q.Clusters = nonEmpty(v["cluster"])
	q.User, q.Namespace, q.Verb, q.Resource, q.Name = v.Get("user"), v.Get("namespace"), v.Get("verb"), v.Get("resource"), v.Get("name")
	if ip := v.Get("source_ip"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("source_ip: %q is not an IP address", ip))
			return
		}
		q.SourceIP = a.String()
	}
	q.Cursor = v.Get("cursor")
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: %q: expected 1 to %d", l, store.MaxLimit))
			return
		}
		q.Limit = n
	}
	page, err := s.o.Events.QueryEvents(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if page.Events == nil {
		page.Events = []store.Event{}
	}
	writeJSON(w, http.StatusOK, page)
}
