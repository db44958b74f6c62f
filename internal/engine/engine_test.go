package engine

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txtar")

// TestRules runs every testdata/*.txtar case: the rules in "rules.yaml" (and
// any further "*.yaml" sections, loaded in order) are compiled, the events in
// "events.jsonl" are evaluated, and the alerts (text lines then JSON) or the
// diagnostics must equal "want". An "options" section may say
// "matching=first" and "append=FIELD".
func TestRules(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no test cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := txtar.Parse(string(data))
			got := runCase(t, a)
			if *update {
				a.Set("want", got)
				if err := os.WriteFile(file, []byte(a.Format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want, _ := a.Get("want"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func runCase(t *testing.T, a *txtar.Archive) string {
	opts := DefaultOptions()
	opts.Env = field.Env{Hostname: "vigil-test", Location: time.UTC}
	options, _ := a.Get("options")
	for _, line := range strings.Split(options, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "rule_matching":
			m, err := ParseMatching(v)
			if err != nil {
				t.Fatal(err)
			}
			opts.Matching = m
		case "append":
			opts.AppendFields = append(opts.AppendFields, v)
		case "min-priority":
			p, err := alert.ParsePriority(v)
			if err != nil {
				t.Fatal(err)
			}
			opts.MinPriority = p
		}
	}
	var srcs []rules.Source
	for _, f := range a.Files {
		if strings.HasSuffix(f.Name, ".yaml") {
			srcs = append(srcs, rules.Source{Name: f.Name, Data: []byte(f.Data)})
		}
	}
	p, diags := Load(srcs, rules.Options{}, opts)
	var out bytes.Buffer
	for _, d := range diags {
		out.WriteString(d.Display() + "\n")
	}
	if rules.HasErrors(diags) {
		return out.String()
	}
	st := p.NewState()
	events, _ := a.Get("events.jsonl")
	d := audit.NewBytesDecoder([]byte(events), audit.Options{Name: "events.jsonl"})
	var ev audit.Event
	for {
		err := d.Next(&ev)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			out.WriteString("skipped: " + err.Error() + "\n")
			continue
		}
		for _, i := range p.Eval(&ev, st) {
			al := p.Alert(st, i)
			out.Write(alert.AppendText(nil, al, time.UTC))
			out.WriteByte('\n')
			out.Write(alert.AppendJSON(nil, al, time.UTC))
			out.WriteByte('\n')
		}
	}
	return out.String()
}
