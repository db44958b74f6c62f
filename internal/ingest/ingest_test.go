package ingest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/batch"
	"github.com/vigilsec/vigil/internal/wal"
)

func newServer(t testing.TB) (*Server, *wal.Log) {
	l, err := wal.Open(wal.Options{Dir: filepath.Join(t.TempDir(), "log"), SegmentSize: 1 << 20, MaxBytes: 64 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := New(Options{Log: l, MaxBodyBytes: 64 << 10, Limits: audit.Limits{MaxEventSize: 16 << 10},
		Auth: func(r *http.Request) (string, int, string) {
			if r.Header.Get("Authorization") != "Bearer t" {
				return "", 401, "no_credentials"
			}
			return "c1", 0, ""
		}})
	return s, l
}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/k8s-audit", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

const secretEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"s1","stage":"ResponseComplete",` +
	`"requestURI":"/api/v1/namespaces/d/secrets","verb":"create","user":{"username":"u"},"objectRef":{"resource":"secrets","namespace":"d","name":"db","apiVersion":"v1"},` +
	`"responseStatus":{"code":201},"requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},"data":{"password":"aHVudGVyMg=="},"stringData":{"token":"s3cr3t-plain"}},` +
	`"requestReceivedTimestamp":"2026-12-05T10:00:00.000000Z","stageTimestamp":"2026-12-05T10:00:00.100000Z"}`

// TestSecretsNeverLogged: Secret values in an accepted event are redacted
// before the record reaches the disk.
func TestSecretsNeverLogged(t *testing.T) {
	s, l := newServer(t)
	w := post(s.AuditHandler(), `{"kind":"EventList","items":[`+secretEvent+`]}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"accepted":1`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	rec, err := l.NewReader(wal.Pos{}).Next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h, d, err := batch.Decode(rec.Data)
	if err != nil || h.Cluster != "c1" || h.Capture != batch.Webhook {
		t.Fatalf("header %+v, %v", h, err)
	}
	ev, _, _ := d.Next()
	for _, secret := range []string{"aHVudGVyMg==", "s3cr3t-plain"} {
		if bytes.Contains(rec.Data, []byte(secret)) {
			t.Errorf("secret %q reached the log: %s", secret, ev)
		}
	}
	if !bytes.Contains(ev, []byte(`"password":"<redacted>"`)) {
		t.Errorf("redacted event: %s", ev)
	}
}

// FuzzAuditBody: any body gets a clear answer, never a panic, and an
// accepted body is a well-formed record.
func FuzzAuditBody(f *testing.F) {
	f.Add(`{"kind":"EventList","items":[` + secretEvent + `]}`)
	f.Add(`[` + secretEvent + `,` + secretEvent + `]`)
	f.Add(secretEvent + "\n" + secretEvent)
	f.Add(`{"kind":"EventList","items":[{"auditID":1},42,null,"x"]}`)
	f.Add(`{"kind":"EventList","items":[`)
	f.Add(`{"`)
	f.Add(``)
	s, l := newServer(f)
	h := s.AuditHandler()
	f.Fuzz(func(t *testing.T, body string) {
		before := l.Stats().Records
		w := post(h, body)
		switch w.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if w.Code != 200 && l.Stats().Records != before {
			t.Fatalf("status %d but a record was logged", w.Code)
		}
	})
}

// TestLogFull: when the event log reaches its bound, requests get 503 with
// Retry-After and nothing is acknowledged; once space is released, they
// are accepted again.
func TestLogFull(t *testing.T) {
	l, err := wal.Open(wal.Options{Dir: filepath.Join(t.TempDir(), "log"), SegmentSize: 1 << 20, MaxBytes: 2 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := New(Options{Log: l, MaxBodyBytes: 1 << 20, Auth: func(*http.Request) (string, int, string) { return "c", 0, "" }})
	h := s.AuditHandler()
	// Random content, so that the log's compression cannot absorb it.
	noise := make([]byte, 6<<10)
	event := func() string {
		rand.Read(noise)
		return strings.Replace(secretEvent, `"user":{"username":"u"}`, `"user":{"username":"u"},"annotations":{"n":"`+hex.EncodeToString(noise)+`"}`, 1)
	}
	var last *httptest.ResponseRecorder
	accepted := 0
	for i := 0; i < 1000; i++ {
		var items []string
		for j := 0; j < 20; j++ {
			items = append(items, event())
		}
		body := "[" + strings.Join(items, ",") + "]"
		last = post(h, body)
		if last.Code != 200 {
			break
		}
		accepted++
	}
	if last.Code != http.StatusServiceUnavailable || last.Header().Get("Retry-After") != "5" || !strings.Contains(last.Body.String(), "log_full") {
		t.Fatalf("after %d batches: %d %q Retry-After=%q", accepted, last.Code, last.Body, last.Header().Get("Retry-After"))
	}
	if l.Stats().Records != uint64(accepted) {
		t.Errorf("%d records for %d acknowledged batches", l.Stats().Records, accepted)
	}
	if err := l.Release(l.Stats().End); err != nil {
		t.Fatal(err)
	}
	if w := post(h, "["+event()+"]"); w.Code != 200 {
		t.Errorf("after release: %d %s", w.Code, w.Body)
	}
}
