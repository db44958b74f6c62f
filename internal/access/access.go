// Package access decides who may use Vigil's HTTP API and web UI, and with
// which role: UI users log in with a password (bcrypt hashes from the
// configuration) and get a signed session cookie; scripts send a bearer
// token; each identity has a role, viewer, responder or admin.
//
// Secrets never appear in this package's errors or logs. Tokens are kept
// as SHA-256 digests and compared in constant time; an unknown user name
// costs a bcrypt comparison like a known one, so timing reveals neither.
// Failed logins are limited per source address.
package access

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/config"
)

// Role is what an identity may do. Each role may do what the ones before
// it may.
type Role int

// The roles.
const (
	RoleNone      Role = iota // nothing
	RoleViewer                // read alerts, summaries, rules and cluster health
	RoleResponder             // and triage alerts: status, assignee, comments
	RoleAdmin                 // and enable or disable rules
)

var roleNames = [...]string{"none", "viewer", "responder", "admin"}

func (r Role) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "none"
}

// MarshalText renders the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	*r = v
	return err
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames[1:] {
		if s == n {
			return Role(i + 1), nil
		}
	}
	return RoleNone, fmt.Errorf("%q is not a role (viewer, responder or admin)", s)
}

// Principal is who made a request.
type Principal struct {
	Name   string `json:"user"`
	Role   Role   `json:"role"`
	Method string `json:"method"` // session, token or anonymous
}

// Can reports whether p has at least role r.
func (p Principal) Can(r Role) bool { return p.Role >= r }

// Errors Authenticate and Login return.
var (
	ErrNoCredentials  = errors.New("authentication required")
	ErrBadCredentials = errors.New("invalid credentials")
	ErrTooManyTries   = errors.New("too many failed logins; try again later")
)

// CookieName is the session cookie's name.
const CookieName = "vigil_session"

// AdminPasswordFile is, in the data directory, the first-run admin's
// password: made when the configuration has no users and no tokens.
const AdminPasswordFile = "admin-password"

// Login limits: after maxFailures failed logins from one source within
// failureWindow, further attempts from it are refused until the window
// has passed.
const (
	maxFailures   = 10
	failureWindow = 5 * time.Minute
	maxSources    = 10000 // sources remembered; past it the oldest go
)

// Options are an Access's configuration and dependencies.
type Options struct {
	Config  config.API
	DataDir string       // for the first-run admin and the default session key
	Logger  *slog.Logger // nil discards
	Now     func() time.Time
	// Secure marks session cookies Secure (the listener serves HTTPS).
	Secure bool
}

// user is a login: a bcrypt hash for configured users, or the digest of
// the first-run admin's random password (its 256 bits need no key
// stretching, and starting Vigil needs no bcrypt work).
type user struct {
	hash   []byte
	digest [sha256.Size]byte
	role   Role
}

type token struct {
	name   string
	digest [sha256.Size]byte
	role   Role
}

// Access authenticates API requests. Its methods may be called
// concurrently.
type Access struct {
	users     map[string]user
	tokens    []token
	anonymous Role
	key       []byte
	ttl       time.Duration
	secure    bool
	now       func() time.Time
	log       *slog.Logger
	dummyCost int // bcrypt cost of the configured users' hashes; 0 if none

	dummyOnce sync.Once
	dummy     []byte // a hash compared against for unknown users

	mu       sync.Mutex
	revoked  map[string]time.Time // session nonce → expiry
	failures map[string][]time.Time
}

