package auth

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/config"
)

// rewrite replaces the content of path in place, as `cp` does, and gives
// it a modification time of its own: two writes within one tick of the
// kernel's coarse clock may otherwise share a size and an mtime.
func rewrite(t *testing.T, path string, data []byte, clk *fakeClock) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	mt := clk.Now().Add(time.Duration(len(data)) * time.Millisecond)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// replace swaps path for a new file with data by rename, as a Kubernetes
// secret volume does.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestTLSRotation(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "server CA")
	certA, keyA := ca.server(t, "a")
	certB, keyB := ca.server(t, "b")
	certC, keyC := ca.server(t, "c")
	cf, kf := writeFile(t, dir, "tls.crt", certA), writeFile(t, dir, "tls.key", keyA)
	clk := newFakeClock()
	var logs syncBuffer
	tr, err := newTLS(config.TLS{CertFile: cf, KeyFile: kf}, bufferLogger(&logs), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(config.Auth{AllowUnauthenticated: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, a, tr).Listener.Addr().String()
	pool := ca.pool()
	steps := []struct {
		name    string
		write   func()        // changes the files, or nil
		advance time.Duration // then moves the clock
		want    []byte        // the certificate the next handshake must present
		log     string        // a line the logs must have after the step
	}{
		{name: "initial", want: certA},
		{
			name:  "rewritten, checked less than a second ago",
			write: func() { rewrite(t, cf, certB, clk); rewrite(t, kf, keyB, clk) },
			want:  certA,
		},
		{name: "a second later", advance: 1100 * time.Millisecond, want: certB, log: `msg="tls certificate and client CA reloaded" subject="CN=b"`},
		{
			name: "corrupt certificate",
			write: func() {
				rewrite(t, cf, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"), clk)
			},
			advance: 1100 * time.Millisecond,
			want:    certB,
			log:     `msg="tls reload failed; keeping the previous certificate and client CA"`,
		},
		{name: "still corrupt", advance: 1100 * time.Millisecond, want: certB},
		{
			name:    "certificate and key do not match",
			write:   func() { rewrite(t, cf, certC, clk) },
			advance: 1100 * time.Millisecond,
			want:    certB,
			log:     "private key does not match public key",
		},
		{
			name:    "key follows",
			write:   func() { rewrite(t, kf, keyC, clk) },
			advance: 1100 * time.Millisecond,
			want:    certC,
			log:     `subject="CN=c"`,
		},
		{
			name:    "files removed",
			write:   func() { os.Remove(cf); os.Remove(kf) },
			advance: 1100 * time.Millisecond,
			want:    certC,
			log:     "no such file or directory",
		},
		{
			name:    "replaced by rename",
			write:   func() { replace(t, cf, certA); replace(t, kf, keyA) },
			advance: 1100 * time.Millisecond,
			want:    certA,
			log:     `subject="CN=a"`,
		},
	}
	for _, st := range steps {
		if st.write != nil {
			st.write()
		}
		clk.Advance(st.advance)
		if got, want := handshake(t, addr, pool), serialOf(t, st.want); got != want {
			t.Errorf("%s: the server presented serial %s, want %s", st.name, got, want)
		}
		if !strings.Contains(logs.String(), st.log) {
			t.Errorf("%s: logs lack %q:\n%s", st.name, st.log, logs.String())
		}
	}
	// Each failure is logged once however often it is retried.
	if n := strings.Count(logs.String(), "x509: malformed certificate"); n != 1 {
		t.Errorf("the corrupt certificate was logged %d times, want 1:\n%s", n, logs.String())
	}
	assertNoSecret(t, logs.String(), pemBody(keyA), pemBody(keyB), pemBody(keyC))
}

// pemBody returns the first base64 line of a PEM block.
func pemBody(p []byte) string {
	return strings.Split(string(p), "\n")[1]
}

func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "server CA")
	certA, keyA := ca.server(t, "a")
	certB, keyB := ca.server(t, "b")
	cf, kf := writeFile(t, dir, "tls.crt", certA), writeFile(t, dir, "tls.key", keyA)
	clk := newFakeClock()
	tr, err := newTLS(config.TLS{CertFile: cf, KeyFile: kf}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	serialNow := func() string { return tr.cur.Load().cfg.Certificates[0].Leaf.SerialNumber.String() }
	writeFile(t, dir, "tls.key", keyB)
	if err := tr.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Errorf("Reload with a mismatched key: got %v", err)
	}
	if got, want := serialNow(), serialOf(t, certA); got != want {
		t.Errorf("after a failed Reload: serial %s, want %s", got, want)
	}
	writeFile(t, dir, "tls.crt", certB)
	if err := tr.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := serialNow(), serialOf(t, certB); got != want {
		t.Errorf("after Reload: serial %s, want %s", got, want)
	}
}

