package output

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// Syslog defaults; see config.SyslogOutput.
const (
	syslogDefaultApp     = "vigil"
	syslogDefaultSDID    = "vigil@32473"
	syslogDefaultTimeout = 10 * time.Second
	syslogDefaultUDPMax  = 8 << 10
	syslogDefaultTCPMax  = 64 << 10
	// syslogTruncated ends a message whose MSG was cut to fit the size
	// bound; it counts towards the bound.
	syslogTruncated = "...[truncated]"
	// syslogFlush is how much framed data a stream send buffers before it
	// writes.
	syslogFlush = 64 << 10
)

// Syslog is a sink that sends each alert as one syslog message (RFC 5424
// or RFC 3164) over UDP, TCP or TLS. A stream connection is kept open
// between batches; a write that fails closes it and returns a retryable
// error, and the next Send dials again. A goroutine per stream connection
// reads from it, so that a receiver that closed the connection is noticed
// before the next batch is written into the void.
type Syslog struct {
	network   string      // udp or tcp
	addr      string      // host:port
	tls       *tls.Config // nil unless transport tls
	rfc3164   bool        // RFC 3164 messages instead of RFC 5424
	octets    bool        // octet-counting framing (streams); else a trailing newline
	facility  int         // 0-23
	app       string      // APP-NAME / TAG
	sdID      string      // SD-ID of the alert's structured-data element
	max       int         // bound of one message, framing excluded
	timeout   time.Duration
	format    Format         // MSG's content
	hostname  string         // sanitised SinkOptions.Hostname; "" = the alert's
	uiURL     string         // for the url parameter
	loc       *time.Location // of the text line's and RFC 3164's time stamps
	logger    *slog.Logger
	truncated atomic.Int64 // messages truncated so far

	mu   sync.Mutex  // guards conn and buf: Send and Close
	conn *syslogConn // nil until dialled, and after a failure
	buf  []byte      // a stream batch or one datagram
}

// syslogConn is a connection and, for streams, its reader.
type syslogConn struct {
	net.Conn
	dead   atomic.Bool   // the receiver closed the stream, or it broke
	reader chan struct{} // closed when the reader returns; nil for udp
}

