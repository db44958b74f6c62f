package output

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// syslogEventSecret is a Secret's data value in the test events: it must
// never reach the receiver.
const syslogEventSecret = "c3lzbG9nLWV2ZW50LXNlY3JldC12YWx1ZQ=="

// syslogAlert is a test alert raised by a Secret read.
func syslogAlert(id, rule string, p alert.Priority) *journal.Alert {
	return &journal.Alert{
		ID: id,
		Alert: alert.Alert{
			Time:     time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.UTC).UnixNano(),
			Rule:     rule,
			Priority: p,
			Source:   "k8s_audit",
			Tags:     []string{"k8s", "secrets"},
			Message:  "Secret read by unexpected user (user=mallory ns=prod)",
			Hostname: "alert-host",
			Fields:   []alert.Field{{Key: "ka.user.name", Values: []string{"mallory"}}},
		},
		Cluster:  "prod-eu",
		Capture:  "webhook",
		AuditID:  "6b2c1f0e-5d4a-4c3b-9a8e-7f6d5c4b3a21",
		Stage:    "ResponseComplete",
		Received: time.Date(2024, 3, 5, 7, 8, 10, 0, time.UTC),
		Event:    json.RawMessage(`{"kind":"Event","verb":"get","responseObject":{"kind":"Secret","data":{"password":"` + syslogEventSecret + `"}}}`),
	}
}

const (
	syslogID   = "00000000000000010000000000000abc0000"
	syslogRule = "Secret read by unexpected user"
	// syslogJSON is syslogAlert's Falco JSON alert (time in UTC).
	syslogJSON = `{"hostname":"alert-host","output":"07:08:09.123456789: Warning Secret read by unexpected user (user=mallory ns=prod)",` +
		`"output_fields":{"ka.user.name":"mallory"},"priority":"Warning","rule":"Secret read by unexpected user","source":"k8s_audit",` +
		`"tags":["k8s","secrets"],"time":"2024-03-05T07:08:09.123456789Z"}`
	// syslogSD is syslogAlert's structured data without a UI URL.
	syslogSD = `[vigil@32473 id="00000000000000010000000000000abc0000" rule="Secret read by unexpected user" priority="Warning" ` +
		`source="k8s_audit" cluster="prod-eu" audit_id="6b2c1f0e-5d4a-4c3b-9a8e-7f6d5c4b3a21" stage="ResponseComplete"]`
)

