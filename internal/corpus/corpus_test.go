package corpus

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// event is the part of audit.k8s.io/v1 Event the tests look at. Field names
// match the JSON keys case-insensitively.
type event struct {
	Kind             string
	APIVersion       string
	Level            string
	AuditID          string
	Stage            string
	RequestURI       string
	Verb             string
	User             *userInfo
	ImpersonatedUser *userInfo
	SourceIPs        []string
	UserAgent        string
	ObjectRef        *struct {
		Resource, Namespace, Name, UID, APIGroup, APIVersion, ResourceVersion, Subresource string
	}
	ResponseStatus *struct {
		Code    int
		Status  string
		Reason  string
		Message string
	}
	RequestObject            map[string]any
	ResponseObject           json.RawMessage
	RequestReceivedTimestamp string
	StageTimestamp           string
	Annotations              map[string]string
}

type userInfo struct {
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
}

// generated is one event with what the generator knows about it.
type generated struct {
	line []byte   // the JSON, valid only during the callback
	ev   event    // the decoded event
	cat  category // its traffic class
	risk riskKind // its risky action, if any
}

// each generates n events and calls f with each one decoded. It fails the
// test on the first event that is not valid JSON.
func each(t testing.TB, opts Options, n int, f func(i int, g *generated)) {
	t.Helper()
	gen := New(opts)
	var buf []byte
	for i := range n {
		buf = gen.Next(buf[:0])
		g := generated{line: buf, cat: gen.last, risk: gen.lastRisk}
		if err := json.Unmarshal(buf, &g.ev); err != nil {
			t.Fatalf("event %d is not valid JSON: %v\n%s", i, err, buf)
		}
		f(i, &g)
	}
}

func TestWriteDeterministic(t *testing.T) {
	run := func(seed int64) []byte {
		var b bytes.Buffer
		n, err := Write(&b, Options{Seed: seed, Events: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(b.Len()) {
			t.Fatalf("Write reported %d bytes, wrote %d", n, b.Len())
		}
		return b.Bytes()
	}
	a, b, c := run(7), run(7), run(8)
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds give the same output")
	}
	if got := bytes.Count(a, []byte{'\n'}); got != 5000 {
		t.Errorf("got %d lines, want 5000", got)
	}

	// Write and Next produce the same stream.
	g := New(Options{Seed: 7})
	var want []byte
	for range 5000 {
		want = g.Next(want)
		want = append(want, '\n')
	}
	if !bytes.Equal(a, want) {
		t.Error("Write and Next disagree")
	}
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tsRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

func TestEventsValid(t *testing.T) {
	for _, seed := range []int64{1, 42} {
		var prev time.Time
		each(t, Options{Seed: seed}, 20000, func(i int, g *generated) {
			e := &g.ev
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("seed %d event %d: "+format+"\n%s", append([]any{seed, i}, append(args, g.line)...)...)
			}
			if e.Kind != "Event" || e.APIVersion != "audit.k8s.io/v1" {
				fail("kind/apiVersion %q %q", e.Kind, e.APIVersion)
			}
			if e.Level != levelMetadata && e.Level != levelRR {
				fail("level %q", e.Level)
			}
			if !uuidRE.MatchString(e.AuditID) {
				fail("auditID %q", e.AuditID)
			}
			if !slices.Contains(stageNames[:], e.Stage) {
				fail("stage %q", e.Stage)
			}
			if e.RequestURI == "" || e.RequestURI[0] != '/' || e.Verb == "" || e.User == nil || e.User.Username == "" ||
				len(e.SourceIPs) != 1 || e.UserAgent == "" {
				fail("missing request fields")
			}
			if strings.HasPrefix(e.RequestURI, "/api/") || strings.HasPrefix(e.RequestURI, "/apis/") {
				if e.ObjectRef == nil || e.ObjectRef.Resource == "" || e.ObjectRef.APIVersion == "" {
					fail("resource request without objectRef")
				}
			}
			if !tsRE.MatchString(e.RequestReceivedTimestamp) || !tsRE.MatchString(e.StageTimestamp) {
				fail("timestamps %q %q", e.RequestReceivedTimestamp, e.StageTimestamp)
			}
			recv, _ := time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp)
			st, _ := time.Parse(time.RFC3339Nano, e.StageTimestamp)
			if st.Before(recv) {
				fail("stageTimestamp before requestReceivedTimestamp")
			}
			if st.Before(prev) {
				fail("stageTimestamp goes back in time")
			}
			prev = st
			if e.Stage == "RequestReceived" {
				if e.ResponseStatus != nil || e.Annotations != nil || e.RequestObject != nil || e.ResponseObject != nil {
					fail("RequestReceived carries response fields")
				}
				return
			}
			if e.ResponseStatus == nil || e.ResponseStatus.Code < 100 || e.ResponseStatus.Code > 599 {
				fail("bad responseStatus")
			}
			if d := e.Annotations["authorization.k8s.io/decision"]; d != "allow" && d != "forbid" {
				fail("decision %q", d)
			}
			if _, ok := e.Annotations["authorization.k8s.io/reason"]; !ok {
				fail("no authorization reason")
			}
			if e.Annotations["authorization.k8s.io/decision"] == "forbid" && e.ResponseStatus.Code != 403 {
				fail("forbid with code %d", e.ResponseStatus.Code)
			}
			if (e.RequestObject != nil || e.ResponseObject != nil) && e.Level != levelRR {
				fail("bodies at level %s", e.Level)
			}
		})
	}
}

