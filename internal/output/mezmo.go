package output

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// Mezmo defaults; see config.MezmoOutput.
const (
	mezmoDefaultURL = "https://logs.mezmo.com"
	mezmoPath       = "/logs/ingest"
	mezmoDefaultApp = "vigil"
	// mezmoTimestampWindow: the LogDNA client libraries replace a
	// timestamp further than a day from now by the current time; the
	// event time stays in meta.time.
	mezmoTimestampWindow = 24 * time.Hour
)

// saasTruncated ends a value that was cut to fit a size bound.
const saasTruncated = "...[truncated]"

// Mezmo is a sink that sends alerts to Mezmo's (formerly LogDNA's)
// ingestion API, one line per alert, in as few requests as the size bound
// allows. Requests are sent in order; when one fails, Send returns its
// error and the Dispatcher sends the whole batch again (at least once).
type Mezmo struct {
	url       string // …/logs/ingest without the query
	key       string // the ingestion key
	apikeyHdr bool   // send the key in an apikey header instead of basic auth
	query     url.Values
	app       string
	env       string
	format    Format
	maxReq    int
	maxLine   int
	maxMeta   int
	hostname  string // the alerts' fallback hostname
	uiURL     string
	loc       *time.Location
	logger    *slog.Logger
	client    *http.Client
	now       func() time.Time
	truncated atomic.Int64 // alerts cut to fit so far

	mu  sync.Mutex // guards buf and query: Send
	buf []byte
}

// NewMezmo returns a Mezmo sink. It reads ingestion_key_file but does not
// connect.
func NewMezmo(c config.MezmoOutput, o SinkOptions) (*Mezmo, error) {
	o = o.withDefaults()
	s := &Mezmo{
		app:      c.App,
		env:      c.Env,
		maxReq:   int(c.MaxRequestBytes),
		maxLine:  int(c.MaxLineBytes),
		maxMeta:  int(c.MaxMetaBytes),
		hostname: o.Hostname,
		uiURL:    strings.TrimSuffix(o.UIURL, "/"),
		loc:      o.Location,
		logger:   o.Logger,
		client:   saasClient(),
		now:      time.Now,
	}
	if s.app == "" {
		s.app = mezmoDefaultApp
	}
	if s.maxReq <= 0 {
		s.maxReq = config.MezmoMaxRequestBytes
	}
	if s.maxLine <= 0 {
		s.maxLine = config.MezmoMaxLineBytes
	}
	if s.maxMeta <= 0 {
		s.maxMeta = config.MezmoMaxLineBytes
	}
	var err error
	if s.format, err = ParseFormat(c.Format); err != nil {
		return nil, err
	}
	switch c.Auth {
	case "", "basic":
	case "apikey":
		s.apikeyHdr = true
	default:
		return nil, fmt.Errorf("mezmo auth %q: expected basic or apikey", c.Auth)
	}
	if s.key, err = saasSecret("mezmo ingestion_key", c.IngestionKey, c.IngestionKeyFile); err != nil {
		return nil, err
	}
	base := c.URL
	if base == "" {
		base = mezmoDefaultURL
	}
	if s.url, err = saasEndpoint("mezmo url", base, mezmoPath); err != nil {
		return nil, err
	}
	host := c.Hostname
	if host == "" {
		host = o.Hostname
	}
	if host == "" {
		host = "vigil"
	}
	s.query = url.Values{"hostname": {host}}
	if len(c.Tags) > 0 {
		s.query.Set("tags", strings.Join(c.Tags, ","))
	}
	if c.MAC != "" {
		s.query.Set("mac", c.MAC)
	}
	if c.IP != "" {
		s.query.Set("ip", c.IP)
	}
	return s, nil
}

// Truncated returns how many alerts were cut to fit the line and meta
// bounds.
func (s *Mezmo) Truncated() int64 { return s.truncated.Load() }

