// Package app assembles `vigil serve`: the event log, the ingest
// endpoints, the evaluator, the alert journal and the outputs, with health,
// metrics, rules reload and graceful shutdown. cmd/vigil only parses flags
// and calls Run.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilsec/vigil/internal/access"
	"github.com/vigilsec/vigil/internal/admission"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/auth"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/ingest"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
	"github.com/vigilsec/vigil/internal/output"
	"github.com/vigilsec/vigil/internal/pipeline"
	"github.com/vigilsec/vigil/internal/stateful"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/postgres"
	"github.com/vigilsec/vigil/internal/store/sqlite"
	"github.com/vigilsec/vigil/internal/tail"
	"github.com/vigilsec/vigil/internal/ui"
	"github.com/vigilsec/vigil/internal/wal"
)

// Options configure an App.
type Options struct {
	Config  *config.Config // validated
	Logger  *slog.Logger   // nil = discard
	Stdout  io.Writer      // the stdout output's writer; nil = os.Stdout
	Version string
	// Sinks are extra outputs, next to the configured ones (tests).
	Sinks []output.Output
	// OnAlerts is called after the evaluator journals alerts (tests).
	OnAlerts func(*journal.Record)
	// NoSync skips fsync in the logs: only for benchmarks that measure
	// without the disk.
	NoSync bool
}

// defaultMaxBatch is the batch size of each output type when the config
// sets none: what one request of the destination takes comfortably.
var defaultMaxBatch = map[string]int{"stdout": 500, "file": 500, "syslog": 500, "http": 100,
	"slack": 10, "mattermost": 10, "teams": 10, "mezmo": 500, "ibm_cloud_logs": 500, "nats": 500}

// Journal bounds: alerts are few, so this is room for days of an output
// being down.
const (
	journalMaxBytes = 1 << 30 // vigil replay's private journal
	journalSegment  = 32 << 20
)

// journalBound is the alert journal's size for a spool bound of spool
// (output_spool_bytes): a third more, so that evaluation goes on while
// outputs that are behind skip their oldest alerts.
func journalBound(spool int64) int64 { return spool + spool/3 }

// App is a running Vigil server.
type App struct {
	cfg      *config.Config
	log      *slog.Logger
	metrics  *metrics.Metrics
	hostname string

	events  *wal.Log
	journal *wal.Log
	auth    *auth.Authenticator
	tlsr    *auth.TLSReloader
	ingest  *ingest.Server
	eval    *pipeline.Evaluator
	outputs *output.Dispatcher
	store   store.Store // nil with driver none
	tails   []*tail.Tailer
	tailFor []config.Tail

	program    atomic.Pointer[engine.Program]
	reloadMu   sync.Mutex
	rulesStamp string

	ln       net.Listener
	srv      *http.Server
	stopping atomic.Bool
	started  atomic.Bool

	cancelEval, cancelOut, cancelTail, cancelBG context.CancelFunc
	evalDone, outDone                           chan struct{}
	tailWG, bgWG                                sync.WaitGroup
	evalErr                                     atomic.Pointer[error]

	closers []func() error // LIFO

	statsMu sync.Mutex
	stats   store.Stats
	statsAt time.Time

	enricher    *enrich.Enricher
	keeper      *eventKeeper       // nil unless store.keep_events
	stopKeeper  context.CancelFunc // ends the keeper's intake; it then drains
	cancelDrain context.CancelFunc // ends its drain: Shutdown's deadline
	access      *access.Access     // nil without the API
	api         http.Handler       // nil without the API
	hub         *api.Hub
	overrideMu  sync.Mutex
	override    map[string]bool // rules switched at runtime (rules-state.json)
	sampler     clusterSampler
}

