// Package storetest is the conformance suite every store.Store
// implementation passes: idempotent adds, every query filter, stable
// pagination, retention by age and by size, triage, concurrent writers, and
// events kept byte for byte.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
)

// NewStore returns an empty store for one test; the implementation's test
// closes it (with t.Cleanup) and removes its data.
type NewStore func(t *testing.T) store.Store

// base is the event time of the fixtures: far enough from now that a
// Retention without Now would delete them all.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite against the stores newStore returns.
func Run(t *testing.T, newStore NewStore) {
	t.Run("AddGet", func(t *testing.T) { testAddGet(t, newStore(t)) })
	t.Run("GetNotFound", func(t *testing.T) { testGetNotFound(t, newStore(t)) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, newStore(t)) })
	t.Run("EventVerbatim", func(t *testing.T) { testEventVerbatim(t, newStore(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, newStore(t)) })
	t.Run("Pagination", func(t *testing.T) { testPagination(t, newStore(t)) })
	t.Run("BadCursor", func(t *testing.T) { testBadCursor(t, newStore(t)) })
	t.Run("Stats", func(t *testing.T) { testStats(t, newStore(t)) })
	t.Run("RetainAge", func(t *testing.T) { testRetainAge(t, newStore(t)) })
	t.Run("RetainBytes", func(t *testing.T) { testRetainBytes(t, newStore(t)) })
	t.Run("RetainSourceIPs", func(t *testing.T) { testRetainSourceIPs(t, newStore(t)) })
	t.Run("Triage", func(t *testing.T) { testTriage(t, newStore(t)) })
	t.Run("ConcurrentAdd", func(t *testing.T) { testConcurrentAdd(t, newStore(t)) })
	t.Run("Comments", func(t *testing.T) { testComments(t, newStore(t)) })
	t.Run("Summarize", func(t *testing.T) { testSummarize(t, newStore(t)) })
	t.Run("SummarizeBeforeEpoch", func(t *testing.T) { testSummarizeBeforeEpoch(t, newStore(t)) })
	t.Run("SummarizeGenerated", func(t *testing.T) { testSummarizeGenerated(t, newStore(t)) })
}

// event is a fixture's audit event.
type event struct {
	user, ns, verb, res string
	ips                 []string // sourceIPs; nil leaves the key out
}

func (e event) json() json.RawMessage {
	ips := ""
	if e.ips != nil {
		b, _ := json.Marshal(e.ips)
		ips = `,"sourceIPs":` + string(b)
	}
	return json.RawMessage(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":%q,"user":{"username":%q,"groups":["system:authenticated"]}%s,"objectRef":{"resource":%q,"namespace":%q,"name":"x"},"requestObject":{"data":"<redacted>"}}`,
		e.verb, e.user, ips, e.res, e.ns))
}

// Alert returns a fixture alert; tests and benchmarks of implementations
// may use it too.
func Alert(id string, t time.Time, rule string, p alert.Priority, cluster, msg string, tags []string, ev json.RawMessage) journal.Alert {
	return journal.Alert{
		ID: id,
		Alert: alert.Alert{
			Time:     t.UnixNano(),
			Rule:     rule,
			Priority: p,
			Source:   "k8s_audit",
			Tags:     tags,
			Message:  msg,
			Hostname: "vigil-0",
			Fields: []alert.Field{
				{Key: "evt.time", Values: []string{fmt.Sprint(t.UnixNano())}, Int: true},
				{Key: "ka.user.groups", Values: []string{"a", "b"}, List: true},
				{Key: "ka.user.name", Values: []string{"alice"}},
				{Key: "ka.verb", Missing: true},
			},
		},
		Cluster:  cluster,
		Capture:  "webhook",
		AuditID:  "audit-" + id,
		Stage:    "ResponseComplete",
		Received: t.Add(time.Second),
		Event:    ev,
	}
}

func simple(id string, t time.Time) journal.Alert {
	return Alert(id, t, "Rule A", alert.PriorityWarning, "c1", "message of "+id, []string{"k8s"},
		event{"alice", "default", "get", "pods", []string{"10.1.1.1"}}.json())
}

func add(t *testing.T, s store.Store, as ...journal.Alert) {
	t.Helper()
	if err := s.Add(context.Background(), as); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func get(t *testing.T, s store.Store, id string) store.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return r
}

func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

// all returns the IDs q selects, following every page.
func all(t *testing.T, s store.Store, q store.Query) []string {
	t.Helper()
	var ids []string
	for range 10000 {
		p, err := s.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("Query(%+v): %v", q, err)
		}
		for _, r := range p.Alerts {
			ids = append(ids, r.ID)
		}
		if p.Next == "" {
			return ids
		}
		q.Cursor = p.Next
	}
	t.Fatalf("Query(%+v): pages never end", q)
	return nil
}

