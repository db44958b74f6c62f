package config

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// SyslogOutput configures a syslog output (type syslog): one syslog message
// per alert, RFC 5424 or RFC 3164, over UDP, TCP or TLS (RFC 5425).
//
// Over TCP and TLS, messages are framed by octet counting (RFC 6587 3.4.1,
// the only framing RFC 5425 allows) or by a trailing newline (RFC 6587
// 3.4.2, what legacy receivers expect). Neither framing can break: header
// fields and structured data are sanitised and MSG is escaped, so a message
// never holds a newline.
type SyslogOutput struct {
	// Address is the receiver's host:port (required). Without a port, 514
	// (udp, tcp) or 6514 (tls, RFC 5425) is used.
	Address string `yaml:"address"`
	// Transport is tcp (default), udp or tls. TCP is the default because a
	// UDP receiver that is down loses alerts without anyone noticing.
	Transport string `yaml:"transport"`
	// Protocol is the message format: rfc5424 (default) or rfc3164.
	Protocol string `yaml:"protocol"`
	// Framing applies to tcp and tls: octet_counting (default with rfc5424)
	// or newline (default with rfc3164, for legacy receivers).
	Framing string `yaml:"framing"`
	// Facility is a name (kern, user, mail, daemon, auth, syslog, lpr,
	// news, uucp, cron, authpriv, ftp, local0 … local7) or a number 0-23.
	// Default auth (4), "security/authorization messages" in RFC 5424's
	// table: where a security alert is looked for (/var/log/auth.log on
	// Debian).
	Facility string `yaml:"facility"`
	// AppName is the RFC 5424 APP-NAME and the RFC 3164 TAG: printable
	// ASCII without spaces, at most 48 characters (32 with rfc3164).
	// Default vigil.
	AppName string `yaml:"app_name"`
	// SDID names the structured-data element holding the alert's cluster,
	// rule, priority, audit ID and alert ID (rfc5424 only). It must be
	// name@number, a private enterprise number (RFC 5424 7.2.2). Default
	// vigil@32473: 32473 is the example number IANA reserves for
	// documentation (RFC 5612); set your organisation's number if your
	// receivers key on it.
	SDID string `yaml:"sd_id"`
	// MaxMessageBytes bounds one message, framing excluded. A longer
	// message has its MSG cut, at a UTF-8 boundary, and ends with a marker;
	// the marker counts towards the bound. Default 8KiB over udp (what RFC
	// 5426 receivers should accept), 64KiB over tcp and tls (rsyslog's
	// maxMessageSize must be at least as large). At least 480 (the least
	// every receiver must accept), and at most 65507 over udp.
	MaxMessageBytes Size `yaml:"max_message_bytes"`
	// Timeout bounds connecting and each batch's write. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// TLS configures transport tls.
	TLS SyslogTLS `yaml:"tls"`
	// Format is MSG's content: json (Falco's JSON alert, default) or text
	// (Falco's text line). It is not read from the syslog block: the
	// output's format (outputs[].format) is copied here when the output is
	// built.
	Format string `yaml:"-"`
}

// SyslogTLS configures the TLS connection of a syslog output.
type SyslogTLS struct {
	CAFile     string `yaml:"ca_file"`     // PEM CAs that sign the receiver's certificate; default the system's roots
	CertFile   string `yaml:"cert_file"`   // PEM client certificate chain, for receivers that require one
	KeyFile    string `yaml:"key_file"`    // PEM private key of cert_file
	ServerName string `yaml:"server_name"` // name to verify in the receiver's certificate; default the address's host
}

// syslogFacilities maps facility names to their numbers (RFC 5424 6.2.1,
// names as syslog.conf spells them). Facilities 12-15 have no agreed
// name; use their numbers.
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// ParseSyslogFacility reads a facility name or number; "" is auth.
func ParseSyslogFacility(s string) (int, error) {
	if s == "" {
		return 4, nil
	}
	if n, ok := syslogFacilities[strings.ToLower(s)]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, nil
	}
	return 0, fmt.Errorf("%q is not a facility (a name such as auth, authpriv or local0, or a number 0-23)", s)
}

