package output

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// Secrets planted in the configuration and in the audit event; none may
// reach the wire (except a config secret in its own header) or an error.
const (
	httpTestEventSecret = "c3VwZXJzZWNyZXQtZXZlbnQtZGF0YQ" // a Secret's data in the event
	httpTestPassword    = "pw-5ecret-basic"
	httpTestToken       = "tok-5ecret-bearer"
	httpTestHeaderKey   = "hdr-5ecret-apikey"
	httpTestPathToken   = "T0KEN1NPATH"
)

// httpTestAlert is a k8s_audit alert whose event holds a Secret's data.
func httpTestAlert(id, user string) *journal.Alert {
	return &journal.Alert{
		ID: id,
		Alert: alert.Alert{
			Time: 1700000000123456789, Rule: "Disallowed K8s User", Priority: alert.PriorityWarning, Source: "k8s_audit",
			Tags: []string{"k8s"}, Hostname: "vigil-0",
			Message: "K8s Operation performed by user not in allowed list of users (user=" + user + " target=kube-system/db/secrets verb=get uri=/api/v1/namespaces/kube-system/secrets/db resp=200)",
			Fields: []alert.Field{
				{Key: "ka.response.code", Values: []string{"200"}},
				{Key: "ka.target.name", Values: []string{"db"}},
				{Key: "ka.user.name", Values: []string{user}},
				{Key: "ka.verb", Values: []string{"get"}},
			},
		},
		Cluster: "prod", Capture: "webhook", AuditID: "a-1", Stage: "ResponseComplete",
		Event: []byte(`{"kind":"Event","verb":"get","user":{"username":"` + user + `","groups":["system:authenticated"]},` +
			`"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.31","objectRef":{"resource":"secrets","namespace":"kube-system","name":"db"},` +
			`"responseStatus":{"code":200},"responseObject":{"kind":"Secret","data":{"password":"` + httpTestEventSecret + `"}}}`),
	}
}

// httpRequest is what a test server received.
type httpRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// httpRecorder is a test receiver that answers with the next status of
// its script (then 200), recording every request.
type httpRecorder struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter) // one per request, then 200 OK
	reqs   []httpRequest
}

func (h *httpRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, httpRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
	var answer func(http.ResponseWriter)
	if len(h.script) > 0 {
		answer, h.script = h.script[0], h.script[1:]
	}
	h.mu.Unlock()
	if answer != nil {
		answer(w)
		return
	}
	io.WriteString(w, "ok")
}

func (h *httpRecorder) requests() []httpRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]httpRequest(nil), h.reqs...)
}

func httpStatus(code int, body string, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// httpAssertNoSecret fails if any secret appears in what was sent or said.
func httpAssertNoSecret(t *testing.T, what string, data []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && bytes.Contains(data, []byte(s)) {
			t.Errorf("%s leaks secret %q:\n%s", what, s, data)
		}
	}
}

