package pipeline

import (
	"testing"
	"time"
)

func TestDedup(t *testing.T) {
	sec := int64(time.Second)
	type step struct {
		id   string
		t    int64
		seen bool
	}
	cases := []struct {
		name   string
		max    int
		window int64
		steps  []step
	}{
		{"repeat", 10, 60 * sec, []step{{"a", 0, false}, {"a", 1, true}, {"b", 2, false}, {"a", 3, true}}},
		{"stage differs", 10, 60 * sec, []step{{"a/RequestReceived", 0, false}, {"a/ResponseComplete", 0, false}}},
		{"capacity evicts oldest", 2, 60 * sec, []step{{"a", 0, false}, {"b", 0, false}, {"c", 0, false}, {"a", 0, false}, {"c", 0, true}}},
		{"window expires", 10, 10 * sec, []step{{"a", 0, false}, {"b", 5 * sec, false}, {"c", 11 * sec, false}, {"a", 11 * sec, false}, {"b", 12 * sec, true}}},
		{"disabled", 0, 10 * sec, []step{{"a", 0, false}, {"a", 0, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDedup(c.max, c.window)
			for i, s := range c.steps {
				id, stage := s.id, "ResponseComplete"
				if j := len(id) - len("/RequestReceived"); j > 0 && id[j:] == "/RequestReceived" {
					id, stage = id[:j], "RequestReceived"
				} else if j := len(id) - len("/ResponseComplete"); j > 0 && id[j:] == "/ResponseComplete" {
					id = id[:j]
				}
				if got := d.seen(d.key([]byte(`"`+id+`"`), []byte(`"`+stage+`"`)), s.t); got != s.seen {
					t.Errorf("step %d (%s at %d): seen=%v, want %v", i, s.id, s.t, got, s.seen)
				}
			}
			if c.max > 0 && d.len() > c.max {
				t.Errorf("holds %d keys, max %d", d.len(), c.max)
			}
		})
	}
}

// TestDedupGrows fills past the ring's initial size and checks every key
// is still known.
func TestDedupGrows(t *testing.T) {
	d := newDedup(5000, int64(time.Hour))
	for i := 0; i < 5000; i++ {
		if d.seen(uint64(i)*2654435761, 0) {
			t.Fatalf("key %d seen before insertion", i)
		}
	}
	for i := 0; i < 5000; i++ {
		if !d.seen(uint64(i)*2654435761, 0) {
			t.Fatalf("key %d forgotten", i)
		}
	}
}
