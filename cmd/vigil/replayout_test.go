package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayToOutputs: replay --config sends the alerts through the
// configured outputs (here a file with a priority filter), and only there.
func TestReplayToOutputs(t *testing.T) {
	input := "../../../shared/reference/captured/audit-log.jsonl"
	if _, err := os.Stat(input); err != nil {
		t.Skip(err)
	}
	var plain, errb bytes.Buffer
	if code := run(context.Background(), []string{"replay", "--output-format", "json", input}, nil, &plain, &errb); code != exitOK {
		t.Fatalf("replay: %d %s", code, errb.String())
	}
	want := 0
	for _, l := range strings.Split(strings.TrimSpace(plain.String()), "\n") {
		if strings.Contains(l, `"priority":"Warning"`) || strings.Contains(l, `"priority":"Error"`) || strings.Contains(l, `"priority":"Critical"`) {
			want++
		}
	}
	if want == 0 {
		t.Skip("no warning alert in the capture")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "alerts.jsonl")
	cfg := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(cfg, []byte("data_dir: data\noutputs:\n  - type: file\n    path: alerts.jsonl\n    minimum_priority: warning\n"), 0o600)
	var stdout bytes.Buffer
	errb.Reset()
	if code := run(context.Background(), []string{"replay", "--config", cfg, input}, nil, &stdout, &errb); code != exitOK {
		t.Fatalf("replay --config: %d %s", code, errb.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("alerts also on stdout: %.200s", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != want {
		t.Errorf("%d alerts in the file, want %d (warning or worse)", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "data", "replay-*")); len(left) != 0 {
		t.Errorf("replay journal left behind: %v", left)
	}
}
