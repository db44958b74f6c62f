package api_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilsec/vigil/internal/access"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// execEvent is an exec into a pod, as kube-apiserver logs it when the
// session starts.
func execEvent(user, ns, pod string, ip string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"6a1c2f0e-9d4b-4c1e-8f3a-%012d","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/%s/pods/%s/exec?command=sh&container=app&stdin=true&stdout=true&tty=true","verb":"create","user":{"username":%q,"groups":["system:authenticated"]},"sourceIPs":[%q],"userAgent":"kubectl/v1.31.0","objectRef":{"resource":"pods","namespace":%q,"name":%q,"apiVersion":"v1","subresource":"exec"},"responseStatus":{"metadata":{},"code":101},"requestReceivedTimestamp":"2026-12-01T10:00:00.000000Z","stageTimestamp":"2026-12-01T10:00:00.002000Z"}`,
		len(user)+len(pod), ns, pod, user, ip, ns, pod))
}

func mkAlert(i int, rule string, p alert.Priority, cluster, user, ns string) journal.Alert {
	pod := fmt.Sprintf("web-%d", i)
	return journal.Alert{
		ID: fmt.Sprintf("%016x%016x%04x", 1, i, 0),
		Alert: alert.Alert{Time: base.Add(time.Duration(i) * time.Minute).UnixNano(), Rule: rule, Priority: p, Source: "k8s_audit",
			Tags: []string{"k8s", "mitre_execution"}, Message: fmt.Sprintf("Exec into pod %s by %s", pod, user), Hostname: "vigil-0",
			Fields: []alert.Field{{Key: "ka.user.name", Values: []string{user}}}},
		Cluster: cluster, Capture: "webhook", AuditID: fmt.Sprintf("a-%d", i), Stage: "ResponseStarted", Received: base,
		Event: execEvent(user, ns, pod, fmt.Sprintf("10.23.2.%d", i%250+1)),
	}
}

type fakeRules struct {
	mu    sync.Mutex
	rules []api.Rule
}

func (f *fakeRules) List() []api.Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules)
}

func (f *fakeRules) SetEnabled(name string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.rules {
		if f.rules[i].Name == name {
			f.rules[i].Enabled, f.rules[i].Overridden = on, true
			return nil
		}
	}
	return api.ErrUnknownRule
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	store  store.Store
	hub    *api.Hub
	tokens map[string]string // role → token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.New(ctx, filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost) // cheap: race-detector runs
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, tokens: map[string]string{}}
	var toks []config.APIToken
	for _, role := range config.Roles {
		e.tokens[role] = "token-for-the-" + role + "-role"
		toks = append(toks, config.APIToken{Name: role + "-bot", Token: config.Secret(e.tokens[role]), Role: role})
	}
	acc, err := access.New(access.Options{DataDir: t.TempDir(), Config: config.API{
		Users:  []config.APIUser{{Name: "alice", PasswordHash: config.Secret(string(hash)), Role: "responder"}},
		Tokens: toks}})
	if err != nil {
		t.Fatal(err)
	}
	e.hub = api.NewHub(nil)
	rs := &fakeRules{rules: []api.Rule{{Name: "Exec or Attach Into Pod", Priority: alert.PriorityNotice, Enabled: true},
		{Name: "K8s Secret Listed", Priority: alert.PriorityWarning, Enabled: true}}}
	h := api.New(api.Options{Store: st, Access: acc, Rules: rs, Hub: e.hub,
		Now:      func() time.Time { return base.Add(24 * time.Hour) },
		Clusters: func() []api.Cluster { return []api.Cluster{{Name: "prod", EventsTotal: 42}} }})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) add(as ...journal.Alert) {
	e.t.Helper()
	if err := e.store.Add(context.Background(), as); err != nil {
		e.t.Fatal(err)
	}
}

// do sends a request with the role's token ("" for none) and decodes a
// JSON answer into out (if not nil); it returns the status.
func (e *env) do(role, method, path string, body any, out any) int {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, r)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 400 && !strings.Contains(string(data), `"error"`) {
		e.t.Errorf("%s %s: %d without an error message: %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	e.add(mkAlert(1, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments"))
	id := fmt.Sprintf("%016x%016x%04x", 1, 1, 0)
	tests := []struct {
		role, method, path string
		body               any
		want               int
	}{
		{"", "GET", "/api/v1/alerts", nil, 401},
		{"", "GET", "/api/v1/me", nil, 401},
		{"viewer", "GET", "/api/v1/alerts", nil, 200},
		{"viewer", "GET", "/api/v1/alerts/" + id, nil, 200},
		{"viewer", "PATCH", "/api/v1/alerts/" + id, map[string]any{"status": "acknowledged"}, 403},
		{"viewer", "POST", "/api/v1/alerts/" + id + "/comments", map[string]any{"text": "x"}, 403},
		{"responder", "PATCH", "/api/v1/alerts/" + id, map[string]any{"status": "acknowledged"}, 200},
		{"responder", "PATCH", "/api/v1/alerts/" + id, map[string]any{"status": "closed"}, 400},
		{"responder", "PATCH", "/api/v1/alerts/" + id, map[string]any{"colour": "red"}, 400},
		{"responder", "PATCH", "/api/v1/alerts/0000", map[string]any{"status": "resolved"}, 404},
		{"responder", "PUT", "/api/v1/rules/K8s Secret Listed", map[string]any{"enabled": false}, 403},
		{"admin", "PUT", "/api/v1/rules/K8s Secret Listed", map[string]any{"enabled": false}, 200},
		{"admin", "PUT", "/api/v1/rules/No Such Rule", map[string]any{"enabled": false}, 404},
		{"admin", "PUT", "/api/v1/rules/K8s Secret Listed", map[string]any{}, 400},
		{"viewer", "GET", "/api/v1/nothing", nil, 404},
	}
	for _, tt := range tests {
		if got := e.do(tt.role, tt.method, tt.path, tt.body, nil); got != tt.want {
			t.Errorf("%s %s %s: %d, want %d", tt.role, tt.method, tt.path, got, tt.want)
		}
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	e := newEnv(t)
	e.add(mkAlert(1, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments"))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path, body string, hdr bool) int {
		req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
		if hdr {
			req.Header.Set("X-Requested-With", "vigil")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/api/v1/login", `{"username":"alice","password":"wrong"}`, true); got != 401 {
		t.Fatalf("bad password: %d", got)
	}
	if got := post("/api/v1/login", `{"username":"alice","password":"correct horse battery"}`, true); got != 200 {
		t.Fatalf("login: %d", got)
	}
	resp, err := c.Get(e.srv.URL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	var me access.Principal
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me.Name != "alice" || me.Role != access.RoleResponder {
		t.Fatalf("me: %+v", me)
	}
	id := fmt.Sprintf("%016x%016x%04x", 1, 1, 0)
	if got := post("/api/v1/alerts/"+id+"/comments", `{"text":"looking"}`, false); got != 403 {
		t.Errorf("cookie write without X-Requested-With: %d, want 403", got)
	}
	if got := post("/api/v1/alerts/"+id+"/comments", `{"text":"looking"}`, true); got != 201 {
		t.Errorf("comment: %d", got)
	}
	if got := post("/api/v1/logout", ``, true); got != 204 {
		t.Errorf("logout: %d", got)
	}
	if resp, _ := c.Get(e.srv.URL + "/api/v1/me"); resp.StatusCode != 401 {
		t.Errorf("after logout: %d", resp.StatusCode)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	var as []journal.Alert
	for i := range 30 {
		rule, p, cl, user := "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob"
		if i%3 == 0 {
			rule, p, cl, user = "K8s Secret Listed", alert.PriorityWarning, "staging", "mallory"
		}
		as = append(as, mkAlert(i, rule, p, cl, user, "payments"))
	}
	e.add(as...)
	count := func(query string) int {
		t.Helper()
		var ids []string
		next := ""
		for pages := 0; ; pages++ {
			var page struct {
				Alerts []json.RawMessage `json:"alerts"`
				Next   string            `json:"next"`
			}
			q := query + "&limit=7"
			if next != "" {
				q += "&cursor=" + url.QueryEscape(next)
			}
			if code := e.do("viewer", "GET", "/api/v1/alerts?"+q, nil, &page); code != 200 {
				t.Fatalf("%s: %d", q, code)
			}
			for _, a := range page.Alerts {
				if strings.Contains(string(a), `"event":{`) {
					t.Fatalf("list item with its event: %.200s", a)
				}
				var r struct{ ID string }
				json.Unmarshal(a, &r)
				ids = append(ids, r.ID)
			}
			if next = page.Next; next == "" {
				break
			}
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(ids) {
			t.Errorf("%s: repeated alerts across pages", query)
		}
		return len(ids)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"", 30},
		{"order=oldest", 30},
		{"priority=warning", 10},
		{"priority=WARNING&cluster=prod", 0},
		{"cluster=prod&cluster=staging", 30},
		{"rule=K8s+Secret+Listed", 10},
		{"user=bob", 20},
		{"namespace=payments&verb=create&resource=pods", 30},
		{"source_ip=10.23.2.4", 1},
		{"q=WEB-1", 11}, // web-1, web-10 … web-19
		{"q=exec+mallory", 10},
		{"since=2026-12-01T10:10:00Z&until=2026-12-01T10:20:00Z", 10},
		{"since=23h", 0}, // now is base+24h and the alerts are at base+i minutes
		{"since=24h", 30},
		{"since=2d", 30},
		{"status=open", 30},
		{"status=resolved", 0},
		{"tag=k8s&tag=mitre_execution", 30},
	}
	for _, tt := range tests {
		if got := count(tt.query); got != tt.want {
			t.Errorf("%q: %d alerts, want %d", tt.query, got, tt.want)
		}
	}
	for _, bad := range []string{"priority=loud", "since=yesterday", "limit=0", "limit=5000", "order=up",
		"status=closed", "source_ip=host", "cursor=bogus", "colour=red"} {
		if code := e.do("viewer", "GET", "/api/v1/alerts?"+bad, nil, nil); code != 400 {
			t.Errorf("%q: %d, want 400", bad, code)
		}
	}
}

func TestTriageAndComments(t *testing.T) {
	e := newEnv(t)
	a := mkAlert(1, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments")
	e.add(a)
	var d struct {
		store.Record
		Comments []store.Comment `json:"comments"`
	}
	if code := e.do("responder", "PATCH", "/api/v1/alerts/"+a.ID, map[string]any{"status": "acknowledged", "assignee": "carol"}, &d); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	if d.Triage.Status != store.StatusAcknowledged || d.Triage.Assignee != "carol" || d.Triage.Updated.IsZero() {
		t.Errorf("triage: %+v", d.Triage)
	}
	if e.do("responder", "POST", "/api/v1/alerts/"+a.ID+"/comments", map[string]any{"text": "  benign: on-call debugging  "}, nil) != 201 {
		t.Fatal("comment")
	}
	if e.do("responder", "POST", "/api/v1/alerts/"+a.ID+"/comments", map[string]any{"text": " "}, nil) != 400 {
		t.Error("empty comment accepted")
	}
	e.do("viewer", "GET", "/api/v1/alerts/"+a.ID, nil, &d)
	if len(d.Comments) != 2 || d.Comments[0].Author != "responder-bot" || !strings.Contains(d.Comments[0].Text, "open → acknowledged") ||
		d.Comments[1].Text != "benign: on-call debugging" {
		t.Errorf("comments: %+v", d.Comments)
	}
	if string(d.Event) != string(a.Event) {
		t.Errorf("the detail's event is not the stored event")
	}
	var page store.Page
	e.do("viewer", "GET", "/api/v1/alerts?status=acknowledged", nil, &page)
	if len(page.Alerts) != 1 {
		t.Errorf("status=acknowledged: %d alerts", len(page.Alerts))
	}
}

// TestException checks that the snippet loads after the default rules and
// silences exactly the alert it came from.
func TestException(t *testing.T) {
	e := newEnv(t)
	a := mkAlert(1, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments")
	e.add(a)
	var ex struct{ Rule, YAML string }
	if code := e.do("viewer", "GET", "/api/v1/alerts/"+a.ID+"/exception", nil, &ex); code != 200 {
		t.Fatalf("exception: %d", code)
	}
	if ex.Rule != a.Alert.Rule || !strings.Contains(ex.YAML, "exceptions: append") {
		t.Fatalf("exception: %+v", ex)
	}
	fires := func(extra []rules.Source, ev json.RawMessage) bool {
		t.Helper()
		p, diags := engine.Load(append([]rules.Source{ruleset.Default()}, extra...), rules.Options{}, engine.DefaultOptions())
		if rules.HasErrors(diags) {
			t.Fatalf("rules with the exception: %v\n%s", diags, ex.YAML)
		}
		var evt audit.Event
		if err := audit.NewBytesDecoder(ev, audit.Options{}).Next(&evt); err != nil {
			t.Fatal(err)
		}
		st := p.NewState()
		for _, i := range p.Eval(&evt, st) {
			if p.Enabled()[i].Name == a.Alert.Rule {
				return true
			}
		}
		return false
	}
	snippet := []rules.Source{{Name: "exception.yaml", Data: []byte(ex.YAML)}}
	if !fires(nil, a.Event) {
		t.Fatal("the event does not raise the alert without the exception")
	}
	if fires(snippet, a.Event) {
		t.Errorf("the exception does not silence the alert:\n%s", ex.YAML)
	}
	if !fires(snippet, execEvent("bob", "payments", "web-2", "10.23.2.9")) {
		t.Errorf("the exception silences another pod too:\n%s", ex.YAML)
	}
	if !fires(snippet, execEvent(`eve" or true`, "payments", "web-1", "10.23.2.9")) {
		t.Errorf("the exception silences another user")
	}
}