var sdIDRE = regexp.MustCompile(`^[!#-<>-\\^-~]{1,32}$`) // SD-NAME: PRINTUSASCII except = SP ] "

// Syslog limits and defaults.
const (
	SyslogMinMessageBytes = 480   // RFC 5424 6.1: every receiver accepts this much
	SyslogMaxUDPBytes     = 65507 // largest UDP payload over IPv4
)

// problems lists every problem of the syslog block as "subkey: reason".
func (o *SyslogOutput) problems() []string {
	var ps []string
	bad := func(key, format string, args ...any) {
		ps = append(ps, key+": "+fmt.Sprintf(format, args...))
	}
	if o.Address == "" {
		bad("address", "must not be empty")
	} else if host, port, err := net.SplitHostPort(o.Address); err == nil {
		if host == "" {
			bad("address", "%q has no host", o.Address)
		} else if strings.Contains(host, "/") || strings.ContainsAny(host, " \t") {
			bad("address", "%q: expected host:port", o.Address)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			bad("address", "%q: port must be a number 1-65535", o.Address)
		}
	} else if strings.Contains(o.Address, "/") || strings.ContainsAny(o.Address, " \t") {
		bad("address", "%q: expected host:port", o.Address)
	}
	switch o.Transport {
	case "", "tcp", "udp", "tls":
	default:
		bad("transport", "%q: expected tcp, udp or tls", o.Transport)
	}
	switch o.Protocol {
	case "", "rfc5424", "rfc3164":
	default:
		bad("protocol", "%q: expected rfc5424 or rfc3164", o.Protocol)
	}
	switch o.Framing {
	case "", "octet_counting", "newline":
		if o.Framing != "" && o.Transport == "udp" {
			bad("framing", "only tcp and tls messages are framed (one UDP datagram holds one message)")
		}
	default:
		bad("framing", "%q: expected octet_counting or newline", o.Framing)
	}
	if _, err := ParseSyslogFacility(o.Facility); err != nil {
		bad("facility", "%s", err)
	}
	if o.AppName != "" {
		limit := 48
		if o.Protocol == "rfc3164" {
			limit = 32
		}
		if len(o.AppName) > limit || strings.IndexFunc(o.AppName, func(r rune) bool { return r < 33 || r > 126 }) >= 0 {
			bad("app_name", "%q: expected at most %d printable ASCII characters without spaces", o.AppName, limit)
		}
	}
	if o.SDID != "" {
		name, pen, ok := strings.Cut(o.SDID, "@")
		if !ok || name == "" || !sdIDRE.MatchString(o.SDID) || strings.Contains(pen, "@") || !syslogDigits(pen) {
			bad("sd_id", "%q: expected name@number (a private enterprise number), at most 32 characters", o.SDID)
		}
	}
	if o.MaxMessageBytes != 0 {
		if o.MaxMessageBytes < SyslogMinMessageBytes {
			bad("max_message_bytes", "%d is too small (at least %d)", o.MaxMessageBytes, SyslogMinMessageBytes)
		}
		if o.Transport == "udp" && o.MaxMessageBytes > SyslogMaxUDPBytes {
			bad("max_message_bytes", "%d does not fit in a UDP datagram (at most %d)", o.MaxMessageBytes, SyslogMaxUDPBytes)
		}
		if o.MaxMessageBytes > 16<<20 {
			bad("max_message_bytes", "%d is too large (at most 16MiB)", o.MaxMessageBytes)
		}
	}
	if o.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	if o.Transport != "tls" {
		if o.TLS != (SyslogTLS{}) {
			bad("tls", "only transport tls uses tls settings")
		}
	} else if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	switch o.Format {
	case "", "json", "text":
	default:
		bad("format", "%q: expected json or text", o.Format)
	}
	return ps
}

func syslogDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