// Close implements Sink.
func (s *Mezmo) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// mezmoBodyHead and mezmoBodyTail frame a request body.
const (
	mezmoBodyHead = `{"lines":[`
	mezmoBodyTail = `]}`
)

// Send implements Sink.
func (s *Mezmo) Send(ctx context.Context, alerts []*journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.maxReq - len(mezmoBodyHead) - len(mezmoBodyTail)
	s.buf = append(s.buf[:0], mezmoBodyHead...)
	n := 0 // lines in buf
	var line []byte
	for _, a := range alerts {
		var err error
		line, err = s.appendFitting(line[:0], a, room)
		if err != nil {
			return err
		}
		if n > 0 && len(s.buf)-len(mezmoBodyHead)+1+len(line) > room {
			if err := s.postLocked(ctx); err != nil {
				return err
			}
			s.buf, n = append(s.buf[:0], mezmoBodyHead...), 0
		}
		if n > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, line...)
		n++
	}
	return s.postLocked(ctx)
}

// postLocked sends the body in buf, closing it first.
func (s *Mezmo) postLocked(ctx context.Context) error {
	s.buf = append(s.buf, mezmoBodyTail...)
	q := s.query // only Send, under mu, uses it
	q.Set("now", strconv.FormatInt(s.now().UnixMilli(), 10))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"?"+q.Encode(), bytes.NewReader(s.buf))
	if err != nil {
		return Permanent(fmt.Errorf("mezmo request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", saasUserAgent)
	if s.apikeyHdr {
		req.Header.Set("apikey", s.key)
	} else {
		req.SetBasicAuth(s.key, "")
	}
	if err := Do(s.client, req); err != nil {
		return saasScrub(fmt.Errorf("mezmo ingest: %w", err), s.key)
	}
	return nil
}

// appendFitting appends a's line object, its values cut until the line,
// the meta and the whole object fit their bounds.
func (s *Mezmo) appendFitting(dst []byte, a *journal.Alert, room int) ([]byte, error) {
	start := len(dst)
	fits := func(line, meta int) bool {
		return line <= s.maxLine && meta <= s.maxMeta && len(dst)-start <= room
	}
	var ln, mn int
	dst, ln, mn = s.appendLine(dst, a, false)
	if fits(ln, mn) {
		return dst, nil
	}
	s.truncated.Add(1)
	s.logger.Warn("alert cut to fit mezmo's bounds", "alert_id", a.ID, "line_bytes", ln, "meta_bytes", mn)
	for limit := max(s.maxLine, s.maxMeta); limit >= 64; limit /= 2 {
		dst, ln, mn = s.appendLine(dst[:start], saasShrink(a, limit), true)
		if fits(ln, mn) {
			return dst, nil
		}
	}
	// Too many fields for any cut: the line is cut whatever its format
	// and meta keeps no output fields.
	b := saasShrink(a, 64)
	line := saasCut(s.render(nil, b), s.maxLine)
	b.Alert.Fields = nil
	dst = s.appendObject(dst[:start], a, line, s.appendMeta(nil, b, true))
	if len(dst)-start > room {
		return dst[:start], Permanent(fmt.Errorf("mezmo: alert %s does not fit in %d bytes", a.ID, room))
	}
	return dst, nil
}

// appendLine appends a's line object and returns the sizes of its line
// and its meta.
func (s *Mezmo) appendLine(dst []byte, a *journal.Alert, truncated bool) ([]byte, int, int) {
	line := s.render(nil, a)
	meta := s.appendMeta(nil, a, truncated)
	return s.appendObject(dst, a, line, meta), len(line), len(meta)
}

// render returns a's Falco JSON or text.
func (s *Mezmo) render(dst []byte, a *journal.Alert) []byte {
	if s.format == Text {
		return alert.AppendText(dst, &a.Alert, s.loc)
	}
	return alert.AppendJSON(dst, &a.Alert, s.loc)
}

// appendObject appends {"timestamp","line","app","level","env","meta"}.
func (s *Mezmo) appendObject(dst []byte, a *journal.Alert, line, meta []byte) []byte {
	ts := time.Unix(0, a.Alert.Time)
	if now := s.now(); ts.Before(now.Add(-mezmoTimestampWindow)) || ts.After(now.Add(mezmoTimestampWindow)) {
		ts = now
	}
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, ts.UnixMilli(), 10)
	dst = append(dst, `,"line":`...)
	dst = saasAppendString(dst, line)
	dst = append(dst, `,"app":`...)
	dst = saasAppendString(dst, []byte(s.app))
	dst = append(dst, `,"level":"`...)
	dst = append(dst, mezmoLevel(a.Alert.Priority)...)
	dst = append(dst, '"')
	if s.env != "" {
		dst = append(dst, `,"env":`...)
		dst = saasAppendString(dst, []byte(s.env))
	}
	dst = append(dst, `,"meta":`...)
	dst = append(dst, meta...)
	return append(dst, '}')
}

