package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// NATS limits and defaults.
const (
	natsConnectTimeout  = 5 * time.Second  // dialling one server, without connect_timeout
	natsSendTimeout     = 30 * time.Second // a Send whose context has no deadline
	natsAckTimeout      = time.Minute      // forget an ack that never comes (after Send gave up on it)
	natsRouteTTL        = time.Minute      // jetstream auto: how long a subject's stream lookup holds
	natsHeaderReserve   = 256              // max_payload counts headers too; ours are well under this
	natsMinTruncate     = 16               // shortest value kept when an alert is cut to fit max_payload
	natsTruncatedMarker = "...[truncated]" // ends every value cut to fit max_payload
)

// NATS is a sink that publishes each alert as one message to
// <prefix>.<priority> (or <prefix>.<cluster>.<priority>), with JetStream
// acknowledgements where a stream captures the subject.
//
// A Send returns once every message is flushed to the server (core NATS)
// or acknowledged by its stream (JetStream), or fails with a retryable
// error; the client reconnects by itself, and a Send while it is
// disconnected fails at once rather than queueing in the client. Every
// message carries the alert's ID in the Nats-Msg-Id header, so a stream
// drops the duplicates that at-least-once delivery sends after a crash.
type NATS struct {
	nc      *nats.Conn
	js      jetstream.JetStream // nil with jetstream off
	log     *slog.Logger
	prefix  string // subject prefix, without the trailing dot
	cluster bool   // cluster token in the subject
	mode    string // auto, on or off
	format  string // json, text or vigil
	uiURL   string
	loc     *time.Location
	stream  jetstream.StreamConfig // to create when missing; Name "" = none
	now     func() time.Time

	connErr atomic.Pointer[error] // why the last connection attempt failed; nil once connected

	mu          sync.Mutex           // guards streamReady and routes
	streamReady bool                 // the stream to create exists
	routes      map[string]natsRoute // jetstream auto: subject → whether a stream captures it
}

type natsRoute struct {
	js      bool
	checked time.Time
}

// NewNATS connects to the server in the background and returns the sink:
// a server that is down at start delays delivery (Send fails and is
// retried) but not Vigil. It fails only on settings it cannot use, such as
// an unreadable credentials, key or certificate file.
func NewNATS(c config.NATSOutput, o SinkOptions) (*NATS, error) {
	o = o.withDefaults()
	s := &NATS{
		log:     o.Logger,
		prefix:  c.SubjectPrefix,
		cluster: c.ClusterInSubject,
		mode:    c.JetStream,
		format:  c.Format,
		uiURL:   strings.TrimSuffix(o.UIURL, "/"),
		loc:     o.Location,
		now:     time.Now,
		routes:  map[string]natsRoute{},
	}
	if s.prefix == "" {
		s.prefix = config.NATSDefaultSubjectPrefix
	}
	if s.mode == "" {
		s.mode = "auto"
	}
	if s.mode == "auto" && c.CreateStream != "" {
		// With a stream of our own, a subject it does not capture (it
		// was deleted, or changed) is an error to retry, not a reason to
		// fall back to core NATS, which keeps nothing.
		s.mode = "on"
	}
	if s.format == "" {
		s.format = "json"
	}
	if c.CreateStream != "" {
		dup := time.Duration(c.DuplicateWindow)
		if dup == 0 {
			dup = 2 * time.Minute
			if c.MaxAge != 0 && time.Duration(c.MaxAge) < dup {
				dup = time.Duration(c.MaxAge) // the server refuses a window longer than max_age
			}
		}
		maxBytes := int64(c.MaxBytes)
		if maxBytes == 0 {
			maxBytes = -1
		}
		s.stream = jetstream.StreamConfig{
			Name:        c.CreateStream,
			Description: "Vigil alerts",
			Subjects:    []string{s.prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  dup,
			MaxAge:      time.Duration(c.MaxAge),
			MaxBytes:    maxBytes,
		}
	}

	timeout := time.Duration(c.ConnectTimeout)
	if timeout <= 0 {
		timeout = natsConnectTimeout
	}
	log := s.log
	opts := []nats.Option{
		nats.Name("vigil"),
		nats.Timeout(timeout),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		// No reconnect buffer: a message published while disconnected
		// fails at once and the dispatcher keeps it, instead of sitting
		// in the client's memory, lost if Vigil stops.
		nats.ReconnectBufSize(-1),
		// Keep trying after refused credentials: they may be fixed on
		// the server, and a closed connection would need a restart.
		nats.IgnoreAuthErrorAbort(),
		nats.ConnectHandler(func(nc *nats.Conn) {
			s.connErr.Store(nil)
			log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.connErr.Store(nil)
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.connErr.Store(&err)
				log.Warn("nats disconnected", "err", err)
			}
		}),
		// Every failed attempt, every reconnect_wait: not logged here,
		// since Send returns it and the dispatcher logs what changes.
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				s.connErr.Store(&err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats error", "err", err)
		}),
	}
	auth, err := natsAuth(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, auth...)
	tlsOpt, err := natsTLS(c)
	if err != nil {
		return nil, err
	}
	if tlsOpt != nil {
		opts = append(opts, tlsOpt)
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	s.nc = nc
	if s.mode != "off" {
		s.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(natsAckTimeout))
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats jetstream: %w", err)
		}
	}
	return s, nil
}

