// Package config is the YAML configuration of `vigil serve`: what it
// listens on, which clusters may send events and how they authenticate,
// the rules, the durable log and the outputs.
//
// Loading is strict (unknown keys are errors, with their line), defaults
// come from Default() and not from struct tags, relative paths are resolved
// against the config file's directory, and Validate reports every problem
// at once without touching the network or the disk, so that `vigil config
// check` works offline. Secrets have their own type, which never prints.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigilsec/vigil/internal/alert"
)

// Secret is a string that never prints: String, Format (every fmt verb,
// including %#v and the ones that do not apply to strings), LogValue,
// MarshalYAML and MarshalJSON all give "<secret>", or "" when it is empty.
// Convert it with string(s) only where the value is used. The one gap is
// %p given a non-pointer, which fmt prints without asking any method; vet
// reports that misuse.
type Secret string

const hidden = "<secret>"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return hidden
}

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format implements fmt.Formatter. Without it a verb that does not apply
// to strings, such as %d, would print the raw value inside its
// %!d(config.Secret=...) complaint.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, fmt.FormatString(f, 'q'), s.String())
	default:
		fmt.Fprintf(f, fmt.FormatString(f, 's'), s.String())
	}
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// Duration is a time.Duration written as "30s", "5m" or "720h" in YAML.
type Duration time.Duration

