package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// ibmAPIKey is the test IAM API key.
const ibmAPIKey = "ibm-iam-api-key-Zq81xW3v"

// ibmIAM is IBM Cloud IAM's token endpoint as "Generating an IBM Cloud IAM
// token by using an API key" documents it: POST /identity/token with a
// form grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=…,
// answering {"access_token","refresh_token","token_type":"Bearer",
// "expires_in","expiration","scope"}; an unknown key gets 400 with
// errorCode BXNIM0415E.
type ibmIAM struct {
	srv       *httptest.Server
	clock     *saasClock
	key       string
	expiresIn int64 // seconds
	echoKey   bool  // a misbehaving server that echoes the key in its 400

	mu       sync.Mutex
	queue    []func(w http.ResponseWriter)
	issued   map[string]time.Time // token → expiry
	order    []string             // tokens in issue order
	calls    int
	bodies   []string
	problems []string
}

func newIBMIAM(t *testing.T, clock *saasClock) *ibmIAM {
	f := &ibmIAM{clock: clock, key: ibmAPIKey, expiresIn: 3600, issued: map[string]time.Time{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ibmIAM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.bodies = append(f.bodies, string(body))
	fail := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.problems = append(f.problems, msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		b, _ := json.Marshal(map[string]any{"errorCode": "BXNIM0109E", "errorMessage": msg, "context": map[string]string{"requestId": "req-1"}})
		w.Write(b)
	}
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/identity/token":
		fail(404, "%s %s: not found", r.Method, r.URL.Path)
		return
	case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		fail(400, "Content-Type %q", r.Header.Get("Content-Type"))
		return
	case r.Header.Get("Accept") != "application/json":
		fail(400, "Accept %q", r.Header.Get("Accept"))
		return
	case r.Header.Get("Authorization") != "":
		fail(400, "unexpected Authorization header")
		return
	case r.URL.RawQuery != "":
		fail(400, "the API key goes in the form, not the query")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		fail(400, "form: %v", err)
		return
	}
	if len(form) != 2 || len(form["grant_type"]) != 1 || len(form["apikey"]) != 1 {
		fail(400, "form must hold exactly grant_type and apikey: %v", keys(form))
		return
	}
	if g := form.Get("grant_type"); g != "urn:ibm:params:oauth:grant-type:apikey" {
		fail(400, "grant_type %q", g)
		return
	}
	if len(f.queue) > 0 {
		answer := f.queue[0]
		f.queue = f.queue[1:]
		answer(w)
		return
	}
	if form.Get("apikey") != f.key {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		msg := "Provided API key could not be found."
		if f.echoKey {
			msg = "Provided API key " + form.Get("apikey") + " could not be found."
		}
		b, _ := json.Marshal(map[string]any{"errorCode": "BXNIM0415E", "errorMessage": msg, "context": map[string]string{"requestId": "req-2"}})
		w.Write(b)
		return
	}
	now := f.clock.Now()
	tok := fmt.Sprintf("eyJ.iam-access-token-%d.sig", len(f.order)+1)
	f.issued[tok] = now.Add(time.Duration(f.expiresIn) * time.Second)
	f.order = append(f.order, tok)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token":  tok,
		"refresh_token": "not_supported",
		"token_type":    "Bearer",
		"expires_in":    f.expiresIn,
		"expiration":    now.Unix() + f.expiresIn,
		"scope":         "ibm openid",
	})
}

func keys(m url.Values) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// valid reports whether tok was issued and has not expired.
func (f *ibmIAM) valid(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.issued[tok]
	return ok && f.clock.Now().Before(exp)
}

func (f *ibmIAM) push(answers ...func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, answers...)
}

func (f *ibmIAM) stats() (calls int, tokens []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.order...)
}

// ibmEntry is one log entry of a singles request: the documented fields
// only (IBM Cloud Logs, "Sending logs by using the API").
type ibmEntry struct {
	ApplicationName string          `json:"applicationName"`
	SubsystemName   string          `json:"subsystemName"`
	ComputerName    string          `json:"computerName"`
	Severity        *int            `json:"severity"`
	Text            json.RawMessage `json:"text"`
	Timestamp       *float64        `json:"timestamp"`
	HiResTimestamp  string          `json:"hiResTimestamp"`
	Category        string          `json:"category"`
	ClassName       string          `json:"className"`
	MethodName      string          `json:"methodName"`
	ThreadID        string          `json:"threadId"`
}

