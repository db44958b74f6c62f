package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCoverageCommand(t *testing.T) {
	dir := t.TempDir()
	metadata := filepath.Join(dir, "metadata.yaml")
	if err := os.WriteFile(metadata, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recommended := filepath.Join("..", "..", "docs", "examples", "audit-policy.yaml")
	tests := []struct {
		name string
		args []string
		code int
		out  string // substring of stdout
	}{
		{"recommended policy", []string{"--policy", recommended}, 0, "cannot fire\n"},
		{"recommended policy, strict", []string{"--policy", recommended, "--fail-on-unreachable"}, 0, " 0 cannot fire"},
		{"metadata only", []string{"--policy", metadata}, 0, "cannot fire  Admin Role Bound\n"},
		{"metadata only, strict", []string{"--policy", metadata, "--fail-on-unreachable"}, 1, "requires ka.req.binding.role, which needs Request"},
		{"admission", []string{"--capture", "admission"}, 0, "cannot fire  Secret Read by User\n"},
		{"no policy", []string{"--capture", "webhook"}, 2, ""},
		{"bad capture", []string{"--policy", metadata, "--capture", "carrier-pigeon"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"rules", "coverage"}, tc.args...), nil, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, out.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"rules", "coverage", "--json", "--policy", metadata}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep struct {
		Capture string `json:"capture"`
		Rules   []struct {
			Rule    string   `json:"rule"`
			Status  string   `json:"status"`
			Reasons []string `json:"reasons"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Capture != "webhook" || len(rep.Rules) < 100 {
		t.Fatalf("capture %q, %d rules", rep.Capture, len(rep.Rules))
	}
	for _, r := range rep.Rules {
		if r.Rule == "Admin Role Bound" && (r.Status != "cannot fire" || len(r.Reasons) == 0) {
			t.Errorf("Admin Role Bound: %+v", r)
		}
	}
}
