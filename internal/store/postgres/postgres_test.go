package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
	"github.com/vigilsec/vigil/internal/store/storetest"
)

// defaultURL is where this machine and CI run PostgreSQL, with trust auth.
const defaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testURL is the server the tests use: VIGIL_TEST_POSTGRES_URL, the
// default, or one TestMain started.
var testURL string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	url := os.Getenv("VIGIL_TEST_POSTGRES_URL")
	if url == "" {
		url = defaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := ping(ctx, url)
	cancel()
	if err == nil {
		testURL = url
		return m.Run()
	}
	fmt.Fprintf(os.Stderr, "postgres: no server at %s (%v); starting one\n", redact(url), err)
	srv, err := startServer()
	if err != nil {
		fmt.Fprintf(os.Stderr, "postgres: these tests need PostgreSQL: run one at %s (trust auth, database \"test\"), set VIGIL_TEST_POSTGRES_URL, or install the Debian postgresql package so that the tests can start their own: %v\n", defaultURL, err)
		return 1
	}
	defer srv.stop()
	testURL = srv.url
	return m.Run()
}

func ping(ctx context.Context, url string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

// redact drops the password from url for messages.
func redact(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			if k := strings.Index(url[j+3:i], ":"); k >= 0 {
				return url[:j+3+k] + ":xxx" + url[i:]
			}
		}
	}
	return url
}

// newStore opens a store in a new schema of the test database, and drops
// the schema when t ends.
func newStore(t testing.TB) *Store {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "vigil_test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, testURL)
	if err != nil {
		t.Fatalf("connect to %s: %v", redact(testURL), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, testURL)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(testURL, "?") {
		sep = "&"
	}
	s, err := New(ctx, testURL+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestReopenMigrated(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// A second replica opening the same schema finds it migrated.
	s2, err := New(ctx, testURL+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s2.pool.QueryRow(ctx, `SELECT count(*) FROM vigil_migrations`).Scan(&n); err != nil || n != len(names) {
		t.Errorf("migrations = %d, %v; want %d", n, err, len(names))
	}
}

// TestMigrateStored opens a schema holding alerts stored under the first
// migration: the later ones must give them their source IPs.
func TestMigrateStored(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var schema string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Back to the first migration, with alerts stored under it.
	c, err := pgx.Connect(ctx, testURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	first, err := migrations.ReadFile("migrations/0001_alerts.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE; CREATE SCHEMA "+schema+"; SET search_path = "+schema+"; "+string(first)+
		"; CREATE TABLE vigil_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now()); INSERT INTO vigil_migrations (version) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var ips []string
	for i := range 3 {
		a := storetest.BenchAlert(i, start.Add(time.Duration(i)*time.Minute))
		r, err := store.NewRow(&a)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Exec(ctx, `INSERT INTO alerts (id, time, priority, rule, cluster, tags, message, user_name, namespace, verb, resource, size, data, event)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			r.ID, r.Time, r.Priority, r.Rule, r.Cluster, r.Tags, r.Message, r.User, r.Namespace, r.Verb, r.Resource, r.Size, r.Data, r.Event)
		if err != nil {
			t.Fatal(err)
		}
		ips = append(ips, r.SourceIPs...)
	}
	s, err = New(ctx, testURL+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ip := range ips {
		p, err := s.Query(ctx, store.Query{SourceIP: ip})
		if err != nil || len(p.Alerts) == 0 {
			t.Errorf("Query(SourceIP: %s) = %d alerts, %v; want some", ip, len(p.Alerts), err)
		}
	}
}

func TestBadURL(t *testing.T) {
	_, err := New(context.Background(), "postgres://u:s3cret@[bad")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("New(bad URL) = %v; want an error without the password", err)
	}
}

// BenchmarkPostgresAdd measures inserts in batches of 500, as the store's
// output wrapper delivers them. Making the alerts is not timed.
func BenchmarkPostgresAdd(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const batch = 500
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		as := make([]journal.Alert, batch)
		for i := range as {
			as[i] = storetest.BenchAlert(n, start.Add(time.Duration(n)*time.Millisecond))
			n++
		}
		b.StartTimer()
		if err := s.Add(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}
