// Command vigil detects threats in Kubernetes audit events with
// Falco-compatible rules.
//
// Usage:
//
//	vigil serve [--config FILE]       receive events (audit and admission webhooks, log tail), alert
//	vigil config check FILE...        validate config files offline
//	vigil replay [flags] [INPUT...]   evaluate recorded events, print alerts
//	vigil rules check FILE...         load and compile rules, print every problem
//	vigil rules test PATH...          run rule test cases (txtar)
//	vigil rules coverage --policy F   which rules can fire given an audit policy and capture path
//	vigil rules backtest --config F   evaluate candidate rules against the stored raw events
//	vigil bench [flags]               measure events/s and allocations per event
//	vigil corpus [flags]              write a realistic synthetic audit log
//	vigil fields [--markdown]         list the fields rules can use
//	vigil hash-password               read a password on stdin, print its bcrypt hash
//	vigil version                     print the version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

const usage = `usage: vigil <command> [flags] [args]

commands:
  serve        receive audit events (webhooks, log files), evaluate them, send alerts
  config check validate config files offline
  replay       evaluate recorded audit events against rules and print alerts
  rules check  load and compile rules files and print every problem
  rules test   run rule test cases: events in, expected alerts out
  rules coverage  which rules can fire given an audit policy and capture path
  rules backtest  evaluate candidate rules against the raw events kept in the store
  bench        measure replay throughput (events/s, allocs/event) on a corpus
  corpus       write a deterministic, realistic synthetic audit log
  fields       list the fields available to rules
  hash-password read a UI password on stdin and print its bcrypt hash (api.users)
  version      print the version

Run 'vigil <command> -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx and asks for a clean stop; restoring the
	// default handling then lets a second signal end the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0 // success
	exitError   = 1 // invalid rules, unreadable input, or another failure
	exitUsage   = 2 // bad command line
	exitSkipped = 3 // replay finished, but some input items were skipped
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "replay":
		return cmdReplay(ctx, args[1:], stdout, stderr)
	case "rules":
		switch {
		case len(args) >= 2 && args[1] == "check":
			return cmdRulesCheck(args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "test":
			return cmdRulesTest(args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "coverage":
			return cmdRulesCoverage(args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "backtest":
			return cmdRulesBacktest(ctx, args[2:], stdout, stderr)
		}
		fmt.Fprintln(stderr, "usage: vigil rules check FILE...\n       vigil rules test [--rules FILE]... [-update] [-v] PATH...\n"+
			"       vigil rules coverage --policy FILE [--capture webhook|log|admission] [--rules FILE]... [--json]\n"+
			"       vigil rules backtest --config FILE [--rules FILE]... [--since D] [--until T] [--cluster C]...")
		return exitUsage
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "corpus":
		return cmdCorpus(args[1:], stdout, stderr)
	case "fields":
		return cmdFields(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) >= 2 && args[1] == "check" {
			return cmdConfigCheck(args[2:], stdout, stderr)
		}
		fmt.Fprintln(stderr, "usage: vigil config check FILE...")
		return exitUsage
	case "hash-password":
		return cmdHashPassword(args[1:], stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "vigil", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