func newTestSyslog(t *testing.T, c config.SyslogOutput, o SinkOptions) *Syslog {
	t.Helper()
	if c.Address == "" {
		c.Address = "127.0.0.1:1"
	}
	s, err := NewSyslog(c, o)
	if err != nil {
		t.Fatalf("NewSyslog: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// syslogTruncatedWant is a 480-byte message cut to its bound.
var syslogTruncatedWant = func() string {
	head := `<36>1 2024-03-05T07:08:09.123456Z h vigil - Secret_read_by_unexpected_user ` + syslogSD + ` 07:08:09.123456789: Warning `
	return head + strings.Repeat("x", 480-len(head)-len("...[truncated]")) + "...[truncated]"
}()

// TestSyslogMessage checks the exact bytes of RFC 5424 and RFC 3164
// messages and of their framing.
func TestSyslogMessage(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	long := strings.Repeat("x", 600)
	tests := []struct {
		name   string
		c      config.SyslogOutput
		o      SinkOptions
		alert  func(a *journal.Alert)
		framed bool // appendFramed instead of appendMessage
		want   string
		cut    bool
	}{{
		name: "rfc5424 json defaults",
		o:    SinkOptions{Hostname: "vigil-host"},
		want: `<36>1 2024-03-05T07:08:09.123456Z vigil-host vigil - Secret_read_by_unexpected_user ` + syslogSD + ` ` + syslogJSON,
	}, {
		name: "rfc5424 text local0 app sd_id url",
		c:    config.SyslogOutput{Format: "text", Facility: "local0", AppName: "vigil-prod", SDID: "alert@12345"},
		o:    SinkOptions{Hostname: "vigil-host", UIURL: "https://vigil.example/", Location: berlin},
		alert: func(a *journal.Alert) {
			a.Alert.Priority = alert.PriorityCritical
			a.Stage = ""
		},
		want: `<130>1 2024-03-05T07:08:09.123456Z vigil-host vigil-prod - Secret_read_by_unexpected_user ` +
			`[alert@12345 id="00000000000000010000000000000abc0000" rule="Secret read by unexpected user" priority="Critical" ` +
			`source="k8s_audit" cluster="prod-eu" audit_id="6b2c1f0e-5d4a-4c3b-9a8e-7f6d5c4b3a21" ` +
			`url="https://vigil.example/alerts/00000000000000010000000000000abc0000"] ` +
			`08:08:09.123456789: Critical Secret read by unexpected user (user=mallory ns=prod)`,
	}, {
		name: "rfc5424 escapes and sanitises",
		c:    config.SyslogOutput{Format: "text", Facility: "23"},
		alert: func(a *journal.Alert) {
			a.Alert.Rule = "Exec \"into\" pod ]\\ é\nand a very long name"
			a.Alert.Priority = alert.PriorityDebug
			a.Alert.Hostname = "alert host"
			a.Cluster = "bad\xffcluster"
			a.AuditID = ""
			a.Alert.Message = "line1\nline2"
		},
		want: `<191>1 2024-03-05T07:08:09.123456Z alert_host vigil - Exec_"into"_pod_]\___and_a_very_ ` +
			`[vigil@32473 id="00000000000000010000000000000abc0000" rule="Exec \"into\" pod \]\\ é and a very long name" ` +
			`priority="Debug" source="k8s_audit" cluster="bad` + "\uFFFD" + `cluster" stage="ResponseComplete"] ` +
			`07:08:09.123456789: Debug line1\nline2`,
	}, {
		name: "rfc5424 no host no rule",
		c:    config.SyslogOutput{Format: "text", Facility: "kern"},
		alert: func(a *journal.Alert) {
			a.Alert.Rule = ""
			a.Alert.Hostname = ""
			a.Alert.Priority = alert.PriorityEmergency
			a.ID, a.Cluster, a.AuditID, a.Stage, a.Alert.Source = "", "", "", "", ""
		},
		want: `<0>1 2024-03-05T07:08:09.123456Z - vigil - alert [vigil@32473 priority="Emergency"] 07:08:09.123456789: Emergency Secret read by unexpected user (user=mallory ns=prod)`,
	}, {
		name: "rfc3164 json",
		c:    config.SyslogOutput{Protocol: "rfc3164", Facility: "authpriv"},
		o:    SinkOptions{Hostname: "vigil-host", Location: berlin},
		want: `<84>Mar  5 08:08:09 vigil-host vigil: ` + strings.Replace(syslogJSON, `"07:08:09`, `"08:08:09`, 1),
	}, {
		name: "rfc3164 text",
		c:    config.SyslogOutput{Protocol: "rfc3164", Format: "text", AppName: "k8s-vigil"},
		alert: func(a *journal.Alert) {
			a.Alert.Time = time.Date(2024, 11, 25, 23, 59, 58, 0, time.UTC).UnixNano()
			a.Alert.Priority = alert.PriorityNotice
		},
		want: `<37>Nov 25 23:59:58 alert-host k8s-vigil: 23:59:58.000000000: Notice Secret read by unexpected user (user=mallory ns=prod)`,
	}, {
		name:   "octet counting",
		c:      config.SyslogOutput{Format: "text", Transport: "tls"},
		o:      SinkOptions{Hostname: "h"},
		alert:  func(a *journal.Alert) { a.ID, a.Cluster, a.AuditID, a.Stage, a.Alert.Source = "", "", "", "", "" },
		framed: true,
		want:   `227 <36>1 2024-03-05T07:08:09.123456Z h vigil - Secret_read_by_unexpected_user [vigil@32473 rule="Secret read by unexpected user" priority="Warning"] 07:08:09.123456789: Warning Secret read by unexpected user (user=mallory ns=prod)`,
	}, {
		name:   "newline rfc3164",
		c:      config.SyslogOutput{Format: "text", Protocol: "rfc3164"},
		o:      SinkOptions{Hostname: "h"},
		framed: true,
		want:   "<36>Mar  5 07:08:09 h vigil: 07:08:09.123456789: Warning Secret read by unexpected user (user=mallory ns=prod)\n",
	}, {
		name:   "newline rfc5424",
		c:      config.SyslogOutput{Format: "text", Framing: "newline"},
		o:      SinkOptions{Hostname: "h"},
		alert:  func(a *journal.Alert) { a.ID, a.Cluster, a.AuditID, a.Stage, a.Alert.Source = "", "", "", "", "" },
		framed: true,
		want:   "<36>1 2024-03-05T07:08:09.123456Z h vigil - Secret_read_by_unexpected_user [vigil@32473 rule=\"Secret read by unexpected user\" priority=\"Warning\"] 07:08:09.123456789: Warning Secret read by unexpected user (user=mallory ns=prod)\n",
	}, {
		name:  "truncated at the bound with a marker",
		c:     config.SyslogOutput{Format: "text", MaxMessageBytes: 480},
		o:     SinkOptions{Hostname: "h"},
		alert: func(a *journal.Alert) { a.Alert.Message = long },
		// 480 bytes: the header, the structured data, as much MSG as
		// fits and the 14-byte marker
		want: syslogTruncatedWant,
		cut:  true,
	}, {
		name: "truncated at a UTF-8 boundary",
		c:    config.SyslogOutput{Format: "text", MaxMessageBytes: 480, Protocol: "rfc3164"},
		o:    SinkOptions{Hostname: "h"},
		// 480 bytes: the 29-byte header, the 28-byte text prefix, "a",
		// 204 "é" of 2 bytes (409 bytes would cut the 205th) and the
		// 14-byte marker
		alert: func(a *journal.Alert) { a.Alert.Message = "a" + strings.Repeat("é", 300) },
		want:  `<36>Mar  5 07:08:09 h vigil: 07:08:09.123456789: Warning a` + strings.Repeat("é", 204) + `...[truncated]`,
		cut:   true,
	}, {
		name: "long names shrink the structured data",
		c:    config.SyslogOutput{Format: "text", MaxMessageBytes: 480},
		o:    SinkOptions{Hostname: "h"},
		alert: func(a *journal.Alert) {
			a.Alert.Rule = "R " + long
		},
		want: `<36>1 2024-03-05T07:08:09.123456Z h vigil - R_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx [vigil@32473 id="00000000000000010000000000000abc0000"] ` +
			`07:08:09.123456789: Warning Secret read by unexpected user (user=mallory ns=prod)`,
		cut: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSyslog(t, tc.c, tc.o)
			a := syslogAlert(syslogID, syslogRule, alert.PriorityWarning)
			if tc.alert != nil {
				tc.alert(a)
			}
			var got []byte
			var cut bool
			if tc.framed {
				got, cut = s.appendFramed([]byte("prev"), a)
				got = bytes.TrimPrefix(got, []byte("prev"))
			} else {
				got, cut = s.appendMessage(nil, a)
			}
			if string(got) != tc.want {
				t.Errorf("message:\n got %q\nwant %q", got, tc.want)
			}
			if cut != tc.cut {
				t.Errorf("cut = %v, want %v", cut, tc.cut)
			}
			if !tc.framed && len(got) > s.max {
				t.Errorf("message is %d bytes, over the bound %d", len(got), s.max)
			}
			if tc.c.MaxMessageBytes != 0 && len(got) != int(tc.c.MaxMessageBytes) && !strings.Contains(tc.name, "shrink") {
				t.Errorf("truncated message is %d bytes, want the bound %d", len(got), tc.c.MaxMessageBytes)
			}
			syslogNoSecret(t, got)
		})
	}
}

// syslogNoSecret fails if wire holds a secret of the test events or of
// the test TLS keys.
func syslogNoSecret(t *testing.T, wire []byte, extra ...string) {
	t.Helper()
	for _, s := range append([]string{syslogEventSecret, "data", "password"}, extra...) {
		if s != "" && bytes.Contains(wire, []byte(s)) {
			t.Errorf("a secret (%.12q…) was sent: %q", s, wire)
		}
	}
}

func TestNewSyslogErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name string
		c    config.SyslogOutput
		want string
	}{
		{"no address", config.SyslogOutput{}, "syslog address: must not be empty"},
		{"transport", config.SyslogOutput{Address: "h:1", Transport: "sctp"}, `syslog transport "sctp": expected tcp, udp or tls`},
		{"protocol", config.SyslogOutput{Address: "h:1", Protocol: "rfc3339"}, `syslog protocol "rfc3339": expected rfc5424 or rfc3164`},
		{"framing", config.SyslogOutput{Address: "h:1", Framing: "lf"}, `syslog framing "lf": expected octet_counting or newline`},
		{"facility", config.SyslogOutput{Address: "h:1", Facility: "24"}, `syslog facility: "24" is not a facility (a name such as auth, authpriv or local0, or a number 0-23)`},
		{"format", config.SyslogOutput{Address: "h:1", Format: "xml"}, `invalid output format "xml": expected json or text`},
		{"size", config.SyslogOutput{Address: "h:1", Transport: "udp", MaxMessageBytes: 70000}, "syslog max_message_bytes 70000: out of range"},
		{"ca not pem", config.SyslogOutput{Address: "h:1", Transport: "tls", TLS: config.SyslogTLS{CAFile: notPEM}}, "syslog tls ca_file " + notPEM + ": no PEM certificate found"},
		{"ca missing", config.SyslogOutput{Address: "h:1", Transport: "tls", TLS: config.SyslogTLS{CAFile: dir + "/none"}}, "syslog tls ca_file: open " + dir + "/none: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSyslog(tc.c, SinkOptions{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
	// Default ports.
	for _, tc := range []struct{ transport, addr, want string }{
		{"", "syslog.example", "syslog.example:514"},
		{"udp", "::1", "[::1]:514"},
		{"tls", "syslog.example", "syslog.example:6514"},
		{"tls", "syslog.example:10514", "syslog.example:10514"},
	} {
		s, err := NewSyslog(config.SyslogOutput{Address: tc.addr, Transport: tc.transport}, SinkOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.addr != tc.want {
			t.Errorf("%s %s: addr %s, want %s", tc.transport, tc.addr, s.addr, tc.want)
		}
	}
}

// syslogFrames reads octet-counted frames from r.
func syslogFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	n, err := r.ReadString(' ')
	if err != nil {
		t.Fatalf("read frame length: %v", err)
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil {
		t.Fatalf("frame length %q: %v", n, err)
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return string(msg)
}

// TestSyslogReconnect checks that a stream closed by the receiver, a write
// that fails and a receiver that is down are all retryable, and that the
// next Send dials again.
func TestSyslogReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	accept := func(ln net.Listener) chan net.Conn {
		conns := make(chan net.Conn, 4)
		go func() {
			defer close(conns)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns <- c
			}
		}()
		return conns
	}
	conns := accept(ln)
	s := newTestSyslog(t, config.SyslogOutput{Address: addr, Format: "text"}, SinkOptions{Hostname: "h"})
	ctx := t.Context()
	msg := func(i int) (*journal.Alert, string) {
		a := syslogAlert(fmt.Sprintf("id%d", i), syslogRule, alert.PriorityWarning)
		m, _ := s.appendMessage(nil, a)
		return a, string(m)
	}

	a1, m1 := msg(1)
	if err := s.Send(ctx, []*journal.Alert{a1}); err != nil {
		t.Fatalf("send 1: %v", err)
	}
	c1 := <-conns
	if got := syslogFrame(t, bufio.NewReader(c1)); got != m1 {
		t.Fatalf("message 1:\n got %q\nwant %q", got, m1)
	}

	// The receiver closes the stream: the sink notices, and redials.
	c1.Close()
	syslogWait(t, "the closed stream to be noticed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.conn != nil && s.conn.dead.Load()
	})
	a2, m2 := msg(2)
	if err := s.Send(ctx, []*journal.Alert{a2}); err != nil {
		t.Fatalf("send 2 after the receiver closed: %v", err)
	}
	c2 := <-conns
	r2 := bufio.NewReader(c2)
	if got := syslogFrame(t, r2); got != m2 {
		t.Fatalf("message 2:\n got %q\nwant %q", got, m2)
	}

	// A write that fails (here: its deadline has passed) drops the
	// connection and is retryable; the next Send dials again.
	past, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	a3, m3 := msg(3)
	err = s.Send(past, []*journal.Alert{a3})
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with a past deadline: err = %v, want a retryable deadline error", err)
	}
	if _, err := r2.ReadByte(); err != io.EOF {
		t.Fatalf("after a failed write, the connection is still open (read: %v)", err)
	}
	if err := s.Send(ctx, []*journal.Alert{a3}); err != nil {
		t.Fatalf("send 3 after a failed write: %v", err)
	}
	c3 := <-conns
	if got := syslogFrame(t, bufio.NewReader(c3)); got != m3 {
		t.Fatalf("message 3:\n got %q\nwant %q", got, m3)
	}

	// The receiver is down: retryable, and delivered once it is back.
	ln.Close()
	c3.Close()
	syslogWait(t, "the closed stream to be noticed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.conn != nil && s.conn.dead.Load()
	})
	a4, m4 := msg(4)
	err = s.Send(ctx, []*journal.Alert{a4})
	if err == nil || IsPermanent(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("send to a receiver that is down: err = %v, want a retryable connection refused", err)
	}
	if want := "syslog: connect to " + addr + " over tcp: connect: connection refused"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	defer ln.Close()
	conns = accept(ln)
	if err := s.Send(ctx, []*journal.Alert{a4}); err != nil {
		t.Fatalf("send 4 after the receiver came back: %v", err)
	}
	c4 := <-conns
	if got := syslogFrame(t, bufio.NewReader(c4)); got != m4 {
		t.Fatalf("message 4:\n got %q\nwant %q", got, m4)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := bufio.NewReader(c4).ReadByte(); err != io.EOF {
		t.Errorf("after Close, the connection is still open (read: %v)", err)
	}
	c2.Close()
	c4.Close()
}

