package access

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vigilsec/vigil/internal/config"
)

// cheapHash hashes at bcrypt's lowest cost: the tests check logic, not
// key stretching, and run under the race detector.
func cheapHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestHashPassword(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Error("a 5-character password was hashed")
	}
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost([]byte(h)); err != nil || c != bcrypt.DefaultCost {
		t.Errorf("cost %d, %v", c, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse")) != nil {
		t.Error("the hash does not match its password")
	}
}

func newAccess(t *testing.T, c config.API, now *time.Time) *Access {
	t.Helper()
	a, err := New(Options{Config: c, DataDir: t.TempDir(), Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func request(c *http.Cookie, bearer string) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/me", nil)
	if c != nil {
		r.AddCookie(c)
	}
	if bearer != "" {
		r.Header.Set("Authorization", bearer)
	}
	return r
}

func TestLoginAndTokens(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	hash := cheapHash(t, "correct horse")
	a := newAccess(t, config.API{
		Users:      []config.APIUser{{Name: "alice", PasswordHash: config.Secret(hash), Role: "responder"}},
		Tokens:     []config.APIToken{{Name: "soar", Token: "0123456789abcdef-token", Role: "viewer"}},
		SessionTTL: config.Duration(time.Hour),
	}, &now)

	c, p, err := a.Login("alice", "correct horse", "10.0.0.1")
	if err != nil || p.Role != RoleResponder || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %v %+v %+v", err, p, c)
	}
	tests := []struct {
		name   string
		cookie *http.Cookie
		bearer string
		want   Principal
		err    error
	}{
		{"session", c, "", Principal{Name: "alice", Role: RoleResponder, Method: "session"}, nil},
		{"token", nil, "Bearer 0123456789abcdef-token", Principal{Name: "soar", Role: RoleViewer, Method: "token"}, nil},
		{"bad token", nil, "Bearer nope", Principal{}, ErrBadCredentials},
		{"basic scheme", nil, "Basic YWxpY2U6eA==", Principal{}, ErrBadCredentials},
		{"nothing", nil, "", Principal{}, ErrNoCredentials},
		{"tampered", &http.Cookie{Name: CookieName, Value: strings.Replace(c.Value, ".", "x.", 1)}, "", Principal{}, ErrBadCredentials},
		{"garbage", &http.Cookie{Name: CookieName, Value: "a.b.c"}, "", Principal{}, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.Authenticate(request(tt.cookie, tt.bearer))
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, err, tt.want, tt.err)
			}
		})
	}

	// Wrong passwords and unknown users fail alike.
	for _, try := range [][2]string{{"alice", "wrong"}, {"mallory", "correct horse"}} {
		if _, _, err := a.Login(try[0], try[1], "10.0.0.2"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("login %s: %v", try[0], err)
		}
	}
	// Logout revokes the session.
	lr := request(c, "")
	if clear := a.Logout(lr); clear.MaxAge >= 0 {
		t.Errorf("logout cookie %+v does not clear", clear)
	}
	if _, err := a.Authenticate(request(c, "")); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("after logout: %v", err)
	}
	// Sessions expire.
	c2, _, err := a.Login("alice", "correct horse", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := a.Authenticate(request(c2, "")); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("expired session: %v", err)
	}
}