type ibmRequest struct {
	Header  http.Header
	URL     string
	Body    []byte
	Token   string
	Entries []ibmEntry
}

// ibmIngress is an IBM Cloud Logs ingress endpoint: POST
// /logs/v1/singles, Content-Type application/json, Authorization: Bearer
// <IAM token> (401 unless IAM issued it and it has not expired), a JSON
// array of log entries, at most 2 MB (413 beyond).
type ibmIngress struct {
	srv   *httptest.Server
	iam   *ibmIAM
	limit int

	mu        sync.Mutex
	revoked   map[string]bool
	rejectAll bool
	queue     []func(w http.ResponseWriter)
	reqs      []ibmRequest
	problems  []string
}

func newIBMIngress(t *testing.T, iam *ibmIAM) *ibmIngress {
	f := &ibmIngress{iam: iam, limit: config.IBMLogsMaxRequestBytes, revoked: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ibmIngress) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	f.reqs = append(f.reqs, ibmRequest{Header: r.Header.Clone(), URL: r.URL.String(), Body: body})
	req := &f.reqs[len(f.reqs)-1]
	fail := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		f.problems = append(f.problems, msg)
		w.WriteHeader(code)
		io.WriteString(w, msg)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/logs/v1/singles" || r.URL.RawQuery != "" {
		fail(404, "%s %s: not found", r.Method, r.URL)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	req.Token = tok
	if !ok || !f.iam.valid(tok) || f.revoked[tok] || f.rejectAll {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "Unauthorized")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		fail(400, "Content-Type %q", ct)
		return
	}
	if len(body) > f.limit {
		fail(http.StatusRequestEntityTooLarge, "request of %d bytes exceeds 2MB", len(body))
		return
	}
	var entries []ibmEntry
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil || dec.More() {
		fail(400, "body: %v", err)
		return
	}
	if len(entries) == 0 {
		fail(400, "no log entries")
		return
	}
	if err := saasExactKeys(body, "applicationName", "subsystemName", "computerName", "severity", "text", "timestamp",
		"hiResTimestamp", "category", "className", "methodName", "threadId"); err != nil {
		fail(400, "body: %v", err)
		return
	}
	for i, e := range entries {
		switch {
		case e.ApplicationName == "" || e.SubsystemName == "":
			fail(400, "[%d]: applicationName and subsystemName are required", i)
			return
		case len(e.Text) == 0 || (e.Text[0] != '"' && e.Text[0] != '{'):
			fail(400, "[%d]: text must be a string or a JSON object", i)
			return
		case e.Severity == nil || *e.Severity < 1 || *e.Severity > 6:
			fail(400, "[%d]: severity must be 1-6", i)
			return
		case e.Timestamp == nil:
			fail(400, "[%d]: timestamp missing", i)
			return
		}
		if _, err := strconv.ParseInt(e.HiResTimestamp, 10, 64); err != nil {
			fail(400, "[%d]: hiResTimestamp %q is not UTC nanoseconds", i, e.HiResTimestamp)
			return
		}
	}
	req.Entries = entries
	if len(f.queue) > 0 {
		answer := f.queue[0]
		f.queue = f.queue[1:]
		answer(w)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *ibmIngress) push(answers ...func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, answers...)
}

func (f *ibmIngress) requests() []ibmRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ibmRequest(nil), f.reqs...)
}

func (f *ibmIngress) entries() []ibmEntry {
	var es []ibmEntry
	for _, r := range f.requests() {
		es = append(es, r.Entries...)
	}
	return es
}

func (f *ibmIngress) checkProblems(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("ingress refused a request: %s", p)
	}
	f.iam.mu.Lock()
	defer f.iam.mu.Unlock()
	for _, p := range f.iam.problems {
		t.Errorf("IAM refused a request: %s", p)
	}
}

type ibmEnv struct {
	clock   *saasClock
	iam     *ibmIAM
	ingress *ibmIngress
	logs    *saasLog
	sink    *IBMLogs
}

