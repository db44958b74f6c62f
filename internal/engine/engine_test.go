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
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txtar")

// archive is a txtar file: a comment, then "-- name --" sections.
type archive struct {
	comment string
	names   []string
	files   map[string]string
}

func parseArchive(data string) archive {
	a := archive{files: map[string]string{}}
	cur := ""
	var b strings.Builder
	flush := func() {
		if cur == "" {
			a.comment = b.String()
		} else {
			a.files[cur] = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(data, "\n") {
		t := strings.TrimRight(line, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			flush()
			cur = strings.TrimSuffix(strings.TrimPrefix(t, "-- "), " --")
			a.names = append(a.names, cur)
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

func (a archive) format() string {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, n := range a.names {
		b.WriteString("-- " + n + " --\n")
		s := a.files[n]
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		b.WriteString(s)
	}
	return b.String()
}

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
			a := parseArchive(string(data))
			got := runCase(t, a)
			if *update {
				if _, ok := a.files["want"]; !ok {
					a.names = append(a.names, "want")
				}
				a.files["want"] = got
				if err := os.WriteFile(file, []byte(a.format()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := a.files["want"]; got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func runCase(t *testing.T, a archive) string {
	opts := DefaultOptions()
	opts.Env = field.Env{Hostname: "vigil-test", Location: time.UTC}
	for _, line := range strings.Split(a.files["options"], "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "matching":
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
	for _, n := range a.names {
		if strings.HasSuffix(n, ".yaml") {
			srcs = append(srcs, rules.Source{Name: n, Data: []byte(a.files[n])})
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
	d := audit.NewBytesDecoder([]byte(a.files["events.jsonl"]), audit.Options{Name: "events.jsonl"})
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