func sameAlert(t *testing.T, got store.Record, want journal.Alert) {
	t.Helper()
	if string(got.Event) != string(want.Event) {
		t.Errorf("%s: event changed:\n got %s\nwant %s", want.ID, got.Event, want.Event)
	}
	g, w := got.Alert, want
	g.Event, w.Event = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: stored alert differs:\n got %+v\nwant %+v", want.ID, g, w)
	}
}

func testAddGet(t *testing.T, s store.Store) {
	a := simple("a1", base)
	omitted := simple("a2", base.Add(time.Second))
	omitted.Event, omitted.EventOmitted = nil, true
	noTags := simple("a3", base.Add(2*time.Second))
	noTags.Alert.Tags, noTags.Alert.Fields = nil, nil
	add(t, s, a, omitted, noTags)
	for _, want := range []journal.Alert{a, omitted, noTags} {
		got := get(t, s, want.ID)
		sameAlert(t, got, want)
		if got.Triage.Status != store.StatusOpen {
			t.Errorf("%s: status %q, want %q", want.ID, got.Triage.Status, store.StatusOpen)
		}
	}
	if err := s.Add(context.Background(), nil); err != nil {
		t.Errorf("Add(nil): %v", err)
	}
}

func testGetNotFound(t *testing.T, s store.Store) {
	add(t, s, simple("a1", base))
	_, err := s.Get(context.Background(), "nope")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
}

func testIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := simple("a1", base), simple("a2", base.Add(time.Second))
	add(t, s, a, b)
	before := stats(t, s)
	tr := store.Triage{Status: store.StatusAcknowledged, Assignee: "bob", Note: "looking", Updated: base.Add(time.Hour)}
	if err := s.SetStatus(ctx, "a1", tr); err != nil {
		t.Fatalf("SetStatus: %v", err)
	}
	changed := a
	changed.Alert.Message = "a different message"
	tests := []struct {
		name  string
		batch []journal.Alert
	}{
		{"same batch again", []journal.Alert{a, b}},
		{"duplicate inside one batch", []journal.Alert{a, a, b, b}},
		{"changed alert, same ID", []journal.Alert{changed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			add(t, s, tc.batch...)
			if got := stats(t, s); got != before {
				t.Errorf("Stats = %+v, want %+v", got, before)
			}
			got := get(t, s, "a1")
			sameAlert(t, got, a)
			if !got.Triage.Updated.Equal(tr.Updated) || got.Triage.Status != tr.Status || got.Triage.Assignee != tr.Assignee || got.Triage.Note != tr.Note {
				t.Errorf("triage = %+v, want %+v", got.Triage, tr)
			}
		})
	}
	// A batch mixing new and known alerts adds the new ones.
	add(t, s, a, simple("a3", base))
	if got := stats(t, s).Count; got != 3 {
		t.Errorf("Count = %d after a mixed batch, want 3", got)
	}
}

