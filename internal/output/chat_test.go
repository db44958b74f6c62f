package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// The webhook URLs' secret parts: they must never appear in an error.
const (
	chatSlackPath = "/services/T0001/B0002/XyZsecretHookToken"
	chatMMPath    = "/hooks/mmsecretkey0123456789abc"
	chatTeamsPath = "/workflows/0a1b2c/triggers/manual/paths/invoke"
	chatTeamsSig  = "SIGsecretWorkflow0123"
)

// chatFake is a chat service's incoming webhook as its documentation
// describes it: it checks each request (method, path, Content-Type, the
// payload's schema and limits) and answers as the service does, or with
// the next scripted failure.
type chatFake struct {
	t        *testing.T
	path     string
	query    string // required raw query ("" = none)
	ctype    string // required Content-Type
	validate func(body []byte) (int, string)
	okStatus int
	okBody   string

	mu     sync.Mutex
	script []func(http.ResponseWriter)
	bodies [][]byte // accepted payloads
	hits   int
}

func (f *chatFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits++
	if r.Method != http.MethodPost || r.URL.Path != f.path || r.URL.RawQuery != f.query {
		f.t.Errorf("request %s %s?%s, want POST %s?%s", r.Method, r.URL.Path, r.URL.RawQuery, f.path, f.query)
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != f.ctype {
		f.t.Errorf("Content-Type %q, want %q", ct, f.ctype)
	}
	if len(f.script) > 0 {
		answer := f.script[0]
		f.script = f.script[1:]
		if answer != nil { // nil: answer as the service would
			answer(w)
			return
		}
	}
	if code, msg := f.validate(body); code != 0 {
		f.t.Errorf("payload refused (%d %s):\n%s", code, msg, body)
		w.WriteHeader(code)
		io.WriteString(w, msg)
		return
	}
	f.bodies = append(f.bodies, body)
	w.WriteHeader(f.okStatus)
	io.WriteString(w, f.okBody)
}

func (f *chatFake) accepted() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies...)
}

// chatStrictDecode decodes body into v, refusing unknown keys.
func chatStrictDecode(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func chatChars(s string) int { return len(utf16.Encode([]rune(s))) }

// Slack Block Kit, as documented (docs.slack.dev reference/block-kit):
// at most 50 blocks; header: plain_text, at most 150 characters; section:
// text at most 3000 characters or at most 10 fields of at most 2000;
// context: at most 10 elements. Bad payloads get 400 invalid_payload.
type slackTextObj struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji"`
}
type slackBlockObj struct {
	Type     string          `json:"type"`
	Text     *slackTextObj   `json:"text"`
	Fields   []*slackTextObj `json:"fields"`
	Elements []*slackTextObj `json:"elements"`
}
type slackPayload struct {
	Text   string           `json:"text"`
	Blocks []*slackBlockObj `json:"blocks"`
}

func slackValidate(body []byte) (int, string) {
	var p slackPayload
	if err := chatStrictDecode(body, &p); err != nil {
		return 400, "invalid_payload"
	}
	if p.Text == "" && len(p.Blocks) == 0 || len(p.Blocks) > 50 {
		return 400, "invalid_payload"
	}
	text := func(o *slackTextObj, max int, plain bool) bool {
		return o != nil && (o.Type == "mrkdwn" && !plain || o.Type == "plain_text") && o.Text != "" && chatChars(o.Text) <= max
	}
	for _, b := range p.Blocks {
		ok := false
		switch b.Type {
		case "header":
			ok = text(b.Text, 150, true) && b.Fields == nil && b.Elements == nil
		case "section":
			ok = b.Elements == nil && (b.Text != nil || len(b.Fields) > 0) && len(b.Fields) <= 10
			if b.Text != nil {
				ok = ok && text(b.Text, 3000, false)
			}
			for _, f := range b.Fields {
				ok = ok && text(f, 2000, false)
			}
		case "context":
			ok = b.Text == nil && len(b.Elements) > 0 && len(b.Elements) <= 10
			for _, e := range b.Elements {
				ok = ok && text(e, 3000, false)
			}
		}
		if !ok {
			return 400, "invalid_blocks"
		}
	}
	return 0, ""
}