func TestHTTPFalcoWire(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	alerts := []*journal.Alert{httpTestAlert("1", "alice"), httpTestAlert("2", "eve\n\"quoted\"")}
	tests := []struct {
		name       string
		cfg        config.HTTPOutput
		wantType   string
		wantUA     string
		wantAuth   string            // Authorization header
		wantHeader map[string]string // further headers
		body       func(a *journal.Alert) []byte
	}{{
		name:     "json as Falco",
		cfg:      config.HTTPOutput{},
		wantType: "application/json", wantUA: "falcosecurity/falco",
		body: func(a *journal.Alert) []byte { return alert.AppendJSON(nil, &a.Alert, loc) },
	}, {
		name:     "text as Falco",
		cfg:      config.HTTPOutput{Format: "text", UserAgent: "vigil/1"},
		wantType: "text/plain", wantUA: "vigil/1",
		body: func(a *journal.Alert) []byte { return alert.AppendText(nil, &a.Alert, loc) },
	}, {
		name: "basic auth and headers",
		cfg: config.HTTPOutput{
			BasicAuth: &config.HTTPBasicAuth{Username: "vigil", Password: httpTestPassword},
			Headers:   map[string]config.Secret{"x-api-key": httpTestHeaderKey, "X-Team": "sec"},
		},
		wantType: "application/json", wantUA: "falcosecurity/falco",
		wantAuth:   "Basic " + base64.StdEncoding.EncodeToString([]byte("vigil:"+httpTestPassword)),
		wantHeader: map[string]string{"X-Api-Key": httpTestHeaderKey, "X-Team": "sec"},
		body:       func(a *journal.Alert) []byte { return alert.AppendJSON(nil, &a.Alert, loc) },
	}, {
		name:     "bearer token",
		cfg:      config.HTTPOutput{BearerToken: httpTestToken},
		wantType: "application/json", wantUA: "falcosecurity/falco",
		wantAuth: "Bearer " + httpTestToken,
		body:     func(a *journal.Alert) []byte { return alert.AppendJSON(nil, &a.Alert, loc) },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &httpRecorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			tc.cfg.URL = srv.URL + "/falco/" + httpTestPathToken + "?x=1"
			s, err := NewHTTP(tc.cfg, SinkOptions{Location: loc})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Send(context.Background(), alerts); err != nil {
				t.Fatal(err)
			}
			reqs := rec.requests()
			if len(reqs) != len(alerts) {
				t.Fatalf("got %d requests, want one per alert (%d)", len(reqs), len(alerts))
			}
			for i, r := range reqs {
				want := tc.body(alerts[i])
				if !bytes.Equal(r.body, want) {
					t.Errorf("request %d body:\n got %s\nwant %s", i, r.body, want)
				}
				if bytes.HasSuffix(r.body, []byte("\n")) {
					t.Errorf("request %d body ends with a newline; Falco sends none", i)
				}
				if r.method != http.MethodPost || r.path != "/falco/"+httpTestPathToken {
					t.Errorf("request %d: %s %s", i, r.method, r.path)
				}
				checks := map[string]string{"Content-Type": tc.wantType, "User-Agent": tc.wantUA, "Accept": "*/*", "Authorization": tc.wantAuth,
					"Content-Length": fmt.Sprint(len(want))}
				for k, v := range tc.wantHeader {
					checks[k] = v
				}
				for k, v := range checks {
					if got := r.header.Get(k); got != v {
						t.Errorf("request %d header %s = %q, want %q", i, k, got, v)
					}
				}
				// Config secrets only in their own header; event secrets nowhere.
				httpAssertNoSecret(t, "body", r.body, httpTestEventSecret, httpTestPassword, httpTestToken, httpTestHeaderKey)
				for k, vs := range r.header {
					if k == "Authorization" || k == "X-Api-Key" {
						continue
					}
					httpAssertNoSecret(t, "header "+k, []byte(strings.Join(vs, " ")), httpTestEventSecret, httpTestPassword, httpTestToken, httpTestHeaderKey)
				}
			}
		})
	}
}

func TestHTTPSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rec := &httpRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s, err := NewHTTP(config.HTTPOutput{URL: srv.URL, BearerTokenFile: write("tok", httpTestToken+"\n"),
		HeaderFiles: map[string]string{"X-Key": write("key", httpTestHeaderKey)}}, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []*journal.Alert{httpTestAlert("1", "a")}); err != nil {
		t.Fatal(err)
	}
	h := rec.requests()[0].header
	if h.Get("Authorization") != "Bearer "+httpTestToken || h.Get("X-Key") != httpTestHeaderKey {
		t.Errorf("headers from files: %v", h)
	}
	_, err = NewHTTP(config.HTTPOutput{URL: srv.URL, BearerTokenFile: write("two", "a\nb")}, SinkOptions{})
	if err == nil || !strings.Contains(err.Error(), "more than one line") {
		t.Errorf("two-line token file: %v", err)
	}
}

