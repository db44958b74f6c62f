package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ca is a throwaway certificate authority, made for one test run.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte // the certificate, PEM
}

// keyPair is a certificate and its key, PEM, and the files holding them.
type keyPair struct {
	certPEM, keyPEM   []byte
	certFile, keyFile string
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t *testing.T, cn string) *ca {
	t.Helper()
	k, _ := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: c, key: k, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a certificate for cn (and groups, as organizations, which is
// how the apiserver reads them) and writes it and its key to dir/name.crt
// and dir/name.key. A server certificate is valid for 127.0.0.1 and
// localhost.
func (c *ca) issue(t *testing.T, dir, name, cn string, groups []string, server bool) keyPair {
	t.Helper()
	k, keyPEM := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn, Organization: groups},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, k.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	kp := keyPair{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM: keyPEM}
	kp.certFile = writeFile(t, dir, name+".crt", kp.certPEM)
	kp.keyFile = writeFile(t, dir, name+".key", kp.keyPEM)
	return kp
}

// pki is everything the run authenticates with.
type pki struct {
	caFile      string  // the one CA: serving certificates and client certificates
	ca          *ca     //
	apiserver   keyPair // kube-apiserver's serving certificate
	vigil       keyPair // Vigil's serving certificate (audit webhook and admission)
	admin       keyPair // CN=admin, O=system:masters
	eve         keyPair // CN=eve, no groups: an ordinary user
	kcm         keyPair // CN=system:kube-controller-manager
	saKey       string  // service account signing key
	saPub       string  // and its public key, which verifies the tokens
	auditToken  string  // the bearer token the apiserver's audit webhook sends
	apiToken    string  // a viewer token for Vigil's API
	clusterName string  // Vigil's name for the cluster
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	c := newCA(t, "vigil-e2e-ca")
	p := &pki{ca: c, caFile: writeFile(t, dir, "ca.crt", c.pem), clusterName: "e2e"}
	p.apiserver = c.issue(t, dir, "apiserver", "kube-apiserver", nil, true)
	p.vigil = c.issue(t, dir, "vigil", "vigil", nil, true)
	p.admin = c.issue(t, dir, "admin", "admin", []string{"system:masters"}, false)
	p.eve = c.issue(t, dir, "eve", "eve", nil, false)
	p.kcm = c.issue(t, dir, "kcm", "system:kube-controller-manager", nil, false)
	saKey, saPEM := newKey(t)
	p.saKey = writeFile(t, dir, "sa.key", saPEM)
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	p.saPub = writeFile(t, dir, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	p.auditToken = randomToken(t)
	p.apiToken = randomToken(t)
	return p
}

func randomToken(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
