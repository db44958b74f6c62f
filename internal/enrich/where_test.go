package enrich

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
)

// brief prints a Where on one line: the client, whether it is trusted,
// then each entry as address, role, + (trusted) or - and its city (else
// its network).
func brief(w Where) string {
	var b strings.Builder
	fmt.Fprintf(&b, "client=%s trusted=%t", w.ClientIP, w.Trusted)
	if w.Omitted > 0 {
		fmt.Fprintf(&b, " omitted=%d", w.Omitted)
	}
	for _, ip := range w.IPs {
		mark := "-"
		if ip.Trusted {
			mark = "+"
		}
		fmt.Fprintf(&b, " | %s %s %s", ip.Addr, ip.Role, mark)
		if ip.City != "" {
			b.WriteString(" " + ip.City)
		} else if ip.Network != "" {
			b.WriteString(" " + ip.Network)
		}
	}
	return b.String()
}

func TestWhere(t *testing.T) {
	e := newTestEnricher(t)
	tests := []struct {
		name string
		ips  []string
		want string
	}{
		{"the seed's example", []string{"10.23.2.45"},
			"client=10.23.2.45 trusted=true | 10.23.2.45 client + Paris"},
		{"forged X-Forwarded-For without a trusted proxy", []string{"81.2.69.142", "10.23.2.45"},
			"client=10.23.2.45 trusted=true | 81.2.69.142 forwarded - London | 10.23.2.45 client + Paris"},
		{"through a trusted proxy", []string{"81.2.69.142", "10.0.0.5"},
			"client=81.2.69.142 trusted=true | 81.2.69.142 client + London | 10.0.0.5 proxy +"},
		{"forged entry before a trusted proxy's", []string{"89.160.20.112", "81.2.69.142", "10.0.0.5"},
			"client=81.2.69.142 trusted=true | 89.160.20.112 forwarded - Linköping | 81.2.69.142 client + London | 10.0.0.5 proxy +"},
		{"two trusted proxies", []string{"81.2.69.142", "10.0.0.7", "10.0.0.5"},
			"client=81.2.69.142 trusted=true | 81.2.69.142 client + London | 10.0.0.7 proxy + | 10.0.0.5 proxy +"},
		{"an untrusted hop stops the walk", []string{"81.2.69.142", "10.23.2.45", "10.0.0.5"},
			"client=10.23.2.45 trusted=true | 81.2.69.142 forwarded - London | 10.23.2.45 client + Paris | 10.0.0.5 proxy +"},
		{"a trusted proxy that reports no origin", []string{"10.0.0.5"},
			"client=10.0.0.5 trusted=false | 10.0.0.5 proxy +"},
		{"proxies all the way: the farthest is the client", []string{"10.0.0.9", "10.0.0.5"},
			"client=10.0.0.9 trusted=false | 10.0.0.9 proxy + | 10.0.0.5 proxy +"},
		{"a trusted proxy that reports garbage", []string{"81.2.69.142", "garbage", "10.0.0.5"},
			"client=10.0.0.5 trusted=false | 81.2.69.142 forwarded - London | garbage invalid - | 10.0.0.5 proxy +"},
		{"the peer is not an address", []string{"81.2.69.142", "not-an-ip"},
			"client= trusted=false | 81.2.69.142 forwarded - London | not-an-ip invalid -"},
		{"an empty entry", []string{""}, "client= trusted=false |  invalid -"},
		{"garbage before the client is only unverified", []string{"x", "81.2.69.142"},
			"client=81.2.69.142 trusted=true | x invalid - | 81.2.69.142 client + London"},
		{"IPv6 through an IPv6 proxy", []string{"2a02:8010::1", "fd00:1::5"},
			"client=2a02:8010::1 trusted=true | 2a02:8010::1 client + London | fd00:1::5 proxy +"},
		{"IPv6 forged in front of IPv4", []string{"2a02:8010::1", "10.23.2.45"},
			"client=10.23.2.45 trusted=true | 2a02:8010::1 forwarded - London | 10.23.2.45 client + Paris"},
		{"IPv4-mapped addresses are IPv4", []string{"::ffff:81.2.69.142", "::ffff:10.0.0.5"},
			"client=81.2.69.142 trusted=true | 81.2.69.142 client + London | 10.0.0.5 proxy +"},
		{"a zone is dropped", []string{"fe80::1%eth0"}, "client=fe80::1 trusted=true | fe80::1 client +"},
		{"spaces are trimmed", []string{" 10.23.2.45 "}, "client=10.23.2.45 trusted=true | 10.23.2.45 client + Paris"},
		{"non-canonical text is canonicalised", []string{"2A02:8010:0:0::1"},
			"client=2a02:8010::1 trusted=true | 2a02:8010::1 client + London"},
		{"a port is not an address", []string{"10.23.2.45:443"}, "client= trusted=false | 10.23.2.45:443 invalid -"},
		{"leading zeros are not an address", []string{"010.023.002.045"}, "client= trusted=false | 010.023.002.045 invalid -"},
		{"none", nil, "client= trusted=false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.Where(tc.ips)
			if got := brief(w); got != tc.want {
				t.Errorf("Where(%q) =\n%s\nwant\n%s", tc.ips, got, tc.want)
			}
			checkWhere(t, w, len(tc.ips))
		})
	}
}

