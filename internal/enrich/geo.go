package enrich

import "net/netip"

// names holds the English name of a localised MaxMind record. Decoding a
// names map into this struct reads only "en".
type names struct {
	En string `maxminddb:"en"`
}

// country is a country of a City or Country record.
type country struct {
	ISOCode string `maxminddb:"iso_code"`
	Names   names  `maxminddb:"names"`
}

// cityRecord is the part of a GeoLite2/GeoIP2 City or Country record that
// Location reports.
type cityRecord struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Subdivisions []struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Country           country `maxminddb:"country"`
	RegisteredCountry country `maxminddb:"registered_country"` // where the network is registered: for addresses without a country
	Location          struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// asnRecord is a GeoLite2 ASN record.
type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// lookupGeo fills l from the databases of d and reports whether either
// knows a. A record that does not decode (a damaged database) counts as
// unknown: a lookup has no one to report an error to, and the event is
// still evaluated.
func lookupGeo(d *dbState, a netip.Addr, l *Location) bool {
	found := false
	if d.city != nil {
		var r cityRecord
		if res := d.city.Lookup(a); res.Found() && res.Decode(&r) == nil {
			found = true
			l.City = r.City.Names.En
			if len(r.Subdivisions) > 0 {
				l.Region = r.Subdivisions[0].Names.En
			}
			c := r.Country
			if c.ISOCode == "" && c.Names.En == "" {
				c = r.RegisteredCountry
			}
			l.Country, l.CountryCode = c.Names.En, c.ISOCode
			l.Latitude, l.Longitude = r.Location.Latitude, r.Location.Longitude
		}
	}
	if d.asn != nil {
		var r asnRecord
		if res := d.asn.Lookup(a); res.Found() && res.Decode(&r) == nil {
			found = true
			l.ASN, l.Org = r.Number, r.Org
		}
	}
	return found
}
