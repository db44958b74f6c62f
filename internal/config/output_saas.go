package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// MezmoOutput configures a Mezmo output (type mezmo), formerly LogDNA, and
// also IBM Log Analysis, which ran the same ingestion API until it was
// retired in 2025: POST <url>/logs/ingest with a JSON body {"lines":[…]},
// one line per alert. Each line's line is the alert's Falco JSON or text
// (the output's format), its level is mapped from the priority, its
// timestamp is the event time in ms, and its meta holds the alert's
// output_fields with its rule, priority, source, tags, hostname, cluster,
// audit ID, capture, alert ID and, when Vigil's UI URL is known, a link.
//
// A batch is split into requests under max_request_bytes. A line or meta
// over its bound has its longest values cut, each ending with a marker,
// until it fits.
type MezmoOutput struct {
	// URL is the ingestion API's base URL; /logs/ingest is appended unless
	// the path already ends with it. Default https://logs.mezmo.com. IBM
	// Log Analysis used regional endpoints such as
	// https://logs.us-south.logging.cloud.ibm.com. It must be https, except
	// to a loopback address.
	URL string `yaml:"url"`
	// IngestionKey authenticates (required: this or ingestion_key_file).
	IngestionKey     Secret `yaml:"ingestion_key"`      // prefer ingestion_key_file
	IngestionKeyFile string `yaml:"ingestion_key_file"` // file holding the key (one line)
	// Auth is how the key is sent: basic (default: HTTP basic
	// authentication with the key as user name and an empty password, as
	// Mezmo's examples do) or apikey (an "apikey: <key>" header). Never
	// both: Mezmo asks for one method per request.
	Auth string `yaml:"auth"`
	// Hostname is the hostname query parameter: the source the lines are
	// filed under. Default Vigil's host name. At most 80 characters, a
	// DNS-style name (as the LogDNA client libraries require).
	Hostname string `yaml:"hostname"`
	// Tags are the tags query parameter, sent comma-separated with every
	// request (Mezmo groups sources by them). Default none.
	Tags []string `yaml:"tags"`
	// MAC and IP are the optional mac and ip query parameters of the
	// source.
	MAC string `yaml:"mac"`
	IP  string `yaml:"ip"`
	// App is each line's app. Default vigil.
	App string `yaml:"app"`
	// Env is each line's env, if set.
	Env string `yaml:"env"`
	// MaxRequestBytes bounds one request body. Default and maximum
	// 10000000: Mezmo's documented maximum payload is 10 MB.
	MaxRequestBytes Size `yaml:"max_request_bytes"`
	// MaxLineBytes bounds a line's line. Default 32000, the LogDNA client
	// libraries' MAX_LINE_LENGTH; lines longer than the service accepts
	// are cut by Mezmo without a marker.
	MaxLineBytes Size `yaml:"max_line_bytes"`
	// MaxMetaBytes bounds a line's meta, encoded. Default 32000. Mezmo
	// publishes no bound; this keeps one alert with huge output fields
	// from being refused.
	MaxMetaBytes Size `yaml:"max_meta_bytes"`
	// Format is line's content: json (Falco's JSON alert, default) or
	// text (Falco's text line). It is not read from the mezmo block: the
	// output's format (outputs[].format) is copied here when the output
	// is built.
	Format string `yaml:"-"`
}