// String returns the duration in time.Duration's notation, e.g. "10m0s".
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "cannot unmarshal %s into a duration such as 30s", n.ShortTag())
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return typeError(n, "invalid duration %q: use a number with a unit, such as 30s, 5m or 720h", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Size is a byte count written as 1048576, "64KiB", "12MiB" or "1GiB".
type Size int64

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$`)

var sizeUnits = map[string]int64{"": 1, "B": 1, "KB": 1e3, "KiB": 1 << 10, "MB": 1e6, "MiB": 1 << 20,
	"GB": 1e9, "GiB": 1 << 30, "TB": 1e12, "TiB": 1 << 40}

// maxSize bounds a Size well below overflow, so that sums and doublings of
// sizes in Validate and in the packages using them cannot wrap.
const maxSize = 1 << 62

// ParseSize parses a byte count with an optional unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). The result is at
// most 2^62.
func ParseSize(s string) (Size, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: use bytes or a number with a unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	var n int64
	for _, c := range m[1] {
		if n > maxSize/10 {
			return 0, fmt.Errorf("invalid size %q: too large", s)
		}
		n = n*10 + int64(c-'0')
	}
	mult := sizeUnits[m[2]]
	if n > maxSize/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(n * mult), nil
}

// String returns the size with the largest binary unit that divides it
// exactly, e.g. "12MiB", or plain bytes; ParseSize reads it back.
func (z Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if z != 0 && z%u.n == 0 {
			return strconv.FormatInt(int64(z/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(z), 10)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "cannot unmarshal %s into a size such as 64MiB", n.ShortTag())
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return typeError(n, "%v", err)
	}
	*z = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

// resolveAlias returns the node an alias stands for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// typeError reports a bad value the way yaml.v3 reports its own: as a
// *yaml.TypeError, so that decoding goes on and every bad value is listed.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
}

// Config is the whole configuration of `vigil serve`.
type Config struct {
	Listen    string    `yaml:"listen"`    // HTTP(S) listen address for ingest, health and metrics
	DataDir   string    `yaml:"data_dir"`  // durable state: log, journal, offsets, tokens
	TLS       TLS       `yaml:"tls"`       // server certificate and client CA; reloaded on change
	Auth      Auth      `yaml:"auth"`      // who may send events
	Rules     Rules     `yaml:"rules"`     // rules files and engine options
	Ingest    Ingest    `yaml:"ingest"`    // limits and the write-ahead log
	Admission Admission `yaml:"admission"` // the admission webhook
	Tail      []Tail    `yaml:"tail"`      // audit log files to follow
	Outputs   []Output  `yaml:"outputs"`   // where alerts go
	Store     Store     `yaml:"store"`     // where alerts are kept for the API and UI
	API       API       `yaml:"api"`       // the HTTP API and web UI, and their users
	Enrich    Enrich    `yaml:"enrich"`    // where source IPs are
	// OutputSpool bounds the undelivered alerts outputs may hold back in
	// the alert journal (default 768MiB); past it, the outputs furthest
	// behind drop their oldest alerts, counted.
	OutputSpool Size     `yaml:"output_spool_bytes"`
	UIURL       string   `yaml:"ui_url"`   // Vigil's UI as users reach it; alerts link to UIURL/alerts/ID (empty: no link)
	Hostname    string   `yaml:"hostname"` // host name in alerts; empty = the OS host name
	Shutdown    Duration `yaml:"shutdown"` // grace period for draining at SIGTERM

	// Unexported, so yaml and json skip them.
	path  string         // the name given to Load, for messages
	lines map[string]int // line of each key path ("auth.clusters[0].name"), for messages
}

// TLS configures HTTPS. Without cert_file the server speaks plain HTTP.
type TLS struct {
	CertFile     string `yaml:"cert_file"`      // PEM certificate chain; reloaded when it changes
	KeyFile      string `yaml:"key_file"`       // PEM private key; reloaded when it changes
	ClientCAFile string `yaml:"client_ca_file"` // CA for client certificates (mTLS); reloaded when it changes
}

// Auth says who may send events. Each cluster authenticates with a bearer
// token, a client certificate, or both.
type Auth struct {
	// AllowUnauthenticated accepts requests without credentials, stamped
	// with UnauthenticatedCluster. Vigil warns at start when it is set.
	AllowUnauthenticated   bool      `yaml:"allow_unauthenticated"`
	UnauthenticatedCluster string    `yaml:"unauthenticated_cluster"` // default "default"
	Clusters               []Cluster `yaml:"clusters"`
}

// Cluster is one cluster allowed to send events.
type Cluster struct {
	Name      string `yaml:"name"`       // stamped on its events as ka.cluster.name
	Token     Secret `yaml:"token"`      // bearer token (prefer token_file)
	TokenFile string `yaml:"token_file"` // file holding the bearer token (one line)
	// CertNames are the client certificate subject common names or DNS SANs
	// that identify this cluster (verified against tls.client_ca_file).
	// Empty means the cluster's name.
	CertNames []string `yaml:"cert_names"`
}

// Rules configures the rule engine.
type Rules struct {
	Files        []string `yaml:"files"`         // rules files, loaded in order; empty = the built-in rules
	Matching     string   `yaml:"rule_matching"` // all (default) or first
	MinPriority  string   `yaml:"min_priority"`  // rules less severe are disabled; default debug
	AppendFields []string `yaml:"append_fields"` // extra output_fields on every alert
	Watch        bool     `yaml:"watch"`         // reload when a rules file changes (default true)
	// Stateful rules (threshold, distinct, sequence, first_seen) keep
	// keys in memory; past these caps the least recently updated key is
	// evicted (counted in vigil_stateful_evictions_total).
	StateMaxKeysPerRule int `yaml:"state_max_keys_per_rule"` // default 50000
	StateMaxKeys        int `yaml:"state_max_keys"`          // default 500000
}

// Ingest bounds what one request and one event may cost, and sizes the
// write-ahead log.
type Ingest struct {
	MaxBodyBytes  Size     `yaml:"max_body_bytes"`    // larger request bodies get 413 (default 12MiB, as Falco)
	MaxEventBytes Size     `yaml:"max_event_bytes"`   // larger events are skipped and counted (default 256KiB)
	MaxDepth      int      `yaml:"max_depth"`         // deeper events are skipped and counted (default 100)
	WALMaxBytes   Size     `yaml:"wal_max_bytes"`     // bound of the write-ahead log; when full, ingest answers 503 (default 1GiB)
	WALSegment    Size     `yaml:"wal_segment_bytes"` // segment size (default 64MiB)
	DedupKeys     int      `yaml:"dedup_keys"`        // auditID+stage pairs remembered to drop resent events (default 1000000)
	DedupWindow   Duration `yaml:"dedup_window"`      // how long resent events are recognised after a restart (default 10m)
	AckTimeout    Duration `yaml:"ack_timeout"`       // longest wait for durability before 503 (default 10s)
	RetryAfter    Duration `yaml:"retry_after"`       // Retry-After sent with 503 (default 5s)
}

// Admission configures the admission webhook (POST /admission).
type Admission struct {
	Enabled bool   `yaml:"enabled"` // default true
	Mode    string `yaml:"mode"`    // detect (default: always allow) or enforce
	// DenyRules and DenyTags mark the rules whose match refuses the request
	// in enforce mode: by name, or by any of their tags.
	DenyRules []string `yaml:"deny_rules"`
	DenyTags  []string `yaml:"deny_tags"` // default [vigil_deny]
	Timeout   Duration `yaml:"timeout"`   // longest wait to record a review (default 2s)
}

// Tail is one audit log file to follow.
type Tail struct {
	Path    string `yaml:"path"`    // the file kube-apiserver's --audit-log-path writes
	Cluster string `yaml:"cluster"` // cluster name stamped on its events
}

// Output is one destination for alerts. The keys common to every type
// are here; each type has its own section.
type Output struct {
	Name   string `yaml:"name"`   // unique; default: the type
	Type   string `yaml:"type"`   // stdout or file
	Format string `yaml:"format"` // json (Falco's JSON alert, default) or text
	Path   string `yaml:"path"`   // file: where to append
	// MinPriority drops less severe alerts for this output.
	MinPriority string `yaml:"minimum_priority"`

	// Rules and Tags, when set, keep only alerts of these rules (exact
	// names or globs with *) or with at least one of these tags;
	// ExcludeRules and ExcludeTags then drop some of those.
	Rules        []string `yaml:"rules"`
	ExcludeRules []string `yaml:"exclude_rules"`
	Tags         []string `yaml:"tags"`
	ExcludeTags  []string `yaml:"exclude_tags"`
	// RedactFields are output fields whose values never leave Vigil
	// through this output: they become "<redacted>", in the message too.
	RedactFields []string `yaml:"redact_fields"`
	Throttle     Throttle `yaml:"throttle"`
	MaxBatch     int      `yaml:"max_batch"` // most alerts per send (default: per type)
	MaxWait      Duration `yaml:"max_wait"`  // longest wait to fill a batch (default 1s)
	Timeout      Duration `yaml:"timeout"`   // one send attempt (default 10s)
	MaxBackoff   Duration `yaml:"max_backoff"`

	// File rotation (type file): rotate when the file would pass MaxSize
	// or is older than MaxAge; keep MaxFiles rotated files (0 = keep all).
	MaxSize  Size     `yaml:"max_size"`
	MaxAge   Duration `yaml:"max_age"`
	MaxFiles int      `yaml:"max_files"`

	// Each type's own settings; the section named after the type is the
	// one used.
	Syslog       *SyslogOutput  `yaml:"syslog"`
	HTTP         *HTTPOutput    `yaml:"http"`
	Slack        *ChatOutput    `yaml:"slack"`
	Mattermost   *ChatOutput    `yaml:"mattermost"`
	Teams        *ChatOutput    `yaml:"teams"`
	Mezmo        *MezmoOutput   `yaml:"mezmo"`
	IBMCloudLogs *IBMLogsOutput `yaml:"ibm_cloud_logs"`
	NATS         *NATSOutput    `yaml:"nats"`
}

// OutputTypes lists the output types, in the order the docs give them.
var OutputTypes = []string{"stdout", "file", "syslog", "http", "slack", "mattermost", "teams", "mezmo", "ibm_cloud_logs", "nats"}

// sections returns the type-specific sections that are set, by type name.
func (o *Output) sections() map[string]bool {
	m := map[string]bool{}
	for name, set := range map[string]bool{"syslog": o.Syslog != nil, "http": o.HTTP != nil, "slack": o.Slack != nil,
		"mattermost": o.Mattermost != nil, "teams": o.Teams != nil, "mezmo": o.Mezmo != nil,
		"ibm_cloud_logs": o.IBMCloudLogs != nil, "nats": o.NATS != nil} {
		if set {
			m[name] = true
		}
	}
	return m
}

// Chat returns the slack, mattermost or teams section of the output's
// type, with its Kind set.
func (o *Output) Chat() *ChatOutput {
	var c *ChatOutput
	switch o.Type {
	case "slack":
		c = o.Slack
	case "mattermost":
		c = o.Mattermost
	case "teams":
		c = o.Teams
	}
	if c != nil {
		c.Kind = o.Type
	}
	return c
}

// Store configures the alert store.
type Store struct {
	// Driver is sqlite (default: a file in the data directory, no setup),
	// postgres (several replicas share one store) or none.
	Driver string `yaml:"driver"`
	Path   string `yaml:"path"` // sqlite: the database file; default <data_dir>/alerts.db
	// URL is the PostgreSQL connection URL (postgres://user@host/db); it
	// may hold a password, so it never prints.
	URL       Secret   `yaml:"url"`
	Retention Duration `yaml:"retention"` // keep alerts this long, by event time (default 720h: 30 days)
	MaxBytes  Size     `yaml:"max_bytes"` // and at most this much (default 10GiB)
	// KeepEvents keeps every raw audit event too, for investigation
	// (default false). Events are many: they have their own bounds.
	KeepEvents      bool     `yaml:"keep_events"`
	EventsRetention Duration `yaml:"events_retention"` // default 24h
	EventsMaxBytes  Size     `yaml:"events_max_bytes"` // default 2GiB
}

// Throttle collapses identical alerts: the first is sent, the repeats
// within Window are counted, and one summary alert with the count follows
// when the window closes. Identical means the same rule and the same
// values of Keys (output fields; default: every output field but
// evt.time).
type Throttle struct {
	Window Duration `yaml:"window"` // 0 = off
	Keys   []string `yaml:"keys"`
}

// maxBodyBytes is the largest max_body_bytes: a request is one record of
// the event log, which holds at most 256 MiB (batch.MaxDecoded).
const maxBodyBytes = 256 << 20

// DefaultListen is where `vigil serve` listens without a config: loopback
// only, so that a first run exposes nothing.
const DefaultListen = "127.0.0.1:8765"

// Default returns the configuration used without a config file and the base
// that a file's values override.
func Default() Config {
	return Config{
		Listen:  DefaultListen,
		DataDir: "vigil-data",
		Auth:    Auth{UnauthenticatedCluster: "default"},
		Rules:   Rules{Matching: "all", MinPriority: "debug", Watch: true, StateMaxKeysPerRule: 50_000, StateMaxKeys: 500_000},
		Ingest: Ingest{
			MaxBodyBytes:  12 << 20,
			MaxEventBytes: 256 << 10,
			MaxDepth:      100,
			WALMaxBytes:   1 << 30,
			WALSegment:    64 << 20,
			DedupKeys:     1_000_000,
			DedupWindow:   Duration(10 * time.Minute),
			AckTimeout:    Duration(10 * time.Second),
			RetryAfter:    Duration(5 * time.Second),
		},
		Admission:   Admission{Enabled: true, Mode: "detect", DenyTags: []string{"vigil_deny"}, Timeout: Duration(2 * time.Second)},
		Outputs:     []Output{{Name: "stdout", Type: "stdout", Format: "json"}},
		Shutdown:    Duration(30 * time.Second),
		OutputSpool: 768 << 20,
		Store: Store{Driver: "sqlite", Retention: Duration(720 * time.Hour), MaxBytes: 10 << 30,
			EventsRetention: Duration(24 * time.Hour), EventsMaxBytes: 2 << 30},
		API: API{Enabled: true, SessionTTL: Duration(12 * time.Hour)},
	}
}

// LoadFile reads, parses and validates a config file. Relative paths in it
// (and the default data_dir) are resolved against the file's directory.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Load(data, path)
	if err != nil {
		return nil, err
	}
	c.resolvePaths(filepath.Dir(path))
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Load parses YAML over Default(): keys in data override the defaults, and
// a list in data (outputs, for instance) replaces the default list. Unknown
// keys, keys given twice, values of the wrong type and a second YAML
// document are errors; all of them are returned, joined, each as
// "name:line: key: reason". Load does not validate; name is used in
// messages (and returned by Path).
func Load(data []byte, name string) (*Config, error) {
	c := Default()
	c.path = name
	if len(bytes.TrimSpace(data)) == 0 {
		return &c, nil
	}
	// Parse once into nodes for the line of every key, and to refuse a
	// second document, which the decoder would silently ignore.
	var root yaml.Node
	pdec := yaml.NewDecoder(bytes.NewReader(data))
	if err := pdec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) { // only comments
			return &c, nil
		}
		return nil, c.yamlError(err, nil)
	}
	var next yaml.Node
	if err := pdec.Decode(&next); err == nil {
		return nil, fmt.Errorf("%sonly one YAML document is allowed", c.pos(next.Line))
	} else if !errors.Is(err, io.EOF) {
		return nil, c.yamlError(err, nil)
	}
	c.lines = map[string]int{}
	var nodes []keyNode
	collectLines(&root, "", 0, c.lines, &nodes)
	// yaml.v3 replaces a slice rather than merging into it; say so
	// explicitly, since the default stdout output must not survive an
	// outputs list in the file.
	if _, ok := c.lines["outputs"]; ok {
		c.Outputs = nil
	}
	if _, ok := c.lines["admission.deny_tags"]; ok {
		c.Admission.DenyTags = nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, c.yamlError(err, nodes)
	}
	return &c, nil
}

// Path returns the name the configuration was loaded under (the file for
// LoadFile), or "" for Default().
func (c *Config) Path() string { return c.path }

// maxLineDepth bounds collectLines: the deepest key Validate names is
// auth.clusters[i].cert_names[j]; a little more gives unknown keys a path.
const maxLineDepth = 8

// keyNode is a key path and its value node (for a sequence, an item and
// the item), for finding the key that a decoding error is about.
type keyNode struct {
	key string
	n   *yaml.Node
}

// collectLines records the line of every mapping key and sequence item, by
// path ("auth.clusters[0].name"), so that messages can say where a bad
// value is, and appends each path with its value node to nodes. It does
// not follow aliases.
func collectLines(n *yaml.Node, prefix string, depth int, lines map[string]int, nodes *[]keyNode) {
	if depth > maxLineDepth {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectLines(c, prefix, depth, lines, nodes)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if prefix != "" {
				k = prefix + "." + k
			}
			lines[k] = n.Content[i].Line
			*nodes = append(*nodes, keyNode{k, n.Content[i+1]})
			collectLines(n.Content[i+1], k, depth+1, lines, nodes)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := prefix + "[" + strconv.Itoa(i) + "]"
			lines[k] = c.Line
			*nodes = append(*nodes, keyNode{k, c})
			collectLines(c, k, depth+1, lines, nodes)
		}
	}
}

// maxLoadErrors bounds the problems Load lists (and the work of naming
// their keys); a file with more is not worth reading further.
const maxLoadErrors = 50

var (
	yamlLineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRE  = regexp.MustCompile(`^field (.*) not found in type \S+$`)
	repeatedKeyRE = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	// A bad value: yaml.v3's "cannot unmarshal !!str `abc` into int" (the
	// value cut to 7 bytes and "..." when long) or ours, from typeError.
	badTagRE   = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (a duration|a size|\\S+)")
	badValueRE = regexp.MustCompile(`^invalid (duration|size) ("(?:[^"\\]|\\.)*")`)
)

