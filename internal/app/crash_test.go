package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/wal"
)

// The crash test runs the server in a child process (this test binary,
// re-executed) so that it can be killed with SIGKILL.
const childEnv = "VIGIL_APP_TEST_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(runChild(path))
	}
	os.Exit(m.Run())
}

// runChild serves with the config file at path until SIGTERM, and writes
// its address to <data_dir>/addr once it listens.
func runChild(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := config.LoadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := New(ctx, Options{Config: cfg})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp := filepath.Join(cfg.DataDir, "addr.tmp")
	os.WriteFile(tmp, []byte(a.Addr()), 0o600)
	os.Rename(tmp, filepath.Join(cfg.DataDir, "addr"))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type child struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
}

func startChild(t *testing.T, cfgPath, dataDir string) *child {
	t.Helper()
	os.Remove(filepath.Join(dataDir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dataDir, "addr")); err == nil {
			return &child{cmd: cmd, addr: string(b), stderr: &stderr}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCrashExactlyOnce: under a steady webhook load, the server is killed
// with SIGKILL and restarted several times. Senders behave like the API
// server: they resend a batch until it is acknowledged. In the end every
// event that should alert has exactly one alert in the journal: none is
// lost, none is duplicated, though batches were resent and the evaluator
// was killed mid-way. Outputs get every alert at least once.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: several process restarts")
	}
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	alertsFile := filepath.Join(dir, "alerts.jsonl")
	cfgPath := filepath.Join(dir, "vigil.yaml")
	cfgText := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
auth:
  clusters:
    - name: prod
      token: %s
ingest:
  wal_segment_bytes: 1MiB
  wal_max_bytes: 256MiB
store:
  driver: none      # not the subject here; it would only slow the drain
outputs:
  - type: file
    path: %s
`, dataDir, testToken, alertsFile)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	// 1000 batches of 40 events; every fourth event deletes a namespace and
	// raises exactly one alert.
	const batches, perBatch = 1000, 40
	var bodies [][]byte
	want := map[string]bool{}
	for b := 0; b < batches; b++ {
		var items []string
		for e := 0; e < perBatch; e++ {
			id := fmt.Sprintf("b%03d-e%02d", b, e)
			if e%4 == 0 {
				items = append(items, nsDelete(id))
				want[id] = true
			} else {
				items = append(items, strings.Replace(strings.Replace(nsDelete(id), `"verb":"delete"`, `"verb":"get"`, 1), `/api/v1/namespaces/demo`, `/api/v1/namespaces/demo/pods`, 1))
			}
		}
		bodies = append(bodies, eventList(items...))
	}

	var addr atomic.Pointer[string]
	var next atomic.Int64
	var acked, resent atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 3; w++ {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= batches {
					return
				}
				for try := 0; ; try++ {
					if try > 0 {
						resent.Add(1)
						time.Sleep(20 * time.Millisecond)
					}
					a := addr.Load()
					if a == nil {
						continue
					}
					req, _ := http.NewRequest(http.MethodPost, "http://"+*a+"/k8s-audit", bytes.NewReader(bodies[b]))
					req.Header.Set("Authorization", "Bearer "+testToken)
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						acked.Add(1)
						break
					}
				}
				time.Sleep(5 * time.Millisecond) // a steady load, not a burst
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	kills := 0
	for ; ; kills++ {
		c := startChild(t, cfgPath, dataDir)
		addr.Store(&c.addr)
		select {
		case <-done:
		case <-time.After(time.Duration(150+kills*97%300) * time.Millisecond):
		}
		select {
		case <-done:
			// All acknowledged: stop gracefully.
			c.cmd.Process.Signal(syscall.SIGTERM)
			if err := c.cmd.Wait(); err != nil {
				t.Fatalf("graceful stop: %v\n%s", err, c.stderr.String())
			}
		default:
			addr.Store(nil)
			c.cmd.Process.Kill()
			c.cmd.Wait()
			continue
		}
		break
	}
	if kills < 3 {
		t.Errorf("only %d kills: the load finished too early to test anything", kills)
	}
	t.Logf("%d SIGKILLs, %d batches acknowledged, %d resends", kills, acked.Load(), resent.Load())

	// Count the journal's alerts by auditID.
	jl, err := wal.Open(wal.Options{Dir: filepath.Join(dataDir, "alerts"), SegmentSize: journalSegment, MaxBytes: journalMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	defer jl.Close()
	count := map[string]int{}
	r := jl.NewReader(wal.Pos{})
	for {
		rec, err := r.Next(nonBlockingCtx())
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		jr, err := journal.Unmarshal(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range jr.Alerts {
			count[a.AuditID]++
		}
	}
	r.Close()
	for id := range want {
		if count[id] != 1 {
			t.Errorf("event %s: %d alerts, want exactly 1", id, count[id])
		}
	}
	for id, n := range count {
		if !want[id] {
			t.Errorf("unexpected alert for %s (%d)", id, n)
		}
	}

	// The file output: at least once.
	f, err := os.Open(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	delivered := map[string]bool{}
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct {
			OutputFields map[string]any `json:"output_fields"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alerts file line %d: %v", lines+1, err)
		}
		lines++
		delivered[fmt.Sprint(a.OutputFields["ka.target.name"], a.OutputFields["evt.time"])] = true
	}
	if lines < len(want) {
		t.Errorf("file output has %d alerts, want at least %d", lines, len(want))
	}
	t.Logf("%d alerts journalled exactly once; file output: %d lines", len(want), lines)
}

func nonBlockingCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
