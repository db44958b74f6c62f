package app

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/config"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for cn, as a server (with the
// loopback address) or as a client.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestServeTLS: HTTPS with separate cert and key files; a cluster
// identified by its client certificate (as IKS's audit-webhook sends),
// another by its token; admission over HTTPS.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	srvCert, srvKey := ca.issue(t, "vigil", true)
	cliCert, cliKey := ca.issue(t, "iks-prod-audit", false)
	strangerCert, strangerKey := ca.issue(t, "someone-else", false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := testConfig(t)
	cfg.TLS = config.TLS{CertFile: write("tls.crt", srvCert), KeyFile: write("tls.key", srvKey), ClientCAFile: write("ca.crt", ca.pem)}
	cfg.Auth.Clusters = append(cfg.Auth.Clusters, config.Cluster{Name: "iks", CertNames: []string{"iks-prod-audit"}})
	s := start(t, cfg)
	url := "https://" + s.app.Addr()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	client := func(certPEM, keyPEM []byte) *http.Client {
		tc := &tls.Config{RootCAs: pool}
		if certPEM != nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
	}
	post := func(c *http.Client, path string, body []byte, token string) int {
		req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(client(cliCert, cliKey), "/k8s-audit", eventList(nsDelete("cert-1")), ""); code != 200 {
		t.Fatalf("client certificate: %d", code)
	}
	if code := post(client(nil, nil), "/k8s-audit", eventList(nsDelete("tok-1")), testToken); code != 200 {
		t.Fatalf("token over HTTPS: %d", code)
	}
	if code := post(client(nil, nil), "/k8s-audit", eventList(nsDelete("none")), ""); code != 401 {
		t.Errorf("no credentials: %d, want 401", code)
	}
	if code := post(client(strangerCert, strangerKey), "/k8s-audit", eventList(nsDelete("stranger")), ""); code != 403 {
		t.Errorf("unknown certificate: %d, want 403", code)
	}
	review, err := os.ReadFile(filepath.Join(captured, "admission-review-01.json"))
	if err == nil {
		if code := post(client(cliCert, cliKey), "/admission", review, ""); code != 200 {
			t.Errorf("admission over HTTPS: %d", code)
		}
	}
	got := s.sink.waitFor(t, 2)
	clusters := map[string]string{}
	for _, a := range got {
		clusters[a.AuditID] = a.Cluster
	}
	if clusters["cert-1"] != "iks" || clusters["tok-1"] != "prod" {
		t.Errorf("clusters by auditID: %v", clusters)
	}
}
