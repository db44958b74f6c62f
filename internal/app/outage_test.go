package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/config"
)

// destination is an HTTP receiver whose behaviour the test switches:
// down (nothing listens), 503, 429 with Retry-After, then up.
type destination struct {
	mode atomic.Value // "503", "429", "up"
	mu   sync.Mutex
	got  []string // ka.auditid of each accepted alert, in arrival order
	hits map[string]int
}

func (d *destination) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.hits[d.mode.Load().(string)]++
	d.mu.Unlock()
	switch d.mode.Load().(string) {
	case "503":
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	var a struct {
		Rule         string         `json:"rule"`
		OutputFields map[string]any `json:"output_fields"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &a) != nil {
		http.Error(w, "bad alert", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.got = append(d.got, fmt.Sprint(a.OutputFields["ka.auditid"]))
	d.mu.Unlock()
}

func metricValue(t *testing.T, s *server, name string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`)
	m := re.FindStringSubmatch(scrape(t, s))
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestOutputOutage: an HTTP destination refuses for a while (connection
// refused, then 503, then 429 with Retry-After); Vigil is restarted in the
// middle; then the destination comes back. Every alert arrives exactly
// once, in order, and the backlog metric goes up and back to zero.
func TestOutputOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connection refused

	cfg := testConfig(t)
	cfg.Rules.AppendFields = []string{"ka.auditid"}
	cfg.Outputs = []config.Output{{Name: "dest", Type: "http", Format: "json", MaxBackoff: config.Duration(200 * time.Millisecond),
		HTTP: &config.HTTPOutput{URL: "http://" + addr + "/falco"}}}
	s := start(t, cfg)

	var want []string
	send := func(from, to int) {
		var items []string
		for i := from; i < to; i++ {
			id := fmt.Sprintf("outage-%03d", i)
			items = append(items, nsDelete(id))
			want = append(want, id)
		}
		if code, body, _ := s.post(t, "/k8s-audit", eventList(items...)); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	backlog := `vigil_output_backlog_bytes{output="dest"}`
	waitMetric := func(name string, ok func(float64) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(metricValue(t, s, name)); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v", name, metricValue(t, s, name))
			}
		}
	}
	send(0, 20)
	waitMetric(`vigil_output_retries_total{output="dest"}`, func(v float64) bool { return v >= 2 })
	waitMetric(backlog, func(v float64) bool { return v > 0 })

	dest := &destination{hits: map[string]int{}}
	dest.mode.Store("503")
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	hs := &http.Server{Handler: dest}
	go hs.Serve(ln)
	defer hs.Close()
	send(20, 40)
	waitMetric(`vigil_output_failed_total{kind="retryable",output="dest"}`, func(v float64) bool { return v >= 4 })
	for time.Sleep(100 * time.Millisecond); dest.hits["503"] == 0; time.Sleep(20 * time.Millisecond) {
	}

	// Restart Vigil in the middle of the outage. The outputs cannot drain:
	// shutdown says so and leaves the alerts in the journal.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	if err := s.app.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "output dest") {
		t.Errorf("shutdown during the outage: %v, want the undelivered output named", err)
	}
	cancel()
	s.app = nil
	s = start(t, cfg)
	send(40, 60)
	waitMetric(backlog, func(v float64) bool { return v > 0 })

	dest.mode.Store("429")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dest.mu.Lock()
		n := dest.hits["429"]
		dest.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request during the 429 phase")
		}
	}
	dest.mode.Store("up")
	waitMetric(backlog, func(v float64) bool { return v == 0 })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		dest.mu.Lock()
		n := len(dest.got)
		dest.mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts arrived", n, len(want))
		}
	}
	time.Sleep(100 * time.Millisecond)
	dest.mu.Lock()
	defer dest.mu.Unlock()
	if strings.Join(dest.got, ",") != strings.Join(want, ",") {
		t.Errorf("arrived (%d):\n%v\nwant (%d), each once and in order:\n%v", len(dest.got), dest.got, len(want), want)
	}
	if v := metricValue(t, s, `vigil_output_sent_total{output="dest"}`); v != 60 {
		t.Errorf("sent after the restart: %v, want all 60", v)
	}
	if dest.hits["up"] != 60 {
		t.Errorf("%d requests while up, want 60 (one per alert, none repeated)", dest.hits["up"])
	}
	t.Logf("requests by phase: %v", dest.hits)
}
