package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// ChatData is what a chat output's template sees for one alert. Every
// string is already escaped for the chat's markup (Slack mrkdwn: & < >
// as entities; Mattermost: mentions and links neutralised; Teams: links
// neutralised), so that an attacker-chosen value (a user or object name)
// cannot ping a channel or disguise a link. Values that are unknown are
// empty.
type ChatData struct {
	ID       string    // Vigil's alert ID
	Rule     string    // rule name
	Priority string    // Falco's priority name, e.g. Critical
	Message  string    // the rule's output with fields substituted
	Source   string    // event source, k8s_audit
	Hostname string    // host that raised the alert
	Tags     List      // rule tags
	Time     time.Time // event time, in the configured time zone (zero if unknown)
	TimeText string    // Time as "2006-01-02 15:04:05 MST" ("" if unknown)
	Cluster  string    // cluster the event came from
	Capture  string    // how the event reached Vigil: webhook, admission or tail
	AuditID  string    // the event's audit ID
	Stage    string    // the event's audit stage

	User             string // who: ka.user.name
	Groups           List   // ka.user.groups
	ImpersonatedUser string // ka.impuser.name
	Verb             string // what: ka.verb
	Resource         string // ka.target.resource
	Subresource      string // ka.target.subresource
	Namespace        string // ka.target.namespace
	Name             string // ka.target.name
	URI              string // ka.uri
	ResponseCode     string // ka.response.code
	SourceIPs        List   // where from: ka.sourceips
	UserAgent        string // ka.useragent

	Link   string            // the alert in Vigil's UI, or "" without a UI URL
	Fields map[string]string // every output field by key; lists joined with ", "
}

// List is a list of values that prints joined with ", ".
type List []string

// String implements fmt.Stringer.
func (l List) String() string { return strings.Join(l, ", ") }

// DefaultChatTemplate is the main text of a chat message when none is
// configured; the rule and the priority are in the message's title.
const DefaultChatTemplate = "{{.Message}}"

// Chat is a sink that posts one message per alert to a chat's incoming
// webhook: Slack (Block Kit), Mattermost (attachments) or Microsoft Teams
// (a Workflows webhook, Adaptive Card).
type Chat struct {
	kind     string
	client   *http.Client
	url      string // the webhook URL: a credential
	tmpl     *template.Template
	username string
	iconURL  string
	channel  string
	uiURL    string
	loc      *time.Location
	logger   *slog.Logger

	mu   sync.Mutex // guards prog: Send may be called concurrently
	prog sendProgress
}

// NewSlack returns a sink posting to a Slack incoming webhook.
func NewSlack(c config.ChatOutput, o SinkOptions) (*Chat, error) {
	return newChat("slack", c, o)
}

// NewMattermost returns a sink posting to a Mattermost incoming webhook.
func NewMattermost(c config.ChatOutput, o SinkOptions) (*Chat, error) {
	return newChat("mattermost", c, o)
}

// NewTeams returns a sink posting to a Microsoft Teams Workflows webhook
// (the "When a Teams webhook request is received" trigger).
func NewTeams(c config.ChatOutput, o SinkOptions) (*Chat, error) {
	return newChat("teams", c, o)
}

func newChat(kind string, c config.ChatOutput, o SinkOptions) (*Chat, error) {
	o = o.withDefaults()
	u := string(c.WebhookURL)
	if c.WebhookURLFile != "" {
		var err error
		if u, err = httpSecretFile(c.WebhookURLFile); err != nil {
			return nil, fmt.Errorf("%s output: webhook_url_file: %w", kind, err)
		}
	}
	// Never echo the URL: it is the credential.
	if p, err := url.Parse(u); err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") {
		return nil, fmt.Errorf("%s output: webhook_url: expected an absolute https URL", kind)
	}
	src := c.Template
	if src == "" {
		src = DefaultChatTemplate
	}
	tmpl, err := template.New(kind).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s output: template: %w", kind, err)
	}
	client, err := httpClientFor(c.TLS, time.Duration(c.Timeout))
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", kind, err)
	}
	s := &Chat{kind: kind, client: client, url: u, tmpl: tmpl, username: c.Username, iconURL: c.IconURL,
		channel: c.Channel, uiURL: strings.TrimRight(o.UIURL, "/"), loc: o.Location, logger: o.Logger}
	// Field names are only checked when the template runs: run it once on
	// a sample so that a typo stops the start, not every message.
	sample := &journal.Alert{ID: "0", Alert: alert.Alert{Rule: "r", Priority: alert.PriorityWarning, Message: "m"}}
	if err := tmpl.Execute(&bytes.Buffer{}, s.data(sample)); err != nil {
		return nil, fmt.Errorf("%s output: template: %w", kind, err)
	}
	return s, nil
}

