package auth

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vigilsec/vigil/internal/config"
)

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`) // 32 bytes, base64url without padding

func TestEnsureToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path, created, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "token") || !created {
		t.Errorf("EnsureToken = %s, %v; want %s, true", path, created, filepath.Join(dir, "token"))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !tokenRE.Match(first) {
		t.Errorf("token file holds %d bytes, not a base64url 32-byte token", len(first))
	}

	// The second run reuses it.
	path2, created, err := EnsureToken(dir)
	if err != nil || path2 != path || created {
		t.Errorf("second EnsureToken = %s, %v, %v; want %s, false, nil", path2, created, err, path)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("the second EnsureToken changed the token")
	}

	// The token authenticates cluster "default".
	a, err := New(config.Auth{Clusters: []config.Cluster{{Name: DefaultCluster, TokenFile: path}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(first)))
	if id, err := a.Authenticate(r); err != nil || id != (Identity{Cluster: "default", Method: "token"}) {
		t.Errorf("Authenticate = %+v, %v; want default by token", id, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".token-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestEnsureTokenBadFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(path string) error
		want  string
	}{
		{name: "empty file", setup: func(p string) error { return os.WriteFile(p, []byte("\n"), 0o600) }, want: "token_file %s: empty token"},
		{name: "directory", setup: func(p string) error { return os.Mkdir(p, 0o700) }, want: "read token_file %s: is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "token")
			if err := tc.setup(path); err != nil {
				t.Fatal(err)
			}
			_, _, err := EnsureToken(dir)
			if want := strings.ReplaceAll(tc.want, "%s", path); err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
		})
	}
}

// TestEnsureTokenConcurrent checks that concurrent first runs agree on one
// token and exactly one of them creates it.
func TestEnsureTokenConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, created[i], errs[i] = EnsureToken(dir) })
	}
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("EnsureToken %d: %v", i, errs[i])
		}
		if created[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d calls created the token, want 1", count)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "token" {
		t.Errorf("dir holds %v, want only the token", entries)
	}
}

func TestNeedsToken(t *testing.T) {
	tests := []struct {
		name string
		auth config.Auth
		want bool
	}{
		{name: "nothing configured", auth: config.Auth{}, want: true},
		{name: "unauthenticated allowed", auth: config.Auth{AllowUnauthenticated: true}, want: false},
		{name: "a cluster", auth: config.Auth{Clusters: []config.Cluster{{Name: "prod"}}}, want: false},
	}
	for _, tc := range tests {
		if got := NeedsToken(tc.auth); got != tc.want {
			t.Errorf("%s: NeedsToken = %v, want %v", tc.name, got, tc.want)
		}
	}
}