// checkWhere checks what holds for every Where of n source IPs.
func checkWhere(t *testing.T, w Where, n int) {
	t.Helper()
	if len(w.IPs)+w.Omitted != n || len(w.IPs) > MaxIPs {
		t.Fatalf("%d IPs and %d omitted for %d source IPs", len(w.IPs), w.Omitted, n)
	}
	if w.Trusted && w.ClientIP == "" {
		t.Errorf("trusted without a client")
	}
	// Entries run: unverified ones, then the client, then proxies.
	seenTrusted := false
	clients := 0
	for i, ip := range w.IPs {
		switch ip.Role {
		case RoleForwarded, RoleInvalid:
			if ip.Trusted || seenTrusted {
				t.Errorf("entry %d (%s) is %s after a trusted entry, or trusted", i, ip.Addr, ip.Role)
			}
		case RoleClient:
			clients++
			if !ip.Trusted || !w.Trusted || ip.Addr != w.ClientIP {
				t.Errorf("client entry %d (%s) disagrees with ClientIP %s trusted=%t", i, ip.Addr, w.ClientIP, w.Trusted)
			}
		case RoleProxy:
			if !ip.Trusted {
				t.Errorf("proxy entry %d (%s) untrusted", i, ip.Addr)
			}
		default:
			t.Errorf("entry %d: role %q", i, ip.Role)
		}
		seenTrusted = seenTrusted || ip.Trusted
		if ip.Role == RoleInvalid && ip.Location != (Location{}) {
			t.Errorf("invalid entry %d located: %+v", i, ip.Location)
		}
	}
	if clients > 1 || w.Omitted == 0 && (clients == 1) != w.Trusted {
		t.Errorf("%d client entries with trusted=%t", clients, w.Trusted)
	}
	if c := w.Client(); w.ClientIP != "" && w.Omitted == 0 && (c == nil || c.Addr != w.ClientIP || !c.Trusted) {
		t.Errorf("Client() = %+v for client %s", c, w.ClientIP)
	}
}

// TestWhereOmits: a forged chain longer than MaxIPs keeps the entries
// nearest the API server.
func TestWhereOmits(t *testing.T) {
	e := newTestEnricher(t)
	var ips []string
	for i := range 40 {
		ips = append(ips, fmt.Sprintf("192.0.2.%d", i))
	}
	ips = append(ips, "81.2.69.142", "10.0.0.5")
	w := e.Where(ips)
	checkWhere(t, w, len(ips))
	if w.Omitted != 10 || w.IPs[0].Addr != "192.0.2.10" || w.ClientIP != "81.2.69.142" || w.Client().City != "London" {
		t.Errorf("Where = %s", brief(w))
	}
}