// Send implements Sink: one message per alert. A retry after a failure
// posts only the alerts not yet delivered, so that a channel does not see
// the same alert twice.
func (s *Chat) Send(ctx context.Context, alerts []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prog.begin(alerts)
	for _, a := range alerts {
		if !s.prog.pending(a) {
			continue
		}
		body, err := s.message(a)
		if err == nil {
			err = s.post(ctx, body)
		}
		if err != nil && !IsPermanent(err) {
			return fmt.Errorf("alert %s: %w", a.ID, err)
		}
		s.prog.mark(a, err)
	}
	return s.prog.finish(alerts)
}

func (s *Chat) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s output: cannot build the request", s.kind))
	}
	req.Header.Set("Content-Type", "application/json")
	if s.kind == "teams" {
		// Without a charset the Workflows endpoint may read the body as
		// UTF-16, halving the size it accepts.
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("User-Agent", "vigil")
	return Do(s.client, req)
}

// Close implements Sink.
func (s *Chat) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// message renders the request body for one alert.
func (s *Chat) message(a *journal.Alert) ([]byte, error) {
	d := s.data(a)
	var buf bytes.Buffer
	if err := s.tmpl.Execute(&buf, d); err != nil {
		// The template ran on a sample at start, so this is a value it
		// did not expect: the alert still goes out, with the default text.
		s.logger.Warn("chat template failed; default text used", "alert_id", a.ID, "err", err)
		buf.Reset()
		buf.WriteString(d.Message)
	}
	text := strings.TrimSpace(buf.String())
	switch s.kind {
	case "slack":
		return json.Marshal(s.slack(a, d, text))
	case "mattermost":
		return json.Marshal(s.mattermost(a, d, text))
	}
	return s.teams(a, d, text)
}

// data gathers what the template and the message show, escaped for the
// chat's markup. Who/what/where come from the alert's output fields when
// the rule has them, else from the audit event.
func (s *Chat) data(a *journal.Alert) ChatData {
	esc := s.escape
	fields := map[string]string{}
	lists := map[string][]string{}
	for _, f := range a.Alert.Fields {
		if f.Missing || len(f.Values) == 0 {
			continue
		}
		fields[f.Key] = strings.Join(f.Values, ", ")
		lists[f.Key] = f.Values
	}
	ev := chatParseEvent(a.Event)
	pick := func(key, fallback string) string {
		if v, ok := fields[key]; ok {
			return v
		}
		return fallback
	}
	pickList := func(key string, fallback []string) []string {
		if v, ok := lists[key]; ok {
			return v
		}
		return fallback
	}
	code := ""
	if ev.ResponseStatus.Code != 0 {
		code = strconv.Itoa(ev.ResponseStatus.Code)
	}
	d := ChatData{
		ID:       esc(a.ID),
		Rule:     esc(a.Alert.Rule),
		Priority: a.Alert.Priority.String(),
		Message:  esc(a.Alert.Message),
		Source:   esc(a.Alert.Source),
		Hostname: esc(a.Alert.Hostname),
		Tags:     chatEscList(esc, a.Alert.Tags),
		Cluster:  esc(a.Cluster),
		Capture:  esc(a.Capture),
		AuditID:  esc(a.AuditID),
		Stage:    esc(a.Stage),

		User:             esc(pick("ka.user.name", ev.User.Username)),
		Groups:           chatEscList(esc, pickList("ka.user.groups", ev.User.Groups)),
		ImpersonatedUser: esc(pick("ka.impuser.name", ev.ImpersonatedUser.Username)),
		Verb:             esc(pick("ka.verb", ev.Verb)),
		Resource:         esc(pick("ka.target.resource", ev.ObjectRef.Resource)),
		Subresource:      esc(pick("ka.target.subresource", ev.ObjectRef.Subresource)),
		Namespace:        esc(pick("ka.target.namespace", ev.ObjectRef.Namespace)),
		Name:             esc(pick("ka.target.name", ev.ObjectRef.Name)),
		URI:              esc(pick("ka.uri", ev.RequestURI)),
		ResponseCode:     esc(pick("ka.response.code", code)),
		SourceIPs:        chatEscList(esc, pickList("ka.sourceips", ev.SourceIPs)),
		UserAgent:        esc(pick("ka.useragent", ev.UserAgent)),
		Fields:           make(map[string]string, len(fields)),
	}
	if a.Alert.Time != 0 {
		d.Time = time.Unix(0, a.Alert.Time).In(s.loc)
		d.TimeText = d.Time.Format("2006-01-02 15:04:05 MST")
	}
	if d.Cluster == "" {
		d.Cluster = esc(fields["ka.cluster.name"])
	}
	for k, v := range fields {
		d.Fields[k] = esc(v)
	}
	if s.uiURL != "" && a.ID != "" {
		d.Link = s.uiURL + "/alerts/" + url.PathEscape(a.ID)
		if s.kind == "slack" {
			d.Link = esc(d.Link)
		}
	}
	return d
}

