package sqlite

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
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

// TestMigrateStored opens a database holding alerts stored under the first
// migration: the later ones must give them their source IPs and index
// their messages again.
func TestMigrateStored(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "alerts.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrations.ReadFile("migrations/0001_alerts.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, string(first)+"; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var as []journal.Alert
	for i := range 3 {
		a := storetest.BenchAlert(i, start.Add(time.Duration(i)*time.Minute))
		r, err := store.NewRow(&a)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.ExecContext(ctx, `INSERT INTO alerts (id, time, priority, rule, cluster, tags, message, user_name, namespace, verb, resource, size, data, event)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Time, r.Priority, r.Rule, r.Cluster, encodeTags(r.Tags), r.Message, r.User, r.Namespace, r.Verb, r.Resource, r.Size, r.Data, r.Event)
		if err != nil {
			t.Fatal(err)
		}
		as = append(as, a)
	}
	if _, err := db.ExecContext(ctx, `UPDATE totals SET count = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := New(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r0, _ := store.NewRow(&as[0])
	tests := []struct {
		name string
		q    store.Query
		want int
	}{
		{"source IP", store.Query{SourceIP: r0.SourceIPs[0]}, 1},
		{"text", store.Query{Text: "db-password-2"}, 1},
		{"all", store.Query{}, 3},
	}
	for _, tc := range tests {
		p, err := s.Query(ctx, tc.q)
		if err != nil || len(p.Alerts) != tc.want {
			t.Errorf("%s: Query(%+v) = %d alerts, %v; want %d", tc.name, tc.q, len(p.Alerts), err, tc.want)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM alerts_fts WHERE alerts_fts MATCH '"pas"'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("trigram index holds %d alerts, %v; want 3", n, err)
	}
	// Adding the same alerts again changes nothing.
	if err := s.Add(ctx, as); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Count != 3 {
		t.Errorf("Stats = %+v, %v; want 3 alerts", st, err)
	}
}

// BenchmarkSQLiteAdd measures inserts in batches of 500, as the store's
// output wrapper delivers them. Making the alerts is not timed. Besides
// alerts/s, it reports the CPU time per alert, which other processes
// competing for the CPU disturb less.
// BenchmarkSQLiteAdd measures Add in batches of 500 and of 2000 (the
// store output's largest batch, reached in bursts): bigger batches share
// more index pages per commit.
func BenchmarkSQLiteAdd(b *testing.B) {
	for _, batch := range []int{500, 2000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchAdd(b, batch) })
	}
}

func benchAdd(b *testing.B, batch int) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
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

var (
	benchAlerts = flag.Int("bench-alerts", 50_000, "alerts stored before BenchmarkSQLiteQuery")
	bench1M     = flag.Bool("bench1m", false, "run BenchmarkSQLiteQuery1M, which first stores 1,000,000 alerts (minutes)")
	benchDB     = flag.String("bench-db", "", "where BenchmarkSQLiteQuery1M keeps its database, to reuse it in later runs (default: a temporary directory)")
)

// BenchmarkSQLiteQuery measures the events and overview pages' queries on
// a store holding -bench-alerts alerts (50,000).
func BenchmarkSQLiteQuery(b *testing.B) {
	benchQueries(b, filled(b, *benchAlerts, filepath.Join(b.TempDir(), "alerts.db")))
}

// BenchmarkSQLiteQuery1M measures them on 1,000,000 alerts. It runs only
// with -bench1m, since storing them takes minutes:
//
//	go test -run '^$' -bench SQLiteQuery1M -bench1m -bench-db /tmp/vigil-1m.db ./internal/store/sqlite
//
// -bench-db keeps the database for the next run.
func BenchmarkSQLiteQuery1M(b *testing.B) {
	if !*bench1M {
		b.Skip("stores 1,000,000 alerts first: run with -bench1m")
	}
	path := *benchDB
	if path == "" {
		path = filepath.Join(b.TempDir(), "alerts.db")
	}
	benchQueries(b, filled(b, 1_000_000, path))
}

// benchSpan is the time BenchAlert's alerts spread over in filled stores.
const benchSpan = 30 * 24 * time.Hour

// filled opens the store at path, storing n alerts (storetest.BenchAlert,
// evenly over benchSpan, in batches of 500) unless it holds them already.
// Nine in ten of the newest tenth are resolved, as responders triage the
// recent alerts.
func filled(b *testing.B, n int, path string) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := New(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	st, err := s.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if st.Count == int64(n) {
		return s
	}
	if st.Count != 0 {
		b.Fatalf("%s holds %d alerts, not %d: remove it", path, st.Count, n)
	}
	start := time.Now()
	step := benchSpan / time.Duration(n)
	first := benchStart()
	for i := 0; i < n; i += 500 {
		as := make([]journal.Alert, 0, 500)
		for j := i; j < min(i+500, n); j++ {
			as = append(as, storetest.BenchAlert(j, first.Add(time.Duration(j)*step)))
		}
		if err := s.Add(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
	_, err = s.db.ExecContext(ctx, `UPDATE alerts SET status = 'resolved' WHERE seq > (SELECT max(seq) FROM alerts) - ? AND seq % 10 != 0`, n/10)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d alerts in %v", n, time.Since(start).Round(time.Second))
	return s
}

// benchStart is the event time of the first alert of filled stores.
func benchStart() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }

// benchQueries times the events page's first page (50 alerts) for the
// usual filters, and the overview page's Summarize of the last day.
func benchQueries(b *testing.B, s *Store) {
	ctx := context.Background()
	st, err := s.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	n := int(st.Count)
	end := benchStart().Add(benchSpan)
	warning := alert.PriorityWarning
	critical := alert.PriorityCritical
	p, err := s.Query(ctx, store.Query{Limit: 50})
	if err != nil {
		b.Fatal(err)
	}
	// A name in one alert, from the first tenth of the store.
	rare := fmt.Sprintf("db-password-%d", n/10+7)
	queries := []struct {
		name string
		q    store.Query
	}{
		{"no filter", store.Query{}},
		{"second page", store.Query{Cursor: p.Next}},
		{"oldest first", store.Query{Oldest: true}},
		{"min priority warning", store.Query{MinPriority: &warning}},
		{"one cluster", store.Query{Clusters: []string{storetest.BenchCluster(3)}}},
		{"one user", store.Query{User: storetest.BenchUser(42)}},
		{"one namespace", store.Query{Namespace: storetest.BenchNamespace(7)}},
		{"one rule", store.Query{Rules: []string{storetest.BenchRule(40)}}},
		{"source IP", store.Query{SourceIP: storetest.BenchSourceIP(42)}},
		{"text common word", store.Query{Text: "secrets"}},
		{"text rare word", store.Query{Text: rare}},
		{"text two words", store.Query{Text: "patch " + storetest.BenchUser(42)}},
		{"status open", store.Query{Statuses: []store.Status{store.StatusOpen}}},
		{"cluster, critical, last day", store.Query{Clusters: []string{storetest.BenchCluster(3)}, MinPriority: &critical, Since: end.Add(-24 * time.Hour)}},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			qc.q.Limit = 50
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.Query(ctx, qc.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Alerts) == 0 {
					b.Fatalf("Query(%+v) found nothing", qc.q)
				}
			}
		})
	}
	b.Run("summarize last day", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum, err := s.Summarize(ctx, store.Query{Since: end.Add(-24 * time.Hour)}, store.SummaryOptions{Bucket: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			if sum.Total == 0 {
				b.Fatal("Summarize found nothing")
			}
		}
	})
}
