// Package ruletest runs rule test cases: each case holds audit events and the
// alerts the rules under test must raise for them, and optionally rules of
// its own. It backs 'vigil rules test'.
//
// A case is a txtar file:
//
//	What the case shows, in a sentence or two.
//	-- overlay.yaml --      (optional, any number of *.yaml files: rules
//	                         loaded after the rules under test, in order)
//	-- options --           (optional: "rule_matching=first" or "all")
//	-- events.jsonl --      audit events, in any form 'vigil replay' reads
//	-- want --              one line per expected alert: the rule's name,
//	                        in the order the alerts are raised; empty for
//	                        a case where nothing may fire
//
// Lines of the want section that are empty or start with '#' are ignored.
package ruletest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/stateful"
	"github.com/vigilsec/vigil/internal/txtar"
)

// Case is one parsed test case.
type Case struct {
	Path     string          // file it came from
	Comment  string          // the case's description
	Rules    []rules.Source  // the case's own rules, loaded after the rules under test
	Matching engine.Matching // rule matching for the case
	Events   []byte          // the events section
	Want     []string        // expected rule names, in order

	archive *txtar.Archive
}

// Parse reads a case from its text.
func Parse(path string, data []byte) (*Case, error) {
	a := txtar.Parse(string(data))
	c := &Case{Path: path, Comment: strings.TrimSpace(a.Comment), Matching: engine.MatchAll, archive: a}
	events, ok := a.Get("events.jsonl")
	if !ok {
		return nil, fmt.Errorf("%s: no events.jsonl section", path)
	}
	c.Events = []byte(events)
	want, ok := a.Get("want")
	if !ok {
		return nil, fmt.Errorf("%s: no want section", path)
	}
	for _, line := range strings.Split(want, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			c.Want = append(c.Want, line)
		}
	}
	for _, f := range a.Files {
		switch {
		case strings.HasSuffix(f.Name, ".yaml") || strings.HasSuffix(f.Name, ".yml"):
			c.Rules = append(c.Rules, rules.Source{Name: path + ":" + f.Name, Data: []byte(f.Data)})
		case f.Name == "options":
			for _, line := range strings.Split(f.Data, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				k, v, _ := strings.Cut(line, "=")
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if k != "rule_matching" {
					return nil, fmt.Errorf("%s: unknown option %q", path, k)
				}
				m, err := engine.ParseMatching(v)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				c.Matching = m
			}
		case f.Name == "events.jsonl" || f.Name == "want":
		default:
			return nil, fmt.Errorf("%s: unknown section %q", path, f.Name)
		}
	}
	return c, nil
}

