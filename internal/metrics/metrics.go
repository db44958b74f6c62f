// Package metrics defines Vigil's Prometheus metrics, registered on a
// registry of their own (no global state), so that tests can run many
// servers in one process.
//
// Label values are bounded: cluster names come from the configuration, and
// the source of a failed authentication is capped (see Sources).
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is every metric of one Vigil server.
type Metrics struct {
	Registry *prometheus.Registry

	Requests       *prometheus.CounterVec   // endpoint, code
	EventsReceived *prometheus.CounterVec   // cluster, capture: events in accepted requests, valid or not
	EventsAccepted *prometheus.CounterVec   // cluster, capture: events written to the log
	EventsRejected *prometheus.CounterVec   // cluster, capture, reason: events skipped at ingest
	BatchEvents    prometheus.Histogram     // events per accepted request
	AckSeconds     *prometheus.HistogramVec // endpoint: time from request to answer
	Unavailable    *prometheus.CounterVec   // endpoint, reason: requests answered 503 (log full, timeout, error)
	AuthFailures   *prometheus.CounterVec   // source, reason

	Evaluated      *prometheus.CounterVec // cluster: events evaluated
	DedupHits      *prometheus.CounterVec // cluster: resent events dropped by auditID+stage
	EvalSkipped    *prometheus.CounterVec // reason: logged events that could not be evaluated
	EvalSeconds    prometheus.Histogram   // evaluation time of one logged batch
	Alerts         *prometheus.CounterVec // rule, priority, cluster
	LastEvent      *prometheus.GaugeVec   // cluster: Unix time of the last event received
	AdmissionDeny  *prometheus.CounterVec // rule
	AdmissionFails *prometheus.CounterVec // reason: reviews allowed without being recorded (detect mode)

	RulesReloads  *prometheus.CounterVec // result: ok, error
	RulesLoaded   prometheus.Gauge       // enabled rules
	RulesReloadTS prometheus.Gauge       // Unix time of the last successful load

	OutputSent      *prometheus.CounterVec // output
	OutputFailed    *prometheus.CounterVec // output, kind (retryable, permanent)
	OutputDropped   *prometheus.CounterVec // output, reason
	OutputRetried   *prometheus.CounterVec // output: attempts after a failure
	OutputQueued    *prometheus.GaugeVec   // output: alerts read from the journal, not yet sent
	OutputBacklog   *prometheus.GaugeVec   // output: journal bytes not yet delivered (the spool)
	OutputThrottled *prometheus.CounterVec // output: repeats collapsed into a summary
	OutputFiltered  *prometheus.CounterVec // output: alerts the output's filters left out

	EventsKept    prometheus.Counter     // raw events written to the store (store.keep_events)
	EventsNotKept *prometheus.CounterVec // reason: raw events the store did not get

	TailLines   *prometheus.CounterVec // path
	TailSkipped *prometheus.CounterVec // path, reason

	mu       sync.Mutex
	lastSeen map[string]time.Time // configured clusters start at their watch time
	seen     map[string]time.Time // only real events
	now      func() time.Time
}