// New loads the users, tokens and session key. Without users and tokens
// it creates (once) the user "admin" with a random password in
// DataDir/admin-password, and logs where it is.
func New(o Options) (*Access, error) {
	a := &Access{users: map[string]user{}, ttl: time.Duration(o.Config.SessionTTL), secure: o.Secure,
		now: o.Now, log: o.Logger, revoked: map[string]time.Time{}, failures: map[string][]time.Time{}}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.ttl <= 0 {
		a.ttl = 12 * time.Hour
	}
	c := o.Config
	for i, u := range c.Users {
		role, err := ParseRole(u.Role)
		if err != nil {
			return nil, fmt.Errorf("api.users[%d]: %w", i, err)
		}
		hash := string(u.PasswordHash)
		if u.PasswordHashFile != "" {
			if hash, err = auth.ReadTokenFile(u.PasswordHashFile); err != nil {
				return nil, fmt.Errorf("api.users[%d]: %w", i, err)
			}
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("api.users[%d] (%s): the password hash is not a bcrypt hash; make one with `vigil hash-password`", i, u.Name)
		}
		a.dummyCost = max(a.dummyCost, cost)
		a.users[u.Name] = user{hash: []byte(hash), role: role}
	}
	for i, t := range c.Tokens {
		role, err := ParseRole(t.Role)
		if err != nil {
			return nil, fmt.Errorf("api.tokens[%d]: %w", i, err)
		}
		tok := string(t.Token)
		if t.TokenFile != "" {
			if tok, err = auth.ReadTokenFile(t.TokenFile); err != nil {
				return nil, fmt.Errorf("api.tokens[%d]: %w", i, err)
			}
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("api.tokens[%d] (%s): the token is too short: use at least 16 random characters", i, t.Name)
		}
		a.tokens = append(a.tokens, token{name: t.Name, digest: sha256.Sum256([]byte(tok)), role: role})
	}
	if c.AnonymousRole != "" {
		var err error
		if a.anonymous, err = ParseRole(c.AnonymousRole); err != nil {
			return nil, fmt.Errorf("api.anonymous_role: %w", err)
		}
		a.log.Warn("the API and UI accept requests without credentials", "role", a.anonymous.String())
	}
	if len(c.Users) == 0 && len(c.Tokens) == 0 {
		if err := a.firstRunAdmin(o.DataDir); err != nil {
			return nil, err
		}
	}
	keyFile := c.SessionKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.DataDir, "session.key")
		if _, err := auth.EnsureSecretFile(keyFile); err != nil {
			return nil, fmt.Errorf("session key: %w", err)
		}
	}
	key, err := auth.ReadTokenFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("session key %s: shorter than 32 characters", keyFile)
	}
	a.key = []byte(key)
	return a, nil
}

func (a *Access) firstRunAdmin(dir string) error {
	path := filepath.Join(dir, AdminPasswordFile)
	created, err := auth.EnsureSecretFile(path)
	if err != nil {
		return fmt.Errorf("first-run admin password: %w", err)
	}
	pw, err := auth.ReadTokenFile(path)
	if err != nil {
		return fmt.Errorf("first-run admin password: %w", err)
	}
	a.users["admin"] = user{digest: sha256.Sum256([]byte(pw)), role: RoleAdmin}
	msg := "no API user configured: log in to the UI as \"admin\" with the password in this file"
	if created {
		msg = "no API user configured: created the UI user \"admin\"; its password is in this file (configure api.users to replace it)"
	}
	a.log.Warn(msg, "file", path)
	return nil
}