func TestHTTPNDJSON(t *testing.T) {
	var alerts []*journal.Alert
	for i := range 7 {
		alerts = append(alerts, httpTestAlert(fmt.Sprint(i), fmt.Sprintf("user%d", i)))
	}
	big := httpTestAlert("big", strings.Repeat("x", 3000)) // alone over the limit
	alerts = append(alerts[:3], append([]*journal.Alert{big}, alerts[3:]...)...)
	line := len(alert.AppendJSON(nil, &alerts[0].Alert, time.UTC)) + 1
	max := 3*line + line/2 // three lines per request

	rec := &httpRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s, err := NewHTTP(config.HTTPOutput{URL: srv.URL, Batch: "ndjson", MaxBatchBytes: config.Size(max)}, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), alerts)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "alert big") || !strings.Contains(err.Error(), "1 of 8 alerts refused") {
		t.Fatalf("Send = %v, want a permanent error naming alert big", err)
	}
	var all []byte
	reqs := rec.requests()
	if len(reqs) != 3 {
		t.Errorf("got %d requests, want 3 (3+3+1 lines)", len(reqs))
	}
	for i, r := range reqs {
		if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("request %d Content-Type %q", i, ct)
		}
		if len(r.body) > max || !bytes.HasSuffix(r.body, []byte("\n")) {
			t.Errorf("request %d: %d bytes (max %d), newline-terminated %v", i, len(r.body), max, bytes.HasSuffix(r.body, []byte("\n")))
		}
		all = append(all, r.body...)
	}
	var want []byte
	for _, a := range alerts {
		if a != big {
			want = append(append(want, alert.AppendJSON(nil, &a.Alert, time.UTC)...), '\n')
		}
	}
	if !bytes.Equal(all, want) {
		t.Errorf("bodies:\n got %s\nwant %s", all, want)
	}
	httpAssertNoSecret(t, "bodies", all, httpTestEventSecret)
}

func TestHTTPErrors(t *testing.T) {
	secrets := []string{httpTestPassword, httpTestToken, httpTestHeaderKey, httpTestPathToken, httpTestEventSecret}
	tests := []struct {
		name      string
		answer    func(http.ResponseWriter)
		permanent bool
		delay     time.Duration // Retry-After; 0 = none
		msg       string
	}{
		{"429 with Retry-After", httpStatus(429, "slow down", "Retry-After", "7"), false, 7 * time.Second, "HTTP 429: slow down"},
		{"500", httpStatus(500, ""), false, 0, "HTTP 500 Internal Server Error"},
		{"503 with Retry-After", httpStatus(503, "maintenance", "Retry-After", "2"), false, 2 * time.Second, "HTTP 503: maintenance"},
		{"400", httpStatus(400, "bad alert"), true, 0, "HTTP 400: bad alert"},
		{"401", httpStatus(401, ""), true, 0, "HTTP 401 Unauthorized"},
		{"redirect is not followed", httpStatus(302, "", "Location", "http://example.invalid/"), true, 0, "HTTP 302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &httpRecorder{script: []func(http.ResponseWriter){tc.answer}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			s, err := NewHTTP(config.HTTPOutput{URL: srv.URL + "/in/" + httpTestPathToken + "?key=" + httpTestPathToken,
				BasicAuth: &config.HTTPBasicAuth{Username: "u", Password: httpTestPassword},
				Headers:   map[string]config.Secret{"X-Key": httpTestHeaderKey}}, SinkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), []*journal.Alert{httpTestAlert("a1", "bob")})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v: %v", IsPermanent(err), tc.permanent, err)
			}
			d, ok := RetryDelay(err)
			if ok != (tc.delay > 0) || d != tc.delay {
				t.Errorf("RetryDelay = %v %v, want %v", d, ok, tc.delay)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "a1") {
				t.Errorf("error %q does not say %q for alert a1", err, tc.msg)
			}
			httpAssertNoSecret(t, "error", []byte(err.Error()), secrets...)
			if n := len(rec.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no redirect followed, no retry in the sink)", n)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, err := NewHTTP(config.HTTPOutput{URL: "http://" + addr + "/" + httpTestPathToken, BearerToken: httpTestToken}, SinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), []*journal.Alert{httpTestAlert("a1", "bob")})
		if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Send = %v, want a retryable connection refused", err)
		}
		httpAssertNoSecret(t, "error", []byte(err.Error()), secrets...)
	})
}

