package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/vigilsec/vigil/internal/coverage"
	"github.com/vigilsec/vigil/internal/engine"
)

func cmdRulesCoverage(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules coverage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ruleFiles stringList
	fs.Var(&ruleFiles, "rules", "rules `FILE`, repeatable, loaded in order (default: Vigil's built-in rules)")
	policyFile := fs.String("policy", "", "the kube-apiserver audit policy `FILE` (--audit-policy-file); needed unless --capture admission")
	captureFlag := fs.String("capture", "webhook", "how events reach Vigil: webhook (audit webhook), log (audit log file) or admission (validating webhook)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	failOn := fs.Bool("fail-on-unreachable", false, "exit 1 when a rule cannot fire")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: vigil rules coverage --policy audit-policy.yaml [--capture webhook|log|admission] [--rules FILE]... [--json] [--fail-on-unreachable]

Lists, for every enabled rule, whether it can fire given what the audit
policy logs (levels, stages, resources) and what the capture path sees:
"fires", "degraded" (part of what it reads, or of its requests, is missing)
or "cannot fire", with the reasons. The admission path ignores the audit
policy: it never sees reads, source IPs, user agents or impersonation.

flags:`)
		fs.PrintDefaults()
	}
	if rest, err := parseInterspersed(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 {
		fs.Usage()
		return exitUsage
	}
	capture, err := coverage.ParseCapture(*captureFlag)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitUsage
	}
	var pol *coverage.Policy
	switch {
	case *policyFile != "":
		data, err := os.ReadFile(*policyFile)
		if err != nil {
			fmt.Fprintf(stderr, "vigil: read audit policy: %v\n", err)
			return exitError
		}
		if pol, err = coverage.ParsePolicy(data); err != nil {
			fmt.Fprintf(stderr, "vigil: %s: %v\n", *policyFile, err)
			return exitError
		}
		if capture == coverage.CaptureAdmission {
			fmt.Fprintln(stderr, "vigil: note: the audit policy does not apply to admission reviews; judging the admission path alone")
		}
	case capture != coverage.CaptureAdmission:
		fmt.Fprintln(stderr, "vigil: --policy is required (unless --capture admission)")
		fs.Usage()
		return exitUsage
	}
	prog, ok := loadProgram(ruleFiles, engine.DefaultOptions(), stderr)
	if !ok {
		return exitError
	}
	rep, err := coverage.Check(prog, pol, capture)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "vigil: %v\n", err)
			return exitError
		}
	} else {
		writeCoverage(stdout, rep)
	}
	if *failOn && rep.Count(coverage.CannotFire) > 0 {
		return exitError
	}
	return exitOK
}

// writeCoverage prints the report as a table: one line per rule, its
// reasons indented below it.
func writeCoverage(w io.Writer, rep *coverage.Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tRULE")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\n", r.Status, r.Rule)
		for _, why := range r.Reasons {
			fmt.Fprintf(tw, "\t  - %s\n", why)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d rules (capture %s): %d fire, %d degraded, %d cannot fire\n", len(rep.Results), rep.Capture,
		rep.Count(coverage.Fires), rep.Count(coverage.Degraded), rep.Count(coverage.CannotFire))
}