// TestRequestsConsistent checks that the events of one request agree and
// come in stage order.
func TestRequestsConsistent(t *testing.T) {
	type request struct {
		stage                                       int
		uri, verb, user, recv, level, agent, source string
	}
	byID := map[string]request{}
	const n = 30000
	pairs := 0
	each(t, Options{Seed: 3, RiskyRate: 0.05}, n, func(i int, g *generated) {
		e := &g.ev
		cur := request{slices.Index(stageNames[:], e.Stage), e.RequestURI, e.Verb, e.User.Username,
			e.RequestReceivedTimestamp, e.Level, e.UserAgent, e.SourceIPs[0]}
		prev, ok := byID[e.AuditID]
		byID[e.AuditID] = cur
		if !ok {
			return
		}
		pairs++
		if cur.stage <= prev.stage {
			t.Fatalf("auditID %s: stage %s after %s", e.AuditID, e.Stage, stageNames[prev.stage])
		}
		prev.stage = cur.stage
		if prev != cur {
			t.Fatalf("auditID %s: events disagree:\n%+v\n%+v", e.AuditID, prev, cur)
		}
	})
	if pairs < n/3 {
		t.Errorf("only %d of %d events continue an earlier request", pairs, n)
	}
}

func TestStartAndRate(t *testing.T) {
	start := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	g := New(Options{Seed: 5, Start: start})
	var first, last event
	const n = 50000
	var buf []byte
	for i := range n {
		buf = g.Next(buf[:0])
		if i == 0 || i == n-1 {
			e := &last
			if i == 0 {
				e = &first
			}
			if err := json.Unmarshal(buf, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	t0, _ := time.Parse(time.RFC3339Nano, first.StageTimestamp)
	if !t0.Equal(start.Truncate(time.Microsecond)) {
		t.Errorf("first event at %v, want %v", t0, start)
	}
	t1, _ := time.Parse(time.RFC3339Nano, last.StageTimestamp)
	if rate := n / t1.Sub(t0).Seconds(); rate < 3000 || rate > 8000 {
		t.Errorf("%.0f events/s, want several thousand", rate)
	}

	each(t, Options{Seed: 5}, 1, func(_ int, g *generated) {
		if got := g.ev.StageTimestamp; got != "2026-01-01T00:00:00.000000Z" {
			t.Errorf("default start: first event at %s", got)
		}
	})
}

func TestSize(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		g := New(Options{Seed: seed})
		var buf []byte
		const n = 10000
		total, big, minSize, maxSize := 0, 0, math.MaxInt, 0
		for range n {
			buf = g.Next(buf[:0])
			total += len(buf)
			minSize, maxSize = min(minSize, len(buf)), max(maxSize, len(buf))
			if len(buf) > 4096 {
				big++
			}
		}
		mean := total / n
		t.Logf("seed %d: mean %d B, min %d, max %d, %.1f%% over 4 KiB", seed, mean, minSize, maxSize, 100*float64(big)/n)
		if mean < 1400 || mean > 2100 {
			t.Errorf("seed %d: mean event size %d B, want 1400-2100", seed, mean)
		}
		if f := float64(big) / n; f < 0.03 || f > 0.20 {
			t.Errorf("seed %d: %.1f%% of events carry large bodies, want 3-20%%", seed, 100*f)
		}
		if minSize < 400 || maxSize > 16384 {
			t.Errorf("seed %d: sizes %d..%d out of range", seed, minSize, maxSize)
		}
	}
}

func TestShares(t *testing.T) {
	var benign, risky float64
	for _, a := range actions() {
		if a.cat == catRisky {
			risky += a.share
		} else {
			benign += a.share
		}
		if a.events < 1 || a.events > 3 {
			t.Errorf("%s: %v events per request", a.name, a.events)
		}
	}
	if math.Abs(benign-100) > 1e-9 || math.Abs(risky-100) > 1e-9 {
		t.Errorf("shares add up to %v (benign) and %v (risky), want 100 each", benign, risky)
	}
	if n := len(riskyActions()); n != int(numRiskKinds)-1 {
		t.Errorf("%d risky actions for %d kinds", n, numRiskKinds-1)
	}
}

// documentedMix is the benign traffic mix of the package doc, in % of
// benign events.
var documentedMix = map[category]float64{
	catKubelet: 40, catController: 27, catAPIServer: 6, catHealth: 5, catWorkload: 14, catCI: 3, catHuman: 5,
}

func TestMix(t *testing.T) {
	tests := []struct {
		name      string
		riskyRate float64
		wantRisky float64
	}{
		{"default", 0, 0.01},
		{"five percent", 0.05, 0.05},
		{"none", -1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := New(Options{Seed: 11, RiskyRate: tc.riskyRate})
			const n = 200000
			var counts [numCategories]int
			var buf []byte
			for range n {
				buf = g.Next(buf[:0])
				counts[g.last]++
			}
			risky := float64(counts[catRisky]) / n
			if math.Abs(risky-tc.wantRisky) > 0.15*tc.wantRisky+0.0005 {
				t.Errorf("risky share %.4f, want %.4f", risky, tc.wantRisky)
			}
			for c, pct := range documentedMix {
				got := 100 * float64(counts[c]) / n
				want := pct * (1 - tc.wantRisky)
				if math.Abs(got-want) > 0.05*want+0.3 {
					t.Errorf("%s: %.2f%% of events, want about %.2f%%", categoryNames[c], got, want)
				}
			}
		})
	}
}

func TestIdentitiesAndStatuses(t *testing.T) {
	const n = 50000
	users, nodes, pods := map[string]bool{}, map[string]bool{}, map[string]bool{}
	codes := map[int]int{}
	levels := map[string]int{}
	received := 0
	each(t, Options{Seed: 9}, n, func(_ int, g *generated) {
		e := &g.ev
		if e.Stage == "RequestReceived" {
			received++
		}
		users[e.User.Username] = true
		if strings.HasPrefix(e.User.Username, "system:node:") {
			nodes[e.User.Username] = true
		}
		if e.ObjectRef != nil && e.ObjectRef.Resource == "pods" && e.ObjectRef.Name != "" {
			pods[e.ObjectRef.Name] = true
		}
		if e.ResponseStatus != nil {
			codes[e.ResponseStatus.Code]++
		}
		levels[e.Level]++
	})
	if len(nodes) < 150 || len(pods) < 500 || len(users) < 200 {
		t.Errorf("too few distinct names: %d nodes, %d pods, %d users", len(nodes), len(pods), len(users))
	}
	for _, code := range []int{200, 201, 404, 409, 403, 101} {
		if codes[code] == 0 {
			t.Errorf("no response with code %d", code)
		}
	}
	if ok := codes[200] + codes[201]; float64(ok) < 0.95*float64(n-received) {
		t.Errorf("only %d responses are 200/201: %v", ok, codes)
	}
	if f := float64(levels[levelRR]) / n; f < 0.05 || f > 0.4 {
		t.Errorf("%.1f%% of events at RequestResponse", 100*f)
	}
	for _, u := range []string{"alice@example.com", "kubernetes-admin", "system:apiserver", "system:kube-scheduler",
		"system:kube-controller-manager", "system:anonymous", "system:serviceaccount:ci:ci-deployer",
		"system:serviceaccount:kube-system:replicaset-controller"} {
		if !users[u] {
			t.Errorf("no event by %s", u)
		}
	}
}

func TestNextAllocs(t *testing.T) {
	g := New(Options{Seed: 1, RiskyRate: 0.05})
	buf := make([]byte, 0, 64<<10)
	for range 300000 {
		buf = g.Next(buf[:0])
	}
	allocs := testing.AllocsPerRun(20000, func() { buf = g.Next(buf[:0]) })
	if allocs > 0.01 {
		t.Errorf("Next allocates %.3f times per event in steady state", allocs)
	}
}

func TestAppendString(t *testing.T) {
	tests := []string{"", "plain", `quo"te`, `back\slash`, "a&b<c>d", "tab\tnew\nline\r", "ctl\x01\x1f", "ünïcode ✓"}
	for _, s := range tests {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
		if got := appendEscaped(nil, []byte(s)); string(got) != string(want[1:len(want)-1]) {
			t.Errorf("appendEscaped(%q) = %s, want %s", s, got, want[1:len(want)-1])
		}
	}
}

func TestClock(t *testing.T) {
	var c clock
	for _, ts := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 999999000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1000, time.UTC),
		time.Date(2026, 2, 28, 12, 30, 5, 123456789, time.UTC),
	} {
		us := ts.UnixMicro()
		want := ts.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
		if got := string(c.appendMicro(nil, us)); got != want {
			t.Errorf("appendMicro = %s, want %s", got, want)
		}
		want = ts.Format("2006-01-02T15:04:05Z")
		if got := string(c.appendSecond(nil, us)); got != want {
			t.Errorf("appendSecond = %s, want %s", got, want)
		}
	}
}