// NewSyslog returns a syslog sink. It reads the TLS files but does not
// connect: the first Send does.
func NewSyslog(c config.SyslogOutput, o SinkOptions) (*Syslog, error) {
	o = o.withDefaults()
	s := &Syslog{
		app:      c.AppName,
		sdID:     c.SDID,
		max:      int(c.MaxMessageBytes),
		timeout:  time.Duration(c.Timeout),
		hostname: o.Hostname,
		uiURL:    strings.TrimSuffix(o.UIURL, "/"),
		loc:      o.Location,
		logger:   o.Logger,
	}
	if s.hostname != "" {
		s.hostname = syslogSanitize(s.hostname, 255)
	}
	if s.app == "" {
		s.app = syslogDefaultApp
	}
	s.app = syslogSanitize(s.app, 48) // config validation refuses worse; never break the header
	if s.sdID == "" {
		s.sdID = syslogDefaultSDID
	}
	if s.timeout <= 0 {
		s.timeout = syslogDefaultTimeout
	}
	var err error
	if s.format, err = ParseFormat(c.Format); err != nil {
		return nil, err
	}
	if s.facility, err = config.ParseSyslogFacility(c.Facility); err != nil {
		return nil, fmt.Errorf("syslog facility: %w", err)
	}
	switch c.Protocol {
	case "", "rfc5424":
	case "rfc3164":
		s.rfc3164 = true
	default:
		return nil, fmt.Errorf("syslog protocol %q: expected rfc5424 or rfc3164", c.Protocol)
	}
	port := "514"
	switch c.Transport {
	case "", "tcp":
		s.network = "tcp"
	case "udp":
		s.network = "udp"
	case "tls":
		s.network, port = "tcp", "6514"
	default:
		return nil, fmt.Errorf("syslog transport %q: expected tcp, udp or tls", c.Transport)
	}
	switch c.Framing {
	case "":
		s.octets = !s.rfc3164
	case "octet_counting":
		s.octets = true
	case "newline":
	default:
		return nil, fmt.Errorf("syslog framing %q: expected octet_counting or newline", c.Framing)
	}
	if c.Address == "" {
		return nil, errors.New("syslog address: must not be empty")
	}
	s.addr = c.Address
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		host = strings.Trim(c.Address, "[]")
		s.addr = net.JoinHostPort(host, port)
	}
	if s.max == 0 {
		s.max = syslogDefaultTCPMax
		if s.network == "udp" {
			s.max = syslogDefaultUDPMax
		}
	}
	if s.max < config.SyslogMinMessageBytes || (s.network == "udp" && s.max > config.SyslogMaxUDPBytes) {
		return nil, fmt.Errorf("syslog max_message_bytes %d: out of range", s.max)
	}
	if c.Transport == "tls" {
		if s.tls, err = syslogTLSConfig(c.TLS, host); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func syslogTLSConfig(c config.SyslogTLS, host string) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if t.ServerName == "" {
		t.ServerName = host
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog tls ca_file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog tls ca_file %s: no PEM certificate found", c.CAFile)
		}
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog tls cert_file and key_file: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Truncated returns how many messages were cut to fit max_message_bytes.
func (s *Syslog) Truncated() int64 { return s.truncated.Load() }

// Send implements Sink. A stream batch is written in as few writes as its
// size allows; over UDP, each alert is one datagram. Every failure is
// retryable: the receiver may come back, and its certificate may be fixed.
func (s *Syslog) Send(ctx context.Context, alerts []*journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.dead.Load() {
		s.closeLocked()
	}
	if s.conn == nil {
		if err := s.dialLocked(ctx); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := s.conn
	c.SetWriteDeadline(deadline)
	// A cancelled ctx interrupts a blocked write.
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()

	truncated := 0
	write := func() error {
		if _, err := c.Write(s.buf); err != nil {
			s.closeLocked()
			if ctx.Err() != nil {
				return fmt.Errorf("syslog: write to %s: %w", s.addr, ctx.Err())
			}
			return fmt.Errorf("syslog: write to %s: %w", s.addr, err)
		}
		s.buf = s.buf[:0]
		return nil
	}
	s.buf = s.buf[:0]
	for _, a := range alerts {
		if s.network == "udp" {
			var cut bool
			s.buf, cut = s.appendMessage(s.buf[:0], a)
			if cut {
				truncated++
			}
			if err := write(); err != nil {
				return err
			}
			continue
		}
		var cut bool
		s.buf, cut = s.appendFramed(s.buf, a)
		if cut {
			truncated++
		}
		if len(s.buf) >= syslogFlush {
			if err := write(); err != nil {
				return err
			}
		}
	}
	if len(s.buf) > 0 {
		if err := write(); err != nil {
			return err
		}
	}
	if truncated > 0 {
		s.truncated.Add(int64(truncated))
		s.logger.Warn("syslog messages truncated to max_message_bytes", "messages", truncated, "max_message_bytes", s.max)
	}
	return nil
}

func (s *Syslog) dialLocked(ctx context.Context) error {
	d := &net.Dialer{Timeout: s.timeout, KeepAlive: 30 * time.Second}
	var (
		conn net.Conn
		err  error
	)
	if s.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, s.network, s.addr)
	}
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err // the OpError repeats the address
		}
		return fmt.Errorf("syslog: connect to %s over %s: %w", s.addr, s.transport(), err)
	}
	c := &syslogConn{Conn: conn}
	if s.network == "tcp" {
		// Receivers send nothing on a syslog stream (TLS records such as
		// session tickets aside, which Read consumes), so a Read that
		// returns means the connection is gone.
		c.reader = make(chan struct{})
		go func() {
			defer close(c.reader)
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					c.dead.Store(true)
					return
				}
			}
		}()
	}
	s.conn = c
	return nil
}

func (s *Syslog) transport() string {
	switch {
	case s.tls != nil:
		return "tls"
	case s.network == "udp":
		return "udp"
	}
	return "tcp"
}

// closeLocked closes the connection and waits for its reader.
func (s *Syslog) closeLocked() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	if s.conn.reader != nil {
		<-s.conn.reader
	}
	s.conn = nil
	return err
}

// Close implements Sink.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked()
}

// appendFramed appends a's message framed for a stream: "LEN SP MSG"
// (octet counting) or "MSG LF".
func (s *Syslog) appendFramed(dst []byte, a *journal.Alert) ([]byte, bool) {
	if !s.octets {
		dst, cut := s.appendMessage(dst, a)
		return append(dst, '\n'), cut
	}
	// Render after room for the longest length prefix, then move the
	// message next to its actual prefix.
	start := len(dst)
	const room = 9 // up to 16MiB: 8 digits and a space
	dst = append(dst, make([]byte, room)...)
	dst, cut := s.appendMessage(dst, a)
	n := len(dst) - start - room
	var prefix [room]byte
	p := strconv.AppendInt(prefix[:0], int64(n), 10)
	p = append(p, ' ')
	copy(dst[start:], p)
	copy(dst[start+len(p):], dst[start+room:])
	return dst[:start+len(p)+n], cut
}