// A batch that fails half-way is retried by the Dispatcher with the same
// alerts: what was delivered is not sent again.
func TestHTTPRetryResumes(t *testing.T) {
	alerts := []*journal.Alert{httpTestAlert("1", "a"), httpTestAlert("2", "b"), httpTestAlert("3", "c"), httpTestAlert("4", "d")}
	rec := &httpRecorder{script: []func(http.ResponseWriter){
		nil,                        // 1 delivered
		httpStatus(503, "down"),    // 2 fails: retry later
		nil,                        // 2 delivered
		httpStatus(400, "refused"), // 3 refused for good
		nil,                        // 4 delivered
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s, err := NewHTTP(config.HTTPOutput{URL: srv.URL}, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), alerts)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "alert 2") {
		t.Fatalf("first attempt: %v", err)
	}
	err = s.Send(context.Background(), alerts)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "1 of 4 alerts refused (alert 3)") {
		t.Fatalf("second attempt: %v", err)
	}
	var users []string
	for _, r := range rec.requests() {
		users = append(users, string(r.body[bytes.Index(r.body, []byte("user="))+5:][:1]))
	}
	if got := strings.Join(users, ""); got != "abbcd" {
		t.Errorf("posted users %q, want abbcd (each alert once, the failed one again)", got)
	}
	// A new batch starts afresh.
	if err := s.Send(context.Background(), alerts[:1]); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.requests()); n != 6 {
		t.Errorf("%d requests, want 6", n)
	}
}

func TestHTTPMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := httpTestCert(t, nil, nil, "test CA", true)
	srvCert, srvKey := httpTestCert(t, ca, caKey, "127.0.0.1", false)
	cliCert, cliKey := httpTestCert(t, ca, caKey, "vigil", false)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	certFile := write("client.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cliCert.Raw})
	keyFile := write("client.key", httpTestKeyPEM(t, cliKey))

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	rec := &httpRecorder{}
	var peer string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer = r.TLS.PeerCertificates[0].Subject.CommonName
		rec.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
	}
	srv.StartTLS()
	defer srv.Close()

	a := httpTestAlert("1", "alice")
	s, err := NewHTTP(config.HTTPOutput{URL: srv.URL, TLS: config.HTTPTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}}, SinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), []*journal.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if peer != "vigil" || !bytes.Equal(rec.requests()[0].body, alert.AppendJSON(nil, &a.Alert, time.UTC)) {
		t.Errorf("peer %q, body %s", peer, rec.requests()[0].body)
	}

	// Without the client certificate the server refuses the handshake;
	// without the CA the client refuses the server.
	for name, tc := range map[string]config.HTTPTLS{"no client cert": {CAFile: caFile}, "unknown CA": {CertFile: certFile, KeyFile: keyFile}} {
		s, err := NewHTTP(config.HTTPOutput{URL: srv.URL, TLS: tc}, SinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), []*journal.Alert{a}); err == nil {
			t.Errorf("%s: Send succeeded", name)
		}
	}
	if _, err := NewHTTP(config.HTTPOutput{URL: srv.URL, TLS: config.HTTPTLS{CAFile: filepath.Join(dir, "missing.pem")}}, SinkOptions{}); err == nil {
		t.Error("missing ca_file accepted")
	}
}

func httpTestCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func httpTestKeyPEM(t *testing.T, k *ecdsa.PrivateKey) *pem.Block {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
}
