package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/corpus"
)

// Server is a started `vigil serve` in this process (an *app.App: this
// package may not import internal/app, so cmd/vigil and the tests pass a
// ServeOptions.Start that makes one).
type Server interface {
	Addr() string                       // the listening address
	Evaluated() (events, alerts uint64) // counts since start
	Shutdown(ctx context.Context) error // drains and stops
}

// ServeOptions configure a load test of `vigil serve`: audit webhook
// batches from closed-loop senders, admission reviews at a fixed rate, or
// both at once.
type ServeOptions struct {
	// Exec, when set, is a vigil binary run as a child `vigil serve`, so
	// that peak RSS, CPU time and allocations are the server's alone.
	// Otherwise Start starts the server in this process, and those figures
	// include the load generator and its pre-built bodies.
	Exec  string
	Start func(cfg *config.Config) (Server, error)

	RulesFiles []string // rules files; empty = the built-in rules
	TempDir    string   // parent of the server's data directory; "" = os.TempDir()

	Ingest   bool          // send audit webhook batches (POST /k8s-audit)
	Senders  int           // concurrent senders, each waiting for its ack before the next batch (default 4)
	Batch    int           // events per EventList (default 400)
	Bodies   int           // distinct pre-built bodies, cycled with fresh auditIDs (default 64)
	Seed     int64         // corpus seed
	Duration time.Duration // how long to send (default 20s unless Batches is set)
	Batches  int           // stop after this many batches in all; 0 = when Duration is up
	// Rate, when set, paces the senders to this many events per second in
	// all (each sender sends on its own schedule, or at once when it is
	// behind), so that latency is measured at a given load rather than at
	// saturation.
	Rate float64

	AdmissionRate float64  // AdmissionReviews per second, sent open loop; 0 = none
	Reviews       [][]byte // AdmissionReview bodies, cycled with fresh UIDs; nil = a built-in Pod CREATE

	CPUProfile string // in-process only: write a CPU profile of the measurement there
}

// Latency summarises a set of request latencies.
type Latency struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func latencyOf(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return Latency{N: len(d), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: d[len(d)-1]}
}

// String formats the latencies in milliseconds.
func (l Latency) String() string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	return fmt.Sprintf("p50 %s ms, p90 %s ms, p99 %s ms, max %s ms (%d requests)", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), l.N)
}

// ServeResult is one load test.
type ServeResult struct {
	Child     bool             // the server ran as a child process
	Senders   int              // webhook senders
	Batch     int              // events per batch
	Elapsed   time.Duration    // sending time
	Drain     time.Duration    // from the end of sending until every acknowledged event was evaluated
	Batches   int64            // batches acknowledged with 200
	Events    int64            // events in acknowledged batches
	Bytes     int64            // body bytes of acknowledged batches
	Refused   int64            // batches answered with another status (the sender waits 100 ms and goes on)
	Reasons   map[string]int64 // refused batches by status and reason, e.g. "503 log_full"
	Evaluated uint64           // events evaluated during the measurement (admission reviews included)
	LogBytes  int64            // peak size of the event log, sampled every 250 ms while sending
	LagEvents int64            // peak events acknowledged but not yet evaluated, sampled likewise
	Alerts    uint64           // alerts raised
	Ack       Latency          // webhook: from sending the request to reading the whole answer

	AdmissionRate   float64 // target reviews per second
	AdmissionSent   int64   // reviews sent
	AdmissionFailed int64   // reviews not answered 200 with a response
	Unrecorded      int64   // reviews allowed without being recorded (vigil_admission_unrecorded_total)
	Admission       Latency // from the review's scheduled time to the whole answer (open loop)

	Mallocs   uint64        // heap allocations of the server process during the measurement
	CPU       time.Duration // user+system CPU time of the server process during the measurement
	LoadCPU   time.Duration // CPU time of the load generator (child mode only)
	PeakRSS   int64         // peak RSS of the server process, bytes
	BodyBytes int64         // memory held by the pre-built bodies (in PeakRSS in-process)
}

// AckedPerSec returns acknowledged events per second of sending.
func (r ServeResult) AckedPerSec() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// EvaluatedPerSec returns evaluated events per second, from the start of
// sending to the evaluation of the last one: the sustained end-to-end rate.
func (r ServeResult) EvaluatedPerSec() float64 {
	return float64(r.Evaluated) / (r.Elapsed + r.Drain).Seconds()
}