// New creates and registers the metrics. walStats and lag are read at
// scrape time.
func New(version string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r, lastSeen: map[string]time.Time{}, seen: map[string]time.Time{}, now: time.Now}
	f := promFactory{r}
	m.Requests = f.counterVec("vigil_http_requests_total", "HTTP requests by endpoint and status code.", "endpoint", "code")
	m.EventsReceived = f.counterVec("vigil_events_received_total", "Events in ingested requests, valid or not.", "cluster", "capture")
	m.EventsAccepted = f.counterVec("vigil_events_decoded_total", "Events decoded and written to the durable log.", "cluster", "capture")
	m.EventsRejected = f.counterVec("vigil_events_rejected_total", "Events skipped at ingest, by reason (malformed_json, too_large, too_deep, not_audit_event, bad_timestamp).", "cluster", "capture", "reason")
	m.BatchEvents = f.histogram("vigil_batch_events", "Events per accepted request.", []float64{1, 10, 50, 100, 200, 400, 800, 2000})
	m.AckSeconds = f.histogramVec("vigil_ack_seconds", "Time from request start to answer, by endpoint.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}, "endpoint")
	m.Unavailable = f.counterVec("vigil_unavailable_total", "Requests answered 503, by reason (log_full, timeout, log_error, shutting_down).", "endpoint", "reason")
	m.AuthFailures = f.counterVec("vigil_auth_failures_total", "Failed authentications by source address and reason.", "source", "reason")
	m.Evaluated = f.counterVec("vigil_events_evaluated_total", "Events evaluated against the rules.", "cluster")
	m.DedupHits = f.counterVec("vigil_dedup_hits_total", "Resent events (same auditID and stage) dropped before evaluation.", "cluster")
	m.EvalSkipped = f.counterVec("vigil_eval_skipped_total", "Logged events that could not be evaluated, by reason.", "reason")
	m.EvalSeconds = f.histogram("vigil_eval_batch_seconds", "Time to evaluate one logged batch.", []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .5})
	m.Alerts = f.counterVec("vigil_alerts_total", "Alerts raised, by rule, priority and cluster.", "rule", "priority", "cluster")
	m.LastEvent = f.gaugeVec("vigil_cluster_last_event_timestamp_seconds", "Unix time of the last event received from each cluster.", "cluster")
	m.AdmissionDeny = f.counterVec("vigil_admission_denied_total", "Admission reviews denied in enforce mode, by rule.", "rule")
	m.AdmissionFails = f.counterVec("vigil_admission_unrecorded_total", "Admission reviews allowed without being recorded, by reason.", "reason")
	m.RulesReloads = f.counterVec("vigil_rules_reloads_total", "Rules loads by result (ok, error). On error the previous rules keep running.", "result")
	m.RulesLoaded = f.gauge("vigil_rules_enabled", "Rules enabled in the running rule set.")
	m.RulesReloadTS = f.gauge("vigil_rules_last_reload_success_timestamp_seconds", "Unix time of the last successful rules load.")
	m.OutputSent = f.counterVec("vigil_output_sent_total", "Alerts delivered, by output.", "output")
	m.OutputFailed = f.counterVec("vigil_output_failed_total", "Failed delivery attempts, by output and kind (retryable, permanent).", "output", "kind")
	m.OutputDropped = f.counterVec("vigil_output_dropped_total", "Alerts an output gave up on, by reason (permanent_error: in the dead-letter file).", "output", "reason")
	m.OutputRetried = f.counterVec("vigil_output_retries_total", "Send attempts repeated after a failure, by output.", "output")
	m.OutputQueued = f.gaugeVec("vigil_output_queued_alerts", "Alerts read from the journal and waiting to be sent, by output.", "output")
	m.OutputBacklog = f.gaugeVec("vigil_output_backlog_bytes", "Bytes of the alert journal (the spool) not yet delivered, by output.", "output")
	m.OutputThrottled = f.counterVec("vigil_output_throttled_total", "Repeated alerts collapsed into a summary by an output's throttle.", "output")
	m.OutputFiltered = f.counterVec("vigil_output_filtered_total", "Alerts left out by an output's priority, rule and tag filters.", "output")
	m.EventsKept = f.counter("vigil_store_events_kept_total", "Raw audit events written to the store (store.keep_events); events it already had are skipped there.")
	m.EventsNotKept = f.counterVec("vigil_store_events_dropped_total", "Raw audit events not kept in the store, by reason (queue_full: the store fell behind; store_error; unparsable). Alerts are unaffected.", "reason")
	m.TailLines = f.counterVec("vigil_tail_bytes_total", "Bytes read from tailed audit logs.", "path")
	m.TailSkipped = f.counterVec("vigil_tail_skipped_total", "Lines skipped in tailed audit logs, by reason.", "path", "reason")
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version}}, func() float64 { return 1 }))
	r.MustRegister(&sinceCollector{m: m, desc: prometheus.NewDesc("vigil_cluster_seconds_since_last_event",
		"Seconds since the last event from each cluster: alert on it to learn that a cluster went quiet.", []string{"cluster"}, nil)})
	return m
}

// Seen records that cluster sent events now.
func (m *Metrics) Seen(cluster string, now time.Time) {
	m.mu.Lock()
	if now.After(m.lastSeen[cluster]) {
		m.lastSeen[cluster] = now
	}
	if now.After(m.seen[cluster]) {
		m.seen[cluster] = now
	}
	m.mu.Unlock()
	m.LastEvent.WithLabelValues(cluster).Set(float64(now.UnixNano()) / 1e9)
}

// WatchCluster starts the quiet-cluster clock for a configured cluster that
// has not sent anything yet, so that a cluster that never connects shows
// up too.
func (m *Metrics) WatchCluster(cluster string, since time.Time) {
	m.mu.Lock()
	if _, ok := m.lastSeen[cluster]; !ok {
		m.lastSeen[cluster] = since
	}
	m.mu.Unlock()
}

// LastSeen returns when each cluster that sent events last did.
func (m *Metrics) LastSeen() map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Time, len(m.seen))
	for k, v := range m.seen {
		out[k] = v
	}
	return out
}

type sinceCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *sinceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sinceCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	now := c.m.now()
	for cl, t := range c.m.lastSeen {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(t).Seconds(), cl)
	}
}

// GaugeFunc registers a gauge read at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc registers a counter read at scrape time.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// Sources caps the distinct values of a label fed by untrusted input, such
// as the address of a client that failed to authenticate: past the cap,
// new values are reported as "other".
type Sources struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

// NewSources returns a cap of max distinct values.
func NewSources(max int) *Sources { return &Sources{max: max, seen: map[string]bool{}} }

// Label returns v, or "other" once max other values were seen.
func (s *Sources) Label(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return v
	}
	if len(s.seen) >= s.max {
		return "other"
	}
	s.seen[v] = true
	return v
}

type promFactory struct{ r *prometheus.Registry }

func (f promFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f promFactory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(v)
	return v
}

func (f promFactory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f promFactory) gauge(name, help string) prometheus.Gauge {
	v := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.r.MustRegister(v)
	return v
}

func (f promFactory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	v := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.r.MustRegister(v)
	return v
}

func (f promFactory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(v)
	return v
}
