package config

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template"
)

// HTTPOutput configures an http output (type http): a POST of Falco's
// alert, as Falco's http_output sends it, so that Falcosidekick and
// anything built for Falco can receive Vigil's alerts.
//
// By default each request carries one alert, exactly as Falco sends it:
// the JSON alert (format json, Content-Type application/json) or the text
// line (format text, Content-Type text/plain), without a trailing newline,
// with User-Agent falcosecurity/falco. Falco's keys map as follows:
// user_agent is the same; insecure is tls.insecure_skip_verify;
// mtls/client_cert/client_key are tls.cert_file/tls.key_file; ca_cert and
// ca_bundle are tls.ca_file (ca_path has no equivalent: concatenate the
// certificates into one file); keep_alive is always on (connections are
// reused, with TCP keep-alives); max_consecutive_timeouts is replaced by
// the output's retry with backoff. echo (print the answer) and
// compress_uploads (which, despite its name, only asks the server for a
// compressed answer) are not mirrored. Redirects are not followed, as
// Falco does not follow them.
type HTTPOutput struct {
	// URL is where alerts are POSTed (required), http or https. It is
	// never logged: only its scheme and host appear in errors.
	URL string `yaml:"url"`
	// UserAgent is the User-Agent header. Default falcosecurity/falco,
	// what Falco sends, so that receivers that key on it see no
	// difference.
	UserAgent string `yaml:"user_agent"`
	// Headers are extra request headers. Their values are secrets (an
	// API key is often sent this way): they never print.
	Headers map[string]Secret `yaml:"headers"`
	// HeaderFiles are extra headers whose values are read from files
	// (one line each) when the output starts.
	HeaderFiles map[string]string `yaml:"header_files"`
	// BasicAuth sends an Authorization: Basic header.
	BasicAuth *HTTPBasicAuth `yaml:"basic_auth"`
	// BearerToken sends an Authorization: Bearer header.
	BearerToken     Secret `yaml:"bearer_token"`
	BearerTokenFile string `yaml:"bearer_token_file"` // file holding the bearer token (one line)
	// TLS configures https: the CAs that sign the receiver's certificate
	// and a client certificate for receivers that require one (mTLS).
	TLS HTTPTLS `yaml:"tls"`
	// Timeout bounds one request, from connecting to reading the answer.
	// Default 10s.
	Timeout Duration `yaml:"timeout"`
	// Batch is none (default: one alert per request, as Falco) or ndjson:
	// several alerts per request, one JSON alert per line, each line
	// ending with a newline, Content-Type application/x-ndjson, for
	// receivers that accept it. ndjson needs format json.
	Batch string `yaml:"batch"`
	// MaxBatchBytes bounds one ndjson request body. An alert larger than
	// this alone is refused (dead-lettered) with its ID, never cut: a cut
	// JSON object is useless. Default 1MiB; at least 1KiB, at most 64MiB.
	MaxBatchBytes Size `yaml:"max_batch_bytes"`
	// Format is the body's content: json (Falco's JSON alert, default) or
	// text (Falco's text line). It is not read from the http block: the
	// output's format (outputs[].format) is copied here when the output is
	// built.
	Format string `yaml:"-"`
}

// HTTPBasicAuth is a user name and a password for HTTP basic authentication.
type HTTPBasicAuth struct {
	Username     string `yaml:"username"`      // required
	Password     Secret `yaml:"password"`      // prefer password_file
	PasswordFile string `yaml:"password_file"` // file holding the password (one line)
}

