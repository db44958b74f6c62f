package storetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// RunEvents runs the raw events part of the suite (store.EventStore)
// against the stores newStore returns, which must implement it.
func RunEvents(t *testing.T, newStore NewStore) {
	es := func(t *testing.T) eventStore {
		t.Helper()
		s := newStore(t)
		e, ok := s.(store.EventStore)
		if !ok {
			t.Fatalf("%T does not implement store.EventStore", s)
		}
		return eventStore{s, e}
	}
	t.Run("RoundTrip", func(t *testing.T) { testEventRoundTrip(t, es(t)) })
	t.Run("Idempotent", func(t *testing.T) { testEventIdempotent(t, es(t)) })
	t.Run("Filters", func(t *testing.T) { testEventFilters(t, es(t)) })
	t.Run("Pagination", func(t *testing.T) { testEventPagination(t, es(t)) })
	t.Run("BadCursor", func(t *testing.T) { testEventBadCursor(t, es(t)) })
	t.Run("Stats", func(t *testing.T) { testEventStats(t, es(t)) })
	t.Run("RetainAge", func(t *testing.T) { testEventRetainAge(t, es(t)) })
	t.Run("RetainBytes", func(t *testing.T) { testEventRetainBytes(t, es(t)) })
	t.Run("RetainSourceIPs", func(t *testing.T) { testEventRetainSourceIPs(t, es(t)) })
	t.Run("ApartFromAlerts", func(t *testing.T) { testEventsApartFromAlerts(t, es(t)) })
	t.Run("ConcurrentAdd", func(t *testing.T) { testEventConcurrentAdd(t, es(t)) })
}

// eventStore is a store under test, seen as both interfaces.
type eventStore struct {
	store.Store
	store.EventStore
}

// rawEvent is a fixture's audit event.
type rawEvent struct {
	cluster, auditID, stage string
	at                      time.Time // stageTimestamp
	user, ns, verb, res     string
	name                    string
	ips                     []string // sourceIPs; nil leaves the key out
	code                    int      // responseStatus.code; 0 leaves it out
}

func (e rawEvent) json() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":%q,"verb":%q,"user":{"username":%q,"groups":["system:authenticated"]}`,
		e.auditID, e.stage, e.verb, e.user)
	if e.ips != nil {
		ips, _ := json.Marshal(e.ips)
		fmt.Fprintf(&b, `,"sourceIPs":%s`, ips)
	}
	fmt.Fprintf(&b, `,"objectRef":{"resource":%q,"namespace":%q,"name":%q,"apiVersion":"v1"}`, e.res, e.ns, e.name)
	if e.code != 0 {
		fmt.Fprintf(&b, `,"responseStatus":{"metadata":{},"code":%d}`, e.code)
	}
	fmt.Fprintf(&b, `,"requestReceivedTimestamp":%q,"stageTimestamp":%q}`,
		e.at.Add(-time.Millisecond).Format(time.RFC3339Nano), e.at.Format(time.RFC3339Nano))
	return []byte(b.String())
}

// event returns the store.Event of e, as the keeper makes it.
func (e rawEvent) event(t testing.TB) store.Event {
	t.Helper()
	ev, ok := store.NewEvent(e.json(), e.cluster, "webhook")
	if !ok {
		t.Fatalf("NewEvent(%s) failed", e.json())
	}
	return ev
}

// ev returns a fixture event in cluster c1 by alice, identified by id.
func ev(t testing.TB, id string, at time.Time) store.Event {
	t.Helper()
	return rawEvent{cluster: "c1", auditID: id, stage: "ResponseComplete", at: at, user: "alice", ns: "default",
		verb: "get", res: "pods", name: "web", ips: []string{"10.1.1.1"}, code: 200}.event(t)
}

func addEvents(t testing.TB, s store.EventStore, evs ...store.Event) {
	t.Helper()
	if err := s.AddEvents(context.Background(), evs); err != nil {
		t.Fatalf("AddEvents: %v", err)
	}
}

func eventStats(t testing.TB, s store.EventStore) store.Stats {
	t.Helper()
	st, err := s.EventStats(context.Background())
	if err != nil {
		t.Fatalf("EventStats: %v", err)
	}
	return st
}

// sameStats compares Stats, their Oldest by instant.
func sameStats(a, b store.Stats) bool {
	return a.Count == b.Count && a.Bytes == b.Bytes && a.Oldest.Equal(b.Oldest)
}

// eventKey identifies an event in the tests: its audit ID, prefixed with
// its cluster and followed by its stage unless they are c1 and
// ResponseComplete.
func eventKey(e *store.Event) string {
	k := e.AuditID
	if e.Cluster != "c1" {
		k = e.Cluster + "/" + k
	}
	if e.Stage != "ResponseComplete" {
		k += "/" + e.Stage
	}
	return k
}

