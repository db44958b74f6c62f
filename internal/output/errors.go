package output

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/journal"
)

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks err as retryable no sooner than d, as a destination's
// Retry-After header asks.
func RetryAfter(err error, d time.Duration) error { return &retryAfterError{err, d} }

// RetryDelay returns the delay asked for by RetryAfter, if any.
func RetryDelay(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// maxErrorBody bounds how much of an error response is kept in messages.
const maxErrorBody = 512

// CheckResponse turns an HTTP response into a Sink error: nil for 2xx;
// retryable for 408, 429 and 5xx (honouring Retry-After, in seconds or as
// an HTTP date); Permanent for everything else. It reads at most a little
// of the body for the message and closes it. The message never includes
// the request, so credentials in the URL or headers cannot leak.
func CheckResponse(resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := strings.TrimSpace(string(b))
	err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	if msg == "" {
		err = fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return RetryAfter(err, d)
		}
		return err
	}
	return Permanent(err)
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, time.Hour), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), time.Hour), true
	}
	return 0, false
}

// Do sends req with client and classifies the outcome with CheckResponse.
// Transport errors (refused, reset, timeout) are retryable, and their
// message names only the scheme and host: a URL can hold a secret (a Slack
// webhook path, an API key in the query).
func Do(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s://%s: %w", req.Method, req.URL.Scheme, req.URL.Host, err)
	}
	return CheckResponse(resp)
}

// SinkOptions are what every sink may need besides its own settings.
type SinkOptions struct {
	Logger   *slog.Logger   // nil = discard
	Hostname string         // this Vigil's host name, for destinations that want one
	UIURL    string         // base URL of Vigil's UI; an alert's link is UIURL + "/alerts/" + ID ("" = no link)
	Location *time.Location // time zone of text timestamps; nil = UTC
}

// withDefaults fills in the nil Logger and Location.
func (o SinkOptions) withDefaults() SinkOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return o
}

type refusedError struct {
	err     error
	refused []*journal.Alert
}

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// Refused is a permanent error for part of a batch: the alerts in refused
// were refused for good, the rest of the batch was delivered. Only the
// refused ones go to the dead-letter file.
func Refused(err error, refused []*journal.Alert) error {
	return Permanent(&refusedError{err, refused})
}

// refusedAlerts returns the alerts of a Refused error, or all of batch.
func refusedAlerts(err error, batch []*journal.Alert) []*journal.Alert {
	var r *refusedError
	if errors.As(err, &r) {
		return r.refused
	}
	return batch
}
