package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
	"github.com/vigilsec/vigil/internal/ruletest"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// readSources reads rules files; with none it returns the built-in rules.
func readSources(files []string) ([]rules.Source, error) {
	if len(files) == 0 {
		return []rules.Source{ruleset.Default()}, nil
	}
	srcs := make([]rules.Source, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read rules file: %w", err)
		}
		srcs = append(srcs, rules.Source{Name: f, Data: data})
	}
	return srcs, nil
}

// loadProgram reads and compiles rules files. Errors are printed in full to
// stderr; warnings are summarised, since 'vigil rules check' shows them.
func loadProgram(files []string, opts engine.Options, stderr io.Writer) (*engine.Program, bool) {
	srcs, err := readSources(files)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return nil, false
	}
	p, diags := engine.Load(srcs, rules.Options{}, opts)
	warnings := 0
	for _, d := range diags {
		if d.Severity == rules.SeverityError {
			fmt.Fprintln(stderr, d.Display())
		} else {
			warnings++
		}
	}
	if rules.HasErrors(diags) {
		fmt.Fprintln(stderr, "vigil: the rules have errors; nothing was evaluated")
		return nil, false
	}
	if warnings > 0 {
		fmt.Fprintf(stderr, "vigil: rules loaded with %d warning(s); run 'vigil rules check' to see them\n", warnings)
	}
	return p, true
}

func cmdRulesCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil rules check FILE...\n\nLoads and compiles the files in order, as replay and serve would, and prints\nevery error and warning with file:line:col. Exit status 0 if the rules are\nvalid (warnings allowed), 1 otherwise.")
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(files) == 0 {
		fs.Usage()
		return exitUsage
	}
	srcs, err := readSources(files)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	p, diags := engine.Load(srcs, rules.Options{}, engine.DefaultOptions())
	errs, warns := 0, 0
	for _, d := range diags {
		fmt.Fprintln(stdout, d.Display())
		if d.Severity == rules.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	if errs > 0 {
		fmt.Fprintf(stdout, "%d error(s), %d warning(s)\n", errs, warns)
		return exitError
	}
	fmt.Fprintf(stdout, "ok: %d rules (%d enabled), %d warning(s)\n", len(p.Rules()), len(p.Enabled()), warns)
	return exitOK
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments ("vigil replay a.log --output-format text"), and
// returns the positional arguments. After "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func cmdRulesTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ruleFiles stringList
	fs.Var(&ruleFiles, "rules", "rules `FILE` under test, repeatable, loaded in order (default: Vigil's built-in rules)")
	update := fs.Bool("update", false, "rewrite each case's want section with the alerts it raises")
	verbose := fs.Bool("v", false, "print every case, not only failures")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: vigil rules test [--rules FILE]... [-update] [-v] PATH...

Runs rule test cases: txtar files (a directory means every *.txtar below
it), each with audit events and the names of the alerts the rules under
test must raise for them, in order:

    What the case shows.
    -- events.jsonl --
    {"kind":"Event","apiVersion":"audit.k8s.io/v1",...}
    -- want --
    K8s Namespace Deleted

Optional sections: *.yaml (rules loaded after the rules under test) and
options ("rule_matching=first"). Exit status 0 when every case passes.

flags:`)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(paths) == 0 {
		fs.Usage()
		return exitUsage
	}
	srcs, err := readSources(ruleFiles)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	files, err := ruletest.Find(paths)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "vigil: no test cases (*.txtar) found")
		return exitError
	}
	runner, err := ruletest.NewRunner(ruletest.Options{Rules: srcs})
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	passed, failed := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s\n    %v\n", f, err)
			failed++
			continue
		}
		c, err := ruletest.Parse(f, data)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s\n    %v\n", f, err)
			failed++
			continue
		}
		res := runner.Run(c)
		if *update && res.Err == nil && !res.Passed() {
			if err := ruletest.Update(res); err != nil {
				fmt.Fprintf(stdout, "FAIL %s\n    %v\n", f, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "updated %s\n", f)
			passed++
			continue
		}
		if res.Passed() {
			passed++
			if *verbose {
				fmt.Fprintf(stdout, "ok   %s (%d alerts)\n", f, len(res.Got))
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n%s", f, res.Report())
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitError
	}
	return exitOK
}
