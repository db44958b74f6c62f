// Package enrich says where the requests behind audit events came from:
// which of an event's source IPs can be believed, and where each one is.
//
// # Which address to believe
//
// An audit event's sourceIPs lists the addresses of the X-Forwarded-For
// header, then X-Real-Ip, then the address of the connection the API server
// saw (k8s.io/apimachinery's utilnet.SourceIPs; it drops duplicates and
// entries that are not addresses). Only the last one was observed. The
// others are request headers, which anyone can set, so a client can put
// any address it likes in front of its own.
//
// Where therefore walks the list from the end. An entry inside one of
// Options.TrustedProxies is a proxy: it is believed to have forwarded the
// request, so the walk goes on to the entry before it, which that proxy
// reported. The first entry that is not a trusted proxy is the client, and
// is trustworthy. Every entry before the client is unverified.
//
// When the walk runs out of entries before finding one that is not a
// trusted proxy (the proxies reported no origin), or meets an entry that
// is not an address, the origin is unknown. The client is then the
// farthest trusted proxy the walk passed, marked untrusted, or nothing when
// even the last entry is unreadable. A client address is therefore never
// a header's unchecked claim.
//
// # Where an address is
//
// Locate looks an address up first in the user's network map (the most
// specific prefix wins), which is how private ranges get a name and a
// place: no public database knows where 10.23.2.45 is. MaxMind-format
// databases (GeoLite2/GeoIP2 City or Country, GeoLite2 ASN) say the rest.
// A map entry that names a place (city, region or country) replaces the
// databases' place as a whole, and its owner replaces the AS organisation;
// what it leaves empty comes from the databases. Results are cached per address
// and, for the ka.source.* fields, per sourceIPs value, so that evaluation
// does not allocate once warm.
package enrich

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Options configure an Enricher. The zero value is valid: it decides which
// address to trust (every connection peer is then the client) and locates
// nothing.
type Options struct {
	CityDB         string         // path of a MaxMind City or Country database (.mmdb); "" for none
	ASNDB          string         // path of a MaxMind ASN database (.mmdb); "" for none
	Networks       []Network      // the user's own network map, checked before the databases
	TrustedProxies []netip.Prefix // proxies whose forwarding headers are believed
}

// Network is one entry of the user's network map: a prefix and what to say
// about the addresses in it. What it leaves empty comes from the databases,
// except that a place is taken whole (see the package doc).
type Network struct {
	Prefix      netip.Prefix // e.g. 10.23.0.0/16
	Name        string       // e.g. "corp-vpn"; the ka.source.network field
	City        string       // e.g. "Paris"
	Region      string       // e.g. "Île-de-France"
	Country     string       // e.g. "France"
	CountryCode string       // ISO 3166-1 alpha-2, e.g. "FR"
	Owner       string       // who runs the network, e.g. "Example Corp IT"
}

// Location is what is known about where an address is. Strings are empty,
// and numbers 0, when unknown.
type Location struct {
	City        string  `json:"city,omitempty"`
	Region      string  `json:"region,omitempty"`       // the first subdivision of the country
	Country     string  `json:"country,omitempty"`      // English name
	CountryCode string  `json:"country_code,omitempty"` // ISO 3166-1 alpha-2
	Latitude    float64 `json:"latitude,omitempty"`     // from the City database; 0 with Longitude when unknown
	Longitude   float64 `json:"longitude,omitempty"`
	ASN         uint32  `json:"asn,omitempty"`     // autonomous system number
	Org         string  `json:"org,omitempty"`     // the network's owner: the map's Owner, else the AS organisation
	Network     string  `json:"network,omitempty"` // the network-map entry's name
	Source      string  `json:"source,omitempty"`  // SourceNetworkMap, SourceGeoIP or "" when nothing is known
}

// Values of Location.Source.
const (
	SourceNetworkMap = "network_map" // a network-map entry holds the address (the databases may fill gaps)
	SourceGeoIP      = "geoip"       // only the databases know the address
)

// Enricher locates addresses and decides which source IP to trust. It is
// safe for concurrent use. Create it with New and Close it when done.
type Enricher struct {
	cityPath, asnPath string
	networks          []Network      // most specific prefix first
	proxies           []netip.Prefix // normalised (see norm)

	mu  sync.Mutex              // serialises Reload and Close
	dbs atomic.Pointer[dbState] // the open databases and the caches of their answers
}

// dbState is one generation of databases with the caches that depend on
// them. Reload replaces it whole.
type dbState struct {
	city, asn *maxminddb.Reader // nil when not configured
	addrs     addrCache
	sources   sourceCache
}

