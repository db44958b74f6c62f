package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// API configures the HTTP API and the web UI that `vigil serve` offers on
// its listener, and who may use them.
type API struct {
	// Enabled serves /api/v1 and the UI (default true; they need a store).
	Enabled bool `yaml:"enabled"`
	// Users log in to the UI with a password. Without users and tokens,
	// the first start creates the user "admin" with a random password in
	// <data_dir>/admin-password.
	Users []APIUser `yaml:"users"`
	// Tokens are bearer tokens for scripts and integrations.
	Tokens []APIToken `yaml:"tokens"`
	// SessionTTL is how long a UI login lasts (default 12h).
	SessionTTL Duration `yaml:"session_ttl"`
	// SessionKeyFile holds the key that signs session cookies; replicas
	// sharing a store share it. Default: <data_dir>/session.key, created.
	SessionKeyFile string `yaml:"session_key_file"`
	// AnonymousRole lets requests without credentials in with this role
	// (viewer, responder or admin). Empty (the default) requires a login.
	AnonymousRole string `yaml:"anonymous_role"`
}

// APIUser is a UI login.
type APIUser struct {
	Name string `yaml:"name"`
	// PasswordHash is the password's bcrypt hash (`vigil hash-password`
	// prints one); PasswordHashFile holds it instead.
	PasswordHash     Secret `yaml:"password_hash"`
	PasswordHashFile string `yaml:"password_hash_file"`
	Role             string `yaml:"role"` // viewer, responder or admin
}

// APIToken is a bearer token for the API.
type APIToken struct {
	Name      string `yaml:"name"`       // who uses it, for logs and comments
	Token     Secret `yaml:"token"`      // the token (prefer token_file)
	TokenFile string `yaml:"token_file"` // file holding the token (one line)
	Role      string `yaml:"role"`       // viewer, responder or admin
}

// Roles are the API roles, least privileged first.
var Roles = []string{"viewer", "responder", "admin"}

func validRole(r string) bool {
	for _, v := range Roles {
		if r == v {
			return true
		}
	}
	return false
}

// Enrich says where source IPs are: MaxMind-format databases for public
// addresses and the user's own map for private ranges.
type Enrich struct {
	GeoIPCityDB string `yaml:"geoip_city_db"` // GeoLite2/GeoIP2 City .mmdb
	GeoIPASNDB  string `yaml:"geoip_asn_db"`  // GeoLite2/GeoIP2 ASN .mmdb
	// Networks is the user's own network map, checked before the
	// databases; the most specific prefix wins.
	Networks []Network `yaml:"networks"`
	// TrustedProxies are the prefixes of proxies in front of the API
	// servers whose X-Forwarded-For entries are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Network is one entry of the network map.
type Network struct {
	CIDR        string `yaml:"cidr"`
	Name        string `yaml:"name"` // e.g. "corp-vpn"
	City        string `yaml:"city"`
	Region      string `yaml:"region"`
	Country     string `yaml:"country"`
	CountryCode string `yaml:"country_code"`
	Owner       string `yaml:"owner"` // the network's owner, in place of the ASN organisation
}

func (c *Config) validateAPI(bad func(key, format string, args ...any)) {
	a := &c.API
	if a.SessionTTL < 0 {
		bad("api.session_ttl", "must not be negative")
	}
	if a.AnonymousRole != "" && !validRole(a.AnonymousRole) {
		bad("api.anonymous_role", "%q: expected %s", a.AnonymousRole, strings.Join(Roles, ", "))
	}
	names := map[string]bool{}
	for i, u := range a.Users {
		key := fmt.Sprintf("api.users[%d]", i)
		switch {
		case u.Name == "":
			bad(key+".name", "must not be empty")
		case names[u.Name]:
			bad(key+".name", "%q is given twice", u.Name)
		}
		names[u.Name] = true
		if (u.PasswordHash == "") == (u.PasswordHashFile == "") {
			bad(key, "needs exactly one of password_hash and password_hash_file")
		}
		if !validRole(u.Role) {
			bad(key+".role", "%q: expected %s", u.Role, strings.Join(Roles, ", "))
		}
	}
	for i, t := range a.Tokens {
		key := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			bad(key+".name", "must not be empty")
		}
		if (t.Token == "") == (t.TokenFile == "") {
			bad(key, "needs exactly one of token and token_file")
		}
		if !validRole(t.Role) {
			bad(key+".role", "%q: expected %s", t.Role, strings.Join(Roles, ", "))
		}
	}
	e := &c.Enrich
	for i, n := range e.Networks {
		key := fmt.Sprintf("enrich.networks[%d]", i)
		if _, err := netip.ParsePrefix(n.CIDR); err != nil {
			bad(key+".cidr", "%q is not a CIDR prefix", n.CIDR)
		}
		if n.Name == "" && n.City == "" && n.Country == "" && n.Owner == "" {
			bad(key, "says nothing: give at least one of name, city, country and owner")
		}
	}
	for i, p := range e.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad(fmt.Sprintf("enrich.trusted_proxies[%d]", i), "%q is neither an address nor a CIDR prefix", p)
			}
		}
	}
}
