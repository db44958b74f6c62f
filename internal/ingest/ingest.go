// Package ingest is the HTTP side of `vigil serve`: the audit webhook
// (POST /k8s_audit, /k8s-audit) and the admission webhook (POST
// /admission). Each request is authenticated, bounded, decoded, redacted
// and appended to the event log as one record; the answer is sent only
// once that record is durable.
//
// The audit webhook answers:
//   - 200 when the batch is durable, with a JSON summary; malformed events
//     in it are counted, reported in the summary, and skipped;
//   - 400 when the body holds no event at all (not JSON, not audit events):
//     retrying cannot help, so the API server should not;
//   - 401/403 on failed authentication, 413 over the body limit;
//   - 503 with Retry-After when the log is full, slow or failing: the API
//     server retries the batch, and nothing was acknowledged.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/redact"
	"github.com/vigilsec/vigil/internal/wal"
)

// AuthFunc authenticates a request. On success it returns the cluster
// name; otherwise the HTTP status (401 or 403) and a short reason for the
// metrics and the log (never a credential).
type AuthFunc func(r *http.Request) (cluster string, status int, reason string)

// Options configure a Server.
type Options struct {
	Log          *wal.Log
	Auth         AuthFunc
	MaxBodyBytes int64         // larger bodies (after decompression too) get 413
	Limits       audit.Limits  // per event
	AckTimeout   time.Duration // longest wait for durability before 503
	RetryAfter   time.Duration // Retry-After of a 503
	MaxErrors    int           // skipped events described in a 200's body; 0 = 10
	Metrics      *metrics.Metrics
	Logger       *slog.Logger
	Now          func() time.Time
	AuthSources  *metrics.Sources // caps the source label of auth failures; nil = 1000
	Admission    AdmissionOptions
	ShuttingDown func() bool // true once the server stops accepting; nil = never
	// Behind, if set, reports whether evaluation is so far behind ingest
	// that new batches should wait: acknowledgements then slow down to the
	// evaluator's pace, instead of the log filling up until requests get
	// 503.
	Behind        func() bool
	DisableRedact bool // keep Secret data in the log (tests of redaction only)
}

// Server handles the ingest endpoints.
type Server struct {
	o                Options
	lastAdmissionLog atomic.Int64 // Unix ns of the last "unrecorded" log line
	bufs             sync.Pool    // *bytes.Buffer for bodies
	encs             sync.Pool    // *batch.Encoder
}

// New returns a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 10
	}
	if o.AuthSources == nil {
		o.AuthSources = metrics.NewSources(1000)
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 5 * time.Second
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	s := &Server{o: o}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.encs.New = func() any { return new(batch.Encoder) }
	return s
}

// logEvery reports whether a rate-limited log line is due, and if so
// records it.
func (s *Server) logEvery(last *atomic.Int64, every time.Duration) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(every) && last.CompareAndSwap(prev, now)
}

// statusWriter records the status for the request metric.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// instrument counts requests and their latency by endpoint and status.
func (s *Server) instrument(endpoint string, h func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h(sw, r)
		if m := s.o.Metrics; m != nil {
			m.Requests.WithLabelValues(endpoint, strconv.Itoa(sw.code)).Inc()
			m.AckSeconds.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		}
	})
}

// authenticate runs the AuthFunc and answers failures itself.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	cluster, status, reason := s.o.Auth(r)
	if status == 0 {
		return cluster, true
	}
	src := s.o.AuthSources.Label(remoteIP(r))
	if m := s.o.Metrics; m != nil {
		m.AuthFailures.WithLabelValues(src, reason).Inc()
	}
	s.o.Logger.Warn("authentication failed", "remote", remoteIP(r), "path", r.URL.Path, "reason", reason, "status", status)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	httpError(w, status, http.StatusText(status)+": "+reason)
	return "", false
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// errTooLarge is returned by readBody for a body over the limit.
var errTooLarge = errors.New("request body too large")

// readBody reads the request body into a pooled buffer, decompressing
// gzip, and enforces the limit on both the compressed and the
// decompressed size.
func (s *Server) readBody(r *http.Request) (*bytes.Buffer, error) {
	limit := s.o.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	var src io.Reader = io.LimitReader(r.Body, limit+1)
	if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc != "" && enc != "identity" {
		if enc != "gzip" {
			return nil, fmt.Errorf("unsupported Content-Encoding %q (gzip and identity are)", enc)
		}
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, limit+1)
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(src)
	if err != nil {
		s.bufs.Put(buf)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	if n > limit {
		s.bufs.Put(buf)
		return nil, errTooLarge
	}
	return buf, nil
}

func (s *Server) putBody(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		s.bufs.Put(b)
	}
}

// AuditHandler serves POST /k8s_audit and /k8s-audit.
func (s *Server) AuditHandler() http.Handler { return s.instrument("audit", s.audit) }