// AllocsPerEvent returns the server's heap allocations per evaluated
// event (requests, decoding, logging, evaluation and alerts).
func (r ServeResult) AllocsPerEvent() float64 {
	return float64(r.Mallocs) / float64(max(r.Evaluated, 1))
}

// String formats the result for people.
func (r ServeResult) String() string {
	var b strings.Builder
	where := "in this process (RSS, CPU and allocations include the load generator)"
	if r.Child {
		where = "child process `vigil serve` (RSS, CPU and allocations are the server's alone)"
	}
	fmt.Fprintf(&b, "server:         %s, GOMAXPROCS %d, %d CPUs\n", where, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&b, "sending:        %s\n", r.Elapsed.Round(time.Millisecond))
	if r.Batches > 0 || r.Refused > 0 {
		fmt.Fprintf(&b, "webhook:        %d senders, %d events/batch, %d batches acknowledged, %d refused\n", r.Senders, r.Batch, r.Batches, r.Refused)
		fmt.Fprintf(&b, "acknowledged:   %d events, %.1f MB, %.0f events/s, %.1f MB/s\n", r.Events, float64(r.Bytes)/1e6,
			r.AckedPerSec(), float64(r.Bytes)/1e6/r.Elapsed.Seconds())
		fmt.Fprintf(&b, "ack latency:    %s\n", r.Ack)
		for _, k := range slices.Sorted(maps.Keys(r.Reasons)) {
			fmt.Fprintf(&b, "refused:        %d × %s\n", r.Reasons[k], k)
		}
	}
	if r.AdmissionRate > 0 {
		fmt.Fprintf(&b, "admission:      %.0f reviews/s target, %d sent, %d failed, %d allowed without being recorded\n",
			r.AdmissionRate, r.AdmissionSent, r.AdmissionFailed, r.Unrecorded)
		fmt.Fprintf(&b, "review latency: %s\n", r.Admission)
	}
	if r.LogBytes > 0 {
		fmt.Fprintf(&b, "event log:      peak %.0f MB (bound: ingest.wal_max_bytes, 1 GiB by default); peak evaluation lag %d events\n",
			float64(r.LogBytes)/1e6, r.LagEvents)
	}
	fmt.Fprintf(&b, "evaluated:      %d events (%d alerts), %s after the last ack; %.0f events/s end to end\n",
		r.Evaluated, r.Alerts, r.Drain.Round(time.Millisecond), r.EvaluatedPerSec())
	if r.CPU > 0 {
		fmt.Fprintf(&b, "server CPU:     %s (%.2f cores, %.0f events per CPU-second)\n", r.CPU.Round(time.Millisecond),
			r.CPU.Seconds()/(r.Elapsed+r.Drain).Seconds(), float64(r.Evaluated)/r.CPU.Seconds())
	}
	if r.LoadCPU > 0 {
		fmt.Fprintf(&b, "load gen CPU:   %s (%.2f cores)\n", r.LoadCPU.Round(time.Millisecond), r.LoadCPU.Seconds()/(r.Elapsed+r.Drain).Seconds())
	}
	if r.Mallocs > 0 {
		fmt.Fprintf(&b, "allocs/event:   %.2f\n", r.AllocsPerEvent())
	}
	if r.PeakRSS > 0 {
		in := "included"
		if r.Child {
			in = "not included"
		}
		fmt.Fprintf(&b, "peak RSS:       %.1f MB (the load generator's %.1f MB of pre-built bodies %s)\n",
			float64(r.PeakRSS)/1e6, float64(r.BodyBytes)/1e6, in)
	}
	return b.String()
}

// body is one pre-built EventList whose auditIDs are rewritten before each
// send, so that the evaluator's auditID+stage dedup sees new events.
type body struct {
	data   []byte
	ids    []int // offsets of the auditID values
	events int
	round  uint32
}

// stamp writes the round number over the first 8 hex digits of every
// auditID: the rest of each ID is the corpus's random, unique value.
func (b *body) stamp() {
	var h [8]byte
	hexUint32(h[:], b.round)
	for _, off := range b.ids {
		copy(b.data[off:off+8], h[:])
	}
	b.round++
}

func hexUint32(dst []byte, v uint32) {
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		dst[i] = digits[v&15]
		v >>= 4
	}
}