// New opens the data directory and everything in it, and compiles the
// rules. Nothing listens yet.
func New(ctx context.Context, o Options) (_ *App, err error) {
	cfg := o.Config
	a := &App{cfg: cfg, log: o.Logger, metrics: metrics.New(o.Version)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.hostname = cfg.Hostname
	if a.hostname == "" {
		a.hostname, _ = os.Hostname()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}

	// Authentication. Without any cluster, the first run makes a token so
	// that the endpoints are never open by accident.
	ac := cfg.Auth
	if auth.NeedsToken(ac) {
		path, created, err := auth.EnsureToken(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("first-run token: %w", err)
		}
		ac.Clusters = []config.Cluster{{Name: "default", TokenFile: path}}
		msg := "no cluster configured: accepting cluster \"default\" with the bearer token in this file"
		if created {
			msg = "no cluster configured: created a bearer token for cluster \"default\" in this file"
		}
		a.log.Warn(msg, "token_file", path)
	}
	if a.auth, err = auth.New(ac, auth.Options{Logger: a.log}); err != nil {
		return nil, err
	}
	if cfg.TLS.CertFile != "" {
		if a.tlsr, err = auth.NewTLS(cfg.TLS, a.log); err != nil {
			return nil, err
		}
	}

	// Rules, with the switches made at runtime through the API.
	if err := a.loadRulesState(); err != nil {
		return nil, err
	}
	p, err := a.compileRules()
	if err != nil {
		return nil, err
	}
	a.setProgram(p)
	a.metrics.RulesReloads.WithLabelValues("ok").Inc()

	// The event log and the alert journal.
	in := cfg.Ingest
	a.events, err = wal.Open(wal.Options{Dir: filepath.Join(cfg.DataDir, "events"),
		SegmentSize: int64(in.WALSegment), MaxBytes: int64(in.WALMaxBytes),
		MaxRecord: int(2*in.MaxBodyBytes) + 1<<20, NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("event log: %w", err)
	}
	a.closers = append(a.closers, a.events.Close)
	a.journal, err = wal.Open(wal.Options{Dir: filepath.Join(cfg.DataDir, "alerts"),
		SegmentSize: journalSegment, MaxBytes: journalBound(int64(cfg.OutputSpool)), NoSync: o.NoSync})
	if err != nil {
		return nil, fmt.Errorf("alert journal: %w", err)
	}
	a.closers = append(a.closers, a.journal.Close)
	if st := a.events.Stats(); st.TornBytes > 0 {
		a.log.Warn("event log: dropped a torn tail left by a crash (never acknowledged)", "bytes", st.TornBytes)
	}
	a.metrics.GaugeFunc("vigil_wal_bytes", "Bytes in the event log.", func() float64 { return float64(a.events.Stats().Bytes) })
	a.metrics.GaugeFunc("vigil_wal_max_bytes", "Bound of the event log; at it, ingest answers 503.", func() float64 { return float64(in.WALMaxBytes) })
	a.metrics.GaugeFunc("vigil_wal_lag_bytes", "Bytes logged but not yet evaluated.", a.lagBytes)
	a.metrics.GaugeFunc("vigil_journal_bytes", "Bytes in the alert journal (alerts not yet delivered to every output, and recent ones).",
		func() float64 { return float64(a.journal.Stats().Bytes) })

	// The evaluator.
	stateDir := filepath.Join(cfg.DataDir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, err
	}
	// Where source IPs are: the network map and GeoIP databases.
	if a.enricher, err = NewEnricher(cfg.Enrich); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.enricher.Close)
	var onEvents func(cluster, capture string, events [][]byte)
	if cfg.Store.KeepEvents {
		a.keeper = newEventKeeper(nil, a.metrics, a.log) // its store is set once opened, below
		onEvents = a.keeper.offer
	}
	a.eval, err = pipeline.New(ctx, pipeline.Options{Enricher: a.enricher, OnEvents: onEvents,
		StateLimits: stateful.Limits{MaxKeysPerRule: cfg.Rules.StateMaxKeysPerRule, MaxKeys: cfg.Rules.StateMaxKeys},
		Log:         a.events, LogMaxBytes: int64(in.WALMaxBytes), Journal: a.journal, Dir: stateDir,
		Program: a.program.Load, MaxDepth: in.MaxDepth, DedupKeys: in.DedupKeys,
		DedupWindow: time.Duration(in.DedupWindow), Metrics: a.metrics, Logger: a.log, OnAlerts: o.OnAlerts,
	})
	if err != nil {
		return nil, err
	}
	a.metrics.GaugeFunc("vigil_stateful_keys", "Keys held by stateful rules (threshold, distinct, sequence, first_seen).",
		func() float64 { k, _, _ := a.eval.StateStats(); return float64(k) })
	a.metrics.CounterFunc("vigil_stateful_evictions_total", "Keys of stateful rules evicted at the caps (rules.state_max_keys*): their counts restart.",
		func() float64 { _, e, _ := a.eval.StateStats(); return float64(e) })
	a.metrics.CounterFunc("vigil_stateful_late_total", "Events too old for their stateful rule's window (more than a window behind the key's newest event), not counted.",
		func() float64 { _, _, l := a.eval.StateStats(); return float64(l) })

	// The store: an output like the others, so that it never holds
	// evaluation back and gets every alert exactly once (Add is
	// idempotent by ID).
	if a.store, err = OpenStore(ctx, cfg, false); err != nil {
		return nil, err
	}
	if a.keeper != nil {
		es, ok := a.store.(store.EventStore)
		if !ok {
			return nil, fmt.Errorf("store.keep_events: the %s store cannot keep raw events", cfg.Store.Driver)
		}
		a.keeper.st = es
	}
	if a.store != nil {
		a.closers = append(a.closers, a.store.Close)
		a.metrics.GaugeFunc("vigil_store_alerts", "Alerts in the store.", func() float64 { return float64(a.storeStats().Count) })
		a.metrics.GaugeFunc("vigil_store_bytes", "Size of the alerts in the store.", func() float64 { return float64(a.storeStats().Bytes) })
		a.metrics.GaugeFunc("vigil_store_oldest_timestamp_seconds", "Event time of the oldest alert in the store.", func() float64 {
			if t := a.storeStats().Oldest; !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		})
	}

	// Outputs.
	outs, err := a.buildOutputs(o)
	if err != nil {
		return nil, err
	}
	if a.store != nil {
		a.hub = api.NewHub(func(n int) { a.metrics.OutputDropped.WithLabelValues("api_stream", "slow_client").Add(float64(n)) })
		outs = append(outs, output.Output{Name: "store", Sink: publishSink{Sink: output.NewStore(a.store), hub: a.hub},
			MinPriority: alert.PriorityDebug, MaxBatch: 2000}) // bigger batches share index pages: 12k → 16k alerts/s in a burst
	}
	a.outputs, err = output.New(output.Options{Journal: a.journal, JournalSeg: journalSegment, SpoolLimit: int64(cfg.OutputSpool),
		Dir:     filepath.Join(cfg.DataDir, "outputs"),
		Outputs: outs, Metrics: a.metrics, Logger: a.log})
	if err != nil {
		for _, out := range outs {
			out.Sink.Close()
		}
		return nil, err
	}
	a.closers = append(a.closers, a.outputs.Close)

	// The API and UI, over the store.
	if cfg.API.Enabled && a.store != nil {
		if a.access, err = access.New(access.Options{Config: cfg.API, DataDir: cfg.DataDir, Logger: a.log,
			Secure: cfg.TLS.CertFile != ""}); err != nil {
			return nil, err
		}
		ao := api.Options{Store: a.store, Access: a.access, Rules: appRules{a}, Clusters: a.clusters, Hub: a.hub, Logger: a.log}
		if a.keeper != nil {
			ao.Events = a.keeper.st
		}
		a.api = api.New(ao)
	} else if cfg.API.Enabled {
		a.log.Warn("the API and UI are off: they need a store (store.driver is none)")
	}

	// Ingest.
	iopts := ingest.Options{
		Log: a.events, Auth: a.authFunc, MaxBodyBytes: int64(in.MaxBodyBytes),
		Limits:     audit.Limits{MaxEventSize: int(in.MaxEventBytes), MaxDepth: in.MaxDepth},
		AckTimeout: time.Duration(in.AckTimeout), RetryAfter: time.Duration(in.RetryAfter),
		Metrics: a.metrics, Logger: a.log, ShuttingDown: a.stopping.Load,
		Behind: func() bool { return a.lagBytes() > float64(in.WALMaxBytes)/16 },
		Admission: ingest.AdmissionOptions{Timeout: time.Duration(cfg.Admission.Timeout),
			Decode: admission.Options{MaxBodyBytes: int(in.MaxBodyBytes), MaxDepth: in.MaxDepth}},
	}
	if cfg.Admission.Mode == "enforce" {
		iopts.Admission.Decide = newDecider(a).decide
	}
	a.ingest = ingest.New(iopts)

	// Tails.
	tailDir := filepath.Join(cfg.DataDir, "tail")
	if len(cfg.Tail) > 0 {
		if err := os.MkdirAll(tailDir, 0o700); err != nil {
			return nil, err
		}
	}
	for _, tc := range cfg.Tail {
		sum := sha256.Sum256([]byte(tc.Path))
		t, err := tail.New(tail.Options{Path: tc.Path, MaxLine: int(in.MaxEventBytes) + 1,
			StateFile: filepath.Join(tailDir, hex.EncodeToString(sum[:8])+".pos"), Logger: a.log.With("tail", tc.Path),
			OnLongLine: func(file string, off, n int64) {
				a.metrics.TailSkipped.WithLabelValues(file, "too_large").Inc()
				a.metrics.EventsRejected.WithLabelValues(tc.Cluster, "tail", "too_large").Inc()
			}})
		if err != nil {
			return nil, fmt.Errorf("tail %s: %w", tc.Path, err)
		}
		a.tails = append(a.tails, t)
		a.tailFor = append(a.tailFor, tc)
	}
	now := time.Now()
	for _, c := range ac.Clusters {
		a.metrics.WatchCluster(c.Name, now)
	}
	for _, t := range cfg.Tail {
		a.metrics.WatchCluster(t.Cluster, now)
	}
	return a, nil
}

func (a *App) buildOutputs(o Options) ([]output.Output, error) {
	outs, err := BuildOutputs(a.cfg, a.log, a.hostname, o.Stdout)
	if err != nil {
		return nil, err
	}
	return append(outs, o.Sinks...), nil
}

// BuildOutputs makes the configured outputs (cfg must be validated).
// stdout is the stdout output's writer (nil = os.Stdout).
func BuildOutputs(cfg *config.Config, log *slog.Logger, hostname string, stdout io.Writer) ([]output.Output, error) {
	var outs []output.Output
	for _, oc := range cfg.Outputs {
		f, err := output.ParseFormat(oc.Format)
		if err != nil {
			return nil, err
		}
		minp := alert.PriorityDebug
		if oc.MinPriority != "" {
			if minp, err = alert.ParsePriority(oc.MinPriority); err != nil {
				return nil, err
			}
		}
		var sink output.Sink
		switch oc.Type {
		case "stdout":
			w := stdout
			if w == nil {
				w = os.Stdout
			}
			sink = output.NewWriter(w, f, time.Local)
		case "file":
			fs, err := output.OpenFile(oc.Path, f, time.Local, output.Rotation{MaxSize: int64(oc.MaxSize), MaxAge: time.Duration(oc.MaxAge), MaxFiles: oc.MaxFiles})
			if err != nil {
				return nil, fmt.Errorf("output %s: %w", oc.Name, err)
			}
			sink = fs
		default:
			so := output.SinkOptions{Logger: log.With("output", oc.Name), Hostname: hostname, UIURL: cfg.UIURL, Location: time.Local}
			var err error
			switch oc.Type {
			case "syslog":
				sink, err = output.NewSyslog(*oc.Syslog, so)
			case "http":
				sink, err = output.NewHTTP(*oc.HTTP, so)
			case "slack":
				sink, err = output.NewSlack(*oc.Chat(), so)
			case "mattermost":
				sink, err = output.NewMattermost(*oc.Chat(), so)
			case "teams":
				sink, err = output.NewTeams(*oc.Chat(), so)
			case "mezmo":
				sink, err = output.NewMezmo(*oc.Mezmo, so)
			case "ibm_cloud_logs":
				sink, err = output.NewIBMLogs(*oc.IBMCloudLogs, so)
			case "nats":
				sink, err = output.NewNATS(*oc.NATS, so)
			default:
				err = fmt.Errorf("unknown type %q", oc.Type)
			}
			if err != nil {
				for _, o := range outs {
					o.Sink.Close()
				}
				return nil, fmt.Errorf("output %s: %w", oc.Name, err)
			}
		}
		if oc.MaxBatch == 0 {
			oc.MaxBatch = defaultMaxBatch[oc.Type]
		}
		outs = append(outs, output.Output{Name: oc.Name, Sink: sink, MinPriority: minp,
			Filter:       output.Filter{Rules: oc.Rules, ExcludeRules: oc.ExcludeRules, Tags: oc.Tags, ExcludeTags: oc.ExcludeTags},
			RedactFields: oc.RedactFields,
			Throttle:     output.Throttle{Window: time.Duration(oc.Throttle.Window), Keys: oc.Throttle.Keys},
			MaxBatch:     oc.MaxBatch, MaxWait: time.Duration(oc.MaxWait), Timeout: time.Duration(oc.Timeout),
			MaxBackoff: time.Duration(oc.MaxBackoff)})
	}
	return outs, nil
}

func (a *App) authFunc(r *http.Request) (string, int, string) {
	id, err := a.auth.Authenticate(r)
	if err == nil {
		return id.Cluster, 0, ""
	}
	reason := "invalid_credentials"
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		reason = "no_credentials"
	case errors.Is(err, auth.ErrForbidden):
		reason = "forbidden"
	}
	return "", auth.HTTPStatus(err), reason
}

