package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

func TestEventConformance(t *testing.T) {
	storetest.RunEvents(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestAddEventsAllOrNothing: a batch that fails in its last INSERT leaves
// nothing behind, neither events, nor their source IPs, nor totals.
func TestAddEventsAllOrNothing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER boom BEFORE INSERT ON events WHEN new.user_name = 'boom'
		BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]store.Event, 3*eventChunk+7)
	for i := range evs {
		evs[i] = storetest.BenchEvent(i, start.Add(time.Duration(i)*time.Millisecond))
		evs[i].SourceIPs = []string{"10.7.7.7"}
	}
	evs[len(evs)-1].User = "boom"
	if err := s.AddEvents(ctx, evs); err == nil {
		t.Fatal("AddEvents: no error from a batch the database refused")
	}
	if st, err := s.EventStats(ctx); err != nil || st != (store.Stats{}) {
		t.Errorf("EventStats = %+v, %v; want zero", st, err)
	}
	for _, table := range []string{"events", "event_ips"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows, %v; want none", table, n, err)
		}
	}
	// The same batch without the refused event goes in whole.
	if err := s.AddEvents(ctx, evs[:len(evs)-1]); err != nil {
		t.Fatal(err)
	}
	if p, err := s.QueryEvents(ctx, store.EventQuery{SourceIP: "10.7.7.7", Limit: store.MaxLimit}); err != nil || len(p.Events) != len(evs)-1 {
		t.Errorf("QueryEvents by source IP = %d events, %v", len(p.Events), err)
	}
	if st, err := s.EventStats(ctx); err != nil || st.Count != int64(len(evs)-1) {
		t.Errorf("EventStats = %+v, %v; want %d events", st, err, len(evs)-1)
	}
}

// TestEncodeEventIPs: the source_ips column is the JSON array of the
// addresses, built by hand for plain ones, by encoding/json otherwise.
func TestEncodeEventIPs(t *testing.T) {
	for _, ips := range [][]string{
		{"10.0.0.1"},
		{"10.0.0.1", "2001:db8::1", "fe80::1%eth0"},
		{""},
		{"a\"b", "c\\d"},
		{"<script>&", "\x00\x1f", "é", "\xff"},
	} {
		got, ok := encodeEventIPs(ips).(string)
		if !ok {
			t.Fatalf("encodeEventIPs(%q) = %v, want a string", ips, encodeEventIPs(ips))
		}
		want, _ := json.Marshal(ips)
		if got != string(want) {
			t.Errorf("encodeEventIPs(%q) = %s, want %s", ips, got, want)
		}
	}
	for _, ips := range [][]string{nil, {}} {
		if got := encodeEventIPs(ips); got != nil {
			t.Errorf("encodeEventIPs(%q) = %v, want nil (NULL)", ips, got)
		}
	}
}

// BenchmarkSQLiteAddEvents measures inserts of raw events (about 1.5 KB
// each) in batches of 1000, as the app's keeper writes them, into a store
// that starts empty. Making the events is not timed.
func BenchmarkSQLiteAddEvents(b *testing.B) {
	benchmarkAddEvents(b, newStore(b))
}

func benchmarkAddEvents(b *testing.B, s store.EventStore) {
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const batch = 1000
	n := 0
	var (
		mallocs uint64
		bytes   int64
		ms      runtime.MemStats
		cpu     time.Duration
	)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		evs := make([]store.Event, batch)
		for i := range evs {
			evs[i] = storetest.BenchEvent(n, start.Add(time.Duration(n)*time.Millisecond))
			bytes += evs[i].Size()
			n++
		}
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		b.StartTimer()
		c := cpuTime()
		if err := s.AddEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - before
		b.StartTimer()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(mallocs)/float64(n), "allocs/event")
	b.ReportMetric(float64(bytes)/float64(n), "bytes/event")
	// CPU time, which other processes competing for the CPU disturb less
	// than events/s.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/event")
}

// BenchmarkSQLiteQueryEvents measures the first page (50) of the usual
// investigations on a store holding 200,000 events.
func BenchmarkSQLiteQueryEvents(b *testing.B) {
	s := newStore(b)
	benchmarkQueryEvents(b, s)
}

func benchmarkQueryEvents(b *testing.B, s store.EventStore) {
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const total = 200_000
	for i := 0; i < total; i += 1000 {
		evs := make([]store.Event, 1000)
		for j := range evs {
			evs[j] = storetest.BenchEvent(i+j, start.Add(time.Duration(i+j)*100*time.Millisecond))
		}
		if err := s.AddEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	first, err := s.QueryEvents(ctx, store.EventQuery{Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	lastHour := start.Add(total*100*time.Millisecond - time.Hour)
	for _, qc := range []struct {
		name string
		q    store.EventQuery
	}{
		{"first page", store.EventQuery{Limit: 50}},
		{"second page", store.EventQuery{Limit: 50, Cursor: first.Next}},
		{"user", store.EventQuery{Limit: 50, User: storetest.BenchUser(7)}},
		{"user in last hour", store.EventQuery{Limit: 50, User: storetest.BenchUser(7), Since: lastHour}},
		{"namespace and verb", store.EventQuery{Limit: 50, Namespace: storetest.BenchNamespace(3), Verb: "delete"}},
		{"cluster", store.EventQuery{Limit: 50, Clusters: []string{storetest.BenchCluster(2)}}},
		{"common source IP", store.EventQuery{Limit: 50, SourceIP: "192.168.0.1"}},
		{"user's source IP", store.EventQuery{Limit: 50, SourceIP: "10.0.7.10"}},
		{"absent source IP", store.EventQuery{Limit: 50, SourceIP: "10.99.99.99"}},
		{"name", store.EventQuery{Limit: 50, Name: fmt.Sprint("object-", total/2)}},
	} {
		b.Run(qc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.QueryEvents(ctx, qc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
