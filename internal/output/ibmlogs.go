package output

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// IBM Cloud Logs defaults; see config.IBMLogsOutput.
const (
	ibmPath             = "/logs/v1/singles"
	ibmDefaultIAMURL    = "https://iam.cloud.ibm.com/identity/token"
	ibmDefaultApp       = "vigil"
	ibmDefaultSubsystem = "k8s-audit"
	ibmGrantType        = "urn:ibm:params:oauth:grant-type:apikey"
	// ibmRefreshMin: a token is renewed when less than the larger of 10%
	// of its lifetime and ibmRefreshMin (but at most half of its lifetime)
	// is left: 6 minutes before an hour-long IAM token expires.
	ibmRefreshMin = 5 * time.Minute
)

// errIBMToken: the token endpoint answered 2xx without a usable token.
var errIBMToken = errors.New("iam token response has no access_token")

// IBMLogs is a sink that sends alerts to IBM Cloud Logs' singles API, one
// log entry per alert, in as few requests as the size bound allows. It
// exchanges the API key for an IAM access token, caches it and renews it
// before it expires; an ingress 401 renews it once and resends the same
// request. Requests are sent in order; when one fails, Send returns its
// error and the Dispatcher sends the whole batch again (at least once).
type IBMLogs struct {
	url       string // …/logs/v1/singles
	iamURL    string
	apiKey    string
	app       string
	subsystem string // "" = the alert's cluster
	computer  string // "" = the alert's hostname
	format    Format
	maxReq    int
	hostname  string // the alerts' fallback hostname
	uiURL     string
	loc       *time.Location
	logger    *slog.Logger
	client    *http.Client
	now       func() time.Time
	truncated atomic.Int64 // alerts cut to fit so far

	tmu       sync.Mutex // guards token, refreshAt and expiry
	token     string     // the IAM access token; "" = none yet
	refreshAt time.Time  // renew from then on
	expiry    time.Time  // unusable from then on

	mu  sync.Mutex // guards buf: Send
	buf []byte
}

// NewIBMLogs returns an IBM Cloud Logs sink. It reads api_key_file but
// does not connect: the first Send gets a token.
func NewIBMLogs(c config.IBMLogsOutput, o SinkOptions) (*IBMLogs, error) {
	o = o.withDefaults()
	s := &IBMLogs{
		app:       c.ApplicationName,
		subsystem: c.SubsystemName,
		computer:  c.ComputerName,
		maxReq:    int(c.MaxRequestBytes),
		hostname:  o.Hostname,
		uiURL:     strings.TrimSuffix(o.UIURL, "/"),
		loc:       o.Location,
		logger:    o.Logger,
		client:    saasClient(),
		now:       time.Now,
	}
	if s.app == "" {
		s.app = ibmDefaultApp
	}
	if s.maxReq <= 0 {
		s.maxReq = config.IBMLogsMaxRequestBytes
	}
	var err error
	if s.format, err = ParseFormat(c.Format); err != nil {
		return nil, err
	}
	if s.apiKey, err = saasSecret("ibm_cloud_logs api_key", c.APIKey, c.APIKeyFile); err != nil {
		return nil, err
	}
	base := c.Endpoint
	if base == "" {
		if c.InstanceID == "" || c.Region == "" {
			return nil, errors.New("ibm_cloud_logs: set endpoint, or instance_id and region")
		}
		base = "https://" + c.InstanceID + ".ingress." + c.Region + ".logs.cloud.ibm.com"
	}
	if s.url, err = saasEndpoint("ibm_cloud_logs endpoint", base, ibmPath); err != nil {
		return nil, err
	}
	s.iamURL = c.IAMURL
	if s.iamURL == "" {
		s.iamURL = ibmDefaultIAMURL
	}
	if err := config.CheckSinkURL(s.iamURL); err != nil {
		return nil, fmt.Errorf("ibm_cloud_logs iam_url: %w", err)
	}
	return s, nil
}

// Truncated returns how many alerts were cut to fit a request.
func (s *IBMLogs) Truncated() int64 { return s.truncated.Load() }

