package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/config"
)

const (
	prodToken    = "prod-Zq3xK9vLmN2pR7sT1uW4yA6bC8dE0fGh"
	stagingToken = "staging-Hj5kL7mN9pQ2rS4tU6vW8xY0zA1bC3dE"
)

// clusters is the auth configuration of TestAuthenticate: a cluster with a
// token file and the default cert name, one with an inline token and a
// DNS cert name, and one with certificates only.
func clusters(tokenFile string) []config.Cluster {
	return []config.Cluster{
		{Name: "prod", TokenFile: tokenFile},
		{Name: "staging", Token: config.Secret(stagingToken), CertNames: []string{"staging.clusters.example"}},
		{Name: "edge", CertNames: []string{"edge-1", "edge-2.clusters.example"}},
	}
}

func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	ca, other := newCA(t, "client CA"), newCA(t, "other CA")
	serverCA := newCA(t, "server CA")
	c, k := serverCA.server(t, "vigil")
	tr, err := NewTLS(config.TLS{
		CertFile:     writeFile(t, dir, "tls.crt", c),
		KeyFile:      writeFile(t, dir, "tls.key", k),
		ClientCAFile: writeFile(t, dir, "ca.crt", ca.pem),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := writeFile(t, dir, "prod.token", []byte("\n  "+prodToken+"\n\n"))
	var logs syncBuffer
	urls := map[bool]string{} // by allow_unauthenticated
	for _, allow := range []bool{false, true} {
		a, err := New(config.Auth{AllowUnauthenticated: allow, UnauthenticatedCluster: "lab", Clusters: clusters(tokenFile)},
			Options{Logger: bufferLogger(&logs)})
		if err != nil {
			t.Fatal(err)
		}
		urls[allow] = serve(t, a, tr).URL
	}
	certs := map[string]*tls.Certificate{
		"prod":      ca.client(t, "prod"),
		"staging":   ca.client(t, "vigil-sender", "other.example", "staging.clusters.example"),
		"edge-cn":   ca.client(t, "edge-1"),
		"edge-san":  ca.client(t, "", "edge-2.clusters.example"),
		"unknown":   ca.client(t, "intruder", "intruder.example"),
		"ambiguous": ca.client(t, "prod", "staging.clusters.example"),
		"other-ca":  other.client(t, "prod"),
	}
	tests := []struct {
		name          string
		allow         bool   // allow_unauthenticated
		cert          string // key in certs, or ""
		authorization string // the Authorization header, or ""
		want          string // "status body", or "error" when the handshake must fail
	}{
		{name: "token from file", authorization: "Bearer " + prodToken, want: "200 prod token"},
		{name: "inline token", authorization: "Bearer " + stagingToken, want: "200 staging token"},
		{name: "scheme is case-insensitive", authorization: "bearer   " + prodToken, want: "200 prod token"},
		{name: "wrong token", authorization: "Bearer " + prodToken + "x", want: "401 invalid credentials: unknown bearer token"},
		{name: "token prefix", authorization: "Bearer " + prodToken[:10], want: "401 invalid credentials: unknown bearer token"},
		{name: "empty bearer", authorization: "Bearer ", want: "401 invalid credentials: empty bearer token"},
		{name: "basic auth", authorization: "Basic " + prodToken, want: "401 invalid credentials: the Authorization header is not a bearer token"},
		{name: "missing", want: "401 no credentials"},
		{name: "missing, unauthenticated allowed", allow: true, want: "200 lab none"},
		{name: "wrong token, unauthenticated allowed", allow: true, authorization: "Bearer nope", want: "401 invalid credentials: unknown bearer token"},
		{name: "valid token, unauthenticated allowed", allow: true, authorization: "Bearer " + stagingToken, want: "200 staging token"},
		{name: "cert by CN, default cert name", cert: "prod", want: "200 prod cert"},
		{name: "cert by DNS SAN", cert: "staging", want: "200 staging cert"},
		{name: "cert by CN in cert_names", cert: "edge-cn", want: "200 edge cert"},
		{name: "cert by DNS SAN without CN", cert: "edge-san", want: "200 edge cert"},
		{name: "unknown cert", cert: "unknown", want: `403 forbidden: the client certificate (CN "intruder") matches no cluster's cert_names`},
		{name: "unknown cert, unauthenticated allowed", allow: true, cert: "unknown", want: `403 forbidden: the client certificate (CN "intruder") matches no cluster's cert_names`},
		{name: "unknown cert with valid token", cert: "unknown", authorization: "Bearer " + prodToken, want: `403 forbidden: the client certificate (CN "intruder") matches no cluster's cert_names`},
		{name: "cert naming two clusters", cert: "ambiguous", want: `403 forbidden: the client certificate names clusters "prod" and "staging"`},
		{name: "cert and token agree", cert: "prod", authorization: "Bearer " + prodToken, want: "200 prod cert"},
		{name: "cert and token disagree", cert: "prod", authorization: "Bearer " + stagingToken, want: `403 forbidden: the client certificate is for cluster "prod" but the token is for cluster "staging"`},
		{name: "cert and wrong token", cert: "prod", authorization: "Bearer wrong", want: "401 invalid credentials: unknown bearer token"},
		{name: "cert from another CA", cert: "other-ca", want: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(t, urls[tc.allow], serverCA.pool(), certs[tc.cert], tc.authorization)
			got := fmt.Sprintf("%d %s", status, body)
			if err != nil {
				got = "error"
			}
			if got != tc.want {
				t.Errorf("got %q, want %q (err %v)", got, tc.want, err)
			}
		})
	}
	assertNoSecret(t, logs.String(), prodToken, stagingToken)
}

