package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/store"
)

// rawAuditEvent is an audit event of user by at, stamped at (the keeper's
// retention, 24 h back from now, would delete events stamped long ago).
func rawAuditEvent(id, user, verb string, at time.Time) string {
	ts := at.UTC().Format("2006-01-02T15:04:05.000000Z")
	return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"` + id + `","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/namespaces/shop/configmaps/settings","verb":"` + verb + `","user":{"username":"` + user + `","groups":["system:masters"]},` +
		`"sourceIPs":["10.0.0.1","192.0.2.7"],"userAgent":"kubectl","objectRef":{"resource":"configmaps","namespace":"shop","name":"settings","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"` + ts + `","stageTimestamp":"` + ts + `"}`
}

// waitEvents polls the events API at url until it lists the event whose
// audit ID is last, and returns that page.
func waitEvents(t *testing.T, c *http.Client, url, last string) store.EventPage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var p store.EventPage
		if code := apiDo(t, c, "GET", url, "", &p); code != http.StatusOK {
			t.Fatalf("GET %s: %d", url, code)
		}
		for _, e := range p.Events {
			if e.AuditID == last {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d events, none of them %s, after 10s", url, len(p.Events), last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func auditIDs(p store.EventPage) []string {
	var ids []string
	for _, e := range p.Events {
		ids = append(ids, e.AuditID)
	}
	return ids
}

// TestServeKeepEvents: with store.keep_events, serve keeps every raw event
// it evaluates, and GET /api/v1/events finds them, as sent; a resent batch
// is kept once, whether the evaluator's dedup drops it or, with dedup off,
// the store's key does.
func TestServeKeepEvents(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dedupKeys int
	}{
		{"evaluator dedup", 1_000_000},
		{"store key alone", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Store.KeepEvents = true
			cfg.Ingest.DedupKeys = tc.dedupKeys
			s := start(t, cfg)
			c := apiClient(t, s)

			now := time.Now().UTC().Truncate(time.Microsecond)
			sent := map[string]string{}
			ev := func(id, user string, age time.Duration) string {
				sent[id] = rawAuditEvent(id, user, "update", now.Add(-age))
				return sent[id]
			}
			batch := eventList(ev("k1", "admin", 3*time.Second), ev("k2", "admin", 2*time.Second), ev("x1", "alice", 90*time.Second), ev("k3", "admin", time.Second))
			if code, body, _ := s.post(t, "/k8s-audit", batch); code != http.StatusOK {
				t.Fatalf("post: %d %s", code, body)
			}
			url := s.url + "/api/v1/events?user=admin"
			p := waitEvents(t, c, url, "k1")
			if got := auditIDs(p); !slices.Equal(got, []string{"k3", "k2", "k1"}) {
				t.Fatalf("events of admin: %v, want [k3 k2 k1]", got)
			}
			for i, e := range p.Events {
				at := now.Add(-time.Duration(i+1) * time.Second) // k3, k2, k1
				if e.Cluster != testCluster || e.Capture != "webhook" || e.Stage != "ResponseComplete" || e.User != "admin" ||
					e.Verb != "update" || e.Namespace != "shop" || e.Resource != "configmaps" || e.Name != "settings" || e.Code != 200 ||
					!slices.Equal(e.SourceIPs, []string{"10.0.0.1", "192.0.2.7"}) || !e.Time.Equal(at) {
					e.Raw = nil
					t.Errorf("event %s: %+v, want it at %v", e.AuditID, e, at)
				}
				if string(e.Raw) != sent[e.AuditID] {
					t.Errorf("event %s: raw\n %s\nwant what was sent\n %s", e.AuditID, e.Raw, sent[e.AuditID])
				}
			}
			var others store.EventPage
			apiDo(t, c, "GET", s.url+"/api/v1/events?user=alice", "", &others)
			if got := auditIDs(others); !slices.Equal(got, []string{"x1"}) {
				t.Errorf("events of alice: %v, want [x1]", got)
			}

			// The API server resends the batch it got no answer for, with a
			// new event after it: once the new one is kept, so is the
			// resent batch, in the same or an earlier insert.
			resent := eventList(sent["k1"], sent["k2"], sent["x1"], sent["k3"], ev("k4", "admin", 0))
			if code, body, _ := s.post(t, "/k8s-audit", resent); code != http.StatusOK {
				t.Fatalf("resend: %d %s", code, body)
			}
			p = waitEvents(t, c, url, "k4")
			if got := auditIDs(p); !slices.Equal(got, []string{"k4", "k3", "k2", "k1"}) {
				t.Errorf("events of admin after the resend: %v, want [k4 k3 k2 k1]", got)
			}
			var all store.EventPage
			apiDo(t, c, "GET", s.url+"/api/v1/events", "", &all)
			if n := len(all.Events); n != 5 {
				t.Errorf("%d events kept in all, want 5: %v", n, auditIDs(all))
			}
			// Nothing was dropped on the way (a labelled counter appears
			// once counted).
			if m := scrape(t, s); strings.Contains(m, "vigil_store_events_dropped_total{") {
				t.Errorf("raw events dropped:\n%s", m)
			}
		})
	}
}
