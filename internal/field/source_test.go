package field

import (
	"slices"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
)

// fakeLocator answers from a table keyed by the raw sourceIPs text and
// counts its calls.
type fakeLocator struct {
	sources map[string]*audit.Source
	calls   int
}

func (f *fakeLocator) Source(raw []byte) *audit.Source {
	f.calls++
	return f.sources[string(raw)]
}

const (
	srcForwarded = `["198.51.100.7","203.0.113.9","10.23.2.45"]`
	srcEscaped   = `["1.2.3.\u0034","10.0.0.1"]`
	srcProxy     = `["10.0.0.9"]`
	srcBadPeer   = `["1.2.3.4","nope"]`
	srcUnknown   = `["192.0.2.1"]`
	srcBroken    = `["1.1.1.1"]`
	srcASN       = `["81.2.69.142"]`
)

var testLocator = &fakeLocator{sources: map[string]*audit.Source{
	srcForwarded: {IP: "10.23.2.45", Trusted: true, Unverified: 2, City: "Paris", Region: "Île-de-France",
		Country: "France", CountryCode: "FR", Org: "Example Corp IT", Network: "corp-vpn"},
	srcEscaped: {IP: "10.0.0.1", Trusted: true, Unverified: 1},
	srcProxy:   {IP: "10.0.0.9", Trusted: false},
	srcBadPeer: {Unverified: 2},
	srcBroken:  {IP: "1.1.1.1", Trusted: true, Unverified: 5}, // more than there are
	srcASN:     {IP: "81.2.69.142", Trusted: true, City: "London", ASN: 20712, Org: "Andrews & Arnold Ltd"},
}}

// sourceEvent returns an audit event with the given sourceIPs text ("" for
// none) and testLocator set.
func sourceEvent(t testing.TB, sourceIPs string) *audit.Event {
	js := head + `"verb":"get"}`
	if sourceIPs != "" {
		js = head + `"verb":"get","sourceIPs":` + sourceIPs + `}`
	}
	ev := parse(t, js)
	ev.Locator = testLocator
	return ev
}

// sourceTests are extraction cases for the ka.source.* fields: the event
// is head plus the sourceIPs in the event column, with testLocator set.
var sourceTests = []extractCase{
	{"ip", srcForwarded, "ka.source.ip", v("10.23.2.45")},
	{"trusted", srcForwarded, "ka.source.trusted", v("true")},
	{"city", srcForwarded, "ka.source.city", v("Paris")},
	{"region", srcForwarded, "ka.source.region", v("Île-de-France")},
	{"country", srcForwarded, "ka.source.country", v("France")},
	{"country_code", srcForwarded, "ka.source.country_code", v("FR")},
	{"org", srcForwarded, "ka.source.org", v("Example Corp IT")},
	{"network", srcForwarded, "ka.source.network", v("corp-vpn")},
	{"asn unknown is missing", srcForwarded, "ka.source.asn", nil},
	{"asn", srcASN, "ka.source.asn", v("20712")},
	{"org from the ASN database", srcASN, "ka.source.org", v("Andrews & Arnold Ltd")},
	{"network unknown is missing", srcASN, "ka.source.network", nil},
	{"unverified", srcForwarded, "ka.source.unverified", v("198.51.100.7", "203.0.113.9")},
	{"unverified decodes escapes", srcEscaped, "ka.source.unverified", v("1.2.3.4")},
	{"unverified none is missing", srcASN, "ka.source.unverified", nil},
	{"unverified more than the entries is missing", srcBroken, "ka.source.unverified", nil},
	{"proxy only: trusted false", srcProxy, "ka.source.trusted", v("false")},
	{"proxy only: ip is the proxy", srcProxy, "ka.source.ip", v("10.0.0.9")},
	{"bad peer: no ip", srcBadPeer, "ka.source.ip", nil},
	{"bad peer: trusted false", srcBadPeer, "ka.source.trusted", v("false")},
	{"bad peer: every entry unverified", srcBadPeer, "ka.source.unverified", v("1.2.3.4", "nope")},
	{"locator knows nothing: ip missing", srcUnknown, "ka.source.ip", nil},
	{"locator knows nothing: trusted missing", srcUnknown, "ka.source.trusted", nil},
	{"locator knows nothing: unverified missing", srcUnknown, "ka.source.unverified", nil},
	{"no sourceIPs", "", "ka.source.ip", nil},
	{"no sourceIPs: trusted missing", "", "ka.source.trusted", nil},
}

func TestSourceFields(t *testing.T) {
	for _, tc := range sourceTests {
		t.Run(tc.name, func(t *testing.T) {
			got := extract(t, sourceEvent(t, tc.event), tc.field, testEnv)
			if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("%s = %s, want %s", tc.field, show(got), show(tc.want))
			}
		})
	}
}

// TestSourceFieldsMissing: without a Locator, or without auditID, every
// ka.source.* field is missing, and a missing sourceIPs is never looked up.
func TestSourceFieldsMissing(t *testing.T) {
	for _, d := range sourceDefs() {
		ev := sourceEvent(t, srcForwarded)
		ev.Locator = nil
		if got := extract(t, ev, d.Name, testEnv); got != nil {
			t.Errorf("%s = %s without a Locator, want no value", d.Name, show(got))
		}
		noID := parse(t, `{"kind":"Event","stageTimestamp":"2026-01-02T03:04:05Z","sourceIPs":`+srcForwarded+`}`)
		noID.Locator = testLocator
		if got := extract(t, noID, d.Name, testEnv); got != nil {
			t.Errorf("%s = %s without auditID, want no value", d.Name, show(got))
		}
	}
	before := testLocator.calls
	for _, d := range sourceDefs() {
		extract(t, sourceEvent(t, ""), d.Name, testEnv)
	}
	if testLocator.calls != before {
		t.Errorf("the Locator was asked about an event without sourceIPs")
	}
}

// TestSourceFieldsAllocs: with a Locator that does not allocate, the
// ka.source.* fields allocate nothing once the Values have grown.
func TestSourceFieldsAllocs(t *testing.T) {
	var refs []string
	for _, d := range sourceDefs() {
		refs = append(refs, d.Name)
	}
	xs := bindRefs(t, refs)
	outs := make([]Values, len(xs))
	evs := []*audit.Event{sourceEvent(t, srcForwarded), sourceEvent(t, srcASN), sourceEvent(t, srcBadPeer)}
	extractAll(evs, xs, outs)
	if n := testing.AllocsPerRun(20, func() { extractAll(evs, xs, outs) }); n != 0 {
		t.Errorf("%v allocations per pass, want 0", n)
	}
}
