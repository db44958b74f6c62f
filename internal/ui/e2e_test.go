package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigilsec/vigil/internal/access"
	"github.com/vigilsec/vigil/internal/app"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/store"
)

// The end-to-end test runs a real Vigil (in-process, on loopback, with a
// temporary data directory and its embedded SQLite store) and drives the
// UI it serves in headless Chromium, as a responder would: log in, watch
// an alert arrive live, filter, open it, acknowledge it, comment.
//
// It needs /usr/bin/chromium (Debian's chromium; scripts/install-deps.sh
// installs it). Without it the test is skipped, except under CI (CI set),
// where it fails. Screenshots of the Events and Overview pages go to
// $VIGIL_ARTIFACTS (else a temporary directory, logged); with
// VIGIL_SCREENSHOTS=docs/img (relative to the repository root) they are
// also written there as events.png and overview.png, for the README.

const (
	chromiumPath = "/usr/bin/chromium"
	e2eToken     = "e2e-token-0123456789abcdef"
	e2eCluster   = "prod-eu"
	e2eTimeout   = 60 * time.Second
	uiPage       = 50 // alerts the Events page loads at a time (events.js PAGE)
)

// browserPath returns the browser, or skips (fails under CI) without it.
func browserPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("the UI's end-to-end test needs %s (Debian package chromium; scripts/install-deps.sh installs it): %v", chromiumPath, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromiumPath
}

// vigil is a running server.
type vigil struct {
	app *app.App
	url string
	cfg *config.Config
}

// startVigil runs a server; edit (may be nil) adjusts its configuration.
func startVigil(t *testing.T, edit func(*config.Config)) *vigil {
	t.Helper()
	c := config.Default()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.Auth.Clusters = []config.Cluster{{Name: e2eCluster, Token: e2eToken}}
	c.Outputs = nil
	c.Shutdown = config.Duration(10 * time.Second)
	// Where requests come from: the API servers sit behind a load
	// balancer in 10.20.0.0/16, and the office VPN is 198.51.100.0/24.
	c.Enrich.TrustedProxies = []string{"10.20.0.0/16"}
	c.Enrich.Networks = []config.Network{{CIDR: "198.51.100.0/24", Name: "corp-vpn", City: "Berlin", Region: "Berlin",
		Country: "Germany", CountryCode: "DE", Owner: "Example Corp"}}
	if edit != nil {
		edit(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Options{Config: &c})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &vigil{app: a, url: "http://" + a.Addr(), cfg: &c}
}

// post sends an audit EventList with the cluster's bearer token.
func (v *vigil) post(t *testing.T, events ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": events})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, v.url+"/k8s_audit", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum struct {
		Accepted, Skipped int
	}
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil || resp.StatusCode != 200 || sum.Accepted != len(events) {
		t.Fatalf("post %d events: %d %+v %v", len(events), resp.StatusCode, sum, err)
	}
}

