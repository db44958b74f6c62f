package output

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// Shared by the Mezmo and IBM Cloud Logs tests.

// saasEventSecret is the data of a Kubernetes Secret inside the test
// events: it must never leave Vigil.
const saasEventSecret = "c3VwZXItc2VjcmV0LWV2ZW50LWRhdGE="

// saasClock is a settable clock.
type saasClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *saasClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *saasClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var saasT0 = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// saasAlert returns a test alert raised at t.
func saasAlert(i int, t time.Time, p alert.Priority) *journal.Alert {
	return &journal.Alert{
		ID: fmt.Sprintf("%016x%016x%04x", 1, 4096+i, 0),
		Alert: alert.Alert{
			Time:     t.UnixNano(),
			Rule:     "Read secret",
			Priority: p,
			Source:   "k8s_audit",
			Tags:     []string{"k8s", "secrets"},
			Message:  fmt.Sprintf("Secret read (user=alice target=db-%d verb=get)", i),
			Hostname: "vigil-0",
			Fields: []alert.Field{
				{Key: "evt.time", Values: []string{strconv.FormatInt(t.UnixNano(), 10)}, Int: true},
				{Key: "ka.target.name", Values: []string{fmt.Sprintf("db-%d", i)}},
				{Key: "ka.user.groups", Values: []string{"system:authenticated", "dev"}, List: true},
				{Key: "ka.user.name", Values: []string{"alice"}},
				{Key: "ka.useragent", Missing: true},
			},
		},
		Cluster:  "prod",
		Capture:  "webhook",
		AuditID:  fmt.Sprintf("aud-%d", i),
		Stage:    "ResponseComplete",
		Received: t,
		Event:    json.RawMessage(`{"kind":"Event","responseObject":{"kind":"Secret","data":{"password":"` + saasEventSecret + `"}}}`),
	}
}

// saasLog is a concurrency-safe log capture.
type saasLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *saasLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *saasLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func saasLogger(l *saasLog) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// saasAssertNoLeak fails if any secret appears in any of the texts.
func saasAssertNoLeak(t *testing.T, what string, texts []string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			t.Fatal("empty secret in a leak check")
		}
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("%s leaks secret %q: %.300s", what, s, text)
			}
		}
	}
}

// mezmoKey is the test ingestion key.
const mezmoKey = "mezmo-ingestion-key-5f2a9c"

// mezmoLevels are the levels Mezmo parses (docs.mezmo.com, "Parsed Log
// Line Components").
var mezmoLevels = map[string]bool{"CRITICAL": true, "DEBUG": true, "EMERGENCY": true, "ERROR": true, "FATAL": true,
	"INFO": true, "SEVERE": true, "TRACE": true, "WARN": true, "ALERT": true}

// mezmoLine is one line of an ingest body, as the fake decodes it.
type mezmoLine struct {
	Timestamp *int64         `json:"timestamp"`
	Line      *string        `json:"line"`
	App       string         `json:"app"`
	Level     string         `json:"level"`
	Env       string         `json:"env"`
	Meta      map[string]any `json:"meta"`
}

// mezmoRequest is one request the fake received.
type mezmoRequest struct {
	Header http.Header
	URL    string
	Query  map[string][]string
	Body   []byte
	Lines  []mezmoLine
}

// mezmoFake is Mezmo's ingestion API as docs.mezmo.com/reference/ingest
// describes it: POST /logs/ingest, the ingestion key by basic auth (user
// name, empty password) or an apikey header but never both, hostname
// required, now in ms, a JSON body {"lines":[…]} of at most 10 MB. It
// answers 200 {"status":"ok"}, 400 {"status":"not ok","errors":[…]} for a
// bad request, 401 for a bad key, and whatever the test queues.
type mezmoFake struct {
	t        *testing.T
	srv      *httptest.Server
	clock    *saasClock
	key      string
	auth     string // basic or apikey
	query    map[string]string
	maxReq   int // body bound: Mezmo's 10 MB, or the sink's configured bound
	maxLine  int
	maxMeta  int
	echoKey  bool // a misbehaving server that echoes the key in its 401
	mu       sync.Mutex
	queue    []func(w http.ResponseWriter) // answers before success
	reqs     []mezmoRequest
	metaType map[string]string // meta key path → JSON type seen first
	problems []string
}