// yamlError turns yaml.v3's errors ("yaml: unmarshal errors:\n  line 3:
// field foo not found in type config.Config") into ours
// ("vigil.yaml:3: foo: unknown key"), one per problem, joined.
func (c *Config) yamlError(err error, nodes []keyNode) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	used := map[*yaml.Node]bool{}
	more := len(msgs) - maxLoadErrors
	if more > 0 {
		msgs = msgs[:maxLoadErrors]
	}
	for _, m := range msgs {
		sm := yamlLineRE.FindStringSubmatch(m)
		if sm == nil {
			errs = append(errs, fmt.Errorf("%s%s", c.pos(0), strings.TrimPrefix(m, "yaml: ")))
			continue
		}
		line, _ := strconv.Atoi(sm[1])
		msg := sm[2]
		var key string
		if km := unknownKeyRE.FindStringSubmatch(msg); km != nil {
			key, msg = c.keyAt(line, km[1]), "unknown key"
		} else if km := repeatedKeyRE.FindStringSubmatch(msg); km != nil {
			name, _ := strconv.Unquote(km[1])
			key, msg = c.keyAt(line, name), "key given twice (first at line "+km[2]+")"
		} else {
			key = valueKey(nodes, used, line, msg)
		}
		if key != "" {
			msg = key + ": " + msg
		}
		errs = append(errs, fmt.Errorf("%s%s", c.pos(line), msg))
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("%sand %d more problems", c.pos(0), more))
	}
	return errors.Join(errs...)
}

