package enrich

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	london = Location{City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB",
		Latitude: 51.5142, Longitude: -0.0931, ASN: 20712, Org: "Andrews & Arnold Ltd", Source: SourceGeoIP}
	paris = Location{City: "Paris", Region: "Île-de-France", Country: "France", CountryCode: "FR",
		Org: "Example Corp IT", Network: "corp-vpn", Source: SourceNetworkMap}
)

func TestLocate(t *testing.T) {
	e := newTestEnricher(t)
	tests := []struct {
		name string
		addr string
		want Location
	}{
		{"the seed's example: a private address from the network map", "10.23.2.45", paris},
		{"the most specific prefix wins", "10.23.9.1",
			Location{City: "Lyon", Country: "France", CountryCode: "FR", Network: "lab", Source: SourceNetworkMap}},
		{"City and ASN databases", "81.2.69.10", london},
		{"IPv6 from the databases", "2a02:8010::1", london},
		{"IPv4-mapped IPv6 is looked up as IPv4", "::ffff:81.2.69.10", london},
		{"a zone is ignored", "fe80::1%eth0", Location{}},
		{"IPv6 network map", "fd00:23::5",
			Location{City: "Paris", Country: "France", CountryCode: "FR", Network: "corp-v6", Source: SourceNetworkMap}},
		{"map owner replaces the AS organisation, the place stays", "81.2.69.200",
			Location{City: "London", Region: "England", Country: "United Kingdom", CountryCode: "GB",
				Latitude: 51.5142, Longitude: -0.0931, ASN: 20712, Org: "Partner Ltd", Network: "partner-office", Source: SourceNetworkMap}},
		{"a map place replaces the database's whole", "89.160.20.5",
			Location{City: "Stockholm", Country: "Sweden", CountryCode: "SE", ASN: 29518, Org: "Bredband2 AB",
				Network: "sthlm", Source: SourceNetworkMap}},
		{"outside the map entry the database answers", "89.160.20.112",
			Location{City: "Linköping", Region: "Östergötland County", Country: "Sweden", CountryCode: "SE",
				Latitude: 58.4167, Longitude: 15.6167, ASN: 29518, Org: "Bredband2 AB", Source: SourceGeoIP}},
		{"registered country when there is no country", "202.196.224.1",
			Location{Country: "Philippines", CountryCode: "PH", Source: SourceGeoIP}},
		{"IPv4-mapped map prefix", "172.16.3.4", Location{Network: "dmz", Source: SourceNetworkMap}},
		{"unknown public address", "192.0.2.1", Location{}},
		{"unknown private address", "192.168.1.1", Location{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			for _, pass := range []string{"miss", "hit"} {
				if got := e.Locate(a); got != tc.want {
					t.Errorf("%s: Locate(%s) =\n%+v, want\n%+v", pass, tc.addr, got, tc.want)
				}
			}
		})
	}
	if got := e.Locate(netip.Addr{}); got != (Location{}) {
		t.Errorf("Locate(invalid) = %+v", got)
	}
}