func testEventVerbatim(t *testing.T, s store.Store) {
	events := []string{
		"{ \"kind\" : \"Event\",\n  \"requestObject\": {\"data\": {\"password\": \"<redacted>\"}},\n \"z\": 1.50, \"a\": \"\\u00e9\" }",
		`{"verb":"create","user":{"username":"eve"},"objectRef":{"resource":"secrets","namespace":"kube-system"},"responseObject":null,"x":[1,2,3]}`,
		`{}`,
		`{"user":{"username":"mallory"},"sourceIPs":"10.9.9.9"}`, // sourceIPs not an array
		`{"user":{"username":"trent"},"sourceIPs":["10.9.9.8",7]}`,
	}
	var as []journal.Alert
	for i, ev := range events {
		a := simple(fmt.Sprintf("e%d", i), base.Add(time.Duration(i)*time.Second))
		a.Event = json.RawMessage(ev)
		as = append(as, a)
	}
	add(t, s, as...)
	for _, a := range as {
		got := get(t, s, a.ID)
		if string(got.Event) != string(a.Event) {
			t.Errorf("%s: event = %s, want byte-identical %s", a.ID, got.Event, a.Event)
		}
	}
	for _, tc := range []struct {
		q    store.Query
		want []string
	}{
		{store.Query{User: "eve"}, []string{"e1"}},
		// A malformed sourceIPs loses the source IPs, not the other keys.
		{store.Query{User: "mallory"}, []string{"e3"}},
		{store.Query{SourceIP: "10.9.9.9"}, nil},
		{store.Query{User: "trent"}, []string{"e4"}},
	} {
		if got := all(t, s, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Query(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// fixtures is the data set of the filter table.
func fixtures() []journal.Alert {
	ev := func(u, ns, v, r string, ips ...string) json.RawMessage { return event{u, ns, v, r, ips}.json() }
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	omitted := Alert("f7", at(7), "Exec", alert.PriorityNotice, "c2", "exec into pod by carol", nil, nil)
	omitted.EventOmitted = true
	omitted.Alert.Fields = []alert.Field{
		{Key: "ka.target.namespace", Values: []string{"prod"}},
		{Key: "ka.sourceips", Values: []string{"10.0.0.7"}, List: true},
		{Key: "ka.target.resource", Values: []string{"pods"}},
		{Key: "ka.user.name", Values: []string{"carol"}},
		{Key: "ka.verb", Values: []string{"create"}},
	}
	return []journal.Alert{
		Alert("f1", at(1), "Read Secret", alert.PriorityWarning, "c1", "Secret read by alice in prod", []string{"k8s", "secrets"}, ev("alice", "prod", "get", "secrets", "10.0.0.1")),
		Alert("f2", at(2), "Read Secret", alert.PriorityWarning, "c2", "Secret read by bob in dev", []string{"k8s", "secrets"}, ev("bob", "dev", "get", "secrets", "10.0.0.11", "192.168.1.5")),
		Alert("f3", at(3), "Create Privileged Pod", alert.PriorityCritical, "c1", "Privileged pod created by alice (100% sure_)", []string{"k8s", "pods", "mitre_privilege_escalation"}, ev("alice", "prod", "create", "pods", "10.0.0.1", "172.16.0.2")),
		Alert("f4", at(4), "Delete Namespace", alert.PriorityError, "c3", "Namespace deleted by admin", []string{"k8s"}, ev("admin", "", "delete", "namespaces")),
		Alert("f5", at(5), "Anonymous Request", alert.PriorityInformational, "c1", "anonymous REQUEST to /healthz", nil, ev("system:anonymous", "", "get", "", "192.168.1.5")),
		Alert("f6", at(6), "Exec", alert.PriorityNotice, "c2", "exec into pod by alice", []string{"pods"}, event{"alice", "dev", "create", "pods", []string{}}.json()),
		omitted,
	}
}

func testFilters(t *testing.T, s store.Store) {
	add(t, s, fixtures()...)
	prio := func(p alert.Priority) *alert.Priority { return &p }
	ctx := context.Background()
	if err := s.SetStatus(ctx, "f2", store.Triage{Status: store.StatusAcknowledged}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(ctx, "f4", store.Triage{Status: store.StatusResolved}); err != nil {
		t.Fatal(err)
	}
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"all, newest first", store.Query{}, []string{"f7", "f6", "f5", "f4", "f3", "f2", "f1"}},
		{"since inclusive", store.Query{Since: at(5)}, []string{"f7", "f6", "f5"}},
		{"until exclusive", store.Query{Until: at(3)}, []string{"f2", "f1"}},
		{"time range", store.Query{Since: at(2), Until: at(4)}, []string{"f3", "f2"}},
		{"empty range", store.Query{Since: at(10)}, nil},
		{"one cluster", store.Query{Clusters: []string{"c2"}}, []string{"f7", "f6", "f2"}},
		{"two clusters", store.Query{Clusters: []string{"c2", "c3"}}, []string{"f7", "f6", "f4", "f2"}},
		{"unknown cluster", store.Query{Clusters: []string{"c9"}}, nil},
		{"rule", store.Query{Rules: []string{"Read Secret"}}, []string{"f2", "f1"}},
		{"rules", store.Query{Rules: []string{"Exec", "Delete Namespace"}}, []string{"f7", "f6", "f4"}},
		{"min priority error", store.Query{MinPriority: prio(alert.PriorityError)}, []string{"f4", "f3"}},
		{"min priority emergency", store.Query{MinPriority: prio(alert.PriorityEmergency)}, nil},
		{"min priority debug", store.Query{MinPriority: prio(alert.PriorityDebug)}, []string{"f7", "f6", "f5", "f4", "f3", "f2", "f1"}},
		{"one tag", store.Query{Tags: []string{"pods"}}, []string{"f6", "f3"}},
		{"all tags", store.Query{Tags: []string{"k8s", "pods"}}, []string{"f3"}},
		{"tag is not a substring", store.Query{Tags: []string{"pod"}}, nil},
		{"user", store.Query{User: "alice"}, []string{"f6", "f3", "f1"}},
		{"user from fields when the event is omitted", store.Query{User: "carol"}, []string{"f7"}},
		{"namespace", store.Query{Namespace: "prod"}, []string{"f7", "f3", "f1"}},
		{"verb", store.Query{Verb: "create"}, []string{"f7", "f6", "f3"}},
		{"resource", store.Query{Resource: "secrets"}, []string{"f2", "f1"}},
		{"status open", store.Query{Statuses: []store.Status{store.StatusOpen}}, []string{"f7", "f6", "f5", "f3", "f1"}},
		{"statuses", store.Query{Statuses: []store.Status{store.StatusAcknowledged, store.StatusResolved}}, []string{"f4", "f2"}},
		{"text word", store.Query{Text: "secret"}, []string{"f2", "f1"}},
		{"text ignores case", store.Query{Text: "REQUEST"}, []string{"f5"}},
		{"text lower matches upper", store.Query{Text: "request"}, []string{"f5"}},
		{"text all words", store.Query{Text: "alice  pod"}, []string{"f6", "f3"}},
		{"text substring", store.Query{Text: "ivileg"}, []string{"f3"}},
		{"text short word", store.Query{Text: "by al"}, []string{"f6", "f3", "f1"}},
		{"text LIKE characters are literal", store.Query{Text: "100%"}, []string{"f3"}},
		{"text underscore literal", store.Query{Text: "sure_"}, []string{"f3"}},
		{"text percent alone", store.Query{Text: "%"}, []string{"f3"}},
		{"text no match", store.Query{Text: "kubectl"}, nil},
		{"text long words", store.Query{Text: "PRIVILEGED pod created"}, []string{"f3"}},
		{"text long words, one absent", store.Query{Text: "Privileged pod deleted"}, nil},
		{"text long word, one letter off", store.Query{Text: "Privileged-pod"}, nil},
		{"text quotes", store.Query{Text: `"alice`}, nil},
		{"text only spaces", store.Query{Text: "   "}, []string{"f7", "f6", "f5", "f4", "f3", "f2", "f1"}},
		{"combined", store.Query{Clusters: []string{"c1"}, User: "alice", MinPriority: prio(alert.PriorityWarning), Text: "secret", Since: at(1)}, []string{"f1"}},
		{"source IP", store.Query{SourceIP: "10.0.0.1"}, []string{"f3", "f1"}},
		{"source IP second of two", store.Query{SourceIP: "172.16.0.2"}, []string{"f3"}},
		{"source IP in several alerts", store.Query{SourceIP: "192.168.1.5"}, []string{"f5", "f2"}},
		{"source IP from fields when the event is omitted", store.Query{SourceIP: "10.0.0.7"}, []string{"f7"}},
		{"source IP is not a prefix", store.Query{SourceIP: "10.0.0"}, nil},
		{"source IP is not a substring", store.Query{SourceIP: "0.0.0.1"}, nil},
		{"source IP and cluster", store.Query{SourceIP: "10.0.0.1", Clusters: []string{"c1"}, Since: at(2)}, []string{"f3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldest := slices.Clone(tc.want)
			slices.Reverse(oldest)
			for _, m := range []struct {
				name   string
				limit  int
				oldest bool
				want   []string
			}{
				{"", 0, false, tc.want},
				{" in pages of 2", 2, false, tc.want},
				{" oldest first", 0, true, oldest},
				{" oldest first in pages of 2", 2, true, oldest},
			} {
				q := tc.q
				q.Limit, q.Oldest = m.limit, m.oldest
				if got := all(t, s, q); !slices.Equal(got, m.want) {
					t.Errorf("Query(%+v)%s = %v, want %v", q, m.name, got, m.want)
				}
			}
		})
	}
}

func testPagination(t *testing.T, s store.Store) {
	ctx := context.Background()
	// 40 alerts over 8 distinct times: ties are ordered by ID, descending.
	var as []journal.Alert
	var want []string
	for i := range 40 {
		as = append(as, simple(fmt.Sprintf("p%02d", i), base.Add(time.Duration(i/5)*time.Second)))
	}
	for i := 39; i >= 0; i-- {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	add(t, s, as...)
	oldest := slices.Clone(want)
	slices.Reverse(oldest)
	for _, limit := range []int{1, 3, 5, 7, 40, 100} {
		for _, o := range []struct {
			name   string
			oldest bool
			want   []string
		}{{"newest first", false, want}, {"oldest first", true, oldest}} {
			t.Run(fmt.Sprint(o.name, " limit ", limit), func(t *testing.T) {
				q := store.Query{Limit: limit, Oldest: o.oldest}
				var got []string
				for {
					p, err := s.Query(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Alerts) > limit {
						t.Fatalf("page of %d alerts, limit %d", len(p.Alerts), limit)
					}
					for _, r := range p.Alerts {
						got = append(got, r.ID)
					}
					if p.Next == "" {
						break
					}
					if len(p.Alerts) != limit {
						t.Fatalf("short page (%d) with a next cursor", len(p.Alerts))
					}
					q.Cursor = p.Next
				}
				if !slices.Equal(got, o.want) {
					t.Errorf("pages = %v, want %v", got, o.want)
				}
			})
		}
	}
	t.Run("stable while alerts arrive", func(t *testing.T) {
		p1, err := s.Query(ctx, store.Query{Limit: 12})
		if err != nil {
			t.Fatal(err)
		}
		// Newer alerts, and one that ties with the last alert of page 1
		// but sorts before it, arrive between two pages.
		add(t, s, simple("p99", base.Add(time.Hour)), simple("p28a", base.Add(5*time.Second)))
		p2, err := s.Query(ctx, store.Query{Limit: 12, Cursor: p1.Next})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p2.Alerts {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, want[12:24]) {
			t.Errorf("second page = %v, want %v", got, want[12:24])
		}
	})
	t.Run("stable while alerts arrive, oldest first", func(t *testing.T) {
		p1, err := s.Query(ctx, store.Query{Limit: 12, Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		// An alert older than all, and one that ties with the last alert
		// of page 1 but sorts before it, arrive between two pages.
		add(t, s, simple("p00a", base.Add(-time.Hour)), simple("p10a", base.Add(2*time.Second)))
		p2, err := s.Query(ctx, store.Query{Limit: 12, Oldest: true, Cursor: p1.Next})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p2.Alerts {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, oldest[12:24]) {
			t.Errorf("second page = %v, want %v", got, oldest[12:24])
		}
	})
	t.Run("default and maximum limit", func(t *testing.T) {
		var more []journal.Alert
		for i := range store.MaxLimit + 10 {
			more = append(more, simple(fmt.Sprintf("m%04d", i), base.Add(-time.Hour)))
		}
		add(t, s, more...)
		for _, tc := range []struct{ limit, want int }{{0, store.DefaultLimit}, {-1, store.DefaultLimit}, {store.MaxLimit * 5, store.MaxLimit}} {
			p, err := s.Query(ctx, store.Query{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Alerts) != tc.want || p.Next == "" {
				t.Errorf("Limit %d: %d alerts (next %q), want %d and a next page", tc.limit, len(p.Alerts), p.Next, tc.want)
			}
		}
	})
}

func testBadCursor(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, simple("a1", base), simple("a2", base.Add(time.Second)), simple("a3", base.Add(2*time.Second)))
	next := func(q store.Query) string {
		t.Helper()
		p, err := s.Query(ctx, q)
		if err != nil || p.Next == "" {
			t.Fatalf("Query(%+v) = next %q, %v; want a next page", q, p.Next, err)
		}
		return p.Next
	}
	newest := next(store.Query{Limit: 1})
	oldest := next(store.Query{Limit: 1, Oldest: true})
	tests := []struct {
		name string
		q    store.Query
	}{
		{"not base64", store.Query{Cursor: "!!!"}},
		{"no slash", store.Query{Cursor: "bm9zbGFzaA"}},               // "noslash"
		{"no time", store.Query{Cursor: "eC95"}},                      // "x/y"
		{"no ID", store.Query{Cursor: "NS8"}},                         // "5/"
		{"oldest-first mark, no time", store.Query{Cursor: "XngveQ"}}, // "^x/y"
		{"newest-first cursor, oldest first", store.Query{Cursor: newest, Oldest: true}},
		{"oldest-first cursor, newest first", store.Query{Cursor: oldest}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Query(ctx, tc.q); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("Query(%+v) = %v, want ErrBadCursor", tc.q, err)
			}
		})
	}
	// Each cursor continues its own order.
	for _, tc := range []struct {
		q    store.Query
		want []string
	}{
		{store.Query{Cursor: newest}, []string{"a2", "a1"}},
		{store.Query{Cursor: oldest, Oldest: true}, []string{"a2", "a3"}},
	} {
		if got := all(t, s, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Query(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	if got := stats(t, s); got != (store.Stats{}) {
		t.Errorf("empty store: Stats = %+v, want zero", got)
	}
	fs := fixtures()
	add(t, s, fs...)
	want := store.Stats{Count: int64(len(fs)), Oldest: time.Unix(0, fs[0].Alert.Time)}
	for i := range fs {
		want.Bytes += store.Size(&fs[i])
	}
	got := stats(t, s)
	if got.Count != want.Count || got.Bytes != want.Bytes || !got.Oldest.Equal(want.Oldest) {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func testRetainAge(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base.Add(100 * 24 * time.Hour)
	day := 24 * time.Hour
	var as []journal.Alert
	for i := range 1200 { // old: more than one RetainBatch
		as = append(as, simple(fmt.Sprintf("old%04d", i), now.Add(-40*day).Add(time.Duration(i)*time.Second)))
	}
	as = append(as,
		simple("edge", now.Add(-30*day)), // exactly MaxAge old: kept
		simple("mid", now.Add(-20*day)),
		simple("new", now.Add(-time.Minute)),
	)
	add(t, s, as...)
	n, err := s.Retain(ctx, store.Retention{MaxAge: 30 * day, Now: now})
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	if n != 1200 {
		t.Errorf("Retain deleted %d, want 1200", n)
	}
	if got := all(t, s, store.Query{Limit: store.MaxLimit}); !slices.Equal(got, []string{"new", "mid", "edge"}) {
		t.Errorf("kept %v, want [new mid edge]", got)
	}
	st := stats(t, s)
	if st.Count != 3 || !st.Oldest.Equal(now.Add(-30*day)) || st.Bytes != store.Size(&as[1200])+store.Size(&as[1201])+store.Size(&as[1202]) {
		t.Errorf("Stats after Retain = %+v", st)
	}
	if n, err := s.Retain(ctx, store.Retention{MaxAge: 30 * day, Now: now}); n != 0 || err != nil {
		t.Errorf("second Retain = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Retain(ctx, store.Retention{}); n != 0 || err != nil {
		t.Errorf("Retain without bounds = %d, %v; want 0, nil", n, err)
	}
}

func testRetainBytes(t *testing.T, s store.Store) {
	ctx := context.Background()
	var as []journal.Alert
	for i := range 1500 {
		as = append(as, simple(fmt.Sprintf("s%04d", i), base.Add(time.Duration(i/2)*time.Second)))
	}
	// Insert out of time order, in several batches.
	slices.Reverse(as)
	add(t, s, as[:700]...)
	add(t, s, as[700:]...)
	slices.Reverse(as)
	var keep int64
	for i := 1500 - 321; i < 1500; i++ {
		keep += store.Size(&as[i])
	}
	n, err := s.Retain(ctx, store.Retention{MaxBytes: keep, MaxAge: 1000 * 24 * time.Hour, Now: base})
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	if n != 1500-321 {
		t.Errorf("Retain deleted %d, want %d", n, 1500-321)
	}
	st := stats(t, s)
	if st.Count != 321 || st.Bytes != keep || !st.Oldest.Equal(time.Unix(0, as[1500-321].Alert.Time)) {
		t.Errorf("Stats after Retain = %+v, want 321 alerts, %d bytes", st, keep)
	}
	got := all(t, s, store.Query{Limit: store.MaxLimit})
	if len(got) != 321 || got[0] != "s1499" || got[320] != fmt.Sprintf("s%04d", 1500-321) {
		t.Errorf("kept %d alerts from %v to %v", len(got), got[:1], got[len(got)-1:])
	}
	// A bound above the size deletes nothing; adding then brings it back.
	if n, err := s.Retain(ctx, store.Retention{MaxBytes: keep}); n != 0 || err != nil {
		t.Errorf("Retain at the bound = %d, %v; want 0, nil", n, err)
	}
	add(t, s, simple("newest", base.Add(time.Hour)))
	if n, err := s.Retain(ctx, store.Retention{MaxBytes: keep}); n < 1 || err != nil {
		t.Errorf("Retain after one more = %d, %v; want ≥ 1, nil", n, err)
	}
	if st := stats(t, s); st.Bytes > keep {
		t.Errorf("Bytes %d above MaxBytes %d", st.Bytes, keep)
	}
	get(t, s, "newest")
	// A bound below the newest alert deletes everything.
	if _, err := s.Retain(ctx, store.Retention{MaxBytes: 1}); err != nil {
		t.Fatal(err)
	}
	if st := stats(t, s); st != (store.Stats{}) {
		t.Errorf("Stats after MaxBytes 1 = %+v, want zero", st)
	}
}

func testRetainSourceIPs(t *testing.T, s store.Store) {
	withIP := func(id string, at time.Time, ip string) journal.Alert {
		return Alert(id, at, "Rule A", alert.PriorityWarning, "c1", "m", nil, event{"alice", "default", "get", "pods", []string{ip}}.json())
	}
	add(t, s, withIP("a1", base, "10.0.0.1"), withIP("a2", base.Add(time.Second), "10.0.0.1"))
	if n, err := s.Retain(context.Background(), store.Retention{MaxBytes: 1}); n != 2 || err != nil {
		t.Fatalf("Retain = %d, %v; want 2, nil", n, err)
	}
	// New alerts at the same times, which may reuse internal keys.
	add(t, s, withIP("b1", base, "10.0.0.2"), withIP("b2", base.Add(time.Second), "10.0.0.2"))
	for _, tc := range []struct {
		ip   string
		want []string
	}{{"10.0.0.1", nil}, {"10.0.0.2", []string{"b2", "b1"}}} {
		if got := all(t, s, store.Query{SourceIP: tc.ip}); !slices.Equal(got, tc.want) {
			t.Errorf("Query(SourceIP: %s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

func testTriage(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, simple("a1", base), simple("a2", base.Add(time.Second)))
	steps := []struct {
		name string
		id   string
		tr   store.Triage
		err  error
	}{
		{"acknowledge", "a1", store.Triage{Status: store.StatusAcknowledged, Assignee: "bob", Updated: base.Add(time.Minute)}, nil},
		{"note", "a1", store.Triage{Status: store.StatusAcknowledged, Assignee: "bob", Note: "benign: CI job ✓", Updated: base.Add(2 * time.Minute)}, nil},
		{"resolve", "a1", store.Triage{Status: store.StatusResolved, Assignee: "carol", Note: "done", Updated: base.Add(3 * time.Minute)}, nil},
		{"reopen", "a1", store.Triage{Status: store.StatusOpen, Updated: base.Add(4 * time.Minute)}, nil},
		{"resolve again", "a1", store.Triage{Status: store.StatusResolved, Note: "really done", Updated: base.Add(5 * time.Minute)}, nil},
		{"unknown alert", "zz", store.Triage{Status: store.StatusResolved}, store.ErrNotFound},
		{"bad status", "a1", store.Triage{Status: "closed"}, store.ErrBadStatus},
		{"empty status", "a1", store.Triage{}, store.ErrBadStatus},
	}
	want := store.Triage{Status: store.StatusOpen}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.SetStatus(ctx, st.id, st.tr)
			if !errors.Is(err, st.err) {
				t.Fatalf("SetStatus = %v, want %v", err, st.err)
			}
			if err == nil {
				want = st.tr
			}
			got := get(t, s, "a1").Triage
			if got.Status != want.Status || got.Assignee != want.Assignee || got.Note != want.Note || !got.Updated.Equal(want.Updated) {
				t.Errorf("triage = %+v, want %+v", got, want)
			}
		})
	}
	if got := get(t, s, "a2").Triage; got.Status != store.StatusOpen || got.Assignee != "" {
		t.Errorf("a2 triage changed: %+v", got)
	}
	if got := all(t, s, store.Query{Statuses: []store.Status{store.StatusResolved}}); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("resolved = %v, want [a1]", got)
	}
	// The triage state comes back with queried alerts too.
	p, err := s.Query(ctx, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Alerts) != 2 || p.Alerts[1].Triage.Note != "really done" {
		t.Errorf("Query returned %+v", p.Alerts)
	}
}

func testConcurrentAdd(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, batches, size = 8, 20, 25
	// Writers overlap: writer w writes IDs w*250 .. w*250+499, so every ID
	// but the first and last 250 is written twice, concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var batch []journal.Alert
				for i := range size {
					n := w*250 + b*size + i
					batch = append(batch, simple(fmt.Sprintf("c%05d", n), base.Add(time.Duration(n)*time.Millisecond)))
				}
				if err := s.Add(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() { // a reader at the same time
		for range 20 {
			if _, err := s.Query(ctx, store.Query{Limit: 50}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Add: %v", err)
	}
	want := int64((writers + 1) * 250)
	if st := stats(t, s); st.Count != want {
		t.Errorf("Count = %d, want %d", st.Count, want)
	}
	var bytes int64
	for n := range (writers + 1) * 250 {
		a := simple(fmt.Sprintf("c%05d", n), base.Add(time.Duration(n)*time.Millisecond))
		bytes += store.Size(&a)
	}
	if st := stats(t, s); st.Bytes != bytes {
		t.Errorf("Bytes = %d, want %d", st.Bytes, bytes)
	}
	if got := all(t, s, store.Query{Limit: store.MaxLimit}); len(got) != int(want) {
		t.Errorf("Query found %d alerts, want %d", len(got), want)
	}
}

// The benchmark world: BenchAlert draws from this many of each.
const (
	BenchRules      = 50
	BenchClusters   = 10
	BenchUsers      = 200
	BenchNamespaces = 100
)

// BenchCluster returns the name of benchmark cluster i.
func BenchCluster(i int) string { return fmt.Sprintf("cluster-%d", i) }

// BenchUser returns the name of benchmark user i: one in ten is a service
// account.
func BenchUser(i int) string {
	if i%10 == 0 {
		return fmt.Sprintf("system:serviceaccount:%s:controller-%d", BenchNamespace(i%BenchNamespaces), i)
	}
	return fmt.Sprintf("user-%03d@example.com", i)
}

// BenchSourceIP returns the source IP of benchmark user i.
func BenchSourceIP(i int) string { return fmt.Sprintf("10.%d.%d.%d", i/100, i%100, 10+i%7) }

// BenchNamespace returns the name of benchmark namespace i.
func BenchNamespace(i int) string { return fmt.Sprintf("team-%02d", i) }

// benchRuleNames are the first benchmark rules; the rest are numbered.
var benchRuleNames = [...]string{"Read Secret", "Create Privileged Pod", "Exec Into Pod", "Delete Namespace", "Anonymous Request", "ClusterRole Wildcard"}

// BenchRule returns the name of benchmark rule i.
func BenchRule(i int) string {
	if i < len(benchRuleNames) {
		return benchRuleNames[i]
	}
	return fmt.Sprintf("Suspicious Activity %02d", i)
}

// benchHotPriorities are the priorities of the five rules that raise half
// the alerts: noisy rules are rarely the severe ones.
var benchHotPriorities = [...]alert.Priority{alert.PriorityWarning, alert.PriorityNotice, alert.PriorityNotice, alert.PriorityInformational, alert.PriorityWarning}

// BenchPriority returns the priority of benchmark rule i.
func BenchPriority(i int) alert.Priority {
	if i < len(benchHotPriorities) {
		return benchHotPriorities[i]
	}
	return alert.Priority(i % 8)
}

// mix is SplitMix64's finalizer: a fixed pseudo-random function of i.
func mix(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// BenchAlert returns the i-th alert of a benchmark, a fixed function of i
// and t: realistic sizes (a ~1.3 KB event, a ~120-byte message) and
// variety (BenchRules rules, five of which raise half the alerts, with
// their own priorities; BenchClusters clusters, BenchUsers users, each
// with a source IP of its own, BenchNamespaces namespaces, one alert in
// ten without one).
func BenchAlert(i int, t time.Time) journal.Alert {
	h := mix(uint64(i))
	rule := int(h % BenchRules)
	if h>>8&1 == 0 {
		rule = int(h >> 9 % 5)
	}
	ui := int(h >> 16 % BenchUsers)
	u := BenchUser(ui)
	n := BenchNamespace(int(h >> 24 % BenchNamespaces))
	if h>>32%10 == 0 {
		n = ""
	}
	verb := [...]string{"get", "list", "create", "patch", "delete"}[h>>40%5]
	ips := `"` + BenchSourceIP(ui) + `"`
	if h>>44%20 == 0 {
		ips += `,"192.168.0.1"`
	}
	tags := []string{"k8s", [...]string{"secrets", "pods", "rbac", "namespaces"}[rule%4], "mitre_credential_access"}
	ev := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"%08x-1d2f-4a5b-9c8d-0123456789ab","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/%s/secrets/db-password-%d","verb":%q,"user":{"username":%q,"uid":"8d1c5e8a-2f7e-4c1b-a3f0-9b7f6e5d4c3b","groups":["system:authenticated","developers"]},"sourceIPs":[%s],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234","objectRef":{"resource":"secrets","namespace":%q,"name":"db-password-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db-password-%d","namespace":%q,"uid":"0f6c1e7a-5b9d-4e3f-8a2c-1d0e9f8b7a6c","resourceVersion":"123456","creationTimestamp":"2026-01-01T00:00:00Z"},"data":{"password":"<redacted>","username":"<redacted>"},"type":"Opaque"},"requestReceivedTimestamp":"2026-03-01T12:00:00.000000Z","stageTimestamp":"2026-03-01T12:00:00.001000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"read-secrets/%s\" of Role \"read-secrets\" to User \"%s\""}}`,
		i, n, i, verb, u, ips, n, i, i, n, n, u)
	msg := fmt.Sprintf("%s: user=%s verb=%s resource=secrets name=db-password-%d namespace=%s (request %d)", BenchRule(rule), u, verb, i, n, i)
	return Alert(fmt.Sprintf("%032x%04x", i, 0), t, BenchRule(rule), BenchPriority(rule), BenchCluster(int(h>>48%BenchClusters)), msg, tags, json.RawMessage(ev))
}