// New checks opts and opens the databases. Errors name the file.
func New(opts Options) (*Enricher, error) {
	e := &Enricher{cityPath: opts.CityDB, asnPath: opts.ASNDB}
	var errs []error
	for i, n := range opts.Networks {
		if !n.Prefix.IsValid() {
			errs = append(errs, fmt.Errorf("network map entry %d (%q): invalid prefix", i+1, n.Name))
			continue
		}
		n.Prefix = normPrefix(n.Prefix)
		e.networks = append(e.networks, n)
	}
	// Most specific first; a stable sort keeps equal prefixes in order so
	// that the duplicate check below names them as the user wrote them.
	slices.SortStableFunc(e.networks, func(a, b Network) int { return b.Prefix.Bits() - a.Prefix.Bits() })
	for i := 1; i < len(e.networks); i++ {
		if a, b := e.networks[i-1], e.networks[i]; a.Prefix == b.Prefix {
			errs = append(errs, fmt.Errorf("network map: %s appears twice (%q and %q)", a.Prefix, a.Name, b.Name))
		}
	}
	for _, p := range opts.TrustedProxies {
		if !p.IsValid() {
			errs = append(errs, errors.New("trusted proxies: invalid prefix"))
			continue
		}
		e.proxies = append(e.proxies, normPrefix(p))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d, err := e.open()
	if err != nil {
		return nil, err
	}
	e.dbs.Store(d)
	return e, nil
}

// open opens the configured databases into a new generation.
func (e *Enricher) open() (*dbState, error) {
	d := newDBState()
	var err error
	if d.city, err = openDB("city", e.cityPath, isCityDB); err != nil {
		return nil, err
	}
	if d.asn, err = openDB("ASN", e.asnPath, isASNDB); err != nil {
		if d.city != nil {
			d.city.Close()
		}
		return nil, err
	}
	return d, nil
}

// isCityDB and isASNDB tell a database's kind from its metadata type, such
// as GeoLite2-City, GeoIP2-Country or DBIP-ASN-Lite (compat=GeoLite2-ASN),
// to catch the two paths given the wrong way round.
func isCityDB(typ string) bool {
	return !strings.Contains(typ, "ASN") && (strings.Contains(typ, "City") || strings.Contains(typ, "Country") ||
		strings.Contains(typ, "Enterprise"))
}

func isASNDB(typ string) bool { return strings.Contains(typ, "ASN") }

// openDB opens one database, checking that its type is what kind needs.
func openDB(kind, path string, fits func(string) bool) (*maxminddb.Reader, error) {
	if path == "" {
		return nil, nil
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		// An fs.PathError repeats the path; keep only its cause.
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s database %s: %w", kind, path, err)
	}
	if typ := r.Metadata.DatabaseType; !fits(typ) {
		r.Close()
		return nil, fmt.Errorf("%s database %s: its type is %q, not a MaxMind %s database", kind, path, typ, kind)
	}
	return r, nil
}

// Reload reopens the databases from their paths, so that files replaced
// since (geoipupdate writes a new file and renames it over the old one)
// take effect, and empties the caches. On error the databases in use stay.
// Lookups may run concurrently: the replaced databases are not closed but
// released to the garbage collector, which unmaps them once no lookup uses
// them any more.
func (e *Enricher) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, err := e.open()
	if err != nil {
		return err
	}
	e.dbs.Store(d)
	return nil
}

// Close closes the databases. Afterwards the Enricher still answers from
// the network map. It must not run concurrently with lookups: stop the
// evaluator first.
func (e *Enricher) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.dbs.Swap(newDBState())
	var errs []error
	if d.city != nil {
		errs = append(errs, d.city.Close())
	}
	if d.asn != nil {
		errs = append(errs, d.asn.Close())
	}
	return errors.Join(errs...)
}

// norm makes an address comparable with the prefixes: an IPv4-mapped IPv6
// address becomes IPv4 and a zone is dropped.
func norm(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// normPrefix is norm for prefixes: ::ffff:10.0.0.0/104 becomes 10.0.0.0/8,
// and host bits are cleared.
func normPrefix(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a.WithZone(""), bits).Masked()
}

// isProxy reports whether a is one of the trusted proxies.
func (e *Enricher) isProxy(a netip.Addr) bool {
	for _, p := range e.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Locate says where a is. It does not allocate when the answer is cached.
func (e *Enricher) Locate(a netip.Addr) Location {
	return e.locateIn(e.dbs.Load(), a)
}

// locateIn is Locate with the databases and caches of d.
func (e *Enricher) locateIn(d *dbState, a netip.Addr) Location {
	a = norm(a)
	if !a.IsValid() {
		return Location{}
	}
	if l := d.addrs.get(a); l != nil {
		return *l
	}
	l := e.locate(d, a)
	d.addrs.put(a, &l)
	return l
}

// locate looks a up in the network map and the databases.
func (e *Enricher) locate(d *dbState, a netip.Addr) Location {
	var l Location
	if found := lookupGeo(d, a, &l); found {
		l.Source = SourceGeoIP
	}
	for i := range e.networks {
		n := &e.networks[i]
		if !n.Prefix.Contains(a) {
			continue
		}
		l.Source = SourceNetworkMap
		l.Network = n.Name
		if n.City != "" || n.Region != "" || n.Country != "" || n.CountryCode != "" {
			// A place is taken whole: a city from the map and a region
			// from the databases could name two different places.
			l.City, l.Region, l.Country, l.CountryCode = n.City, n.Region, n.Country, n.CountryCode
			l.Latitude, l.Longitude = 0, 0
		}
		if n.Owner != "" {
			l.Org = n.Owner
		}
		break
	}
	return l
}