func TestSummaryExportRulesClusters(t *testing.T) {
	e := newEnv(t)
	var as []journal.Alert
	for i := range 12 {
		as = append(as, mkAlert(i*10, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments"))
	}
	as = append(as, mkAlert(3, "K8s Secret Listed", alert.PriorityWarning, "prod", "=cmd|' /C calc'!A0", "payments"))
	e.add(as...)
	var sum store.Summary
	if code := e.do("viewer", "GET", "/api/v1/summary?since=2d&bucket=1h&top=5", nil, &sum); code != 200 {
		t.Fatalf("summary: %d", code)
	}
	if sum.Total != 13 || len(sum.Buckets) != 2 || sum.Top["rule"][0].Value != "Exec or Attach Into Pod" || sum.Top["rule"][0].Count != 12 {
		t.Errorf("summary: %+v", sum)
	}
	if code := e.do("viewer", "GET", "/api/v1/summary?since=30d&bucket=1m", nil, nil); code != 400 {
		t.Errorf("43200 buckets: %d, want 400", code)
	}

	get := func(path string) string {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["viewer"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	lines := strings.Split(strings.TrimSpace(get("/api/v1/export?format=jsonl")), "\n")
	if len(lines) != 13 || !strings.Contains(lines[0], `"event":{`) {
		t.Errorf("jsonl: %d lines", len(lines))
	}
	recs, err := csv.NewReader(strings.NewReader(get("/api/v1/export?format=csv&priority=warning"))).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "id" {
		t.Fatalf("csv: %v %v", recs, err)
	}
	if user := recs[1][6]; user != "'=cmd|' /C calc'!A0" {
		t.Errorf("a user name that a spreadsheet would run is exported as %q", user)
	}

	var rl struct{ Rules []api.Rule }
	e.do("viewer", "GET", "/api/v1/rules", nil, &rl)
	if len(rl.Rules) != 2 || rl.Rules[0].Hits != 12 || rl.Rules[1].Hits != 1 {
		t.Errorf("rules: %+v", rl.Rules)
	}
	var cl struct{ Clusters []api.Cluster }
	e.do("viewer", "GET", "/api/v1/clusters", nil, &cl)
	if len(cl.Clusters) != 1 || cl.Clusters[0].EventsTotal != 42 {
		t.Errorf("clusters: %+v", cl)
	}
}

func TestStream(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stream?priority=warning", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens["viewer"])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	for e.hub.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	notice := mkAlert(1, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments")
	warning := mkAlert(2, "K8s Secret Listed", alert.PriorityWarning, "prod", "mallory", "payments")
	e.hub.Publish([]journal.Alert{notice, warning})
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() && len(got) < 1 {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var r store.Record
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				t.Fatal(err)
			}
			if (r.Event != nil && string(r.Event) != "null") || r.Triage.Status != store.StatusOpen {
				t.Errorf("streamed record: event %d bytes, status %q", len(r.Event), r.Triage.Status)
			}
			got = append(got, r.ID)
		}
	}
	if len(got) != 1 || got[0] != warning.ID {
		t.Errorf("streamed %v, want only the warning %s", got, warning.ID)
	}
}

// TestSlowStreamDrops checks that a stream that does not read loses
// alerts, counted, instead of blocking the publisher.
func TestSlowStreamDrops(t *testing.T) {
	var dropped atomic.Int64
	h := api.NewHub(func(n int) { dropped.Add(int64(n)) })
	e := newEnv(t)
	_ = e
	srv := httptest.NewServer(api.New(api.Options{Store: e.store, Access: mustAccess(t), Rules: &fakeRules{}, Hub: h}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer token-for-the-viewer-role")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for h.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	batch := make([]journal.Alert, 5000)
	for i := range batch {
		batch[i] = mkAlert(i, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments")
	}
	// Loopback socket buffers hold megabytes: publish until the stream's
	// buffer and the socket's are full.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 40 {
			h.Publish(batch)
			if dropped.Load() > 0 {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Publish blocked on a slow stream")
	}
	if dropped.Load() == 0 {
		t.Error("nothing counted as dropped for a stream that never read")
	}
}

// TestStalledStreamEnds checks that a stream whose client stops reading
// ends at the write timeout rather than holding its handler (and the
// server's shutdown) for good.
func TestStalledStreamEnds(t *testing.T) {
	defer api.SetStreamWriteTimeout(300 * time.Millisecond)()
	h := api.NewHub(nil)
	e := newEnv(t)
	srv := httptest.NewServer(api.New(api.Options{Store: e.store, Access: mustAccess(t), Rules: &fakeRules{}, Hub: h}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer token-for-the-viewer-role")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for h.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	batch := make([]journal.Alert, 1000)
	for i := range batch {
		batch[i] = mkAlert(i, "Exec or Attach Into Pod", alert.PriorityNotice, "prod", "bob", "payments")
		batch[i].Alert.Message = strings.Repeat("x", 4096)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Subscribers() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a stream whose client does not read is still open after 10 s")
		}
		h.Publish(batch)
		time.Sleep(50 * time.Millisecond)
	}
}

func mustAccess(t *testing.T) *access.Access {
	a, err := access.New(access.Options{DataDir: t.TempDir(), Config: config.API{
		Tokens: []config.APIToken{{Name: "v", Token: "token-for-the-viewer-role", Role: "viewer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