// Close implements Sink.
func (s *IBMLogs) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Send implements Sink.
func (s *IBMLogs) Send(ctx context.Context, alerts []*journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.maxReq - 2 // the array's brackets
	s.buf = append(s.buf[:0], '[')
	n := 0 // entries in buf
	var entry []byte
	for _, a := range alerts {
		var err error
		if entry, err = s.appendFitting(entry[:0], a, room); err != nil {
			return err
		}
		if n > 0 && len(s.buf)-1+1+len(entry) > room {
			if err := s.postLocked(ctx); err != nil {
				return err
			}
			s.buf, n = append(s.buf[:0], '['), 0
		}
		if n > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, entry...)
		n++
	}
	return s.postLocked(ctx)
}

// postLocked sends the array in buf, closing it first. An ingress 401
// renews the token once and sends the request again.
func (s *IBMLogs) postLocked(ctx context.Context) error {
	s.buf = append(s.buf, ']')
	var stale string
	for attempt := 0; ; attempt++ {
		tok, err := s.accessToken(ctx, stale)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf))
		if err != nil {
			return Permanent(fmt.Errorf("ibm_cloud_logs request: %w", err))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", saasUserAgent)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := s.client.Do(req)
		if err != nil {
			return saasScrub(fmt.Errorf("ibm_cloud_logs ingest: %w", saasTransportError(req, err)), s.apiKey, tok)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			stale = tok
			continue
		}
		if err := CheckResponse(resp); err != nil {
			return saasScrub(fmt.Errorf("ibm_cloud_logs ingest: %w", err), s.apiKey, tok)
		}
		return nil
	}
}

// accessToken returns the cached token, or a new one when the cached one
// is due for renewal or is stale (refused by the ingress). When renewal
// fails but the cached token has not expired, the cached one is used.
func (s *IBMLogs) accessToken(ctx context.Context, stale string) (string, error) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	now := s.now()
	if s.token != "" && s.token != stale && now.Before(s.refreshAt) {
		return s.token, nil
	}
	tok, lifetime, err := s.fetchToken(ctx)
	if err != nil {
		if s.token != "" && stale == "" && now.Before(s.expiry) {
			s.logger.Warn("iam token renewal failed; using the current token until it expires", "err", err, "expires_in", s.expiry.Sub(now).Round(time.Second).String())
			return s.token, nil
		}
		s.token = ""
		return "", err
	}
	now = s.now()
	margin := max(lifetime/10, min(ibmRefreshMin, lifetime/2))
	s.token, s.expiry, s.refreshAt = tok, now.Add(lifetime), now.Add(lifetime-margin)
	s.logger.Debug("iam token renewed", "expires_in", lifetime.String())
	return tok, nil
}

// ibmTokenResponse is IAM's answer to a token request.
type ibmTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"` // seconds
	Expiration  int64  `json:"expiration"` // Unix seconds
}

// fetchToken exchanges the API key for an access token and its lifetime.
// IAM's 400 (an unknown or disabled API key) and other 4xx are permanent;
// 429 and 5xx are retryable.
func (s *IBMLogs) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {ibmGrantType}, "apikey": {s.apiKey}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.iamURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, Permanent(errors.New("iam token request: invalid iam_url"))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", saasUserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return "", 0, saasScrub(fmt.Errorf("iam token: %w", saasTransportError(req, err)), s.apiKey)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", 0, saasScrub(fmt.Errorf("iam token: %w", CheckResponse(resp)), s.apiKey)
	}
	defer resp.Body.Close()
	var tr ibmTokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil {
		return "", 0, fmt.Errorf("iam token: decode response: %w", saasScrub(err, s.apiKey))
	}
	if tr.AccessToken == "" {
		return "", 0, errIBMToken
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, Permanent(fmt.Errorf("iam token: token_type %q, expected Bearer", tr.TokenType))
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if tr.ExpiresIn <= 0 && tr.Expiration > 0 {
		lifetime = time.Unix(tr.Expiration, 0).Sub(s.now())
	}
	return tr.AccessToken, max(lifetime, 0), nil
}

