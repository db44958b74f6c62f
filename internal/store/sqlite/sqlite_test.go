package sqlite

import (
	"context"
	"flag"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := New(context.Background(), filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestConformanceScan runs the suite with text searches that always scan
// in time order rather than read the trigram index.
func TestConformanceScan(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := newStore(t)
		s.maxIndexMatches = -1
		return s
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "alerts.db")
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.BenchAlert(1, time.Now())
	if err := s.Add(ctx, []journal.Alert{a}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(ctx, path) // migrations already applied
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, a.ID); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Count != 1 {
		t.Errorf("Stats after reopen = %+v, %v", st, err)
	}
}

// BenchmarkSQLiteAdd measures inserts in batches of 500, as the store's
// output wrapper delivers them. Making the alerts is not timed. Besides
// alerts/s, it reports the CPU time per alert, which other processes
// competing for the CPU disturb less.
func BenchmarkSQLiteAdd(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const batch = 500
	n := 0
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		as := make([]journal.Alert, batch)
		for i := range as {
			as[i] = storetest.BenchAlert(n, start.Add(time.Duration(n)*time.Millisecond))
			n++
		}
		b.StartTimer()
		c := cpuTime()
		if err := s.Add(ctx, as); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/alert")
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchAlerts = flag.Int("bench-alerts", 100_000, "alerts stored before BenchmarkSQLiteQuery")

// BenchmarkSQLiteQuery measures the events page's queries (first page of
// 50) on a store holding -bench-alerts alerts.
func BenchmarkSQLiteQuery(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < *benchAlerts; i += 1000 {
		as := make([]journal.Alert, 0, 1000)
		for j := i; j < i+1000 && j < *benchAlerts; j++ {
			as = append(as, storetest.BenchAlert(j, start.Add(time.Duration(j)*time.Second)))
		}
		if err := s.Add(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
	crit := alert.PriorityCritical
	p, err := s.Query(ctx, store.Query{Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	queries := []struct {
		name string
		q    store.Query
	}{
		{"first page", store.Query{Limit: 50}},
		{"second page", store.Query{Limit: 50, Cursor: p.Next}},
		{"cluster and priority", store.Query{Limit: 50, Clusters: []string{"cluster-1"}, MinPriority: &crit}},
		{"user", store.Query{Limit: 50, User: "carol"}},
		{"rare rule in last day", store.Query{Limit: 50, Rules: []string{"Delete Namespace"}, Since: start.Add(time.Duration(*benchAlerts-86400) * time.Second)}},
		{"text", store.Query{Limit: 50, Text: "db-password-4242"}},
		{"text common", store.Query{Limit: 50, Text: "secrets"}},
		{"tag", store.Query{Limit: 50, Tags: []string{"mitre_credential_access"}}},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Query(ctx, qc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
