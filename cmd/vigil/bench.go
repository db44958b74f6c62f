package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/bench"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/engine"
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
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the replay (or of an --in-process --serve run) to `FILE` (go tool pprof)")
	var sf serveFlags
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil bench [flags]\n       vigil bench --serve [--admission] [--duration 20s] [--senders 4] [--batch 400]\n\nReplays a corpus (decode, evaluate, format alerts; alerts are discarded) and\nreports events/s, allocations per event and peak RSS. Set GOMAXPROCS=1 and\n-workers 1 for the single-core figure. Use -rules k8s_audit_rules.yaml for\nFalco's upstream rules.\n\nWith --serve and/or --admission it load-tests `vigil serve` instead: it runs\nthis binary as a child `vigil serve` with a fresh data directory (fsync on,\nno outputs), sends pre-built 400-event EventLists from closed-loop senders\n(--serve) and AdmissionReviews at a fixed rate (--admission), waits until\nevery acknowledged event is evaluated, and reports events/s, ack latency\npercentiles, allocations per event, CPU time and the server's peak RSS.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if sf.serve || sf.admission {
		return sf.run(ctx, ef.rules, *seed, *cpuProfile, stdout, stderr)
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

// serveFlags select and shape `vigil bench --serve` and `--admission`.
type serveFlags struct {
	serve, admission bool
	duration         time.Duration
	senders, batch   int
	bodies, batches  int
	rate             float64
	eventRate        float64
	reviews          string
	inProcess        bool
	noSync           bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.serve, "serve", false, "load-test `vigil serve`'s audit webhook (durable log + evaluation) instead of replaying")
	fs.BoolVar(&f.admission, "admission", false, "load-test `vigil serve`'s admission webhook at --admission-rate (with --serve: both at once)")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "--serve/--admission: how long to send")
	fs.IntVar(&f.senders, "senders", 4, "--serve: concurrent senders, each sending its next batch when the previous one is acknowledged")
	fs.IntVar(&f.batch, "batch", 400, "--serve: events per EventList")
	fs.IntVar(&f.bodies, "bodies", 64, "--serve: distinct pre-built EventLists, resent with fresh auditIDs")
	fs.IntVar(&f.batches, "batches", 0, "--serve: stop after this many batches (0: when --duration is up)")
	fs.Float64Var(&f.eventRate, "rate", 0, "--serve: pace the senders to this many events/s in all, to measure latency at a given load (0: as fast as acknowledged)")
	fs.Float64Var(&f.rate, "admission-rate", 200, "--admission: AdmissionReviews per second, sent open loop")
	fs.StringVar(&f.reviews, "reviews", "", "--admission: AdmissionReview JSON files to send, a `GLOB` (default: a built-in Pod CREATE)")
	fs.BoolVar(&f.inProcess, "in-process", false, "--serve/--admission: run the server in this process (RSS and CPU then include the load generator)")
	fs.BoolVar(&f.noSync, "no-sync", false, "--in-process: skip fsync in the logs (measures without the disk)")
}

func (f *serveFlags) run(ctx context.Context, rulesFiles []string, seed int64, cpuProfile string, stdout, stderr io.Writer) int {
	o := bench.ServeOptions{RulesFiles: rulesFiles, Ingest: f.serve, Senders: f.senders, Batch: f.batch,
		Bodies: f.bodies, Seed: seed, Duration: f.duration, Batches: f.batches, CPUProfile: cpuProfile, Rate: f.eventRate}
	if f.admission {
		o.AdmissionRate = f.rate
	}
	if f.reviews != "" {
		paths, err := filepath.Glob(f.reviews)
		if err == nil && len(paths) == 0 {
			err = fmt.Errorf("no file matches %s", f.reviews)
		}
		if err != nil {
			fmt.Fprintf(stderr, "vigil bench: --reviews: %v\n", err)
			return exitUsage
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(stderr, "vigil bench: %v\n", err)
				return exitError
			}
			o.Reviews = append(o.Reviews, data)
		}
	}
	if f.inProcess || cpuProfile != "" {
		o.Start = func(cfg *config.Config) (bench.Server, error) {
			a, err := app.New(ctx, app.Options{Config: cfg, Version: version, NoSync: f.noSync})
			if err != nil {
				return nil, err
			}
			if err := a.Start(); err != nil {
				a.Shutdown(context.Background())
				return nil, err
			}
			return a, nil
		}
	} else {
		if f.noSync {
			fmt.Fprintln(stderr, "vigil bench: --no-sync needs --in-process")
			return exitUsage
		}
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "vigil bench: find this binary: %v\n", err)
			return exitError
		}
		o.Exec = exe
	}
	res, err := bench.Serve(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "vigil bench: %v\n", err)
		return exitError
	}
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
		// The vigil.* fields are not in the field table: only the outputs
		// of stateful rules can use them, never a condition.
		fmt.Fprint(stdout, "\n## Output fields of stateful rules\n\n"+
			"A rule with a `vigil:` key (threshold, distinct, sequence, first_seen) may use these in its\n"+
			"output, with the fields above. Conditions and other rules cannot.\n\n"+
			"| field | description |\n| --- | --- |\n")
		for _, f := range engine.VigilFields() {
			fmt.Fprintf(stdout, "| `%s` | %s |\n", f[0], f[1])
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
	for _, f := range engine.VigilFields() {
		kind := "string"
		if f[0] == "vigil.values" {
			kind = "list"
		}
		fmt.Fprintf(stdout, "%-48s %-6s %s (output of stateful rules only)\n", f[0], kind, f[1])
	}
	return exitOK
}