// begin does what every ingest request starts with: the method, the
// credentials, the server's state and the body. When it returns ok, the
// caller owns body and must give it back with putBody.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, endpoint string) (cluster string, now time.Time, body *bytes.Buffer, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return "", now, nil, false
	}
	if cluster, ok = s.authenticate(w, r); !ok {
		return "", now, nil, false
	}
	if s.o.ShuttingDown != nil && s.o.ShuttingDown() {
		s.unavailable(w, endpoint, "shutting_down", errors.New("shutting down"))
		return "", now, nil, false
	}
	now = s.o.Now()
	body, err := s.readBody(r)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than %d bytes (ingest.max_body_bytes)", s.o.MaxBodyBytes))
		} else {
			httpError(w, http.StatusBadRequest, err.Error())
		}
		return "", now, nil, false
	}
	return cluster, now, body, true
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	cluster, now, body, ok := s.begin(w, r, "audit")
	if !ok {
		return
	}
	defer s.putBody(body)

	enc := s.encs.Get().(*batch.Encoder)
	defer s.encs.Put(enc)
	enc.Reset(batch.Header{Capture: batch.Webhook, Received: now.UnixNano(), Cluster: cluster})
	sum := s.decode(body.Bytes(), cluster, enc)
	m := s.o.Metrics
	if m != nil {
		m.EventsReceived.WithLabelValues(cluster, "webhook").Add(float64(sum.accepted + sum.skipped))
		for reason, n := range sum.reasons {
			m.EventsRejected.WithLabelValues(cluster, "webhook", string(reason)).Add(float64(n))
		}
	}
	if sum.skipped > 0 {
		s.o.Logger.Warn("skipped malformed events", "cluster", cluster, "skipped", sum.skipped,
			"accepted", sum.accepted, "first", sum.errors[0])
	}
	if sum.accepted == 0 && sum.skipped > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(sum.json())
		return
	}
	if sum.accepted > 0 {
		if !s.append(w, "audit", enc.Bytes()) {
			return
		}
		if m != nil {
			m.EventsAccepted.WithLabelValues(cluster, "webhook").Add(float64(sum.accepted))
			m.BatchEvents.Observe(float64(sum.accepted))
			m.Seen(cluster, now)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(sum.json())
}

// append makes a record durable, or answers 503 and returns false.
func (s *Server) append(w http.ResponseWriter, endpoint string, rec []byte) bool {
	ctx, cancel := contextWithTimeout(s.o.AckTimeout)
	defer cancel()
	if err := s.waitBehind(ctx); err != nil {
		s.unavailable(w, endpoint, "overloaded", errors.New("evaluation is behind"))
		return false
	}
	_, _, err := s.o.Log.Append(ctx, rec)
	if err == nil {
		return true
	}
	s.unavailable(w, endpoint, appendReason(err), err)
	return false
}

// waitBehind waits, at most half of ctx's time, while evaluation is
// behind.
func (s *Server) waitBehind(ctx context.Context) error {
	if s.o.Behind == nil || !s.o.Behind() {
		return nil
	}
	deadline, _ := ctx.Deadline()
	limit := time.Now().Add(time.Until(deadline) / 2)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.o.Behind() {
		if time.Now().After(limit) {
			return errors.New("behind")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// appendReason classifies a failed Append for metrics and answers.
func appendReason(err error) string {
	switch {
	case errors.Is(err, wal.ErrFull):
		return "log_full"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, wal.ErrClosed):
		return "shutting_down"
	case errors.Is(err, wal.ErrTooLarge):
		return "record_too_large" // the body limit is below the record limit: a bug
	}
	return "log_error"
}

func (s *Server) unavailable(w http.ResponseWriter, endpoint, reason string, err error) {
	if m := s.o.Metrics; m != nil {
		m.Unavailable.WithLabelValues(endpoint, reason).Inc()
	}
	s.o.Logger.Warn("request not accepted; the sender should retry", "endpoint", endpoint, "reason", reason, "err", err)
	w.Header().Set("Retry-After", strconv.Itoa(int((s.o.RetryAfter+time.Second-1)/time.Second)))
	httpError(w, http.StatusServiceUnavailable, "not accepted, retry later: "+reason)
}

// summary is what a webhook request's events came to.
type summary struct {
	accepted, skipped int
	redacted          int
	reasons           map[audit.Reason]int
	errors            []string
}

func (s *summary) json() []byte {
	b := []byte(`{"accepted":`)
	b = strconv.AppendInt(b, int64(s.accepted), 10)
	b = append(b, `,"skipped":`...)
	b = strconv.AppendInt(b, int64(s.skipped), 10)
	if len(s.errors) > 0 {
		b = append(b, `,"errors":[`...)
		for i, e := range s.errors {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, e)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// decode validates each event of body, redacts it and adds it to enc.
func (s *Server) decode(body []byte, cluster string, enc *batch.Encoder) summary {
	var sum summary
	d := audit.NewBytesDecoder(body, audit.Options{Name: "body", Limits: s.o.Limits})
	var ev audit.Event
	for {
		err := d.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			var de *audit.Error
			if !errors.As(err, &de) {
				// Not a per-item problem: nothing more can be read.
				sum.skipped++
				sum.addReason(audit.ReasonMalformed, err.Error(), s.o.MaxErrors)
				break
			}
			sum.skipped++
			sum.addReason(de.Reason, describe(de), s.o.MaxErrors)
			continue
		}
		raw := ev.Raw
		if !s.o.DisableRedact {
			var red bool
			if raw, red = redact.Event(raw); red {
				sum.redacted++
			}
		}
		enc.Add(raw)
		sum.accepted++
	}
	return sum
}

func (s *summary) addReason(r audit.Reason, msg string, max int) {
	if s.reasons == nil {
		s.reasons = map[audit.Reason]int{}
	}
	s.reasons[r]++
	if len(s.errors) < max {
		s.errors = append(s.errors, msg)
	}
}

// describe renders a skipped event's position and reason, without the
// event's content.
func describe(e *audit.Error) string {
	loc := fmt.Sprintf("line %d (byte %d)", e.Line, e.Offset)
	if e.Item >= 0 {
		loc += fmt.Sprintf(" item %d", e.Item)
	}
	return fmt.Sprintf("%s: %s: %v", loc, e.Reason, e.Err)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
