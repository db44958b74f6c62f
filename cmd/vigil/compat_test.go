package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// falcoDir is the shared Falco reference corpus (read-only data).
var falcoDir = filepath.Join("..", "..", "..", "shared", "reference", "falco")

func needFalco(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(falcoDir, "expectations.tsv")); err != nil {
		t.Skipf("Falco reference corpus not found at %s", falcoDir)
	}
}

type jsonAlert struct {
	Rule         string         `json:"rule"`
	Priority     string         `json:"priority"`
	Output       string         `json:"output"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         string         `json:"time"`
	Hostname     string         `json:"hostname"`
	OutputFields map[string]any `json:"output_fields"`
}

// replayAlerts runs 'vigil replay' in-process and returns the alerts, stderr
// and exit code.
func replayAlerts(t *testing.T, args ...string) ([]jsonAlert, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"replay", "--hostname", "test"}, args...), nil, &stdout, &stderr)
	var alerts []jsonAlert
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a jsonAlert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alert is not JSON: %v\n%s", err, sc.Bytes())
		}
		alerts = append(alerts, a)
	}
	return alerts, stderr.String(), code
}

type expectation struct {
	trace string
	rules []string // expected rule set with rule_matching all, in file order
	notes string
}

func readExpectations(t *testing.T) []expectation {
	data, err := os.ReadFile(filepath.Join(falcoDir, "expectations.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []expectation
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if i == 0 {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("expectations.tsv line %d: %d columns", i+1, len(cols))
		}
		e := expectation{trace: cols[0], notes: cols[2]}
		if cols[1] != "" {
			e.rules = strings.Split(cols[1], ",")
		}
		out = append(out, e)
	}
	return out
}

// TestFalcoCompatibility replays every upstream trace against the upstream
// ruleset loaded unchanged, with rule_matching all, and compares the set of
// rules that fire (in rule order) with expectations.tsv.
func TestFalcoCompatibility(t *testing.T) {
	needFalco(t)
	rulesFile := filepath.Join(falcoDir, "k8s_audit_rules.yaml")
	for _, e := range readExpectations(t) {
		t.Run(e.trace, func(t *testing.T) {
			alerts, stderr, code := replayAlerts(t, "--rules", rulesFile, "--rule-matching", "all", filepath.Join(falcoDir, e.trace))
			var got []string
			for _, a := range alerts {
				if !slices.Contains(got, a.Rule) {
					got = append(got, a.Rule)
				}
				if a.Source != "k8s_audit" {
					t.Errorf("source = %q", a.Source)
				}
			}
			if !slices.Equal(got, e.rules) {
				t.Errorf("rules fired = %q\nwant          %q\nstderr: %s", got, e.rules, stderr)
			}
			// Per-rule counts with rule_matching all, when the notes give them.
			for _, m := range regexp.MustCompile(`([A-Za-z0-9/\- ]+?) x(\d+)`).FindAllStringSubmatch(countsPart(e.notes), -1) {
				want, _ := strconv.Atoi(m[2])
				if n := countRule(alerts, strings.TrimSpace(m[1])); n != want {
					t.Errorf("%s fired %d times, want %d", m[1], n, want)
				}
			}
			wantCode := exitOK
			if e.trace == "fal_01_003.json" {
				wantCode = exitSkipped
				if !strings.Contains(stderr, "data not recognized as a k8s audit event") {
					t.Errorf("stderr lacks Falco's error text: %s", stderr)
				}
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", code, wantCode, stderr)
			}
		})
	}
}

// countsPart returns the "Alert counts with rule_matching=all: ..." sentence.
func countsPart(notes string) string {
	_, rest, ok := strings.Cut(notes, "Alert counts with rule_matching=all: ")
	if !ok {
		return ""
	}
	s, _, _ := strings.Cut(rest, ". ")
	return s
}

func countRule(alerts []jsonAlert, rule string) int {
	n := 0
	for _, a := range alerts {
		if a.Rule == rule {
			n++
		}
	}
	return n
}

// upstreamTest is one test of Falco's own suites, parsed from the notes.
type upstreamTest struct {
	id    string
	trace string
	files []string // rules files in load order
	rule  string   // expected rule with rule_matching first; "" = no alert
	count int
}

var upstreamRE = regexp.MustCompile(`^(\w+) \[([^\]]+)\] (.*)$`)

func parseUpstream(t *testing.T, e expectation) []upstreamTest {
	_, rest, ok := strings.Cut(e.notes, "Upstream tests: ")
	if !ok {
		return nil
	}
	// Test cases are separated by "; ", but a case's explanation may itself
	// contain "; ": glue such fragments back to the case they belong to.
	var parts []string
	for _, p := range strings.Split(rest, "; ") {
		if upstreamRE.MatchString(p) || len(parts) == 0 {
			parts = append(parts, p)
		} else {
			parts[len(parts)-1] += "; " + p
		}
	}
	var out []upstreamTest
	for _, part := range parts {
		m := upstreamRE.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("%s: cannot parse upstream test %q", e.trace, part)
		}
		ut := upstreamTest{id: m[1], trace: e.trace}
		for _, f := range strings.Split(m[2], " + ") {
			ut.files = append(ut.files, overlayPath(f))
		}
		exp := m[3]
		// The two legacy cases whose result depended on old list names state
		// the result with the overlays shipped here.
		if _, res, ok := strings.Cut(exp, "with the overlays shipped here the result is "); ok {
			exp = "expects " + strings.Split(res, " and ")[0]
		}
		switch {
		case strings.HasPrefix(exp, "expects no alert"):
		case strings.HasPrefix(exp, "expects "):
			rc := regexp.MustCompile(`^expects (.+) x(\d+)`).FindStringSubmatch(exp)
			if rc == nil {
				t.Fatalf("%s: cannot parse expectation %q", ut.id, exp)
			}
			ut.rule = rc[1]
			ut.count, _ = strconv.Atoi(rc[2])
		default:
			t.Fatalf("%s: cannot parse expectation %q", ut.id, exp)
		}
		out = append(out, ut)
	}
	return out
}

func overlayPath(name string) string {
	switch {
	case name == "k8s_audit_rules.yaml":
		return filepath.Join(falcoDir, name)
	case strings.HasPrefix(name, "engine_v4/"):
		return filepath.Join(falcoDir, "overlays", name)
	default:
		return filepath.Join(falcoDir, "overlays", name)
	}
}

// TestFalcoUpstreamSuites runs every upstream test case (legacy ids, ported
// one to one into falcosecurity/testing) with its overlays, in Falco's
// default rule_matching first, and checks its assertion.
func TestFalcoUpstreamSuites(t *testing.T) {
	needFalco(t)
	n := 0
	for _, e := range readExpectations(t) {
		for _, ut := range parseUpstream(t, e) {
			n++
			t.Run(ut.id, func(t *testing.T) {
				var args []string
				for _, f := range ut.files {
					args = append(args, "--rules", f)
				}
				args = append(args, "--rule-matching", "first", filepath.Join(falcoDir, ut.trace))
				alerts, stderr, code := replayAlerts(t, args...)
				if code != exitOK && !(ut.trace == "fal_01_003.json" && code == exitSkipped) {
					t.Fatalf("exit code %d; stderr: %s", code, stderr)
				}
				if ut.rule == "" {
					if len(alerts) != 0 {
						t.Errorf("want no alert, got %d (first: %s)", len(alerts), alerts[0].Rule)
					}
					return
				}
				if got := countRule(alerts, ut.rule); got != ut.count {
					var names []string
					for _, a := range alerts {
						names = append(names, a.Rule)
					}
					t.Errorf("%q fired %d times, want %d (alerts: %q)", ut.rule, got, ut.count, names)
				}
			})
		}
	}
	// expectations.tsv names 49 upstream k8s_audit test cases.
	if n != 49 {
		t.Errorf("parsed %d upstream tests, want 49", n)
	}
}