// appendMeta appends the meta object. Each key always has the same JSON
// type, as Mezmo requires for meta to be parsed.
func (s *Mezmo) appendMeta(dst []byte, a *journal.Alert, truncated bool) []byte {
	dst = append(dst, `{"alert_id":`...)
	dst = saasAppendString(dst, []byte(a.ID))
	dst = append(dst, `,"audit_id":`...)
	dst = saasAppendString(dst, []byte(a.AuditID))
	dst = append(dst, `,"capture":`...)
	dst = saasAppendString(dst, []byte(a.Capture))
	dst = append(dst, `,"cluster":`...)
	dst = saasAppendString(dst, []byte(a.Cluster))
	dst = append(dst, `,"hostname":`...)
	dst = saasAppendString(dst, []byte(saasHostname(a, s.hostname)))
	dst = append(dst, `,"output_fields":`...)
	dst = saasAppendFields(dst, a.Alert.Fields)
	dst = append(dst, `,"priority":`...)
	dst = saasAppendString(dst, []byte(a.Alert.Priority.String()))
	dst = append(dst, `,"rule":`...)
	dst = saasAppendString(dst, []byte(a.Alert.Rule))
	dst = append(dst, `,"source":`...)
	dst = saasAppendString(dst, []byte(a.Alert.Source))
	dst = append(dst, `,"tags":[`...)
	for i, t := range a.Alert.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = saasAppendString(dst, []byte(t))
	}
	dst = append(dst, `],"time":"`...)
	dst = time.Unix(0, a.Alert.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z")
	dst = append(dst, '"')
	if truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	if s.uiURL != "" && a.ID != "" {
		dst = append(dst, `,"url":`...)
		dst = saasAppendString(dst, []byte(s.uiURL+"/alerts/"+a.ID))
	}
	return append(dst, '}')
}

// mezmoLevel maps a priority to a level from Mezmo's list of parsed levels
// (CRITICAL, DEBUG, EMERGENCY, ERROR, FATAL, INFO, SEVERE, TRACE, WARN,
// ALERT), which has no NOTICE.
func mezmoLevel(p alert.Priority) string {
	switch p {
	case alert.PriorityEmergency:
		return "EMERGENCY"
	case alert.PriorityAlert:
		return "ALERT"
	case alert.PriorityCritical:
		return "CRITICAL"
	case alert.PriorityError:
		return "ERROR"
	case alert.PriorityWarning:
		return "WARN"
	case alert.PriorityNotice, alert.PriorityInformational:
		return "INFO"
	}
	return "DEBUG"
}

// saasUserAgent names Vigil to the SaaS ingestion APIs.
const saasUserAgent = "vigil"

// saasClient returns the HTTP client of a SaaS sink. It follows no
// redirect: a credential must not go anywhere but the configured host, and
// an ingestion API that redirects a POST is misconfigured (a 3xx is a
// permanent error). Timeouts come from the Send context.
func saasClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// saasEndpoint checks base and appends path unless it already ends with it.
func saasEndpoint(what, base, path string) (string, error) {
	if err := config.CheckSinkURL(base); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, path) {
		return base, nil
	}
	return base + path, nil
}