// keyAt returns the shallowest key path on line whose last element is name
// (an unknown key's parent is known, so the shallowest is the unknown
// one), or name itself when there is none.
func (c *Config) keyAt(line int, name string) string {
	best := ""
	for k, l := range c.lines {
		if l != line || (k != name && !strings.HasSuffix(k, "."+name)) {
			continue
		}
		if best == "" || len(k) < len(best) || (len(k) == len(best) && k < best) {
			best = k
		}
	}
	if best == "" {
		return name
	}
	return best
}

// valueKey returns the key path of the value that a decoding error on line
// is about, or "" when it cannot tell. A candidate must be on that line,
// have the Go type the message names and the tag and value it quotes; of
// several, the first not yet used (errors come in document order).
func valueKey(nodes []keyNode, used map[*yaml.Node]bool, line int, msg string) string {
	var tag, prefix, exact, typ string
	quoted := false
	if m := badTagRE.FindStringSubmatch(msg); m != nil {
		tag, prefix, typ = m[1], strings.TrimSuffix(m[2], "..."), m[3]
	} else if m := badValueRE.FindStringSubmatch(msg); m != nil {
		typ = m[1]
		if v, err := strconv.Unquote(m[2]); err == nil {
			exact, quoted = v, true
		}
	}
	switch typ {
	case "a duration", "duration":
		typ = reflect.TypeFor[Duration]().String()
	case "a size", "size":
		typ = reflect.TypeFor[Size]().String()
	}
	for _, kn := range nodes {
		n := kn.n
		switch {
		case n.Line != line || used[n]:
			continue
		case tag != "" && n.ShortTag() != tag && n.Tag != tag:
			continue
		case prefix != "" && !strings.HasPrefix(n.Value, prefix):
			continue
		case quoted && (n.Kind != yaml.ScalarNode || n.Value != exact):
			continue
		}
		if t := typeOf(kn.key); t == nil || t.String() != typ {
			continue
		}
		used[n] = true
		return kn.key
	}
	return ""
}