// syslogWait polls cond for up to 5 s.
func syslogWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// syslogPKI is a test CA with a server and a client certificate, written
// to files.
type syslogPKI struct {
	dir                        string
	caFile, certFile, keyFile  string // the CA, the server's certificate and key
	clientCert, clientKey      string // the client's certificate and key
	otherCA                    string // a CA that signed nothing here
	clientKeyPEM, serverKeyPEM string // the private keys: never sent
}

func newSyslogPKI(t *testing.T) *syslogPKI {
	t.Helper()
	p := &syslogPKI{dir: t.TempDir()}
	write := func(name, typ string, der []byte) (string, string) {
		path := filepath.Join(p.dir, name)
		data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path, string(data)
	}
	serial := int64(1)
	cert := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
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
		return c, key, der
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ca := &x509.Certificate{Subject: pkix.Name{CommonName: "vigil test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caCert, caKey, der := cert(ca, nil, nil)
	p.caFile, _ = write("ca.pem", "CERTIFICATE", der)
	_, srvKey, der := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, caCert, caKey)
	p.certFile, _ = write("server.pem", "CERTIFICATE", der)
	p.keyFile, p.serverKeyPEM = write("server.key", "PRIVATE KEY", keyDER(srvKey))
	_, cliKey, der := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "vigil"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, caCert, caKey)
	p.clientCert, _ = write("client.pem", "CERTIFICATE", der)
	p.clientKey, p.clientKeyPEM = write("client.key", "PRIVATE KEY", keyDER(cliKey))
	_, _, der = cert(&x509.Certificate{Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	p.otherCA, _ = write("other-ca.pem", "CERTIFICATE", der)
	return p
}

// rsyslogd finds rsyslogd, or fails the test saying how to install it.
func rsyslogd(t *testing.T) string {
	t.Helper()
	if os.Getenv("VIGIL_SKIP_RSYSLOG") == "1" {
		t.Skip("VIGIL_SKIP_RSYSLOG=1: the test against a real rsyslog is skipped")
	}
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/rsyslogd"); err == nil {
		return "/usr/sbin/rsyslogd"
	}
	t.Fatal("rsyslogd is not installed: run scripts/install-deps.sh (Debian packages rsyslog and rsyslog-gnutls), " +
		"or set VIGIL_SKIP_RSYSLOG=1 to skip the syslog test against a real receiver")
	return ""
}

// rsyslogInput is one listener of the test rsyslogd.
type rsyslogInput struct {
	name string // its inputname
	kind string // udp, tcp, tls or mtls (TLS requiring a client certificate)
	port int
}

// rsyslogRecord is what the test rsyslogd wrote for one message: the raw
// message and the fields it parsed.
type rsyslogRecord struct {
	Raw      string `json:"raw"`
	Input    string `json:"input"`
	Facility string `json:"facility"`
	Severity string `json:"severity"`
	Hostname string `json:"hostname"`
	App      string `json:"app"`
	MsgID    string `json:"msgid"`
	SD       string `json:"sd"`
	Time     string `json:"time"`
	Msg      string `json:"msg"`
}

// rsyslogTemplate writes each message as a JSON object of rsyslogRecord.
const rsyslogTemplate = `template(name="vigil" type="list") {
  constant(value="{")
  property(outname="raw" name="rawmsg" format="jsonf") constant(value=",")
  property(outname="input" name="inputname" format="jsonf") constant(value=",")
  property(outname="facility" name="syslogfacility" format="jsonf") constant(value=",")
  property(outname="severity" name="syslogseverity" format="jsonf") constant(value=",")
  property(outname="hostname" name="hostname" format="jsonf") constant(value=",")
  property(outname="app" name="app-name" format="jsonf") constant(value=",")
  property(outname="msgid" name="msgid" format="jsonf") constant(value=",")
  property(outname="sd" name="structured-data" format="jsonf") constant(value=",")
  property(outname="time" name="timereported" dateFormat="rfc3339" format="jsonf") constant(value=",")
  property(outname="msg" name="msg" format="jsonf")
  constant(value="}\n")
}
`

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRsyslog runs rsyslogd with the inputs until the test ends, and
// returns the file it writes records to once every input is ready.
func startRsyslog(t *testing.T, pki *syslogPKI, inputs []*rsyslogInput) string {
	bin := rsyslogd(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	var conf strings.Builder
	fmt.Fprintf(&conf, "global(workDirectory=%q maxMessageSize=\"64k\")\n", dir)
	conf.WriteString("module(load=\"imudp\")\nmodule(load=\"imptcp\")\nmodule(load=\"imtcp\")\n")
	for _, in := range inputs {
		switch in.kind {
		case "udp":
			in.port = freePort(t, "udp")
			fmt.Fprintf(&conf, "input(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\" name=%q)\n", in.port, in.name)
		case "tcp":
			in.port = freePort(t, "tcp")
			fmt.Fprintf(&conf, "input(type=\"imptcp\" address=\"127.0.0.1\" port=\"%d\" name=%q)\n", in.port, in.name)
		case "tls", "mtls":
			in.port = freePort(t, "tcp")
			auth := "anon"
			if in.kind == "mtls" {
				auth = "x509/certvalid"
			}
			fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" name=%q streamDriver.name=\"gtls\" "+
				"streamDriver.mode=\"1\" streamDriver.authMode=%q streamDriver.CAFile=%q streamDriver.CertFile=%q streamDriver.KeyFile=%q)\n",
				in.port, in.name, auth, pki.caFile, pki.certFile, pki.keyFile)
		}
	}
	conf.WriteString(rsyslogTemplate)
	fmt.Fprintf(&conf, "action(type=\"omfile\" file=%q template=\"vigil\")\n", out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s\nconfig:\n%s", logs.String(), conf.String())
		}
	})

	// Ready: stream inputs accept connections, and a probe sent to each
	// UDP input has been written.
	for _, in := range inputs {
		addr := fmt.Sprintf("127.0.0.1:%d", in.port)
		if in.kind != "udp" {
			syslogWait(t, "rsyslogd to listen on "+in.name, func() bool {
				select {
				case <-exited:
					t.Fatalf("rsyslogd exited: %s", logs.String())
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
			continue
		}
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		syslogWait(t, "rsyslogd to receive on "+in.name, func() bool {
			c.Write([]byte("<14>1 - - - - probe - probe"))
			return len(rsyslogRecords(t, out, in.name, true)) > 0
		})
		c.Close()
	}
	return out
}

// rsyslogRecords returns the records rsyslogd wrote for input: only the
// probes, or all but them.
func rsyslogRecords(t *testing.T, path, input string, probes bool) []rsyslogRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var recs []rsyslogRecord
	for line := range bytes.Lines(data) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break // being written
		}
		var r rsyslogRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("rsyslogd record %q: %v", line, err)
		}
		if r.Input == input && (r.MsgID == "probe") == probes {
			recs = append(recs, r)
		}
	}
	return recs
}