// lagBytes estimates the bytes logged but not yet evaluated (segments
// between the two positions count as full).
func (a *App) lagBytes() float64 {
	st := a.events.Stats()
	end, p := st.End, a.eval.Processed()
	if p.Less(st.First) {
		p = st.First // nothing evaluated yet, or released past it
	}
	switch {
	case !p.Less(end):
		return 0
	case end.Seg == p.Seg:
		return float64(end.Off - p.Off)
	}
	seg := int64(a.cfg.Ingest.WALSegment)
	return float64(int64(end.Seg-p.Seg-1)*seg + end.Off + max(seg-p.Off, 0))
}

// Handler returns the HTTP routes.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/k8s_audit", a.ingest.AuditHandler())
	mux.Handle("/k8s-audit", a.ingest.AuditHandler())
	if a.cfg.Admission.Enabled {
		mux.Handle("/admission", a.ingest.AdmissionHandler())
	} else { // not the UI's page: a webhook pointed here must fail plainly
		mux.HandleFunc("/admission", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the admission webhook is disabled (admission.enabled: false)", http.StatusNotFound)
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	if a.api != nil {
		mux.Handle("/api/", a.api)
		mux.Handle("/", ui.Handler()) // the web UI: every other path
	}
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if _, status, reason := a.authFunc(r); status != 0 {
			http.Error(w, http.StatusText(status)+": "+reason, status)
			return
		}
		if err := a.Reload(); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		io.WriteString(w, "rules reloaded\n")
	})
	return mux
}