func chatEscList(esc func(string) string, l []string) List {
	out := make(List, len(l))
	for i, v := range l {
		out[i] = esc(v)
	}
	return out
}

// chatAuditEvent is the part of an audit.k8s.io/v1 Event a chat message shows.
type chatAuditEvent struct {
	Verb       string   `json:"verb"`
	RequestURI string   `json:"requestURI"`
	UserAgent  string   `json:"userAgent"`
	SourceIPs  []string `json:"sourceIPs"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ImpersonatedUser struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// chatParseEvent reads what it can; a missing or odd event gives zeros.
func chatParseEvent(raw json.RawMessage) chatAuditEvent {
	var ev chatAuditEvent
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &ev); err != nil {
			return chatAuditEvent{}
		}
	}
	return ev
}

// escape neutralises a value for the chat's markup.
func (s *Chat) escape(v string) string {
	switch s.kind {
	case "slack":
		// Slack's three control characters; with them escaped, no
		// <!channel>, <@user> or <url|disguised link> can be formed.
		return slackEscaper.Replace(v)
	case "mattermost":
		return mattermostEscaper.Replace(v)
	}
	return teamsEscaper.Replace(v)
}

var (
	slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	// A zero-width space after @ stops @channel, @all, @here and
	// @user mentions; one between ] and ( stops a [text](url) link that
	// would show other text than its target.
	mattermostEscaper = strings.NewReplacer("@", "@\u200b", "](", "]\u200b(")
	teamsEscaper      = strings.NewReplacer("](", "]\u200b(")
)

// Slack's documented Block Kit limits, in characters.
const (
	slackMaxBlocks     = 50
	slackMaxText       = 3000 // section text, and what we keep of the top-level text
	slackMaxHeader     = 150  // header block plain_text
	slackMaxField      = 2000 // each section field
	slackMaxFields     = 10   // fields per section
	slackMaxContextEls = 10   // elements per context block
)

type slackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []*slackText `json:"fields,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string        `json:"text"`
	Blocks []*slackBlock `json:"blocks"`
}

func (s *Chat) slack(a *journal.Alert, d ChatData, text string) *slackMessage {
	headline := a.Alert.Priority.String() + ": " + a.Alert.Rule
	m := &slackMessage{
		// The notification and fallback text; escaped, as Slack parses it.
		Text: chatTruncate(chatEmoji(a.Alert.Priority)+" "+d.Priority+": "+d.Rule+" - "+d.Message, slackMaxText, true),
		Blocks: []*slackBlock{
			// plain_text is not parsed for mentions or links: the raw rule name.
			{Type: "header", Text: &slackText{Type: "plain_text", Text: chatTruncate(chatEmoji(a.Alert.Priority)+" "+headline, slackMaxHeader, false), Emoji: true}},
		},
	}
	if text != "" {
		m.Blocks = append(m.Blocks, &slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: chatTruncate(text, slackMaxText, true)}})
	}
	var fields []*slackText
	for _, f := range chatFacts(d) {
		v := f.value
		if f.title == "When" {
			// Slack shows the date in each reader's time zone; the text
			// after | is for clients that cannot.
			v = fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", time.Unix(0, a.Alert.Time).Unix(), d.TimeText)
		}
		fields = append(fields, &slackText{Type: "mrkdwn", Text: chatTruncate("*"+f.title+"*\n"+v, slackMaxField, true)})
	}
	if len(fields) > slackMaxFields {
		fields = fields[:slackMaxFields]
	}
	if len(fields) > 0 {
		m.Blocks = append(m.Blocks, &slackBlock{Type: "section", Fields: fields})
	}
	var ctx []*slackText
	if c := chatContextLine(d); c != "" {
		ctx = append(ctx, &slackText{Type: "mrkdwn", Text: chatTruncate(c, slackMaxText, true)})
	}
	if d.Link != "" {
		// A link, not a button: a button posts an interaction payload
		// that an incoming webhook's app has nowhere to receive.
		ctx = append(ctx, &slackText{Type: "mrkdwn", Text: "<" + d.Link + "|Open in Vigil>"})
	}
	if len(ctx) > 0 {
		m.Blocks = append(m.Blocks, &slackBlock{Type: "context", Elements: ctx[:min(len(ctx), slackMaxContextEls)]})
	}
	if len(m.Blocks) > slackMaxBlocks {
		m.Blocks = m.Blocks[:slackMaxBlocks]
	}
	return m
}

