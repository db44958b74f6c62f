package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/config"
)

// TestOutputsDocs: every YAML example in the README's Outputs section is
// a valid configuration.
func TestOutputsDocs(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "\n## Outputs\n")
	if !ok {
		t.Fatal("README has no Outputs section")
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(sec, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d YAML examples in the Outputs section", len(blocks))
	}
	types := map[string]bool{}
	for i, b := range blocks {
		c, err := config.Load([]byte(b[1]), "README Outputs example")
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("example %d: %v", i+1, err)
			continue
		}
		for _, o := range c.Outputs {
			types[o.Type] = true
		}
	}
	for _, want := range []string{"file", "syslog", "http", "slack", "nats", "mezmo", "ibm_cloud_logs"} {
		if !types[want] {
			t.Errorf("no README example of a %s output", want)
		}
	}
}