func TestAuthenticateHeaders(t *testing.T) {
	a, err := New(config.Auth{Clusters: []config.Cluster{{Name: "prod", Token: prodToken}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Add("Authorization", "Bearer "+prodToken)
	r.Header.Add("Authorization", "Bearer "+prodToken)
	if _, err := a.Authenticate(r); !errors.Is(err, ErrBadCredentials) || HTTPStatus(err) != http.StatusUnauthorized {
		t.Errorf("two Authorization headers: got %v, want ErrBadCredentials", err)
	}
	// A certificate that the server did not verify proves nothing.
	r = httptest.NewRequest("POST", "https://vigil.example/", nil)
	r.TLS.PeerCertificates = []*x509.Certificate{newCA(t, "prod").cert}
	if _, err := a.Authenticate(r); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unverified certificate: got %v, want ErrBadCredentials", err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "token", []byte(prodToken+"\n"))
	var logs syncBuffer
	a, err := New(config.Auth{Clusters: []config.Cluster{{Name: "prod", TokenFile: file}}}, Options{Logger: bufferLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	check := func(tok, want string) {
		t.Helper()
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		id, err := a.Authenticate(r)
		got := id.Cluster + " " + id.Method
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("token %.8s…: got %q, want %q", tok, got, want)
		}
	}
	const rotated = "rotated-Mn4bV6cX8zL0kJ2hG4fD6sA8pO0iU2yT"
	check(prodToken, "prod token")
	writeFile(t, dir, "token", []byte(rotated))
	check(prodToken, "prod token") // not reloaded yet
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	check(rotated, "prod token")
	check(prodToken, "invalid credentials: unknown bearer token")

	// A bad file keeps the old token.
	for _, bad := range []string{"", " \n\t\n", prodToken + " " + rotated} {
		writeFile(t, dir, "token", []byte(bad))
		err := a.Reload()
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("Reload with %q: got %v, want an error naming %s", bad, err, file)
		}
		assertNoSecret(t, fmt.Sprint(err), prodToken, rotated)
		check(rotated, "prod token")
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of a removed file: got %v, want ErrNotExist", err)
	}
	check(rotated, "prod token")
	assertNoSecret(t, logs.String(), prodToken, rotated)
}

// TestNewErrors checks New's refusals and that none of them quotes a token.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", []byte("\n \n"))
	twoWords := writeFile(t, dir, "two", []byte(prodToken+"\n"+stagingToken+"\n"))
	big := writeFile(t, dir, "big", []byte(strings.Repeat(prodToken, 200)))
	prodFile := writeFile(t, dir, "prod", []byte(prodToken))
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		auth config.Auth
		want string
	}{
		{
			name: "no clusters",
			auth: config.Auth{},
			want: "auth: no clusters are configured and unauthenticated requests are not allowed, so every request would be refused",
		},
		{
			name: "empty token file",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: empty}}},
			want: `auth: cluster "a": token_file ` + empty + ": empty token",
		},
		{
			name: "missing token file",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: missing}}},
			want: `auth: cluster "a": read token_file: open ` + missing + ": no such file or directory",
		},
		{
			name: "two tokens in a file",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: twoWords}}},
			want: `auth: cluster "a": token_file ` + twoWords + ": the token has a space or a character that is not printable ASCII at byte " + fmt.Sprint(len(prodToken)),
		},
		{
			name: "huge token file",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: big}}},
			want: `auth: cluster "a": token_file ` + big + ": larger than 4096 bytes; a token file holds one line",
		},
		{
			name: "bad inline token",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", Token: "secret\x00" + prodToken}}},
			want: `auth: cluster "a": token: the token has a space or a character that is not printable ASCII at byte 6`,
		},
		{
			name: "same token twice",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: prodFile}, {Name: "b", Token: prodToken}}},
			want: `auth: clusters "a" and "b" have the same token`,
		},
		{
			name: "cert name claimed twice",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", Token: prodToken}, {Name: "b", Token: stagingToken, CertNames: []string{"a"}}}},
			want: `auth: certificate name "a" is claimed by clusters "a" and "b"`,
		},
		{
			name: "every error at once",
			auth: config.Auth{Clusters: []config.Cluster{{Name: "a", TokenFile: empty}, {Name: "b", Token: " "}}},
			want: `auth: cluster "a": token_file ` + empty + ": empty token\n" + `auth: cluster "b": token: empty token`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			_, err := New(tc.auth, Options{Logger: bufferLogger(&logs)})
			if err == nil {
				t.Fatalf("New succeeded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %q\nwant %q", err, tc.want)
			}
			assertNoSecret(t, err.Error()+fmt.Sprintf("%+v %#v", err, err)+logs.String(), prodToken, stagingToken, "secret")
		})
	}
}

func TestNewWarnings(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "token", []byte("x7Qp"))
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	_, err := New(config.Auth{AllowUnauthenticated: true, Clusters: []config.Cluster{{Name: "a", TokenFile: file}}},
		Options{Logger: bufferLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`msg="token file is readable by other users; chmod 600 it"`,
		`msg="a cluster's token is short`,
		`msg="requests without credentials are accepted" cluster=default`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
	assertNoSecret(t, logs.String(), "x7Qp")
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{ErrNoCredentials, 401},
		{fmt.Errorf("%w: x", ErrBadCredentials), 401},
		{fmt.Errorf("%w: x", ErrForbidden), 403},
		{errors.New("other"), 500},
	}
	for _, tc := range tests {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// assertNoSecret fails if s contains any of the secrets.
func assertNoSecret(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("a secret leaked: %q contains %.6s…", s, sec)
		}
	}
}
