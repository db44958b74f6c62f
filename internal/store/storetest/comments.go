package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

func testComments(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base.Add(100 * 24 * time.Hour)
	add(t, s, simple("old", now.Add(-40*24*time.Hour)), simple("new", now.Add(-time.Hour)))
	at := func(min int) time.Time { return now.Add(time.Duration(min) * time.Minute) }
	steps := []struct {
		name string
		id   string
		c    store.Comment
		err  error
	}{
		{"first", "new", store.Comment{Author: "bob", Text: "looking", Time: at(1)}, nil},
		{"later", "new", store.Comment{Author: "carol", Text: "benign: CI job ✓\nsecond line", Time: at(3)}, nil},
		// Oldest first by Time, not by arrival; ties in arrival order.
		{"earlier, arriving last", "new", store.Comment{Author: "alice", Text: "paged", Time: at(0)}, nil},
		{"tie, arriving after", "new", store.Comment{Author: "dave", Text: "same minute", Time: at(1)}, nil},
		{"empty text", "new", store.Comment{Author: "erin", Time: at(5)}, nil},
		{"other alert", "old", store.Comment{Author: "bob", Text: "old one", Time: at(2)}, nil},
		{"unknown alert", "nope", store.Comment{Author: "bob", Text: "x", Time: at(2)}, store.ErrNotFound},
	}
	for _, st := range steps {
		if err := s.Comment(ctx, st.id, st.c); !errors.Is(err, st.err) {
			t.Fatalf("%s: Comment(%q) = %v, want %v", st.name, st.id, err, st.err)
		}
	}
	comments := func(id string) []store.Comment {
		t.Helper()
		cs, err := s.Comments(ctx, id)
		if err != nil {
			t.Fatalf("Comments(%q): %v", id, err)
		}
		return cs
	}
	same := func(got, want []store.Comment) bool {
		return slices.EqualFunc(got, want, func(a, b store.Comment) bool {
			return a.Author == b.Author && a.Text == b.Text && a.Time.Equal(b.Time)
		})
	}
	tests := []struct {
		name string
		id   string
		want []store.Comment
	}{
		{"oldest first", "new", []store.Comment{steps[2].c, steps[0].c, steps[3].c, steps[1].c, steps[4].c}},
		{"per alert", "old", []store.Comment{steps[5].c}},
		{"unknown alert", "nope", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := comments(tc.id); !same(got, tc.want) {
				t.Errorf("Comments(%q) = %+v, want %+v", tc.id, got, tc.want)
			}
		})
	}
	t.Run("time round trip", func(t *testing.T) {
		add(t, s, simple("t1", now))
		zero := store.Comment{Author: "x", Text: "no time"}
		if err := s.Comment(ctx, "t1", zero); err != nil {
			t.Fatal(err)
		}
		got := comments("t1")
		if len(got) != 1 || !got[0].Time.IsZero() {
			t.Errorf("Comments with a zero time = %+v, want one with a zero time", got)
		}
	})
	t.Run("comments leave the alert and its size alone", func(t *testing.T) {
		r := get(t, s, "new")
		if r.Triage.Status != store.StatusOpen {
			t.Errorf("status %q after comments", r.Triage.Status)
		}
		if st := stats(t, s); st.Count != 3 {
			t.Errorf("Count = %d, want 3", st.Count)
		}
	})
	t.Run("removed by retention", func(t *testing.T) {
		n, err := s.Retain(ctx, store.Retention{MaxAge: 30 * 24 * time.Hour, Now: now})
		if err != nil || n != 1 {
			t.Fatalf("Retain = %d, %v; want 1, nil", n, err)
		}
		if got := comments("old"); len(got) != 0 {
			t.Errorf("Comments(old) after retention = %+v, want none", got)
		}
		// The same ID stored again starts without comments.
		add(t, s, simple("old", now.Add(-time.Minute)))
		if got := comments("old"); len(got) != 0 {
			t.Errorf("Comments(old) after adding it again = %+v, want none", got)
		}
		if got := comments("new"); len(got) != 5 {
			t.Errorf("Comments(new) after retention = %d, want 5", len(got))
		}
		if _, err := s.Retain(ctx, store.Retention{MaxBytes: 1}); err != nil {
			t.Fatal(err)
		}
		if got := comments("new"); len(got) != 0 {
			t.Errorf("Comments(new) after retention by size = %+v, want none", got)
		}
		if err := s.Comment(ctx, "new", store.Comment{Author: "x", Text: "y"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Comment on a deleted alert = %v, want ErrNotFound", err)
		}
		// Alerts stored after may reuse the deleted alerts' internal keys,
		// never their comments.
		add(t, s, simple("x1", now), simple("x2", now), simple("x3", now), simple("x4", now))
		for _, id := range []string{"x1", "x2", "x3", "x4"} {
			if got := comments(id); len(got) != 0 {
				t.Errorf("Comments(%s), a new alert = %+v, want none", id, got)
			}
		}
	})
}
