package enrich

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The test databases are written by mmdbwriter in the layout of MaxMind's
// GeoLite2 City and ASN databases, with a few real-looking networks.

// place is one network of a test City database.
type place struct {
	prefix                      string
	city, region, country, code string
	lat, lon                    float64
	registeredOnly              bool // the country only as registered_country
}

// org is one network of a test ASN database.
type org struct {
	prefix string
	asn    uint32
	name   string
}

var testPlaces = []place{
	{prefix: "81.2.69.0/24", city: "London", region: "England", country: "United Kingdom", code: "GB", lat: 51.5142, lon: -0.0931},
	{prefix: "2a02:8010::/32", city: "London", region: "England", country: "United Kingdom", code: "GB", lat: 51.5142, lon: -0.0931},
	{prefix: "89.160.20.0/24", city: "Linköping", region: "Östergötland County", country: "Sweden", code: "SE", lat: 58.4167, lon: 15.6167},
	{prefix: "202.196.224.0/20", country: "Philippines", code: "PH", registeredOnly: true},
}

var testOrgs = []org{
	{"81.2.69.0/24", 20712, "Andrews & Arnold Ltd"},
	{"2a02:8010::/32", 20712, "Andrews & Arnold Ltd"},
	{"89.160.20.0/24", 29518, "Bredband2 AB"},
}

func localised(s string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(s), "de": mmdbtype.String(s + " (de)")}
}

// writeDB writes a database of type typ with one record per prefix.
func writeDB(t testing.TB, path, typ string, recs map[string]mmdbtype.Map) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, RecordSize: 28, Languages: []string{"en", "de"}})
	if err != nil {
		t.Fatal(err)
	}
	for prefix, rec := range recs {
		_, n, err := net.ParseCIDR(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", prefix, err)
		}
	}
	// Written aside and renamed, as geoipupdate does.
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// writeCityDB writes a GeoLite2-City database of places.
func writeCityDB(t testing.TB, path string, places []place) {
	recs := map[string]mmdbtype.Map{}
	for _, p := range places {
		c := mmdbtype.Map{"iso_code": mmdbtype.String(p.code), "names": localised(p.country), "geoname_id": mmdbtype.Uint32(1)}
		rec := mmdbtype.Map{"registered_country": c}
		if !p.registeredOnly {
			rec["country"] = c
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String("EU"), "names": localised("Europe")}
			rec["city"] = mmdbtype.Map{"names": localised(p.city), "geoname_id": mmdbtype.Uint32(2)}
			rec["subdivisions"] = mmdbtype.Slice{
				mmdbtype.Map{"names": localised(p.region), "iso_code": mmdbtype.String("X")},
				mmdbtype.Map{"names": localised("second level")},
			}
			rec["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(p.lat), "longitude": mmdbtype.Float64(p.lon),
				"accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/London")}
		}
		recs[p.prefix] = rec
	}
	writeDB(t, path, "GeoLite2-City", recs)
}

// writeASNDB writes a GeoLite2-ASN database of orgs.
func writeASNDB(t testing.TB, path string, orgs []org) {
	recs := map[string]mmdbtype.Map{}
	for _, o := range orgs {
		recs[o.prefix] = mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(o.asn),
			"autonomous_system_organization": mmdbtype.String(o.name)}
	}
	writeDB(t, path, "GeoLite2-ASN", recs)
}

// testNetworks is the user's network map of the tests.
var testNetworks = []Network{
	{Prefix: netip.MustParsePrefix("10.23.0.0/16"), Name: "corp-vpn", City: "Paris", Region: "Île-de-France",
		Country: "France", CountryCode: "FR", Owner: "Example Corp IT"},
	{Prefix: netip.MustParsePrefix("10.23.9.0/24"), Name: "lab", City: "Lyon", Country: "France", CountryCode: "FR"},
	{Prefix: netip.MustParsePrefix("fd00:23::/32"), Name: "corp-v6", City: "Paris", Country: "France", CountryCode: "FR"},
	// Public ranges: an owner only, and a place that replaces the database's.
	{Prefix: netip.MustParsePrefix("81.2.69.192/26"), Name: "partner-office", Owner: "Partner Ltd"},
	{Prefix: netip.MustParsePrefix("89.160.20.0/28"), Name: "sthlm", City: "Stockholm", Country: "Sweden", CountryCode: "SE"},
	// Written as IPv4-mapped IPv6.
	{Prefix: netip.MustParsePrefix("::ffff:172.16.0.0/108"), Name: "dmz"},
}

var testProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00:1::/64")}

// testDBs writes the City and ASN databases into a temporary directory.
func testDBs(t testing.TB) (city, asn string) {
	t.Helper()
	dir := t.TempDir()
	city, asn = filepath.Join(dir, "GeoLite2-City.mmdb"), filepath.Join(dir, "GeoLite2-ASN.mmdb")
	writeCityDB(t, city, testPlaces)
	writeASNDB(t, asn, testOrgs)
	return city, asn
}

// newTestEnricher returns an Enricher with the test databases, network
// map and proxies.
func newTestEnricher(t testing.TB) *Enricher {
	t.Helper()
	city, asn := testDBs(t)
	e, err := New(Options{CityDB: city, ASNDB: asn, Networks: testNetworks, TrustedProxies: testProxies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