// Mattermost incoming webhooks (developers.mattermost.com integrate/
// webhooks/incoming, reference/message-attachments): text and/or
// attachments; an attachment needs fallback; fields have title, value,
// short. Success is 200 "ok".
type mmField struct {
	Short bool   `json:"short"`
	Title string `json:"title"`
	Value string `json:"value"`
}
type mmAttachment struct {
	Fallback  string     `json:"fallback"`
	Color     string     `json:"color"`
	Pretext   string     `json:"pretext"`
	Text      string     `json:"text"`
	Title     string     `json:"title"`
	TitleLink string     `json:"title_link"`
	Fields    []*mmField `json:"fields"`
	Footer    string     `json:"footer"`
	TS        int64      `json:"ts"`
}
type mmPayload struct {
	Text        string          `json:"text"`
	Username    string          `json:"username"`
	IconURL     string          `json:"icon_url"`
	Channel     string          `json:"channel"`
	Attachments []*mmAttachment `json:"attachments"`
}

const mmParseError = `{"id":"web.incoming_webhook.parse.app_error","message":"Unable to parse incoming data.","detailed_error":"","request_id":"x","status_code":400}`

func mmValidate(body []byte) (int, string) {
	var p mmPayload
	if err := chatStrictDecode(body, &p); err != nil {
		return 400, mmParseError
	}
	if p.Text == "" && len(p.Attachments) == 0 || chatChars(p.Text) > 16383 {
		return 400, mmParseError
	}
	for _, a := range p.Attachments {
		if a.Fallback == "" || chatChars(a.Text) > 16383 {
			return 400, mmParseError
		}
		for _, f := range a.Fields {
			if f.Title == "" || f.Value == "" {
				return 400, mmParseError
			}
		}
	}
	return 0, ""
}

// Microsoft Teams Workflows, "When a Teams webhook request is received"
// then "Post card in a chat or channel" (learn.microsoft.com,
// connectors-using: Send Adaptive Cards): a message whose attachments hold
// one Adaptive Card (version 1.4 or lower for Teams), at most about 28 KB;
// the trigger answers 202 Accepted.
type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}
type teamsElement struct {
	Type     string       `json:"type"`
	Text     string       `json:"text"`
	Weight   string       `json:"weight"`
	Size     string       `json:"size"`
	Color    string       `json:"color"`
	Wrap     bool         `json:"wrap"`
	IsSubtle bool         `json:"isSubtle"`
	Facts    []*teamsFact `json:"facts"`
}
type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}
type teamsPayload struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     struct {
			Schema  string            `json:"$schema"`
			Type    string            `json:"type"`
			Version string            `json:"version"`
			MSTeams map[string]string `json:"msteams"`
			Body    []*teamsElement   `json:"body"`
			Actions []*teamsAction    `json:"actions"`
		} `json:"content"`
	} `json:"attachments"`
}

func teamsValidate(body []byte) (int, string) {
	if len(body) > 28000 {
		return 413, `{"error":{"code":"MessageSizeTooBig"}}`
	}
	var p teamsPayload
	if err := chatStrictDecode(body, &p); err != nil || p.Type != "message" || len(p.Attachments) != 1 {
		return 400, `{"error":{"code":"InvalidRequestContent"}}`
	}
	a := p.Attachments[0]
	c := a.Content
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || c.Type != "AdaptiveCard" || c.Version != "1.4" ||
		c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || len(c.Body) == 0 {
		return 400, `{"error":{"code":"InvalidRequestContent"}}`
	}
	for _, e := range c.Body {
		switch e.Type {
		case "TextBlock":
			if e.Text == "" {
				return 400, "empty TextBlock"
			}
		case "FactSet":
			for _, f := range e.Facts {
				if f.Title == "" || f.Value == "" {
					return 400, "bad fact"
				}
			}
		default:
			return 400, "unknown element " + e.Type
		}
	}
	for _, ac := range c.Actions {
		if ac.Type != "Action.OpenUrl" || ac.URL == "" || ac.Title == "" {
			return 400, "bad action"
		}
	}
	return 0, ""
}