// natsAuth returns the client options of the one configured way to
// authenticate. Errors name files, never their content.
func natsAuth(c config.NATSOutput) ([]nats.Option, error) {
	var opts []nats.Option
	token := string(c.Token)
	if c.TokenFile != "" {
		t, err := natsSecretFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("nats token_file: %w", err)
		}
		token = t
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	password := string(c.Password)
	if c.PasswordFile != "" {
		p, err := natsSecretFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("nats password_file: %w", err)
		}
		password = p
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, password))
	}
	if c.CredsFile != "" {
		// The client reads the file at each connection; reading it now
		// turns a wrong path into an error at start.
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("nats creds_file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey_seed_file %s: %w", c.NKeySeedFile, natsRedactSeedError(err))
		}
		opts = append(opts, o)
	}
	return opts, nil
}

// natsRedactSeedError keeps os errors (which name the file) and replaces
// parse errors, in case a library ever quotes what it could not parse.
func natsRedactSeedError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return errors.New("not a valid nkey user seed")
}

// natsSecretFile reads a one-line secret, without its line end.
func natsSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// natsTLS returns the TLS option, or nil when TLS is not configured (a
// tls:// URL still asks the client for TLS, with the system's roots).
func natsTLS(c config.NATSOutput) (nats.Option, error) {
	t := c.TLS
	if t == (config.NATSTLS{}) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("nats tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("nats tls ca_file %s: no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats tls cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return nats.Secure(cfg), nil
}

// subject returns the subject a is published to.
func (s *NATS) subject(a *journal.Alert) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	b.WriteByte('.')
	if s.cluster {
		b.WriteString(natsToken(a.Cluster))
		b.WriteByte('.')
	}
	b.WriteString(natsToken(strings.ToLower(a.Alert.Priority.String())))
	return b.String()
}

// natsToken makes s one subject token: the characters that separate
// tokens, the wildcards, white space, control characters and invalid
// UTF-8 become _, and "" becomes _.
func natsToken(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
}

type natsPending struct {
	id      string
	subject string
	f       jetstream.PubAckFuture
}

// Send implements Sink.
func (s *NATS) Send(ctx context.Context, alerts []*journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if st := s.nc.Status(); st != nats.CONNECTED {
		if p := s.connErr.Load(); p != nil {
			return fmt.Errorf("nats: not connected (%s): %w", strings.ToLower(st.String()), *p)
		}
		if err := s.nc.LastError(); err != nil {
			return fmt.Errorf("nats: not connected (%s): %w", strings.ToLower(st.String()), err)
		}
		return fmt.Errorf("nats: not connected (%s)", strings.ToLower(st.String()))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, natsSendTimeout)
		defer cancel()
	}
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	limit := int(s.nc.MaxPayload()) - natsHeaderReserve
	msgs := make([]*nats.Msg, len(alerts))
	for i, a := range alerts {
		data, err := s.render(a, limit)
		if err != nil {
			return Permanent(err)
		}
		msgs[i] = &nats.Msg{
			Subject: s.subject(a),
			Data:    data,
			Header:  nats.Header{jetstream.MsgIDHeader: []string{a.ID}},
		}
	}

	var pending []natsPending
	core := false
	for i, m := range msgs {
		useJS, err := s.useJetStream(ctx, m.Subject)
		if err != nil {
			return err
		}
		if useJS {
			f, err := s.js.PublishMsgAsync(m)
			if err != nil {
				return fmt.Errorf("nats publish %s: %w", m.Subject, err)
			}
			pending = append(pending, natsPending{alerts[i].ID, m.Subject, f})
			continue
		}
		if err := s.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("nats publish %s: %w", m.Subject, err)
		}
		core = true
	}
	if core {
		if err := s.nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("nats flush: %w", err)
		}
	}
	for i, p := range pending {
		select {
		case <-p.f.Ok():
		case err := <-p.f.Err():
			// Let the rest settle first: the client retries a publish no
			// stream answered, and one landing after this Send returned
			// (in a stream the next Send recreates) would come out of order.
			for _, q := range pending[i+1:] {
				select {
				case <-q.f.Ok():
				case <-q.f.Err():
				case <-ctx.Done():
				}
			}
			return s.ackError(p, err)
		case <-ctx.Done():
			return fmt.Errorf("nats: waiting for %d of %d JetStream acks: %w", len(pending)-i, len(pending), ctx.Err())
		}
	}
	return nil
}

// ackError classifies a failed JetStream publish.
func (s *NATS) ackError(p natsPending, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		// No stream captures the subject (any more): look again, and
		// recreate the stream we own, before the retry.
		s.mu.Lock()
		delete(s.routes, p.subject)
		s.streamReady = false
		s.mu.Unlock()
		return fmt.Errorf("nats publish %s: no stream captures the subject: %w", p.subject, err)
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return Permanent(fmt.Errorf("nats publish %s: alert %s: %w", p.subject, p.id, err))
	}
	return fmt.Errorf("nats publish %s: alert %s: %w", p.subject, p.id, err)
}

