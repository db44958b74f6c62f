package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/replay"
)

// engineFlags are the flags shared by replay and bench.
type engineFlags struct {
	rules        stringList
	matching     string
	minPriority  string
	appendFields stringList
	hostname     string
	maxEvent     int
	maxDepth     int
	workers      int
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.rules, "rules", "rules `FILE`, repeatable, loaded in order (default: Vigil's built-in rules)")
	fs.StringVar(&f.matching, "rule-matching", "all", "which matching rules alert per event: all, or first (Falco's default)")
	fs.StringVar(&f.minPriority, "min-priority", "debug", "only enable rules at least this severe")
	fs.Var(&f.appendFields, "append-field", "add `FIELD` to every alert's output_fields, repeatable (like Falco's append_output)")
	fs.StringVar(&f.hostname, "hostname", "", "host name put in alerts (default: $FALCO_HOSTNAME, else the OS host name)")
	fs.IntVar(&f.maxEvent, "max-event-size", audit.DefaultMaxEventSize, "largest accepted event, in bytes")
	fs.IntVar(&f.maxDepth, "max-depth", audit.DefaultMaxDepth, "deepest accepted JSON nesting inside one event")
	fs.IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "parallel workers (alerts stay in input order)")
}

func (f *engineFlags) options() (engine.Options, error) {
	o := engine.DefaultOptions()
	m, err := engine.ParseMatching(f.matching)
	if err != nil {
		return o, err
	}
	o.Matching = m
	if o.MinPriority, err = alert.ParsePriority(f.minPriority); err != nil {
		return o, err
	}
	o.AppendFields = f.appendFields
	host := f.hostname
	if host == "" {
		host = os.Getenv("FALCO_HOSTNAME")
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	o.Env = field.Env{Hostname: host, Location: time.Local}
	return o, nil
}

func (f *engineFlags) limits() audit.Limits {
	return audit.Limits{MaxEventSize: f.maxEvent, MaxDepth: f.maxDepth}
}

func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ef engineFlags
	ef.register(fs)
	format := fs.String("output-format", "json", "alert format: json (Falco's JSON alert) or text (Falco's text line)")
	maxReports := fs.Int("max-skip-reports", 100, "print at most this many skipped items on stderr (all are counted)")
	cfgPath := fs.String("config", "", "send alerts to the outputs of this `FILE` (vigil serve's config) instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil replay [flags] [INPUT...]\n\nEvaluates audit events from files, directories (their files, oldest first) or\n'-' (standard input; the default) and prints one alert per line on stdout.\nInput may be JSON lines, an Event, an EventList or an array, gzipped or not.\nA summary goes to stderr. Exit status: 0 ok, 1 error, 2 usage, 3 some items\nwere skipped.\n\nflags:")
		fs.PrintDefaults()
	}
	inputs, err := parseInterspersed(fs, args)
	if err != nil {
		return exitUsage
	}
	opts, err := ef.options()
	if err != nil {
		fmt.Fprintf(stderr, "vigil replay: %v\n", err)
		return exitUsage
	}
	f, err := replay.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "vigil replay: %v\n", err)
		return exitUsage
	}
	prog, ok := loadProgram(ef.rules, opts, stderr)
	if !ok {
		return exitError
	}
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	reported := 0
	start := time.Now()
	ropts := replay.Options{
		Program: prog, Format: f, Workers: ef.workers, Limits: ef.limits(), Location: time.Local, Out: stdout,
		OnSkip: func(e *audit.Error) {
			if reported < *maxReports {
				fmt.Fprintf(stderr, "vigil replay: skipped %v\n", e)
			}
			reported++
		},
	}
	var delivery *app.Delivery
	var grace time.Duration
	if *cfgPath != "" {
		cfg, err := config.LoadFile(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "vigil replay: %v\n", err)
			return exitError
		}
		logger, _ := newLogger(stderr, "warn", "text")
		if delivery, err = app.NewDelivery(ctx, cfg, logger, stdout); err != nil {
			fmt.Fprintf(stderr, "vigil replay: outputs: %v\n", err)
			return exitError
		}
		grace = time.Duration(cfg.Shutdown)
		var addErr error
		ropts.OnAlert = func(a *alert.Alert) {
			if err := delivery.Add(a); err != nil && addErr == nil {
				addErr = err
				fmt.Fprintf(stderr, "vigil replay: outputs: %v\n", err)
			}
		}
	}
	sum, err := replay.Run(ctx, inputs, ropts)
	if delivery != nil {
		dctx, cancel := context.WithTimeout(context.Background(), grace)
		if derr := delivery.Close(dctx); derr != nil {
			fmt.Fprintf(stderr, "vigil replay: not every alert reached the outputs: %v\n", derr)
			if err == nil {
				err = derr
			}
		}
		cancel()
	}
	printSummary(stderr, sum, time.Since(start))
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "vigil replay: interrupted")
		} else {
			fmt.Fprintf(stderr, "vigil replay: %v\n", err)
		}
		return exitError
	}
	if sum.SkippedTotal() > 0 {
		return exitSkipped
	}
	return exitOK
}

func printSummary(w io.Writer, s replay.Summary, d time.Duration) {
	var reasons []string
	for r, n := range s.Skipped {
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(reasons)
	skipped := fmt.Sprintf("%d skipped", s.SkippedTotal())
	if len(reasons) > 0 {
		skipped += " (" + strings.Join(reasons, " ") + ")"
	}
	fmt.Fprintf(w, "vigil replay: %d input(s), %d bytes, %d events read, %s, %d alerts, in %s\n",
		s.Inputs, s.Bytes, s.Events, skipped, s.Alerts, d.Round(time.Millisecond))
}
