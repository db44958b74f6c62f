package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vigilsec/vigil/internal/config"
)

// DefaultCluster is the cluster of the first-run token and, unless
// configured otherwise, of unauthenticated requests.
const DefaultCluster = "default"

// TokenFileName is the name of the first-run token file in the data
// directory.
const TokenFileName = "token"

// maxTokenFile bounds how much of a token file is read: a token is a line,
// and a large file is the wrong file.
const maxTokenFile = 4 << 10

// NeedsToken reports whether `vigil serve` must create a first-run token:
// no cluster is configured and unauthenticated requests are not allowed.
func NeedsToken(a config.Auth) bool {
	return len(a.Clusters) == 0 && !a.AllowUnauthenticated
}

// EnsureToken returns the path of the first-run token file, dir/token,
// creating dir (mode 0700) and the file if needed. A new file holds a
// random 32-byte token, base64url-encoded, and has mode 0600; it is written
// to a temporary file and linked into place, so no reader ever sees it
// half-written and two concurrent callers agree on one token. An existing
// file is reused if it holds a valid token. created says whether this call
// made the file. The token goes in the file only; the caller configures
// cluster DefaultCluster with token_file set to path.
func EnsureToken(dir string) (path string, created bool, err error) {
	path = filepath.Join(dir, TokenFileName)
	created, err = EnsureSecretFile(path)
	return path, created, err
}

// EnsureSecretFile makes path hold a random secret (32 bytes,
// base64url-encoded, one line, mode 0600) unless it already holds a valid
// one, with EnsureToken's guarantees, and says whether it created it.
// Read the secret with ReadTokenFile.
func EnsureSecretFile(path string) (created bool, err error) {
	dir := filepath.Dir(path)
	if _, err := readTokenFile(path, nil); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("create token directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return false, fmt.Errorf("generate token: %w", err)
	}
	f, err := os.CreateTemp(dir, ".token-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("create token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = io.WriteString(f, base64.RawURLEncoding.EncodeToString(raw)+"\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("write token file %s: %w", tmp, err)
	}
	// Link, unlike rename, never replaces a file that another process
	// created meanwhile.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		if _, err := readTokenFile(path, nil); err != nil {
			return false, err
		}
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("create token file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new name durable; best effort
		d.Close()
	}
	return true, nil
}

// ReadTokenFile reads the token or secret in path, trimmed of surrounding
// white space; its errors name the file, never its content.
func ReadTokenFile(path string) (string, error) { return readTokenFile(path, nil) }

// readTokenFile reads the token in path, trimmed of surrounding white
// space. Its errors name the file, never its content. If logger is not nil
// it warns about a file that others may read.
func readTokenFile(path string, logger *slog.Logger) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read token_file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if fi.IsDir() {
			return "", fmt.Errorf("read token_file %s: is a directory", path)
		}
		if logger != nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("token file is readable by other users; chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read token_file %s: %w", path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("token_file %s: larger than %d bytes; a token file holds one line", path, maxTokenFile)
	}
	tok := strings.TrimSpace(string(b))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("token_file %s: %w", path, err)
	}
	return tok, nil
}

// checkToken refuses a token that cannot be sent as a bearer token. Its
// errors never quote the token.
func checkToken(tok string) error {
	if tok == "" {
		return errors.New("empty token")
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("the token has a space or a character that is not printable ASCII at byte %d", i)
		}
	}
	return nil
}