// TestWhereJSON pins the JSON that alerts carry.
func TestWhereJSON(t *testing.T) {
	e := newTestEnricher(t)
	data, err := json.Marshal(e.Where([]string{"81.2.69.142", "10.23.2.45"}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"client_ip":"10.23.2.45","trusted":true,"ips":[` +
		`{"addr":"81.2.69.142","role":"forwarded","trusted":false,"city":"London","region":"England","country":"United Kingdom",` +
		`"country_code":"GB","latitude":51.5142,"longitude":-0.0931,"asn":20712,"org":"Andrews \u0026 Arnold Ltd","source":"geoip"},` +
		`{"addr":"10.23.2.45","role":"client","trusted":true,"city":"Paris","region":"Île-de-France","country":"France",` +
		`"country_code":"FR","org":"Example Corp IT","network":"corp-vpn","source":"network_map"}]}`
	if string(data) != want {
		t.Errorf("JSON:\n%s\nwant\n%s", data, want)
	}
}

// TestSource checks the audit.Locator side against Where for the same
// source IPs, the JSON element forms, and the cache.
func TestSource(t *testing.T) {
	e := newTestEnricher(t)
	tests := []struct {
		raw  string
		want *audit.Source
	}{
		{`["81.2.69.142","10.23.2.45"]`, &audit.Source{IP: "10.23.2.45", Trusted: true, Unverified: 1, City: "Paris",
			Region: "Île-de-France", Country: "France", CountryCode: "FR", Org: "Example Corp IT", Network: "corp-vpn"}},
		{`[ "89.160.20.112" , "81.2.69.142", "10.0.0.5" ]`, &audit.Source{IP: "81.2.69.142", Trusted: true, Unverified: 1,
			City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB", ASN: 20712, Org: "Andrews & Arnold Ltd"}},
		{`["81.2.69.\u0031\u0034\u0032"]`, &audit.Source{IP: "81.2.69.142", Trusted: true,
			City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB", ASN: 20712, Org: "Andrews & Arnold Ltd"}},
		{`["10.0.0.5"]`, &audit.Source{IP: "10.0.0.5"}},
		{`["1.2.3.4",17,null]`, &audit.Source{Unverified: 3}},
		{`[]`, nil},
		{`"10.23.2.45"`, nil},
		{`{}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			raw := []byte(tc.raw)
			first := e.Source(raw)
			if (first == nil) != (tc.want == nil) || first != nil && *first != *tc.want {
				t.Fatalf("Source = %+v, want %+v", first, tc.want)
			}
			if again := e.Source(raw); again != first {
				t.Errorf("second call returned %p, want the cached %p", again, first)
			}
			// The same answer as Where gives.
			if ips := sourceIPs(raw); len(ips) > 0 {
				w := e.Where(ips)
				if first.IP != w.ClientIP || first.Trusted != w.Trusted {
					t.Errorf("Source says %s trusted=%t, Where says %s", first.IP, first.Trusted, brief(w))
				}
			}
		})
	}
	if e.Source(nil) != nil {
		t.Error("Source(nil) != nil")
	}
	raw := []byte(`["81.2.69.142","10.23.2.45"]`)
	if n := testing.AllocsPerRun(100, func() { e.Source(raw) }); n != 0 {
		t.Errorf("a cached Source allocates %v times", n)
	}
	a := e.Where([]string{"10.23.2.45"}).IPs[0].Location
	if n := testing.AllocsPerRun(100, func() { e.Locate(netip.MustParseAddr("10.23.2.45")) }); n != 0 || a != paris {
		t.Errorf("a cached Locate allocates %v times (%+v)", n, a)
	}
}

