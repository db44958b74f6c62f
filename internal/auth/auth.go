// Package auth authenticates ingest requests and says which cluster sent
// them: by bearer token, by verified client certificate, or (only when the
// configuration allows it) by neither. It also serves the HTTPS certificate
// and client CA, reloading them when their files change (tls.go), and
// creates the first-run token (token.go).
//
// Secrets never appear in this package's errors or logs. Tokens are kept
// only as SHA-256 digests and a presented token is compared, in constant
// time, with every cluster's digest, so timing does not reveal which
// cluster, if any, it nearly matched.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/vigilsec/vigil/internal/config"
)

// Identity is who sent a request.
type Identity struct {
	Cluster string // the cluster stamped on the request's events
	Method  string // MethodToken, MethodCert or MethodNone
}

// The values of Identity.Method. A request with both a client certificate
// and a bearer token that agree is MethodCert.
const (
	MethodToken = "token" // a bearer token
	MethodCert  = "cert"  // a verified client certificate
	MethodNone  = "none"  // no credentials, allowed by auth.allow_unauthenticated
)

// Errors returned by Authenticate, possibly wrapped with a reason that names
// no secret; test them with errors.Is. HTTPStatus maps them to a status.
var (
	// ErrNoCredentials means the request carried neither a token nor a
	// client certificate, and unauthenticated requests are not allowed.
	ErrNoCredentials = errors.New("no credentials")
	// ErrBadCredentials means the request carried a credential that is not
	// valid: an unknown token or a malformed Authorization header.
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrForbidden means the request carried a verified client certificate
	// that maps to no cluster (or to two), or that disagrees with the
	// request's token about the cluster.
	ErrForbidden = errors.New("forbidden")
)

// HTTPStatus returns the HTTP status for an error from Authenticate: 401 for
// missing or invalid credentials, 403 for ErrForbidden, 200 for nil and 500
// for anything else.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNoCredentials), errors.Is(err, ErrBadCredentials):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// Options are an Authenticator's dependencies.
type Options struct {
	Logger *slog.Logger // warnings about the configuration and reload results; nil discards
}

// Authenticator checks the credentials of ingest requests. Authenticate and
// Reload may be called concurrently.
type Authenticator struct {
	logger        *slog.Logger
	allowUnauth   bool                       // accept requests without credentials
	unauthCluster string                     // the cluster of such requests
	clusters      []config.Cluster           // as configured, for Reload
	certNames     map[string]string          // certificate CN or DNS SAN → cluster
	tokens        atomic.Pointer[tokenTable] // swapped whole by Reload
}

// minTokenLen is the token length below which New and Reload warn.
const minTokenLen = 16

// tokenTable is an immutable set of token digests, each with its cluster.
type tokenTable struct {
	digests  [][sha256.Size]byte
	clusters []string // clusters[i] owns digests[i]
}

// New builds an Authenticator from the auth configuration and reads every
// token_file. Its errors name files and clusters, never a token.
func New(a config.Auth, opts Options) (*Authenticator, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(a.Clusters) == 0 && !a.AllowUnauthenticated {
		return nil, errors.New("auth: no clusters are configured and unauthenticated requests are not allowed, so every request would be refused")
	}
	au := &Authenticator{
		logger:        logger,
		allowUnauth:   a.AllowUnauthenticated,
		unauthCluster: a.UnauthenticatedCluster,
		clusters:      append([]config.Cluster(nil), a.Clusters...),
		certNames:     map[string]string{},
	}
	if au.unauthCluster == "" {
		au.unauthCluster = DefaultCluster
	}
	var errs []error
	for _, c := range a.Clusters {
		if c.Name == "" {
			errs = append(errs, errors.New("auth: a cluster has no name"))
			continue
		}
		names := c.CertNames
		if len(names) == 0 {
			names = []string{c.Name}
		}
		for _, n := range names {
			if other, ok := au.certNames[n]; ok && other != c.Name {
				errs = append(errs, fmt.Errorf("auth: certificate name %q is claimed by clusters %q and %q", n, other, c.Name))
				continue
			}
			au.certNames[n] = c.Name
		}
	}
	t, err := au.loadTokens()
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	au.tokens.Store(t)
	if au.allowUnauth {
		logger.Warn("requests without credentials are accepted", "cluster", au.unauthCluster)
	}
	return au, nil
}

// Reload re-reads every token_file and swaps in the new tokens. On any
// error it keeps all the old tokens and returns the error, which names the
// file but not the token. It is meant for SIGHUP.
func (a *Authenticator) Reload() error {
	t, err := a.loadTokens()
	if err != nil {
		return err
	}
	a.tokens.Store(t)
	a.logger.Info("tokens reloaded", "tokens", len(t.digests))
	return nil
}

