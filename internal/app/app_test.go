package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/output"
	"github.com/vigilsec/vigil/internal/store"
)

const (
	testToken   = "test-token-0123456789abcdef"
	testCluster = "prod"
	captured    = "../../../shared/reference/captured"
)

// sink is a test output that keeps every alert it is sent.
type sink struct {
	mu     sync.Mutex
	alerts []*journal.Alert
	fail   int // fail this many Sends first (retryable)
}

func (s *sink) Send(_ context.Context, alerts []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return fmt.Errorf("destination down")
	}
	s.alerts = append(s.alerts, alerts...)
	return nil
}

func (s *sink) Close() error { return nil }

func (s *sink) snapshot() []*journal.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.alerts)
}

// waitFor polls until at least n alerts arrived, or fails.
func (s *sink) waitFor(t *testing.T, n int) []*journal.Alert {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.snapshot()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d alerts, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type server struct {
	app  *App
	url  string
	sink *sink
	cfg  *config.Config
}

func testConfig(t *testing.T) *config.Config {
	c := config.Default()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.Auth.Clusters = []config.Cluster{{Name: testCluster, Token: testToken}}
	c.Outputs = nil
	c.Shutdown = config.Duration(10 * time.Second)
	return &c
}

// start runs a server on cfg until the test ends.
func start(t *testing.T, cfg *config.Config) *server {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	a, err := New(context.Background(), Options{Config: cfg, Sinks: []output.Output{{Name: "test", Sink: s, MinPriority: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	srv := &server{app: a, url: "http://" + a.Addr(), sink: s, cfg: cfg}
	t.Cleanup(func() { srv.stop(t) })
	return srv
}

func (s *server) stop(t *testing.T) {
	if s.app == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.app.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	s.app = nil
}

// post sends body to path with the test token (or the given headers).
func (s *server) post(t *testing.T, path string, body []byte, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(hdr) == 0 {
		hdr = []string{"Authorization", "Bearer " + testToken}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func capturedFiles(t *testing.T, pattern string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(captured, pattern))
	if len(files) == 0 {
		t.Skipf("no %s in %s", pattern, captured)
	}
	return files
}

// expectAlerts evaluates files directly with the server's rules, with the
// same auditID+stage dedup, and returns "auditID rule" keys, sorted.
func expectAlerts(t *testing.T, a *App, files []string) []string {
	t.Helper()
	p := a.program.Load()
	st := p.NewState()
	seen := map[string]bool{}
	var want []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := audit.NewBytesDecoder(data, audit.Options{Name: f})
		var ev audit.Event
		for d.Next(&ev) == nil {
			ev.Cluster = testCluster
			k := string(ev.Top(audit.KeyAuditID)) + string(ev.Top(audit.KeyStage))
			if seen[k] {
				continue
			}
			seen[k] = true
			for _, i := range p.Eval(&ev, st) {
				want = append(want, strings.Trim(string(ev.Top(audit.KeyAuditID)), `"`)+" "+p.Alert(st, i).Rule)
			}
		}
	}
	slices.Sort(want)
	return want
}

func keys(alerts []*journal.Alert) []string {
	var got []string
	for _, a := range alerts {
		got = append(got, a.AuditID+" "+a.Alert.Rule)
	}
	slices.Sort(got)
	return got
}

// TestServeCapturedEventLists posts the EventList bodies captured from a
// real API server and checks that exactly the alerts the rules raise on
// them reach the output, stamped with the authenticated cluster.
func TestServeCapturedEventLists(t *testing.T) {
	files := capturedFiles(t, "audit-eventlist-*.json")
	s := start(t, testConfig(t))
	total := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code, resp, _ := s.post(t, "/k8s-audit", body)
		if code != http.StatusOK || !strings.Contains(resp, `"skipped":0`) {
			t.Fatalf("%s: %d %s", f, code, resp)
		}
		var sum struct{ Accepted int }
		json.Unmarshal([]byte(resp), &sum)
		total += sum.Accepted
	}
	want := expectAlerts(t, s.app, files)
	if len(want) == 0 {
		t.Fatal("the captured events raise no alert with the built-in rules; the test would prove nothing")
	}
	got := s.sink.waitFor(t, len(want))
	time.Sleep(50 * time.Millisecond) // let any extra alert show up
	if g := keys(s.sink.snapshot()); !slices.Equal(g, want) {
		t.Errorf("alerts:\n got %q\nwant %q", g, want)
	}
	for _, a := range got {
		if a.Cluster != testCluster || a.Capture != "webhook" {
			t.Errorf("alert %s: cluster %q capture %q", a.Alert.Rule, a.Cluster, a.Capture)
		}
		if !hasField(a, "ka.cluster.name", testCluster) {
			t.Errorf("alert %s lacks ka.cluster.name=%s in its output fields", a.Alert.Rule, testCluster)
		}
		if len(a.Event) == 0 || !json.Valid(a.Event) {
			t.Errorf("alert %s: event not kept", a.Alert.Rule)
		}
	}
	if ev, _ := s.app.Evaluated(); int(ev) != total {
		t.Errorf("evaluated %d events, accepted %d", ev, total)
	}
	// The same alerts are in the store, with their events.
	var stored []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		page, err := s.app.Store().Query(context.Background(), store.Query{Clusters: []string{testCluster}, Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		stored = stored[:0]
		for _, r := range page.Alerts {
			stored = append(stored, r.AuditID+" "+r.Alert.Alert.Rule)
		}
		if len(stored) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	slices.Sort(stored)
	if !slices.Equal(stored, want) {
		t.Errorf("stored alerts:\n got %q\nwant %q", stored, want)
	}
	m := scrape(t, s)
	for _, want := range []string{
		fmt.Sprintf(`vigil_events_decoded_total{capture="webhook",cluster="prod"} %d`, total),
		fmt.Sprintf(`vigil_events_evaluated_total{cluster="prod"} %d`, total),
		`vigil_cluster_seconds_since_last_event{cluster="prod"}`,
		`vigil_wal_bytes `, `vigil_batch_events_count 19`, `vigil_eval_batch_seconds_bucket`,
		`vigil_alerts_total{cluster="prod",priority=`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func hasField(a *journal.Alert, key, val string) bool {
	for _, f := range a.Alert.Fields {
		if f.Key == key && len(f.Values) == 1 && f.Values[0] == val {
			return true
		}
	}
	return false
}

func scrape(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// nsDelete is an event the built-in rules alert on.
func nsDelete(id string) string {
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"` + id + `","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/demo","verb":"delete","user":{"username":"admin","groups":["system:masters"]},` +
		`"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{"resource":"namespaces","name":"demo","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-05T10:00:00.000000Z","stageTimestamp":"2026-12-05T10:00:00.100000Z"}`
}

func eventList(items ...string) []byte {
	return []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`)
}

// TestServeRejects checks the answers to bad requests, and that one bad
// event costs nothing but itself.
func TestServeRejects(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ingest.MaxBodyBytes = 64 << 10
	cfg.Ingest.MaxEventBytes = 16 << 10
	cfg.Ingest.WALSegment = 1 << 20
	cfg.Ingest.WALMaxBytes = 8 << 20
	s := start(t, cfg)
	big := eventList(nsDelete("big-" + strings.Repeat("x", 70<<10)))
	cases := []struct {
		name    string
		path    string
		body    []byte
		hdr     []string
		code    int
		contain string
	}{
		{"no token", "/k8s-audit", eventList(nsDelete("a1")), []string{"X", "y"}, 401, "no_credentials"},
		{"wrong token", "/k8s_audit", eventList(nsDelete("a2")), []string{"Authorization", "Bearer nope-nope-nope-nope"}, 401, "invalid_credentials"},
		{"basic auth", "/k8s_audit", eventList(nsDelete("a3")), []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, ""},
		{"too large", "/k8s-audit", big, nil, 413, "max_body_bytes"},
		{"too large gzipped", "/k8s-audit", gz(t, big), []string{"Authorization", "Bearer " + testToken, "Content-Encoding", "gzip"}, 413, "max_body_bytes"},
		{"bad encoding", "/k8s-audit", eventList(nsDelete("a4")), []string{"Authorization", "Bearer " + testToken, "Content-Encoding", "br"}, 400, "Content-Encoding"},
		{"malformed json", "/k8s-audit", []byte(`{"kind":"EventList","items":[{"auditID": nope}]}`), nil, 400, "malformed_json"},
		{"not audit", "/k8s-audit", []byte(`{"hello":"world"}`), nil, 400, "not_audit_event"},
		{"admission no token", "/admission", []byte(`{}`), []string{"X", "y"}, 401, ""},
		{"admission garbage", "/admission", []byte(`{"kind":`), nil, 400, "AdmissionReview"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, hdr := s.post(t, c.path, c.body, c.hdr...)
			if code != c.code || !strings.Contains(body, c.contain) {
				t.Errorf("got %d %q, want %d containing %q", code, body, c.code, c.contain)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(body, testToken) {
				t.Error("the answer contains the token")
			}
		})
	}
	resp, err := http.Get(s.url + "/k8s-audit")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	if n := len(s.sink.snapshot()); n != 0 {
		t.Fatalf("rejected requests raised %d alerts", n)
	}

	// Bad events among good ones (not an event, a bad timestamp, one over
	// the event size limit): the good ones are accepted and evaluated,
	// gzipped or not, and each bad one is counted and described.
	mixed := eventList(nsDelete("good-1"), `42`, nsDelete("good-2"),
		strings.Replace(nsDelete("bad-ts"), `"2026-12-05T10:00:00.100000Z"`, `"yesterday"`, 1),
		nsDelete("huge-"+strings.Repeat("y", 20<<10)), nsDelete("good-3"))
	code, body, _ := s.post(t, "/k8s-audit", gz(t, mixed), "Authorization", "Bearer "+testToken, "Content-Encoding", "gzip")
	if code != 200 || !strings.Contains(body, `"accepted":3,"skipped":3`) || !strings.Contains(body, "item 1") ||
		!strings.Contains(body, "too_large") || !strings.Contains(body, "bad_timestamp") {
		t.Fatalf("mixed batch: %d %s", code, body)
	}
	got := keys(s.sink.waitFor(t, 3))
	if want := []string{"good-1 K8s Namespace Deleted", "good-2 K8s Namespace Deleted", "good-3 K8s Namespace Deleted"}; !slices.Equal(got, want) {
		t.Errorf("alerts %q, want %q", got, want)
	}

	// A syntax error: nothing after it can be read reliably. What came
	// before is accepted; the error says where it is.
	broken := []byte(string(eventList(nsDelete("pre-1")))[:len(eventList(nsDelete("pre-1")))-2] + `,{"auditID": nope}]}`)
	code, body, _ = s.post(t, "/k8s-audit", broken)
	if code != 200 || !strings.Contains(body, `"accepted":1,"skipped":1`) || !strings.Contains(body, "malformed_json") {
		t.Fatalf("syntax error: %d %s", code, body)
	}
	s.sink.waitFor(t, 4)
	m := scrape(t, s)
	for _, want := range []string{
		`vigil_events_rejected_total{capture="webhook",cluster="prod",reason="malformed_json"} 2`,
		`vigil_events_rejected_total{capture="webhook",cluster="prod",reason="too_large"} 1`,
		`vigil_events_rejected_total{capture="webhook",cluster="prod",reason="bad_timestamp"} 1`,
		`vigil_events_rejected_total{capture="webhook",cluster="prod",reason="not_audit_event"} 2`,
		`vigil_auth_failures_total{reason="no_credentials",source="127.0.0.1"} 2`,
		`vigil_auth_failures_total{reason="invalid_credentials",source="127.0.0.1"} 2`,
		`vigil_http_requests_total{code="413",endpoint="audit"} 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestServeResentBatch: the API server resends a batch it got no answer
// for; its events are evaluated once.
func TestServeResentBatch(t *testing.T) {
	s := start(t, testConfig(t))
	b := eventList(nsDelete("r1"), nsDelete("r2"))
	for i := 0; i < 3; i++ {
		if code, body, _ := s.post(t, "/k8s-audit", b); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	s.sink.waitFor(t, 2)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scrape(t, s), `vigil_dedup_hits_total{cluster="prod"} 4`) {
		if time.Now().After(deadline) {
			t.Fatal("dedup hits not counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(s.sink.snapshot()); n != 2 {
		t.Errorf("%d alerts, want 2", n)
	}
}

// TestServeRestart: after a graceful stop and a start on the same data,
// nothing is evaluated or delivered twice, and resent events are still
// recognised.
func TestServeRestart(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	b := eventList(nsDelete("x1"), nsDelete("x2"))
	s.post(t, "/k8s-audit", b)
	s.sink.waitFor(t, 2)
	s.stop(t)

	s2 := start(t, cfg)
	s2.post(t, "/k8s-audit", b) // resent after the restart
	s2.post(t, "/k8s-audit", eventList(nsDelete("x3")))
	got := s2.sink.waitFor(t, 1)
	time.Sleep(100 * time.Millisecond)
	if got = s2.sink.snapshot(); len(got) != 1 || got[0].AuditID != "x3" {
		t.Errorf("after restart: %q, want only x3", keys(got))
	}
}

// TestServeOutputRetry: an output that fails gets the alerts later; the
// others are not held back.
func TestServeOutputRetry(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	s.sink.mu.Lock()
	s.sink.fail = 3
	s.sink.mu.Unlock()
	s.post(t, "/k8s-audit", eventList(nsDelete("o1")))
	if got := keys(s.sink.waitFor(t, 1)); got[0] != "o1 K8s Namespace Deleted" {
		t.Errorf("got %q", got)
	}
	if m := scrape(t, s); !strings.Contains(m, `vigil_output_failed_total{kind="retryable",output="test"} 3`) {
		t.Error("failed attempts not counted")
	}
}

// TestServeAdmission posts captured AdmissionReviews: detect mode allows
// them all and alerts as from audit events; enforce mode denies the
// requests that match a rule marked for denial, with its output.
func TestServeAdmission(t *testing.T) {
	files := capturedFiles(t, "admission-review-*.json")
	for _, mode := range []string{"detect", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Admission.Mode = mode
			cfg.Admission.DenyRules = []string{"Exec or Attach Into Pod"}
			s := start(t, cfg)
			denied := 0
			for _, f := range files {
				body, _ := os.ReadFile(f)
				code, resp, _ := s.post(t, "/admission", body)
				if code != 200 {
					t.Fatalf("%s: %d %s", f, code, resp)
				}
				var r struct {
					Response struct {
						UID     string
						Allowed bool
						Status  struct {
							Code    int
							Message string
						}
					}
				}
				if err := json.Unmarshal([]byte(resp), &r); err != nil || r.Response.UID == "" {
					t.Fatalf("%s: bad response %s", f, resp)
				}
				if !r.Response.Allowed {
					denied++
					if r.Response.Status.Code != 403 || !strings.Contains(r.Response.Status.Message, "Exec or attach into pod") {
						t.Errorf("denial: %+v", r.Response.Status)
					}
				}
			}
			if want := map[string]int{"detect": 0, "enforce": 2}[mode]; denied != want {
				t.Errorf("%d denied, want %d", denied, want)
			}
			got := s.sink.waitFor(t, 3)
			rules := map[string]int{}
			for _, a := range got {
				rules[a.Alert.Rule]++
				if a.Capture != "admission" {
					t.Errorf("alert %s: capture %q, want admission", a.Alert.Rule, a.Capture)
				}
			}
			if rules["Exec or Attach Into Pod"] != 2 || rules["K8s Namespace Deleted"] != 1 {
				t.Errorf("alerts by rule: %v", rules)
			}
		})
	}
}

// TestServeReload: a rules file that does not compile leaves the running
// rules in place; a good one replaces them, by POST /-/reload and by
// watching the file.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	write := func(s string) {
		if err := os.WriteFile(rules, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rule := func(name, verb string) string {
		return fmt.Sprintf("- rule: %s\n  desc: test\n  condition: ka.verb=%s\n  output: %s by %%ka.user.name\n  priority: WARNING\n  source: k8s_audit\n", name, verb, name)
	}
	write(rule("Deletes", "delete"))
	cfg := testConfig(t)
	cfg.Rules.Files = []string{rules}
	s := start(t, cfg)
	s.post(t, "/k8s-audit", eventList(nsDelete("d1")))
	s.sink.waitFor(t, 1)

	write("- rule: Broken\n  condition: ka.verb=\n")
	if code, body, _ := s.post(t, "/-/reload", nil); code != http.StatusUnprocessableEntity || !strings.Contains(body, "rules have errors") {
		t.Errorf("bad rules reload: %d %q", code, body)
	}
	s.post(t, "/k8s-audit", eventList(nsDelete("d2")))
	if got := s.sink.waitFor(t, 2); got[1].Alert.Rule != "Deletes" {
		t.Errorf("old rules not kept: %q", keys(got))
	}
	if code, _, _ := s.post(t, "/-/reload", nil, "X", "y"); code != 401 {
		t.Errorf("unauthenticated reload: %d", code)
	}

	write(rule("Deletes2", "delete"))
	if code, body, _ := s.post(t, "/-/reload", nil); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	s.post(t, "/k8s-audit", eventList(nsDelete("d3")))
	if got := s.sink.waitFor(t, 3); got[2].Alert.Rule != "Deletes2" {
		t.Errorf("new rules not used: %q", keys(got))
	}
	m := scrape(t, s)
	if !strings.Contains(m, `vigil_rules_reloads_total{result="error"} 1`) {
		t.Error("failed reload not counted")
	}
}

// TestServeTail follows an audit log file.
func TestServeTail(t *testing.T) {
	src := filepath.Join(captured, "audit-log.jsonl")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	half := bytes.LastIndexByte(data[:len(data)/2], '\n') + 1
	os.WriteFile(logPath, data[:half], 0o600)
	cfg := testConfig(t)
	cfg.Tail = []config.Tail{{Path: logPath, Cluster: "staging"}}
	s := start(t, cfg)
	f, _ := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(data[half:])
	f.Close()
	want := expectAlerts(t, s.app, []string{src})
	if len(want) == 0 {
		t.Skip("no alert in the captured log")
	}
	got := s.sink.waitFor(t, len(want))
	for _, a := range got {
		if a.Cluster != "staging" || a.Capture != "tail" {
			t.Errorf("alert %s: cluster %q capture %q", a.Alert.Rule, a.Cluster, a.Capture)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d alerts, want %d", len(got), len(want))
	}
}

func TestHealth(t *testing.T) {
	s := start(t, testConfig(t))
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
