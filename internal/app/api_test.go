package app

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/access"
	"github.com/vigilsec/vigil/internal/api"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/store"
)

// apiClient logs in as the first-run admin, as a UI user does.
func apiClient(t *testing.T, s *server) *http.Client {
	t.Helper()
	pw, err := access.AdminPassword(s.cfg.DataDir)
	if err != nil {
		t.Fatalf("first-run admin password: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": pw})
	req, _ := http.NewRequest("POST", s.url+"/api/v1/login", strings.NewReader(string(body)))
	req.Header.Set("X-Requested-With", "vigil")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return c
}

func apiDo(t *testing.T, c *http.Client, method, url string, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("X-Requested-With", "vigil")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestServeAPI follows an alert from the audit webhook to the API: live on
// the stream, then listed, triaged; and a rule switched off at runtime
// stays off after a restart.
func TestServeAPI(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	c := apiClient(t, s)

	// Subscribe, then send a namespace deletion.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/api/v1/stream", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for s.app.hub.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if code, body, _ := s.post(t, "/k8s_audit", eventList(nsDelete("8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f00"))); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	var live store.Record
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &live); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if live.Cluster != testCluster || live.Alert.Alert.Rule == "" {
		t.Fatalf("streamed alert: %+v", live)
	}

	// Listed, with its event in the detail, and triaged.
	var page store.Page
	apiDo(t, c, "GET", s.url+"/api/v1/alerts?cluster="+testCluster, "", &page)
	if len(page.Alerts) == 0 || page.Alerts[0].ID != live.ID {
		t.Fatalf("list: %+v", page)
	}
	var rec store.Record
	apiDo(t, c, "GET", s.url+"/api/v1/alerts/"+live.ID, "", &rec)
	if !strings.Contains(string(rec.Event), `"auditID":"8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f00"`) {
		t.Errorf("detail event: %s", rec.Event)
	}
	if code := apiDo(t, c, "PATCH", s.url+"/api/v1/alerts/"+live.ID, `{"status":"resolved"}`, &rec); code != 200 || rec.Triage.Status != store.StatusResolved {
		t.Errorf("resolve: %d %+v", code, rec.Triage)
	}

	// Cluster health counts the event.
	var cl struct{ Clusters []api.Cluster }
	apiDo(t, c, "GET", s.url+"/api/v1/clusters", "", &cl)
	if len(cl.Clusters) != 1 || cl.Clusters[0].Name != testCluster || cl.Clusters[0].EventsTotal != 1 || cl.Clusters[0].LastSeen.IsZero() {
		t.Errorf("clusters: %+v", cl.Clusters)
	}

	// Switch the rule off; it stays off across a restart, and no longer fires.
	rule := live.Alert.Alert.Rule
	var ru api.Rule
	if code := apiDo(t, c, "PUT", s.url+"/api/v1/rules/"+rule, `{"enabled":false}`, &ru); code != 200 || ru.Enabled || !ru.Overridden {
		t.Fatalf("disable %q: %d %+v", rule, code, ru)
	}
	s.stop(t)
	s = start(t, cfg)
	c = apiClient(t, s)
	var rl struct{ Rules []api.Rule }
	apiDo(t, c, "GET", s.url+"/api/v1/rules", "", &rl)
	found := false
	for _, r := range rl.Rules {
		if r.Name == rule {
			found = true
			if r.Enabled || r.Hits != 1 {
				t.Errorf("after restart: %+v", r)
			}
		}
	}
	if !found {
		t.Fatalf("rule %q not listed", rule)
	}
	if code, _, _ := s.post(t, "/k8s_audit", eventList(nsDelete("8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f01"))); code != 200 {
		t.Fatal("post")
	}
	time.Sleep(500 * time.Millisecond)
	for _, a := range s.sink.snapshot() {
		if a.Alert.Rule == rule {
			t.Errorf("the disabled rule fired after the restart")
		}
	}
}