// allEvents returns the events q selects, following every page, and fails
// on a page over its limit, a short page with a next cursor, or an event
// seen twice.
func allEvents(t testing.TB, s store.EventStore, q store.EventQuery) []store.Event {
	t.Helper()
	var (
		evs  []store.Event
		seen = map[string]bool{}
	)
	for range 10000 {
		p, err := s.QueryEvents(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryEvents(%+v): %v", q, err)
		}
		if limit := q.PageLimit(); len(p.Events) > limit || (p.Next != "" && len(p.Events) < limit) {
			t.Fatalf("QueryEvents(%+v): page of %d events with next %q", q, len(p.Events), p.Next)
		}
		for i := range p.Events {
			k := eventKey(&p.Events[i])
			if seen[k] {
				t.Fatalf("QueryEvents(%+v): %s twice", q, k)
			}
			seen[k] = true
		}
		evs = append(evs, p.Events...)
		if p.Next == "" {
			return evs
		}
		q.Cursor = p.Next
	}
	t.Fatalf("QueryEvents(%+v): pages never end", q)
	return nil
}

// eventKeys returns the keys of the events q selects.
func eventKeys(t testing.TB, s store.EventStore, q store.EventQuery) []string {
	t.Helper()
	var ks []string
	for _, e := range allEvents(t, s, q) {
		ks = append(ks, eventKey(&e))
	}
	return ks
}

// sameEvent reports how got differs from want: every column equal (times
// as instants, no source IPs as nil or empty), the raw event byte for byte.
func sameEvent(got, want *store.Event) string {
	var diffs []string
	if string(got.Raw) != string(want.Raw) {
		diffs = append(diffs, fmt.Sprintf("raw changed:\n got %s\nwant %s", got.Raw, want.Raw))
	}
	if !got.Time.Equal(want.Time) {
		diffs = append(diffs, fmt.Sprintf("time %v, want %v", got.Time, want.Time))
	}
	if len(got.SourceIPs) != 0 || len(want.SourceIPs) != 0 {
		if !slices.Equal(got.SourceIPs, want.SourceIPs) {
			diffs = append(diffs, fmt.Sprintf("source IPs %q, want %q", got.SourceIPs, want.SourceIPs))
		}
	}
	g, w := *got, *want
	g.Raw, w.Raw, g.Time, w.Time, g.SourceIPs, w.SourceIPs = nil, nil, time.Time{}, time.Time{}, nil, nil
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		diffs = append(diffs, fmt.Sprintf("columns %+v, want %+v", g, w))
	}
	return strings.Join(diffs, "; ")
}

func testEventRoundTrip(t *testing.T, s eventStore) {
	ctx := context.Background()
	full := rawEvent{cluster: "c1", auditID: "rt1", stage: "ResponseComplete", at: base.Add(123456789 * time.Nanosecond),
		user: "alice", ns: "prod", verb: "create", res: "pods", name: "web-1", ips: []string{"10.0.0.1", "2001:db8::1"}, code: 201}.event(t)
	full.Capture = "admission"
	// Raw events are kept byte for byte: whitespace, key order, escapes,
	// number forms, what the redaction left.
	odd, ok := store.NewEvent([]byte("{ \"kind\" : \"Event\",\n  \"auditID\": \"rt2\", \"stage\":\"RequestReceived\",\"requestObject\": {\"data\": {\"password\": \"<redacted>\"}},\n \"z\": 1.50, \"a\": \"\\u00e9\\u2028\", \"user\":{\"username\":\"b\\u00f6b\"},\t\"stageTimestamp\":\"2026-03-01T14:00:00+01:00\" }"), "c2", "tail")
	if !ok {
		t.Fatal("NewEvent(odd)")
	}
	bare, ok := store.NewEvent([]byte(`{}`), "c3", "webhook") // no keys at all
	if !ok {
		t.Fatal("NewEvent({})")
	}
	bare.Time = base.Add(time.Second) // the keeper's events always have one
	// The columns are kept as given, even where they disagree with the
	// event (the caller read them).
	given := store.Event{Time: base.Add(2 * time.Second), Cluster: "c4", Capture: "webhook", AuditID: "rt4", Stage: "ResponseStarted",
		User: "carol", Verb: "watch", Namespace: "ns", Resource: "configmaps", Name: "cm", SourceIPs: []string{"192.0.2.1"}, Code: 500,
		Raw: json.RawMessage(`{"verb":"get"}`)}
	// Text no database column can hold as is (PostgreSQL's text takes
	// neither NUL nor invalid UTF-8) still keeps the event, and finds it.
	awkward := store.Event{Time: base.Add(3 * time.Second), Cluster: "c5", Capture: "webhook", AuditID: "rt5\x00", Stage: "ResponseComplete",
		User: "eve\x00", Verb: "get", Namespace: "n\xff", Resource: "pods", Name: "x\x00\xfey", SourceIPs: []string{"10.0.0.5\x00"},
		Raw: json.RawMessage(`{"user":{"username":"eve\u0000"}}`)}
	want := []store.Event{full, odd, bare, given}
	addEvents(t, s, full, odd, bare, given, awkward)

	got := allEvents(t, s, store.EventQuery{})
	if len(got) != 5 {
		t.Fatalf("stored %d events, want 5", len(got))
	}
	byKey := map[string]*store.Event{}
	for i := range got {
		byKey[got[i].Cluster+"/"+got[i].AuditID] = &got[i]
	}
	for i := range want {
		w := &want[i]
		g := byKey[w.Cluster+"/"+w.AuditID]
		if g == nil {
			t.Errorf("%s/%s not returned", w.Cluster, w.AuditID)
			continue
		}
		if d := sameEvent(g, w); d != "" {
			t.Errorf("%s/%s: %s", w.Cluster, w.AuditID, d)
		}
	}
	var aw *store.Event
	for i := range got {
		if got[i].Cluster == "c5" {
			aw = &got[i]
		}
	}
	if aw == nil || string(aw.Raw) != string(awkward.Raw) || aw.Stage != awkward.Stage || !aw.Time.Equal(awkward.Time) {
		t.Errorf("event with NUL and invalid UTF-8 in its columns: got %+v, want its raw event %s", aw, awkward.Raw)
	}
	for _, q := range []store.EventQuery{{User: awkward.User}, {Namespace: awkward.Namespace}, {Name: awkward.Name}, {SourceIP: awkward.SourceIPs[0]}} {
		p, err := s.QueryEvents(ctx, q)
		if err != nil || len(p.Events) != 1 || p.Events[0].Cluster != "c5" {
			t.Errorf("QueryEvents(%#v) = %d events, %v; want the event of c5", q, len(p.Events), err)
		}
	}
	// Newest first: the order of the events' times, not of the batch.
	var order []string
	for _, e := range got {
		order = append(order, e.Cluster)
	}
	if !slices.Equal(order, []string{"c2", "c5", "c4", "c3", "c1"}) {
		t.Errorf("clusters in order %q, want c2 (14:00+01:00 is 13:00Z, the newest), c5, c4, c3, c1", order)
	}
	if err := s.AddEvents(ctx, nil); err != nil {
		t.Errorf("AddEvents(nil): %v", err)
	}
	if n := eventStats(t, s).Count; n != 5 {
		t.Errorf("Count = %d, want 5", n)
	}
}