func newIBMEnv(t *testing.T, c config.IBMLogsOutput, expiresIn int64) *ibmEnv {
	t.Helper()
	e := &ibmEnv{clock: &saasClock{t: saasT0}, logs: &saasLog{}}
	e.iam = newIBMIAM(t, e.clock)
	e.iam.expiresIn = expiresIn
	e.ingress = newIBMIngress(t, e.iam)
	c.Endpoint = e.ingress.srv.URL
	c.IAMURL = e.iam.srv.URL + "/identity/token"
	if c.APIKey == "" && c.APIKeyFile == "" {
		c.APIKey = ibmAPIKey
	}
	s, err := NewIBMLogs(c, SinkOptions{Logger: saasLogger(e.logs), Hostname: "vigil-host", UIURL: "https://vigil.example"})
	if err != nil {
		t.Fatal(err)
	}
	s.now = e.clock.Now
	t.Cleanup(func() { s.Close() })
	e.sink = s
	return e
}

// assertNoLeak checks that the API key travels only in the IAM form, the
// tokens only in the ingress Authorization header, the event's secret
// nowhere; and that no error or log holds any of them.
func (e *ibmEnv) assertNoLeak(t *testing.T, errs ...error) {
	t.Helper()
	_, tokens := e.iam.stats()
	var texts []string
	for _, r := range e.ingress.requests() {
		texts = append(texts, r.URL, string(r.Body))
		for k, vs := range r.Header {
			if k != "Authorization" {
				texts = append(texts, k+": "+strings.Join(vs, ","))
			}
		}
	}
	secrets := append([]string{ibmAPIKey, saasEventSecret}, tokens...)
	saasAssertNoLeak(t, "ingress request", texts, secrets...)
	e.iam.mu.Lock()
	iamBodies := append([]string(nil), e.iam.bodies...)
	e.iam.mu.Unlock()
	saasAssertNoLeak(t, "IAM request", iamBodies, saasEventSecret)
	texts = []string{e.logs.String()}
	for _, err := range errs {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	saasAssertNoLeak(t, "error or log", texts, secrets...)
}

func TestIBMLogsWireFormat(t *testing.T) {
	prios := []alert.Priority{alert.PriorityEmergency, alert.PriorityAlert, alert.PriorityCritical, alert.PriorityError,
		alert.PriorityWarning, alert.PriorityNotice, alert.PriorityInformational, alert.PriorityDebug}
	wantSev := []int{6, 6, 6, 5, 4, 3, 3, 1}
	tests := []struct {
		name         string
		cfg          config.IBMLogsOutput
		noCluster    bool
		wantApp      string
		wantSub      string
		wantComputer string
	}{
		{name: "json, defaults, subsystem from the cluster", wantApp: "vigil", wantSub: "prod", wantComputer: "vigil-0"},
		{name: "json, no cluster", noCluster: true, wantApp: "vigil", wantSub: "k8s-audit", wantComputer: "vigil-0"},
		{name: "text, names configured", cfg: config.IBMLogsOutput{Format: "text", ApplicationName: "security", SubsystemName: "kube-audit", ComputerName: "gw-1"},
			wantApp: "security", wantSub: "kube-audit", wantComputer: "gw-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIBMEnv(t, tc.cfg, 3600)
			var batch []*journal.Alert
			for i, p := range prios {
				a := saasAlert(i, saasT0, p)
				if tc.noCluster {
					a.Cluster = ""
				}
				batch = append(batch, a)
			}
			if err := e.sink.Send(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			e.ingress.checkProblems(t)
			reqs := e.ingress.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			entries := reqs[0].Entries
			if len(entries) != len(batch) {
				t.Fatalf("%d entries, want %d", len(entries), len(batch))
			}
			for i, en := range entries {
				a := batch[i]
				if en.ApplicationName != tc.wantApp || en.SubsystemName != tc.wantSub || en.ComputerName != tc.wantComputer {
					t.Errorf("entry %d: %q %q %q, want %q %q %q", i, en.ApplicationName, en.SubsystemName, en.ComputerName, tc.wantApp, tc.wantSub, tc.wantComputer)
				}
				if *en.Severity != wantSev[i] {
					t.Errorf("entry %d (%s): severity %d, want %d", i, a.Alert.Priority, *en.Severity, wantSev[i])
				}
				if *en.Timestamp != float64(saasT0.UnixMilli()) || en.HiResTimestamp != strconv.FormatInt(saasT0.UnixNano(), 10) {
					t.Errorf("entry %d: timestamp %v hiRes %s", i, *en.Timestamp, en.HiResTimestamp)
				}
				if tc.cfg.Format == "text" {
					var text string
					if err := json.Unmarshal(en.Text, &text); err != nil {
						t.Fatalf("entry %d: text is not a string: %s", i, en.Text)
					}
					if want := string(alert.AppendText(nil, &a.Alert, time.UTC)); text != want {
						t.Errorf("entry %d: text %q, want %q", i, text, want)
					}
					continue
				}
				var got, want map[string]any
				if err := json.Unmarshal(en.Text, &got); err != nil {
					t.Fatalf("entry %d: text is not a JSON object: %s", i, en.Text)
				}
				if err := json.Unmarshal(alert.AppendJSON(nil, &a.Alert, time.UTC), &want); err != nil {
					t.Fatal(err)
				}
				want["vigil"] = map[string]any{"alert_id": a.ID, "audit_id": fmt.Sprintf("aud-%d", i), "capture": "webhook",
					"cluster": a.Cluster, "url": "https://vigil.example/alerts/" + a.ID}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("entry %d: text\n%s\nwant %#v", i, en.Text, want)
				}
				// Falco's JSON alert comes first, byte for byte.
				falco := alert.AppendJSON(nil, &a.Alert, time.UTC)
				if !bytes.HasPrefix(en.Text, falco[:len(falco)-1]) {
					t.Errorf("entry %d: text does not start with Falco's JSON alert", i)
				}
			}
			e.assertNoLeak(t)
		})
	}
}