func TestNewErrors(t *testing.T) {
	city, asn := testDBs(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.mmdb")
	garbage := filepath.Join(dir, "garbage.mmdb")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database\n", 100)), 0o644)
	empty := filepath.Join(dir, "empty.mmdb")
	os.WriteFile(empty, nil, 0o644)
	p := netip.MustParsePrefix
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"missing city database", Options{CityDB: missing}, "city database " + missing + ": no such file or directory"},
		{"missing ASN database", Options{CityDB: city, ASNDB: missing}, "ASN database " + missing + ": no such file or directory"},
		{"not a database", Options{CityDB: garbage}, "city database " + garbage + ": error opening database: invalid MaxMind DB file"},
		{"empty file", Options{ASNDB: empty}, "ASN database " + empty + ": file is empty"},
		{"the paths swapped", Options{CityDB: asn, ASNDB: city},
			"city database " + asn + `: its type is "GeoLite2-ASN", not a MaxMind city database`},
		{"a City database as ASN", Options{ASNDB: city},
			"ASN database " + city + `: its type is "GeoLite2-City", not a MaxMind ASN database`},
		{"invalid network prefix", Options{Networks: []Network{{Name: "x"}}}, `network map entry 1 ("x"): invalid prefix`},
		{"duplicate network prefix", Options{Networks: []Network{
			{Prefix: p("10.0.0.0/8"), Name: "a"}, {Prefix: p("10.1.0.0/16"), Name: "b"}, {Prefix: p("10.9.9.9/8"), Name: "c"}}},
			`network map: 10.0.0.0/8 appears twice ("a" and "c")`},
		{"invalid proxy prefix", Options{TrustedProxies: []netip.Prefix{{}}}, "trusted proxies: invalid prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.opts)
			if err == nil {
				e.Close()
				t.Fatalf("New succeeded, want error %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestZeroOptions: without databases or a map, an Enricher still decides
// which address to trust and locates nothing.
func TestZeroOptions(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	w := e.Where([]string{"81.2.69.10", "10.23.2.45"})
	if w.ClientIP != "10.23.2.45" || !w.Trusted || w.IPs[0].Role != RoleForwarded || w.IPs[0].Location != (Location{}) {
		t.Errorf("Where = %+v", w)
	}
}

// TestReload: a database replaced on disk takes effect at Reload, and a
// failed Reload keeps the databases in use.
func TestReload(t *testing.T) {
	city, asn := testDBs(t)
	e, err := New(Options{CityDB: city, ASNDB: asn})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := netip.MustParseAddr("81.2.69.10")
	src := []byte(`["81.2.69.10"]`)
	if got := e.Locate(a).City; got != "London" {
		t.Fatalf("city = %q", got)
	}
	if got := e.Source(src).City; got != "London" {
		t.Fatalf("source city = %q", got)
	}
	moved := []place{{prefix: "81.2.69.0/24", city: "Manchester", region: "England", country: "United Kingdom", code: "GB"}}
	writeCityDB(t, city, moved)
	if got := e.Locate(a).City; got != "London" {
		t.Errorf("before Reload: city = %q, want the old database's London", got)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := e.Locate(a).City; got != "Manchester" {
		t.Errorf("after Reload: city = %q, want Manchester", got)
	}
	if got := e.Source(src).City; got != "Manchester" {
		t.Errorf("after Reload: source city = %q, want Manchester", got)
	}
	os.Remove(asn)
	if err := e.Reload(); err == nil || !strings.Contains(err.Error(), "ASN database "+asn) {
		t.Errorf("Reload without the ASN file: %v", err)
	}
	if got := e.Locate(a); got.City != "Manchester" || got.ASN != 20712 {
		t.Errorf("after a failed Reload: %+v, want the databases in use", got)
	}
}

// TestClose: after Close the network map still answers.
func TestClose(t *testing.T) {
	e := newTestEnricher(t)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.Locate(netip.MustParseAddr("10.23.2.45")); got != paris {
		t.Errorf("map after Close = %+v", got)
	}
	if got := e.Locate(netip.MustParseAddr("81.2.69.10")); got != (Location{}) {
		t.Errorf("database after Close = %+v", got)
	}
}

// TestConcurrent runs lookups from many goroutines while the databases
// are reloaded, for the race detector, and checks every answer.
func TestConcurrent(t *testing.T) {
	e := newTestEnricher(t)
	raws := [][]byte{[]byte(`["81.2.69.142","10.0.0.5"]`), []byte(`["10.23.2.45"]`), []byte(`["89.160.20.112"]`)}
	cities := []string{"London", "Paris", "Linköping"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := (g + i) % len(raws)
				if got := e.Source(raws[k]); got == nil || got.City != cities[k] {
					t.Errorf("Source(%s) = %+v", raws[k], got)
					return
				}
				if got := e.Where(sourceIPs(raws[k])); got.Client().City != cities[k] {
					t.Errorf("Where(%s) = %s", raws[k], brief(got))
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := e.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
}