func testEventIdempotent(t *testing.T, s eventStore) {
	at := base
	a := ev(t, "a1", at)
	b := ev(t, "a2", at.Add(time.Second))
	addEvents(t, s, a, b)
	before := eventStats(t, s)
	changed := ev(t, "a1", at.Add(time.Hour)) // same key, other content
	changed.User = "mallory"
	changed.Raw = json.RawMessage(`{"changed":true}`)
	tests := []struct {
		name  string
		batch []store.Event
	}{
		{"same batch again", []store.Event{a, b}},
		{"reversed", []store.Event{b, a}},
		{"duplicates inside one batch", []store.Event{a, a, b, b, a}},
		{"changed event, same key", []store.Event{changed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addEvents(t, s, tc.batch...)
			if got := eventStats(t, s); !sameStats(got, before) {
				t.Errorf("EventStats = %+v, want %+v", got, before)
			}
			got := allEvents(t, s, store.EventQuery{})
			if len(got) != 2 {
				t.Fatalf("%d events, want 2", len(got))
			}
			if d := sameEvent(&got[1], &a); d != "" {
				t.Errorf("a1: %s", d)
			}
		})
	}
	// The key is cluster, audit ID and stage: each differing part makes a
	// new event; a batch mixing new and known events adds the new ones.
	otherStage := ev(t, "a1", at)
	otherStage.Stage = "ResponseStarted"
	otherCluster := ev(t, "a1", at)
	otherCluster.Cluster = "c2"
	fresh := ev(t, "a3", at.Add(2*time.Second))
	addEvents(t, s, a, otherStage, b, otherCluster, fresh, fresh)
	want := before
	want.Count += 3
	want.Bytes += otherStage.Size() + otherCluster.Size() + fresh.Size()
	if got := eventStats(t, s); !sameStats(got, want) {
		t.Errorf("EventStats after a mixed batch = %+v, want %+v", got, want)
	}
	if got, want := eventKeys(t, s, store.EventQuery{}), []string{"a3", "a2", "a1", "a1/ResponseStarted", "c2/a1"}; !sameSet(got, want) {
		t.Errorf("events %v, want %v in some order", got, want)
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// eventFixtures is the data set of the filter table; e7 ties with e6 and
// is stored after it.
func eventFixtures(t testing.TB) [][]store.Event {
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	e := func(id, cluster string, min int, user, ns, verb, res, name string, code int, ips ...string) store.Event {
		return rawEvent{cluster: cluster, auditID: id, stage: "ResponseComplete", at: at(min), user: user, ns: ns, verb: verb,
			res: res, name: name, ips: ips, code: code}.event(t)
	}
	noIPs := e("e4", "c3", 4, "admin", "", "delete", "namespaces", "dev", 200)
	emptyIPs := e("e6", "c2", 6, "alice", "dev", "create", "pods", "web-1", 201)
	emptyIPs.SourceIPs = []string{}
	return [][]store.Event{
		{
			e("e1", "c1", 1, "alice", "prod", "get", "secrets", "db-password", 200, "10.0.0.1"),
			e("e2", "c2", 2, "bob", "dev", "get", "secrets", "api-key", 200, "10.0.0.11", "192.168.1.5"),
			e("e3", "c1", 3, "alice", "prod", "create", "pods", "web-1", 201, "10.0.0.1", "172.16.0.2"),
			noIPs,
			e("e5", "c1", 5, "system:anonymous", "", "get", "", "", 403, "192.168.1.5"),
			emptyIPs,
		},
		{e("e7", "c2", 6, "carol", "prod", "patch", "deployments", "web", 200, "10.0.0.7")},
	}
}

func testEventFilters(t *testing.T, s eventStore) {
	for _, batch := range eventFixtures(t) {
		addEvents(t, s, batch...)
	}
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	everything := []string{"c2/e7", "c2/e6", "e5", "c3/e4", "e3", "c2/e2", "e1"}
	tests := []struct {
		name string
		q    store.EventQuery
		want []string
	}{
		{"all, newest first, ties last stored first", store.EventQuery{}, everything},
		{"since inclusive", store.EventQuery{Since: at(5)}, []string{"c2/e7", "c2/e6", "e5"}},
		{"until exclusive", store.EventQuery{Until: at(3)}, []string{"c2/e2", "e1"}},
		{"time range", store.EventQuery{Since: at(2), Until: at(4)}, []string{"e3", "c2/e2"}},
		{"empty range", store.EventQuery{Since: at(10)}, nil},
		{"one cluster", store.EventQuery{Clusters: []string{"c2"}}, []string{"c2/e7", "c2/e6", "c2/e2"}},
		{"two clusters", store.EventQuery{Clusters: []string{"c2", "c3"}}, []string{"c2/e7", "c2/e6", "c3/e4", "c2/e2"}},
		{"unknown cluster", store.EventQuery{Clusters: []string{"c9"}}, nil},
		{"user", store.EventQuery{User: "alice"}, []string{"c2/e6", "e3", "e1"}},
		{"user is exact", store.EventQuery{User: "alic"}, nil},
		{"namespace", store.EventQuery{Namespace: "prod"}, []string{"c2/e7", "e3", "e1"}},
		{"verb", store.EventQuery{Verb: "create"}, []string{"c2/e6", "e3"}},
		{"resource", store.EventQuery{Resource: "secrets"}, []string{"c2/e2", "e1"}},
		{"name", store.EventQuery{Name: "web-1"}, []string{"c2/e6", "e3"}},
		{"name is exact", store.EventQuery{Name: "web"}, []string{"c2/e7"}},
		{"source IP", store.EventQuery{SourceIP: "10.0.0.1"}, []string{"e3", "e1"}},
		{"source IP second of two", store.EventQuery{SourceIP: "172.16.0.2"}, []string{"e3"}},
		{"source IP in several events", store.EventQuery{SourceIP: "192.168.1.5"}, []string{"e5", "c2/e2"}},
		{"source IP is not a prefix", store.EventQuery{SourceIP: "10.0.0"}, nil},
		{"source IP is not a substring", store.EventQuery{SourceIP: "0.0.0.1"}, nil},
		{"source IP and cluster and time", store.EventQuery{SourceIP: "10.0.0.1", Clusters: []string{"c1"}, Since: at(2)}, []string{"e3"}},
		{"source IP and user", store.EventQuery{SourceIP: "192.168.1.5", User: "bob"}, []string{"c2/e2"}},
		{"user and namespace and verb", store.EventQuery{User: "alice", Namespace: "prod", Verb: "get"}, []string{"e1"}},
		{"every filter", store.EventQuery{Since: at(1), Until: at(2), Clusters: []string{"c1", "c2"}, User: "alice", Namespace: "prod",
			Verb: "get", Resource: "secrets", Name: "db-password", SourceIP: "10.0.0.1"}, []string{"e1"}},
		{"every filter, one wrong", store.EventQuery{Since: at(1), Until: at(2), Clusters: []string{"c1", "c2"}, User: "alice", Namespace: "prod",
			Verb: "get", Resource: "secrets", Name: "db-password", SourceIP: "10.0.0.2"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{0, 1, 2} {
				q := tc.q
				q.Limit = limit
				if got := eventKeys(t, s, q); !slices.Equal(got, tc.want) {
					t.Errorf("QueryEvents(%+v) = %v, want %v", q, got, tc.want)
				}
			}
		})
	}
}

func testEventPagination(t *testing.T, s eventStore) {
	ctx := context.Background()
	// 40 events over 8 distinct times, stored in batches of 7: ties come
	// last stored first.
	var evs []store.Event
	var want []string
	for i := range 40 {
		evs = append(evs, ev(t, fmt.Sprintf("p%02d", i), base.Add(time.Duration(i/5)*time.Second)))
	}
	for i := 39; i >= 0; i-- {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	for i := 0; i < len(evs); i += 7 {
		addEvents(t, s, evs[i:min(i+7, len(evs))]...)
	}
	for _, limit := range []int{1, 3, 5, 7, 39, 40, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			if got := eventKeys(t, s, store.EventQuery{Limit: limit}); !slices.Equal(got, want) {
				t.Errorf("pages = %v, want %v", got, want)
			}
		})
	}
	t.Run("stable while events arrive", func(t *testing.T) {
		p1, err := s.QueryEvents(ctx, store.EventQuery{Limit: 12})
		if err != nil {
			t.Fatal(err)
		}
		// A newer event, and one that ties with the last event of page 1
		// but is stored after it, arrive between two pages.
		addEvents(t, s, ev(t, "p99", base.Add(time.Hour)), ev(t, "p28a", base.Add(5*time.Second)))
		p2, err := s.QueryEvents(ctx, store.EventQuery{Limit: 12, Cursor: p1.Next})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p2.Events {
			got = append(got, e.AuditID)
		}
		if !slices.Equal(got, want[12:24]) {
			t.Errorf("second page = %v, want %v", got, want[12:24])
		}
	})
	t.Run("default and maximum limit", func(t *testing.T) {
		var more []store.Event
		for i := range store.MaxLimit + 10 {
			more = append(more, ev(t, fmt.Sprintf("m%04d", i), base.Add(-time.Hour)))
		}
		addEvents(t, s, more...)
		for _, tc := range []struct{ limit, want int }{{0, store.DefaultLimit}, {-1, store.DefaultLimit}, {store.MaxLimit * 5, store.MaxLimit}} {
			p, err := s.QueryEvents(ctx, store.EventQuery{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != tc.want || p.Next == "" {
				t.Errorf("Limit %d: %d events (next %q), want %d and a next page", tc.limit, len(p.Events), p.Next, tc.want)
			}
		}
		if n := len(allEvents(t, s, store.EventQuery{Limit: store.MaxLimit})); n != 40+2+store.MaxLimit+10 {
			t.Errorf("%d events in all pages, want %d", n, 40+2+store.MaxLimit+10)
		}
	})
}

func testEventBadCursor(t *testing.T, s eventStore) {
	ctx := context.Background()
	addEvents(t, s, ev(t, "a1", base), ev(t, "a2", base.Add(time.Second)), ev(t, "a3", base.Add(2*time.Second)))
	add(t, s, simple("x1", base), simple("x2", base.Add(time.Second)))
	p, err := s.QueryEvents(ctx, store.EventQuery{Limit: 1})
	if err != nil || p.Next == "" {
		t.Fatalf("QueryEvents(Limit 1) = next %q, %v; want a next page", p.Next, err)
	}
	eventCursor := p.Next
	ap, err := s.Query(ctx, store.Query{Limit: 1})
	if err != nil || ap.Next == "" {
		t.Fatalf("Query(Limit 1) = next %q, %v; want a next page", ap.Next, err)
	}
	for _, tc := range []struct{ name, cursor string }{
		{"not base64", "!!!"},
		{"an alerts' cursor", ap.Next},
		{"an alerts' oldest-first cursor", store.Cursor{Time: 5, ID: "7", Oldest: true}.Encode()},
		{"an alerts' cursor with a numeric ID", store.Cursor{Time: 5, ID: "7"}.Encode()},
		{"mark only", b64("e")},
		{"no slash", b64("e5")},
		{"no time", b64("e/7")},
		{"no seq", b64("e5/")},
		{"seq not a number", b64("e5/x")},
		{"time not a number", b64("ex/7")},
		{"plus sign", b64("e+5/7")},
		{"spaces", b64("e 5/7")},
		{"seq too large", b64("e5/99999999999999999999")},
		{"trailing garbage", eventCursor + "AA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.QueryEvents(ctx, store.EventQuery{Cursor: tc.cursor}); !errors.Is(err, store.ErrBadCursor) {
				t.Errorf("QueryEvents(cursor %q) = %v, want ErrBadCursor", tc.cursor, err)
			}
		})
	}
	// Nor is an events' cursor taken for an alerts' one.
	if _, err := s.Query(ctx, store.Query{Cursor: eventCursor}); !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("Query(an events' cursor) = %v, want ErrBadCursor", err)
	}
	if got := eventKeys(t, s, store.EventQuery{Cursor: eventCursor}); !slices.Equal(got, []string{"a2", "a1"}) {
		t.Errorf("after the first page: %v, want [a2 a1]", got)
	}
}