// ready answers 200 when Vigil accepts events: started, not stopping, the
// evaluator running and the event log not nearly full.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	switch {
	case !a.started.Load():
		http.Error(w, "starting", http.StatusServiceUnavailable)
	case a.stopping.Load():
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	case a.evalErr.Load() != nil:
		http.Error(w, "evaluator stopped: "+(*a.evalErr.Load()).Error(), http.StatusServiceUnavailable)
	case float64(a.events.Stats().Bytes) > 0.95*float64(a.cfg.Ingest.WALMaxBytes):
		http.Error(w, "event log nearly full", http.StatusServiceUnavailable)
	default:
		io.WriteString(w, "ready\n")
	}
}

// Start listens and starts every loop.
func (a *App) Start() error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.ln = ln
	a.srv = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute, IdleTimeout: 5 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	if a.hub != nil {
		a.srv.RegisterOnShutdown(a.hub.Close) // live streams never idle
	}

	evalCtx, cancel := context.WithCancel(context.Background())
	a.cancelEval, a.evalDone = cancel, make(chan struct{})
	go func() {
		defer close(a.evalDone)
		if err := a.eval.Run(evalCtx); err != nil {
			a.evalErr.Store(&err)
			a.log.Error("evaluator stopped; events are still logged and will be evaluated after a restart", "err", err)
		}
	}()
	outCtx, cancel := context.WithCancel(context.Background())
	a.cancelOut, a.outDone = cancel, make(chan struct{})
	go func() { defer close(a.outDone); a.outputs.Run(outCtx) }()

	tailCtx, cancel := context.WithCancel(context.Background())
	a.cancelTail = cancel
	for i, t := range a.tails {
		pub := a.ingest.TailPublisher(a.tailFor[i].Cluster)
		a.tailWG.Go(func() {
			if err := t.Run(tailCtx, pub); err != nil && tailCtx.Err() == nil {
				a.log.Error("tail stopped", "path", a.tailFor[i].Path, "err", err)
			}
		})
	}
	bgCtx, cancel := context.WithCancel(context.Background())
	a.cancelBG = cancel
	if a.cfg.Rules.Watch && len(a.cfg.Rules.Files) > 0 {
		a.bgWG.Go(func() { a.watchRules(bgCtx) })
	}
	if a.store != nil {
		a.bgWG.Go(func() { a.retain(bgCtx) })
	}
	if a.keeper != nil {
		kctx, kcancel := context.WithCancel(context.Background())
		dctx, dcancel := context.WithCancel(context.Background())
		a.stopKeeper, a.cancelDrain = kcancel, dcancel
		go a.keeper.run(kctx, dctx)
	}
	if a.api != nil {
		a.bgWG.Go(func() {
			for {
				a.sampleClusters(time.Now())
				select {
				case <-bgCtx.Done():
					return
				case <-time.After(sampleEvery):
				}
			}
		})
	}

	go func() {
		var err error
		if a.tlsr != nil {
			a.srv.TLSConfig = a.tlsr.Config()
			err = a.srv.ServeTLS(ln, "", "")
		} else {
			err = a.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP server stopped", "err", err)
		}
	}()
	a.started.Store(true)
	scheme := "http"
	if a.tlsr != nil {
		scheme = "https"
	}
	a.log.Info("vigil serving", "addr", ln.Addr().String(), "scheme", scheme, "data_dir", a.cfg.DataDir,
		"admission", a.cfg.Admission.Enabled, "admission_mode", a.cfg.Admission.Mode, "tails", len(a.tails))
	return nil
}