// saasMaxKeyFile bounds a key file: it holds one line.
const saasMaxKeyFile = 4 << 10

// saasSecret returns the secret, or the trimmed content of its file.
func saasSecret(what string, v config.Secret, file string) (string, error) {
	if file == "" {
		if v == "" {
			return "", fmt.Errorf("%s: not set", what)
		}
		return string(v), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", what, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, saasMaxKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("%s_file %s: %w", what, file, err)
	}
	if len(b) > saasMaxKeyFile {
		return "", fmt.Errorf("%s_file %s: larger than %d bytes; it holds one line", what, file, saasMaxKeyFile)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("%s_file %s: empty", what, file)
	}
	if strings.ContainsAny(k, "\r\n") {
		return "", fmt.Errorf("%s_file %s: more than one line", what, file)
	}
	return k, nil
}

// saasScrubbed is an error whose message had secrets replaced; it unwraps
// to the original, so that Permanent and RetryAfter still classify it.
type saasScrubbed struct {
	msg string
	err error
}

func (e *saasScrubbed) Error() string { return e.msg }
func (e *saasScrubbed) Unwrap() error { return e.err }

// saasScrub replaces each secret in err's message by <secret>, in case a
// server echoes a credential in its answer.
func saasScrub(err error, secrets ...string) error {
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(msg, s) {
			msg, changed = strings.ReplaceAll(msg, s, "<secret>"), true
		}
	}
	if !changed {
		return err
	}
	return &saasScrubbed{msg, err}
}

// saasHostname is the alert's hostname, or the fallback.
func saasHostname(a *journal.Alert, fallback string) string {
	if a.Alert.Hostname != "" {
		return a.Alert.Hostname
	}
	return fallback
}

// saasShrink returns a copy of a whose message and field values are cut to
// limit bytes each, with a marker.
func saasShrink(a *journal.Alert, limit int) *journal.Alert {
	b := *a
	b.Alert.Message = string(saasCut([]byte(a.Alert.Message), limit))
	b.Alert.Fields = make([]alert.Field, len(a.Alert.Fields))
	for i, f := range a.Alert.Fields {
		g := f
		if !f.Int {
			g.Values = make([]string, len(f.Values))
			for j, v := range f.Values {
				g.Values[j] = string(saasCut([]byte(v), limit))
			}
		}
		b.Alert.Fields[i] = g
	}
	return &b
}

// saasCut cuts s to at most limit bytes, at a UTF-8 boundary, ending with
// the marker when it cut.
func saasCut(s []byte, limit int) []byte {
	if len(s) <= limit {
		return s
	}
	n := max(limit-len(saasTruncated), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	out := make([]byte, 0, n+len(saasTruncated))
	out = append(out, s[:n]...)
	return append(out, saasTruncated...)
}

// saasAppendFields appends fields as Falco's output_fields object: an Int
// field as a number, a list as an array, a missing one as null, any other
// as a string.
func saasAppendFields(dst []byte, fields []alert.Field) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = saasAppendString(dst, []byte(f.Key))
		dst = append(dst, ':')
		switch {
		case f.Missing:
			dst = append(dst, "null"...)
		case f.Int && len(f.Values) == 1 && saasIsInt(f.Values[0]):
			dst = append(dst, f.Values[0]...)
		case f.List:
			dst = append(dst, '[')
			for j, v := range f.Values {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = saasAppendString(dst, []byte(v))
			}
			dst = append(dst, ']')
		case len(f.Values) > 0:
			dst = saasAppendString(dst, []byte(f.Values[0]))
		default:
			dst = append(dst, `""`...)
		}
	}
	return append(dst, '}')
}

func saasIsInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// saasAppendString appends s as a JSON string: '"', '\\' and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029
// escaped (JavaScript consumers), everything else verbatim.
func saasAppendString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, `\u202`...)
			dst = append(dst, hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