func newMezmoFake(t *testing.T, clock *saasClock) *mezmoFake {
	f := &mezmoFake{t: t, clock: clock, key: mezmoKey, auth: "basic", maxReq: config.MezmoMaxRequestBytes, maxLine: config.MezmoMaxLineBytes,
		maxMeta: config.MezmoMaxLineBytes, query: map[string]string{"hostname": "vigil-host"}, metaType: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *mezmoFake) fail(w http.ResponseWriter, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.problems = append(f.problems, msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"status": "not ok", "errors": []string{msg}})
	w.Write(b)
}

func (f *mezmoFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, config.MezmoMaxRequestBytes+1))
	if err != nil {
		f.fail(w, 400, "read body: %v", err)
		return
	}
	f.reqs = append(f.reqs, mezmoRequest{Header: r.Header.Clone(), URL: r.URL.String(), Query: r.URL.Query(), Body: body})
	req := &f.reqs[len(f.reqs)-1]
	if r.Method != http.MethodPost || r.URL.Path != "/logs/ingest" {
		f.fail(w, 404, "%s %s: not found", r.Method, r.URL.Path)
		return
	}
	// Authentication: exactly one method.
	user, pass, basic := r.BasicAuth()
	hdr := r.Header.Get("apikey")
	methods := 0
	for _, m := range []bool{basic, hdr != "", r.URL.Query().Has("apikey"), r.Header.Get("Authorization") != "" && !basic} {
		if m {
			methods++
		}
	}
	if methods != 1 {
		f.fail(w, 400, "use exactly one authentication method, got %d", methods)
		return
	}
	switch {
	case f.auth == "basic" && (!basic || pass != ""):
		f.fail(w, 400, "expected basic auth with an empty password")
		return
	case f.auth == "apikey" && hdr == "":
		f.fail(w, 400, "expected an apikey header")
		return
	}
	if got := user + hdr; got != f.key {
		w.WriteHeader(http.StatusUnauthorized)
		if f.echoKey {
			fmt.Fprintf(w, `{"error":"invalid ingestion key %s"}`, got)
		} else {
			io.WriteString(w, `{"error":"Unauthorized"}`)
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		f.fail(w, 400, "Content-Type %q", ct)
		return
	}
	// Query parameters: hostname required, now in ms, nothing unknown.
	q := r.URL.Query()
	for k, v := range q {
		if len(v) != 1 {
			f.fail(w, 400, "query %s given %d times", k, len(v))
			return
		}
		switch k {
		case "hostname", "tags", "mac", "ip":
			if v[0] != f.query[k] {
				f.fail(w, 400, "query %s=%q, want %q", k, v[0], f.query[k])
				return
			}
		case "now":
			ms, err := strconv.ParseInt(v[0], 10, 64)
			if err != nil || ms != f.clock.Now().UnixMilli() {
				f.fail(w, 400, "now=%q, want %d", v[0], f.clock.Now().UnixMilli())
				return
			}
		default:
			f.fail(w, 400, "unknown query parameter %s", k)
			return
		}
	}
	for k, v := range f.query {
		if q.Get(k) != v {
			f.fail(w, 400, "query %s missing", k)
			return
		}
	}
	if !q.Has("now") {
		f.fail(w, 400, "query now missing")
		return
	}
	if len(body) > f.maxReq {
		f.fail(w, 400, "Message size too large: %d bytes", len(body))
		return
	}
	// Body schema.
	var doc struct {
		Lines []mezmoLine `json:"lines"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		f.fail(w, 400, "body: %v", err)
		return
	}
	if len(doc.Lines) == 0 {
		f.fail(w, 400, "no lines")
		return
	}
	var rawDoc struct{ Lines json.RawMessage }
	json.Unmarshal(body, &rawDoc)
	if err := saasExactKeys(body, "lines"); err != nil {
		f.fail(w, 400, "body: %v", err)
		return
	}
	if err := saasExactKeys(rawDoc.Lines, "timestamp", "line", "app", "level", "env", "meta"); err != nil {
		f.fail(w, 400, "lines: %v", err)
		return
	}
	for i, l := range doc.Lines {
		switch {
		case l.Line == nil || *l.Line == "":
			f.fail(w, 400, "lines[%d]: line required", i)
			return
		case len(*l.Line) > f.maxLine:
			f.fail(w, 400, "lines[%d]: line of %d bytes", i, len(*l.Line))
			return
		case l.Timestamp == nil:
			f.fail(w, 400, "lines[%d]: timestamp missing", i)
			return
		case !mezmoLevels[l.Level]:
			f.fail(w, 400, "lines[%d]: level %q", i, l.Level)
			return
		case l.App == "":
			f.fail(w, 400, "lines[%d]: app missing", i)
			return
		case l.Meta == nil:
			f.fail(w, 400, "lines[%d]: meta missing", i)
			return
		}
		if d := time.UnixMilli(*l.Timestamp).Sub(f.clock.Now()); d > 24*time.Hour || d < -24*time.Hour {
			f.fail(w, 400, "lines[%d]: timestamp %d more than a day from now", i, *l.Timestamp)
			return
		}
		mb, _ := json.Marshal(l.Meta)
		if len(mb) > f.maxMeta {
			f.fail(w, 400, "lines[%d]: meta of %d bytes", i, len(mb))
			return
		}
		if p := f.checkTypes("meta", l.Meta); p != "" {
			f.fail(w, 400, "lines[%d]: %s", i, p)
			return
		}
	}
	req.Lines = doc.Lines
	if len(f.queue) > 0 {
		answer := f.queue[0]
		f.queue = f.queue[1:]
		answer(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

// checkTypes enforces Mezmo's rule that a meta field keeps its type.
func (f *mezmoFake) checkTypes(path string, v any) string {
	typ := fmt.Sprintf("%T", v)
	if v == nil {
		return "" // null fits any type
	}
	if prev, ok := f.metaType[path]; ok && prev != typ {
		return fmt.Sprintf("%s is %s, was %s: inconsistent meta types are not parsed", path, typ, prev)
	}
	f.metaType[path] = typ
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if p := f.checkTypes(path+"."+k, e); p != "" {
				return p
			}
		}
	}
	return ""
}

func (f *mezmoFake) push(answers ...func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, answers...)
}

func (f *mezmoFake) requests() []mezmoRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mezmoRequest(nil), f.reqs...)
}

func (f *mezmoFake) lines() []mezmoLine {
	var ls []mezmoLine
	for _, r := range f.requests() {
		ls = append(ls, r.Lines...)
	}
	return ls
}

func (f *mezmoFake) checkProblems(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("mezmo fake refused a request: %s", p)
	}
}

// saasExactKeys checks that the JSON object raw, or every object of the
// JSON array raw, spells its keys exactly as one of allowed: encoding/json matches keys case-insensitively, an API need not.
func saasExactKeys(raw []byte, allowed ...string) error {
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	var objs []map[string]json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &objs); err != nil {
			return err
		}
	} else {
		var o map[string]json.RawMessage
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		objs = append(objs, o)
	}
	for i, o := range objs {
		for k := range o {
			if !ok[k] {
				return fmt.Errorf("[%d]: unknown key %q", i, k)
			}
		}
	}
	return nil
}

// saasStatus answers code with body and headers.
func saasStatus(code int, body string, hdr ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func newTestMezmo(t *testing.T, f *mezmoFake, c config.MezmoOutput, logs *saasLog) *Mezmo {
	t.Helper()
	if c.URL == "" {
		c.URL = f.srv.URL
	}
	if c.IngestionKey == "" && c.IngestionKeyFile == "" {
		c.IngestionKey = mezmoKey
	}
	s, err := NewMezmo(c, SinkOptions{Logger: saasLogger(logs), Hostname: "vigil-host", UIURL: "https://vigil.example/"})
	if err != nil {
		t.Fatal(err)
	}
	s.now = f.clock.Now
	t.Cleanup(func() { s.Close() })
	return s
}

// mezmoWantMeta is the meta of saasAlert(i, …), written out by hand.
func mezmoWantMeta(a *journal.Alert, i int) map[string]any {
	return map[string]any{
		"alert_id": a.ID,
		"audit_id": fmt.Sprintf("aud-%d", i),
		"capture":  "webhook",
		"cluster":  "prod",
		"hostname": "vigil-0",
		"output_fields": map[string]any{
			"evt.time":       float64(a.Alert.Time), // a JSON number
			"ka.target.name": fmt.Sprintf("db-%d", i),
			"ka.user.groups": []any{"system:authenticated", "dev"},
			"ka.user.name":   "alice",
			"ka.useragent":   nil,
		},
		"priority": a.Alert.Priority.String(),
		"rule":     "Read secret",
		"source":   "k8s_audit",
		"tags":     []any{"k8s", "secrets"},
		"time":     time.Unix(0, a.Alert.Time).UTC().Format("2006-01-02T15:04:05.000000000Z"),
		"url":      "https://vigil.example/alerts/" + a.ID,
	}
}

func TestMezmoWireFormat(t *testing.T) {
	tests := []struct {
		name   string
		cfg    config.MezmoOutput
		auth   string
		query  map[string]string
		format Format
		env    string
		app    string
	}{
		{
			name:  "basic auth, json, defaults",
			auth:  "basic",
			query: map[string]string{"hostname": "vigil-host"},
			app:   "vigil",
		},
		{
			name:   "apikey header, text, every query parameter",
			cfg:    config.MezmoOutput{Auth: "apikey", Format: "text", Hostname: "audit.example.com", Tags: []string{"k8s", "vigil"}, MAC: "C0:FF:EE:C0:FF:EE", IP: "10.0.1.1", App: "kube-audit", Env: "production"},
			auth:   "apikey",
			query:  map[string]string{"hostname": "audit.example.com", "tags": "k8s,vigil", "mac": "C0:FF:EE:C0:FF:EE", "ip": "10.0.1.1"},
			format: Text,
			env:    "production",
			app:    "kube-audit",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &saasClock{t: saasT0.Add(time.Minute)}
			f := newMezmoFake(t, clock)
			f.auth, f.query = tc.auth, tc.query
			logs := &saasLog{}
			s := newTestMezmo(t, f, tc.cfg, logs)
			prios := []alert.Priority{alert.PriorityEmergency, alert.PriorityAlert, alert.PriorityCritical, alert.PriorityError,
				alert.PriorityWarning, alert.PriorityNotice, alert.PriorityInformational, alert.PriorityDebug}
			wantLevel := []string{"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG"}
			var batch []*journal.Alert
			for i, p := range prios {
				batch = append(batch, saasAlert(i, saasT0, p))
			}
			if err := s.Send(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			f.checkProblems(t)
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			lines := reqs[0].Lines
			if len(lines) != len(batch) {
				t.Fatalf("%d lines, want %d", len(lines), len(batch))
			}
			for i, l := range lines {
				a := batch[i]
				var want string
				if tc.format == Text {
					want = string(alert.AppendText(nil, &a.Alert, time.UTC))
				} else {
					want = string(alert.AppendJSON(nil, &a.Alert, time.UTC))
				}
				if *l.Line != want {
					t.Errorf("line %d = %s\nwant %s", i, *l.Line, want)
				}
				if *l.Timestamp != saasT0.UnixMilli() {
					t.Errorf("line %d timestamp %d, want %d", i, *l.Timestamp, saasT0.UnixMilli())
				}
				if l.Level != wantLevel[i] || l.App != tc.app || l.Env != tc.env {
					t.Errorf("line %d level %q app %q env %q, want %q %q %q", i, l.Level, l.App, l.Env, wantLevel[i], tc.app, tc.env)
				}
				if want := mezmoWantMeta(a, i); !reflect.DeepEqual(l.Meta, want) {
					t.Errorf("line %d meta = %#v\nwant %#v", i, l.Meta, want)
				}
			}
			if ua := reqs[0].Header.Get("User-Agent"); ua != "vigil" {
				t.Errorf("User-Agent %q", ua)
			}
			mezmoAssertNoLeak(t, reqs, nil, logs)
		})
	}
}

// mezmoAssertNoLeak checks that the key travels only in its auth field
// and the event's secret nowhere.
func mezmoAssertNoLeak(t *testing.T, reqs []mezmoRequest, errs []error, logs *saasLog) {
	t.Helper()
	var texts []string
	for _, r := range reqs {
		texts = append(texts, r.URL, string(r.Body))
		for k, vs := range r.Header {
			if k == "Authorization" || k == "Apikey" {
				continue
			}
			texts = append(texts, k+": "+strings.Join(vs, ","))
		}
	}
	saasAssertNoLeak(t, "request", texts, mezmoKey, base64.StdEncoding.EncodeToString([]byte(mezmoKey+":")), saasEventSecret)
	texts = []string{logs.String()}
	for _, err := range errs {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	saasAssertNoLeak(t, "error or log", texts, mezmoKey, saasEventSecret)
}

func TestMezmoErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		key       string // sent key; "" = the right one
		echo      bool
		permanent bool
		delay     time.Duration // Retry-After; 0 = none
	}{
		{name: "bad key", key: "wrong-ingestion-key-77", permanent: true},
		{name: "bad key echoed by the server", key: "wrong-ingestion-key-77", echo: true, permanent: true},
		{name: "400", answer: saasStatus(400, `{"status":"not ok","errors":["local:10::Broker: Message size too large"]}`), permanent: true},
		{name: "403", answer: saasStatus(403, `{"error":"Forbidden"}`), permanent: true},
		{name: "429 with Retry-After", answer: saasStatus(429, `{"error":"Too Many Requests"}`, "Retry-After", "7"), delay: 7 * time.Second},
		{name: "500", answer: saasStatus(500, `{"status":"not ok"}`)},
		{name: "502", answer: saasStatus(502, ``)},
		{name: "503 with Retry-After", answer: saasStatus(503, `unavailable`, "Retry-After", "2"), delay: 2 * time.Second},
		{name: "redirect", answer: saasStatus(307, ``, "Location", "https://evil.example/"), permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &saasClock{t: saasT0}
			f := newMezmoFake(t, clock)
			f.echoKey = tc.echo
			if tc.answer != nil {
				f.push(tc.answer)
			}
			logs := &saasLog{}
			var c config.MezmoOutput
			if tc.key != "" {
				c.IngestionKey = config.Secret(tc.key)
			}
			s := newTestMezmo(t, f, c, logs)
			err := s.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			if d, ok := RetryDelay(err); ok != (tc.delay > 0) || d != tc.delay {
				t.Errorf("retry delay %v %v, want %v", d, ok, tc.delay)
			}
			mezmoAssertNoLeak(t, f.requests(), []error{err}, logs)
			if tc.key != "" {
				saasAssertNoLeak(t, "error", []string{err.Error()}, tc.key)
			}
		})
	}
}

// TestMezmoOutage replays a 503, 429, 500 sequence: each Send fails
// retryably and sends nothing twice once the service is back.
func TestMezmoOutage(t *testing.T) {
	clock := &saasClock{t: saasT0}
	f := newMezmoFake(t, clock)
	f.push(saasStatus(503, ""), saasStatus(429, "", "Retry-After", "1"), saasStatus(500, ""))
	s := newTestMezmo(t, f, config.MezmoOutput{}, &saasLog{})
	batch := []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning), saasAlert(1, saasT0, alert.PriorityError)}
	for i := range 3 {
		err := s.Send(context.Background(), batch)
		if err == nil || IsPermanent(err) {
			t.Fatalf("attempt %d: %v, want a retryable error", i, err)
		}
		clock.Add(time.Second)
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := len(f.requests()); got != 4 {
		t.Errorf("%d requests, want 4", got)
	}
	if n := len(f.requests()[3].Lines); n != 2 {
		t.Errorf("%d lines delivered, want 2", n)
	}
}

func TestMezmoTransportError(t *testing.T) {
	clock := &saasClock{t: saasT0}
	f := newMezmoFake(t, clock)
	s := newTestMezmo(t, f, config.MezmoOutput{}, &saasLog{})
	f.srv.Close()
	err := s.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	saasAssertNoLeak(t, "error", []string{err.Error()}, mezmoKey, "/logs/ingest")
}

// TestMezmoSplit checks that a batch is split into requests under
// max_request_bytes, in order, each alert once.
func TestMezmoSplit(t *testing.T) {
	clock := &saasClock{t: saasT0}
	f := newMezmoFake(t, clock)
	const maxReq = 64 << 10
	s := newTestMezmo(t, f, config.MezmoOutput{MaxRequestBytes: maxReq}, &saasLog{})
	var batch []*journal.Alert
	for i := range 200 {
		a := saasAlert(i, saasT0, alert.PriorityWarning)
		a.Alert.Fields[3].Values = []string{strings.Repeat("x", 1500)}
		batch = append(batch, a)
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	f.checkProblems(t)
	reqs := f.requests()
	if len(reqs) < 5 {
		t.Errorf("%d requests, expected the batch to be split", len(reqs))
	}
	for i, r := range reqs {
		if len(r.Body) > maxReq {
			t.Errorf("request %d: %d bytes > %d", i, len(r.Body), maxReq)
		}
	}
	lines := f.lines()
	if len(lines) != len(batch) {
		t.Fatalf("%d lines, want %d", len(lines), len(batch))
	}
	for i, l := range lines {
		if l.Meta["alert_id"] != batch[i].ID {
			t.Fatalf("line %d is alert %v, want %s", i, l.Meta["alert_id"], batch[i].ID)
		}
	}
	if s.Truncated() != 0 {
		t.Errorf("truncated %d", s.Truncated())
	}
}

// TestMezmoTruncate checks that an alert over the line or meta bound is
// cut with a marker and still delivered.
func TestMezmoTruncate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    config.MezmoOutput
		mutate func(a *journal.Alert)
	}{
		{name: "huge field value, json", mutate: func(a *journal.Alert) {
			a.Alert.Fields[3].Values = []string{strings.Repeat("é", 60000)}
		}},
		{name: "huge message, text", cfg: config.MezmoOutput{Format: "text"}, mutate: func(a *journal.Alert) {
			a.Alert.Message = strings.Repeat("m", 100000)
		}},
		{name: "line and meta fit, the request does not", cfg: config.MezmoOutput{MaxRequestBytes: 64 << 10, MaxLineBytes: 60000, MaxMetaBytes: 60000}, mutate: func(a *journal.Alert) {
			a.Alert.Message = strings.Repeat("m", 25000)
			a.Alert.Fields[3].Values = []string{strings.Repeat("u", 25000)}
		}},
		{name: "many fields", cfg: config.MezmoOutput{MaxLineBytes: 4096, MaxMetaBytes: 4096}, mutate: func(a *journal.Alert) {
			for i := range 400 {
				a.Alert.Fields = append(a.Alert.Fields, alert.Field{Key: fmt.Sprintf("ka.req.f%03d", i), Values: []string{strings.Repeat("v", 40)}})
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &saasClock{t: saasT0}
			f := newMezmoFake(t, clock)
			if tc.cfg.MaxLineBytes != 0 {
				f.maxLine, f.maxMeta = int(tc.cfg.MaxLineBytes), int(tc.cfg.MaxMetaBytes)
			}
			if tc.cfg.MaxRequestBytes != 0 {
				f.maxReq = int(tc.cfg.MaxRequestBytes)
			}
			logs := &saasLog{}
			s := newTestMezmo(t, f, tc.cfg, logs)
			a := saasAlert(0, saasT0, alert.PriorityWarning)
			tc.mutate(a)
			if err := s.Send(context.Background(), []*journal.Alert{a, saasAlert(1, saasT0, alert.PriorityWarning)}); err != nil {
				t.Fatal(err)
			}
			f.checkProblems(t)
			lines := f.lines()
			if len(lines) != 2 {
				t.Fatalf("%d lines, want 2", len(lines))
			}
			raw, _ := json.Marshal(lines[0])
			if !strings.Contains(string(raw), saasTruncated) {
				t.Errorf("no truncation marker in %.300s", raw)
			}
			if lines[0].Meta["truncated"] != true || lines[1].Meta["truncated"] != nil {
				t.Errorf("truncated flags %v %v", lines[0].Meta["truncated"], lines[1].Meta["truncated"])
			}
			if s.Truncated() != 1 {
				t.Errorf("Truncated() = %d, want 1", s.Truncated())
			}
			if !strings.Contains(logs.String(), a.ID) {
				t.Errorf("the truncation is not logged with the alert ID: %s", logs.String())
			}
		})
	}
}

// TestMezmoTimestamp checks the LogDNA clients' rule: a time more than a
// day from now is replaced by now (the event time stays in meta.time).
func TestMezmoTimestamp(t *testing.T) {
	clock := &saasClock{t: saasT0}
	f := newMezmoFake(t, clock)
	s := newTestMezmo(t, f, config.MezmoOutput{}, &saasLog{})
	old := saasT0.Add(-72 * time.Hour)
	if err := s.Send(context.Background(), []*journal.Alert{saasAlert(0, old, alert.PriorityWarning)}); err != nil {
		t.Fatal(err)
	}
	f.checkProblems(t)
	l := f.lines()[0]
	if *l.Timestamp != saasT0.UnixMilli() {
		t.Errorf("timestamp %d, want now %d", *l.Timestamp, saasT0.UnixMilli())
	}
	if want := old.UTC().Format("2006-01-02T15:04:05.000000000Z"); l.Meta["time"] != want {
		t.Errorf("meta.time %v, want %s", l.Meta["time"], want)
	}
}

func TestMezmoKeyFile(t *testing.T) {
	clock := &saasClock{t: saasT0}
	f := newMezmoFake(t, clock)
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(mezmoKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestMezmo(t, f, config.MezmoOutput{IngestionKeyFile: path}, &saasLog{})
	if err := s.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)}); err != nil {
		t.Fatal(err)
	}
	f.checkProblems(t)
}

func TestMezmoNew(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	tests := []struct {
		name    string
		cfg     config.MezmoOutput
		wantURL string
		wantErr string
	}{
		{name: "default url", cfg: config.MezmoOutput{IngestionKey: "k"}, wantURL: "https://logs.mezmo.com/logs/ingest"},
		{name: "ibm log analysis region", cfg: config.MezmoOutput{IngestionKey: "k", URL: "https://logs.eu-de.logging.cloud.ibm.com/"}, wantURL: "https://logs.eu-de.logging.cloud.ibm.com/logs/ingest"},
		{name: "full path kept", cfg: config.MezmoOutput{IngestionKey: "k", URL: "https://logs.mezmo.com/logs/ingest"}, wantURL: "https://logs.mezmo.com/logs/ingest"},
		{name: "http refused", cfg: config.MezmoOutput{IngestionKey: "k", URL: "http://logs.mezmo.com"}, wantErr: "mezmo url: http sends the key in clear: use https (http only to a loopback address)"},
		{name: "key in url refused", cfg: config.MezmoOutput{IngestionKey: "k", URL: "https://key:secret-in-url@logs.mezmo.com"}, wantErr: "mezmo url: credentials do not go in the URL"},
		{name: "no key", cfg: config.MezmoOutput{}, wantErr: "mezmo ingestion_key: not set"},
		{name: "empty key file", cfg: config.MezmoOutput{IngestionKeyFile: empty}, wantErr: "mezmo ingestion_key_file " + empty + ": empty"},
		{name: "bad auth", cfg: config.MezmoOutput{IngestionKey: "k", Auth: "bearer"}, wantErr: `mezmo auth "bearer": expected basic or apikey`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewMezmo(tc.cfg, SinkOptions{})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				saasAssertNoLeak(t, "error", []string{err.Error()}, "secret-in-url")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.url != tc.wantURL {
				t.Errorf("url %q, want %q", s.url, tc.wantURL)
			}
		})
	}
}

// TestSaaSCut checks the cut at a UTF-8 boundary.
func TestSaaSCut(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 64, "short"},
		{strings.Repeat("a", 30), 20, "aaaaaa" + saasTruncated},
		{strings.Repeat("é", 20), 21, "ééé" + saasTruncated}, // 7 bytes of room: 3 runes, not 3.5
	}
	for _, tc := range tests {
		got := string(saasCut([]byte(tc.in), tc.limit))
		if got != tc.want {
			t.Errorf("saasCut(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
		if len(got) > tc.limit && len(tc.in) > tc.limit {
			t.Errorf("saasCut(%q, %d): %d bytes", tc.in, tc.limit, len(got))
		}
	}
}

func TestSaaSAppendString(t *testing.T) {
	for _, in := range []string{"plain", "quote\" back\\ nl\n tab\t cr\r", "\x00\x1f\x7f", "bad \xff utf8", "sep \u2028 \u2029", "émoji 🦀"} {
		got := saasAppendString(nil, []byte(in))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", in, got, err)
			continue
		}
		want := strings.ToValidUTF8(in, "\uFFFD")
		if back != want {
			t.Errorf("%q round-trips to %q", in, back)
		}
	}
}