func testEventStats(t *testing.T, s eventStore) {
	if got := eventStats(t, s); got != (store.Stats{}) {
		t.Errorf("empty store: EventStats = %+v, want zero", got)
	}
	var want store.Stats
	for _, batch := range eventFixtures(t) {
		addEvents(t, s, batch...)
		for i := range batch {
			want.Count++
			want.Bytes += batch[i].Size()
		}
	}
	want.Oldest = base.Add(time.Minute)
	if got := eventStats(t, s); !sameStats(got, want) {
		t.Errorf("EventStats = %+v, want %+v", got, want)
	}
	older := ev(t, "old", base.Add(-time.Hour))
	addEvents(t, s, older)
	want.Count++
	want.Bytes += older.Size()
	want.Oldest = older.Time
	if got := eventStats(t, s); !sameStats(got, want) {
		t.Errorf("EventStats after an older event = %+v, want %+v", got, want)
	}
}

func testEventRetainAge(t *testing.T, s eventStore) {
	ctx := context.Background()
	now := base.Add(100 * 24 * time.Hour)
	day := 24 * time.Hour
	var old []store.Event
	for i := range 1200 { // more than two RetainBatch
		e := ev(t, fmt.Sprintf("old%04d", i), now.Add(-40*day).Add(time.Duration(i)*time.Second))
		e.SourceIPs = []string{"10.6.6.6"}
		old = append(old, e)
	}
	kept := []store.Event{
		ev(t, "edge", now.Add(-30*day)), // exactly MaxAge old: kept
		ev(t, "mid", now.Add(-20*day)),
		ev(t, "new", now.Add(-time.Minute)),
	}
	// Old and new mixed in each batch.
	addEvents(t, s, append(slices.Clone(old[:600]), kept[1])...)
	addEvents(t, s, append([]store.Event{kept[0], kept[2]}, old[600:]...)...)
	n, err := s.RetainEvents(ctx, store.Retention{MaxAge: 30 * day, Now: now})
	if err != nil {
		t.Fatalf("RetainEvents: %v", err)
	}
	if n != 1200 {
		t.Errorf("RetainEvents deleted %d, want 1200", n)
	}
	if got := eventKeys(t, s, store.EventQuery{Limit: store.MaxLimit}); !slices.Equal(got, []string{"new", "mid", "edge"}) {
		t.Errorf("kept %v, want [new mid edge]", got)
	}
	if got := eventKeys(t, s, store.EventQuery{SourceIP: "10.6.6.6"}); got != nil {
		t.Errorf("deleted events still found by source IP: %d of them", len(got))
	}
	want := store.Stats{Count: 3, Bytes: kept[0].Size() + kept[1].Size() + kept[2].Size(), Oldest: kept[0].Time}
	if st := eventStats(t, s); !sameStats(st, want) {
		t.Errorf("EventStats after RetainEvents = %+v, want %+v", st, want)
	}
	if n, err := s.RetainEvents(ctx, store.Retention{MaxAge: 30 * day, Now: now}); n != 0 || err != nil {
		t.Errorf("second RetainEvents = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.RetainEvents(ctx, store.Retention{}); n != 0 || err != nil {
		t.Errorf("RetainEvents without bounds = %d, %v; want 0, nil", n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.RetainEvents(cancelled, store.Retention{MaxAge: time.Nanosecond}); err == nil {
		t.Error("RetainEvents with a cancelled context: no error")
	}
	if st := eventStats(t, s); st.Count != 3 {
		t.Errorf("RetainEvents with a cancelled context deleted events: %+v", st)
	}
}

func testEventRetainBytes(t *testing.T, s eventStore) {
	ctx := context.Background()
	var evs []store.Event
	for i := range 1500 {
		evs = append(evs, ev(t, fmt.Sprintf("s%04d", i), base.Add(time.Duration(i/2)*time.Second)))
	}
	// Stored out of time order, in several batches. Events i and i+1 tie
	// for even i; the bound falls between two times.
	const keepN = 320
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	addEvents(t, s, rev[:700]...)
	addEvents(t, s, rev[700:]...)
	var keep int64
	for i := len(evs) - keepN; i < len(evs); i++ {
		keep += evs[i].Size()
	}
	n, err := s.RetainEvents(ctx, store.Retention{MaxBytes: keep, MaxAge: 1000 * 24 * time.Hour, Now: base})
	if err != nil {
		t.Fatalf("RetainEvents: %v", err)
	}
	if n != len(evs)-keepN {
		t.Errorf("RetainEvents deleted %d, want %d", n, len(evs)-keepN)
	}
	want := store.Stats{Count: keepN, Bytes: keep, Oldest: evs[len(evs)-keepN].Time}
	if st := eventStats(t, s); !sameStats(st, want) {
		t.Errorf("EventStats after RetainEvents = %+v, want %+v", st, want)
	}
	got := eventKeys(t, s, store.EventQuery{Limit: store.MaxLimit})
	if len(got) != keepN || !sameSet(got, slices.Collect(func(yield func(string) bool) {
		for i := len(evs) - keepN; i < len(evs); i++ {
			if !yield(evs[i].AuditID) {
				return
			}
		}
	})) {
		t.Errorf("kept %d events, want the newest %d", len(got), keepN)
	}
	// A bound above the size deletes nothing; one more event brings it
	// back, and the oldest goes, not the newest.
	if n, err := s.RetainEvents(ctx, store.Retention{MaxBytes: keep}); n != 0 || err != nil {
		t.Errorf("RetainEvents at the bound = %d, %v; want 0, nil", n, err)
	}
	newest := ev(t, "newest", base.Add(time.Hour))
	addEvents(t, s, newest)
	if n, err := s.RetainEvents(ctx, store.Retention{MaxBytes: keep}); n < 1 || err != nil {
		t.Errorf("RetainEvents after one more = %d, %v; want ≥ 1, nil", n, err)
	}
	if st := eventStats(t, s); st.Bytes > keep {
		t.Errorf("Bytes %d above MaxBytes %d", st.Bytes, keep)
	}
	if p, err := s.QueryEvents(ctx, store.EventQuery{Limit: 1}); err != nil || len(p.Events) != 1 || p.Events[0].AuditID != "newest" {
		t.Errorf("the newest event did not stay: %+v, %v", p.Events, err)
	}
	// Age and size at once: the old go by age, then the oldest of the rest
	// by size.
	addEvents(t, s, ev(t, "ancient", base.Add(-48*time.Hour)))
	before := eventStats(t, s).Count
	n, err = s.RetainEvents(ctx, store.Retention{MaxAge: 24 * time.Hour, MaxBytes: newest.Size(), Now: base.Add(time.Hour)})
	if err != nil || int64(n) != before-1 {
		t.Errorf("RetainEvents by age and size = %d, %v; want %d, nil", n, err, before-1)
	}
	if got := eventKeys(t, s, store.EventQuery{}); !slices.Equal(got, []string{"newest"}) {
		t.Errorf("kept %v, want [newest]", got)
	}
	// A bound below the newest event deletes everything.
	if _, err := s.RetainEvents(ctx, store.Retention{MaxBytes: 1}); err != nil {
		t.Fatal(err)
	}
	if st := eventStats(t, s); st != (store.Stats{}) {
		t.Errorf("EventStats after MaxBytes 1 = %+v, want zero", st)
	}
}

func testEventRetainSourceIPs(t *testing.T, s eventStore) {
	withIP := func(id string, at time.Time, ip string) store.Event {
		e := ev(t, id, at)
		e.SourceIPs = []string{ip, "10.9.9.9"}
		return e
	}
	addEvents(t, s, withIP("a1", base, "10.0.0.1"), withIP("a2", base.Add(time.Second), "10.0.0.1"))
	if n, err := s.RetainEvents(context.Background(), store.Retention{MaxBytes: 1}); n != 2 || err != nil {
		t.Fatalf("RetainEvents = %d, %v; want 2, nil", n, err)
	}
	// New events at the same times, which may reuse internal keys.
	addEvents(t, s, withIP("b1", base, "10.0.0.2"), withIP("b2", base.Add(time.Second), "10.0.0.2"))
	for _, tc := range []struct {
		ip   string
		want []string
	}{{"10.0.0.1", nil}, {"10.0.0.2", []string{"b2", "b1"}}, {"10.9.9.9", []string{"b2", "b1"}}} {
		if got := eventKeys(t, s, store.EventQuery{SourceIP: tc.ip}); !slices.Equal(got, tc.want) {
			t.Errorf("QueryEvents(SourceIP: %s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// testEventsApartFromAlerts: alerts and events count, and are retained,
// each on their own.
func testEventsApartFromAlerts(t *testing.T, s eventStore) {
	ctx := context.Background()
	add(t, s, simple("a1", base), simple("a2", base.Add(time.Second)))
	alerts := stats(t, s)
	e1, e2, e3 := ev(t, "e1", base), ev(t, "e2", base.Add(time.Second)), ev(t, "e3", base.Add(2*time.Second))
	addEvents(t, s, e1, e2, e3)
	events := store.Stats{Count: 3, Bytes: e1.Size() + e2.Size() + e3.Size(), Oldest: base}
	check := func(when string) {
		t.Helper()
		if got := stats(t, s); !sameStats(got, alerts) {
			t.Errorf("%s: Stats = %+v, want %+v", when, got, alerts)
		}
		if got := eventStats(t, s); !sameStats(got, events) {
			t.Errorf("%s: EventStats = %+v, want %+v", when, got, events)
		}
	}
	check("after adding both")
	if n, err := s.Retain(ctx, store.Retention{MaxBytes: 1}); n != 2 || err != nil {
		t.Fatalf("Retain = %d, %v; want 2, nil", n, err)
	}
	alerts = store.Stats{}
	check("after Retain")
	add(t, s, simple("a3", base))
	alerts = stats(t, s)
	if n, err := s.RetainEvents(ctx, store.Retention{MaxAge: time.Hour, Now: base.Add(time.Hour + time.Second)}); n != 1 || err != nil {
		t.Fatalf("RetainEvents = %d, %v; want 1, nil", n, err)
	}
	events = store.Stats{Count: 2, Bytes: e2.Size() + e3.Size(), Oldest: e2.Time}
	check("after RetainEvents")
	if alerts.Count != 1 {
		t.Errorf("alerts: %+v, want 1", alerts)
	}
}

func testEventConcurrentAdd(t *testing.T, s eventStore) {
	ctx := context.Background()
	const writers, batches, size = 8, 10, 50
	// Writers overlap: writer w writes events w*250 .. w*250+499, so every
	// event but the first and last 250 is written twice, concurrently; odd
	// writers send each batch in reverse order.
	mk := func(n int) store.Event {
		e := ev(t, fmt.Sprintf("c%05d", n), base.Add(time.Duration(n)*time.Millisecond))
		e.SourceIPs = []string{fmt.Sprintf("10.0.%d.%d", n/250, n%250)}
		return e
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var batch []store.Event
				for i := range size {
					batch = append(batch, mk(w*250+b*size+i))
				}
				if w%2 == 1 {
					slices.Reverse(batch)
				}
				if err := s.AddEvents(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() { // a reader at the same time
		for range 20 {
			if _, err := s.QueryEvents(ctx, store.EventQuery{Limit: 50, User: "alice"}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() { // and retention, with nothing old enough to delete
		for range 20 {
			if n, err := s.RetainEvents(ctx, store.Retention{MaxAge: time.Hour, Now: base.Add(time.Hour)}); err != nil || n != 0 {
				errs <- fmt.Errorf("RetainEvents = %d, %w", n, err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent AddEvents: %v", err)
	}
	n := (writers + 1) * 250
	var want store.Stats
	for i := range n {
		e := mk(i)
		want.Count++
		want.Bytes += e.Size()
	}
	want.Oldest = base
	if st := eventStats(t, s); !sameStats(st, want) {
		t.Errorf("EventStats = %+v, want %+v", st, want)
	}
	got := allEvents(t, s, store.EventQuery{Limit: store.MaxLimit})
	if len(got) != n {
		t.Errorf("QueryEvents found %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("c%05d", n-1-i); e.AuditID != want {
			t.Fatalf("event %d is %s, want %s", i, e.AuditID, want)
		}
	}
	if got := eventKeys(t, s, store.EventQuery{SourceIP: "10.0.3.7"}); !slices.Equal(got, []string{"c00757"}) {
		t.Errorf("by source IP: %v, want [c00757]", got)
	}
}

// BenchEvent returns the i-th raw event of a benchmark, as the keeper
// makes it: a fixed function of i and t, about 1.5 KB, from the same world
// as BenchAlert (clusters, users with their source IPs, namespaces).
func BenchEvent(i int, t time.Time) store.Event {
	h := mix(uint64(i))
	ui := int(h >> 16 % BenchUsers)
	u := BenchUser(ui)
	n := BenchNamespace(int(h >> 24 % BenchNamespaces))
	if h>>32%10 == 0 {
		n = ""
	}
	verb := [...]string{"get", "list", "create", "patch", "delete", "watch"}[h>>40%6]
	res := [...]string{"secrets", "pods", "configmaps", "deployments", "leases"}[h>>52%5]
	ips := fmt.Sprintf(`"10.%d.%d.%d"`, ui/100, ui%100, 10+ui%7)
	if h>>44%20 == 0 {
		ips += `,"192.168.0.1"`
	}
	ts := t.UTC().Format("2006-01-02T15:04:05.000000Z")
	raw := fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"%08x-1d2f-4a5b-9c8d-%012x","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/%s/%s/object-%d?timeout=30s","verb":%q,"user":{"username":%q,"uid":"8d1c5e8a-2f7e-4c1b-a3f0-9b7f6e5d4c3b","groups":["system:authenticated","developers"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=5b1e4c3a-9f2d-4e8b-a7c6-0d1e2f3a4b5c"]}},"sourceIPs":[%s],"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234","objectRef":{"resource":%q,"namespace":%q,"name":"object-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestObject":{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"},"responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"object-%d","namespace":%q,"uid":"0f6c1e7a-5b9d-4e3f-8a2c-1d0e9f8b7a6c","resourceVersion":"%d","creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app.kubernetes.io/name":"web","app.kubernetes.io/part-of":"shop"}},"data":{"password":"<redacted>","username":"<redacted>"},"type":"Opaque"},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"edit/%s\" of ClusterRole \"edit\" to Group \"developers\"","pod-security.kubernetes.io/enforce-policy":"restricted:latest"}}`,
		i, h&0xffffffffffff, n, res, i, verb, u, ips, res, n, i, i, n, 100000+i, ts, ts, n)
	e, ok := store.NewEvent([]byte(raw), BenchCluster(int(h>>48%BenchClusters)), "webhook")
	if !ok {
		panic("BenchEvent: not a JSON object")
	}
	return e
}

// b64 encodes s as cursors are.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