// chatTarget starts the fake of one kind and returns the sink's config.
func chatTarget(t *testing.T, kind string, script ...func(http.ResponseWriter)) (*chatFake, config.ChatOutput, func()) {
	f := &chatFake{t: t, ctype: "application/json", okStatus: 200, okBody: "ok", script: script}
	switch kind {
	case "slack":
		f.path, f.validate = chatSlackPath, slackValidate
	case "mattermost":
		f.path, f.validate = chatMMPath, mmValidate
	case "teams":
		f.path, f.query, f.validate = chatTeamsPath, "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig="+chatTeamsSig, teamsValidate
		f.ctype, f.okStatus, f.okBody = "application/json; charset=utf-8", 202, ""
	}
	srv := httptest.NewTLSServer(f)
	u := srv.URL + f.path
	if f.query != "" {
		u += "?" + f.query
	}
	cfg := config.ChatOutput{WebhookURL: config.Secret(u), Kind: kind}
	return f, cfg, srv.Close
}

// newChatSink builds the sink of a kind, trusting the fake's certificate.
func newChatSink(t *testing.T, kind string, cfg config.ChatOutput, o SinkOptions) *Chat {
	t.Helper()
	cfg.TLS.InsecureSkipVerify = true
	newf := map[string]func(config.ChatOutput, SinkOptions) (*Chat, error){"slack": NewSlack, "mattermost": NewMattermost, "teams": NewTeams}[kind]
	s, err := newf(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chatStrings flattens every string of a JSON payload, decoded.
func chatStrings(t *testing.T, body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
			b.WriteByte('\n')
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

var chatKinds = []string{"slack", "mattermost", "teams"}

func TestChatMessage(t *testing.T) {
	a := httpTestAlert("00000000000000010000000000002a0000", "alice")
	a.Alert.Priority = alert.PriorityCritical
	a.Alert.Fields = append(a.Alert.Fields,
		alert.Field{Key: "ka.sourceips", Values: []string{"10.0.0.7", "10.0.0.8"}, List: true},
		alert.Field{Key: "ka.target.namespace", Values: []string{"kube-system"}},
		alert.Field{Key: "ka.target.resource", Values: []string{"secrets"}},
	)
	alert.SortFields(a.Alert.Fields)
	for _, kind := range chatKinds {
		t.Run(kind, func(t *testing.T) {
			f, cfg, stop := chatTarget(t, kind)
			defer stop()
			if kind == "mattermost" {
				cfg.Username, cfg.Channel, cfg.IconURL = "vigil", "security", "https://vigil.example/icon.png"
			}
			s := newChatSink(t, kind, cfg, SinkOptions{UIURL: "https://vigil.example/", Location: time.UTC})
			if err := s.Send(context.Background(), []*journal.Alert{a}); err != nil {
				t.Fatal(err)
			}
			got := f.accepted()
			if len(got) != 1 {
				t.Fatalf("%d messages, want 1", len(got))
			}
			text := chatStrings(t, got[0])
			link := "https://vigil.example/alerts/" + a.ID
			for _, want := range []string{
				"Critical: Disallowed K8s User",                       // title: priority and rule
				"K8s Operation performed by user not in allowed list", // the default template: the message
				"alice", "groups system:authenticated", // who (groups from the event)
				"get secrets kube-system/db", "response 200", // what
				"2023-11-14 22:13:20 UTC",                                        // when
				"cluster prod", "from 10.0.0.7, 10.0.0.8", "agent kubectl/v1.31", // where
				"capture webhook", "stage ResponseComplete", "audit ID a-1", "alert " + a.ID, // context
				link,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("message lacks %q:\n%s", want, got[0])
				}
			}
			switch kind {
			case "slack":
				var p slackPayload
				json.Unmarshal(got[0], &p)
				if p.Blocks[0].Type != "header" || !strings.Contains(p.Text, "Disallowed K8s User") ||
					!strings.Contains(text, "<!date^1700000000^{date_short_pretty} {time_secs}|2023-11-14 22:13:20 UTC>") ||
					!strings.Contains(text, "<"+link+"|Open in Vigil>") {
					t.Errorf("slack layout:\n%s", got[0])
				}
			case "mattermost":
				var p mmPayload
				json.Unmarshal(got[0], &p)
				at := p.Attachments[0]
				if p.Username != "vigil" || p.Channel != "security" || p.IconURL == "" || at.TitleLink != link ||
					at.Color != "#D0021B" || at.TS != 1700000000 || len(at.Fields) != 4 || !at.Fields[0].Short {
					t.Errorf("mattermost layout:\n%s", got[0])
				}
			case "teams":
				var p teamsPayload
				json.Unmarshal(got[0], &p)
				c := p.Attachments[0].Content
				if len(c.Actions) != 1 || c.Actions[0].URL != link || c.Body[0].Color != "Attention" || c.MSTeams["width"] != "Full" {
					t.Errorf("teams layout:\n%s", got[0])
				}
			}
			httpAssertNoSecret(t, "message", got[0], httpTestEventSecret)
		})
	}
}

// Values chosen by whoever made the API request must not ping a channel
// or forge a link.
func TestChatEscapesValues(t *testing.T) {
	a := httpTestAlert("1", "<!channel> @all [click](https://evil.example) &amp;")
	tests := map[string]struct{ want, never []string }{
		"slack":      {[]string{"&lt;!channel&gt;", "&amp;amp;"}, []string{"<!channel>"}},
		"mattermost": {[]string{"@\u200ball", "]\u200b(https://evil"}, []string{"@all", "](https://evil"}},
		"teams":      {[]string{"]\u200b(https://evil"}, []string{"](https://evil"}},
	}
	for _, kind := range chatKinds {
		t.Run(kind, func(t *testing.T) {
			f, cfg, stop := chatTarget(t, kind)
			defer stop()
			s := newChatSink(t, kind, cfg, SinkOptions{})
			if err := s.Send(context.Background(), []*journal.Alert{a}); err != nil {
				t.Fatal(err)
			}
			text := chatStrings(t, f.accepted()[0])
			for _, w := range tests[kind].want {
				if !strings.Contains(text, w) {
					t.Errorf("lacks %q:\n%s", w, text)
				}
			}
			for _, n := range tests[kind].never {
				if strings.Contains(text, n) {
					t.Errorf("contains %q:\n%s", n, text)
				}
			}
		})
	}
}

// A huge alert still fits every documented limit (the fakes refuse what
// does not), cut with a marker.
func TestChatLimits(t *testing.T) {
	a := httpTestAlert("1", strings.Repeat("ü&", 20000))
	a.Alert.Rule = strings.Repeat("R", 400)
	for _, kind := range chatKinds {
		t.Run(kind, func(t *testing.T) {
			f, cfg, stop := chatTarget(t, kind)
			defer stop()
			s := newChatSink(t, kind, cfg, SinkOptions{})
			if err := s.Send(context.Background(), []*journal.Alert{a}); err != nil {
				t.Fatal(err)
			}
			body := f.accepted()[0]
			if !strings.Contains(chatStrings(t, body), "…") {
				t.Errorf("no truncation marker")
			}
			if kind == "slack" && bytes.Contains(body, []byte(`&am…`)) {
				t.Errorf("an entity was cut")
			}
		})
	}
}

func TestChatTemplate(t *testing.T) {
	// The rule has no output fields: who/what/where come from the event.
	a := httpTestAlert("7", "bob")
	a.Alert.Fields = nil
	_, cfg, stop := chatTarget(t, "slack")
	defer stop()
	cfg.Template = `{{.User}} ({{.Groups}}) did {{.Verb}} on {{.Resource}} {{.Namespace}}/{{.Name}} → {{.ResponseCode}}` +
		` in {{.Cluster}} from {{.SourceIPs}} at {{.Time.Format "15:04"}} {{.Link}} {{index .Fields "nope"}}`
	s := newChatSink(t, "slack", cfg, SinkOptions{UIURL: "http://ui"})
	d := s.data(a)
	var buf bytes.Buffer
	if err := s.tmpl.Execute(&buf, d); err != nil {
		t.Fatal(err)
	}
	want := "bob (system:authenticated) did get on secrets kube-system/db → 200 in prod from 10.0.0.7 at 22:13 http://ui/alerts/7 "
	if buf.String() != want {
		t.Errorf("template:\n got %q\nwant %q", buf.String(), want)
	}

	for _, bad := range []string{"{{.Nope}}", "{{.User"} {
		cfg.Template = bad
		cfg.TLS.InsecureSkipVerify = true
		if _, err := NewSlack(cfg, SinkOptions{}); err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("template %q: %v", bad, err)
		}
	}
}

// The services' documented failures: 429 with Retry-After and 5xx are
// retried; the 4xx that say the webhook or channel is gone are not. The
// webhook URL is the credential: no error names more than its host.
func TestChatErrors(t *testing.T) {
	tests := []struct {
		kind      string
		answer    func(http.ResponseWriter)
		permanent bool
		delay     time.Duration
		msg       string
	}{
		{"slack", httpStatus(429, "rate_limited", "Retry-After", "30"), false, 30 * time.Second, "HTTP 429"},
		{"slack", httpStatus(500, "rollup_error"), false, 0, "rollup_error"},
		{"slack", httpStatus(400, "invalid_payload"), true, 0, "invalid_payload"},
		{"slack", httpStatus(403, "action_prohibited"), true, 0, "action_prohibited"},
		{"slack", httpStatus(404, "no_service"), true, 0, "no_service"},
		{"slack", httpStatus(404, "channel_not_found"), true, 0, "channel_not_found"},
		{"slack", httpStatus(410, "channel_is_archived"), true, 0, "channel_is_archived"},
		{"mattermost", httpStatus(400, mmParseError), true, 0, "HTTP 400"},
		{"mattermost", httpStatus(429, "", "Retry-After", "1"), false, time.Second, "HTTP 429"},
		{"mattermost", httpStatus(503, ""), false, 0, "HTTP 503"},
		{"teams", httpStatus(429, `{"error":{"code":"WorkflowTriggerIsThrottled"}}`, "Retry-After", "12"), false, 12 * time.Second, "HTTP 429"},
		{"teams", httpStatus(502, ""), false, 0, "HTTP 502"},
		{"teams", httpStatus(404, `{"error":{"code":"WorkflowNotFound"}}`), true, 0, "WorkflowNotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" "+tc.msg, func(t *testing.T) {
			_, cfg, stop := chatTarget(t, tc.kind, tc.answer)
			defer stop()
			s := newChatSink(t, tc.kind, cfg, SinkOptions{})
			err := s.Send(context.Background(), []*journal.Alert{httpTestAlert("a9", "x")})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			if d, ok := RetryDelay(err); ok != (tc.delay > 0) || d != tc.delay {
				t.Errorf("RetryDelay = %v %v, want %v", d, ok, tc.delay)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "a9") {
				t.Errorf("error %q lacks %q or the alert ID", err, tc.msg)
			}
			httpAssertNoSecret(t, "error", []byte(err.Error()), chatSlackPath, chatMMPath, chatTeamsPath, chatTeamsSig, "XyZsecretHookToken", "mmsecretkey", string(cfg.WebhookURL))
		})
	}
}