// TestIBMLogsToken checks the token cache against an injected clock: one
// IAM call while the token is fresh, a renewal once less than the larger
// of 10% of its life and 5 minutes (at most half its life) is left.
func TestIBMLogsToken(t *testing.T) {
	type step struct {
		advance   time.Duration
		wantCalls int // IAM calls so far
	}
	tests := []struct {
		name      string
		expiresIn int64
		steps     []step
	}{
		{name: "hour-long token renewed 6 minutes before expiry", expiresIn: 3600, steps: []step{
			{0, 1}, {50 * time.Minute, 1}, {3*time.Minute + 59*time.Second, 1}, {time.Second, 2}, {10 * time.Minute, 2}, {44 * time.Minute, 3},
		}},
		{name: "short token renewed at half its life", expiresIn: 60, steps: []step{
			{0, 1}, {29 * time.Second, 1}, {time.Second, 2}, {20 * time.Second, 2}, {10 * time.Second, 3},
		}},
		{name: "token already expired on arrival", expiresIn: 0, steps: []step{
			{0, 2}, {0, 4},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIBMEnv(t, config.IBMLogsOutput{}, tc.expiresIn)
			for i, st := range tc.steps {
				e.clock.Add(st.advance)
				err := e.sink.Send(context.Background(), []*journal.Alert{saasAlert(i, saasT0, alert.PriorityWarning)})
				if tc.expiresIn == 0 {
					// IAM issued a dead token: the ingress refuses it, the
					// sink renews once and is refused again.
					if err == nil || !IsPermanent(err) {
						t.Fatalf("step %d: %v, want a permanent 401", i, err)
					}
				} else if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if calls, _ := e.iam.stats(); calls != st.wantCalls {
					t.Fatalf("step %d (after %v): %d IAM calls, want %d", i, st.advance, calls, st.wantCalls)
				}
			}
			if tc.expiresIn != 0 {
				e.ingress.checkProblems(t)
				_, tokens := e.iam.stats()
				for i, r := range e.ingress.requests() {
					if !slicesContains(tokens, r.Token) {
						t.Errorf("request %d used a token IAM never issued", i)
					}
				}
				if last := e.ingress.requests(); last[len(last)-1].Token != tokens[len(tokens)-1] {
					t.Errorf("the last request did not use the newest token")
				}
			}
			e.assertNoLeak(t)
		})
	}
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestIBMLogs401 checks that an ingress 401 renews the token once and
// resends within the same Send, and that a second 401 is permanent.
func TestIBMLogs401(t *testing.T) {
	t.Run("revoked token", func(t *testing.T) {
		e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
		ctx := context.Background()
		if err := e.sink.Send(ctx, []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)}); err != nil {
			t.Fatal(err)
		}
		_, tokens := e.iam.stats()
		e.ingress.mu.Lock()
		e.ingress.revoked[tokens[0]] = true
		e.ingress.mu.Unlock()
		if err := e.sink.Send(ctx, []*journal.Alert{saasAlert(1, saasT0, alert.PriorityWarning)}); err != nil {
			t.Fatal(err)
		}
		calls, tokens := e.iam.stats()
		reqs := e.ingress.requests()
		if calls != 2 || len(reqs) != 3 {
			t.Fatalf("%d IAM calls and %d ingress requests, want 2 and 3", calls, len(reqs))
		}
		if reqs[1].Token != tokens[0] || reqs[2].Token != tokens[1] || len(reqs[2].Entries) != 1 {
			t.Errorf("the resend did not use the new token")
		}
		e.ingress.checkProblems(t)
		e.assertNoLeak(t)
	})
	t.Run("refused twice", func(t *testing.T) {
		e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
		e.ingress.rejectAll = true
		err := e.sink.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)})
		if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 401") {
			t.Fatalf("err = %v, want a permanent 401", err)
		}
		if calls, _ := e.iam.stats(); calls != 2 || len(e.ingress.requests()) != 2 {
			t.Errorf("%d IAM calls, %d ingress requests, want 2 and 2", calls, len(e.ingress.requests()))
		}
		e.assertNoLeak(t, err)
	})
}

