package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSourcesCap(t *testing.T) {
	s := NewSources(2)
	for _, c := range []struct{ in, want string }{{"a", "a"}, {"b", "b"}, {"a", "a"}, {"c", "other"}, {"b", "b"}} {
		if got := s.Label(c.in); got != c.want {
			t.Errorf("Label(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSecondsSinceLastEvent(t *testing.T) {
	m := New("test")
	t0 := time.Unix(1000, 0)
	m.now = func() time.Time { return t0.Add(90 * time.Second) }
	m.WatchCluster("quiet", t0)
	m.Seen("busy", t0.Add(80*time.Second))
	m.WatchCluster("busy", t0) // already seen: no effect
	want := `
# HELP vigil_cluster_seconds_since_last_event Seconds since the last event from each cluster: alert on it to learn that a cluster went quiet.
# TYPE vigil_cluster_seconds_since_last_event gauge
vigil_cluster_seconds_since_last_event{cluster="busy"} 10
vigil_cluster_seconds_since_last_event{cluster="quiet"} 90
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "vigil_cluster_seconds_since_last_event"); err != nil {
		t.Error(err)
	}
}
