package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// HTTP is a sink that POSTs alerts as Falco's http_output does: one alert
// per request, the body being Falco's JSON alert (or text line) without a
// trailing newline. In ndjson mode it POSTs several alerts per request,
// one per line.
type HTTP struct {
	client   *http.Client
	url      *url.URL
	header   http.Header // every request's headers, credentials included
	format   Format
	ndjson   bool
	maxBytes int
	loc      *time.Location

	mu   sync.Mutex // guards prog and buf: Send may be called concurrently
	prog sendProgress
	buf  []byte
}

// NewHTTP returns an http sink. It reads the files the configuration
// names (CAs, client certificate, secrets), so a missing file is reported
// at start.
func NewHTTP(c config.HTTPOutput, o SinkOptions) (*HTTP, error) {
	o = o.withDefaults()
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("http output: url: expected an absolute http or https URL")
	}
	f, err := ParseFormat(c.Format)
	if err != nil {
		return nil, err
	}
	client, err := httpClientFor(c.TLS, time.Duration(c.Timeout))
	if err != nil {
		return nil, fmt.Errorf("http output: %w", err)
	}
	s := &HTTP{client: client, url: u, header: http.Header{}, format: f, loc: o.Location}
	h := s.header
	// The headers curl sends for Falco: Accept */* and the User-Agent
	// (Host and Content-Length are set by the client).
	h.Set("Accept", "*/*")
	h.Set("User-Agent", config.HTTPDefaultUserAgent)
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	switch {
	case c.Batch == "ndjson":
		s.ndjson = true
		s.maxBytes = int(c.MaxBatchBytes)
		if s.maxBytes <= 0 {
			s.maxBytes = config.HTTPDefaultMaxBatchBytes
		}
		h.Set("Content-Type", "application/x-ndjson")
	case f == Text:
		h.Set("Content-Type", "text/plain")
	default:
		h.Set("Content-Type", "application/json")
	}
	for name, v := range c.Headers {
		h.Set(name, string(v))
	}
	for name, path := range c.HeaderFiles {
		v, err := httpSecretFile(path)
		if err != nil {
			return nil, fmt.Errorf("http output: header_files.%s: %w", name, err)
		}
		h.Set(name, v)
	}
	if b := c.BasicAuth; b != nil {
		pw := string(b.Password)
		if b.PasswordFile != "" {
			if pw, err = httpSecretFile(b.PasswordFile); err != nil {
				return nil, fmt.Errorf("http output: basic_auth.password_file: %w", err)
			}
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(b.Username+":"+pw)))
	}
	tok := string(c.BearerToken)
	if c.BearerTokenFile != "" {
		if tok, err = httpSecretFile(c.BearerTokenFile); err != nil {
			return nil, fmt.Errorf("http output: bearer_token_file: %w", err)
		}
	}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return s, nil
}

// Send implements Sink. Without batching, each alert is one request; a
// retry after a failure sends only the alerts not yet delivered.
func (s *HTTP) Send(ctx context.Context, alerts []*journal.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prog.begin(alerts)
	if s.ndjson {
		if err := s.sendNDJSON(ctx, alerts); err != nil {
			return err
		}
		return s.prog.finish(alerts)
	}
	for _, a := range alerts {
		if !s.prog.pending(a) {
			continue
		}
		s.buf = s.buf[:0]
		if s.format == Text {
			s.buf = alert.AppendText(s.buf, &a.Alert, s.loc)
		} else {
			s.buf = alert.AppendJSON(s.buf, &a.Alert, s.loc)
		}
		err := s.post(ctx, s.buf)
		if err != nil && !IsPermanent(err) {
			return fmt.Errorf("alert %s: %w", a.ID, err)
		}
		s.prog.mark(a, err)
	}
	return s.prog.finish(alerts)
}

