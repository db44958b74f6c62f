package postgres

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

func TestEventConformance(t *testing.T) {
	storetest.RunEvents(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestAddEventsAllOrNothing: a batch the database refuses one event of
// leaves nothing behind, neither events nor totals.
func TestAddEventsAllOrNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF new.user_name = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN new; END $$;
		CREATE TRIGGER boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION boom()`); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]store.Event, 1000)
	for i := range evs {
		evs[i] = storetest.BenchEvent(i, start.Add(time.Duration(i)*time.Millisecond))
	}
	evs[len(evs)-1].User = "boom"
	if err := s.AddEvents(ctx, evs); err == nil {
		t.Fatal("AddEvents: no error from a batch the database refused")
	}
	if st, err := s.EventStats(ctx); err != nil || st != (store.Stats{}) {
		t.Errorf("EventStats = %+v, %v; want zero", st, err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d events, %v; want none", n, err)
	}
	if err := s.AddEvents(ctx, evs[:len(evs)-1]); err != nil {
		t.Fatal(err)
	}
	if st, err := s.EventStats(ctx); err != nil || st.Count != int64(len(evs)-1) {
		t.Errorf("EventStats = %+v, %v; want %d events", st, err, len(evs)-1)
	}
}

// BenchmarkPostgresAddEvents measures inserts of raw events (about 1.5 KB
// each) in batches of 1000, as the app's keeper writes them. Making the
// events is not timed.
func BenchmarkPostgresAddEvents(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const batch = 1000
	n := 0
	var (
		mallocs uint64
		ms      runtime.MemStats
	)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		evs := make([]store.Event, batch)
		for i := range evs {
			evs[i] = storetest.BenchEvent(n, start.Add(time.Duration(n)*time.Millisecond))
			n++
		}
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		b.StartTimer()
		if err := s.AddEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(mallocs)/float64(n), "allocs/event")
}
