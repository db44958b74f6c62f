package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/fields.md")

// TestFieldsDoc keeps docs/fields.md equal to 'vigil fields --markdown'.
func TestFieldsDoc(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"fields", "--markdown"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	path := filepath.Join("..", "..", "docs", "fields.md")
	if *updateDocs {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Error("docs/fields.md is stale: run go test ./cmd/vigil -run TestFieldsDoc -update")
	}
}