func TestClientCARotation(t *testing.T) {
	dir := t.TempDir()
	serverCA, oldCA, nextCA := newCA(t, "server CA"), newCA(t, "old client CA"), newCA(t, "new client CA")
	c, k := serverCA.server(t, "vigil")
	caFile := writeFile(t, dir, "ca.crt", oldCA.pem)
	clk := newFakeClock()
	var logs syncBuffer
	tr, err := newTLS(config.TLS{
		CertFile:     writeFile(t, dir, "tls.crt", c),
		KeyFile:      writeFile(t, dir, "tls.key", k),
		ClientCAFile: caFile,
	}, bufferLogger(&logs), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(config.Auth{Clusters: []config.Cluster{{Name: "prod"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, a, tr).URL
	oldCert, newCert := oldCA.client(t, "prod"), nextCA.client(t, "prod")
	steps := []struct {
		name     string
		write    func()
		advance  time.Duration
		old, new bool // whether the old CA's and the new CA's client certificate are accepted
	}{
		{name: "initial", old: true},
		{name: "replaced, not yet checked", write: func() { replace(t, caFile, nextCA.pem) }, old: true},
		{name: "a second later", advance: 1100 * time.Millisecond, new: true},
		{
			name:    "both during a rollover",
			write:   func() { replace(t, caFile, append(append([]byte{}, oldCA.pem...), nextCA.pem...)) },
			advance: 1100 * time.Millisecond,
			old:     true, new: true,
		},
		{
			name: "corrupt bundle keeps both",
			write: func() {
				replace(t, caFile, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"))
			},
			advance: 1100 * time.Millisecond,
			old:     true, new: true,
		},
		{
			name:    "empty file keeps both",
			write:   func() { replace(t, caFile, nil) },
			advance: 1100 * time.Millisecond,
			old:     true, new: true,
		},
		{name: "old CA retired", write: func() { replace(t, caFile, nextCA.pem) }, advance: 1100 * time.Millisecond, new: true},
	}
	for _, st := range steps {
		if st.write != nil {
			st.write()
		}
		clk.Advance(st.advance)
		for _, cc := range []struct {
			which string
			cert  *tls.Certificate
			want  bool
		}{{"old", oldCert, st.old}, {"new", newCert, st.new}} {
			status, body, err := get(t, url, serverCA.pool(), cc.cert, "")
			if got := err == nil && status == 200 && body == "prod cert"; got != cc.want {
				t.Errorf("%s: %s CA's certificate accepted = %v, want %v (%d %q %v)", st.name, cc.which, got, cc.want, status, body, err)
			}
		}
	}
	for _, want := range []string{"client_ca_file " + caFile + ": certificate 1:", "client_ca_file " + caFile + ": no PEM certificates"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	c, k := ca.server(t, "vigil")
	base := config.TLS{CertFile: writeFile(t, dir, "tls.crt", c), KeyFile: writeFile(t, dir, "tls.key", k)}
	withCA := base
	withCA.ClientCAFile = writeFile(t, dir, "ca.crt", ca.pem)
	tests := []struct {
		name       string
		tls        config.TLS
		nextProtos []string // set on the Config before serving
		clientMax  uint16   // the client's MaxVersion; 0 for the default
		wantAuth   tls.ClientAuthType
		wantALPN   string // negotiated with a client offering h2 and http/1.1; "error" if the handshake fails
	}{
		{name: "no client CA", tls: base, wantAuth: tls.NoClientCert, wantALPN: "h2"},
		{name: "client CA", tls: withCA, wantAuth: tls.VerifyClientCertIfGiven, wantALPN: "h2"},
		{name: "HTTP/1.1 only", tls: base, nextProtos: []string{"http/1.1"}, wantAuth: tls.NoClientCert, wantALPN: "http/1.1"},
		{name: "TLS 1.1 refused", tls: base, clientMax: tls.VersionTLS11, wantAuth: tls.NoClientCert, wantALPN: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTLS(tc.tls, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tr.Config()
			cfg.NextProtos = tc.nextProtos
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			hs := tr.current()
			if hs.ClientAuth != tc.wantAuth || cfg.ClientAuth != tc.wantAuth {
				t.Errorf("ClientAuth = %v (handshake %v), want %v", cfg.ClientAuth, hs.ClientAuth, tc.wantAuth)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				if conn, err := ln.Accept(); err == nil {
					conn.(*tls.Conn).Handshake()
					conn.Close()
				}
			}()
			got := "error"
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.pool(), NextProtos: []string{"h2", "http/1.1"}, MaxVersion: tc.clientMax})
			if err == nil {
				got = conn.ConnectionState().NegotiatedProtocol
				conn.Close()
			}
			<-done
			if got != tc.wantALPN {
				t.Errorf("negotiated %q, want %q (err %v)", got, tc.wantALPN, err)
			}
		})
	}
}

func TestNewTLSErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "CA")
	c, k := ca.server(t, "vigil")
	_, otherKey := ca.server(t, "other")
	cf, kf := writeFile(t, dir, "tls.crt", c), writeFile(t, dir, "tls.key", k)
	garbage := writeFile(t, dir, "garbage", []byte("hello\n"))
	other := writeFile(t, dir, "other.key", otherKey)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		tls  config.TLS
		want string
	}{
		{name: "no key", tls: config.TLS{CertFile: cf}, want: "tls: cert_file and key_file are required"},
		{name: "missing cert", tls: config.TLS{CertFile: missing, KeyFile: kf}, want: "tls: stat " + missing + ": no such file or directory"},
		{name: "garbage cert", tls: config.TLS{CertFile: garbage, KeyFile: kf},
			want: "tls: load cert_file " + garbage + " and key_file " + kf + ": tls: failed to find any PEM data in certificate input"},
		{name: "key of another cert", tls: config.TLS{CertFile: cf, KeyFile: other},
			want: "tls: load cert_file " + cf + " and key_file " + other + ": tls: private key does not match public key"},
		{name: "missing client CA", tls: config.TLS{CertFile: cf, KeyFile: kf, ClientCAFile: missing}, want: "tls: stat " + missing + ": no such file or directory"},
		{name: "client CA without certificates", tls: config.TLS{CertFile: cf, KeyFile: kf, ClientCAFile: kf}, want: "tls: client_ca_file " + kf + ": no PEM certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTLS(tc.tls, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			assertNoSecret(t, err.Error(), pemBody(k), pemBody(otherKey))
		})
	}
}
