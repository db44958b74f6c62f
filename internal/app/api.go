package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/output"
)

// rulesStateFile keeps, in the data directory, the rules enabled or
// disabled at runtime through the API, so that a restart keeps them.
const rulesStateFile = "rules-state.json"

type rulesState struct {
	Override map[string]bool `json:"override"` // rule name → enabled
}

// loadRulesState reads the runtime rule switches.
func (a *App) loadRulesState() error {
	data, err := os.ReadFile(filepath.Join(a.cfg.DataDir, rulesStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rules state: %w", err)
	}
	var st rulesState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("rules state %s: %w (delete it to forget the runtime rule switches)", filepath.Join(a.cfg.DataDir, rulesStateFile), err)
	}
	a.overrideMu.Lock()
	a.override = st.Override
	a.overrideMu.Unlock()
	return nil
}

// overrides returns a copy of the runtime rule switches.
func (a *App) overrides() map[string]bool {
	a.overrideMu.Lock()
	defer a.overrideMu.Unlock()
	return maps.Clone(a.override)
}

// appRules is the running rule set as the API sees it.
type appRules struct{ a *App }

func (r appRules) List() []api.Rule {
	p := r.a.program.Load()
	var out []api.Rule
	for _, ru := range p.Rules() {
		out = append(out, api.Rule{Name: ru.Name, Description: ru.Desc, Source: ru.File, Priority: ru.Priority,
			Tags: ru.Tags, Enabled: ru.Enabled, Overridden: ru.Overridden})
	}
	return out
}

// SetEnabled records the switch durably, then recompiles the rules with it.
func (r appRules) SetEnabled(name string, enabled bool) error {
	a := r.a
	known := slices.ContainsFunc(a.program.Load().Rules(), func(ru *engine.Rule) bool { return ru.Name == name })
	if !known {
		return api.ErrUnknownRule
	}
	a.overrideMu.Lock()
	next := maps.Clone(a.override)
	if next == nil {
		next = map[string]bool{}
	}
	next[name] = enabled
	data, err := json.MarshalIndent(rulesState{Override: next}, "", "  ")
	if err == nil {
		err = writeFileAtomic(filepath.Join(a.cfg.DataDir, rulesStateFile), data)
	}
	if err == nil {
		a.override = next
	}
	a.overrideMu.Unlock()
	if err != nil {
		return fmt.Errorf("save rules state: %w", err)
	}
	return a.Reload()
}

// writeFileAtomic replaces path with data, durably.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// publishSink stores alerts, then pushes them to the live streams: an
// alert is announced only once the API can return it.
type publishSink struct {
	output.Sink
	hub *api.Hub
}

func (s publishSink) Send(ctx context.Context, alerts []*journal.Alert) error {
	if err := s.Sink.Send(ctx, alerts); err != nil {
		return err
	}
	batch := make([]journal.Alert, len(alerts))
	for i, al := range alerts {
		batch[i] = *al
	}
	s.hub.Publish(batch)
	return nil
}

// clusterSampler keeps recent totals of each cluster's accepted events,
// for the rate the UI's cluster health shows.
type clusterSampler struct {
	mu      sync.Mutex
	samples []clusterSample // oldest first, about one every sampleEvery
}

type clusterSample struct {
	at       time.Time
	accepted map[string]float64
}

const (
	sampleEvery  = 10 * time.Second
	sampleWindow = time.Minute
)

// totals reads the per-cluster accepted and rejected event counters.
func (a *App) clusterTotals() (accepted, rejected map[string]float64) {
	accepted, rejected = map[string]float64{}, map[string]float64{}
	sum := func(vec *prometheus.CounterVec, into map[string]float64) {
		ch := make(chan prometheus.Metric, 64)
		go func() { vec.Collect(ch); close(ch) }()
		for m := range ch {
			var pb dto.Metric
			if m.Write(&pb) != nil {
				continue
			}
			var cluster string
			for _, l := range pb.GetLabel() {
				if l.GetName() == "cluster" {
					cluster = l.GetValue()
				}
			}
			into[cluster] += pb.GetCounter().GetValue()
		}
	}
	sum(a.metrics.EventsAccepted, accepted)
	sum(a.metrics.EventsRejected, rejected)
	return accepted, rejected
}

// sampleClusters records a sample now and drops those past the window.
func (a *App) sampleClusters(now time.Time) {
	acc, _ := a.clusterTotals()
	s := &a.sampler
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, clusterSample{at: now, accepted: acc})
	for len(s.samples) > 2 && now.Sub(s.samples[1].at) > sampleWindow {
		s.samples = s.samples[1:]
	}
}

// clusters reports each cluster's ingest health.
func (a *App) clusters() []api.Cluster {
	now := time.Now()
	acc, rej := a.clusterTotals()
	s := &a.sampler
	s.mu.Lock()
	var first *clusterSample
	if len(s.samples) > 0 {
		first = &s.samples[0]
	}
	s.mu.Unlock()
	seen := a.metrics.LastSeen()
	names := map[string]bool{}
	for _, m := range []map[string]float64{acc, rej} {
		for k := range m {
			names[k] = true
		}
	}
	for k := range seen {
		names[k] = true
	}
	var out []api.Cluster
	for _, name := range slices.Sorted(maps.Keys(names)) {
		c := api.Cluster{Name: name, EventsTotal: int64(acc[name]), Rejects: int64(rej[name]), LastSeen: seen[name]}
		if first != nil {
			if dt := now.Sub(first.at).Seconds(); dt >= 1 {
				c.EventsPerSecond = (acc[name] - first.accepted[name]) / dt
			}
		}
		out = append(out, c)
	}
	return out
}