// waitStored waits until every posted event is evaluated and every alert
// raised is in the store, and returns how many alerts there are.
func (v *vigil) waitStored(t *testing.T, events int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ev, alerts := v.app.Evaluated()
		if int(ev) >= events {
			st, err := v.app.Store().Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Count >= int64(alerts) {
				return int(alerts)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("evaluated %d of %d events (%d alerts) without storing them all in time", ev, events, alerts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// find returns the stored alerts that match q.
func (v *vigil) find(t *testing.T, q store.Query) []store.Record {
	t.Helper()
	page, err := v.app.Store().Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return page.Alerts
}

// auditEvent builds an audit.k8s.io/v1 Event.
type auditEvent struct {
	id, stage         string
	at                time.Time
	user, agent, verb string
	resource, sub     string
	ns, name, uri     string
	code              int
}

func (e auditEvent) json() map[string]any {
	obj := map[string]any{"resource": e.resource, "apiVersion": "v1"}
	if e.sub != "" {
		obj["subresource"] = e.sub
	}
	if e.ns != "" {
		obj["namespace"] = e.ns
	}
	if e.name != "" {
		obj["name"] = e.name
	}
	stage := e.stage
	if stage == "" {
		stage = "ResponseComplete"
	}
	return map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": e.id, "stage": stage,
		"requestURI": e.uri, "verb": e.verb,
		"user":      map[string]any{"username": e.user, "groups": []string{"system:authenticated"}},
		"sourceIPs": []string{"198.51.100.23", "10.20.0.4"}, "userAgent": e.agent, "objectRef": obj,
		"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": e.code},
		"requestReceivedTimestamp": e.at.UTC().Format(time.RFC3339Nano),
		"stageTimestamp":           e.at.Add(35 * time.Millisecond).UTC().Format(time.RFC3339Nano),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow",
			"authorization.k8s.io/reason": `RBAC: allowed by ClusterRoleBinding "ops" of ClusterRole "cluster-admin" to Group "ops"`},
	}
}

func execInto(id string, at time.Time, user, ns, pod string) map[string]any {
	return auditEvent{id: id, stage: "ResponseStarted", at: at, user: user, agent: "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
		verb: "create", resource: "pods", sub: "exec", ns: ns, name: pod, code: 101,
		uri: "/api/v1/namespaces/" + ns + "/pods/" + pod + "/exec?command=sh&container=app&stdin=true&stdout=true&tty=true"}.json()
}

func nsDelete(id string, at time.Time, user, ns string) map[string]any {
	return auditEvent{id: id, at: at, user: user, agent: "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46", verb: "delete",
		resource: "namespaces", name: ns, code: 200, uri: "/api/v1/namespaces/" + ns}.json()
}

func nodeCreds(id string, at time.Time) map[string]any {
	return auditEvent{id: id, at: at, user: "system:node:worker-3", agent: "curl/8.5.0", verb: "list",
		resource: "secrets", ns: "payments", code: 200, uri: "/api/v1/namespaces/payments/secrets"}.json()
}

// seed is a day of history: alerts of several priorities from several
// users, spread over the last 20 hours, so that the pages have something
// to show.
func seed(now time.Time) []map[string]any {
	users := []string{"alice@example.com", "bob@example.com", "system:serviceaccount:ci:deployer"}
	nss := []string{"payments", "frontend", "kube-system", "checkout"}
	var evs []map[string]any
	for i := range 24 {
		at := now.Add(-time.Duration(i)*50*time.Minute - 3*time.Minute)
		id := fmt.Sprintf("seed-%02d", i)
		switch {
		case i%7 == 3:
			evs = append(evs, nsDelete(id, at, users[i%2], fmt.Sprintf("review-%d", i)))
		case i%9 == 5:
			evs = append(evs, nodeCreds(id, at))
		default:
			evs = append(evs, execInto(id, at, users[i%3], nss[i%4], fmt.Sprintf("web-%d", i%5)))
		}
	}
	return evs
}

// browser is a headless Chromium tab with the console it printed.
type browser struct {
	ctx  context.Context // the tab, until the test's deadline
	tab  context.Context // the tab, without the deadline (failure screenshots)
	dir  string          // screenshots
	mu   sync.Mutex
	logs []chromedp.ConsoleMessage // guarded by mu
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	dir := os.Getenv("VIGIL_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	tab := ctx
	ctx, cancelTime := context.WithTimeout(ctx, e2eTimeout)
	b := &browser{ctx: ctx, tab: tab, dir: dir}
	msgs := chromedp.Console(ctx)
	var wg sync.WaitGroup
	// Start the browser now, so that the console has a tab to follow.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1000), chromedp.Navigate("about:blank")); err != nil {
		cancelTime()
		cancelTab()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	wg.Go(func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, m)
			b.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc() // waits for the browser to exit, before its TempDir goes
		wg.Wait()
	})
	return b
}

// console returns what the page printed.
func (b *browser) console() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.logs...)
}

// do runs the actions of one step, or fails the test with the step's name,
// the page's console and a screenshot.
func (b *browser) do(t *testing.T, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(t, step, err)
	}
}

func (b *browser) fail(t *testing.T, step string, err error) {
	t.Helper()
	for _, m := range b.console() {
		t.Logf("console: %s:%d %s", m.URL, m.Line+1, m)
	}
	ctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	if png, serr := chromedp.Run(ctx, chromedp.CaptureScreenshot()); serr == nil {
		p := filepath.Join(b.dir, "failure.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the failure: %s", p)
		}
	}
	t.Fatalf("%s: %v", step, err)
}

