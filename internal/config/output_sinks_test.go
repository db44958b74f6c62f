package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sinkSecret marks every secret value in these tests (tokens, keys,
// passwords, webhook URLs, credentials in URLs): no problem may contain it.
const sinkSecret = "s3cr3t"

// checkProblems compares problems with want and checks that none of them
// leaks a secret.
func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %q\nwant %q", got, want)
	}
	for _, p := range got {
		if strings.Contains(strings.ToLower(p), sinkSecret) {
			t.Errorf("problem leaks a secret: %s", p)
		}
	}
}

func TestSyslogOutputProblems(t *testing.T) {
	ok := SyslogOutput{Address: "syslog.example:6514"}
	for _, tc := range []struct {
		name string
		edit func(o *SyslogOutput)
		want []string
	}{
		{"minimal", func(o *SyslogOutput) {}, nil},
		{"everything", func(o *SyslogOutput) {
			o.Address = "[2001:db8::1]:6514"
			o.Transport = "tls"
			o.Protocol = "rfc5424"
			o.Framing = "octet_counting"
			o.Facility = "local7"
			o.AppName = strings.Repeat("v", 48)
			o.SDID = "vigil@32473"
			o.MaxMessageBytes = 64 << 10
			o.Timeout = Duration(5 * time.Second)
			o.TLS = SyslogTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "syslog.example"}
			o.Format = "text"
		}, nil},
		{"legacy udp", func(o *SyslogOutput) {
			o.Transport = "udp"
			o.Protocol = "rfc3164"
			o.Facility = "AUTHPRIV"
			o.AppName = strings.Repeat("v", 32)
			o.MaxMessageBytes = SyslogMaxUDPBytes
			o.Format = "json"
		}, nil},
		{"newline framing over tcp", func(o *SyslogOutput) { o.Transport = "tcp"; o.Framing = "newline" }, nil},
		{"host without port", func(o *SyslogOutput) { o.Address = "syslog.example" }, nil},
		{"ipv6 without port", func(o *SyslogOutput) { o.Address = "::1" }, nil},
		{"bracketed ipv6 without port", func(o *SyslogOutput) { o.Address = "[::1]" }, nil},
		{"facility number", func(o *SyslogOutput) { o.Facility = "23" }, nil},
		{"facility zero", func(o *SyslogOutput) { o.Facility = "0" }, nil},
		{"shortest message bound", func(o *SyslogOutput) { o.MaxMessageBytes = SyslogMinMessageBytes }, nil},
		{"largest message bound", func(o *SyslogOutput) { o.MaxMessageBytes = 16 << 20 }, nil},
		{"udp bound over tcp", func(o *SyslogOutput) { o.MaxMessageBytes = SyslogMaxUDPBytes + 1 }, nil},
		{"longest sd_id", func(o *SyslogOutput) { o.SDID = strings.Repeat("v", 26) + "@32473" }, nil},

		{"no address", func(o *SyslogOutput) { o.Address = "" }, []string{"address: must not be empty"}},
		{"no host", func(o *SyslogOutput) { o.Address = ":514" }, []string{`address: ":514" has no host`}},
		{"port zero", func(o *SyslogOutput) { o.Address = "h:0" }, []string{`address: "h:0": port must be a number 1-65535`}},
		{"port too large", func(o *SyslogOutput) { o.Address = "h:65536" }, []string{`address: "h:65536": port must be a number 1-65535`}},
		{"port name", func(o *SyslogOutput) { o.Address = "h:syslog" }, []string{`address: "h:syslog": port must be a number 1-65535`}},
		{"empty port", func(o *SyslogOutput) { o.Address = "h:" }, []string{`address: "h:": port must be a number 1-65535`}},
		{"no host, bad port", func(o *SyslogOutput) { o.Address = ":0" },
			[]string{`address: ":0" has no host`, `address: ":0": port must be a number 1-65535`}},
		{"url", func(o *SyslogOutput) { o.Address = "udp://h" }, []string{`address: "udp://h": port must be a number 1-65535`}},
		{"path", func(o *SyslogOutput) { o.Address = "h/x" }, []string{`address: "h/x": expected host:port`}},
		{"space", func(o *SyslogOutput) { o.Address = "a b" }, []string{`address: "a b": expected host:port`}},
		{"space with port", func(o *SyslogOutput) { o.Address = "a b:514" }, []string{`address: "a b:514": expected host:port`}},
		{"path with port", func(o *SyslogOutput) { o.Address = "x/y:514" }, []string{`address: "x/y:514": expected host:port`}},
		{"tab", func(o *SyslogOutput) { o.Address = "a\tb" }, []string{`address: "a\tb": expected host:port`}},
		{"transport", func(o *SyslogOutput) { o.Transport = "TCP" }, []string{`transport: "TCP": expected tcp, udp or tls`}},
		{"protocol", func(o *SyslogOutput) { o.Protocol = "rfc5425" }, []string{`protocol: "rfc5425": expected rfc5424 or rfc3164`}},
		{"framing", func(o *SyslogOutput) { o.Framing = "lf" }, []string{`framing: "lf": expected octet_counting or newline`}},
		{"framing over udp", func(o *SyslogOutput) { o.Transport = "udp"; o.Framing = "octet_counting" },
			[]string{"framing: only tcp and tls messages are framed (one UDP datagram holds one message)"}},
		{"bad framing over udp", func(o *SyslogOutput) { o.Transport = "udp"; o.Framing = "lf" },
			[]string{`framing: "lf": expected octet_counting or newline`}},
		{"facility name", func(o *SyslogOutput) { o.Facility = "security" },
			[]string{`facility: "security" is not a facility (a name such as auth, authpriv or local0, or a number 0-23)`}},
		{"facility 24", func(o *SyslogOutput) { o.Facility = "24" },
			[]string{`facility: "24" is not a facility (a name such as auth, authpriv or local0, or a number 0-23)`}},
		{"facility negative", func(o *SyslogOutput) { o.Facility = "-1" },
			[]string{`facility: "-1" is not a facility (a name such as auth, authpriv or local0, or a number 0-23)`}},
		{"app_name too long", func(o *SyslogOutput) { o.AppName = strings.Repeat("v", 49) },
			[]string{`app_name: "` + strings.Repeat("v", 49) + `": expected at most 48 printable ASCII characters without spaces`}},
		{"app_name too long for rfc3164", func(o *SyslogOutput) { o.Protocol = "rfc3164"; o.AppName = strings.Repeat("v", 33) },
			[]string{`app_name: "` + strings.Repeat("v", 33) + `": expected at most 32 printable ASCII characters without spaces`}},
		{"app_name space", func(o *SyslogOutput) { o.AppName = "vi gil" },
			[]string{`app_name: "vi gil": expected at most 48 printable ASCII characters without spaces`}},
		{"app_name not ascii", func(o *SyslogOutput) { o.AppName = "vigilé" },
			[]string{`app_name: "vigilé": expected at most 48 printable ASCII characters without spaces`}},
		{"app_name control", func(o *SyslogOutput) { o.AppName = "vigil\x7f" },
			[]string{`app_name: "vigil\x7f": expected at most 48 printable ASCII characters without spaces`}},
		{"sd_id without number", func(o *SyslogOutput) { o.SDID = "vigil" },
			[]string{`sd_id: "vigil": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id without name", func(o *SyslogOutput) { o.SDID = "@32473" },
			[]string{`sd_id: "@32473": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id empty number", func(o *SyslogOutput) { o.SDID = "vigil@" },
			[]string{`sd_id: "vigil@": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id letters", func(o *SyslogOutput) { o.SDID = "vigil@abc" },
			[]string{`sd_id: "vigil@abc": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id two at signs", func(o *SyslogOutput) { o.SDID = "a@b@1" },
			[]string{`sd_id: "a@b@1": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id equals", func(o *SyslogOutput) { o.SDID = "a=b@1" },
			[]string{`sd_id: "a=b@1": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id bracket", func(o *SyslogOutput) { o.SDID = "a]b@1" },
			[]string{`sd_id: "a]b@1": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id quote", func(o *SyslogOutput) { o.SDID = `a"b@1` },
			[]string{`sd_id: "a\"b@1": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id space", func(o *SyslogOutput) { o.SDID = "a b@1" },
			[]string{`sd_id: "a b@1": expected name@number (a private enterprise number), at most 32 characters`}},
		{"sd_id too long", func(o *SyslogOutput) { o.SDID = strings.Repeat("v", 27) + "@32473" },
			[]string{`sd_id: "` + strings.Repeat("v", 27) + `@32473": expected name@number (a private enterprise number), at most 32 characters`}},
		{"message bound too small", func(o *SyslogOutput) { o.MaxMessageBytes = SyslogMinMessageBytes - 1 },
			[]string{"max_message_bytes: 479 is too small (at least 480)"}},
		{"message bound negative", func(o *SyslogOutput) { o.MaxMessageBytes = -1 },
			[]string{"max_message_bytes: -1 is too small (at least 480)"}},
		{"message bound over udp", func(o *SyslogOutput) { o.Transport = "udp"; o.MaxMessageBytes = SyslogMaxUDPBytes + 1 },
			[]string{"max_message_bytes: 65508 does not fit in a UDP datagram (at most 65507)"}},
		{"message bound too large", func(o *SyslogOutput) { o.MaxMessageBytes = 16<<20 + 1 },
			[]string{"max_message_bytes: 16777217 is too large (at most 16MiB)"}},
		{"message bound too large over udp", func(o *SyslogOutput) { o.Transport = "udp"; o.MaxMessageBytes = 16<<20 + 1 },
			[]string{"max_message_bytes: 16777217 does not fit in a UDP datagram (at most 65507)", "max_message_bytes: 16777217 is too large (at most 16MiB)"}},
		{"timeout", func(o *SyslogOutput) { o.Timeout = -1 }, []string{"timeout: must not be negative"}},
		{"tls settings over default tcp", func(o *SyslogOutput) { o.TLS.CAFile = "ca.pem" },
			[]string{"tls: only transport tls uses tls settings"}},
		{"tls server name over udp", func(o *SyslogOutput) { o.Transport = "udp"; o.TLS.ServerName = "h" },
			[]string{"tls: only transport tls uses tls settings"}},
		{"half a client cert over tcp", func(o *SyslogOutput) { o.Transport = "tcp"; o.TLS.CertFile = "c.pem" },
			[]string{"tls: only transport tls uses tls settings"}},
		{"cert without key", func(o *SyslogOutput) { o.Transport = "tls"; o.TLS.CertFile = "c.pem" },
			[]string{"tls: cert_file and key_file go together"}},
		{"key without cert", func(o *SyslogOutput) { o.Transport = "tls"; o.TLS.KeyFile = "k.pem" },
			[]string{"tls: cert_file and key_file go together"}},
		{"format", func(o *SyslogOutput) { o.Format = "vigil" }, []string{`format: "vigil": expected json or text`}},
		{"everything wrong", func(o *SyslogOutput) {
			*o = SyslogOutput{Transport: "sctp", Protocol: "x", Framing: "y", Facility: "z", AppName: " ", SDID: "s",
				MaxMessageBytes: 1, Timeout: -1, TLS: SyslogTLS{CAFile: "ca"}, Format: "f"}
		}, []string{
			"address: must not be empty",
			`transport: "sctp": expected tcp, udp or tls`,
			`protocol: "x": expected rfc5424 or rfc3164`,
			`framing: "y": expected octet_counting or newline`,
			`facility: "z" is not a facility (a name such as auth, authpriv or local0, or a number 0-23)`,
			`app_name: " ": expected at most 48 printable ASCII characters without spaces`,
			`sd_id: "s": expected name@number (a private enterprise number), at most 32 characters`,
			"max_message_bytes: 1 is too small (at least 480)",
			"timeout: must not be negative",
			"tls: only transport tls uses tls settings",
			`format: "f": expected json or text`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			checkProblems(t, o.problems(), tc.want)
		})
	}
}

func TestHTTPOutputProblems(t *testing.T) {
	const url = "https://recv.example/alerts"
	for _, tc := range []struct {
		name string
		edit func(o *HTTPOutput)
		want []string
	}{
		{"minimal", func(o *HTTPOutput) {}, nil},
		{"plain http", func(o *HTTPOutput) { o.URL = "http://127.0.0.1:2801/" }, nil},
		{"everything", func(o *HTTPOutput) {
			o.URL = "https://recv.example/alerts?key=" + sinkSecret // a query may hold a credential
			o.UserAgent = "vigil/1"
			o.Headers = map[string]Secret{"X-Api-Key": sinkSecret + "-header", "X-Tenant": "t1"}
			o.HeaderFiles = map[string]string{"X-Other": "/etc/vigil/other"}
			o.BearerTokenFile = "/etc/vigil/bearer"
			o.TLS = HTTPTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "recv.example"}
			o.Timeout = Duration(5 * time.Second)
			o.Batch = "ndjson"
			o.MaxBatchBytes = HTTPMinBatchBytes
			o.Format = "json"
		}, nil},
		{"basic auth", func(o *HTTPOutput) {
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", PasswordFile: "/etc/vigil/pw"}
		}, nil},
		{"basic auth with password", func(o *HTTPOutput) {
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", Password: sinkSecret}
		}, nil},
		{"bearer token", func(o *HTTPOutput) { o.BearerToken = sinkSecret }, nil},
		{"authorization header", func(o *HTTPOutput) { o.Headers = map[string]Secret{"Authorization": "Token " + sinkSecret} }, nil},
		{"insecure", func(o *HTTPOutput) { o.TLS.InsecureSkipVerify = true }, nil},
		{"batch none", func(o *HTTPOutput) { o.Batch = "none"; o.Format = "text" }, nil},
		{"largest batch", func(o *HTTPOutput) { o.Batch = "ndjson"; o.MaxBatchBytes = HTTPMaxBatchBytes }, nil},

		{"no url", func(o *HTTPOutput) { o.URL = "" }, []string{"url: must not be empty"}},
		{"relative url", func(o *HTTPOutput) { o.URL = "recv.example/alerts?key=" + sinkSecret },
			[]string{"url: expected an absolute http or https URL"}},
		{"scheme", func(o *HTTPOutput) { o.URL = "ftp://recv.example/" + sinkSecret },
			[]string{"url: expected an absolute http or https URL"}},
		{"no host", func(o *HTTPOutput) { o.URL = "https:///" + sinkSecret },
			[]string{"url: expected an absolute http or https URL"}},
		{"not a url", func(o *HTTPOutput) { o.URL = "https://recv.example/%zz?key=" + sinkSecret },
			[]string{"url: expected an absolute http or https URL"}},
		{"credentials in url", func(o *HTTPOutput) { o.URL = "https://vigil:" + sinkSecret + "@recv.example/" },
			[]string{"url: must not hold credentials: use basic_auth"}},
		{"fragment", func(o *HTTPOutput) { o.URL = url + "#" + sinkSecret }, []string{"url: must not have a fragment"}},
		{"credentials and fragment", func(o *HTTPOutput) { o.URL = "http://" + sinkSecret + "@recv.example/#x" },
			[]string{"url: must not hold credentials: use basic_auth", "url: must not have a fragment"}},
		{"user agent newline", func(o *HTTPOutput) { o.UserAgent = "vigil\n1" }, []string{"user_agent: must be one line"}},
		{"user agent return", func(o *HTTPOutput) { o.UserAgent = "vigil\r" }, []string{"user_agent: must be one line"}},
		{"header name", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X Key": sinkSecret} },
			[]string{`headers.X Key: "X Key" is not a valid header name`}},
		{"header name colon", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X:Key": sinkSecret} },
			[]string{`headers.X:Key: "X:Key" is not a valid header name`}},
		{"empty header name", func(o *HTTPOutput) { o.Headers = map[string]Secret{"": sinkSecret} },
			[]string{`headers.: "" is not a valid header name`}},
		{"bad name and value", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X(Key)": sinkSecret + "\n"} },
			[]string{`headers.X(Key): "X(Key)" is not a valid header name`}},
		{"content type", func(o *HTTPOutput) { o.Headers = map[string]Secret{"Content-Type": "text/xml"} },
			[]string{"headers.Content-Type: cannot be set (set from format and batch)"}},
		{"content length, lower case", func(o *HTTPOutput) { o.Headers = map[string]Secret{"content-length": "1"} },
			[]string{"headers.content-length: cannot be set (set from the body)"}},
		{"host", func(o *HTTPOutput) { o.Headers = map[string]Secret{"Host": "h"} },
			[]string{"headers.Host: cannot be set (set from url)"}},
		{"transfer encoding", func(o *HTTPOutput) { o.Headers = map[string]Secret{"Transfer-Encoding": "chunked"} },
			[]string{"headers.Transfer-Encoding: cannot be set (set by the HTTP client)"}},
		{"connection", func(o *HTTPOutput) { o.Headers = map[string]Secret{"CONNECTION": "close"} },
			[]string{"headers.CONNECTION: cannot be set (set by the HTTP client)"}},
		{"user agent header", func(o *HTTPOutput) { o.Headers = map[string]Secret{"User-Agent": "x"} },
			[]string{"headers.User-Agent: cannot be set (use user_agent)"}},
		{"header value newline", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X-Key": sinkSecret + "\nX-Evil: 1"} },
			[]string{"headers.X-Key: value must be one line"}},
		{"header value return", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X-Key": sinkSecret + "\r"} },
			[]string{"headers.X-Key: value must be one line"}},
		{"header value nul", func(o *HTTPOutput) { o.Headers = map[string]Secret{"X-Key": sinkSecret + "\x00"} },
			[]string{"headers.X-Key: value must be one line"}},
		{"reserved and multi-line", func(o *HTTPOutput) { o.Headers = map[string]Secret{"Host": "a\nb"} },
			[]string{"headers.Host: cannot be set (set from url)", "headers.Host: value must be one line"}},
		{"headers in name order", func(o *HTTPOutput) {
			o.Headers = map[string]Secret{"b-key": "\n", "A-Key": "\n", "C-Key": "\n"}
		}, []string{"headers.A-Key: value must be one line", "headers.C-Key: value must be one line", "headers.b-key: value must be one line"}},
		{"header file name", func(o *HTTPOutput) { o.HeaderFiles = map[string]string{"X Key": "/k"} },
			[]string{`header_files.X Key: "X Key" is not a valid header name`}},
		{"header file reserved", func(o *HTTPOutput) { o.HeaderFiles = map[string]string{"host": "/h"} },
			[]string{"header_files.host: cannot be set (set from url)"}},
		{"header file empty path", func(o *HTTPOutput) { o.HeaderFiles = map[string]string{"X-Key": ""} },
			[]string{"header_files.X-Key: must not be empty"}},
		{"header twice", func(o *HTTPOutput) {
			o.Headers = map[string]Secret{"X-Key": sinkSecret}
			o.HeaderFiles = map[string]string{"X-Key": "/k"}
		}, []string{"header_files.X-Key: also set in headers"}},
		{"header twice, other case", func(o *HTTPOutput) {
			o.Headers = map[string]Secret{"X-Key": sinkSecret}
			o.HeaderFiles = map[string]string{"x-key": "/k"}
		}, []string{"header_files.x-key: also set in headers"}},
		{"header twice in headers", func(o *HTTPOutput) {
			o.Headers = map[string]Secret{"X-Key": sinkSecret, "x-key": sinkSecret}
		}, []string{"headers.x-key: the same header as headers.X-Key"}},
		{"url with a port and no host", func(o *HTTPOutput) { o.URL = "https://:443/x" },
			[]string{"url: expected an absolute http or https URL"}},
		{"basic auth and authorization header", func(o *HTTPOutput) {
			o.Headers = map[string]Secret{"authorization": sinkSecret}
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", Password: sinkSecret}
		}, []string{"basic_auth: headers.Authorization also sets Authorization"}},
		{"bearer and authorization header file", func(o *HTTPOutput) {
			o.HeaderFiles = map[string]string{"Authorization": "/a"}
			o.BearerToken = sinkSecret
		}, []string{"bearer_token: header_files.Authorization also sets Authorization"}},
		{"basic auth without user", func(o *HTTPOutput) { o.BasicAuth = &HTTPBasicAuth{PasswordFile: "/p"} },
			[]string{"basic_auth.username: must not be empty"}},
		{"empty basic auth", func(o *HTTPOutput) { o.BasicAuth = &HTTPBasicAuth{} },
			[]string{"basic_auth.username: must not be empty"}},
		{"basic auth user colon", func(o *HTTPOutput) { o.BasicAuth = &HTTPBasicAuth{Username: "a:b", Password: sinkSecret} },
			[]string{"basic_auth.username: must not contain ':' (RFC 7617)"}},
		{"basic auth password twice", func(o *HTTPOutput) {
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", Password: sinkSecret, PasswordFile: "/p"}
		}, []string{"basic_auth: set password or password_file, not both"}},
		{"bearer twice", func(o *HTTPOutput) { o.BearerToken = sinkSecret; o.BearerTokenFile = "/b" },
			[]string{"bearer_token: set bearer_token or bearer_token_file, not both"}},
		{"bearer and basic auth", func(o *HTTPOutput) {
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", Password: sinkSecret + "-pw"}
			o.BearerToken = sinkSecret
		}, []string{"bearer_token: basic_auth also sets Authorization"}},
		{"bearer file and basic auth", func(o *HTTPOutput) {
			o.BasicAuth = &HTTPBasicAuth{Username: "vigil", PasswordFile: "/p"}
			o.BearerTokenFile = "/b"
		}, []string{"bearer_token: basic_auth also sets Authorization"}},
		{"bearer newline", func(o *HTTPOutput) { o.BearerToken = sinkSecret + "\n" }, []string{"bearer_token: must be one line"}},
		{"tls over http", func(o *HTTPOutput) { o.URL = "http://recv.example/"; o.TLS.CAFile = "ca.pem" },
			[]string{"tls: only an https url uses tls settings"}},
		{"insecure over http", func(o *HTTPOutput) { o.URL = "http://recv.example/"; o.TLS.InsecureSkipVerify = true },
			[]string{"tls: only an https url uses tls settings"}},
		{"tls with a bad url", func(o *HTTPOutput) { o.URL = "recv.example"; o.TLS.ServerName = "recv.example" },
			[]string{"url: expected an absolute http or https URL", "tls: only an https url uses tls settings"}},
		{"cert without key", func(o *HTTPOutput) { o.TLS.CertFile = "c.pem" }, []string{"tls: cert_file and key_file go together"}},
		{"key without cert", func(o *HTTPOutput) { o.TLS.KeyFile = "k.pem" }, []string{"tls: cert_file and key_file go together"}},
		{"ca and insecure", func(o *HTTPOutput) { o.TLS.CAFile = "ca.pem"; o.TLS.InsecureSkipVerify = true },
			[]string{"tls: ca_file is pointless with insecure_skip_verify"}},
		{"every tls problem", func(o *HTTPOutput) {
			o.URL = "http://recv.example/"
			o.TLS = HTTPTLS{CAFile: "ca.pem", KeyFile: "k.pem", InsecureSkipVerify: true}
		}, []string{"tls: only an https url uses tls settings", "tls: cert_file and key_file go together", "tls: ca_file is pointless with insecure_skip_verify"}},
		{"timeout", func(o *HTTPOutput) { o.Timeout = -1 }, []string{"timeout: must not be negative"}},
		{"batch bytes without batch", func(o *HTTPOutput) { o.MaxBatchBytes = 1 << 20 },
			[]string{"max_batch_bytes: only batch ndjson uses it"}},
		{"batch bytes with batch none", func(o *HTTPOutput) { o.Batch = "none"; o.MaxBatchBytes = 1 << 20 },
			[]string{"max_batch_bytes: only batch ndjson uses it"}},
		{"ndjson text", func(o *HTTPOutput) { o.Batch = "ndjson"; o.Format = "text" }, []string{"batch: ndjson needs format json"}},
		{"batch bytes too small", func(o *HTTPOutput) { o.Batch = "ndjson"; o.MaxBatchBytes = HTTPMinBatchBytes - 1 },
			[]string{"max_batch_bytes: 1023 is out of range (1KiB to 64MiB)"}},
		{"batch bytes too large", func(o *HTTPOutput) { o.Batch = "ndjson"; o.MaxBatchBytes = HTTPMaxBatchBytes + 1 },
			[]string{"max_batch_bytes: 67108865 is out of range (1KiB to 64MiB)"}},
		{"batch", func(o *HTTPOutput) { o.Batch = "gzip" }, []string{`batch: "gzip": expected none or ndjson`}},
		{"format", func(o *HTTPOutput) { o.Format = "vigil" }, []string{`format: "vigil": expected json or text`}},
		{"problems in order", func(o *HTTPOutput) {
			*o = HTTPOutput{
				URL:             "http://u:" + sinkSecret + "@recv.example/#f",
				UserAgent:       "\n",
				Headers:         map[string]Secret{"Authorization": sinkSecret, "X-Key": sinkSecret + "\n"},
				HeaderFiles:     map[string]string{"X-Key": "", "Content-Length": "/l"},
				BasicAuth:       &HTTPBasicAuth{Username: "", Password: sinkSecret, PasswordFile: "/p"},
				BearerToken:     sinkSecret + "\r",
				BearerTokenFile: "/b",
				TLS:             HTTPTLS{CertFile: "c"},
				Timeout:         -1,
				Batch:           "ndjson",
				MaxBatchBytes:   1,
				Format:          "text",
			}
		}, []string{
			"url: must not hold credentials: use basic_auth",
			"url: must not have a fragment",
			"user_agent: must be one line",
			"headers.X-Key: value must be one line",
			"header_files.X-Key: also set in headers",
			"header_files.Content-Length: cannot be set (set from the body)",
			"header_files.X-Key: must not be empty",
			"basic_auth.username: must not be empty",
			"basic_auth: set password or password_file, not both",
			"basic_auth: headers.Authorization also sets Authorization",
			"bearer_token: set bearer_token or bearer_token_file, not both",
			"bearer_token: basic_auth also sets Authorization",
			"bearer_token: must be one line",
			"tls: only an https url uses tls settings",
			"tls: cert_file and key_file go together",
			"timeout: must not be negative",
			"batch: ndjson needs format json",
			"max_batch_bytes: 1 is out of range (1KiB to 64MiB)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := HTTPOutput{URL: url}
			tc.edit(&o)
			checkProblems(t, o.problems(), tc.want)
		})
	}
}

func TestChatOutputProblems(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T0/B0/" + sinkSecret
	for _, tc := range []struct {
		name string
		edit func(o *ChatOutput)
		want []string
	}{
		{"minimal slack", func(o *ChatOutput) {}, nil},
		{"minimal teams", func(o *ChatOutput) {
			o.Kind = "teams"
			o.WebhookURL = "https://prod-00.westeurope.logic.azure.com/workflows/" + sinkSecret
		}, nil},
		{"no kind", func(o *ChatOutput) { o.Kind = "" }, nil},
		{"url file", func(o *ChatOutput) { o.WebhookURL = ""; o.WebhookURLFile = "/etc/vigil/slack-url" }, nil},
		{"url file with tls", func(o *ChatOutput) {
			o.WebhookURL = ""
			o.WebhookURLFile = "/etc/vigil/url"
			o.TLS = HTTPTLS{CAFile: "ca.pem"}
		}, nil},
		{"slack everything", func(o *ChatOutput) {
			o.Template = "*{{.Rule}}* {{.Message}}"
			o.Timeout = Duration(5 * time.Second)
			o.TLS = HTTPTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "hooks.slack.com"}
		}, nil},
		{"mattermost everything", func(o *ChatOutput) {
			o.Kind = "mattermost"
			o.WebhookURL = "http://mattermost.internal/hooks/" + sinkSecret // plain http is for mattermost only
			o.Username = "vigil"
			o.IconURL = "http://mattermost.internal/vigil.png"
			o.Channel = "security"
			o.Template = "{{.Rule}}"
			o.Timeout = Duration(time.Second)
		}, nil},
		{"mattermost https with tls", func(o *ChatOutput) {
			o.Kind = "mattermost"
			o.WebhookURL = "https://mattermost.internal/hooks/" + sinkSecret
			o.IconURL = "https://mattermost.internal/vigil.png"
			o.TLS = HTTPTLS{CAFile: "ca.pem"}
		}, nil},

		{"url twice", func(o *ChatOutput) { o.WebhookURLFile = "/u" },
			[]string{"webhook_url: set webhook_url or webhook_url_file, not both"}},
		{"no url", func(o *ChatOutput) { o.WebhookURL = "" },
			[]string{"webhook_url: must not be empty (or set webhook_url_file)"}},
		{"relative url", func(o *ChatOutput) { o.WebhookURL = "hooks.slack.com/services/" + sinkSecret },
			[]string{"webhook_url: expected an absolute https URL"}},
		{"scheme", func(o *ChatOutput) { o.WebhookURL = "ftp://hooks.slack.com/services/" + sinkSecret },
			[]string{"webhook_url: expected an absolute https URL"}},
		{"no host", func(o *ChatOutput) { o.WebhookURL = "https:///services/" + sinkSecret },
			[]string{"webhook_url: expected an absolute https URL"}},
		{"not a url", func(o *ChatOutput) { o.WebhookURL = "https://hooks.slack.com/%zz/" + sinkSecret },
			[]string{"webhook_url: expected an absolute https URL"}},
		{"mattermost not a url", func(o *ChatOutput) { o.Kind = "mattermost"; o.WebhookURL = "mattermost/" + sinkSecret },
			[]string{"webhook_url: expected an absolute https URL"}},
		{"slack over http", func(o *ChatOutput) { o.WebhookURL = "http://hooks.slack.com/services/" + sinkSecret },
			[]string{"webhook_url: must be https"}},
		{"teams over http", func(o *ChatOutput) { o.Kind = "teams"; o.WebhookURL = "http://x.logic.azure.com/" + sinkSecret },
			[]string{"webhook_url: must be https"}},
		{"template unclosed", func(o *ChatOutput) { o.Template = "{{.Rule" }, []string{"template: chat:1: unclosed action"}},
		{"template end", func(o *ChatOutput) { o.Template = "x\n{{.Rule}}{{end}}" }, []string{"template: chat:2: unexpected {{end}}"}},
		{"template function", func(o *ChatOutput) { o.Template = "{{nosuch .Rule}}" },
			[]string{`template: chat:1: function "nosuch" not defined`}},
		{"slack username", func(o *ChatOutput) { o.Username = "vigil" }, []string{"username: only mattermost uses it"}},
		{"slack icon", func(o *ChatOutput) { o.IconURL = "https://x/i.png" }, []string{"icon_url: only mattermost uses it"}},
		{"teams channel", func(o *ChatOutput) { o.Kind = "teams"; o.Channel = "sec" },
			[]string{"channel: only mattermost uses it (a Slack or Teams webhook posts to its own channel)"}},
		{"slack bad icon", func(o *ChatOutput) { o.IconURL = "i.png" },
			[]string{"icon_url: only mattermost uses it", "icon_url: expected an absolute http or https URL"}},
		{"mattermost relative icon", func(o *ChatOutput) { o.Kind = "mattermost"; o.IconURL = "i.png" },
			[]string{"icon_url: expected an absolute http or https URL"}},
		{"mattermost icon scheme", func(o *ChatOutput) { o.Kind = "mattermost"; o.IconURL = "ftp://x/i.png" },
			[]string{"icon_url: expected an absolute http or https URL"}},
		{"mattermost icon not a url", func(o *ChatOutput) { o.Kind = "mattermost"; o.IconURL = "https://x/%zz" },
			[]string{"icon_url: expected an absolute http or https URL"}},
		{"timeout", func(o *ChatOutput) { o.Timeout = -1 }, []string{"timeout: must not be negative"}},
		{"mattermost http with tls", func(o *ChatOutput) {
			o.Kind = "mattermost"
			o.WebhookURL = "http://mattermost.internal/hooks/" + sinkSecret
			o.TLS.InsecureSkipVerify = true
		}, []string{"tls: only an https url uses tls settings"}},
		{"cert without key", func(o *ChatOutput) { o.TLS.CertFile = "c.pem" }, []string{"tls: cert_file and key_file go together"}},
		{"ca and insecure", func(o *ChatOutput) { o.TLS = HTTPTLS{CAFile: "ca", InsecureSkipVerify: true} },
			[]string{"tls: ca_file is pointless with insecure_skip_verify"}},
		{"kind", func(o *ChatOutput) { o.Kind = "discord" }, []string{`type: "discord": expected slack, mattermost or teams`}},
		{"problems in order", func(o *ChatOutput) {
			*o = ChatOutput{Kind: "slack", WebhookURL: "http://hooks.slack.com/" + sinkSecret, Template: "{{", Username: "u",
				IconURL: "x", Channel: "c", Timeout: -1, TLS: HTTPTLS{KeyFile: "k"}}
		}, []string{
			"webhook_url: must be https",
			"template: chat:1: unclosed action",
			"username: only mattermost uses it",
			"icon_url: only mattermost uses it",
			"channel: only mattermost uses it (a Slack or Teams webhook posts to its own channel)",
			"icon_url: expected an absolute http or https URL",
			"timeout: must not be negative",
			"tls: cert_file and key_file go together", // the url's own problem is enough: no "only an https url"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ChatOutput{WebhookURL: hook, Kind: "slack"}
			tc.edit(&o)
			checkProblems(t, o.problems(), tc.want)
		})
	}
}

func TestMezmoOutputProblems(t *testing.T) {
	long := strings.Repeat("a", MezmoMaxInputLength)
	for _, tc := range []struct {
		name string
		edit func(o *MezmoOutput)
		want []string
	}{
		{"minimal", func(o *MezmoOutput) {}, nil},
		{"everything", func(o *MezmoOutput) {
			o.URL = "https://logs.us-south.logging.cloud.ibm.com/logs/ingest"
			o.IngestionKeyFile = ""
			o.IngestionKey = sinkSecret
			o.Auth = "apikey"
			o.Hostname = "node-1.example"
			o.Tags = []string{"k8s", "audit"}
			o.MAC = "C0:FF:EE:c0:ff:ee"
			o.IP = "2001:db8::1"
			o.App = "vigil"
			o.Env = "prod"
			o.MaxRequestBytes = MezmoMaxRequestBytes
			o.MaxLineBytes = 1 << 20
			o.MaxMetaBytes = 1 << 10
			o.Format = "text"
		}, nil},
		{"smallest bounds", func(o *MezmoOutput) {
			o.MaxRequestBytes = 64 << 10
			o.MaxLineBytes = 1 << 10
			o.MaxMetaBytes = 1 << 20
			o.Auth = "basic"
			o.Format = "json"
		}, nil},
		{"longest values", func(o *MezmoOutput) {
			o.Hostname = long
			o.Tags = []string{long}
			o.App = long
			o.Env = "prodé"
			o.IP = "10.0.0.1"
		}, nil},
		{"loopback http", func(o *MezmoOutput) { o.URL = "http://127.0.0.1:8080" }, nil},
		{"localhost http", func(o *MezmoOutput) { o.URL = "http://localhost:9000/logs/ingest" }, nil},
		{"ipv6 loopback http", func(o *MezmoOutput) { o.URL = "http://[::1]:8080/" }, nil},

		{"url without scheme", func(o *MezmoOutput) { o.URL = "logs.mezmo.com" }, []string{"url: expected an https:// URL"}},
		{"url scheme", func(o *MezmoOutput) { o.URL = "ftp://logs.mezmo.com" }, []string{"url: expected an https:// URL"}},
		{"url without host", func(o *MezmoOutput) { o.URL = "https:///logs" }, []string{"url: the URL has no host"}},
		{"url with port only", func(o *MezmoOutput) { o.URL = "https://:443" }, []string{"url: the URL has no host"}},
		{"url credentials", func(o *MezmoOutput) { o.URL = "https://" + sinkSecret + "@logs.mezmo.com" },
			[]string{"url: credentials do not go in the URL"}},
		{"url query", func(o *MezmoOutput) { o.URL = "https://logs.mezmo.com/?apikey=" + sinkSecret },
			[]string{"url: the URL must have no query or fragment"}},
		{"url empty query", func(o *MezmoOutput) { o.URL = "https://logs.mezmo.com/?" },
			[]string{"url: the URL must have no query or fragment"}},
		{"url fragment", func(o *MezmoOutput) { o.URL = "https://logs.mezmo.com/#" + sinkSecret },
			[]string{"url: the URL must have no query or fragment"}},
		{"url http", func(o *MezmoOutput) { o.URL = "http://logs.mezmo.com" },
			[]string{"url: http sends the key in clear: use https (http only to a loopback address)"}},
		{"url not a url", func(o *MezmoOutput) { o.URL = "https://logs.mezmo.com/%zz" + sinkSecret }, []string{"url: not a URL"}},
		{"key twice", func(o *MezmoOutput) { o.IngestionKey = sinkSecret },
			[]string{"ingestion_key: set ingestion_key or ingestion_key_file, not both"}},
		{"no key", func(o *MezmoOutput) { o.IngestionKeyFile = "" },
			[]string{"ingestion_key: required: set ingestion_key_file (or ingestion_key)"}},
		{"auth", func(o *MezmoOutput) { o.Auth = "bearer" }, []string{`auth: "bearer": expected basic or apikey`}},
		{"hostname too long", func(o *MezmoOutput) { o.Hostname = long + "a" },
			[]string{`hostname: "` + long + `a": expected a host name (letters, digits, - and .) of at most 80 characters`}},
		{"hostname hyphen", func(o *MezmoOutput) { o.Hostname = "-node" },
			[]string{`hostname: "-node": expected a host name (letters, digits, - and .) of at most 80 characters`}},
		{"hostname underscore", func(o *MezmoOutput) { o.Hostname = "node_1" },
			[]string{`hostname: "node_1": expected a host name (letters, digits, - and .) of at most 80 characters`}},
		{"hostname empty label", func(o *MezmoOutput) { o.Hostname = "a..b" },
			[]string{`hostname: "a..b": expected a host name (letters, digits, - and .) of at most 80 characters`}},
		{"empty tag", func(o *MezmoOutput) { o.Tags = []string{"ok", ""} },
			[]string{`tags[1]: "": expected a non-empty tag without commas or white space, at most 80 characters`}},
		{"tag comma", func(o *MezmoOutput) { o.Tags = []string{"a,b"} },
			[]string{`tags[0]: "a,b": expected a non-empty tag without commas or white space, at most 80 characters`}},
		{"tag space", func(o *MezmoOutput) { o.Tags = []string{"a b"} },
			[]string{`tags[0]: "a b": expected a non-empty tag without commas or white space, at most 80 characters`}},
		{"tag newline", func(o *MezmoOutput) { o.Tags = []string{"a\n"} },
			[]string{`tags[0]: "a\n": expected a non-empty tag without commas or white space, at most 80 characters`}},
		{"tag too long", func(o *MezmoOutput) { o.Tags = []string{long + "a"} },
			[]string{`tags[0]: "` + long + `a": expected a non-empty tag without commas or white space, at most 80 characters`}},
		{"every tag", func(o *MezmoOutput) { o.Tags = []string{"", "\t"} }, []string{
			`tags[0]: "": expected a non-empty tag without commas or white space, at most 80 characters`,
			`tags[1]: "\t": expected a non-empty tag without commas or white space, at most 80 characters`,
		}},
		{"short mac", func(o *MezmoOutput) { o.MAC = "C0:FF:EE" }, []string{`mac: "C0:FF:EE": expected a MAC address such as C0:FF:EE:C0:FF:EE`}},
		{"mac with dashes", func(o *MezmoOutput) { o.MAC = "C0-FF-EE-C0-FF-EE" },
			[]string{`mac: "C0-FF-EE-C0-FF-EE": expected a MAC address such as C0:FF:EE:C0:FF:EE`}},
		{"ip", func(o *MezmoOutput) { o.IP = "10.0.0" }, []string{`ip: "10.0.0": expected an IP address`}},
		{"ip host name", func(o *MezmoOutput) { o.IP = "node-1" }, []string{`ip: "node-1": expected an IP address`}},
		{"app too long", func(o *MezmoOutput) { o.App = long + "a" },
			[]string{`app: "` + long + `a": expected at most 80 printable characters`}},
		{"app delete", func(o *MezmoOutput) { o.App = "vigil\x7f" }, []string{`app: "vigil\x7f": expected at most 80 printable characters`}},
		{"env newline", func(o *MezmoOutput) { o.Env = "prod\n" }, []string{`env: "prod\n": expected at most 80 printable characters`}},
		{"request bytes too small", func(o *MezmoOutput) { o.MaxRequestBytes = 64<<10 - 1 },
			[]string{"max_request_bytes: 65535: expected 64KiB to 10000000 (Mezmo's 10 MB)"}},
		{"request bytes too large", func(o *MezmoOutput) { o.MaxRequestBytes = MezmoMaxRequestBytes + 1 },
			[]string{"max_request_bytes: 10000001: expected 64KiB to 10000000 (Mezmo's 10 MB)"}},
		{"line bytes too small", func(o *MezmoOutput) { o.MaxLineBytes = 1023 }, []string{"max_line_bytes: 1023: expected 1KiB to 1MiB"}},
		{"line bytes too large", func(o *MezmoOutput) { o.MaxLineBytes = 1<<20 + 1 }, []string{"max_line_bytes: 1048577: expected 1KiB to 1MiB"}},
		{"meta bytes too small", func(o *MezmoOutput) { o.MaxMetaBytes = -1 }, []string{"max_meta_bytes: -1: expected 1KiB to 1MiB"}},
		{"meta bytes too large", func(o *MezmoOutput) { o.MaxMetaBytes = 1<<20 + 1 }, []string{"max_meta_bytes: 1048577: expected 1KiB to 1MiB"}},
		{"format", func(o *MezmoOutput) { o.Format = "vigil" }, []string{`format: "vigil": expected json or text`}},
		{"problems in order", func(o *MezmoOutput) {
			*o = MezmoOutput{URL: "http://logs.mezmo.com", Auth: "x", Hostname: "_", Tags: []string{","}, MAC: "m", IP: "i",
				App: "\x00", Env: "\x01", MaxRequestBytes: 1, MaxLineBytes: 1, MaxMetaBytes: 1, Format: "f"}
		}, []string{
			"url: http sends the key in clear: use https (http only to a loopback address)",
			"ingestion_key: required: set ingestion_key_file (or ingestion_key)",
			`auth: "x": expected basic or apikey`,
			`hostname: "_": expected a host name (letters, digits, - and .) of at most 80 characters`,
			`tags[0]: ",": expected a non-empty tag without commas or white space, at most 80 characters`,
			`mac: "m": expected a MAC address such as C0:FF:EE:C0:FF:EE`,
			`ip: "i": expected an IP address`,
			`app: "\x00": expected at most 80 printable characters`,
			`env: "\x01": expected at most 80 printable characters`,
			"max_request_bytes: 1: expected 64KiB to 10000000 (Mezmo's 10 MB)",
			"max_line_bytes: 1: expected 1KiB to 1MiB",
			"max_meta_bytes: 1: expected 1KiB to 1MiB",
			`format: "f": expected json or text`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := MezmoOutput{IngestionKeyFile: "/etc/vigil/mezmo.key"}
			tc.edit(&o)
			checkProblems(t, o.problems(), tc.want)
		})
	}
}

func TestIBMLogsOutputProblems(t *testing.T) {
	const (
		guid     = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4A5B"
		endpoint = "https://" + guid + ".ingress.eu-de.logs.cloud.ibm.com"
	)
	long := strings.Repeat("n", 256)
	for _, tc := range []struct {
		name string
		edit func(o *IBMLogsOutput)
		want []string
	}{
		{"minimal", func(o *IBMLogsOutput) {}, nil},
		{"instance and region", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = guid; o.Region = "us-south" }, nil},
		{"everything", func(o *IBMLogsOutput) {
			o.Endpoint = endpoint + "/logs/v1/singles"
			o.APIKeyFile = ""
			o.APIKey = sinkSecret
			o.IAMURL = "https://private.iam.cloud.ibm.com/identity/token"
			o.ApplicationName = long
			o.SubsystemName = "k8s-audit"
			o.ComputerName = "nœud-1"
			o.MaxRequestBytes = IBMLogsMaxRequestBytes
			o.Format = "text"
		}, nil},
		{"smallest request bound", func(o *IBMLogsOutput) { o.MaxRequestBytes = 64 << 10; o.Format = "json" }, nil},
		{"loopback", func(o *IBMLogsOutput) { o.Endpoint = "http://127.0.0.1:8080"; o.IAMURL = "http://localhost:8081/token" }, nil},

		{"endpoint and instance", func(o *IBMLogsOutput) { o.InstanceID = guid },
			[]string{"endpoint: set endpoint, or instance_id and region, not both"}},
		{"endpoint and region", func(o *IBMLogsOutput) { o.Region = "eu-de" },
			[]string{"endpoint: set endpoint, or instance_id and region, not both"}},
		{"bad endpoint and region", func(o *IBMLogsOutput) { o.Endpoint = "eu-de.logs.cloud.ibm.com"; o.Region = "eu-de" },
			[]string{"endpoint: set endpoint, or instance_id and region, not both", "endpoint: expected an https:// URL"}},
		{"no endpoint", func(o *IBMLogsOutput) { o.Endpoint = "" },
			[]string{"endpoint: required: set endpoint, or instance_id and region"}},
		{"instance without region", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = guid },
			[]string{`region: "": expected a region such as eu-de or us-south`}},
		{"region without instance", func(o *IBMLogsOutput) { o.Endpoint = ""; o.Region = "eu-de" },
			[]string{`instance_id: "": expected the instance's GUID`}},
		{"instance not a guid", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = "0f1e2d3c"; o.Region = "eu-de" },
			[]string{`instance_id: "0f1e2d3c": expected the instance's GUID`}},
		{"region upper case", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = guid; o.Region = "EU-DE" },
			[]string{`region: "EU-DE": expected a region such as eu-de or us-south`}},
		{"region underscore", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = guid; o.Region = "eu_de" },
			[]string{`region: "eu_de": expected a region such as eu-de or us-south`}},
		{"region trailing hyphen", func(o *IBMLogsOutput) { o.Endpoint = ""; o.InstanceID = guid; o.Region = "eu-" },
			[]string{`region: "eu-": expected a region such as eu-de or us-south`}},
		{"endpoint http", func(o *IBMLogsOutput) { o.Endpoint = "http://" + guid + ".ingress.eu-de.logs.cloud.ibm.com" },
			[]string{"endpoint: http sends the key in clear: use https (http only to a loopback address)"}},
		{"endpoint query", func(o *IBMLogsOutput) { o.Endpoint = endpoint + "?key=" + sinkSecret },
			[]string{"endpoint: the URL must have no query or fragment"}},
		{"endpoint credentials", func(o *IBMLogsOutput) { o.Endpoint = "https://apikey:" + sinkSecret + "@" + guid + ".example" },
			[]string{"endpoint: credentials do not go in the URL"}},
		{"endpoint no host", func(o *IBMLogsOutput) { o.Endpoint = "https:" }, []string{"endpoint: the URL has no host"}},
		{"endpoint not a url", func(o *IBMLogsOutput) { o.Endpoint = "https://[::1" }, []string{"endpoint: not a URL"}},
		{"key twice", func(o *IBMLogsOutput) { o.APIKey = sinkSecret }, []string{"api_key: set api_key or api_key_file, not both"}},
		{"no key", func(o *IBMLogsOutput) { o.APIKeyFile = "" }, []string{"api_key: required: set api_key_file (or api_key)"}},
		{"iam url http", func(o *IBMLogsOutput) { o.IAMURL = "http://iam.cloud.ibm.com/identity/token" },
			[]string{"iam_url: http sends the key in clear: use https (http only to a loopback address)"}},
		{"iam url query", func(o *IBMLogsOutput) { o.IAMURL = "https://iam.cloud.ibm.com/identity/token?apikey=" + sinkSecret },
			[]string{"iam_url: the URL must have no query or fragment"}},
		{"iam url scheme", func(o *IBMLogsOutput) { o.IAMURL = "iam.cloud.ibm.com" }, []string{"iam_url: expected an https:// URL"}},
		{"application name too long", func(o *IBMLogsOutput) { o.ApplicationName = long + "n" },
			[]string{`application_name: "` + long + `n": expected at most 256 printable characters`}},
		{"subsystem name newline", func(o *IBMLogsOutput) { o.SubsystemName = "a\nb" },
			[]string{`subsystem_name: "a\nb": expected at most 256 printable characters`}},
		{"computer name nul", func(o *IBMLogsOutput) { o.ComputerName = "\x00" },
			[]string{`computer_name: "\x00": expected at most 256 printable characters`}},
		{"request bytes too small", func(o *IBMLogsOutput) { o.MaxRequestBytes = 64<<10 - 1 },
			[]string{"max_request_bytes: 65535: expected 64KiB to 2000000 (IBM's 2 MB)"}},
		{"request bytes too large", func(o *IBMLogsOutput) { o.MaxRequestBytes = IBMLogsMaxRequestBytes + 1 },
			[]string{"max_request_bytes: 2000001: expected 64KiB to 2000000 (IBM's 2 MB)"}},
		{"format", func(o *IBMLogsOutput) { o.Format = "vigil" }, []string{`format: "vigil": expected json or text`}},
		{"problems in order", func(o *IBMLogsOutput) {
			*o = IBMLogsOutput{InstanceID: "i", Region: "R", APIKey: sinkSecret, APIKeyFile: "/k", IAMURL: "x",
				ApplicationName: "\x7f", SubsystemName: "\t", ComputerName: "\r", MaxRequestBytes: -1, Format: "f"}
		}, []string{
			`instance_id: "i": expected the instance's GUID`,
			`region: "R": expected a region such as eu-de or us-south`,
			"api_key: set api_key or api_key_file, not both",
			"iam_url: expected an https:// URL",
			`application_name: "\x7f": expected at most 256 printable characters`,
			`subsystem_name: "\t": expected at most 256 printable characters`,
			`computer_name: "\r": expected at most 256 printable characters`,
			"max_request_bytes: -1: expected 64KiB to 2000000 (IBM's 2 MB)",
			`format: "f": expected json or text`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := IBMLogsOutput{Endpoint: endpoint, APIKeyFile: "/etc/vigil/ibm.key"}
			tc.edit(&o)
			checkProblems(t, o.problems(), tc.want)
		})
	}
}

// TestValidateOutputSinks checks, through Load and Validate, that each
// section's problems are reported under outputs[i].<type>, at the line of
// the key or else of its nearest enclosing key, and that a section must
// match its output's type.
func TestValidateOutputSinks(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // the error's lines; nil: valid
	}{
		{"every type", `outputs:
  - type: syslog
    syslog: {address: syslog.example:514}
  - type: http
    http: {url: https://recv.example/alerts, bearer_token: s3cr3t-bearer}
  - type: slack
    slack: {webhook_url: https://hooks.slack.com/services/T0/B0/s3cr3t}
  - type: mattermost
    mattermost: {webhook_url: http://mattermost.internal/hooks/s3cr3t, username: vigil, channel: sec}
  - type: teams
    teams: {webhook_url_file: /etc/vigil/teams-url}
  - type: mezmo
    mezmo: {ingestion_key: s3cr3t-ingest}
  - type: ibm_cloud_logs
    ibm_cloud_logs: {instance_id: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b, region: eu-de, api_key: s3cr3t-api}
  - type: nats
    nats: {url: nats://127.0.0.1:4222}
`, nil},
		{"text formats", `outputs:
  - {type: syslog, format: text, syslog: {address: h}}
  - {type: http, format: text, http: {url: https://h/}}
  - {type: slack, format: text, slack: {webhook_url_file: u}}
  - {type: mezmo, format: text, mezmo: {ingestion_key_file: k}}
  - {type: ibm_cloud_logs, format: text, ibm_cloud_logs: {endpoint: https://h, api_key_file: k}}
`, nil},
		{"syslog", `outputs:
  - type: syslog
    syslog:
      address: a/b
      transport: udp
      framing: newline
      tls:
        ca_file: ca.pem
`, []string{
			`v.yaml:4: outputs[0].syslog.address: "a/b": expected host:port`,
			"v.yaml:6: outputs[0].syslog.framing: only tcp and tls messages are framed (one UDP datagram holds one message)",
			"v.yaml:7: outputs[0].syslog.tls: only transport tls uses tls settings",
		}},
		{"empty syslog section", "outputs:\n  - type: syslog\n    syslog: {}\n",
			[]string{"v.yaml:3: outputs[0].syslog.address: must not be empty"}},
		{"null syslog section", "outputs:\n  - type: syslog\n    syslog:\n",
			[]string{"v.yaml:3: outputs[0].syslog: a syslog output needs its syslog section"}},
		{"syslog format", "outputs:\n  - type: syslog\n    format: vigil\n    syslog:\n      address: h\n", []string{
			`v.yaml:3: outputs[0].format: "vigil": expected json or text`,
			`v.yaml:4: outputs[0].syslog.format: "vigil": expected json or text`,
		}},
		{"missing section", "outputs:\n  - type: mezmo\n", []string{"v.yaml:2: outputs[0].mezmo: a mezmo output needs its mezmo section"}},
		{"missing section of the second output", "outputs:\n  - type: stdout\n  - name: logs\n    type: ibm_cloud_logs\n",
			[]string{"v.yaml:3: outputs[1].ibm_cloud_logs: a ibm_cloud_logs output needs its ibm_cloud_logs section"}},
		{"wrong chat section", "outputs:\n  - type: teams\n    slack:\n      webhook_url: https://hooks.slack.com/s3cr3t\n", []string{
			"v.yaml:2: outputs[0].teams: a teams output needs its teams section",
			"v.yaml:3: outputs[0].slack: a slack section on a teams output",
		}},
		{"extra section", `outputs:
  - type: http
    http:
      url: https://recv.example/
    ibm_cloud_logs:
      api_key: s3cr3t
`, []string{"v.yaml:5: outputs[0].ibm_cloud_logs: a ibm_cloud_logs section on a http output"}},
		{"section on stdout", "outputs:\n  - type: stdout\n    nats:\n      url: nats://h:4222\n",
			[]string{"v.yaml:3: outputs[0].nats: a nats section on a stdout output"}},
		{"section on file", "outputs:\n  - type: file\n    path: a.jsonl\n    syslog: {address: h}\n",
			[]string{"v.yaml:4: outputs[0].syslog: a syslog section on a file output"}},
		{"section on unknown type", "outputs:\n  - type: kafka\n    mezmo: {ingestion_key: s3cr3t}\n", []string{
			`v.yaml:2: outputs[0].type: "kafka" is not an output type (stdout, file, syslog, http, slack, mattermost, teams, mezmo, ibm_cloud_logs, nats)`,
			"v.yaml:3: outputs[0].mezmo: a mezmo section on a kafka output",
		}},
		{"http", `outputs:
  - type: http
    format: text
    http:
      url: http://vigil:s3cr3t@recv.example/
      batch: ndjson
      headers:
        Content-Type: s3cr3t-ct
      basic_auth:
        username: 'a:b'
        password: s3cr3t-pass
      bearer_token: s3cr3t-bearer
      tls:
        insecure_skip_verify: true
`, []string{
			"v.yaml:5: outputs[0].http.url: must not hold credentials: use basic_auth",
			"v.yaml:6: outputs[0].http.batch: ndjson needs format json",
			"v.yaml:8: outputs[0].http.headers.Content-Type: cannot be set (set from format and batch)",
			"v.yaml:10: outputs[0].http.basic_auth.username: must not contain ':' (RFC 7617)",
			"v.yaml:12: outputs[0].http.bearer_token: basic_auth also sets Authorization",
			"v.yaml:13: outputs[0].http.tls: only an https url uses tls settings",
		}},
		{"http header file", "outputs:\n  - type: http\n    http:\n      url: https://h/?token=s3cr3t#x\n      header_files:\n        X-Key: ''\n", []string{
			"v.yaml:4: outputs[0].http.url: must not have a fragment",
			"v.yaml:6: outputs[0].http.header_files.X-Key: must not be empty",
		}},
		{"http without url", "outputs:\n  - type: http\n    http:\n      timeout: 5s\n",
			[]string{"v.yaml:3: outputs[0].http.url: must not be empty"}},
		{"slack", `outputs:
  - type: slack
    slack:
      webhook_url: http://hooks.slack.com/services/s3cr3t
      username: vigil
      template: '{{.Rule'
`, []string{
			"v.yaml:4: outputs[0].slack.webhook_url: must be https",
			"v.yaml:5: outputs[0].slack.username: only mattermost uses it",
			"v.yaml:6: outputs[0].slack.template: chat:1: unclosed action",
		}},
		{"teams", "outputs:\n  - type: teams\n    teams:\n      webhook_url: teams/s3cr3t\n      channel: sec\n", []string{
			"v.yaml:4: outputs[0].teams.webhook_url: expected an absolute https URL",
			"v.yaml:5: outputs[0].teams.channel: only mattermost uses it (a Slack or Teams webhook posts to its own channel)",
		}},
		{"mattermost", "outputs:\n  - type: mattermost\n    mattermost:\n      webhook_url: https://m/s3cr3t\n      webhook_url_file: u\n      icon_url: i.png\n", []string{
			"v.yaml:4: outputs[0].mattermost.webhook_url: set webhook_url or webhook_url_file, not both",
			"v.yaml:6: outputs[0].mattermost.icon_url: expected an absolute http or https URL",
		}},
		{"chat without url", "outputs:\n  - type: slack\n    slack:\n      timeout: 5s\n",
			[]string{"v.yaml:3: outputs[0].slack.webhook_url: must not be empty (or set webhook_url_file)"}},
		{"mezmo", `outputs:
  - type: mezmo
    mezmo:
      url: https://logs.mezmo.com/?apikey=s3cr3t
      ingestion_key: s3cr3t-key
      tags: [k8s, '']
      max_line_bytes: 2MiB
`, []string{
			"v.yaml:4: outputs[0].mezmo.url: the URL must have no query or fragment",
			`v.yaml:6: outputs[0].mezmo.tags[1]: "": expected a non-empty tag without commas or white space, at most 80 characters`,
			"v.yaml:7: outputs[0].mezmo.max_line_bytes: 2097152: expected 1KiB to 1MiB",
		}},
		{"mezmo without key", "outputs:\n  - type: mezmo\n    mezmo:\n      auth: apikey\n",
			[]string{"v.yaml:3: outputs[0].mezmo.ingestion_key: required: set ingestion_key_file (or ingestion_key)"}},
		{"ibm cloud logs", `outputs:
  - type: ibm_cloud_logs
    format: vigil
    ibm_cloud_logs:
      endpoint: http://eu-de.logs.example/?key=s3cr3t
      api_key: s3cr3t-api
      api_key_file: k
`, []string{
			`v.yaml:3: outputs[0].format: "vigil": expected json or text`,
			`v.yaml:4: outputs[0].ibm_cloud_logs.format: "vigil": expected json or text`,
			"v.yaml:5: outputs[0].ibm_cloud_logs.endpoint: the URL must have no query or fragment",
			"v.yaml:6: outputs[0].ibm_cloud_logs.api_key: set api_key or api_key_file, not both",
		}},
		{"ibm cloud logs without endpoint", "outputs:\n  - type: ibm_cloud_logs\n    ibm_cloud_logs:\n      api_key_file: k\n",
			[]string{"v.yaml:3: outputs[0].ibm_cloud_logs.endpoint: required: set endpoint, or instance_id and region"}},
		{"ibm cloud logs region", "outputs:\n  - type: ibm_cloud_logs\n    ibm_cloud_logs:\n      instance_id: x\n      region: eu-de\n      api_key_file: k\n",
			[]string{`v.yaml:4: outputs[0].ibm_cloud_logs.instance_id: "x": expected the instance's GUID`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.yaml), "v.yaml")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			err = c.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			checkProblems(t, got, tc.want)
		})
	}
}

