package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
)

// compileRules reads and compiles the configured rules files (the built-in
// rules without any). Every error diagnostic is in the returned error.
func (a *App) compileRules() (*engine.Program, error) {
	rc := a.cfg.Rules
	var srcs []rules.Source
	if len(rc.Files) == 0 {
		srcs = []rules.Source{ruleset.Default()}
	}
	for _, f := range rc.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read rules file: %w", err)
		}
		srcs = append(srcs, rules.Source{Name: f, Data: data})
	}
	opts := engine.DefaultOptions()
	var err error
	if opts.Matching, err = engine.ParseMatching(rc.Matching); err != nil {
		return nil, err
	}
	if opts.MinPriority, err = alert.ParsePriority(rc.MinPriority); err != nil {
		return nil, err
	}
	// Every alert names its cluster: one Vigil serves many.
	opts.AppendFields = append([]string{"ka.cluster.name"}, rc.AppendFields...)
	if containsString(rc.AppendFields, "ka.cluster.name") {
		opts.AppendFields = rc.AppendFields
	}
	opts.Env = field.Env{Hostname: a.hostname, Location: time.Local}
	opts.Override = a.overrides()
	p, diags := engine.Load(srcs, rules.Options{}, opts)
	if rules.HasErrors(diags) {
		var msgs []string
		for _, d := range diags {
			if d.Severity == rules.SeverityError {
				msgs = append(msgs, d.Display())
			}
		}
		return nil, errors.New("rules have errors:\n" + strings.Join(msgs, "\n"))
	}
	warnings := len(diags)
	a.log.Info("rules loaded", "files", len(srcs), "enabled", len(p.Enabled()), "warnings", warnings)
	return p, nil
}

// Reload compiles the rules again and swaps them in. Evaluation goes on
// with the old rules until the swap, and with them for good if the new
// ones do not compile; the error is logged and counted.
func (a *App) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if err := a.auth.Reload(); err != nil {
		a.log.Error("reload tokens: the previous tokens stay in use", "err", err)
	}
	if a.enricher != nil {
		if err := a.enricher.Reload(); err != nil {
			a.log.Error("reload GeoIP databases: the previous ones stay in use", "err", err)
		}
	}
	p, err := a.compileRules()
	if err != nil {
		a.metrics.RulesReloads.WithLabelValues("error").Inc()
		a.log.Error("reload rules: the previous rules stay in use", "err", err)
		return err
	}
	a.setProgram(p)
	a.metrics.RulesReloads.WithLabelValues("ok").Inc()
	return nil
}

func (a *App) setProgram(p *engine.Program) {
	a.program.Store(p)
	a.metrics.RulesLoaded.Set(float64(len(p.Enabled())))
	a.metrics.RulesReloadTS.SetToCurrentTime()
	a.rulesStamp = a.statRules()
}

// statRules returns the modification times and sizes of the rules files,
// to notice changes.
func (a *App) statRules() string {
	var b strings.Builder
	for _, f := range a.cfg.Rules.Files {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s|%d|%d;", f, fi.ModTime().UnixNano(), fi.Size())
		} else {
			fmt.Fprintf(&b, "%s|missing;", f)
		}
	}
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decider evaluates admission events synchronously in enforce mode.
type decider struct {
	a         *App
	denyRules map[string]bool
	denyTags  map[string]bool
	maxDepth  int
	pool      chan *evalState
}

type evalState struct {
	prog *engine.Program
	st   *engine.State
	ev   audit.Event
}

func newDecider(a *App) *decider {
	d := &decider{a: a, denyRules: map[string]bool{}, denyTags: map[string]bool{},
		maxDepth: a.cfg.Ingest.MaxDepth, pool: make(chan *evalState, 64)}
	for _, r := range a.cfg.Admission.DenyRules {
		d.denyRules[r] = true
	}
	for _, t := range a.cfg.Admission.DenyTags {
		d.denyTags[t] = true
	}
	return d
}

func (d *decider) get() *evalState {
	select {
	case s := <-d.pool:
		return s
	default:
		return &evalState{}
	}
}

func (d *decider) put(s *evalState) {
	select {
	case d.pool <- s:
	default:
	}
}

// decide returns whether a rule marked for denial matches the event.
func (d *decider) decide(event []byte, cluster string) (bool, string, string) {
	s := d.get()
	defer d.put(s)
	p := d.a.program.Load()
	if s.prog != p {
		s.prog, s.st = p, p.NewState()
	}
	if err := audit.Parse(&s.ev, event, d.maxDepth); err != nil {
		return false, "", ""
	}
	s.ev.Cluster = cluster
	for _, i := range p.Eval(&s.ev, s.st) {
		r := p.Enabled()[i]
		if d.denyRules[r.Name] || d.hasDenyTag(r.Tags) {
			al := p.Alert(s.st, i)
			return true, al.Rule, fmt.Sprintf("denied by Vigil rule %q: %s", al.Rule, al.Message)
		}
	}
	return false, "", ""
}

func (d *decider) hasDenyTag(tags []string) bool {
	for _, t := range tags {
		if d.denyTags[t] {
			return true
		}
	}
	return false
}