// ensureStream creates the configured stream if it does not exist.
func (s *NATS) ensureStream(ctx context.Context) error {
	if s.stream.Name == "" {
		return nil
	}
	s.mu.Lock()
	ready := s.streamReady
	s.mu.Unlock()
	if ready {
		return nil
	}
	_, err := s.js.Stream(ctx, s.stream.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, s.stream)
		switch {
		case err == nil:
			s.log.Info("nats stream created", "stream", s.stream.Name, "subjects", s.stream.Subjects)
		case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse):
			err = nil // created by someone else meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("nats stream %s: %w", s.stream.Name, err)
	}
	s.mu.Lock()
	s.streamReady = true
	clear(s.routes)
	s.mu.Unlock()
	return nil
}

// useJetStream reports whether subject is published with JetStream: always
// with jetstream on, never with off, and with auto when a stream captures
// it (looked up at most once per natsRouteTTL).
func (s *NATS) useJetStream(ctx context.Context, subject string) (bool, error) {
	switch s.mode {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	now := s.now()
	s.mu.Lock()
	r, ok := s.routes[subject]
	s.mu.Unlock()
	if ok && now.Sub(r.checked) < natsRouteTTL {
		return r.js, nil
	}
	_, err := s.js.StreamNameBySubject(ctx, subject)
	switch {
	case err == nil:
		r.js = true
	case errors.Is(err, jetstream.ErrStreamNotFound),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders): // a server without JetStream
		r.js = false
	default:
		return false, fmt.Errorf("nats: looking up the stream of %s: %w", subject, err)
	}
	r.checked = now
	s.mu.Lock()
	s.routes[subject] = r
	s.mu.Unlock()
	return r.js, nil
}

// render returns a's payload, at most limit bytes: an alert too large has
// its message and field values cut, each ending with a marker, as little
// as needed. It fails, naming the alert, only when even that cannot fit.
func (s *NATS) render(a *journal.Alert, limit int) ([]byte, error) {
	b, err := s.appendPayload(nil, a, &a.Alert)
	if err != nil {
		return nil, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	if len(b) <= limit {
		return b, nil
	}
	size := len(b)
	for n := limit / 2; n >= natsMinTruncate; n /= 2 {
		cut := truncateAlert(&a.Alert, n)
		if b, err = s.appendPayload(b[:0], a, &cut); err != nil {
			return nil, fmt.Errorf("alert %s: %w", a.ID, err)
		}
		if len(b) <= limit {
			return b, nil
		}
	}
	return nil, fmt.Errorf("alert %s: %d bytes do not fit in the server's max_payload (%d bytes for the payload), even with its values cut", a.ID, size, limit)
}

// natsVigilAlert is the payload of format vigil.
type natsVigilAlert struct {
	ID       string          `json:"id"`
	Cluster  string          `json:"cluster"`
	Capture  string          `json:"capture"`
	AuditID  string          `json:"audit_id"`
	Stage    string          `json:"stage"`
	Received time.Time       `json:"received"`
	URL      string          `json:"url,omitempty"` // the alert in Vigil's UI
	Alert    json.RawMessage `json:"alert"`         // Falco's JSON alert
}

// appendPayload appends the payload of a, with al as its Falco alert.
func (s *NATS) appendPayload(dst []byte, a *journal.Alert, al *alert.Alert) ([]byte, error) {
	switch s.format {
	case "text":
		return alert.AppendText(dst, al, s.loc), nil
	case "vigil":
		v := natsVigilAlert{
			ID: a.ID, Cluster: a.Cluster, Capture: a.Capture, AuditID: a.AuditID, Stage: a.Stage,
			Received: a.Received.UTC(),
			Alert:    alert.AppendJSON(nil, al, s.loc),
		}
		if s.uiURL != "" {
			v.URL = s.uiURL + "/alerts/" + a.ID
		}
		buf := bytes.NewBuffer(dst)
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false) // keep Falco's alert byte for byte
		if err := enc.Encode(&v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	return alert.AppendJSON(dst, al, s.loc), nil
}

// truncateAlert returns a copy of a with its message and every field
// value cut to n bytes, at a UTF-8 boundary, plus the marker.
func truncateAlert(a *alert.Alert, n int) alert.Alert {
	c := *a
	c.Message = truncateValue(a.Message, n)
	c.Fields = make([]alert.Field, len(a.Fields))
	for i, f := range a.Fields {
		if !f.Int {
			vs := make([]string, len(f.Values))
			for j, v := range f.Values {
				vs[j] = truncateValue(v, n)
			}
			f.Values = vs
		}
		c.Fields[i] = f
	}
	return c
}

func truncateValue(v string, n int) string {
	if len(v) <= n {
		return v
	}
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + natsTruncatedMarker
}

// Close implements Sink. Send waits for its messages, so nothing is left
// to flush.
func (s *NATS) Close() error {
	s.nc.Close()
	return nil
}