// NewEnricher opens the configured GeoIP databases and network map. It
// always returns an Enricher: without databases it still says which
// source IP to trust.
func NewEnricher(c config.Enrich) (*enrich.Enricher, error) {
	o := enrich.Options{CityDB: c.GeoIPCityDB, ASNDB: c.GeoIPASNDB}
	for i, n := range c.Networks {
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			return nil, fmt.Errorf("enrich.networks[%d]: %w", i, err)
		}
		o.Networks = append(o.Networks, enrich.Network{Prefix: p.Masked(), Name: n.Name, City: n.City, Region: n.Region,
			Country: n.Country, CountryCode: n.CountryCode, Owner: n.Owner})
	}
	for i, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("enrich.trusted_proxies[%d]: %w", i, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		o.TrustedProxies = append(o.TrustedProxies, p)
	}
	e, err := enrich.New(o)
	if err != nil {
		return nil, fmt.Errorf("enrich: %w", err)
	}
	return e, nil
}

// OpenStore opens the configured store, or returns nil for driver none.
// With mustExist, a missing SQLite file is an error rather than a new
// database (tools that only read).
func OpenStore(ctx context.Context, cfg *config.Config, mustExist bool) (store.Store, error) {
	switch cfg.Store.Driver {
	case "none":
		return nil, nil
	case "postgres":
		s, err := postgres.New(ctx, string(cfg.Store.URL))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return s, nil
	}
	path := cfg.Store.Path
	if path == "" {
		path = filepath.Join(cfg.DataDir, "alerts.db")
	}
	if mustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s, err := sqlite.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
}