// sendNDJSON packs the pending alerts into requests of at most maxBytes.
func (s *HTTP) sendNDJSON(ctx context.Context, alerts []*journal.Alert) error {
	var in []*journal.Alert // alerts in s.buf
	flush := func() error {
		if len(in) == 0 {
			return nil
		}
		err := s.post(ctx, s.buf)
		if err != nil && !IsPermanent(err) {
			return fmt.Errorf("%d alerts from %s: %w", len(in), in[0].ID, err)
		}
		for _, a := range in {
			s.prog.mark(a, err)
		}
		s.buf, in = s.buf[:0], in[:0]
		return nil
	}
	s.buf = s.buf[:0]
	var line []byte
	for _, a := range alerts {
		if !s.prog.pending(a) {
			continue
		}
		line = append(alert.AppendJSON(line[:0], &a.Alert, s.loc), '\n')
		if len(line) > s.maxBytes {
			s.prog.mark(a, Permanent(fmt.Errorf("%d bytes is more than max_batch_bytes (%d)", len(line), s.maxBytes)))
			continue
		}
		if len(s.buf)+len(line) > s.maxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		s.buf = append(s.buf, line...)
		in = append(in, a)
	}
	return flush()
}

// post sends one body.
func (s *HTTP) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), bytes.NewReader(body))
	if err != nil {
		return Permanent(errors.New("http output: cannot build the request"))
	}
	req.Header = s.header.Clone()
	return Do(s.client, req)
}

// Close implements Sink.
func (s *HTTP) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// httpClientFor returns a client for one destination: its own connection
// pool, TLS as configured, no redirects (as Falco's libcurl use: a
// redirect would re-send credentials where they were not configured to
// go, and POST is not safely redirected), and timeout per request
// (default 10s).
func httpClientFor(c config.HTTPTLS, timeout time.Duration) (*http.Client, error) {
	tc, err := httpTLSConfig(c)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// httpTLSConfig builds the TLS settings: CA file (replacing the system
// roots), client certificate, server name, insecure mode.
func httpTLSConfig(c config.HTTPTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.InsecureSkipVerify}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			// The error names the files, never the key's bytes.
			return nil, fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// httpMaxSecretFile bounds how much of a secret file is read: one line.
const httpMaxSecretFile = 16 << 10

// httpSecretFile reads a one-line secret, without surrounding white space.
// Errors name the file, never its content.
func httpSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, httpMaxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > httpMaxSecretFile {
		return "", fmt.Errorf("%s: larger than %d bytes; it should hold one line", path, httpMaxSecretFile)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: empty", path)
	}
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("%s: more than one line", path)
	}
	return v, nil
}

// sendProgress remembers, across the attempts at one batch, which alerts were
// delivered and which were refused for good, so that a retry sends only
// the rest: without it a batch that fails half-way, retried whole, would
// post its first half twice. The Dispatcher retries with the same alerts,
// so they are known by address (IDs may be empty in tests and tools). It
// holds one batch at most.
type sendProgress struct {
	done map[*journal.Alert]error // nil (delivered) or why it was refused
}

// begin starts an attempt at batch; the outcomes of alerts not in it (a
// previous batch's) are forgotten.
func (p *sendProgress) begin(batch []*journal.Alert) {
	if len(p.done) == 0 {
		return
	}
	in := make(map[*journal.Alert]bool, len(batch))
	for _, a := range batch {
		in[a] = true
	}
	for a := range p.done {
		if !in[a] {
			delete(p.done, a)
		}
	}
}

func (p *sendProgress) pending(a *journal.Alert) bool {
	_, ok := p.done[a]
	return !ok
}

// mark records an alert's outcome: nil or a permanent error.
func (p *sendProgress) mark(a *journal.Alert, err error) {
	if p.done == nil {
		p.done = map[*journal.Alert]error{}
	}
	p.done[a] = err
}

// finish ends the batch: nil when every alert was delivered, else a
// Permanent error naming the refused alerts (the others were delivered).
func (p *sendProgress) finish(batch []*journal.Alert) error {
	var ids []string
	var first error
	var refused []*journal.Alert
	n := 0
	for _, a := range batch {
		if err := p.done[a]; err != nil {
			if first == nil {
				first = err
			}
			refused = append(refused, a)
			if n++; n <= 5 {
				ids = append(ids, a.ID)
			}
		}
	}
	clear(p.done)
	if first == nil {
		return nil
	}
	more := ""
	if n > len(ids) {
		more = fmt.Sprintf(" and %d more", n-len(ids))
	}
	return Refused(fmt.Errorf("%d of %d alerts refused (alert %s%s): %w", n, len(batch), strings.Join(ids, ", "), more, first), refused)
}