func TestLoginLimit(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	hash := cheapHash(t, "correct horse")
	a := newAccess(t, config.API{Users: []config.APIUser{{Name: "alice", PasswordHash: config.Secret(hash), Role: "admin"}}}, &now)
	for i := range maxFailures {
		if _, _, err := a.Login("alice", "guess", "198.51.100.7"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if _, _, err := a.Login("alice", "correct horse", "198.51.100.7"); !errors.Is(err, ErrTooManyTries) {
		t.Fatalf("after %d failures: %v", maxFailures, err)
	}
	if _, _, err := a.Login("alice", "correct horse", "198.51.100.8"); err != nil {
		t.Fatalf("another source is not limited: %v", err)
	}
	now = now.Add(failureWindow + time.Second)
	if _, _, err := a.Login("alice", "correct horse", "198.51.100.7"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestFirstRunAdmin(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := AdminPassword(dir)
	if err != nil || len(pw) < 32 {
		t.Fatalf("admin password: %q %v", pw, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, AdminPasswordFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin password file: %v %v", fi.Mode(), err)
	}
	if _, p, err := a.Login("admin", pw, "127.0.0.1"); err != nil || p.Role != RoleAdmin {
		t.Fatalf("admin login: %+v %v", p, err)
	}
	// A second start reuses the password and the session key: a session
	// survives a restart.
	c, _, _ := a.Login("admin", pw, "127.0.0.1")
	b, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if pw2, _ := AdminPassword(dir); pw2 != pw {
		t.Fatal("the password changed on restart")
	}
	if p, err := b.Authenticate(request(c, "")); err != nil || p.Name != "admin" {
		t.Fatalf("session after restart: %+v %v", p, err)
	}
	// Configured users replace the first-run admin.
	hash := cheapHash(t, "correct horse")
	d, err := New(Options{DataDir: dir, Config: config.API{Users: []config.APIUser{{Name: "alice", PasswordHash: config.Secret(hash), Role: "viewer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Login("admin", pw, "127.0.0.1"); err == nil {
		t.Fatal("the first-run admin still logs in with users configured")
	}
}

func TestAnonymousAndBadConfig(t *testing.T) {
	now := time.Now()
	a := newAccess(t, config.API{AnonymousRole: "viewer", Tokens: []config.APIToken{{Name: "x", Token: "0123456789abcdef0", Role: "admin"}}}, &now)
	if p, err := a.Authenticate(request(nil, "")); err != nil || p.Role != RoleViewer || p.Method != "anonymous" {
		t.Fatalf("anonymous: %+v %v", p, err)
	}
	if p, _ := a.Authenticate(request(nil, "Bearer 0123456789abcdef0")); p.Role != RoleAdmin {
		t.Fatalf("token beats anonymous: %+v", p)
	}
	secret := "not-a-bcrypt-hash-but-a-plain-password"
	_, err := New(Options{DataDir: t.TempDir(), Config: config.API{Users: []config.APIUser{{Name: "bob", PasswordHash: config.Secret(secret), Role: "viewer"}}}})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "hash-password") {
		t.Fatalf("bad hash: %v", err)
	}
	_, err = New(Options{DataDir: t.TempDir(), Config: config.API{Tokens: []config.APIToken{{Name: "t", Token: "short", Role: "viewer"}}}})
	if err == nil || strings.Contains(err.Error(), "short\"") {
		t.Fatalf("short token: %v", err)
	}
	if _, err := ParseRole("root"); err == nil {
		t.Fatal("ParseRole(root)")
	}
}

// Concurrent guesses must not pass the limit: each is counted before its
// password is compared, not after.
func TestLoginLimitConcurrent(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 8) // slow enough for guesses to overlap
	if err != nil {
		t.Fatal(err)
	}
	a := newAccess(t, config.API{Users: []config.APIUser{{Name: "alice", PasswordHash: config.Secret(h), Role: "admin"}}}, &now)
	const tries = 5 * maxFailures
	start := make(chan struct{})
	errs := make(chan error, tries)
	for range tries {
		go func() {
			<-start
			_, _, err := a.Login("alice", "guess", "198.51.100.7")
			errs <- err
		}()
	}
	close(start)
	checked := 0
	for range tries {
		if errors.Is(<-errs, ErrBadCredentials) {
			checked++
		}
	}
	if checked > maxFailures {
		t.Errorf("%d concurrent guesses had their password compared; the limit is %d", checked, maxFailures)
	}
	if _, _, err := a.Login("alice", "correct horse", "198.51.100.7"); !errors.Is(err, ErrTooManyTries) {
		t.Errorf("after the guesses: %v", err)
	}
	// A successful login does not count as a failure.
	if _, _, err := a.Login("alice", "correct horse", "198.51.100.8"); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	n := len(a.failures["198.51.100.8"])
	a.mu.Unlock()
	if n != 0 {
		t.Errorf("a successful login left %d failures", n)
	}
}

func TestLogName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice", "alice"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{strings.Repeat("y", 65000), strings.Repeat("y", 64) + "…"},
	} {
		if got := logName(tt.in); got != tt.want {
			t.Errorf("logName(%d bytes) = %d bytes", len(tt.in), len(got))
		}
	}
}