// typeOf returns the Go type that decodes the value at a key path, or nil
// when the path is not one of Config's.
func typeOf(path string) reflect.Type {
	t := reflect.TypeFor[Config]()
	for _, seg := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(seg, "[")
		if t.Kind() != reflect.Struct {
			return nil
		}
		var found bool
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name && f.IsExported() {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return nil
		}
		for range strings.Count(idx, "]") {
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
		}
	}
	return t
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Store.Path)
	abs(&c.API.SessionKeyFile)
	for i := range c.API.Users {
		abs(&c.API.Users[i].PasswordHashFile)
	}
	for i := range c.API.Tokens {
		abs(&c.API.Tokens[i].TokenFile)
	}
	abs(&c.Enrich.GeoIPCityDB)
	abs(&c.Enrich.GeoIPASNDB)
	abs(&c.TLS.CertFile)
	abs(&c.TLS.KeyFile)
	abs(&c.TLS.ClientCAFile)
	for i := range c.Auth.Clusters {
		abs(&c.Auth.Clusters[i].TokenFile)
	}
	for i := range c.Rules.Files {
		abs(&c.Rules.Files[i])
	}
	for i := range c.Tail {
		abs(&c.Tail[i].Path)
	}
	for i := range c.Outputs {
		o := &c.Outputs[i]
		abs(&o.Path)
		httpTLS := func(t *HTTPTLS) { abs(&t.CAFile); abs(&t.CertFile); abs(&t.KeyFile) }
		if h := o.HTTP; h != nil {
			httpTLS(&h.TLS)
			abs(&h.BearerTokenFile)
			if h.BasicAuth != nil {
				abs(&h.BasicAuth.PasswordFile)
			}
			for k, v := range h.HeaderFiles {
				abs(&v)
				h.HeaderFiles[k] = v
			}
		}
		for _, ch := range []*ChatOutput{o.Slack, o.Mattermost, o.Teams} {
			if ch != nil {
				httpTLS(&ch.TLS)
				abs(&ch.WebhookURLFile)
			}
		}
		if sl := o.Syslog; sl != nil {
			abs(&sl.TLS.CAFile)
			abs(&sl.TLS.CertFile)
			abs(&sl.TLS.KeyFile)
		}
		if m := o.Mezmo; m != nil {
			abs(&m.IngestionKeyFile)
		}
		if ib := o.IBMCloudLogs; ib != nil {
			abs(&ib.APIKeyFile)
		}
		if n := o.NATS; n != nil {
			n.resolvePaths(abs)
		}
	}
}