// 429 then 503 then success, as the Dispatcher retries the same batch:
// every alert reaches the channel once, in order.
func TestChatRetrySequence(t *testing.T) {
	for _, kind := range chatKinds {
		t.Run(kind, func(t *testing.T) {
			// The first alert goes through, then the service throttles,
			// then fails, then recovers.
			f, cfg, stop := chatTarget(t, kind, nil, httpStatus(429, "rate_limited", "Retry-After", "1"), httpStatus(503, ""))
			defer stop()
			s := newChatSink(t, kind, cfg, SinkOptions{})
			var alerts []*journal.Alert
			for i := range 4 {
				alerts = append(alerts, httpTestAlert(fmt.Sprint(i), fmt.Sprintf("user%d", i)))
			}
			var errs []string
			for attempt := 1; ; attempt++ {
				err := s.Send(context.Background(), alerts)
				if err == nil {
					break
				}
				if IsPermanent(err) || attempt > 3 {
					t.Fatalf("attempt %d: %v", attempt, err)
				}
				errs = append(errs, err.Error())
			}
			if len(errs) != 2 || !strings.Contains(errs[0], "alert 1: HTTP 429") || !strings.Contains(errs[1], "alert 1: HTTP 503") {
				t.Errorf("errors %q, want 429 then 503 for alert 1", errs)
			}
			got := f.accepted()
			if len(got) != len(alerts) || f.hits != len(alerts)+2 {
				t.Fatalf("%d messages in %d requests, want %d in %d", len(got), f.hits, len(alerts), len(alerts)+2)
			}
			for i, b := range got {
				if !strings.Contains(chatStrings(t, b), fmt.Sprintf("user%d", i)) {
					t.Errorf("message %d is not alert %d:\n%s", i, i, b)
				}
			}
		})
	}
}
