// Package api is Vigil's HTTP API, version 1, under /api/v1: alerts with
// filters, cursor pages and triage; summaries for the overview; the loaded
// rules, which admins enable and disable; cluster ingest health; a live
// stream of new alerts (Server-Sent Events); exports as JSON lines and
// CSV; and the UI's login. Every route but login needs a principal from
// package access, and writes need a role (responder to triage, admin for
// rules). Requests authenticated by a session cookie must carry the header
// X-Requested-With (any value), which a cross-site form cannot send, so
// that a cookie alone never authorises a write.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/vigilsec/vigil/internal/access"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/store"
)

// Rule is a loaded rule as the API shows it.
type Rule struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Source      string         `json:"source"` // the file that defines it
	Priority    alert.Priority `json:"priority"`
	Tags        []string       `json:"tags"`
	Enabled     bool           `json:"enabled"`
	// Overridden says Enabled was set at runtime (PUT /rules/{name}),
	// not by the rules files.
	Overridden bool  `json:"overridden"`
	Hits       int64 `json:"hits"` // alerts in the store
}

// Rules is the running rule set.
type Rules interface {
	// List returns every loaded rule, in rule order; Hits is left zero.
	List() []Rule
	// SetEnabled enables or disables a rule at runtime, persistently, and
	// applies it; ErrUnknownRule if no rule has that name.
	SetEnabled(name string, enabled bool) error
}

// ErrUnknownRule says no loaded rule has the name.
var ErrUnknownRule = errors.New("no such rule")

// Cluster is one cluster's ingest health.
type Cluster struct {
	Name            string    `json:"name"`
	EventsTotal     int64     `json:"events_total"`      // events accepted since start
	EventsPerSecond float64   `json:"events_per_second"` // over the last minute or so
	LastSeen        time.Time `json:"last_seen,omitzero"`
	Rejects         int64     `json:"rejects"` // events skipped at ingest since start
}

// Options are the API's dependencies.
type Options struct {
	Store    store.Store
	Events   store.EventStore // nil unless raw events are kept
	Access   *access.Access
	Rules    Rules
	Clusters func() []Cluster
	Hub      *Hub
	Logger   *slog.Logger
	Now      func() time.Time
	// MaxExport bounds the alerts one export returns (0 means 1,000,000).
	MaxExport int
}

type server struct {
	o Options
}

// New returns the API's handler; it serves paths under /api/v1/.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxExport <= 0 {
		o.MaxExport = 1_000_000
	}
	if o.Hub == nil {
		o.Hub = NewHub(nil)
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.HandleFunc("POST /api/v1/logout", s.logout)
	mux.Handle("GET /api/v1/me", s.with(access.RoleViewer, s.me))
	mux.Handle("GET /api/v1/alerts", s.with(access.RoleViewer, s.listAlerts))
	mux.Handle("GET /api/v1/alerts/{id}", s.with(access.RoleViewer, s.getAlert))
	mux.Handle("PATCH /api/v1/alerts/{id}", s.with(access.RoleResponder, s.patchAlert))
	mux.Handle("POST /api/v1/alerts/{id}/comments", s.with(access.RoleResponder, s.addComment))
	mux.Handle("GET /api/v1/alerts/{id}/exception", s.with(access.RoleViewer, s.exception))
	mux.Handle("GET /api/v1/summary", s.with(access.RoleViewer, s.summary))
	mux.Handle("GET /api/v1/rules", s.with(access.RoleViewer, s.listRules))
	mux.Handle("PUT /api/v1/rules/{name}", s.with(access.RoleAdmin, s.setRule))
	mux.Handle("GET /api/v1/clusters", s.with(access.RoleViewer, s.clusters))
	mux.Handle("GET /api/v1/stream", s.with(access.RoleViewer, s.stream))
	mux.Handle("GET /api/v1/export", s.with(access.RoleViewer, s.export))
	mux.Handle("GET /api/v1/events", s.with(access.RoleViewer, s.listEvents))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route: "+r.Method+" "+r.URL.Path)
	})
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

type principalKey struct{}

// principal returns the request's authenticated principal.
func principal(r *http.Request) access.Principal {
	p, _ := r.Context().Value(principalKey{}).(access.Principal)
	return p
}

// with authenticates the request and checks the role.
func (s *server) with(role access.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.o.Access.Authenticate(r)
		if err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !p.Can(role) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("%s needs the %s role; %s has %s", r.Method+" "+r.URL.Path, role, p.Name, p.Role))
			return
		}
		if p.Method == "session" && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("X-Requested-With") == "" {
			writeError(w, http.StatusForbidden, "a write with a session cookie needs the X-Requested-With header")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// maxBody bounds request bodies: logins, triage and comments are small.
const maxBody = 64 << 10

// decodeBody reads a JSON object into v, refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
		} else {
			writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		}
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid JSON body: more than one value")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // events keep their bytes: "&" in a URI stays "&"
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// storeError answers a store failure.
func (s *server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "alert not found")
	case errors.Is(err, store.ErrBadCursor):
		writeError(w, http.StatusBadRequest, "cursor: not one this API returned (with these filters and order)")
	case errors.Is(err, store.ErrBadStatus):
		writeError(w, http.StatusBadRequest, "status: expected open, acknowledged or resolved")
	case errors.Is(err, context.Canceled):
		// the client went away
	default:
		s.o.Logger.Error("api: store", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "the alert store failed; see Vigil's log")
	}
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decodeBody(w, r, &req) {
		return
	}
	src, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		src = r.RemoteAddr
	}
	c, p, err := s.o.Access.Login(req.Username, req.Password, src)
	switch {
	case errors.Is(err, access.ErrTooManyTries):
		w.Header().Set("Retry-After", "300")
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusUnauthorized, "wrong user name or password")
		return
	}
	http.SetCookie(w, c)
	writeJSON(w, http.StatusOK, p)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.o.Access.Logout(r))
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, principal(r))
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request) {
	list := s.o.Rules.List()
	sum, err := s.o.Store.Summarize(r.Context(), store.Query{}, store.SummaryOptions{Bucket: 24 * time.Hour * 365, Top: len(list) + 1})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	hits := map[string]int64{}
	for _, c := range sum.Top["rule"] {
		hits[c.Value] = c.Count
	}
	for i := range list {
		list[i].Hits = hits[list[i].Name]
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": list})
}

func (s *server) setRule(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Enabled == nil {
		writeError(w, http.StatusBadRequest, "enabled: required (true or false)")
		return
	}
	name := r.PathValue("name")
	if err := s.o.Rules.SetEnabled(name, *req.Enabled); err != nil {
		if errors.Is(err, ErrUnknownRule) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no rule is named %q", name))
			return
		}
		s.o.Logger.Error("api: set rule", "rule", name, "err", err)
		writeError(w, http.StatusInternalServerError, "could not apply the change: "+err.Error())
		return
	}
	s.o.Logger.Info("rule changed at runtime", "rule", name, "enabled", *req.Enabled, "by", principal(r).Name)
	for _, ru := range s.o.Rules.List() {
		if ru.Name == name {
			writeJSON(w, http.StatusOK, ru)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no rule is named %q", name))
}

func (s *server) clusters(w http.ResponseWriter, r *http.Request) {
	var list []Cluster
	if s.o.Clusters != nil {
		list = s.o.Clusters()
	}
	if list == nil {
		list = []Cluster{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"clusters": list})
}