// TestLoadSinkSectionKeys checks that the keys Validate copies in (format
// and the chat kind) cannot be set in a section.
func TestLoadSinkSectionKeys(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"syslog format", "outputs:\n  - type: syslog\n    syslog:\n      address: h\n      format: text\n", "v.yaml:5: outputs[0].syslog.format: unknown key"},
		{"http format", "outputs:\n  - type: http\n    http:\n      format: text\n", "v.yaml:4: outputs[0].http.format: unknown key"},
		{"slack kind", "outputs:\n  - type: slack\n    slack:\n      kind: teams\n", "v.yaml:4: outputs[0].slack.kind: unknown key"},
		{"mezmo format", "outputs:\n  - type: mezmo\n    mezmo:\n      format: text\n", "v.yaml:4: outputs[0].mezmo.format: unknown key"},
		{"ibm format", "outputs:\n  - type: ibm_cloud_logs\n    ibm_cloud_logs:\n      format: text\n", "v.yaml:4: outputs[0].ibm_cloud_logs.format: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), "v.yaml")
			if err == nil || err.Error() != tc.want {
				t.Errorf("Load error = %v, want %s", err, tc.want)
			}
		})
	}
}

// TestValidateCopiesFormatAndKind checks that Validate copies
// outputs[].format (default json) into each section and the type into a
// chat section's Kind.
func TestValidateCopiesFormatAndKind(t *testing.T) {
	c, err := Load([]byte(`outputs:
  - {type: syslog, format: text, syslog: {address: h}}
  - {type: syslog, name: s2, syslog: {address: h}}
  - {type: http, format: text, http: {url: https://h/}}
  - {type: http, name: h2, http: {url: https://h/}}
  - {type: slack, slack: {webhook_url_file: u}}
  - {type: mattermost, mattermost: {webhook_url_file: u}}
  - {type: teams, teams: {webhook_url_file: u}}
  - {type: mezmo, format: text, mezmo: {ingestion_key_file: k}}
  - {type: mezmo, name: m2, mezmo: {ingestion_key_file: k}}
  - {type: ibm_cloud_logs, format: text, ibm_cloud_logs: {endpoint: https://h, api_key_file: k}}
  - {type: ibm_cloud_logs, name: i2, ibm_cloud_logs: {endpoint: https://h, api_key_file: k}}
`), "v.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.Outputs
	for _, tc := range []struct{ name, got, want string }{
		{"syslog format", o[0].Syslog.Format, "text"},
		{"syslog default format", o[1].Syslog.Format, "json"},
		{"http format", o[2].HTTP.Format, "text"},
		{"http default format", o[3].HTTP.Format, "json"},
		{"slack kind", o[4].Slack.Kind, "slack"},
		{"mattermost kind", o[5].Mattermost.Kind, "mattermost"},
		{"teams kind", o[6].Teams.Kind, "teams"},
		{"mezmo format", o[7].Mezmo.Format, "text"},
		{"mezmo default format", o[8].Mezmo.Format, "json"},
		{"ibm format", o[9].IBMCloudLogs.Format, "text"},
		{"ibm default format", o[10].IBMCloudLogs.Format, "json"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestLoadFileResolvesSinkPaths checks that every file path of the sink
// sections is made absolute against the config file's directory, and that
// absolute and unset paths are left alone.
func TestLoadFileResolvesSinkPaths(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "abs", "key.pem")
	cfg := `outputs:
  - type: http
    http:
      url: https://recv.example/
      bearer_token_file: secrets/bearer
      header_files: {X-Api-Key: secrets/api-key, X-Tenant: ` + abs + `}
      tls: {ca_file: tls/ca.pem, cert_file: tls/c.pem, key_file: ../tls/k.pem}
  - type: http
    name: basic
    http:
      url: https://recv.example/
      basic_auth: {username: vigil, password_file: secrets/password}
  - type: http
    name: unset
    http:
      url: https://recv.example/
      basic_auth: {username: vigil}
  - type: slack
    slack:
      webhook_url_file: secrets/slack-url
      tls: {ca_file: tls/slack-ca.pem}
  - type: mattermost
    mattermost:
      webhook_url_file: ` + abs + `
      tls: {cert_file: tls/mm.pem, key_file: tls/mm.key}
  - type: teams
    teams: {webhook_url_file: secrets/teams-url}
  - type: syslog
    syslog:
      address: syslog.example
      transport: tls
      tls: {ca_file: tls/syslog-ca.pem, cert_file: tls/syslog.pem, key_file: tls/syslog.key}
  - type: mezmo
    mezmo: {ingestion_key_file: secrets/mezmo}
  - type: ibm_cloud_logs
    ibm_cloud_logs: {endpoint: https://logs.example, api_key_file: secrets/ibm}
`
	file := filepath.Join(sub, "vigil.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Outputs
	in := func(p string) string { return filepath.Join(sub, p) }
	for _, tc := range []struct{ name, got, want string }{
		{"http.bearer_token_file", o[0].HTTP.BearerTokenFile, in("secrets/bearer")},
		{"http.header_files.X-Api-Key", o[0].HTTP.HeaderFiles["X-Api-Key"], in("secrets/api-key")},
		{"http.header_files.X-Tenant (absolute)", o[0].HTTP.HeaderFiles["X-Tenant"], abs},
		{"http.tls.ca_file", o[0].HTTP.TLS.CAFile, in("tls/ca.pem")},
		{"http.tls.cert_file", o[0].HTTP.TLS.CertFile, in("tls/c.pem")},
		{"http.tls.key_file", o[0].HTTP.TLS.KeyFile, filepath.Join(dir, "tls/k.pem")},
		{"http.basic_auth.password_file", o[1].HTTP.BasicAuth.PasswordFile, in("secrets/password")},
		{"http.basic_auth.password_file (unset)", o[2].HTTP.BasicAuth.PasswordFile, ""},
		{"http.bearer_token_file (unset)", o[1].HTTP.BearerTokenFile, ""},
		{"http.tls.ca_file (unset)", o[1].HTTP.TLS.CAFile, ""},
		{"slack.webhook_url_file", o[3].Slack.WebhookURLFile, in("secrets/slack-url")},
		{"slack.tls.ca_file", o[3].Slack.TLS.CAFile, in("tls/slack-ca.pem")},
		{"mattermost.webhook_url_file (absolute)", o[4].Mattermost.WebhookURLFile, abs},
		{"mattermost.tls.cert_file", o[4].Mattermost.TLS.CertFile, in("tls/mm.pem")},
		{"mattermost.tls.key_file", o[4].Mattermost.TLS.KeyFile, in("tls/mm.key")},
		{"teams.webhook_url_file", o[5].Teams.WebhookURLFile, in("secrets/teams-url")},
		{"syslog.tls.ca_file", o[6].Syslog.TLS.CAFile, in("tls/syslog-ca.pem")},
		{"syslog.tls.cert_file", o[6].Syslog.TLS.CertFile, in("tls/syslog.pem")},
		{"syslog.tls.key_file", o[6].Syslog.TLS.KeyFile, in("tls/syslog.key")},
		{"syslog.address (not a path)", o[6].Syslog.Address, "syslog.example"},
		{"mezmo.ingestion_key_file", o[7].Mezmo.IngestionKeyFile, in("secrets/mezmo")},
		{"ibm_cloud_logs.api_key_file", o[8].IBMCloudLogs.APIKeyFile, in("secrets/ibm")},
		{"ibm_cloud_logs.endpoint (not a path)", o[8].IBMCloudLogs.Endpoint, "https://logs.example"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if n := len(o[0].HTTP.HeaderFiles); n != 2 {
		t.Errorf("header_files has %d entries, want 2", n)
	}
}