// chatFact is one labelled line of a message: who, what, when, where.
type chatFact struct{ title, value string }

// chatFacts returns the who/what/when/where of an alert, skipping what is
// unknown.
func chatFacts(d ChatData) []chatFact {
	var out []chatFact
	lines := func(title string, ls ...string) {
		var keep []string
		for _, l := range ls {
			if l != "" {
				keep = append(keep, l)
			}
		}
		if len(keep) > 0 {
			out = append(out, chatFact{title, strings.Join(keep, "\n")})
		}
	}
	label := func(l, v string) string {
		if v == "" {
			return ""
		}
		return l + " " + v
	}
	target := d.Resource
	if d.Subresource != "" {
		target += "/" + d.Subresource
	}
	obj := d.Name
	if d.Namespace != "" {
		obj = d.Namespace + "/" + d.Name
	}
	lines("Who", d.User, label("groups", d.Groups.String()), label("as", d.ImpersonatedUser))
	lines("What", strings.TrimSpace(strings.Join([]string{d.Verb, target, obj}, " ")), label("response", d.ResponseCode))
	lines("When", d.TimeText)
	lines("Where", label("cluster", d.Cluster), label("from", d.SourceIPs.String()), label("agent", d.UserAgent))
	return out
}

// chatContextLine names how the alert was captured and its identifiers.
func chatContextLine(d ChatData) string {
	var parts []string
	add := func(l, v string) {
		if v != "" {
			parts = append(parts, l+" "+v)
		}
	}
	add("capture", d.Capture)
	add("stage", d.Stage)
	add("audit ID", d.AuditID)
	add("alert", d.ID)
	return strings.Join(parts, " · ")
}

func chatEmoji(p alert.Priority) string {
	switch {
	case p <= alert.PriorityCritical:
		return ":rotating_light:"
	case p <= alert.PriorityWarning:
		return ":warning:"
	}
	return ":information_source:"
}

// chatColor is the attachment colour of a priority.
func chatColor(p alert.Priority) string {
	switch p {
	case alert.PriorityEmergency, alert.PriorityAlert:
		return "#8B0000"
	case alert.PriorityCritical:
		return "#D0021B"
	case alert.PriorityError:
		return "#E8590C"
	case alert.PriorityWarning:
		return "#F5A623"
	case alert.PriorityNotice:
		return "#2D9CDB"
	case alert.PriorityInformational:
		return "#5B8DEF"
	}
	return "#9E9E9E"
}

// Mattermost limits: a post holds at most 16383 characters; the
// attachment's text and fields are kept well below it.
const (
	mattermostMaxText  = 8000
	mattermostMaxField = 1000
)

type mattermostField struct {
	Short bool   `json:"short"`
	Title string `json:"title"`
	Value string `json:"value"`
}

type mattermostAttachment struct {
	Fallback  string             `json:"fallback"`
	Color     string             `json:"color"`
	Title     string             `json:"title"`
	TitleLink string             `json:"title_link,omitempty"`
	Text      string             `json:"text,omitempty"`
	Fields    []*mattermostField `json:"fields,omitempty"`
	Footer    string             `json:"footer,omitempty"`
	TS        int64              `json:"ts,omitempty"`
}

type mattermostMessage struct {
	Username    string                  `json:"username,omitempty"`
	IconURL     string                  `json:"icon_url,omitempty"`
	Channel     string                  `json:"channel,omitempty"`
	Attachments []*mattermostAttachment `json:"attachments"`
}

// mattermost renders one attachment (Mattermost's Slack-compatible
// message attachments): no top-level text, the fallback is what
// notifications show.
func (s *Chat) mattermost(a *journal.Alert, d ChatData, text string) *mattermostMessage {
	att := &mattermostAttachment{
		Fallback:  chatTruncate(d.Priority+": "+d.Rule+" - "+d.Message, mattermostMaxField, false),
		Color:     chatColor(a.Alert.Priority),
		Title:     chatTruncate(d.Priority+": "+d.Rule, mattermostMaxField, false),
		TitleLink: d.Link,
		Text:      chatTruncate(text, mattermostMaxText, false),
		Footer:    chatTruncate(chatContextLine(d), mattermostMaxField, false),
	}
	if a.Alert.Time != 0 {
		att.TS = time.Unix(0, a.Alert.Time).Unix()
	}
	for _, f := range chatFacts(d) {
		att.Fields = append(att.Fields, &mattermostField{Short: true, Title: f.title, Value: chatTruncate(f.value, mattermostMaxField, false)})
	}
	return &mattermostMessage{Username: s.username, IconURL: s.iconURL, Channel: s.channel, Attachments: []*mattermostAttachment{att}}
}

