package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/backtest"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/replay"
	"github.com/vigilsec/vigil/internal/store"
)

func cmdRulesBacktest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return rulesBacktest(ctx, args, time.Now(), stdout, stderr)
}

// rulesBacktest is cmdRulesBacktest with the clock that --since and
// --until durations count back from.
func rulesBacktest(ctx context.Context, args []string, now time.Time, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ruleFiles, clusters stringList
	cfgPath := fs.String("config", "", "vigil serve's config `FILE`: its store holds the raw events (store.keep_events)")
	fs.Var(&ruleFiles, "rules", "candidate rules `FILE`, repeatable, loaded in order (default: Vigil's built-in rules)")
	since := fs.String("since", "24h", "start: RFC 3339, or a duration back from now (30m, 24h, 7d)")
	until := fs.String("until", "", "end (excluded): RFC 3339, or a duration back from now (default: now)")
	fs.Var(&clusters, "cluster", "only events of cluster `C`, repeatable")
	format := fs.String("output-format", "json", "alert format: json (Falco's JSON alert) or text (Falco's text line)")
	maxAlerts := fs.Int("max-alerts", 20, "print the first `N` alerts (all are counted)")
	window := fs.Duration("window", backtest.DefaultWindow, "events read and ordered at a time (memory holds one window)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: vigil rules backtest --config FILE [--rules FILE]... [--since 24h] [--until T] [--cluster C]...

Evaluates rules against the raw audit events kept in the configured store
(store.keep_events), oldest first, stateful rules included, and reports
what they would have raised: the first alerts, then the count per rule.
It alerts no one and writes nothing.

flags:`)
		fs.PrintDefaults()
	}
	if rest, err := parseInterspersed(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 || *cfgPath == "" {
		fs.Usage()
		return exitUsage
	}
	from, err := api.ParseTime(*since, now)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: --since %v\n", err)
		return exitUsage
	}
	to := now
	if *until != "" {
		if to, err = api.ParseTime(*until, now); err != nil {
			fmt.Fprintf(stderr, "vigil: --until %v\n", err)
			return exitUsage
		}
	}
	if !from.Before(to) {
		fmt.Fprintf(stderr, "vigil: --since %s is not before --until %s\n", from.Format(time.RFC3339), to.Format(time.RFC3339))
		return exitUsage
	}
	f, err := replay.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitUsage
	}
	cfg, err := config.LoadFile(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	if !cfg.Store.KeepEvents {
		fmt.Fprintf(stderr, "vigil: note: %s does not set store.keep_events; only events kept earlier can be there\n", *cfgPath)
	}
	loc, err := app.NewEnricher(cfg.Enrich)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	prog, ok := loadProgram(ruleFiles, engine.DefaultOptions(), stderr)
	if !ok {
		return exitError
	}
	es, closeStore, err := openEventStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	defer closeStore()

	printed := 0
	var line []byte
	res, err := backtest.Run(ctx, es, prog, backtest.Options{Since: from, Until: to, Clusters: clusters, Window: *window, Locator: loc},
		func(a *alert.Alert) {
			if printed >= *maxAlerts {
				return
			}
			printed++
			line = line[:0]
			if f == replay.Text {
				line = alert.AppendText(line, a, time.Local)
			} else {
				line = alert.AppendJSON(line, a, time.Local)
			}
			stdout.Write(append(line, '\n'))
		})
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return exitError
	}
	writeBacktest(stdout, res, from, to, printed)
	return exitOK
}

// writeBacktest prints the summary and the count per rule, most first.
func writeBacktest(w io.Writer, res backtest.Result, from, to time.Time, printed int) {
	if printed > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d events from %s to %s: %d alerts (%d printed)", res.Events, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), res.Alerts, printed)
	if res.Skipped > 0 {
		fmt.Fprintf(w, ", %d stored events unreadable", res.Skipped)
	}
	fmt.Fprintln(w)
	if len(res.PerRule) == 0 {
		return
	}
	names := make([]string, 0, len(res.PerRule))
	for n := range res.PerRule {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if res.PerRule[names[i]] != res.PerRule[names[j]] {
			return res.PerRule[names[i]] > res.PerRule[names[j]]
		}
		return names[i] < names[j]
	})
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ALERTS\t RULE\t")
	for _, n := range names {
		fmt.Fprintf(tw, "%d\t %s\t\n", res.PerRule[n], n)
	}
	tw.Flush()
}

// openEventStore opens the configured store for reading its raw events.
// An SQLite file that does not exist is an error, not a new database.
func openEventStore(ctx context.Context, cfg *config.Config) (store.EventStore, func(), error) {
	if cfg.Store.Driver == "none" {
		return nil, nil, errors.New("store.driver is none: there are no stored events")
	}
	s, err := app.OpenStore(ctx, cfg, true)
	if err != nil {
		return nil, nil, err
	}
	es, ok := s.(store.EventStore)
	if !ok {
		s.Close()
		return nil, nil, fmt.Errorf("the %s store cannot keep raw events", cfg.Store.Driver)
	}
	return es, func() { s.Close() }, nil
}