// saasTransportError strips the URL from a client error, as Do does.
func saasTransportError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s %s://%s: %w", req.Method, req.URL.Scheme, req.URL.Host, err)
}

// appendFitting appends a's entry, its values cut until it fits room.
func (s *IBMLogs) appendFitting(dst []byte, a *journal.Alert, room int) ([]byte, error) {
	start := len(dst)
	dst = s.appendEntry(dst, a, false)
	if len(dst)-start <= room {
		return dst, nil
	}
	s.truncated.Add(1)
	s.logger.Warn("alert cut to fit ibm cloud logs' request bound", "alert_id", a.ID, "entry_bytes", len(dst)-start)
	for limit := room / 2; limit >= 64; limit /= 2 {
		dst = s.appendEntry(dst[:start], saasShrink(a, limit), true)
		if len(dst)-start <= room {
			return dst, nil
		}
	}
	return dst[:start], Permanent(fmt.Errorf("ibm_cloud_logs: alert %s does not fit in %d bytes", a.ID, room))
}

// appendEntry appends a's log entry.
func (s *IBMLogs) appendEntry(dst []byte, a *journal.Alert, truncated bool) []byte {
	sub := s.subsystem
	if sub == "" {
		sub = a.Cluster
	}
	if sub == "" {
		sub = ibmDefaultSubsystem
	}
	computer := s.computer
	if computer == "" {
		computer = saasHostname(a, s.hostname)
	}
	dst = append(dst, `{"applicationName":`...)
	dst = saasAppendString(dst, []byte(s.app))
	dst = append(dst, `,"subsystemName":`...)
	dst = saasAppendString(dst, []byte(sub))
	if computer != "" {
		dst = append(dst, `,"computerName":`...)
		dst = saasAppendString(dst, []byte(computer))
	}
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendInt(dst, int64(ibmSeverity(a.Alert.Priority)), 10)
	dst = append(dst, `,"text":`...)
	if s.format == Text {
		dst = saasAppendString(dst, alert.AppendText(nil, &a.Alert, s.loc))
	} else {
		dst = s.appendJSONText(dst, a, truncated)
	}
	dst = append(dst, `,"timestamp":`...)
	dst = strconv.AppendInt(dst, a.Alert.Time/int64(time.Millisecond), 10)
	dst = append(dst, `,"hiResTimestamp":"`...)
	dst = strconv.AppendInt(dst, a.Alert.Time, 10)
	return append(dst, `"}`...)
}

// appendJSONText appends Falco's JSON alert object with a last member,
// "vigil", holding what Vigil knows beyond Falco's alert.
func (s *IBMLogs) appendJSONText(dst []byte, a *journal.Alert, truncated bool) []byte {
	dst = alert.AppendJSON(dst, &a.Alert, s.loc)
	dst = dst[:len(dst)-1] // the closing brace
	dst = append(dst, `,"vigil":{"alert_id":`...)
	dst = saasAppendString(dst, []byte(a.ID))
	dst = append(dst, `,"audit_id":`...)
	dst = saasAppendString(dst, []byte(a.AuditID))
	dst = append(dst, `,"capture":`...)
	dst = saasAppendString(dst, []byte(a.Capture))
	dst = append(dst, `,"cluster":`...)
	dst = saasAppendString(dst, []byte(a.Cluster))
	if truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	if s.uiURL != "" && a.ID != "" {
		dst = append(dst, `,"url":`...)
		dst = saasAppendString(dst, []byte(s.uiURL+"/alerts/"+a.ID))
	}
	return append(dst, "}}"...)
}

// ibmSeverity maps a priority to IBM Cloud Logs' severities: 1 Debug,
// 2 Verbose, 3 Info, 4 Warn, 5 Error, 6 Critical.
func ibmSeverity(p alert.Priority) int {
	switch p {
	case alert.PriorityEmergency, alert.PriorityAlert, alert.PriorityCritical:
		return 6
	case alert.PriorityError:
		return 5
	case alert.PriorityWarning:
		return 4
	case alert.PriorityNotice, alert.PriorityInformational:
		return 3
	}
	return 1
}
