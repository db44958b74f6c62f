package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeEmbeddedDefaults runs the README's command, `vigil serve` with
// no config, in an empty directory: it must serve, create a token, accept
// an EventList with it, print alerts on stdout, and stop cleanly.
func TestServeEmbeddedDefaults(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/reference/captured/audit-eventlist-*.json")
	if len(files) == 0 {
		t.Skip("no captured EventLists")
	}
	var bodies [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}, nil, &stdout, &stderr) }()
	addrRE := regexp.MustCompile(`msg="vigil serving" addr=(\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not serving: %s", stderr.String())
		}
	}
	token, err := os.ReadFile(filepath.Join("vigil-data", "token"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), strings.TrimSpace(string(token))) {
		t.Error("the token is in the log")
	}
	for _, body := range bodies {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/k8s-audit", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
	}
	// SIGHUP reloads the rules.
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "SIGHUP: reloading rules"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("SIGHUP did not reload the rules")
			break
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// Shutdown drains: the alerts are out before run returns.
	if !strings.Contains(stdout.String(), `"rule":"`) {
		t.Errorf("no alert on stdout; stderr:\n%s", stderr.String())
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listen: 0.0.0.0:8443\n"), 0o600)
	os.WriteFile(bad, []byte("listen: nowhere\nrules:\n  rule_matching: some\n  colour: red\n"), 0o600)
	for _, c := range []struct {
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{[]string{"config", "check", good}, exitOK, good + ": ok", nil},
		{[]string{"config", "check", bad}, exitError, "", []string{"bad.yaml:4", "colour"}},
		{[]string{"config", "check"}, exitUsage, "", []string{"usage"}},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), c.args, nil, &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.stdout) {
			t.Errorf("%v: exit %d, stdout %q", c.args, code, out.String())
		}
		for _, w := range c.stderr {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errb.String(), w)
			}
		}
	}
}