// Find expands paths into case files: a directory means every *.txtar file
// below it. The result is sorted and has no duplicates.
func Find(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		p = filepath.Clean(p)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("find test cases: %w", err)
		}
		if !st.IsDir() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		// WalkDir does not follow a symbolic link given as the root.
		root, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, fmt.Errorf("find test cases: %w", err)
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".txtar") && !seen[path] {
				seen[path] = true
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("find test cases: %w", err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Options configure a Runner.
type Options struct {
	Rules  []rules.Source // the rules under test
	Limits audit.Limits   // event limits
}

// Result is the outcome of one case.
type Result struct {
	Case   *Case
	Got    []string       // rule names of the alerts raised, in order
	Alerts []*alert.Alert // the alerts raised
	Err    error          // the case could not run: rules errors or undecodable events
}

// Passed reports whether the case ran and raised exactly the wanted alerts.
func (r *Result) Passed() bool { return r.Err == nil && equal(r.Got, r.Case.Want) }

// Runner runs cases against one set of rules under test. It compiles those
// rules once for all the cases that bring no rules of their own.
type Runner struct {
	opts  Options
	cache map[engine.Matching]*engine.Program
	// where backs the ka.source.* fields as a server with source
	// enrichment but no network map, proxies or databases would: the
	// client is the last entry of sourceIPs.
	where *enrich.Enricher
}

// NewRunner checks the rules under test and returns a Runner. The error lists
// every problem of the rules.
func NewRunner(opts Options) (*Runner, error) {
	where, err := enrich.New(enrich.Options{})
	if err != nil {
		return nil, err
	}
	r := &Runner{opts: opts, cache: map[engine.Matching]*engine.Program{}, where: where}
	if _, err := r.program(nil, engine.MatchAll); err != nil {
		return nil, err
	}
	return r, nil
}

func engineOptions(m engine.Matching) engine.Options {
	o := engine.DefaultOptions()
	o.Matching = m
	o.Env = field.Env{Hostname: "vigil-test", Location: time.UTC}
	return o
}

// program compiles the rules under test plus extra.
func (r *Runner) program(extra []rules.Source, m engine.Matching) (*engine.Program, error) {
	if len(extra) == 0 {
		if p := r.cache[m]; p != nil {
			return p, nil
		}
	}
	srcs := append(append([]rules.Source(nil), r.opts.Rules...), extra...)
	p, diags := engine.Load(srcs, rules.Options{}, engineOptions(m))
	if rules.HasErrors(diags) {
		var b strings.Builder
		for _, d := range diags {
			if d.Severity == rules.SeverityError {
				b.WriteString(d.Display() + "\n")
			}
		}
		return nil, errors.New("the rules have errors:\n" + strings.TrimRight(b.String(), "\n"))
	}
	if len(extra) == 0 {
		r.cache[m] = p
	}
	return p, nil
}

// Run evaluates one case.
func (r *Runner) Run(c *Case) *Result {
	res := &Result{Case: c}
	p, err := r.program(c.Rules, c.Matching)
	if err != nil {
		res.Err = err
		return res
	}
	st := p.NewState()
	state := stateful.New(stateful.Limits{}) // each case starts with empty state
	d := audit.NewBytesDecoder(c.Events, audit.Options{Name: c.Path + ":events.jsonl", Limits: r.opts.Limits})
	var ev audit.Event
	ev.Locator = r.where
	var skips []string
	events := 0
	for {
		err := d.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		var de *audit.Error
		if errors.As(err, &de) {
			skips = append(skips, de.Error())
			continue
		}
		if err != nil {
			res.Err = err
			return res
		}
		events++
		state.Eval(p, st, &ev, func(a *alert.Alert) {
			res.Alerts = append(res.Alerts, a)
			res.Got = append(res.Got, a.Rule)
		})
	}
	switch {
	case len(skips) > 0:
		res.Err = fmt.Errorf("events that are not valid audit events:\n  %s", strings.Join(skips, "\n  "))
	case events == 0:
		res.Err = errors.New("the case has no events, so it tests nothing")
	}
	return res
}

// Update rewrites the case's file so that its want section holds what the
// case raised.
func Update(res *Result) error {
	if res.Err != nil {
		return res.Err
	}
	nl := "\n"
	if res.Case.archive.CRLF {
		nl = "\r\n"
	}
	// Keep the section's comment lines; replace its alert names.
	var b strings.Builder
	old, _ := res.Case.archive.Get("want")
	for _, line := range strings.Split(old, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
			b.WriteString(t + nl)
		}
	}
	for _, g := range res.Got {
		b.WriteString(g + nl)
	}
	res.Case.archive.Set("want", b.String())
	if err := os.WriteFile(res.Case.Path, []byte(res.Case.archive.Format()), 0o644); err != nil {
		return fmt.Errorf("update test case: %w", err)
	}
	return nil
}

// Report describes a failed case for people: the case, then a diff of the
// wanted and raised alerts ("-" wanted but not raised, "+" raised but not
// wanted), each raised alert with its message.
func (r *Result) Report() string {
	var b strings.Builder
	if r.Case.Comment != "" {
		fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(r.Case.Comment, "\n", "\n    "))
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(r.Err.Error(), "\n", "\n    "))
		return b.String()
	}
	msg := map[int]string{}
	for i, a := range r.Alerts {
		msg[i] = a.Priority.String() + " " + a.Message
	}
	for _, d := range diff(r.Case.Want, r.Got) {
		switch d.op {
		case ' ':
			fmt.Fprintf(&b, "      %s\n", d.text)
		case '-':
			fmt.Fprintf(&b, "    - %s   (wanted, not raised)\n", d.text)
		case '+':
			fmt.Fprintf(&b, "    + %s   (raised, not wanted)\n        %s\n", d.text, msg[d.gotIndex])
		}
	}
	return b.String()
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type diffLine struct {
	op       byte // ' ', '-' or '+'
	text     string
	gotIndex int // for '+' and ' ': index in got
}

// diff is a longest-common-subsequence line diff of want against got.
func diff(want, got []string) []diffLine {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			out = append(out, diffLine{' ', want[i], j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, diffLine{'+', got[j], j})
			j++
		default:
			out = append(out, diffLine{'-', want[i], -1})
			i++
		}
	}
	return out
}