// TestSyslogRsyslog sends alerts through the sink to a real rsyslogd over
// UDP, TCP and TLS, in both formats and framings, and checks what rsyslog
// received and parsed.
func TestSyslogRsyslog(t *testing.T) {
	pki := newSyslogPKI(t)
	type check struct {
		facility int
		app      string
		rfc3164  bool
		format   Format
	}
	tests := []struct {
		name  string
		kind  string
		c     config.SyslogOutput
		check check
		long  bool // the second alert exceeds max_message_bytes
	}{
		{name: "udp-5424-json", kind: "udp", c: config.SyslogOutput{Transport: "udp"}, check: check{facility: 4, app: "vigil"}},
		{name: "udp-3164-text", kind: "udp", c: config.SyslogOutput{Transport: "udp", Protocol: "rfc3164", Format: "text", Facility: "local3"},
			check: check{facility: 19, app: "vigil", rfc3164: true, format: Text}},
		{name: "tcp-5424-json-octets", kind: "tcp", c: config.SyslogOutput{Transport: "tcp", AppName: "vigil-k8s"}, check: check{facility: 4, app: "vigil-k8s"}},
		{name: "tcp-5424-text-newline", kind: "tcp", c: config.SyslogOutput{Transport: "tcp", Framing: "newline", Format: "text", Facility: "authpriv"},
			check: check{facility: 10, app: "vigil", format: Text}},
		{name: "tcp-3164-json-newline", kind: "tcp", c: config.SyslogOutput{Transport: "tcp", Protocol: "rfc3164"}, check: check{facility: 4, app: "vigil", rfc3164: true}},
		{name: "tls-5424-json", kind: "tls", c: config.SyslogOutput{Transport: "tls", TLS: config.SyslogTLS{CAFile: pki.caFile}}, check: check{facility: 4, app: "vigil"}},
		{name: "tls-3164-text", kind: "tls", c: config.SyslogOutput{Transport: "tls", Protocol: "rfc3164", Format: "text", TLS: config.SyslogTLS{CAFile: pki.caFile, ServerName: "localhost"}},
			check: check{facility: 4, app: "vigil", rfc3164: true, format: Text}},
		{name: "mtls-5424-text", kind: "mtls", c: config.SyslogOutput{Transport: "tls", Format: "text",
			TLS: config.SyslogTLS{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}}, check: check{facility: 4, app: "vigil", format: Text}},
		{name: "tcp-5424-truncated", kind: "tcp", c: config.SyslogOutput{Transport: "tcp", MaxMessageBytes: 1024}, check: check{facility: 4, app: "vigil"}, long: true},
		{name: "udp-5424-truncated", kind: "udp", c: config.SyslogOutput{Transport: "udp", MaxMessageBytes: 1024}, check: check{facility: 4, app: "vigil"}, long: true},
	}
	inputs := make([]*rsyslogInput, len(tests))
	for i, tc := range tests {
		inputs[i] = &rsyslogInput{name: tc.name, kind: tc.kind}
	}
	out := startRsyslog(t, pki, inputs)

	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Address = fmt.Sprintf("127.0.0.1:%d", inputs[i].port)
			s := newTestSyslog(t, c, SinkOptions{Hostname: "vigil-host"})
			a := syslogAlert(syslogID, syslogRule, alert.PriorityWarning)
			b := syslogAlert("00000000000000010000000000000abc0001", `Exec "into" pod ]\ é`, alert.PriorityCritical)
			b.Cluster = "staging"
			if tc.long {
				b.Alert.Message = strings.Repeat("long ", 400)
			}
			if err := s.Send(t.Context(), []*journal.Alert{a, b}); err != nil {
				t.Fatalf("send: %v", err)
			}
			var recs []rsyslogRecord
			syslogWait(t, "rsyslogd to write 2 records", func() bool {
				recs = rsyslogRecords(t, out, tc.name, false)
				return len(recs) >= 2
			})
			if len(recs) != 2 {
				t.Fatalf("rsyslogd wrote %d records, want 2: %+v", len(recs), recs)
			}
			wantSD := []string{syslogSD, `[vigil@32473 id="00000000000000010000000000000abc0001" rule="Exec \"into\" pod \]\\ é" priority="Critical" ` +
				`source="k8s_audit" cluster="staging" audit_id="6b2c1f0e-5d4a-4c3b-9a8e-7f6d5c4b3a21" stage="ResponseComplete"]`}
			wantMsgID := []string{"Secret_read_by_unexpected_user", `Exec_"into"_pod_]\__`}
			for j, al := range []*journal.Alert{a, b} {
				r := recs[j]
				raw, cut := s.appendMessage(nil, al)
				if r.Raw != string(raw) {
					t.Errorf("record %d: rsyslog received\n %q\nwant %q", j, r.Raw, raw)
				}
				if cut != (tc.long && j == 1) {
					t.Errorf("record %d: truncated = %v", j, cut)
				}
				if got, want := r.Facility, strconv.Itoa(tc.check.facility); got != want {
					t.Errorf("record %d: facility %s, want %s", j, got, want)
				}
				if got, want := r.Severity, strconv.Itoa(int(al.Alert.Priority)); got != want {
					t.Errorf("record %d: severity %s, want %s", j, got, want)
				}
				if r.Hostname != "vigil-host" {
					t.Errorf("record %d: hostname %q, want vigil-host", j, r.Hostname)
				}
				if r.App != tc.check.app {
					t.Errorf("record %d: app-name %q, want %q", j, r.App, tc.check.app)
				}
				var msg []byte
				if tc.check.format == Text {
					msg = alert.AppendText(nil, &al.Alert, time.UTC)
				} else {
					msg = alert.AppendJSON(nil, &al.Alert, time.UTC)
				}
				gotMsg := r.Msg
				if tc.check.rfc3164 {
					// rsyslog keeps the space after the TAG's colon.
					gotMsg = strings.TrimPrefix(gotMsg, " ")
					if r.MsgID != "-" || r.SD != "-" {
						t.Errorf("record %d: rfc3164 msgid %q, structured data %q, want -", j, r.MsgID, r.SD)
					}
				} else {
					if r.MsgID != wantMsgID[j] {
						t.Errorf("record %d: msgid %q, want %q", j, r.MsgID, wantMsgID[j])
					}
					if r.SD != wantSD[j] {
						t.Errorf("record %d: structured data\n %q\nwant %q", j, r.SD, wantSD[j])
					}
					if r.Time != "2024-03-05T07:08:09.123456Z" {
						t.Errorf("record %d: time %q", j, r.Time)
					}
				}
				if cut {
					if len(r.Raw) != 1024 || !strings.HasSuffix(gotMsg, "...[truncated]") ||
						!strings.HasPrefix(string(msg), strings.TrimSuffix(gotMsg, "...[truncated]")) {
						t.Errorf("record %d: truncated to %d bytes, message %q", j, len(r.Raw), gotMsg)
					}
				} else if gotMsg != string(msg) {
					t.Errorf("record %d: message\n %q\nwant %q", j, gotMsg, msg)
				}
				syslogNoSecret(t, []byte(r.Raw), pki.clientKeyPEM[40:80], pki.serverKeyPEM[40:80])
			}
			if got := s.Truncated(); got != map[bool]int64{true: 1}[tc.long] {
				t.Errorf("Truncated() = %d", got)
			}
		})
	}

	// A receiver whose certificate the CA file does not vouch for: a
	// retryable error that names the problem.
	t.Run("tls-unknown-ca", func(t *testing.T) {
		s := newTestSyslog(t, config.SyslogOutput{Transport: "tls", Address: fmt.Sprintf("127.0.0.1:%d", inputs[5].port),
			TLS: config.SyslogTLS{CAFile: pki.otherCA, CertFile: pki.clientCert, KeyFile: pki.clientKey}}, SinkOptions{})
		err := s.Send(t.Context(), []*journal.Alert{syslogAlert(syslogID, syslogRule, alert.PriorityWarning)})
		if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("err = %v, want a retryable unknown-authority error", err)
		}
		syslogNoSecret(t, []byte(err.Error()), pki.clientKeyPEM[40:80])
	})
}
