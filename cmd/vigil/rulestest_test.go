package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testCaseEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"c1","stage":"ResponseComplete","verb":"delete","user":{"username":"alice"},"objectRef":{"resource":"namespaces","name":"prod","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"stageTimestamp":"2026-11-22T10:00:00.000001Z"}`

// TestRulesTestCommand drives 'vigil rules test' end to end: a failing case
// exits 1 with a diff, -update rewrites it, and then it passes with exit 0.
func TestRulesTestCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ns.txtar")
	os.WriteFile(path, []byte("A user deletes a namespace.\n-- events.jsonl --\n"+testCaseEvent+"\n-- want --\nSomething Else\n"), 0o644)
	rulesTest := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"rules", "test"}, args...), nil, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := rulesTest(dir)
	if code != exitError || !strings.Contains(out, "FAIL "+path) || !strings.Contains(out, "- Something Else   (wanted, not raised)") ||
		!strings.Contains(out, "+ K8s Namespace Deleted   (raised, not wanted)") || !strings.Contains(out, "0 passed, 1 failed") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	if code, out = rulesTest("-update", dir); code != exitOK || !strings.Contains(out, "updated "+path) {
		t.Fatalf("update: exit %d, output:\n%s", code, out)
	}
	if code, out = rulesTest(dir, "-v"); code != exitOK || !strings.Contains(out, "ok   "+path) || !strings.Contains(out, "1 passed, 0 failed") {
		t.Fatalf("after update: exit %d, output:\n%s", code, out)
	}
	if code, _ = rulesTest(); code != exitUsage {
		t.Errorf("no path: exit %d", code)
	}
	if code, out = rulesTest(t.TempDir()); code != exitError || !strings.Contains(out, "no test cases") {
		t.Errorf("empty dir: exit %d, %s", code, out)
	}
}