func TestIBMLogsIAMErrors(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		echo      bool
		answer    func(w http.ResponseWriter)
		permanent bool
		delay     time.Duration
	}{
		{name: "unknown API key", key: "ibm-wrong-api-key-0000", permanent: true},
		{name: "unknown API key echoed", key: "ibm-wrong-api-key-0000", echo: true, permanent: true},
		{name: "429", answer: saasStatus(429, `{"errorCode":"BXNIM0429E","errorMessage":"Too many requests"}`, "Retry-After", "3"), delay: 3 * time.Second},
		{name: "500", answer: saasStatus(500, `{"errorCode":"BXNIM0500E"}`)},
		{name: "2xx without a token", answer: saasStatus(200, `{"token_type":"Bearer","expires_in":3600}`)},
		{name: "2xx not JSON", answer: saasStatus(200, `<html>`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c config.IBMLogsOutput
			if tc.key != "" {
				c.APIKey = config.Secret(tc.key)
			}
			e := newIBMEnv(t, c, 3600)
			e.iam.echoKey = tc.echo
			if tc.answer != nil {
				e.iam.push(tc.answer)
			}
			err := e.sink.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			if d, ok := RetryDelay(err); ok != (tc.delay > 0) || d != tc.delay {
				t.Errorf("retry delay %v %v, want %v", d, ok, tc.delay)
			}
			if n := len(e.ingress.requests()); n != 0 {
				t.Errorf("%d ingress requests without a token", n)
			}
			e.assertNoLeak(t, err)
			if tc.key != "" {
				saasAssertNoLeak(t, "error", []string{err.Error()}, tc.key)
			}
		})
	}
}

// TestIBMLogsRenewalFailure: when IAM is down at renewal time, the current
// token is used until it expires; after that, Send fails retryably, and it
// recovers when IAM is back.
func TestIBMLogsRenewalFailure(t *testing.T) {
	e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
	ctx := context.Background()
	send := func(i int) error {
		return e.sink.Send(ctx, []*journal.Alert{saasAlert(i, saasT0, alert.PriorityWarning)})
	}
	if err := send(0); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(57 * time.Minute) // due for renewal, still valid
	e.iam.push(saasStatus(503, "down"))
	if err := send(1); err != nil {
		t.Fatalf("renewal failure with a valid token: %v", err)
	}
	if !strings.Contains(e.logs.String(), "iam token renewal failed") {
		t.Errorf("the failed renewal is not logged")
	}
	e.clock.Add(4 * time.Minute) // expired
	e.iam.push(saasStatus(503, "down"))
	err := send(2)
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if err := send(3); err != nil {
		t.Fatalf("after IAM recovered: %v", err)
	}
	if calls, tokens := e.iam.stats(); calls != 4 || len(tokens) != 2 {
		t.Errorf("%d IAM calls, %d tokens, want 4 and 2", calls, len(tokens))
	}
	if n := len(e.ingress.entries()); n != 3 {
		t.Errorf("%d entries delivered, want 3", n)
	}
	e.ingress.checkProblems(t)
	e.assertNoLeak(t, err)
}

func TestIBMLogsIngressErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		permanent bool
		delay     time.Duration
	}{
		{name: "400", answer: saasStatus(400, "bad request"), permanent: true},
		{name: "403 missing logs.data.send", answer: saasStatus(403, "Forbidden"), permanent: true},
		{name: "413", answer: saasStatus(413, "payload too large"), permanent: true},
		{name: "429 with Retry-After", answer: saasStatus(429, "", "Retry-After", "9"), delay: 9 * time.Second},
		{name: "500", answer: saasStatus(500, "")},
		{name: "503", answer: saasStatus(503, "unavailable")},
		{name: "redirect", answer: saasStatus(302, "", "Location", "https://elsewhere.example/"), permanent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
			e.ingress.push(tc.answer)
			err := e.sink.Send(context.Background(), []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning)})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			if d, ok := RetryDelay(err); ok != (tc.delay > 0) || d != tc.delay {
				t.Errorf("retry delay %v %v, want %v", d, ok, tc.delay)
			}
			e.assertNoLeak(t, err)
		})
	}
}

// TestIBMLogsOutage replays 503, 429, 500 and a refused connection; the
// token survives it and the batch arrives once the ingress is back.
func TestIBMLogsOutage(t *testing.T) {
	e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
	e.ingress.push(saasStatus(503, ""), saasStatus(429, "", "Retry-After", "1"), saasStatus(500, ""))
	batch := []*journal.Alert{saasAlert(0, saasT0, alert.PriorityWarning), saasAlert(1, saasT0, alert.PriorityCritical)}
	ctx := context.Background()
	for i := range 3 {
		if err := e.sink.Send(ctx, batch); err == nil || IsPermanent(err) {
			t.Fatalf("attempt %d: %v, want retryable", i, err)
		}
		e.clock.Add(time.Second)
	}
	if err := e.sink.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if calls, _ := e.iam.stats(); calls != 1 {
		t.Errorf("%d IAM calls, want 1", calls)
	}
	if n := len(e.ingress.requests()[3].Entries); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	e.ingress.srv.Close()
	err := e.sink.Send(ctx, batch)
	if err == nil || IsPermanent(err) {
		t.Fatalf("connection refused: %v, want retryable", err)
	}
	saasAssertNoLeak(t, "error", []string{err.Error()}, "/logs/v1/singles")
	e.assertNoLeak(t, err)
}

// TestIBMLogsSplit checks that a batch is split under 2 MB per request,
// in order, each alert once, and that an alert over 2 MB alone is cut.
func TestIBMLogsSplit(t *testing.T) {
	e := newIBMEnv(t, config.IBMLogsOutput{}, 3600)
	var batch []*journal.Alert
	for i := range 12 {
		a := saasAlert(i, saasT0, alert.PriorityWarning)
		a.Alert.Fields[3].Values = []string{strings.Repeat("x", 300_000)}
		batch = append(batch, a)
	}
	huge := saasAlert(12, saasT0, alert.PriorityError)
	huge.Alert.Fields[3].Values = []string{strings.Repeat("\x01", 1_000_000)} // 6 MB escaped
	batch = append(batch, huge)
	if err := e.sink.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	e.ingress.checkProblems(t)
	reqs := e.ingress.requests()
	if len(reqs) < 3 {
		t.Errorf("%d requests, expected the batch to be split", len(reqs))
	}
	for i, r := range reqs {
		if len(r.Body) > config.IBMLogsMaxRequestBytes {
			t.Errorf("request %d: %d bytes", i, len(r.Body))
		}
	}
	entries := e.ingress.entries()
	if len(entries) != len(batch) {
		t.Fatalf("%d entries, want %d", len(entries), len(batch))
	}
	for i, en := range entries {
		var text struct {
			Vigil struct {
				AlertID   string `json:"alert_id"`
				Truncated bool   `json:"truncated"`
			} `json:"vigil"`
		}
		if err := json.Unmarshal(en.Text, &text); err != nil {
			t.Fatal(err)
		}
		if text.Vigil.AlertID != batch[i].ID {
			t.Fatalf("entry %d is alert %s, want %s", i, text.Vigil.AlertID, batch[i].ID)
		}
		if text.Vigil.Truncated != (i == 12) {
			t.Errorf("entry %d truncated = %v", i, text.Vigil.Truncated)
		}
	}
	if !bytes.Contains(entries[12].Text, []byte(saasTruncated)) {
		t.Errorf("no truncation marker in the huge alert")
	}
	if e.sink.Truncated() != 1 {
		t.Errorf("Truncated() = %d", e.sink.Truncated())
	}
	e.assertNoLeak(t)
}

func TestIBMLogsNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.IBMLogsOutput
		wantURL string
		wantIAM string
		wantErr string
	}{
		{name: "instance and region", cfg: config.IBMLogsOutput{APIKey: "k", InstanceID: "90d208cc-e1dd-4fb2-a938-358e5996f056", Region: "eu-es"},
			wantURL: "https://90d208cc-e1dd-4fb2-a938-358e5996f056.ingress.eu-es.logs.cloud.ibm.com/logs/v1/singles", wantIAM: "https://iam.cloud.ibm.com/identity/token"},
		{name: "endpoint with the path", cfg: config.IBMLogsOutput{APIKey: "k", Endpoint: "https://x.ingress.private.eu-de.logs.cloud.ibm.com/logs/v1/singles", IAMURL: "https://private.iam.cloud.ibm.com/identity/token"},
			wantURL: "https://x.ingress.private.eu-de.logs.cloud.ibm.com/logs/v1/singles", wantIAM: "https://private.iam.cloud.ibm.com/identity/token"},
		{name: "http endpoint", cfg: config.IBMLogsOutput{APIKey: "k", Endpoint: "http://x.ingress.eu-de.logs.cloud.ibm.com"},
			wantErr: "ibm_cloud_logs endpoint: http sends the key in clear: use https (http only to a loopback address)"},
		{name: "http iam", cfg: config.IBMLogsOutput{APIKey: "k", Endpoint: "https://x", IAMURL: "http://iam.cloud.ibm.com/identity/token"},
			wantErr: "ibm_cloud_logs iam_url: http sends the key in clear: use https (http only to a loopback address)"},
		{name: "no endpoint", cfg: config.IBMLogsOutput{APIKey: "k"}, wantErr: "ibm_cloud_logs: set endpoint, or instance_id and region"},
		{name: "no key", cfg: config.IBMLogsOutput{Endpoint: "https://x"}, wantErr: "ibm_cloud_logs api_key: not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewIBMLogs(tc.cfg, SinkOptions{})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.url != tc.wantURL || s.iamURL != tc.wantIAM {
				t.Errorf("url %q iam %q, want %q %q", s.url, s.iamURL, tc.wantURL, tc.wantIAM)
			}
		})
	}
}

func TestCheckSinkURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"https://logs.mezmo.com", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://[::1]:8080/x", ""},
		{"http://localhost", ""},
		{"http://logs.mezmo.com", "http sends the key in clear: use https (http only to a loopback address)"},
		{"ftp://logs.mezmo.com", "expected an https:// URL"},
		{"https://", "the URL has no host"},
		{"https://u:topsecret@logs.mezmo.com", "credentials do not go in the URL"},
		{"https://logs.mezmo.com/?apikey=topsecret", "the URL must have no query or fragment"},
		{"logs.mezmo.com", "expected an https:// URL"},
	}
	for _, tc := range tests {
		err := config.CheckSinkURL(tc.in)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("CheckSinkURL(%q) = %q, want %q", tc.in, got, tc.wantErr)
		}
		if strings.Contains(got, "topsecret") {
			t.Errorf("CheckSinkURL(%q) leaks the secret", tc.in)
		}
	}
}