// IBMLogsOutput configures an IBM Cloud Logs output (type ibm_cloud_logs):
// POST <endpoint>/logs/v1/singles with a JSON array of log entries, one per
// alert, authorised by an IAM access token that Vigil obtains from an API
// key and renews before it expires.
//
// Each entry's text is the alert's Falco JSON alert as a JSON object, with
// a "vigil" member holding the alert ID, cluster, audit ID, capture and
// link (format json, default), or Falco's text line (format text). Its
// severity is mapped from the priority: Emergency, Alert and Critical are
// 6 (Critical), Error 5, Warning 4, Notice and Informational 3 (Info),
// Debug 1. A batch is split into requests under max_request_bytes.
type IBMLogsOutput struct {
	// Endpoint is the instance's ingress endpoint, such as
	// https://<instance-id>.ingress.<region>.logs.cloud.ibm.com (or the
	// private .ingress.private. one); /logs/v1/singles is appended unless
	// the path already ends with it. Set this, or instance_id and region.
	// It must be https, except to a loopback address.
	Endpoint   string `yaml:"endpoint"`
	InstanceID string `yaml:"instance_id"` // the instance's GUID, with region instead of endpoint
	Region     string `yaml:"region"`      // e.g. eu-de, us-south
	// APIKey is an IAM API key (of a service ID with the Sender role on
	// the instance) exchanged for access tokens. Required: this or
	// api_key_file.
	APIKey     Secret `yaml:"api_key"`      // prefer api_key_file
	APIKeyFile string `yaml:"api_key_file"` // file holding the key (one line)
	// IAMURL is the IAM token endpoint. Default
	// https://iam.cloud.ibm.com/identity/token (private:
	// https://private.iam.cloud.ibm.com/identity/token). It must be https,
	// except to a loopback address.
	IAMURL string `yaml:"iam_url"`
	// ApplicationName is every entry's applicationName. Default vigil.
	ApplicationName string `yaml:"application_name"`
	// SubsystemName is every entry's subsystemName. Default: the alert's
	// cluster, or k8s-audit when it has none.
	SubsystemName string `yaml:"subsystem_name"`
	// ComputerName is every entry's computerName. Default: the alert's
	// hostname.
	ComputerName string `yaml:"computer_name"`
	// MaxRequestBytes bounds one request body. Default and maximum
	// 2000000: IBM documents up to 2 MB per request.
	MaxRequestBytes Size `yaml:"max_request_bytes"`
	// Format is text's content: json (default) or text. Copied from
	// outputs[].format, as for mezmo.
	Format string `yaml:"-"`
}

// Limits of the SaaS log outputs.
const (
	MezmoMaxRequestBytes   = 10_000_000 // Mezmo: "a maximum payload size of 10 MB"
	MezmoMaxLineBytes      = 32_000     // LogDNA client libraries' MAX_LINE_LENGTH
	MezmoMaxInputLength    = 80         // LogDNA Node.js client's MAX_INPUT_LENGTH (hostname, app, env…)
	IBMLogsMaxRequestBytes = 2_000_000  // IBM Cloud Logs: "up to 2MB per request"
)

