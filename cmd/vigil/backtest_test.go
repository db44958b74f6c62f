package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/sqlite"
)

// TestRulesBacktest fills a real sqlite store through its EventStore with
// an hour of events ending two hours ago, then backtests a candidate rules
// file against it through the command, as a user would.
func TestRulesBacktest(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "alerts.db")
	now := time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)
	start := now.Add(-3 * time.Hour)
	s, err := sqlite.New(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	g := corpus.New(corpus.Options{Seed: 3, Start: start, RiskyRate: 0.2})
	var batch []store.Event
	var buf []byte
	for i := range 5000 {
		buf = g.Next(buf[:0])
		e, ok := store.NewEvent(slices.Clone(buf), "prod", "webhook")
		if !ok {
			t.Fatalf("event %d", i)
		}
		batch = append(batch, e)
	}
	if err := s.AddEvents(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\nstore:\n  driver: sqlite\n  path: %s\n  keep_events: true\n", dir, dbPath)), 0o644); err != nil {
		t.Fatal(err)
	}
	candidate := filepath.Join(dir, "candidate.yaml")
	if err := os.WriteFile(candidate, []byte(`
- rule: Pod Deleted
  desc: a pod deleted by anyone
  condition: ka.verb = delete and ka.target.resource = pods and ka.stage = ResponseComplete
  output: "pod deleted (user=%ka.user.name pod=%ka.target.namespace/%ka.target.name)"
  priority: NOTICE
  source: k8s_audit
- rule: Many Pod Deletes
  desc: ten pods deleted by one user within a minute
  condition: ka.verb = delete and ka.target.resource = pods and ka.stage = ResponseComplete
  output: "%vigil.count pod deletes by %ka.user.name"
  priority: WARNING
  source: k8s_audit
  vigil:
    threshold: {count: 10, window: 1m, by: [ka.user.name]}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := rulesBacktest(context.Background(), args, now, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("--config", cfg, "--rules", candidate, "--since", "24h", "--output-format", "text", "--max-alerts", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 8 || !strings.Contains(lines[0], "pod deleted (user=") {
		t.Fatalf("output:\n%s", out)
	}
	if !strings.Contains(out, "5000 events from 2026-03-10T12:00:00Z to 2026-03-11T12:00:00Z:") || !strings.Contains(out, "(3 printed)") {
		t.Errorf("summary missing:\n%s", out)
	}
	if !strings.Contains(out, " Pod Deleted") || !strings.Contains(out, " Many Pod Deletes") {
		t.Errorf("per-rule counts missing (the threshold rule too):\n%s", out)
	}

	// Before the events: nothing.
	code, out, errs = run("--config", cfg, "--rules", candidate, "--since", "24h", "--until", "4h")
	if code != 0 || !strings.HasPrefix(out, "0 events from ") {
		t.Errorf("exit %d, output %q, stderr %s", code, out, errs)
	}
	// Another cluster: nothing.
	if code, out, _ = run("--config", cfg, "--rules", candidate, "--cluster", "staging"); code != 0 || !strings.HasPrefix(out, "0 events") {
		t.Errorf("--cluster staging: exit %d, %q", code, out)
	}

	// It wrote nothing: no alert in the store, the same events.
	s, err = sqlite.New(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st, err := s.Stats(context.Background()); err != nil || st.Count != 0 {
		t.Errorf("alerts in the store after a backtest: %+v, %v", st, err)
	}
	if st, err := s.EventStats(context.Background()); err != nil || st.Count != 5000 {
		t.Errorf("events in the store: %+v, %v", st, err)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"no config", []string{"--rules", candidate}, exitUsage},
		{"bad since", []string{"--config", cfg, "--since", "yesterday"}, exitUsage},
		{"since after until", []string{"--config", cfg, "--since", "1h", "--until", "2h"}, exitUsage},
		{"no database", []string{"--config", writeFile(t, dir, "missing.yaml", "data_dir: "+dir+"\nstore:\n  path: "+filepath.Join(dir, "nope.db")+"\n")}, exitError},
	} {
		if code, _, _ := run(tc.args...); code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.name, code, tc.code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("backtest created a database")
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