// TestServeEnrich checks that the network map reaches alerts, the API and
// rules: 10.0.0.1 (the test event's source) is in "Paris".
func TestServeEnrich(t *testing.T) {
	cfg := testConfig(t)
	cfg.Enrich.Networks = []config.Network{{CIDR: "10.0.0.0/8", Name: "corp-vpn", City: "Paris", Country: "France", CountryCode: "FR"}}
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "paris.yaml")
	if err := os.WriteFile(rulesFile, []byte(`
- rule: Namespace Deleted From Paris
  desc: a namespace deleted from the Paris office
  condition: ka.verb = delete and ka.target.resource = namespaces and ka.source.city = Paris and ka.source.trusted = true
  output: namespace deleted from %ka.source.city (%ka.source.network) by %ka.user.name
  priority: WARNING
  source: k8s_audit
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Rules.Files = []string{rulesFile}
	s := start(t, cfg)
	if code, body, _ := s.post(t, "/k8s_audit", eventList(nsDelete("8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f02"))); code != 200 {
		t.Fatalf("post: %d %s", code, body)
	}
	got := s.sink.waitFor(t, 1)[0]
	if got.Alert.Message != "namespace deleted from Paris (corp-vpn) by admin" {
		t.Errorf("message %q", got.Alert.Message)
	}
	if got.Where == nil || got.Where.ClientIP != "10.0.0.1" || !got.Where.Trusted || len(got.Where.IPs) != 1 || got.Where.IPs[0].City != "Paris" {
		t.Fatalf("where: %+v", got.Where)
	}
	c := apiClient(t, s)
	var rec struct {
		Where struct {
			ClientIP string `json:"client_ip"`
			IPs      []struct {
				City string `json:"city"`
			} `json:"ips"`
		} `json:"where"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for apiDo(t, c, "GET", s.url+"/api/v1/alerts/"+got.ID, "", &rec) != 200 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if rec.Where.ClientIP != "10.0.0.1" || len(rec.Where.IPs) != 1 || rec.Where.IPs[0].City != "Paris" {
		t.Errorf("the API's where: %+v", rec.Where)
	}
}

// TestServeNewDataDirSharedStore: a store outlives a data directory (a
// shared PostgreSQL, a restored alerts.db). Alert IDs start again with
// the new data directory's positions; they must not meet the stored ones,
// which Add would skip as already stored.
func TestServeNewDataDirSharedStore(t *testing.T) {
	storePath := filepath.Join(t.TempDir(), "alerts.db")
	var ids []string
	for i, auditID := range []string{"8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f10", "8f0c7a6e-1b2d-4c3e-9f4a-5b6c7d8e9f11"} {
		cfg := testConfig(t) // a new data directory each time
		cfg.Store.Path = storePath
		s := start(t, cfg)
		if code, body, _ := s.post(t, "/k8s_audit", eventList(nsDelete(auditID))); code != 200 {
			t.Fatalf("post: %d %s", code, body)
		}
		got := s.sink.waitFor(t, 1)
		ids = append(ids, got[0].ID)
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := s.app.Store().Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Count == int64(i+1) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("start %d: the store holds %d alerts, want %d (IDs %v)", i+1, st.Count, i+1, ids)
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.stop(t)
	}
	if ids[0] == ids[1] {
		t.Errorf("two data directories gave their first alerts the same ID %s", ids[0])
	}
}

// TestAdmissionDisabledIsNotTheUI: with the admission webhook off, a
// webhook pointed at /admission gets a plain 404, not the UI's page.
func TestAdmissionDisabledIsNotTheUI(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admission.Enabled = false
	s := start(t, cfg)
	code, body, hdr := s.post(t, "/admission", []byte(`{}`))
	if code != http.StatusNotFound || strings.Contains(hdr.Get("Content-Type"), "html") || !strings.Contains(body, "disabled") {
		t.Errorf("POST /admission with admission off: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
}