var (
	// saasHostnameRE is the LogDNA Node.js client's HOSTNAME_CHECK.
	saasHostnameRE = regexp.MustCompile(`^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$`)
	saasMACRE      = regexp.MustCompile(`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`)
	saasGUIDRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	saasRegionRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// problems lists every problem of the mezmo block as "subkey: reason".
func (o *MezmoOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	if o.URL != "" {
		if err := CheckSinkURL(o.URL); err != nil {
			bad("url", "%s", err)
		}
	}
	switch {
	case o.IngestionKey != "" && o.IngestionKeyFile != "":
		bad("ingestion_key", "set ingestion_key or ingestion_key_file, not both")
	case o.IngestionKey == "" && o.IngestionKeyFile == "":
		bad("ingestion_key", "required: set ingestion_key_file (or ingestion_key)")
	}
	switch o.Auth {
	case "", "basic", "apikey":
	default:
		bad("auth", "%q: expected basic or apikey", o.Auth)
	}
	if o.Hostname != "" && (len(o.Hostname) > MezmoMaxInputLength || !saasHostnameRE.MatchString(o.Hostname)) {
		bad("hostname", "%q: expected a host name (letters, digits, - and .) of at most %d characters", o.Hostname, MezmoMaxInputLength)
	}
	for i, t := range o.Tags {
		if t == "" || strings.ContainsAny(t, ", \t\r\n") || len(t) > MezmoMaxInputLength {
			bad(fmt.Sprintf("tags[%d]", i), "%q: expected a non-empty tag without commas or white space, at most %d characters", t, MezmoMaxInputLength)
		}
	}
	if o.MAC != "" && !saasMACRE.MatchString(o.MAC) {
		bad("mac", "%q: expected a MAC address such as C0:FF:EE:C0:FF:EE", o.MAC)
	}
	if o.IP != "" && net.ParseIP(o.IP) == nil {
		bad("ip", "%q: expected an IP address", o.IP)
	}
	for _, k := range []struct{ key, v string }{{"app", o.App}, {"env", o.Env}} {
		if len(k.v) > MezmoMaxInputLength || strings.ContainsFunc(k.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			bad(k.key, "%q: expected at most %d printable characters", k.v, MezmoMaxInputLength)
		}
	}
	if o.MaxRequestBytes != 0 && (o.MaxRequestBytes < 64<<10 || o.MaxRequestBytes > MezmoMaxRequestBytes) {
		bad("max_request_bytes", "%d: expected 64KiB to %d (Mezmo's 10 MB)", o.MaxRequestBytes, MezmoMaxRequestBytes)
	}
	if o.MaxLineBytes != 0 && (o.MaxLineBytes < 1024 || o.MaxLineBytes > 1<<20) {
		bad("max_line_bytes", "%d: expected 1KiB to 1MiB", o.MaxLineBytes)
	}
	if o.MaxMetaBytes != 0 && (o.MaxMetaBytes < 1024 || o.MaxMetaBytes > 1<<20) {
		bad("max_meta_bytes", "%d: expected 1KiB to 1MiB", o.MaxMetaBytes)
	}
	switch o.Format {
	case "", "json", "text":
	default:
		bad("format", "%q: expected json or text", o.Format)
	}
	return ps
}

// problems lists every problem of the ibm_cloud_logs block as "subkey:
// reason".
func (o *IBMLogsOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case o.Endpoint != "":
		if o.InstanceID != "" || o.Region != "" {
			bad("endpoint", "set endpoint, or instance_id and region, not both")
		}
		if err := CheckSinkURL(o.Endpoint); err != nil {
			bad("endpoint", "%s", err)
		}
	case o.InstanceID == "" && o.Region == "":
		bad("endpoint", "required: set endpoint, or instance_id and region")
	default:
		if !saasGUIDRE.MatchString(o.InstanceID) {
			bad("instance_id", "%q: expected the instance's GUID", o.InstanceID)
		}
		if !saasRegionRE.MatchString(o.Region) {
			bad("region", "%q: expected a region such as eu-de or us-south", o.Region)
		}
	}
	switch {
	case o.APIKey != "" && o.APIKeyFile != "":
		bad("api_key", "set api_key or api_key_file, not both")
	case o.APIKey == "" && o.APIKeyFile == "":
		bad("api_key", "required: set api_key_file (or api_key)")
	}
	if o.IAMURL != "" {
		if err := CheckSinkURL(o.IAMURL); err != nil {
			bad("iam_url", "%s", err)
		}
	}
	for _, k := range []struct{ key, v string }{
		{"application_name", o.ApplicationName}, {"subsystem_name", o.SubsystemName}, {"computer_name", o.ComputerName},
	} {
		if len(k.v) > 256 || strings.ContainsFunc(k.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			bad(k.key, "%q: expected at most 256 printable characters", k.v)
		}
	}
	if o.MaxRequestBytes != 0 && (o.MaxRequestBytes < 64<<10 || o.MaxRequestBytes > IBMLogsMaxRequestBytes) {
		bad("max_request_bytes", "%d: expected 64KiB to %d (IBM's 2 MB)", o.MaxRequestBytes, IBMLogsMaxRequestBytes)
	}
	switch o.Format {
	case "", "json", "text":
	default:
		bad("format", "%q: expected json or text", o.Format)
	}
	return ps
}

// CheckSinkURL checks a URL that credentials are sent to: absolute, with
// a host, no user information, no query or fragment, and https unless the
// host is a loopback address (for a local proxy or a test). The error
// never repeats the URL, in case it holds a secret.
func CheckSinkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("expected an https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("the URL has no host")
	case u.User != nil:
		return fmt.Errorf("credentials do not go in the URL")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("the URL must have no query or fragment")
	case u.Scheme == "http" && !saasLoopback(u.Hostname()):
		return fmt.Errorf("http sends the key in clear: use https (http only to a loopback address)")
	}
	return nil
}

func saasLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