// eval evaluates a JavaScript expression in the page (awaiting a promise).
func eval[T any](t *testing.T, b *browser, step, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(t, step, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// screenshot saves the viewport as name in the artefacts directory and,
// for the README's and with VIGIL_SCREENSHOTS, in that directory of the
// repository.
func (b *browser) screenshot(t *testing.T, name string, readme bool) {
	t.Helper()
	// Wait for the transitions (the panel sliding in, a fresh row's
	// highlight) to end; the live indicator's pulse never does.
	b.do(t, "settle before the screenshot "+name, waitJS(`document.getAnimations().every((a) =>
		a.playState !== 'running' || a.effect.getComputedTiming().iterations === Infinity)`))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail(t, "screenshot "+name, err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s is not a PNG", name)
	}
	dirs := []string{b.dir}
	if d := os.Getenv("VIGIL_SCREENSHOTS"); d != "" && readme {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", "..", d) // the test runs in internal/ui
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

func TestEndToEnd(t *testing.T) {
	chromium := browserPath(t)
	start := time.Now()
	v := startVigil(t, func(c *config.Config) { c.Store.KeepEvents = true })

	// A day of history, stored before the browser opens.
	now := time.Now()
	history := seed(now)
	v.post(t, history...)
	stored := v.waitStored(t, len(history))
	if stored < len(history) {
		t.Fatalf("the seed raised %d alerts from %d events; the built-in rules changed?", stored, len(history))
	}
	password, err := access.AdminPassword(v.cfg.DataDir)
	if err != nil {
		t.Fatalf("first-run admin password: %v", err)
	}

	b := newBrowser(t, chromium)

	// The login page, then the Events page with the stored alerts.
	b.do(t, "open the UI",
		chromedp.Navigate(v.url+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("login-user"), "admin"),
		chromedp.SendKeys(chromedp.ID("login-pass"), "not-the-password"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-form .form-error")),
	)
	b.do(t, "log in",
		chromedp.SendKeys(chromedp.ID("login-pass"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("events-table")),
		waitJS(fmt.Sprintf(`document.querySelectorAll('#events-body tr.row').length === %d`, min(stored, uiPage))),
		waitJS(`document.getElementById('live').classList.contains('live-live')`),
	)
	if got := eval[string](t, b, "read the role", `document.getElementById('session-role').textContent`); got != "admin" {
		t.Errorf("role shown: %q, want admin", got)
	}
	if got := eval[string](t, b, "read the path", `location.pathname`); got != "/events" {
		t.Errorf("after login the UI is at %q, want /events", got)
	}

	// An exec into a pod arrives while the page is open: it is pushed to
	// the top of the list, without a reload.
	b.do(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	live := execInto("live-exec-0001", time.Now(), "mallory", "payments", "checkout-7d9f")
	v.post(t, live)
	total := v.waitStored(t, len(history)+1)
	recs := v.find(t, store.Query{User: "mallory"})
	if len(recs) != 1 || recs[0].Alert.Alert.Rule != "Exec or Attach Into Pod" {
		t.Fatalf("the live event raised %d alerts for mallory, want one Exec or Attach Into Pod", len(recs))
	}
	id := recs[0].ID
	b.do(t, "see the alert arrive live",
		waitJS(fmt.Sprintf(`document.querySelector('#events-body tr.row')?.dataset.id === %q`, id)),
		waitJS(fmt.Sprintf(`document.querySelectorAll('#events-body tr.row').length === %d`, min(stored, uiPage)+1)),
	)
	if !eval[bool](t, b, "check for a reload", `window.__sameDocument === true`) {
		t.Error("the page reloaded: the alert did not arrive over the stream")
	}

	// Filter by user: only mallory's alert is left.
	b.do(t, "filter by user",
		chromedp.SendKeys(chromedp.ID("f-user"), "mallory"),
		chromedp.Click(chromedp.ID("f-apply")),
		waitJS(`new URLSearchParams(location.search).get('user') === 'mallory'`),
		waitJS(fmt.Sprintf(`(() => { const rows = document.querySelectorAll('#events-body tr.row');
			return rows.length === 1 && rows[0].dataset.id === %q })()`, id)),
	)

	// The detail panel, then acknowledge and comment.
	b.do(t, "open the detail",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#events-body tr[data-id=%q]`, id))),
		chromedp.WaitVisible(chromedp.ID("detail-message")),
		waitJS(`document.getElementById('detail-status')?.textContent === 'open'`),
	)
	detail := eval[string](t, b, "read the detail", `document.getElementById('detail').innerText`)
	for _, want := range []string{"Exec or Attach Into Pod", "mallory", "pods/exec", "payments", "checkout-7d9f", e2eCluster,
		"198.51.100.23", "10.20.0.4", "live-exec-0001", "ka.user.name"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail panel lacks %q", want)
		}
	}
	// Whatever the API knows of where the request came from is shown.
	var one struct {
		Where *struct {
			ClientIP string `json:"client_ip"`
			IPs      []struct {
				Addr, Role, Network, City string
			}
		}
	}
	if err := json.Unmarshal([]byte(eval[string](t, b, "read the alert", fmt.Sprintf(`fetch('/api/v1/alerts/%s').then((r) => r.text())`, id))), &one); err != nil {
		t.Fatal(err)
	}
	if w := one.Where; w != nil {
		for _, ip := range w.IPs {
			for _, want := range []string{ip.Addr, ip.Network, ip.City} {
				if !strings.Contains(detail, want) {
					t.Errorf("the detail panel lacks %q of the source IP %s", want, ip.Addr)
				}
			}
		}
	} else {
		t.Log("the alert has no where (source IP enrichment is off)")
	}
	b.do(t, "acknowledge",
		chromedp.Click(chromedp.ID("btn-ack")),
		waitJS(`document.getElementById('detail-status')?.textContent === 'acknowledged'`),
		waitJS(fmt.Sprintf(`document.querySelector('#events-body tr[data-id=%q]')?.dataset.status === 'acknowledged'`, id)),
	)
	rec, err := v.app.Store().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Triage.Status != store.StatusAcknowledged {
		t.Errorf("stored status %q after Acknowledge, want acknowledged", rec.Triage.Status)
	}
	const comment = "Not a test: mallory has no business in payments."
	b.do(t, "comment",
		chromedp.SendKeys(chromedp.ID("comment-text"), comment),
		chromedp.Click(chromedp.ID("comment-submit")),
		waitJS(fmt.Sprintf(`document.getElementById('comment-list').innerText.includes(%q)`, comment)),
	)
	cs, err := v.app.Store().Comments(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		found = found || (c.Text == comment && c.Author == "admin")
	}
	if !found {
		t.Errorf("stored comments %+v lack the admin's comment", cs)
	}
	b.do(t, "show the exception",
		chromedp.Click(chromedp.ID("btn-exception")),
		waitJS(`document.getElementById('exception-yaml')?.textContent.includes('Exec or Attach Into Pod')`),
	)

	// What else did mallory do? The raw events kept around the alert.
	b.do(t, "show the user's activity",
		chromedp.Click(chromedp.ID("btn-activity")),
		waitJS(`(() => { const t = document.getElementById('activity-table');
			return !!t && t.innerText.includes('pods') && t.innerText.includes('198.51.100.23') })()`),
	)

	b.do(t, "show where", chromedp.ScrollIntoView(chromedp.ID("detail-where")))
	b.screenshot(t, "detail.png", false)

	// The Events page with the new alert open, for the screenshot: a deep link.
	b.do(t, "open the events page",
		chromedp.Navigate(v.url+"/events?alert="+id),
		chromedp.WaitVisible(chromedp.ID("detail-message")),
		waitJS(fmt.Sprintf(`document.querySelectorAll('#events-body tr.row').length === %d`, min(total, uiPage))),
		waitJS(fmt.Sprintf(`document.querySelector('#events-body tr.row.selected')?.dataset.id === %q`, id)),
		waitJS(`document.getElementById('live').classList.contains('live-live')`),
	)
	b.screenshot(t, "events.png", true)

	// Overview: the chart, the rankings, the cluster.
	b.do(t, "open the overview",
		chromedp.Click(chromedp.CSS(`a.nav-link[data-path="/overview"]`)),
		chromedp.WaitVisible(chromedp.CSS("#o-chart svg.chart")),
		waitJS(`document.querySelectorAll('#o-chart g.bar rect:not(.hit)').length > 0`),
		waitJS(`document.querySelector('#top-user a') !== null`),
		waitJS(`document.querySelector('#clusters-table') !== null`),
	)
	overview := eval[string](t, b, "read the overview", `document.getElementById('main').innerText`)
	for _, want := range []string{fmt.Sprint(total), "Exec or Attach Into Pod", "alice@example.com", e2eCluster} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	b.screenshot(t, "overview.png", true)

	// A ranking links to Events filtered by its value.
	b.do(t, "follow a ranking",
		chromedp.Click(chromedp.CSS(`#top-rule a`)),
		waitJS(`location.pathname === '/events' && new URLSearchParams(location.search).has('rule')`),
		waitJS(`document.querySelectorAll('#events-body tr.row').length > 0`),
	)

	// Rules: an admin switches a rule off.
	const rule = "K8s Namespace Deleted"
	b.do(t, "open the rules",
		chromedp.Click(chromedp.CSS(`a.nav-link[data-path="/rules"]`)),
		waitJS(fmt.Sprintf(`document.querySelector('#rules-body tr[data-rule=%q] input.switch')?.checked === true`, rule)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rules-body tr[data-rule=%q] input.switch`, rule))),
		waitJS(fmt.Sprintf(`(() => { const i = document.querySelector('#rules-body tr[data-rule=%q] input.switch');
			return i && !i.checked && !i.disabled })()`, rule)),
	)
	var rules struct {
		Rules []struct {
			Name    string
			Enabled bool
		}
	}
	raw := eval[string](t, b, "read the rules", `fetch('/api/v1/rules').then((r) => r.text())`)
	if err := json.Unmarshal([]byte(raw), &rules); err != nil {
		t.Fatalf("rules: %v: %s", err, raw)
	}
	for _, r := range rules.Rules {
		if r.Name == rule && r.Enabled {
			t.Errorf("%s is still enabled after the switch", rule)
		}
	}

	// Log out: the login page again, and the session is gone.
	b.do(t, "log out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	if code := eval[int](t, b, "check the session", `fetch('/api/v1/me').then((r) => r.status)`); code != 401 {
		t.Errorf("after logout /api/v1/me answers %d, want 401", code)
	}

	// The page raised no error: the only console errors are the expected
	// 401s of the login page and the wrong password.
	for _, m := range b.console() {
		if m.IsException() || (m.Type == "error" && !strings.Contains(m.Text, "401")) {
			t.Errorf("console: %s:%d %s", m.URL, m.Line+1, m)
		}
	}
	t.Logf("end-to-end in %v", time.Since(start).Round(time.Millisecond))
}

// TestEndToEndViewer: a viewer sees the alerts and the rules, and the
// actions of the other roles are disabled or absent.
func TestEndToEndViewer(t *testing.T) {
	chromium := browserPath(t)
	const password = "viewer-password-42"
	hash, err := access.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	v := startVigil(t, func(c *config.Config) {
		c.API.Users = []config.APIUser{{Name: "vera", PasswordHash: config.Secret(hash), Role: "viewer"}}
	})
	v.post(t, nsDelete("viewer-ns-1", time.Now().Add(-time.Minute), "bob@example.com", "staging"))
	if n := v.waitStored(t, 1); n != 1 {
		t.Fatalf("%d alerts, want 1", n)
	}
	b := newBrowser(t, chromium)
	b.do(t, "log in",
		chromedp.Navigate(v.url+"/rules"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("login-user"), "vera"),
		chromedp.SendKeys(chromedp.ID("login-pass"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		// The login keeps the page asked for.
		waitJS(`document.querySelectorAll('#rules-body tr[data-rule]').length > 10`),
	)
	if got := eval[string](t, b, "read the role", `document.getElementById('session-role').textContent`); got != "viewer" {
		t.Errorf("role shown: %q, want viewer", got)
	}
	if n := eval[int](t, b, "count the switches", `document.querySelectorAll('#rules-body input.switch:not(:disabled)').length`); n != 0 {
		t.Errorf("%d rule switches are enabled for a viewer", n)
	}
	if !eval[bool](t, b, "read the note", `document.getElementById('rules-readonly') !== null`) {
		t.Error("the rules page does not say it is read only")
	}
	b.do(t, "open the alert",
		chromedp.Click(chromedp.CSS(`a.nav-link[data-path="/events"]`)),
		waitJS(`document.querySelectorAll('#events-body tr.row').length === 1`),
		chromedp.Click(chromedp.CSS(`#events-body tr.row`)),
		chromedp.WaitVisible(chromedp.ID("detail-message")),
	)
	state := eval[map[string]bool](t, b, "read the actions", `({
		ack: document.getElementById('btn-ack').disabled,
		resolve: document.getElementById('btn-resolve').disabled,
		assignee: document.getElementById('assignee').disabled,
		comment: document.getElementById('comment-text') === null,
		exception: !document.getElementById('btn-exception').disabled,
	})`)
	for _, k := range []string{"ack", "resolve", "assignee", "comment", "exception"} {
		if !state[k] {
			t.Errorf("for a viewer, %s is not as it should be (%v)", k, state)
		}
	}
	for _, m := range b.console() {
		if m.IsException() || (m.Type == "error" && !strings.Contains(m.Text, "401")) {
			t.Errorf("console: %s:%d %s", m.URL, m.Line+1, m)
		}
	}
}
