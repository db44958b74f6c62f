package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/config"
)

// cmdServe runs the server until ctx is cancelled (SIGINT, SIGTERM), and
// reloads the rules on SIGHUP.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config file (without it: the embedded defaults)")
	listen := fs.String("listen", "", "listen address host:port, overriding the config's listen")
	dataDir := fs.String("data-dir", "", "data directory, overriding the config's data_dir")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil serve [--config FILE] [flags]\n\nReceives audit events (POST /k8s_audit, /k8s-audit), admission reviews\n(POST /admission) and followed audit logs, evaluates them against the rules\nand sends alerts to the configured outputs (stdout by default). Logs go to\nstderr. SIGHUP reloads the rules; SIGTERM drains and stops.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "vigil serve: %v\n", err)
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "vigil serve: %v\n", err)
		return exitError
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "vigil serve: %v\n", err)
		return exitError
	}
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, Stdout: stdout, Version: version})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitError
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := a.Start(); err != nil {
		logger.Error("cannot start", "err", err)
		a.Shutdown(context.Background())
		return exitError
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			logger.Info("SIGHUP: reloading rules")
			a.Reload()
		}
	}
	grace := time.Duration(cfg.Shutdown)
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		logger.Error("shutdown incomplete; the rest is on disk and is processed at the next start", "err", err)
		return exitError
	}
	return exitOK
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		c := config.Default()
		return &c, nil
	}
	return config.LoadFile(path)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: use text or json", format)
}

// cmdConfigCheck validates config files offline.
func cmdConfigCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: vigil config check FILE...\n\nParses and validates config files without starting anything; prints every\nproblem with file:line. Exit status 0 if valid, 1 otherwise.")
		return exitUsage
	}
	code := exitOK
	for _, p := range args {
		if _, err := config.LoadFile(p); err != nil {
			fmt.Fprintln(stderr, err)
			code = exitError
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", p)
	}
	return code
}