// storeStats returns the store's figures, read at most every 10s (a
// PostgreSQL store may be slow to count).
func (a *App) storeStats() store.Stats {
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	if time.Since(a.statsAt) > 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if st, err := a.store.Stats(ctx); err == nil {
			a.stats, a.statsAt = st, time.Now()
		}
	}
	return a.stats
}

// retain enforces the store's retention every minute.
func (a *App) retain(ctx context.Context) {
	r := store.Retention{MaxAge: time.Duration(a.cfg.Store.Retention), MaxBytes: int64(a.cfg.Store.MaxBytes)}
	for {
		n, err := a.store.Retain(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("store retention", "err", err)
		case n > 0:
			a.log.Info("store retention deleted old alerts", "alerts", n)
		}
		if a.keeper != nil {
			er := store.Retention{MaxAge: time.Duration(a.cfg.Store.EventsRetention), MaxBytes: int64(a.cfg.Store.EventsMaxBytes)}
			n, err := a.keeper.st.RetainEvents(ctx, er)
			switch {
			case err != nil && ctx.Err() == nil:
				a.log.Warn("store retention (raw events)", "err", err)
			case n > 0:
				a.log.Info("store retention deleted old raw events", "events", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

// Store returns the alert store (nil with driver none).
func (a *App) Store() store.Store { return a.store }

// Addr returns the listening address.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Metrics returns the server's metrics (tests, benchmarks).
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Evaluated returns the events evaluated and the alerts raised since start.
func (a *App) Evaluated() (events, alerts uint64) { return a.eval.Counts() }

func (a *App) watchRules(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s := a.statRules(); s != a.rulesStamp {
				a.log.Info("rules files changed; reloading")
				a.rulesStamp = s
				a.Reload()
			}
		}
	}
}

// Shutdown stops accepting, lets requests in flight finish, evaluates what
// was logged, delivers what was journalled, and closes everything, within
// ctx's deadline. What does not make it by then is still on disk and is
// processed at the next start.
func (a *App) Shutdown(ctx context.Context) error {
	a.stopping.Store(true)
	var errs []error
	if a.srv != nil {
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	if a.cancelTail != nil {
		a.cancelTail()
		a.tailWG.Wait()
	}
	if a.cancelBG != nil {
		a.cancelBG()
		a.bgWG.Wait()
	}
	if a.cancelEval != nil {
		if a.evalErr.Load() == nil {
			if err := a.eval.Drain(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		a.cancelEval()
		<-a.evalDone
	}
	if a.stopKeeper != nil { // after the evaluator: it feeds the keeper
		a.stopKeeper()
		// The keeper writes what is queued until Shutdown's deadline, and
		// is done before the store closes.
		stop := context.AfterFunc(ctx, a.cancelDrain)
		<-a.keeper.done
		stop()
		a.cancelDrain()
	}
	if a.cancelOut != nil {
		if err := a.outputs.Drain(ctx); err != nil {
			errs = append(errs, err)
		}
		a.cancelOut()
		<-a.outDone
	}
	if err := a.close(); err != nil {
		errs = append(errs, err)
	}
	ev, al := a.eval.Counts()
	a.log.Info("vigil stopped", "events_evaluated", ev, "alerts", al)
	return errors.Join(errs...)
}

func (a *App) close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