// HTTPTLS configures the TLS client of an http, slack, mattermost or teams
// output.
type HTTPTLS struct {
	// CAFile holds the PEM CAs that sign the receiver's certificate; they
	// replace the system's roots (as Falco's ca_cert does). Default: the
	// system's roots.
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`            // PEM client certificate chain (mTLS)
	KeyFile            string `yaml:"key_file"`             // PEM private key of cert_file
	ServerName         string `yaml:"server_name"`          // name to verify in the receiver's certificate; default the URL's host
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // accept any certificate (Falco's insecure); for tests only
}

// HTTP output limits and defaults.
const (
	HTTPDefaultUserAgent     = "falcosecurity/falco"
	HTTPDefaultMaxBatchBytes = 1 << 20
	HTTPMinBatchBytes        = 1 << 10
	HTTPMaxBatchBytes        = 64 << 20
)

// httpReservedHeaders are set by the output itself and cannot be configured.
var httpReservedHeaders = map[string]string{
	"Host":              "set from url",
	"Content-Type":      "set from format and batch",
	"Content-Length":    "set from the body",
	"Transfer-Encoding": "set by the HTTP client",
	"Connection":        "set by the HTTP client",
	"User-Agent":        "use user_agent",
}

// problems lists every problem of the http block as "subkey: reason".
func (o *HTTPOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	https := false
	if o.URL == "" {
		bad("url", "must not be empty")
	} else if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		// The URL may hold a credential (in its query): never echo it.
		bad("url", "expected an absolute http or https URL")
	} else {
		https = u.Scheme == "https"
		if u.User != nil {
			bad("url", "must not hold credentials: use basic_auth")
		}
		if u.Fragment != "" {
			bad("url", "must not have a fragment")
		}
	}
	if strings.ContainsAny(o.UserAgent, "\r\n") {
		bad("user_agent", "must be one line")
	}
	auth := ""
	// Header names are case-insensitive: one name, one source.
	seenHeader := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(o.Headers)) {
		v := o.Headers[name]
		httpHeaderProblems(bad, "headers", name, string(v))
		if strings.EqualFold(name, "Authorization") {
			auth = "headers.Authorization"
		}
		canon := http.CanonicalHeaderKey(name)
		if other, ok := seenHeader[canon]; ok {
			bad("headers."+name, "the same header as headers.%s", other)
		}
		seenHeader[canon] = name
	}
	for _, name := range slices.Sorted(maps.Keys(o.HeaderFiles)) {
		if _, ok := seenHeader[http.CanonicalHeaderKey(name)]; ok {
			bad("header_files."+name, "also set in headers")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.HeaderFiles)) {
		path := o.HeaderFiles[name]
		httpHeaderProblems(bad, "header_files", name, "")
		if path == "" {
			bad("header_files."+name, "must not be empty")
		}
		if strings.EqualFold(name, "Authorization") {
			auth = "header_files.Authorization"
		}
	}
	if b := o.BasicAuth; b != nil {
		if b.Username == "" {
			bad("basic_auth.username", "must not be empty")
		}
		if strings.Contains(b.Username, ":") {
			bad("basic_auth.username", "must not contain ':' (RFC 7617)")
		}
		if b.Password != "" && b.PasswordFile != "" {
			bad("basic_auth", "set password or password_file, not both")
		}
		if auth != "" {
			bad("basic_auth", "%s also sets Authorization", auth)
		}
		auth = "basic_auth"
	}
	if o.BearerToken != "" && o.BearerTokenFile != "" {
		bad("bearer_token", "set bearer_token or bearer_token_file, not both")
	}
	if o.BearerToken != "" || o.BearerTokenFile != "" {
		if auth != "" {
			bad("bearer_token", "%s also sets Authorization", auth)
		}
		if strings.ContainsAny(string(o.BearerToken), "\r\n") {
			bad("bearer_token", "must be one line")
		}
	}
	ps = append(ps, o.TLS.problems(https)...)
	if o.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	switch o.Batch {
	case "", "none":
		if o.MaxBatchBytes != 0 {
			bad("max_batch_bytes", "only batch ndjson uses it")
		}
	case "ndjson":
		if o.Format == "text" {
			bad("batch", "ndjson needs format json")
		}
		if o.MaxBatchBytes != 0 && (o.MaxBatchBytes < HTTPMinBatchBytes || o.MaxBatchBytes > HTTPMaxBatchBytes) {
			bad("max_batch_bytes", "%d is out of range (1KiB to 64MiB)", o.MaxBatchBytes)
		}
	default:
		bad("batch", "%q: expected none or ndjson", o.Batch)
	}
	switch o.Format {
	case "", "json", "text":
	default:
		bad("format", "%q: expected json or text", o.Format)
	}
	return ps
}

func httpHeaderProblems(bad func(key, format string, args ...any), section, name, value string) {
	key := section + "." + name
	if !httpIsToken(name) {
		bad(key, "%q is not a valid header name", name)
		return
	}
	if why, ok := httpReservedHeaders[http.CanonicalHeaderKey(name)]; ok {
		bad(key, "cannot be set (%s)", why)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		bad(key, "value must be one line")
	}
}

// httpIsToken reports whether s is an RFC 9110 token, what a header name is.
func httpIsToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (t *HTTPTLS) problems(https bool) []string {
	var ps []string
	if *t == (HTTPTLS{}) {
		return nil
	}
	if !https {
		ps = append(ps, "tls: only an https url uses tls settings")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		ps = append(ps, "tls: cert_file and key_file go together")
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		ps = append(ps, "tls: ca_file is pointless with insecure_skip_verify")
	}
	return ps
}

// ChatOutput configures a chat output: type slack (incoming webhook,
// Block Kit), mattermost (incoming webhook, Slack-compatible attachments)
// or teams (a Workflows "When a Teams webhook request is received" flow,
// Adaptive Card). Each alert is one message.
type ChatOutput struct {
	// WebhookURL is the incoming webhook's URL (required). The URL itself
	// is the credential: it never prints, and errors name only its host.
	WebhookURL     Secret `yaml:"webhook_url"`
	WebhookURLFile string `yaml:"webhook_url_file"` // file holding the URL (one line)
	// Template is a Go text/template (https://pkg.go.dev/text/template)
	// for the message's main text, executed with output.ChatData (fields
	// Rule, Priority, Message, Cluster, User, Groups, Verb, Resource,
	// Namespace, Name, SourceIPs, Time, Link, Capture, …). Values are
	// already escaped for the chat's markup; the template's own text is
	// not. Default: the rule's name in bold, then the alert's message.
	Template string `yaml:"template"`
	// Username and IconURL override the poster's name and picture
	// (mattermost only; Slack apps' webhooks ignore them).
	Username string `yaml:"username"`
	IconURL  string `yaml:"icon_url"`
	// Channel overrides the webhook's channel (mattermost only, when the
	// webhook is not locked to its channel).
	Channel string `yaml:"channel"`
	// Timeout bounds one request. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// TLS configures https to a self-hosted server (mattermost).
	TLS HTTPTLS `yaml:"tls"`
	// Kind is slack, mattermost or teams. It is not read from the block:
	// the output's type is copied here when the output is built.
	Kind string `yaml:"-"`
}

// problems lists every problem of a slack, mattermost or teams block as
// "subkey: reason".
func (o *ChatOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	https := true
	switch {
	case o.WebhookURL != "" && o.WebhookURLFile != "":
		bad("webhook_url", "set webhook_url or webhook_url_file, not both")
	case o.WebhookURL == "" && o.WebhookURLFile == "":
		bad("webhook_url", "must not be empty (or set webhook_url_file)")
	case o.WebhookURL != "":
		// Never echo the URL: it is the credential.
		u, err := url.Parse(string(o.WebhookURL))
		switch {
		case err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("webhook_url", "expected an absolute https URL")
		case u.Scheme == "http" && o.Kind != "mattermost":
			bad("webhook_url", "must be https")
		default:
			https = u.Scheme == "https"
		}
	}
	if o.Template != "" {
		if _, err := template.New("chat").Parse(o.Template); err != nil {
			bad("template", "%s", strings.TrimPrefix(err.Error(), "template: "))
		}
	}
	if o.Kind != "mattermost" {
		if o.Username != "" {
			bad("username", "only mattermost uses it")
		}
		if o.IconURL != "" {
			bad("icon_url", "only mattermost uses it")
		}
		if o.Channel != "" {
			bad("channel", "only mattermost uses it (a Slack or Teams webhook posts to its own channel)")
		}
	}
	if o.IconURL != "" {
		if u, err := url.Parse(o.IconURL); err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
			bad("icon_url", "expected an absolute http or https URL")
		}
	}
	if o.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	ps = append(ps, o.TLS.problems(https)...)
	switch o.Kind {
	case "", "slack", "mattermost", "teams":
	default:
		bad("type", "%q: expected slack, mattermost or teams", o.Kind)
	}
	return ps
}
