package enrich

import (
	"net/netip"
	"strings"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// Where is what is known about where a request came from: which of its
// source IPs to believe, and where each of them is.
type Where struct {
	// ClientIP is the client's address, in canonical form: the first
	// entry from the end that is not a trusted proxy. When the origin is
	// unknown (see Trusted) it is the farthest trusted proxy, or empty
	// when even the last entry is not an address. It is never only the
	// claim of a forwarding header.
	ClientIP string `json:"client_ip,omitempty"`
	// Trusted reports that ClientIP is the request's origin: the
	// connection's peer, or an address that trusted proxies reported. It
	// is false when the trusted proxies reported no origin, or one that
	// is not an address.
	Trusted bool `json:"trusted"`
	// IPs are the source IPs in the event's order (forwarded first, the
	// connection's peer last), each with its role and location.
	IPs []IP `json:"ips,omitempty"`
	// Omitted counts the leading source IPs left out of IPs: at most
	// MaxIPs are kept, the nearest to the API server.
	Omitted int `json:"omitted,omitempty"`
}

// MaxIPs bounds Where.IPs: a forged X-Forwarded-For can hold thousands of
// entries, and each one kept is looked up and journalled with every alert.
const MaxIPs = 32

// IP is one source IP of a request.
type IP struct {
	Addr    string `json:"addr"`    // the address in canonical form; the entry as written when Role is RoleInvalid
	Role    string `json:"role"`    // RoleClient, RoleProxy, RoleForwarded or RoleInvalid
	Trusted bool   `json:"trusted"` // the address was observed or reported by trusted proxies: not a header's unchecked claim
	Location
}

// Roles of the entries of Where.IPs.
const (
	RoleClient    = "client"    // the request's origin (Where.Trusted)
	RoleProxy     = "proxy"     // a trusted proxy the request came through
	RoleForwarded = "forwarded" // before the client: a forwarding header's claim, unverified
	RoleInvalid   = "invalid"   // not an IP address; unverified
)

// Client returns the entry of IPs that is the client, or nil when there is
// none or it was omitted.
func (w *Where) Client() *IP {
	for i := range w.IPs {
		if ip := &w.IPs[i]; ip.Trusted && ip.Addr == w.ClientIP {
			return ip // entries before the client are never trusted
		}
	}
	return nil
}

// parseAddr parses one sourceIPs entry, normalised (see norm).
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, false
	}
	return norm(a), true
}

// walk finds the client among n source IPs, reading entry i with addr(i)
// from the last entry backwards (see the package doc). It returns the
// client's index, -1 for none, and whether the client is the origin.
func (e *Enricher) walk(n int, addr func(int) (netip.Addr, bool)) (client int, origin bool) {
	client = -1
	for i := n - 1; i >= 0; i-- {
		a, ok := addr(i)
		if !ok {
			return client, false // unreadable: the origin is unknown
		}
		if !e.isProxy(a) {
			return i, true
		}
		client = i // the farthest trusted proxy yet
	}
	return client, false // only proxies: none reported an origin
}

// Where decides which of an audit event's sourceIPs to trust and locates
// each of them. Entries that are not IP addresses are reported with
// RoleInvalid. The result shares nothing with sourceIPs.
func (e *Enricher) Where(sourceIPs []string) Where {
	return e.where(e.dbs.Load(), sourceIPs)
}

func (e *Enricher) where(d *dbState, sourceIPs []string) Where {
	n := len(sourceIPs)
	if n == 0 {
		return Where{}
	}
	client, origin := e.walk(n, func(i int) (netip.Addr, bool) { return parseAddr(sourceIPs[i]) })
	w := Where{Trusted: origin}
	if client >= 0 {
		a, _ := parseAddr(sourceIPs[client])
		w.ClientIP = a.String()
	}
	start := max(0, n-MaxIPs)
	w.Omitted = start
	w.IPs = make([]IP, 0, n-start)
	for i := start; i < n; i++ {
		a, ok := parseAddr(sourceIPs[i])
		ip := IP{Addr: sourceIPs[i], Role: RoleInvalid}
		if ok {
			ip.Addr = a.String()
			ip.Location = e.locateIn(d, a)
			switch {
			case client < 0 || i < client:
				ip.Role = RoleForwarded
			case i == client && origin:
				ip.Role, ip.Trusted = RoleClient, true
			default:
				ip.Role, ip.Trusted = RoleProxy, true
			}
		}
		w.IPs = append(w.IPs, ip)
	}
	return w
}

// WhereEvent is Where for the sourceIPs of ev, or nil when ev has none.
func (e *Enricher) WhereEvent(ev *audit.Event) *Where {
	ips := sourceIPs(ev.Top(audit.KeySourceIPs))
	if len(ips) == 0 {
		return nil
	}
	w := e.Where(ips)
	return &w
}

// sourceIPs returns the text of each element of a raw sourceIPs value, or
// nil when it is not an array.
func sourceIPs(raw []byte) []string {
	if rawjson.KindOf(raw) != rawjson.Array {
		return nil
	}
	var out []string
	var buf []byte
	el := rawjson.ElementsOf(raw)
	for {
		v, ok := el.Next()
		if !ok {
			return out
		}
		buf = rawjson.AppendText(buf[:0], v)
		out = append(out, string(buf))
	}
}

// Source says where the request behind an event came from, given the raw
// JSON value of its sourceIPs, for the ka.source.* fields. It implements
// audit.Locator: the answer is cached per value, so that a hit allocates
// nothing.
func (e *Enricher) Source(raw []byte) *audit.Source {
	if raw == nil {
		return nil
	}
	d := e.dbs.Load()
	if s, ok := d.sources.get(raw); ok {
		return s
	}
	s := e.source(d, raw)
	d.sources.put(raw, s)
	return s
}

// source works out Source for a raw sourceIPs value that is not cached.
func (e *Enricher) source(d *dbState, raw []byte) *audit.Source {
	ips := sourceIPs(raw)
	if len(ips) == 0 {
		return nil
	}
	client, origin := e.walk(len(ips), func(i int) (netip.Addr, bool) { return parseAddr(ips[i]) })
	if client < 0 {
		return &audit.Source{Unverified: len(ips)}
	}
	a, _ := parseAddr(ips[client])
	l := e.locateIn(d, a)
	return &audit.Source{
		IP: a.String(), Trusted: origin, Unverified: client,
		City: l.City, Region: l.Region, Country: l.Country, CountryCode: l.CountryCode,
		ASN: l.ASN, Org: l.Org, Network: l.Network,
	}
}

// Enricher locates the sources of the events it is set on.
var _ audit.Locator = (*Enricher)(nil)