// buildBodies renders n EventLists of size events from the corpus.
func buildBodies(n, size int, seed int64) []body {
	g := corpus.New(corpus.Options{Seed: seed})
	idKey := []byte(`"auditID":"`)
	bodies := make([]body, n)
	var ev []byte
	for i := range bodies {
		b := &bodies[i]
		b.data = append(b.data, `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`...)
		for j := range size {
			if j > 0 {
				b.data = append(b.data, ',')
			}
			ev = g.Next(ev[:0])
			if k := bytes.Index(ev, idKey); k >= 0 {
				b.ids = append(b.ids, len(b.data)+k+len(idKey))
			}
			b.data = append(b.data, ev...)
		}
		b.data = append(b.data, "]}"...)
		b.data = slices.Clip(b.data)
		b.events = size
	}
	return bodies
}

// review is an AdmissionReview body and the offset of its request UID.
type review struct {
	data []byte
	uid  int
}

// reviewPod is used when ServeOptions.Reviews is nil: a Pod CREATE shaped
// like the ones a real kube-apiserver v1.33 sends.
const reviewPod = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"00000000-3c1e-4c0a-9d4e-2b7f0c5a91d3","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"requestKind":{"group":"","version":"v1","kind":"Pod"},"requestResource":{"group":"","version":"v1","resource":"pods"},"name":"web-7d9f8b6c5-x2kqp","namespace":"shop","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller","uid":"5b0e2f61-8c3a-4f7e-b1d2-9a6c4e8f0d21","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]},"object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-7d9f8b6c5-x2kqp","generateName":"web-7d9f8b6c5-","namespace":"shop","uid":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","creationTimestamp":"2026-11-22T11:23:09Z","labels":{"app":"web","pod-template-hash":"7d9f8b6c5"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9f8b6c5","uid":"0f1e2d3c-4b5a-4968-8776-655443322110","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-22T11:23:09Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{}}}}}}]},"spec":{"volumes":[{"name":"kube-api-access-7xk2p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}}],"containers":[{"name":"web","image":"registry.example.com/shop/web:1.42.0","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}},"volumeMounts":[{"name":"kube-api-access-7xk2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","securityContext":{},"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":{"phase":"Pending","qosClass":"Burstable"}},"oldObject":null,"dryRun":false,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`

// prepareReviews finds each review's request UID, whose first 8 hex
// digits are rewritten with a counter before each send.
func prepareReviews(raw [][]byte) ([]review, error) {
	if len(raw) == 0 {
		raw = [][]byte{[]byte(reviewPod)}
	}
	var out []review
	for i, data := range raw {
		var r struct {
			Request struct {
				UID string `json:"uid"`
			} `json:"request"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("admission review %d: %w", i, err)
		}
		key := []byte(`"uid":"` + r.Request.UID + `"`)
		k := bytes.Index(data, key)
		if len(r.Request.UID) < 8 || k < 0 {
			return nil, fmt.Errorf("admission review %d: request.uid not found", i)
		}
		out = append(out, review{data: data, uid: k + len(`"uid":"`)})
	}
	return out, nil
}

// server is the server under test, in this process or a child.
type server interface {
	addr() string
	evaluated() (events, alerts uint64, err error)
	mallocs() (uint64, error)
	cpu() time.Duration
	peakRSS() int64
	stop() error
}

// Serve starts a server with a fresh data directory, loads it, waits until
// every acknowledged event is evaluated and measures it.
func Serve(ctx context.Context, o ServeOptions) (ServeResult, error) {
	if o.Senders <= 0 {
		o.Senders = 4
	}
	if o.Batch <= 0 {
		o.Batch = 400
	}
	if o.Bodies <= 0 {
		o.Bodies = 64
	}
	o.Bodies = max(o.Bodies, o.Senders)
	if o.Duration <= 0 && o.Batches <= 0 {
		o.Duration = 20 * time.Second
	}
	if !o.Ingest && o.AdmissionRate <= 0 {
		return ServeResult{}, errors.New("nothing to send: enable ingest, admission or both")
	}
	if o.AdmissionRate > 0 && o.Duration <= 0 {
		return ServeResult{}, errors.New("admission load needs a duration")
	}
	if o.Exec == "" && o.Start == nil {
		return ServeResult{}, errors.New("no server: set Exec or Start")
	}
	if o.Exec != "" && o.CPUProfile != "" {
		return ServeResult{}, errors.New("a CPU profile needs the server in this process")
	}
	res := ServeResult{Child: o.Exec != "", Senders: o.Senders, Batch: o.Batch, AdmissionRate: o.AdmissionRate}

	var bodies []body
	if o.Ingest {
		bodies = buildBodies(o.Bodies, o.Batch, o.Seed)
		for i := range bodies {
			res.BodyBytes += int64(cap(bodies[i].data))
		}
	}
	reviews, err := prepareReviews(o.Reviews)
	if err != nil {
		return res, err
	}

	dir, err := os.MkdirTemp(o.TempDir, "vigil-bench-serve-*")
	if err != nil {
		return res, fmt.Errorf("create data directory: %w", err)
	}
	defer os.RemoveAll(dir)
	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Auth.Clusters = []config.Cluster{{Name: "bench", Token: config.Secret(token)}}
	cfg.Outputs = nil
	cfg.Rules.Files = o.RulesFiles
	cfg.Rules.Watch = false
	if err := cfg.Validate(); err != nil {
		return res, err
	}

	var srv server
	if o.Exec != "" {
		srv, err = startChild(ctx, o.Exec, dir, &cfg, token)
	} else {
		srv, err = startInProcess(o.Start, &cfg)
	}
	if err != nil {
		return res, err
	}
	defer func() {
		if srv != nil {
			srv.stop()
		}
	}()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024,
		DisableCompression: true, ResponseHeaderTimeout: time.Minute}}
	defer client.CloseIdleConnections()
	base := "http://" + srv.addr()
	l := &loader{client: client, url: base, token: token}
	if o.Rate > 0 {
		l.interval = time.Duration(float64(o.Senders*o.Batch) / o.Rate * float64(time.Second))
	}

	// Warm up: one batch per sender, evaluated, so that connections, pools
	// and the heap are in their steady state.
	owned := make([][]*body, o.Senders)
	for i := range bodies {
		owned[i%o.Senders] = append(owned[i%o.Senders], &bodies[i])
	}
	var warm int64
	if o.Ingest {
		for _, mine := range owned {
			if _, status, _, err := l.post("/k8s-audit", mine[0]); err != nil || status != http.StatusOK {
				return res, fmt.Errorf("warm-up batch: status %d: %v", status, err)
			}
			warm += int64(mine[0].events)
		}
	}
	if _, err := waitEvaluated(ctx, srv, uint64(warm)); err != nil {
		return res, err
	}
	ev0, al0, err := srv.evaluated()
	if err != nil {
		return res, err
	}
	m0, err := srv.mallocs()
	if err != nil {
		return res, err
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return res, fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, load0 := srv.cpu(), cpuTime()

	sctx := ctx
	if o.Duration > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := time.Now()
	var wg sync.WaitGroup
	var remaining atomic.Int64
	remaining.Store(int64(o.Batches))
	senders := make([]senderStats, o.Senders)
	errs := make([]error, o.Senders+1)
	if o.Ingest {
		for i := range o.Senders {
			wg.Go(func() { errs[i] = l.send(sctx, owned[i], o.Batches > 0, &remaining, &senders[i]) })
		}
	}
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if !o.Ingest {
			return // scrapes would dominate the allocations of a few reviews
		}
		sc := &http.Client{Timeout: 5 * time.Second}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			acked := l.acked.Load()
			if v, err := scrape(sc, srv.addr(), "vigil_wal_bytes"); err == nil {
				res.LogBytes = max(res.LogBytes, int64(v[0]))
			}
			if ev, _, err := srv.evaluated(); err == nil {
				res.LagEvents = max(res.LagEvents, acked+int64(ev0)-int64(ev))
			}
		}
	}()
	var adm admissionStats
	if o.AdmissionRate > 0 {
		wg.Go(func() { errs[o.Senders] = l.admit(sctx, start, o.AdmissionRate, reviews, &adm) })
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	<-sampled
	if err := errors.Join(errs...); err != nil {
		return res, err
	}

	var lat []time.Duration
	for _, s := range senders {
		res.Batches += s.batches
		res.Events += s.events
		res.Bytes += s.bytes
		res.Refused += s.refused
		for k, n := range s.reasons {
			if res.Reasons == nil {
				res.Reasons = map[string]int64{}
			}
			res.Reasons[k] += n
		}
		lat = append(lat, s.lat...)
	}
	res.Ack = latencyOf(lat)
	res.AdmissionSent, res.AdmissionFailed = adm.sent.Load(), adm.failed.Load()
	res.Admission = latencyOf(adm.lat)

	if res.AdmissionSent > 0 {
		v, err := scrape(client, srv.addr(), "vigil_admission_unrecorded_total")
		if err != nil {
			return res, err
		}
		res.Unrecorded = int64(v[0])
	}
	target := ev0 + uint64(res.Events) + uint64(res.AdmissionSent-res.AdmissionFailed-res.Unrecorded)
	ev1, err := waitEvaluated(ctx, srv, target)
	if err != nil {
		return res, err
	}
	res.Drain = time.Since(start) - res.Elapsed
	res.CPU, res.LoadCPU = srv.cpu()-cpu0, cpuTime()-load0
	if !res.Child {
		res.LoadCPU = 0 // the same process
	}
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	m1, err := srv.mallocs()
	if err != nil {
		return res, err
	}
	_, al1, _ := srv.evaluated()
	res.Evaluated, res.Alerts, res.Mallocs = ev1-ev0, al1-al0, m1-m0
	res.PeakRSS = srv.peakRSS()
	err = srv.stop()
	srv = nil
	return res, err
}

// waitEvaluated polls until the server has evaluated at least target
// events, and gives up after 30 s without progress (events refused by the
// evaluator's dedup never arrive).
func waitEvaluated(ctx context.Context, srv server, target uint64) (uint64, error) {
	var last uint64
	lastChange := time.Now()
	for {
		n, _, err := srv.evaluated()
		if err != nil {
			return n, err
		}
		if n >= target {
			return n, nil
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > 30*time.Second {
			return n, fmt.Errorf("evaluation stalled at %d of %d events", n, target)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// loader sends the requests.
type loader struct {
	client *http.Client
	url    string
	token  string
	acked  atomic.Int64 // events acknowledged since the warm-up
	// interval paces each sender (ServeOptions.Rate); 0 = closed loop.
	interval time.Duration
}

type senderStats struct {
	batches, events, bytes, refused int64
	lat                             []time.Duration
	reasons                         map[string]int64
}

// post sends a batch with fresh auditIDs and returns its latency, status
// and, unless it is 200, the reason given in the answer.
func (l *loader) post(path string, b *body) (time.Duration, int, string, error) {
	b.stamp()
	req, err := http.NewRequest(http.MethodPost, l.url+path, bytes.NewReader(b.data))
	if err != nil {
		return 0, 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	t := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	var reason string
	if resp.StatusCode == http.StatusOK {
		_, err = io.Copy(io.Discard, resp.Body)
	} else {
		var msg []byte
		msg, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
		m := strings.TrimSpace(string(msg))
		reason = strconv.Itoa(resp.StatusCode) + " " + m[strings.LastIndexByte(m, ' ')+1:]
	}
	resp.Body.Close()
	return time.Since(t), resp.StatusCode, reason, err
}

// send posts mine in turn, each when the previous one is answered, until
// ctx is done or the shared batch budget is spent.
func (l *loader) send(ctx context.Context, mine []*body, budget bool, remaining *atomic.Int64, st *senderStats) error {
	start := time.Now()
	for i := 1; ctx.Err() == nil; i++ {
		if budget && remaining.Add(-1) < 0 {
			return nil
		}
		b := mine[i%len(mine)]
		if l.interval > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(start.Add(time.Duration(i-1) * l.interval))):
			}
		}
		lat, status, reason, err := l.post("/k8s-audit", b)
		if err != nil {
			return fmt.Errorf("send batch: %w", err)
		}
		if status != http.StatusOK {
			st.refused++
			if st.reasons == nil {
				st.reasons = map[string]int64{}
			}
			st.reasons[reason]++
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		st.batches++
		st.events += int64(b.events)
		l.acked.Add(int64(b.events))
		st.bytes += int64(len(b.data))
		st.lat = append(st.lat, lat)
	}
	return nil
}

type admissionStats struct {
	sent, failed atomic.Int64
	mu           sync.Mutex      // guards lat
	lat          []time.Duration // from the scheduled time
}

// admit sends one review every 1/rate seconds, whether or not the earlier
// ones were answered (as an API server does), until ctx is done. Latency is
// measured from the scheduled time, so a stalled sender or server counts.
func (l *loader) admit(ctx context.Context, start time.Time, rate float64, reviews []review, st *admissionStats) error {
	interval := time.Duration(float64(time.Second) / rate)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(due)):
		}
		r := reviews[i%len(reviews)]
		data := slices.Clone(r.data)
		hexUint32(data[r.uid:r.uid+8], uint32(i))
		st.sent.Add(1)
		wg.Go(func() {
			ok := l.review(data)
			d := time.Since(due)
			if !ok {
				st.failed.Add(1)
				return
			}
			st.mu.Lock()
			st.lat = append(st.lat, d)
			st.mu.Unlock()
		})
	}
}

func (l *loader) review(data []byte) bool {
	req, err := http.NewRequest(http.MethodPost, l.url+"/admission", bytes.NewReader(data))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"response"`))
}

// inProcess is a server started by ServeOptions.Start.
type inProcess struct{ s Server }

func startInProcess(start func(*config.Config) (Server, error), cfg *config.Config) (*inProcess, error) {
	s, err := start(cfg)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	return &inProcess{s}, nil
}

func (p *inProcess) addr() string { return p.s.Addr() }

func (p *inProcess) evaluated() (uint64, uint64, error) {
	ev, al := p.s.Evaluated()
	return ev, al, nil
}

func (p *inProcess) mallocs() (uint64, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs, nil
}

func (p *inProcess) cpu() time.Duration { return cpuTime() }
func (p *inProcess) peakRSS() int64     { return peakRSS() }

func (p *inProcess) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.s.Shutdown(ctx)
}

// child is `vigil serve` in a child process, observed through its
// /metrics and /proc.
type child struct {
	cmd    *exec.Cmd
	listen string
	client *http.Client
	done   chan struct{} // closed when stderr is drained
	mu     sync.Mutex    // guards logs
	logs   []string      // warnings and errors the child logged (the last 20)
}

func startChild(ctx context.Context, exe, dir string, cfg *config.Config, token string) (*child, error) {
	var y strings.Builder
	fmt.Fprintf(&y, "listen: %q\ndata_dir: %q\n", cfg.Listen, cfg.DataDir)
	fmt.Fprintf(&y, "auth:\n  clusters:\n    - name: bench\n      token: %q\n", token)
	fmt.Fprintf(&y, "outputs: []\nrules:\n  watch: false\n")
	if len(cfg.Rules.Files) > 0 {
		y.WriteString("  files:\n")
		for _, f := range cfg.Rules.Files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&y, "    - %q\n", abs)
		}
	}
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(y.String()), 0o600); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	c := &child{cmd: exec.Command(exe, "serve", "--config", path, "--log-format", "json"),
		client: &http.Client{Timeout: 10 * time.Second}, done: make(chan struct{})}
	c.cmd.Stdout = io.Discard
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Level, Msg, Addr string
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level != "INFO" {
				c.mu.Lock()
				c.logs = append(c.logs, sc.Text())
				if len(c.logs) > 20 {
					c.logs = c.logs[1:]
				}
				c.mu.Unlock()
			}
			if line.Msg == "vigil serving" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case c.listen = <-addr:
		return c, nil
	case <-c.done:
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	c.stop()
	return nil, fmt.Errorf("vigil serve did not start: %s", c.log())
}

func (c *child) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.logs, "\n")
}

func (c *child) addr() string { return c.listen }

func (c *child) scrape(names ...string) ([]float64, error) {
	return scrape(c.client, c.listen, names...)
}

// scrape returns the sum of the samples of each named metric in the
// server's /metrics.
func scrape(client *http.Client, addr string, names ...string) ([]float64, error) {
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	out := make([]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for i, n := range names {
			rest, ok := strings.CutPrefix(line, n)
			if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			if v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64); err == nil {
				out[i] += v
			}
		}
	}
	return out, sc.Err()
}

func (c *child) evaluated() (uint64, uint64, error) {
	v, err := c.scrape("vigil_events_evaluated_total", "vigil_alerts_total")
	if err != nil {
		return 0, 0, err
	}
	return uint64(v[0]), uint64(v[1]), nil
}

func (c *child) mallocs() (uint64, error) {
	v, err := c.scrape("go_memstats_mallocs_total")
	if err != nil {
		return 0, err
	}
	return uint64(v[0]), nil
}

// cpu reads utime+stime from /proc/<pid>/stat, in clock ticks of 10 ms
// (USER_HZ is 100 on Linux).
func (c *child) cpu() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

func (c *child) peakRSS() int64 {
	return vmHWM(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
}

func (c *child) stop() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	wait := make(chan error, 1)
	go func() { <-c.done; wait <- c.cmd.Wait() }()
	select {
	case err := <-wait:
		if err != nil {
			return fmt.Errorf("vigil serve: %w: %s", err, c.log())
		}
		return nil
	case <-time.After(time.Minute):
		c.cmd.Process.Kill()
		<-wait
		return errors.New("vigil serve did not stop within a minute of SIGTERM; killed")
	}
}

// vmHWM reads the peak resident set size (VmHWM) from a /proc status file.
func vmHWM(path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