// TestWhereEvent reads the sourceIPs of an event.
func TestWhereEvent(t *testing.T) {
	e := newTestEnricher(t)
	for _, tc := range []struct {
		event string
		want  string // brief, or "" for nil
	}{
		{`"sourceIPs":["81.2.69.142","10.0.0.5"]`, "client=81.2.69.142 trusted=true | 81.2.69.142 client + London | 10.0.0.5 proxy +"},
		{`"sourceIPs":[]`, ""},
		{`"verb":"get"`, ""},
	} {
		var ev audit.Event
		js := `{"kind":"Event","auditID":"a","stageTimestamp":"2026-01-01T00:00:00Z",` + tc.event + `}`
		if err := audit.Parse(&ev, []byte(js), 0); err != nil {
			t.Fatal(err)
		}
		w := e.WhereEvent(&ev)
		got := ""
		if w != nil {
			got = brief(*w)
		}
		if got != tc.want {
			t.Errorf("WhereEvent(%s) = %q, want %q", tc.event, got, tc.want)
		}
	}
}

// FuzzWhere: any sourceIPs, as strings or as a raw JSON value, gives an
// answer without panicking, Where's invariants hold, and Source agrees
// with Where.
func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		"10.23.2.45", "81.2.69.142,10.0.0.5", "garbage,10.0.0.5", "2a02:8010::1,fd00:1::5", "::ffff:10.0.0.5",
		"fe80::1%eth0,10.0.0.1", ",,,", "1.2.3.4:80", strings.Repeat("192.0.2.1,", 40) + "10.0.0.5",
	} {
		f.Add(s)
	}
	e := newTestEnricher(f)
	f.Fuzz(func(t *testing.T, s string) {
		ips := strings.Split(s, ",")
		w := e.Where(ips)
		checkWhere(t, w, len(ips))
		raw, err := json.Marshal(ips)
		if err != nil {
			t.Fatal(err)
		}
		src := e.Source(raw)
		if src == nil {
			t.Fatalf("Source(%s) = nil", raw)
		}
		if src.IP != w.ClientIP || src.Trusted != w.Trusted {
			t.Errorf("Source(%s) = %s trusted=%t, Where = %s", raw, src.IP, src.Trusted, brief(w))
		}
		unverified := 0
		for _, ip := range w.IPs {
			if !ip.Trusted {
				unverified++
			}
		}
		if w.Omitted == 0 && src.Unverified != unverified {
			t.Errorf("Source(%s).Unverified = %d, Where has %d untrusted entries", raw, src.Unverified, unverified)
		}
		// Arbitrary bytes as the raw value must not panic either.
		e.Source([]byte(s))
		if !slices.Equal(ips, strings.Split(s, ",")) {
			t.Errorf("Where modified its argument")
		}
	})
}

// BenchmarkWhere measures the alert path: a client behind a trusted proxy
// with a forged entry, every address cached.
func BenchmarkWhere(b *testing.B) {
	e := newTestEnricher(b)
	ips := []string{"89.160.20.112", "81.2.69.142", "10.0.0.5"}
	e.Where(ips)
	b.ReportAllocs()
	for b.Loop() {
		e.Where(ips)
	}
}

// BenchmarkSource measures what the ka.source.* fields pay per event once
// warm: the cached Source of a raw sourceIPs value.
func BenchmarkSource(b *testing.B) {
	e := newTestEnricher(b)
	raw := []byte(`["89.160.20.112","81.2.69.142","10.0.0.5"]`)
	e.Source(raw)
	b.ReportAllocs()
	for b.Loop() {
		e.Source(raw)
	}
}

// BenchmarkLocate measures an uncached lookup in both databases and the
// network map, and a cached one.
func BenchmarkLocate(b *testing.B) {
	e := newTestEnricher(b)
	a := netip.MustParseAddr("81.2.69.142")
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		d := e.dbs.Load()
		for b.Loop() {
			e.locate(d, a)
		}
	})
	b.Run("hit", func(b *testing.B) {
		e.Locate(a)
		b.ReportAllocs()
		for b.Loop() {
			e.Locate(a)
		}
	})
}