// HashPassword returns the bcrypt hash of a password, for api.users.
func HashPassword(pw string) (string, error) {
	if len(pw) < 8 {
		return "", errors.New("the password is too short: use at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// Login checks a user's password and returns a session cookie. source is
// the client's address, for the failed-login limit.
func (a *Access) Login(name, password, source string) (*http.Cookie, Principal, error) {
	at, ok := a.allowTry(source)
	if !ok {
		return nil, Principal{}, ErrTooManyTries
	}
	u, ok := a.users[name]
	if !a.checkPassword(u, ok, password) {
		a.log.Warn("failed UI login", "user", logName(name), "source", source)
		return nil, Principal{}, ErrBadCredentials
	}
	a.succeeded(source, at)
	exp := a.now().Add(a.ttl)
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, Principal{}, err
	}
	payload, _ := json.Marshal(session{User: name, Expires: exp.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	value := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(a.sign(payload))
	c := &http.Cookie{Name: CookieName, Value: value, Path: "/", Expires: exp, HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteStrictMode}
	return c, Principal{Name: name, Role: u.role, Method: "session"}, nil
}

// Logout revokes the session of r, if any, and returns the cookie that
// clears it.
func (a *Access) Logout(r *http.Request) *http.Cookie {
	if c, err := r.Cookie(CookieName); err == nil {
		if s, ok := a.verify(c.Value); ok {
			a.mu.Lock()
			a.revoked[s.Nonce] = time.Unix(s.Expires, 0)
			a.mu.Unlock()
		}
	}
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteStrictMode}
}

// checkPassword compares password with u's; for an unknown user (!known)
// it does the same work against a dummy, so that timing does not tell
// which names exist.
func (a *Access) checkPassword(u user, known bool, password string) bool {
	if !known {
		if a.dummyCost > 0 {
			a.dummyOnce.Do(func() {
				a.dummy, _ = bcrypt.GenerateFromPassword([]byte("vigil-dummy-password"), a.dummyCost)
			})
			_ = bcrypt.CompareHashAndPassword(a.dummy, []byte(password))
		} else {
			d := sha256.Sum256([]byte(password))
			_ = subtle.ConstantTimeCompare(d[:], u.digest[:])
		}
		return false
	}
	if u.hash != nil {
		return bcrypt.CompareHashAndPassword(u.hash, []byte(password)) == nil
	}
	d := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(d[:], u.digest[:]) == 1
}

type session struct {
	User    string `json:"u"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
}

func (a *Access) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(payload)
	return m.Sum(nil)
}

func (a *Access) verify(value string) (session, bool) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, a.sign(payload)) {
		return session{}, false
	}
	var s session
	if json.Unmarshal(payload, &s) != nil || a.now().Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

// Authenticate says who made r: a bearer token, then a session cookie,
// then the anonymous role if configured. The user's role is the one
// configured now, so a changed role applies to running sessions.
func (a *Access) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, ErrBadCredentials
		}
		d := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		found := -1
		for i := range a.tokens {
			if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
				found = i
			}
		}
		if found < 0 {
			return Principal{}, ErrBadCredentials
		}
		return Principal{Name: a.tokens[found].name, Role: a.tokens[found].role, Method: "token"}, nil
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		s, ok := a.verify(c.Value)
		if ok {
			a.mu.Lock()
			_, revoked := a.revoked[s.Nonce]
			a.mu.Unlock()
			u, known := a.users[s.User]
			if !revoked && known {
				return Principal{Name: s.User, Role: u.role, Method: "session"}, nil
			}
		}
		if a.anonymous == RoleNone {
			return Principal{}, ErrBadCredentials
		}
	}
	if a.anonymous != RoleNone {
		return Principal{Name: "anonymous", Role: a.anonymous, Method: "anonymous"}, nil
	}
	return Principal{}, ErrNoCredentials
}

// allowTry reports whether source may try to log in and, if so, counts
// the try as a failure until succeeded says otherwise: concurrent tries
// cannot all pass the limit before one is counted. It also forgets
// expired failures and revocations.
func (a *Access) allowTry(source string) (time.Time, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for n, exp := range a.revoked {
		if now.After(exp) {
			delete(a.revoked, n)
		}
	}
	f := a.failures[source]
	i := 0
	for i < len(f) && now.Sub(f[i]) > failureWindow {
		i++
	}
	f = f[i:]
	if len(f) >= maxFailures {
		a.failures[source] = f
		return time.Time{}, false
	}
	if len(f) == 0 {
		delete(a.failures, source)
		if len(a.failures) >= maxSources {
			for k := range a.failures { // drop an arbitrary source: bounded memory
				delete(a.failures, k)
				break
			}
		}
	}
	a.failures[source] = append(f, now)
	return now, true
}

// succeeded uncounts the try allowTry counted at at.
func (a *Access) succeeded(source string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[source]
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Equal(at) {
			f = append(f[:i:i], f[i+1:]...)
			break
		}
	}
	if len(f) == 0 {
		delete(a.failures, source)
	} else {
		a.failures[source] = f
	}
}

// logName bounds a user name typed at the login for the log: people
// sometimes type their password there, and a body may hold 64 KiB.
func logName(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// AdminPassword reads the first-run admin's password (tests and the
// README's first steps).
func AdminPassword(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, AdminPasswordFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
