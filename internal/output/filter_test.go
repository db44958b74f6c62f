package output

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
)

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"K8s Namespace Deleted", "K8s Namespace Deleted", true},
		{"K8s Namespace Deleted", "K8s Namespace Deleted!", false},
		{"K8s *", "K8s Namespace Deleted", true},
		{"*Deleted", "K8s Namespace Deleted", true},
		{"*Namespace*", "K8s Namespace Deleted", true},
		{"*", "", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
	} {
		if got := glob(c.p, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestFilter(t *testing.T) {
	a := &alert.Alert{Rule: "K8s Namespace Deleted", Tags: []string{"k8s", "mitre_impact"}}
	for _, c := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty", Filter{}, true},
		{"rule glob", Filter{Rules: []string{"K8s *"}}, true},
		{"other rule", Filter{Rules: []string{"Exec*"}}, false},
		{"excluded rule", Filter{Rules: []string{"K8s *"}, ExcludeRules: []string{"*Deleted"}}, false},
		{"tag", Filter{Tags: []string{"mitre_impact", "x"}}, true},
		{"missing tag", Filter{Tags: []string{"x"}}, false},
		{"excluded tag", Filter{ExcludeTags: []string{"k8s"}}, false},
	} {
		if got := c.f.Match(a); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRedactFields(t *testing.T) {
	a := &alert.Alert{Message: "created by alice with image registry.corp/app:1 (ns=prod)",
		Fields: []alert.Field{{Key: "ka.user.name", Values: []string{"alice"}}, {Key: "ka.req.pod.containers.image", Values: []string{"registry.corp/app:1"}, List: true}, {Key: "ka.target.namespace", Values: []string{"prod"}}}}
	redactFields(a, []string{"ka.user.name", "ka.req.pod.containers.image"})
	if strings.Contains(a.Message, "alice") || strings.Contains(a.Message, "registry.corp") || !strings.Contains(a.Message, "ns=prod") {
		t.Errorf("message: %q", a.Message)
	}
	if a.Fields[0].Values[0] != Redacted || a.Fields[1].Values[0] != Redacted || a.Fields[1].List || a.Fields[2].Values[0] != "prod" {
		t.Errorf("fields: %+v", a.Fields)
	}
}

// TestThrottle: identical alerts within the window are sent once, then a
// summary with the count; different keys are independent.
func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottler(Throttle{Window: time.Minute, Keys: []string{"ka.user.name"}})
	mk := func(id, user string, sec int64) *journal.Alert {
		return &journal.Alert{ID: id, Alert: alert.Alert{Rule: "R", Time: sec * int64(time.Second), Message: "by " + user,
			Fields: []alert.Field{{Key: "evt.time", Values: []string{"x"}}, {Key: "ka.user.name", Values: []string{user}}}}}
	}
	var sent []string
	for _, a := range []*journal.Alert{mk("1", "bob", 0), mk("2", "bob", 10), mk("3", "eve", 11), mk("4", "bob", 20), mk("5", "bob", 59)} {
		if ok, _ := th.admit(a, now); ok {
			sent = append(sent, a.ID)
		}
	}
	if got := strings.Join(sent, ","); got != "1,3" {
		t.Errorf("sent %s, want 1,3", got)
	}
	if s := th.sweep(now.Add(30*time.Second), "o", nil); len(s) != 0 {
		t.Errorf("summary before the window closed: %v", s)
	}
	s := th.sweep(now.Add(61*time.Second), "o", nil)
	if len(s) != 1 || s[0].ID != "1-repeated" || !strings.Contains(s[0].Alert.Message, "repeated 3 more times within 1m0s") {
		t.Fatalf("summaries: %+v", s)
	}
	if !hasFieldValue(s[0].Alert.Fields, "vigil.repeated", "3") {
		t.Errorf("summary fields: %+v", s[0].Alert.Fields)
	}
	// After the window, the next one is sent again.
	if ok, _ := th.admit(mk("6", "bob", 70), now.Add(61*time.Second)); !ok {
		t.Error("alert after the window was throttled")
	}

	// A window that closes by event time before any sweep: its summary
	// comes with the next alert of its kind.
	th = newThrottler(Throttle{Window: time.Minute})
	var summaries []string
	for i := int64(1); i <= 130; i++ {
		ok, closed := th.admit(mk(fmt.Sprint(i), "bob", i), now)
		if closed != nil {
			summaries = append(summaries, closed.Alert.Message)
		}
		if ok {
			sent = append(sent, "x")
		}
	}
	if len(summaries) != 2 || !strings.Contains(summaries[0], "repeated 59 more") || !strings.Contains(summaries[1], "repeated 59 more") {
		t.Errorf("summaries of windows closed by event time: %q", summaries)
	}
}

func hasFieldValue(fs []alert.Field, k, v string) bool {
	for _, f := range fs {
		if f.Key == k && len(f.Values) == 1 && f.Values[0] == v {
			return true
		}
	}
	return false
}

// TestDispatcherBatches: alerts already in the journal go out in batches
// of at most MaxBatch, in order.
func TestDispatcherBatches(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	s := &recSink{}
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), Outputs: []Output{{Name: "b", Sink: s, MinPriority: alert.PriorityDebug, MaxBatch: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 10; i++ {
		r := string(rune('a' + i))
		appendAlerts(t, l, r+":warning")
		want = append(want, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	if err := d.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if got := s.got(); got != strings.Join(want, ",") {
		t.Errorf("got %s", got)
	}
	if s.sends != 4 {
		t.Errorf("%d sends, want 4 (batches of 3)", s.sends)
	}
}

// TestThrottleSummaryAtDrain: repeats collapsed in a window still open
// when Vigil stops are reported by Drain, not forgotten.
func TestThrottleSummaryAtDrain(t *testing.T) {
	dir := t.TempDir()
	l := openJournal(t, dir)
	defer l.Close()
	s := &recSink{}
	d, err := New(Options{Journal: l, Dir: filepath.Join(dir, "out"), IdleInterval: 20 * time.Millisecond,
		Outputs: []Output{{Name: "t", Sink: s, MinPriority: alert.PriorityDebug, Throttle: Throttle{Window: time.Hour}}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	appendAlerts(t, l, "r:error", "r:error", "r:error", "r:error", "r:error")
	stop()
	if g := s.got(); g != "r,r" {
		t.Errorf("sent %q, want the first alert and its summary", g)
	}
}