// appendMessage appends a's syslog message, at most s.max bytes, and
// reports whether its MSG was cut.
func (s *Syslog) appendMessage(dst []byte, a *journal.Alert) ([]byte, bool) {
	start := len(dst)
	pri := s.facility*8 + int(a.Alert.Priority) // Falco's priorities are syslog's severities
	host := s.hostname
	if host == "" {
		host = syslogSanitize(a.Alert.Hostname, 255)
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	dst = append(dst, '>')
	sd := 0
	if s.rfc3164 {
		// <PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG
		dst = time.Unix(0, a.Alert.Time).In(s.loc).AppendFormat(dst, "Jan _2 15:04:05")
		dst = append(dst, ' ')
		dst = append(dst, host...)
		dst = append(dst, ' ')
		dst = append(dst, s.app...)
		dst = append(dst, ':')
	} else {
		// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
		dst = append(dst, "1 "...)
		dst = time.Unix(0, a.Alert.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
		dst = append(dst, ' ')
		dst = append(dst, host...)
		dst = append(dst, ' ')
		dst = append(dst, s.app...)
		dst = append(dst, " - "...)
		msgID := syslogSanitize(a.Alert.Rule, 32)
		if msgID == "-" {
			msgID = "alert"
		}
		dst = append(dst, msgID...)
		dst = append(dst, ' ')
		sd = len(dst)
		dst = s.appendSD(dst, a, false)
	}
	dst = append(dst, ' ')
	msg := len(dst)
	dst = appendAlert(dst, a, s.format, s.loc)
	dst = dst[:len(dst)-1] // appendAlert's newline
	if len(dst)-start <= s.max {
		return dst, false
	}
	room := s.max - (msg - start) - len(syslogTruncated)
	if room < 0 && !s.rfc3164 {
		// Long rule, cluster or host names: keep only the alert's ID in
		// the structured data. The header is bounded (hostname 255,
		// APP-NAME 48, MSGID 32), so with it a message fits in 480 bytes.
		body := append([]byte(nil), dst[msg:]...)
		dst = s.appendSD(dst[:sd], a, true)
		dst = append(dst, ' ')
		msg = len(dst)
		dst = append(dst, body...)
		if len(dst)-start <= s.max {
			return dst, true
		}
		room = s.max - (msg - start) - len(syslogTruncated)
	}
	room = max(room, 0)
	for room > 0 && !utf8.RuneStart(dst[msg+room]) {
		room--
	}
	dst = append(dst[:msg+room], syslogTruncated...)
	return dst, true
}

// appendSD appends the alert's structured-data element; short keeps only
// its ID.
func (s *Syslog) appendSD(dst []byte, a *journal.Alert, short bool) []byte {
	dst = append(dst, '[')
	dst = append(dst, s.sdID...)
	param := func(name, value string) {
		if value == "" {
			return
		}
		dst = append(dst, ' ')
		dst = append(dst, name...)
		dst = append(dst, `="`...)
		dst = appendSDValue(dst, value)
		dst = append(dst, '"')
	}
	param("id", a.ID)
	if !short {
		param("rule", a.Alert.Rule)
		param("priority", a.Alert.Priority.String())
		param("source", a.Alert.Source)
		param("cluster", a.Cluster)
		param("audit_id", a.AuditID)
		param("stage", a.Stage)
		if s.uiURL != "" && a.ID != "" {
			param("url", s.uiURL+"/alerts/"+a.ID)
		}
	}
	return append(dst, ']')
}

// appendSDValue appends v as a PARAM-VALUE (RFC 5424 6.3.3): '"', '\' and
// ']' escaped with a backslash. Control characters become spaces, so that
// no framing can break, and invalid UTF-8 becomes U+FFFD.
func appendSDValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		i += size
		switch {
		case r == '"' || r == '\\' || r == ']':
			dst = append(dst, '\\', byte(r))
		case r < 0x20 || r == 0x7f:
			dst = append(dst, ' ')
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// syslogSanitize returns s as a header field: printable ASCII without
// spaces (others become '_'), at most n bytes, "-" (NILVALUE) when empty.
func syslogSanitize(s string, n int) string {
	ok := len(s) <= n
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] > ' ' && s[i] < 0x7f
	}
	if ok {
		if s == "" {
			return "-"
		}
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if b.Len() == n {
			break
		}
		if r > ' ' && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