// pos returns the "file:line: " prefix of a message; line 0 means unknown.
func (c *Config) pos(line int) string {
	switch {
	case c.path != "" && line > 0:
		return fmt.Sprintf("%s:%d: ", c.path, line)
	case c.path != "":
		return c.path + ": "
	case line > 0:
		return fmt.Sprintf("line %d: ", line)
	}
	return ""
}

// line returns the line of a key path, or else of its nearest enclosing
// key in the file (a problem with a default value is reported where its
// section is), or 0.
func (c *Config) line(key string) int {
	for k := key; k != ""; {
		if l, ok := c.lines[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

var clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)

// Validate checks the whole configuration and returns every problem,
// joined, each as "file:line: key: reason". It fills in the defaults that
// depend on other values (an output's name is its type, its format json)
// and does no I/O.
func (c *Config) Validate() error {
	type problem struct {
		line int
		err  error
	}
	var probs []problem
	bad := func(key, format string, args ...any) {
		line := c.line(key)
		probs = append(probs, problem{line, fmt.Errorf("%s%s: %s", c.pos(line), key, fmt.Sprintf(format, args...))})
	}
	clusterName := func(key, name string) bool {
		switch {
		case name == "":
			bad(key, "must not be empty")
		case !clusterNameRE.MatchString(name):
			bad(key, "%q is not a valid cluster name (letters, digits, '.', '_', '-'; at most 128)", name)
		default:
			return true
		}
		return false
	}
	priority := func(key, p string) {
		if _, err := alert.ParsePriority(p); err != nil {
			bad(key, "%q is not a priority (emergency, alert, critical, error, warning, notice, informational, debug)", p)
		}
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	if c.TLS.ClientCAFile != "" && c.TLS.CertFile == "" {
		bad("tls.client_ca_file", "client certificates need HTTPS: set cert_file and key_file")
	}

	seen := map[string]bool{}
	certOwner := map[string]string{} // certificate name → cluster
	for i, cl := range c.Auth.Clusters {
		key := fmt.Sprintf("auth.clusters[%d]", i)
		if clusterName(key+".name", cl.Name) {
			if seen[cl.Name] {
				bad(key+".name", "cluster %q is listed twice", cl.Name)
			}
			seen[cl.Name] = true
		}
		if cl.Token != "" && cl.TokenFile != "" {
			bad(key, "set token or token_file, not both")
		}
		if cl.Token == "" && cl.TokenFile == "" && c.TLS.ClientCAFile == "" {
			bad(key, "cluster %q has no way to authenticate: set token_file, or tls.client_ca_file for client certificates", cl.Name)
		}
		if len(cl.CertNames) > 0 && c.TLS.ClientCAFile == "" {
			bad(key+".cert_names", "client certificate names need tls.client_ca_file")
		}
		for j, n := range cl.CertNames {
			if n == "" {
				bad(fmt.Sprintf("%s.cert_names[%d]", key, j), "must not be empty")
			}
		}
		if c.TLS.ClientCAFile == "" {
			continue
		}
		// A certificate name must identify one cluster only; without
		// cert_names the cluster's name is its certificate name.
		ids, idKey := cl.CertNames, key+".cert_names"
		if len(ids) == 0 {
			ids, idKey = []string{cl.Name}, key+".name"
		}
		for _, n := range ids {
			if owner, ok := certOwner[n]; ok && owner != cl.Name && n != "" {
				bad(idKey, "certificate name %q already identifies cluster %q", n, owner)
			} else if !ok {
				certOwner[n] = cl.Name
			}
		}
	}
	if c.Auth.AllowUnauthenticated {
		clusterName("auth.unauthenticated_cluster", c.Auth.UnauthenticatedCluster)
	}

	for i, f := range c.Rules.Files {
		if f == "" {
			bad(fmt.Sprintf("rules.files[%d]", i), "must not be empty")
		}
	}
	if c.Rules.Matching != "all" && c.Rules.Matching != "first" {
		bad("rules.rule_matching", "%q: expected all or first", c.Rules.Matching)
	}
	priority("rules.min_priority", c.Rules.MinPriority)

	in := c.Ingest
	if in.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "%d is too small (at least 1KiB)", in.MaxBodyBytes)
	}
	if in.MaxBodyBytes > maxBodyBytes {
		bad("ingest.max_body_bytes", "%d is too large (at most 256MiB, what one log record may hold)", in.MaxBodyBytes)
	}
	if in.MaxEventBytes < 1024 || in.MaxEventBytes > in.MaxBodyBytes {
		bad("ingest.max_event_bytes", "%d must be between 1KiB and max_body_bytes", in.MaxEventBytes)
	}
	if in.MaxDepth < 10 || in.MaxDepth > 10000 {
		bad("ingest.max_depth", "%d must be between 10 and 10000", in.MaxDepth)
	}
	if in.WALSegment < 1<<20 {
		bad("ingest.wal_segment_bytes", "%d is too small (at least 1MiB)", in.WALSegment)
	}
	// Halve rather than double, so that huge values cannot overflow.
	if in.WALMaxBytes/2 < in.WALSegment || in.WALMaxBytes/2 < in.MaxBodyBytes {
		bad("ingest.wal_max_bytes", "%d must hold at least two segments and two request bodies", in.WALMaxBytes)
	}
	if in.DedupKeys < 0 {
		bad("ingest.dedup_keys", "must not be negative")
	}
	if in.DedupWindow < 0 {
		bad("ingest.dedup_window", "must not be negative")
	}
	if in.AckTimeout <= 0 {
		bad("ingest.ack_timeout", "must be positive")
	}
	if in.RetryAfter < Duration(time.Second) {
		bad("ingest.retry_after", "must be at least 1s")
	}

	if c.Admission.Mode != "detect" && c.Admission.Mode != "enforce" {
		bad("admission.mode", "%q: expected detect or enforce", c.Admission.Mode)
	}
	if c.Admission.Timeout <= 0 {
		bad("admission.timeout", "must be positive")
	}

	tails := map[string]bool{}
	for i, t := range c.Tail {
		key := fmt.Sprintf("tail[%d]", i)
		if t.Path == "" {
			bad(key+".path", "must not be empty")
		} else if tails[t.Path] {
			bad(key+".path", "%q is followed twice", t.Path)
		}
		tails[t.Path] = true
		clusterName(key+".cluster", t.Cluster)
	}

	names := map[string]bool{}
	for i := range c.Outputs {
		o := &c.Outputs[i]
		key := fmt.Sprintf("outputs[%d]", i)
		if o.Name == "" {
			o.Name = o.Type
		}
		if o.Format == "" {
			o.Format = "json"
		}
		if o.Name != "" && names[o.Name] {
			bad(key+".name", "output name %q is used twice", o.Name)
		}
		names[o.Name] = true
		formats := []string{"json", "text"}
		section := func(set bool, problems func() []string) {
			if !set {
				bad(key+"."+o.Type, "a %s output needs its %s section", o.Type, o.Type)
				return
			}
			for _, p := range problems() {
				sub, reason, ok := strings.Cut(p, ": ")
				if !ok {
					sub, reason = "", p
				}
				k := key + "." + o.Type
				if sub != "" {
					k += "." + sub
				}
				bad(k, "%s", reason)
			}
		}
		switch o.Type {
		case "stdout":
			if o.Path != "" {
				bad(key+".path", "only a file output has a path")
			}
		case "file":
			if o.Path == "" {
				bad(key+".path", "a file output needs a path")
			}
		case "syslog":
			if o.Syslog != nil {
				o.Syslog.Format = o.Format
			}
			section(o.Syslog != nil, func() []string { return o.Syslog.problems() })
		case "http":
			if o.HTTP != nil {
				o.HTTP.Format = o.Format
			}
			section(o.HTTP != nil, func() []string { return o.HTTP.problems() })
		case "slack", "mattermost", "teams":
			c := o.Chat()
			section(c != nil, func() []string { return c.problems() })
		case "mezmo":
			if o.Mezmo != nil {
				o.Mezmo.Format = o.Format
			}
			section(o.Mezmo != nil, func() []string { return o.Mezmo.problems() })
		case "ibm_cloud_logs":
			if o.IBMCloudLogs != nil {
				o.IBMCloudLogs.Format = o.Format
			}
			section(o.IBMCloudLogs != nil, func() []string { return o.IBMCloudLogs.problems() })
		case "nats":
			formats = append(formats, "vigil")
			if o.NATS != nil {
				o.NATS.Format = o.Format
			}
			section(o.NATS != nil, func() []string { return o.NATS.problems() })
		case "":
			bad(key+".type", "must not be empty (%s)", strings.Join(OutputTypes, ", "))
		default:
			bad(key+".type", "%q is not an output type (%s)", o.Type, strings.Join(OutputTypes, ", "))
		}
		for name := range o.sections() {
			if name != o.Type {
				bad(key+"."+name, "a %s section on a %s output", name, o.Type)
			}
		}
		if !slices.Contains(formats, o.Format) {
			bad(key+".format", "%q: expected %s", o.Format, strings.Join(formats, " or "))
		}
		if o.MinPriority != "" {
			priority(key+".minimum_priority", o.MinPriority)
		}
		for _, k := range []struct {
			name string
			v    Duration
		}{{"max_wait", o.MaxWait}, {"timeout", o.Timeout}, {"max_backoff", o.MaxBackoff}, {"throttle.window", o.Throttle.Window}, {"max_age", o.MaxAge}} {
			if k.v < 0 {
				bad(key+"."+k.name, "must not be negative")
			}
		}
		if o.MaxBatch < 0 {
			bad(key+".max_batch", "must not be negative")
		}
		if o.MaxFiles < 0 {
			bad(key+".max_files", "must not be negative")
		}
		if o.Type != "file" && (o.MaxSize != 0 || o.MaxAge != 0 || o.MaxFiles != 0) {
			bad(key+".max_size", "rotation (max_size, max_age, max_files) is for file outputs")
		}
		if o.MaxSize != 0 && o.MaxSize < 4096 {
			bad(key+".max_size", "%d is too small (at least 4KiB)", o.MaxSize)
		}
	}

	if c.Shutdown <= 0 {
		bad("shutdown", "must be positive")
	}
	switch c.Store.Driver {
	case "sqlite", "none":
		if c.Store.URL != "" {
			bad("store.url", "only the postgres driver uses a url")
		}
	case "postgres":
		if c.Store.URL == "" {
			bad("store.url", "the postgres driver needs a url (postgres://user@host:5432/db)")
		}
	default:
		bad("store.driver", "%q: expected sqlite, postgres or none", c.Store.Driver)
	}
	if c.Store.Retention < 0 {
		bad("store.retention", "must not be negative")
	}
	if c.Store.MaxBytes < 0 {
		bad("store.max_bytes", "must not be negative")
	}
	if c.Store.EventsRetention < 0 {
		bad("store.events_retention", "must not be negative")
	}
	if c.Store.EventsMaxBytes < 0 {
		bad("store.events_max_bytes", "must not be negative")
	}
	if c.Store.KeepEvents && c.Store.Driver == "none" {
		bad("store.keep_events", "needs a store (store.driver is none)")
	}
	if c.Rules.StateMaxKeysPerRule < 1 || c.Rules.StateMaxKeys < c.Rules.StateMaxKeysPerRule {
		bad("rules.state_max_keys", "state_max_keys_per_rule must be at least 1 and state_max_keys at least as large (%d, %d)",
			c.Rules.StateMaxKeysPerRule, c.Rules.StateMaxKeys)
	}
	c.validateAPI(bad)
	if c.OutputSpool < 64<<20 || c.OutputSpool > 1<<40 {
		bad("output_spool_bytes", "%d must be between 64MiB and 1TiB", c.OutputSpool)
	}
	// In file order, as the reader will fix them.
	slices.SortStableFunc(probs, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p.err
	}
	return errors.Join(errs...)
}

// String renders the configuration as YAML with every secret hidden.
// Load reads it back (with each secret set to "<secret>").
func (c *Config) String() string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return "<config: " + err.Error() + ">"
	}
	if err := enc.Close(); err != nil {
		return "<config: " + err.Error() + ">"
	}
	return b.String()
}
