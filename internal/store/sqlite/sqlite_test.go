package sqlite

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
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
	a := benchAlert(1, time.Now())
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

// benchAlert is an alert of realistic size: a ~1.3 KB event.
func benchAlert(i int, t time.Time) journal.Alert {
	users := []string{"alice", "bob", "system:serviceaccount:kube-system:replicaset-controller", "carol", "dave"}
	ns := []string{"default", "prod", "dev", "kube-system"}
	rules := []string{"Read Secret", "Create Privileged Pod", "Exec Into Pod", "Delete Namespace", "Anonymous Request", "ClusterRole Wildcard"}
	u, n, r := users[i%len(users)], ns[i%len(ns)], rules[i%len(rules)]
	ev := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"%08x-1d2f-4a5b-9c8d-0123456789ab","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/%s/secrets/db-password-%d","verb":"get","user":{"username":%q,"uid":"8d1c5e8a-2f7e-4c1b-a3f0-9b7f6e5d4c3b","groups":["system:authenticated","developers"]},"sourceIPs":["10.23.2.45"],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234","objectRef":{"resource":"secrets","namespace":%q,"name":"db-password-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db-password-%d","namespace":%q,"uid":"0f6c1e7a-5b9d-4e3f-8a2c-1d0e9f8b7a6c","resourceVersion":"123456","creationTimestamp":"2026-01-01T00:00:00Z"},"data":{"password":"<redacted>","username":"<redacted>"},"type":"Opaque"},"requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z","stageTimestamp":"2026-03-01T12:00:00.001000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"read-secrets/%s\" of Role \"read-secrets\" to User \"%s\""}}`,
		i, n, i, u, n, i, i, n, n, u)
	msg := fmt.Sprintf("%s: user=%s verb=get resource=secrets name=db-password-%d namespace=%s (request %d)", r, u, i, n, i)
	return storetest.Alert(fmt.Sprintf("%032x%04x", i, 0), t, r, alert.Priority(i%8), fmt.Sprintf("cluster-%d", i%3), msg, []string{"k8s", "secrets", "mitre_credential_access"}, json.RawMessage(ev))
}

// BenchmarkSQLiteAdd measures inserts in batches of 100, as the store's
// output wrapper delivers them.
func BenchmarkSQLiteAdd(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const batch = 100
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		as := make([]journal.Alert, batch)
		for i := range as {
			as[i] = benchAlert(n, start.Add(time.Duration(n)*time.Millisecond))
			n++
		}
		if err := s.Add(ctx, as); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
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
			as = append(as, benchAlert(j, start.Add(time.Duration(j)*time.Second)))
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
