package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
)

// summaryString renders s canonically, one line per bucket and ranking, so
// that a failure shows the difference.
func summaryString(s store.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "total %d\n", s.Total)
	for _, bk := range s.Buckets {
		fmt.Fprintf(&b, "%s %d", bk.Start.UTC().Format(time.RFC3339), bk.Count)
		for _, p := range slices.Sorted(maps.Keys(bk.ByPriority)) {
			fmt.Fprintf(&b, " %s=%d", p, bk.ByPriority[p])
		}
		b.WriteString("\n")
	}
	for _, d := range slices.Sorted(maps.Keys(s.Top)) {
		fmt.Fprintf(&b, "%s:", d)
		for _, c := range s.Top[d] {
			fmt.Fprintf(&b, " %q=%d", c.Value, c.Count)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkSummary compares got with want and checks what the canonical form
// does not show: buckets are UTC, Top has every dimension and no nil
// slices, so that its JSON has [] rather than null.
func checkSummary(t *testing.T, got, want store.Summary) {
	t.Helper()
	if g, w := summaryString(got), summaryString(want); g != w {
		t.Errorf("summary:\n%s\nwant:\n%s", g, w)
	}
	if got.Buckets == nil {
		t.Errorf("Buckets is nil, want empty")
	}
	for _, bk := range got.Buckets {
		if bk.Start.Location() != time.UTC {
			t.Errorf("bucket %v is not in UTC", bk.Start)
		}
	}
	for _, d := range store.TopDimensions {
		if c, ok := got.Top[d]; !ok || c == nil {
			t.Errorf("Top[%q] = %v (present %v), want a non-nil slice", d, c, ok)
		}
	}
	if len(got.Top) != len(store.TopDimensions) {
		t.Errorf("Top has %d dimensions, want %d", len(got.Top), len(store.TopDimensions))
	}
}

// count is a store.Count in a shorter literal.
type count struct {
	v string
	n int64
}

// tops converts rankings of counts.
func tops(m map[string][]count) map[string][]store.Count {
	r := map[string][]store.Count{}
	for d, cs := range m {
		for _, c := range cs {
			r[d] = append(r[d], store.Count{Value: c.v, Count: c.n})
		}
	}
	return r
}

// summary builds an expected Summary.
func summary(total int64, buckets []store.Bucket, top map[string][]store.Count) store.Summary {
	s := store.Summary{Total: total, Buckets: buckets, Top: map[string][]store.Count{}}
	if s.Buckets == nil {
		s.Buckets = []store.Bucket{}
	}
	for _, d := range store.TopDimensions {
		s.Top[d] = top[d]
		if s.Top[d] == nil {
			s.Top[d] = []store.Count{}
		}
	}
	return s
}

func testSummarize(t *testing.T, s store.Store) {
	ctx := context.Background()
	add(t, s, fixtures()...)
	if err := s.SetStatus(ctx, "f2", store.Triage{Status: store.StatusAcknowledged}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(ctx, "f4", store.Triage{Status: store.StatusResolved}); err != nil {
		t.Fatal(err)
	}
	prio := func(p alert.Priority) *alert.Priority { return &p }
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	type bp = map[string]int64
	type top = map[string][]count
	bucket := func(start time.Time, n int64, by bp) store.Bucket {
		return store.Bucket{Start: start, Count: n, ByPriority: by}
	}
	allTop := tops(top{
		"rule":      {{"Exec", 2}, {"Read Secret", 2}, {"Anonymous Request", 1}, {"Create Privileged Pod", 1}, {"Delete Namespace", 1}},
		"user":      {{"alice", 3}, {"admin", 1}, {"bob", 1}, {"carol", 1}, {"system:anonymous", 1}},
		"namespace": {{"prod", 3}, {"dev", 2}}, // f4 and f5 have none
		"cluster":   {{"c1", 3}, {"c2", 3}, {"c3", 1}},
	})
	tests := []struct {
		name string
		q    store.Query
		o    store.SummaryOptions
		want store.Summary
	}{
		{"all in one hour", store.Query{}, store.SummaryOptions{Bucket: time.Hour}, summary(7, []store.Bucket{
			bucket(base, 7, bp{"Critical": 1, "Error": 1, "Warning": 2, "Notice": 2, "Informational": 1}),
		}, allTop)},
		{"two-minute buckets", store.Query{}, store.SummaryOptions{Bucket: 2 * time.Minute}, summary(7, []store.Bucket{
			bucket(at(0), 1, bp{"Warning": 1}),
			bucket(at(2), 2, bp{"Warning": 1, "Critical": 1}),
			bucket(at(4), 2, bp{"Error": 1, "Informational": 1}),
			bucket(at(6), 2, bp{"Notice": 2}),
		}, allTop)},
		// 11 minutes does not divide an hour: buckets start at multiples
		// of 11 minutes since the epoch, 11:53 and 12:04 here.
		{"buckets start at multiples since the epoch", store.Query{}, store.SummaryOptions{Bucket: 11 * time.Minute}, summary(7, []store.Bucket{
			bucket(at(-7), 3, bp{"Warning": 2, "Critical": 1}),
			bucket(at(4), 4, bp{"Error": 1, "Informational": 1, "Notice": 2}),
		}, allTop)},
		{"day buckets start at midnight UTC", store.Query{}, store.SummaryOptions{Bucket: 24 * time.Hour, Top: 1}, summary(7, []store.Bucket{
			bucket(base.Add(-12*time.Hour), 7, bp{"Critical": 1, "Error": 1, "Warning": 2, "Notice": 2, "Informational": 1}),
		}, tops(top{"rule": {{"Exec", 2}}, "user": {{"alice", 3}}, "namespace": {{"prod", 3}}, "cluster": {{"c1", 3}}}))},
		{"top 2, ties by value", store.Query{}, store.SummaryOptions{Bucket: time.Hour, Top: 2}, summary(7, []store.Bucket{
			bucket(base, 7, bp{"Critical": 1, "Error": 1, "Warning": 2, "Notice": 2, "Informational": 1}),
		}, tops(top{"rule": {{"Exec", 2}, {"Read Secret", 2}}, "user": {{"alice", 3}, {"admin", 1}}, "namespace": {{"prod", 3}, {"dev", 2}}, "cluster": {{"c1", 3}, {"c2", 3}}}))},
		{"time range", store.Query{Since: at(2), Until: at(4)}, store.SummaryOptions{Bucket: time.Minute}, summary(2, []store.Bucket{
			bucket(at(2), 1, bp{"Warning": 1}),
			bucket(at(3), 1, bp{"Critical": 1}),
		}, tops(top{"rule": {{"Create Privileged Pod", 1}, {"Read Secret", 1}}, "user": {{"alice", 1}, {"bob", 1}}, "namespace": {{"dev", 1}, {"prod", 1}}, "cluster": {{"c1", 1}, {"c2", 1}}}))},
		{"cluster", store.Query{Clusters: []string{"c2"}}, store.SummaryOptions{Bucket: time.Hour}, summary(3, []store.Bucket{
			bucket(base, 3, bp{"Warning": 1, "Notice": 2}),
		}, tops(top{"rule": {{"Exec", 2}, {"Read Secret", 1}}, "user": {{"alice", 1}, {"bob", 1}, {"carol", 1}}, "namespace": {{"dev", 2}, {"prod", 1}}, "cluster": {{"c2", 3}}}))},
		{"min priority", store.Query{MinPriority: prio(alert.PriorityError)}, store.SummaryOptions{Bucket: time.Hour}, summary(2, []store.Bucket{
			bucket(base, 2, bp{"Critical": 1, "Error": 1}),
		}, tops(top{"rule": {{"Create Privileged Pod", 1}, {"Delete Namespace", 1}}, "user": {{"admin", 1}, {"alice", 1}}, "namespace": {{"prod", 1}}, "cluster": {{"c1", 1}, {"c3", 1}}}))},
		{"text", store.Query{Text: "secret"}, store.SummaryOptions{Bucket: time.Hour}, summary(2, []store.Bucket{
			bucket(base, 2, bp{"Warning": 2}),
		}, tops(top{"rule": {{"Read Secret", 2}}, "user": {{"alice", 1}, {"bob", 1}}, "namespace": {{"dev", 1}, {"prod", 1}}, "cluster": {{"c1", 1}, {"c2", 1}}}))},
		{"status", store.Query{Statuses: []store.Status{store.StatusAcknowledged, store.StatusResolved}}, store.SummaryOptions{Bucket: time.Hour}, summary(2, []store.Bucket{
			bucket(base, 2, bp{"Warning": 1, "Error": 1}),
		}, tops(top{"rule": {{"Delete Namespace", 1}, {"Read Secret", 1}}, "user": {{"admin", 1}, {"bob", 1}}, "namespace": {{"dev", 1}}, "cluster": {{"c2", 1}, {"c3", 1}}}))},
		{"source IP, user, tags", store.Query{SourceIP: "10.0.0.1", User: "alice", Tags: []string{"pods"}}, store.SummaryOptions{Bucket: time.Hour}, summary(1, []store.Bucket{
			bucket(base, 1, bp{"Critical": 1}),
		}, tops(top{"rule": {{"Create Privileged Pod", 1}}, "user": {{"alice", 1}}, "namespace": {{"prod", 1}}, "cluster": {{"c1", 1}}}))},
		{"verb, resource, rule, namespace", store.Query{Verb: "create", Resource: "pods", Rules: []string{"Exec"}, Namespace: "dev"}, store.SummaryOptions{Bucket: time.Hour}, summary(1, []store.Bucket{
			bucket(base, 1, bp{"Notice": 1}),
		}, tops(top{"rule": {{"Exec", 1}}, "user": {{"alice", 1}}, "namespace": {{"dev", 1}}, "cluster": {{"c2", 1}}}))},
		{"no match", store.Query{Clusters: []string{"c9"}}, store.SummaryOptions{Bucket: time.Hour}, summary(0, nil, nil)},
		{"cursor, limit and order ignored", store.Query{Cursor: "!!!", Limit: 1, Oldest: true, Rules: []string{"Read Secret"}}, store.SummaryOptions{Bucket: time.Hour}, summary(2, []store.Bucket{
			bucket(base, 2, bp{"Warning": 2}),
		}, tops(top{"rule": {{"Read Secret", 2}}, "user": {{"alice", 1}, {"bob", 1}}, "namespace": {{"dev", 1}, {"prod", 1}}, "cluster": {{"c1", 1}, {"c2", 1}}}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Summarize(ctx, tc.q, tc.o)
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			checkSummary(t, got, tc.want)
		})
	}
	for _, o := range []store.SummaryOptions{{}, {Bucket: time.Second - 1}, {Bucket: -time.Hour}, {Bucket: time.Hour, Top: -1}} {
		if _, err := s.Summarize(ctx, store.Query{}, o); !errors.Is(err, store.ErrBadSummary) {
			t.Errorf("Summarize(%+v) = %v, want ErrBadSummary", o, err)
		}
	}
}

func testSummarizeBeforeEpoch(t *testing.T, s store.Store) {
	epoch := time.Unix(0, 0).UTC()
	add(t, s,
		simple("b1", epoch.Add(-90*time.Second)),
		simple("b2", epoch.Add(-time.Nanosecond)),
		simple("b3", epoch),
		simple("b4", epoch.Add(59*time.Second)),
	)
	got, err := s.Summarize(context.Background(), store.Query{}, store.SummaryOptions{Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	w := map[string]int64{"Warning": 1}
	checkSummary(t, got, summary(4, []store.Bucket{
		{Start: epoch.Add(-2 * time.Minute), Count: 1, ByPriority: w},
		{Start: epoch.Add(-time.Minute), Count: 1, ByPriority: w},
		{Start: epoch, Count: 2, ByPriority: map[string]int64{"Warning": 2}},
	}, tops(map[string][]count{
		"rule": {{"Rule A", 4}}, "user": {{"alice", 4}}, "namespace": {{"default", 4}}, "cluster": {{"c1", 4}},
	})))
}

// testSummarizeGenerated compares Summarize over thousands of varied alerts
// with counts made here, alert by alert.
func testSummarizeGenerated(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 3000
	as := make([]journal.Alert, n)
	for i := range as {
		as[i] = BenchAlert(i, base.Add(time.Duration(i)*47*time.Second))
	}
	for i := 0; i < n; i += 500 {
		add(t, s, as[i:i+500]...)
	}
	warn := alert.PriorityWarning
	tests := []struct {
		name  string
		q     store.Query
		o     store.SummaryOptions
		match func(r *store.Row) bool
	}{
		{"all", store.Query{}, store.SummaryOptions{Bucket: time.Hour}, func(*store.Row) bool { return true }},
		{"last day, 20 minutes, top 3", store.Query{Since: base.Add(15 * time.Hour)}, store.SummaryOptions{Bucket: 20 * time.Minute, Top: 3},
			func(r *store.Row) bool { return r.Time >= base.Add(15*time.Hour).UnixNano() }},
		{"cluster and priority", store.Query{Clusters: []string{BenchCluster(1)}, MinPriority: &warn}, store.SummaryOptions{Bucket: 3 * time.Hour, Top: 100},
			func(r *store.Row) bool { return r.Cluster == BenchCluster(1) && r.Priority <= int(warn) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Summarize(ctx, tc.q, tc.o)
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			checkSummary(t, got, reference(t, as, tc.match, tc.o))
		})
	}
}

// reference summarizes the alerts that match, one by one.
func reference(t *testing.T, as []journal.Alert, match func(r *store.Row) bool, o store.SummaryOptions) store.Summary {
	bw := int64(o.Bucket)
	topN := cmp.Or(o.Top, store.DefaultTop)
	var total int64
	buckets := map[int64]*store.Bucket{}
	counts := map[string]map[string]int64{}
	for i := range as {
		r, err := store.NewRow(&as[i])
		if err != nil {
			t.Fatal(err)
		}
		if !match(&r) {
			continue
		}
		total++
		start := r.Time / bw * bw // times are after the epoch
		b := buckets[start]
		if b == nil {
			b = &store.Bucket{Start: time.Unix(0, start).UTC(), ByPriority: map[string]int64{}}
			buckets[start] = b
		}
		b.Count++
		b.ByPriority[alert.Priority(r.Priority).String()]++
		for d, v := range map[string]string{"rule": r.Rule, "user": r.User, "namespace": r.Namespace, "cluster": r.Cluster} {
			if v == "" {
				continue
			}
			if counts[d] == nil {
				counts[d] = map[string]int64{}
			}
			counts[d][v]++
		}
	}
	var bs []store.Bucket
	for _, k := range slices.Sorted(maps.Keys(buckets)) {
		bs = append(bs, *buckets[k])
	}
	top := map[string][]store.Count{}
	for d, m := range counts {
		var cs []store.Count
		for v, n := range m {
			cs = append(cs, store.Count{Value: v, Count: n})
		}
		slices.SortFunc(cs, func(a, b store.Count) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
		})
		top[d] = cs[:min(len(cs), topN)]
	}
	return summary(total, bs, top)
}
