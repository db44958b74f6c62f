package auth

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/config"
)

// tlsRecheck is how often, at most, a handshake re-stats the TLS files.
const tlsRecheck = time.Second

// TLSReloader serves the HTTPS certificate and client CA from files and
// reloads them when the files change, without a restart: a handshake
// re-stats the files at most once a second. A reload that fails (a
// half-written or corrupt file, a key that does not match) keeps the
// previous good certificate and CA and is logged once per distinct error.
type TLSReloader struct {
	files  [3]string // cert_file, key_file, client_ca_file ("" if none)
	logger *slog.Logger
	now    func() time.Time // the clock; tests replace it

	cur atomic.Pointer[tlsMaterial] // the last good material; read by every handshake

	mu        sync.Mutex // guards lastCheck and lastErr; held by one checker at a time
	lastCheck time.Time  // when the files were last stat'ed
	lastErr   string     // the last reload error logged, to log each only once
}

// tlsMaterial is one loaded certificate and CA, as an immutable server
// config, with the file stamps it was loaded from.
type tlsMaterial struct {
	cfg    *tls.Config
	stamps [3]os.FileInfo // nil for a file that is not configured
}

const (
	certIdx = iota
	keyIdx
	caIdx
)

// NewTLS loads the certificate, key and client CA (if configured). Its
// errors name the bad file. A nil logger discards.
func NewTLS(c config.TLS, logger *slog.Logger) (*TLSReloader, error) {
	return newTLS(c, logger, time.Now)
}

func newTLS(c config.TLS, logger *slog.Logger, now func() time.Time) (*TLSReloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("tls: cert_file and key_file are required")
	}
	t := &TLSReloader{files: [3]string{c.CertFile, c.KeyFile, c.ClientCAFile}, logger: logger, now: now}
	stamps, err := t.stat()
	if err != nil {
		return nil, err
	}
	m, err := t.load(stamps)
	if err != nil {
		return nil, err
	}
	t.cur.Store(m)
	t.lastCheck = now()
	return t, nil
}

// Config returns the server TLS configuration: TLS 1.2 or later, the
// current certificate, and, when a client CA is configured, client
// certificates verified against it if given (ClientAuth
// VerifyClientCertIfGiven), so that clients with bearer tokens need none.
// Each handshake gets the current material through GetConfigForClient.
//
// The handshake config offers ALPN "h2" and "http/1.1", as a net/http
// server does by default; to offer something else, set NextProtos on the
// returned Config before the server starts.
func (t *TLSReloader) Config() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.files[caIdx] != "" {
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := t.current()
		// c itself, never the copy that http.Server makes of it: the
		// server adds its ALPN to the copy.
		if c.NextProtos != nil {
			cfg = cfg.Clone()
			cfg.NextProtos = c.NextProtos
		}
		return cfg, nil
	}
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return &t.current().Certificates[0], nil
	}
	return c
}

// Reload re-reads the files now, whether or not they changed. On error it
// keeps the previous material and returns the error without logging it.
func (t *TLSReloader) Reload() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastCheck = t.now()
	stamps, err := t.stat()
	if err == nil {
		err = t.reloadLocked(stamps)
	}
	if err != nil {
		return err
	}
	t.lastErr = ""
	return nil
}

// current returns the config for a handshake, first reloading the files if
// they changed and were last checked a second or more ago.
func (t *TLSReloader) current() *tls.Config {
	t.check()
	return t.cur.Load().cfg
}

func (t *TLSReloader) check() {
	// A handshake never waits for another handshake's check: the material
	// it has is at most a second old anyway.
	if !t.mu.TryLock() {
		return
	}
	defer t.mu.Unlock()
	now := t.now()
	if now.Sub(t.lastCheck) < tlsRecheck {
		return
	}
	t.lastCheck = now
	stamps, err := t.stat()
	if err == nil {
		if sameStamps(stamps, t.cur.Load().stamps) {
			return
		}
		err = t.reloadLocked(stamps)
	}
	if err != nil {
		// Retried every second until the files are good, logged once.
		if err.Error() != t.lastErr {
			t.logger.Error("tls reload failed; keeping the previous certificate and client CA", "err", err)
			t.lastErr = err.Error()
		}
		return
	}
	t.lastErr = ""
}

// reloadLocked loads the files and swaps in the new material. t.mu is held.
func (t *TLSReloader) reloadLocked(stamps [3]os.FileInfo) error {
	m, err := t.load(stamps)
	if err != nil {
		return err
	}
	t.cur.Store(m)
	leaf := m.cfg.Certificates[0].Leaf
	t.logger.Info("tls certificate and client CA reloaded",
		"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	return nil
}

// stat stamps each configured file. It is called before the files are read,
// so a change during the read shows at the next check.
func (t *TLSReloader) stat() ([3]os.FileInfo, error) {
	var st [3]os.FileInfo
	for i, f := range t.files {
		if f == "" {
			continue
		}
		fi, err := os.Stat(f)
		if err != nil {
			return st, fmt.Errorf("tls: %w", err)
		}
		st[i] = fi
	}
	return st, nil
}

// sameStamps reports whether no file changed: same file (inode), size and
// modification time.
func sameStamps(a, b [3]os.FileInfo) bool {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) {
			return false
		}
		if a[i] == nil {
			continue
		}
		if !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}

// load reads and checks the files into a server config.
func (t *TLSReloader) load(stamps [3]os.FileInfo) (*tlsMaterial, error) {
	cert, err := tls.LoadX509KeyPair(t.files[certIdx], t.files[keyIdx])
	if err != nil {
		return nil, fmt.Errorf("tls: load cert_file %s and key_file %s: %w", t.files[certIdx], t.files[keyIdx], err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: cert_file %s: %w", t.files[certIdx], err)
		}
	}
	if now := t.now(); now.After(cert.Leaf.NotAfter) {
		t.logger.Warn("the tls certificate has expired", "file", t.files[certIdx], "not_after", cert.Leaf.NotAfter)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"}, // what net/http offers by default
	}
	if f := t.files[caIdx]; f != "" {
		pool, err := loadCAs(f)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return &tlsMaterial{cfg: cfg, stamps: stamps}, nil
}

// loadCAs reads a PEM bundle of CA certificates. Unlike
// CertPool.AppendCertsFromPEM it refuses a bundle with a bad certificate
// or none at all.
func loadCAs(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: read client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: client_ca_file %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("tls: client_ca_file %s: no PEM certificates", path)
	}
	return pool, nil
}
