package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// NATSOutput configures a NATS output (type nats): one message per alert,
// published to the subject <subject_prefix>.<priority>, or
// <subject_prefix>.<cluster>.<priority> with cluster_in_subject, where
// priority is the alert's priority in lower case (emergency, alert,
// critical, error, warning, notice, informational, debug).
//
// With JetStream, each message is published with an acknowledgement and
// carries the alert's ID in the Nats-Msg-Id header, so that the stream's
// duplicate window drops an alert sent again after a crash. The header is
// set on core NATS messages too, for consumers that deduplicate
// themselves.
type NATSOutput struct {
	// URL is the server, nats://host:4222 or tls://host:4222, or several
	// separated by commas (the client picks one and reconnects to the
	// others). Required. Credentials never go in the URL: use token, user
	// and password, creds_file or nkey_seed_file.
	URL string `yaml:"url"`
	// SubjectPrefix is the subject's first tokens. Default vigil.alerts.
	SubjectPrefix string `yaml:"subject_prefix"`
	// ClusterInSubject inserts the alert's cluster as a token between the
	// prefix and the priority, so that a subscriber can pick clusters with
	// a wildcard (vigil.alerts.prod.* or vigil.alerts.*.critical). A
	// boolean rather than a template keeps every subject the same shape,
	// which stream subject filters rely on. Characters a subject token
	// cannot hold (. * > and white space) become _; an empty cluster is _.
	ClusterInSubject bool `yaml:"cluster_in_subject"`
	// JetStream is auto (default), on or off. auto publishes with
	// acknowledgements to subjects that a stream captures and with a
	// plain publish and a flush to the others (re-checked every minute,
	// and at once when a stream disappears); on always expects a stream
	// (an alert without one is retried); off never uses JetStream.
	JetStream string `yaml:"jetstream"`
	// CreateStream, when set, names a stream capturing <subject_prefix>.>
	// that is created, if no stream of that name exists, before the first
	// alert is sent. Not with jetstream off.
	CreateStream string `yaml:"create_stream"`
	// DuplicateWindow is the created stream's duplicate window: how long
	// an alert ID is remembered. Default 2m, NATS's default; make it
	// longer than Vigil could take to restart. Only with create_stream.
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// MaxAge and MaxBytes bound the created stream (default unbounded, as
	// NATS). Only with create_stream.
	MaxAge   Duration `yaml:"max_age"`
	MaxBytes Size     `yaml:"max_bytes"`

	// At most one way to authenticate: a token, a user and password, a
	// credentials file (JWT and seed, as nsc writes it) or an nkey seed.
	Token        Secret `yaml:"token"`          // prefer token_file
	TokenFile    string `yaml:"token_file"`     // file holding the token (one line)
	User         string `yaml:"user"`           // with password or password_file
	Password     Secret `yaml:"password"`       // prefer password_file
	PasswordFile string `yaml:"password_file"`  // file holding the password (one line)
	CredsFile    string `yaml:"creds_file"`     // NATS credentials file (decentralised JWT auth)
	NKeySeedFile string `yaml:"nkey_seed_file"` // file holding a user nkey seed (SU...)

	// TLS configures TLS to the server. Setting any of it makes TLS
	// required, as does a tls:// URL.
	TLS NATSTLS `yaml:"tls"`
	// ConnectTimeout bounds dialling one server. Default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`

	// Format is the payload: json (Falco's JSON alert, default), text
	// (Falco's text line) or vigil (a JSON object with the alert's ID,
	// cluster, capture, audit ID, stage, reception time, a link to the
	// alert in Vigil's UI and Falco's JSON alert under "alert"). It is not
	// read from the nats block: the output's format (outputs[].format) is
	// copied here when the output is built.
	Format string `yaml:"-"`
}

// NATSTLS configures the TLS connection of a NATS output.
type NATSTLS struct {
	CAFile     string `yaml:"ca_file"`     // PEM CAs that sign the server's certificate; default the system's roots
	CertFile   string `yaml:"cert_file"`   // PEM client certificate chain, for servers that verify clients
	KeyFile    string `yaml:"key_file"`    // PEM private key of cert_file
	ServerName string `yaml:"server_name"` // name to verify in the server's certificate; default the URL's host
}

// NATS defaults.
const (
	NATSDefaultSubjectPrefix = "vigil.alerts"
)