// loadTokens reads each cluster's token and refuses two clusters with the
// same token, since the token would not say which cluster sent a request.
func (a *Authenticator) loadTokens() (*tokenTable, error) {
	t := &tokenTable{}
	owner := map[[sha256.Size]byte]string{}
	var errs []error
	for _, c := range a.clusters {
		var tok string
		switch {
		case c.TokenFile != "":
			var err error
			tok, err = readTokenFile(c.TokenFile, a.logger)
			if err != nil {
				errs = append(errs, fmt.Errorf("auth: cluster %q: %w", c.Name, err))
				continue
			}
		case c.Token != "":
			tok = strings.TrimSpace(string(c.Token))
			if err := checkToken(tok); err != nil {
				errs = append(errs, fmt.Errorf("auth: cluster %q: token: %w", c.Name, err))
				continue
			}
		default:
			continue // certificates only
		}
		if len(tok) < minTokenLen {
			a.logger.Warn("a cluster's token is short and may be guessed; use at least 32 random bytes", "cluster", c.Name, "min_length", minTokenLen)
		}
		d := sha256.Sum256([]byte(tok))
		if other, ok := owner[d]; ok {
			errs = append(errs, fmt.Errorf("auth: clusters %q and %q have the same token", other, c.Name))
			continue
		}
		owner[d] = c.Name
		t.digests = append(t.digests, d)
		t.clusters = append(t.clusters, c.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// lookup returns the cluster whose token is tok. It compares tok's digest
// with every digest, whatever matches, so that its time depends only on
// the number of tokens.
func (t *tokenTable) lookup(tok string) (string, bool) {
	d := sha256.Sum256([]byte(tok))
	match := 0 // index+1 of the matching digest; digests are unique
	for i := range t.digests {
		eq := subtle.ConstantTimeCompare(d[:], t.digests[i][:])
		match = subtle.ConstantTimeSelect(eq, i+1, match)
	}
	if match == 0 {
		return "", false
	}
	return t.clusters[match-1], true
}

// Authenticate says which cluster sent r. A verified client certificate
// names its cluster through cert_names; a bearer token names the cluster
// it belongs to; when both are present they must agree. Without either, the
// request is the unauthenticated cluster's if that is allowed.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	certCluster, hasCert, err := a.certCluster(r.TLS)
	if err != nil {
		return Identity{}, err
	}
	tok, hasToken, err := bearer(r.Header)
	if err != nil {
		return Identity{}, err
	}
	var tokCluster string
	if hasToken {
		var ok bool
		if tokCluster, ok = a.tokens.Load().lookup(tok); !ok {
			return Identity{}, fmt.Errorf("%w: unknown bearer token", ErrBadCredentials)
		}
	}
	switch {
	case hasCert && hasToken:
		if certCluster != tokCluster {
			return Identity{}, fmt.Errorf("%w: the client certificate is for cluster %q but the token is for cluster %q", ErrForbidden, certCluster, tokCluster)
		}
		return Identity{Cluster: certCluster, Method: MethodCert}, nil
	case hasCert:
		return Identity{Cluster: certCluster, Method: MethodCert}, nil
	case hasToken:
		return Identity{Cluster: tokCluster, Method: MethodToken}, nil
	case a.allowUnauth:
		return Identity{Cluster: a.unauthCluster, Method: MethodNone}, nil
	}
	return Identity{}, ErrNoCredentials
}

// certCluster maps the verified client certificate of a connection, if it
// has one, to a cluster by its subject common name or any DNS SAN.
func (a *Authenticator) certCluster(cs *tls.ConnectionState) (cluster string, ok bool, err error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "", false, nil
	}
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		// Only a server that requests certificates without verifying them
		// gets here; such a certificate proves nothing.
		return "", false, fmt.Errorf("%w: the client certificate was not verified", ErrBadCredentials)
	}
	leaf := cs.VerifiedChains[0][0]
	names := leaf.DNSNames
	if cn := leaf.Subject.CommonName; cn != "" {
		names = append([]string{cn}, names...)
	}
	for _, n := range names {
		c, found := a.certNames[n]
		if !found {
			continue
		}
		if cluster != "" && cluster != c {
			return "", false, fmt.Errorf("%w: the client certificate names clusters %q and %q", ErrForbidden, cluster, c)
		}
		cluster = c
	}
	if cluster == "" {
		return "", false, fmt.Errorf("%w: the client certificate (CN %q) matches no cluster's cert_names", ErrForbidden, leaf.Subject.CommonName)
	}
	return cluster, true, nil
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
// Its errors never quote the header.
func bearer(h http.Header) (tok string, ok bool, err error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, fmt.Errorf("%w: more than one Authorization header", ErrBadCredentials)
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, fmt.Errorf("%w: the Authorization header is not a bearer token", ErrBadCredentials)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false, fmt.Errorf("%w: empty bearer token", ErrBadCredentials)
	}
	return tok, true, nil
}
