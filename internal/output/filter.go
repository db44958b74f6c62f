package output

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/metrics"
)

// Filter keeps alerts by rule and tag. Empty lists impose nothing. Rule
// patterns are exact names or globs where * matches any run of characters.
type Filter struct {
	Rules        []string // keep only these rules
	ExcludeRules []string // drop these rules
	Tags         []string // keep only alerts with one of these tags
	ExcludeTags  []string // drop alerts with one of these tags
}

// Match reports whether a passes the filter.
func (f *Filter) Match(a *alert.Alert) bool {
	if len(f.Rules) > 0 && !matchAny(f.Rules, a.Rule) {
		return false
	}
	if matchAny(f.ExcludeRules, a.Rule) {
		return false
	}
	if len(f.Tags) > 0 && !hasAny(a.Tags, f.Tags) {
		return false
	}
	return !hasAny(a.Tags, f.ExcludeTags)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

func hasAny(tags, want []string) bool {
	for _, t := range want {
		if slices.Contains(tags, t) {
			return true
		}
	}
	return false
}

// glob matches s against p, where * matches any run of characters
// (including none) and everything else matches itself.
func glob(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// Redacted replaces the values of redacted fields.
const Redacted = "<redacted>"

// redactFields replaces the values of the named output fields, and their
// occurrences in the message, with Redacted.
func redactFields(a *alert.Alert, names []string) {
	for i := range a.Fields {
		f := &a.Fields[i]
		if !slices.Contains(names, f.Key) || f.Missing {
			continue
		}
		for _, v := range f.Values {
			if len(v) >= 3 {
				a.Message = strings.ReplaceAll(a.Message, v, Redacted)
			}
		}
		f.Values, f.List, f.Int = []string{Redacted}, false, false
	}
}

// Throttle configures the collapsing of identical alerts.
type Throttle struct {
	Window time.Duration // 0 = off
	Keys   []string      // output fields that, with the rule, make alerts identical; empty = all but evt.time
}

// maxThrottleKeys bounds the throttle's memory; past it, the oldest
// window is closed early (its summary is sent).
const maxThrottleKeys = 100_000

type throttleEntry struct {
	first   *journal.Alert
	until   int64     // event time (ns) when the window closes
	expires time.Time // wall time when the window closes
	count   int       // repeats collapsed
}

type throttler struct {
	t       Throttle
	entries map[string]*throttleEntry
	order   []string // keys in creation order, for the bound
}

func newThrottler(t Throttle) *throttler {
	return &throttler{t: t, entries: map[string]*throttleEntry{}}
}

func (t *throttler) key(a *alert.Alert) string {
	var b strings.Builder
	b.WriteString(a.Rule)
	for _, f := range a.Fields {
		if len(t.t.Keys) == 0 && f.Key == "evt.time" || len(t.t.Keys) > 0 && !slices.Contains(t.t.Keys, f.Key) {
			continue
		}
		b.WriteByte(0)
		b.WriteString(f.Key)
		for _, v := range f.Values {
			b.WriteByte(1)
			b.WriteString(v)
		}
	}
	return b.String()
}

// admit reports whether a is sent: the first of its kind in a window is,
// its repeats are counted instead.
//
// A window that closed before a sweep came by (by event time, while a
// backlog is read) yields its summary here: it is returned to be sent
// before a.
func (t *throttler) admit(a *journal.Alert, now time.Time) (send bool, closed *journal.Alert) {
	k := t.key(&a.Alert)
	e, ok := t.entries[k]
	if ok && a.Alert.Time < e.until && now.Before(e.expires) {
		e.count++
		return false, nil
	}
	if ok && e.count > 0 {
		closed = summary(e, t.t.Window)
	}
	if len(t.entries) >= maxThrottleKeys {
		t.compact()
	}
	if !ok {
		t.order = append(t.order, k)
	}
	// Keep the alert without its event: an open window must not hold the
	// whole decoded journal record.
	first := *a
	first.Event = nil
	t.entries[k] = &throttleEntry{first: &first, until: a.Alert.Time + int64(t.t.Window), expires: now.Add(t.t.Window)}
	return true, closed
}

// compact drops closed entries from the order, and closes the oldest open
// one if the bound is still reached.
func (t *throttler) compact() {
	keep := t.order[:0]
	for _, k := range t.order {
		if _, ok := t.entries[k]; ok {
			keep = append(keep, k)
		}
	}
	t.order = keep
	if len(t.entries) >= maxThrottleKeys && len(t.order) > 0 {
		e := t.entries[t.order[0]]
		e.expires = time.Time{} // closes at the next sweep
	}
}

// sweep closes the windows that ended by now and returns a summary alert
// for each one that collapsed repeats.
func (t *throttler) sweep(now time.Time, output string, m *metrics.Metrics) []*journal.Alert {
	var out []*journal.Alert
	for k, e := range t.entries {
		if now.Before(e.expires) {
			continue
		}
		delete(t.entries, k)
		if e.count == 0 {
			continue
		}
		out = append(out, summary(e, t.t.Window))
	}
	if len(t.order) > 2*len(t.entries)+1024 {
		t.compact()
	}
	slices.SortFunc(out, func(a, b *journal.Alert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// summary is the alert that closes a throttle window: the first alert,
// with the count of repeats in its message and in vigil.repeated.
func summary(e *throttleEntry, window time.Duration) *journal.Alert {
	s := *e.first
	s.ID = journal.SummaryID(e.first.ID)
	s.Alert.Message = fmt.Sprintf("%s (repeated %d more times within %s)", e.first.Alert.Message, e.count, window)
	s.Alert.Fields = append(slices.Clone(e.first.Alert.Fields), alert.Field{Key: "vigil.repeated", Values: []string{fmt.Sprint(e.count)}, Int: true})
	alert.SortFields(s.Alert.Fields)
	return &s
}
