package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vigilsec/vigil/internal/bench"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/replay"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ef engineFlags
	ef.register(fs)
	events := fs.Int("events", 200000, "events to generate when no -corpus is given")
	seed := fs.Int64("seed", 1, "corpus seed")
	corpusFile := fs.String("corpus", "", "replay this JSON-lines `FILE` instead of a generated corpus")
	format := fs.String("output-format", "json", "alert format to render (then discarded): json or text")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay to `FILE` (go tool pprof)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil bench [flags]\n\nReplays a corpus (decode, evaluate, format alerts; alerts are discarded) and\nreports events/s, allocations per event and peak RSS. Set GOMAXPROCS=1 and\n-workers 1 for the single-core figure. Use -rules k8s_audit_rules.yaml for\nFalco's upstream rules.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	opts, err := ef.options()
	if err != nil {
		fmt.Fprintf(stderr, "vigil bench: %v\n", err)
		return exitUsage
	}
	f, err := replay.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "vigil bench: %v\n", err)
		return exitUsage
	}
	prog, ok := loadProgram(ef.rules, opts, stderr)
	if !ok {
		return exitError
	}
	res, err := bench.Run(ctx, bench.Options{Program: prog, Corpus: *corpusFile, Events: *events, Seed: *seed,
		Workers: ef.workers, Format: f, Limits: ef.limits(), CPUProfile: *cpuProfile})
	if err != nil {
		fmt.Fprintf(stderr, "vigil bench: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "rules:          %d enabled\n", len(prog.Enabled()))
	fmt.Fprint(stdout, res.String())
	return exitOK
}

func cmdCorpus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	events := fs.Int("events", 10000, "number of events")
	seed := fs.Int64("seed", 1, "seed: the same seed gives the same bytes")
	risky := fs.Float64("risky-rate", 0, "fraction of user-driven risky actions (0 = default)")
	out := fs.String("o", "-", "output `FILE` (- for stdout)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil corpus [flags]\n\nWrites a deterministic, realistic audit log (one audit.k8s.io/v1 Event per\nline): mostly system traffic, plus users doing risky things.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	w := stdout
	var file *os.File
	if *out != "-" {
		var err error
		if file, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "vigil corpus: %v\n", err)
			return exitError
		}
		w = file
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	_, err := corpus.Write(bw, corpus.Options{Seed: *seed, Events: *events, RiskyRate: *risky})
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil corpus: %v\n", err)
		return exitError
	}
	return exitOK
}

func cmdFields(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fields", flag.ContinueOnError)
	fs.SetOutput(stderr)
	md := fs.Bool("markdown", false, "print a Markdown table (as in docs/fields.md)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *md {
		if err := field.WriteMarkdown(stdout); err != nil {
			fmt.Fprintf(stderr, "vigil fields: %v\n", err)
			return exitError
		}
		return exitOK
	}
	for _, d := range field.All() {
		kind := "string"
		if d.List {
			kind = "list"
		}
		fmt.Fprintf(stdout, "%-48s %-6s %s\n", d.Name, kind, d.Doc)
	}
	return exitOK
}