var (
	natsTokenRE  = regexp.MustCompile(`^[^\s.*>]+$`)            // one subject token: no dot, wildcard or white space
	natsStreamRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`) // a stream name safe in every API subject and file system
)

// problems lists every problem of the nats block as "subkey: reason".
func (o *NATSOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(o.URL) == "" {
		bad("url", "must not be empty")
	}
	for u := range strings.SplitSeq(o.URL, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		switch {
		case err != nil || p.Host == "":
			bad("url", "%q: expected nats://host:port or tls://host:port", redactURL(u))
		case p.User != nil:
			bad("url", "must not hold credentials: use token, user and password, creds_file or nkey_seed_file")
		case p.Scheme != "nats" && p.Scheme != "tls":
			bad("url", "%q: scheme must be nats or tls", redactURL(u))
		case p.Path != "" && p.Path != "/" || p.RawQuery != "":
			bad("url", "%q: expected no path or query", redactURL(u))
		}
	}
	if o.SubjectPrefix != "" {
		for tok := range strings.SplitSeq(o.SubjectPrefix, ".") {
			if !natsTokenRE.MatchString(tok) {
				bad("subject_prefix", "%q: expected dot-separated tokens without white space or the wildcards * and >", o.SubjectPrefix)
				break
			}
		}
		if strings.HasPrefix(o.SubjectPrefix, "$") {
			bad("subject_prefix", "%q: subjects starting with $ are reserved for the server", o.SubjectPrefix)
		}
	}
	switch o.JetStream {
	case "", "auto", "on", "off":
	default:
		bad("jetstream", "%q: expected auto, on or off", o.JetStream)
	}
	if o.CreateStream != "" {
		if !natsStreamRE.MatchString(o.CreateStream) {
			bad("create_stream", "%q: expected letters, digits, _ and -", o.CreateStream)
		}
		if o.JetStream == "off" {
			bad("create_stream", "needs JetStream (jetstream is off)")
		}
	} else if o.DuplicateWindow != 0 || o.MaxAge != 0 || o.MaxBytes != 0 {
		bad("create_stream", "duplicate_window, max_age and max_bytes apply only to a stream Vigil creates")
	}
	if o.DuplicateWindow < 0 {
		bad("duplicate_window", "must not be negative")
	} else if o.DuplicateWindow != 0 && o.DuplicateWindow < Duration(time.Second) {
		bad("duplicate_window", "%s is too short (at least 1s)", o.DuplicateWindow)
	}
	if o.MaxAge < 0 {
		bad("max_age", "must not be negative")
	} else if o.MaxAge != 0 && o.DuplicateWindow > o.MaxAge {
		bad("duplicate_window", "must not be longer than max_age")
	}
	if o.MaxBytes < 0 {
		bad("max_bytes", "must not be negative")
	}

	var auths []string
	if o.Token != "" && o.TokenFile != "" {
		bad("token", "token and token_file are exclusive")
	}
	if o.Token != "" || o.TokenFile != "" {
		auths = append(auths, "token")
	}
	if o.Password != "" && o.PasswordFile != "" {
		bad("password", "password and password_file are exclusive")
	}
	hasPassword := o.Password != "" || o.PasswordFile != ""
	if o.User != "" || hasPassword {
		auths = append(auths, "user")
		if o.User == "" {
			bad("user", "must be set with password")
		}
		if !hasPassword {
			bad("password", "must be set with user (or password_file)")
		}
	}
	if o.CredsFile != "" {
		auths = append(auths, "creds_file")
	}
	if o.NKeySeedFile != "" {
		auths = append(auths, "nkey_seed_file")
	}
	if len(auths) > 1 {
		bad(auths[1], "only one way to authenticate: %s are exclusive", strings.Join(auths, ", "))
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	if o.ConnectTimeout < 0 {
		bad("connect_timeout", "must not be negative")
	}
	switch o.Format {
	case "", "json", "text", "vigil":
	default:
		bad("format", "%q: expected json, text or vigil", o.Format)
	}
	return ps
}

// resolvePaths makes the block's file names absolute with abs, which
// resolves a relative name against the config file's directory.
func (o *NATSOutput) resolvePaths(abs func(*string)) {
	for _, p := range []*string{&o.TokenFile, &o.PasswordFile, &o.CredsFile, &o.NKeySeedFile,
		&o.TLS.CAFile, &o.TLS.CertFile, &o.TLS.KeyFile} {
		abs(p)
	}
}

// redactURL drops the user information of a URL that may not parse, for
// messages.
func redactURL(u string) string {
	if i := strings.LastIndex(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "<redacted>@" + u[i+1:]
		}
		return "<redacted>@" + u[i+1:]
	}
	return u
}