// teamsMaxBytes is the most a Teams message may weigh, the card and its
// envelope: Microsoft documents about 28 KB; 28000 bytes leaves no doubt.
const teamsMaxBytes = 28000

type teamsMessage struct {
	Type        string             `json:"type"`
	Attachments []*teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string     `json:"contentType"`
	ContentURL  *string    `json:"contentUrl"`
	Content     *teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"`
	Version string           `json:"version"`
	MSTeams map[string]any   `json:"msteams,omitempty"`
	Body    []map[string]any `json:"body"`
	Actions []map[string]any `json:"actions,omitempty"`
}

// teams renders an Adaptive Card 1.4 in the envelope the Workflows
// webhook trigger reads: a message with one card attachment. A card over
// the size limit has its main text cut until it fits, then its other
// values.
func (s *Chat) teams(a *journal.Alert, d ChatData, text string) ([]byte, error) {
	textMax, valueMax := chatUTF16Len(text), teamsMaxValue
	for {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // < > & as themselves: smaller
		if err := enc.Encode(s.teamsCard(a, d, chatTruncate(text, textMax, false), valueMax)); err != nil {
			return nil, Permanent(err)
		}
		b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		switch {
		case len(b) <= teamsMaxBytes:
			return b, nil
		case textMax > 0:
			textMax = min(textMax/2, max(textMax-(len(b)-teamsMaxBytes), 0))
		case valueMax > 0:
			valueMax /= 2
		default:
			return nil, Permanent(fmt.Errorf("the card is %d bytes even without its text; Teams takes at most %d", len(b), teamsMaxBytes))
		}
	}
}

// teamsMaxValue bounds the card's title, facts and context line, in
// characters, before any shrinking.
const teamsMaxValue = 1000

func (s *Chat) teamsCard(a *journal.Alert, d ChatData, text string, valueMax int) *teamsMessage {
	color := "Default"
	switch {
	case a.Alert.Priority <= alert.PriorityError:
		color = "Attention"
	case a.Alert.Priority == alert.PriorityWarning:
		color = "Warning"
	case a.Alert.Priority <= alert.PriorityInformational:
		color = "Accent"
	}
	card := &teamsCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
		MSTeams: map[string]any{"width": "Full"},
		Body: []map[string]any{
			{"type": "TextBlock", "text": chatTruncate(d.Priority+": "+d.Rule, max(valueMax, 40), false), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
		},
	}
	if text != "" {
		card.Body = append(card.Body, map[string]any{"type": "TextBlock", "text": text, "wrap": true})
	}
	var facts []map[string]string
	for _, f := range chatFacts(d) {
		if v := chatTruncate(strings.ReplaceAll(f.value, "\n", "; "), valueMax, false); v != "" {
			facts = append(facts, map[string]string{"title": f.title, "value": v})
		}
	}
	if len(facts) > 0 {
		card.Body = append(card.Body, map[string]any{"type": "FactSet", "facts": facts})
	}
	if c := chatTruncate(chatContextLine(d), valueMax, false); c != "" {
		card.Body = append(card.Body, map[string]any{"type": "TextBlock", "text": c, "isSubtle": true, "size": "Small", "wrap": true})
	}
	if d.Link != "" {
		card.Actions = []map[string]any{{"type": "Action.OpenUrl", "title": "Open in Vigil", "url": d.Link}}
	}
	return &teamsMessage{Type: "message", Attachments: []*teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card,
	}}}
}

// chatTruncate cuts s to at most n characters (counted in UTF-16 code units,
// as Slack and Teams count them), ending with "…" when cut. With entities,
// an HTML entity (&amp;) is never cut in half.
func chatTruncate(s string, n int, entities bool) string {
	if chatUTF16Len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	units, end := 0, 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if w < 0 {
			w = 1
		}
		if units+w > n-1 { // room for the ellipsis
			break
		}
		units += w
		end = i + utf8.RuneLen(r)
	}
	cut := s[:end]
	if entities {
		if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
			cut = cut[:i]
		}
	}
	return cut + "…"
}

func chatUTF16Len(s string) int {
	n := 0
	for _, r := range s {
		if w := utf16.RuneLen(r); w > 0 {
			n += w
		} else {
			n++
		}
	}
	return n
}
