package field

import (
	"strconv"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// This file holds the ka.source.* fields: where the request came from, as
// the event's Locator works it out from sourceIPs (package enrich). They
// are Vigil's own, not Falco's. Without a Locator (enrichment not
// configured, or replay) they are missing, and like every ka.* field they
// are missing without auditID.

// eventSource returns the Locator's Source for ev, or nil.
func eventSource(ev *audit.Event) *audit.Source {
	if ev.Locator == nil || !ev.IsAudit() {
		return nil
	}
	v := ev.Top(audit.KeySourceIPs)
	if v == nil {
		return nil
	}
	return ev.Locator.Source(v)
}

// sourceText binds a field whose value is one text of the Source, missing
// when empty.
func sourceText(get func(*audit.Source) string) binder {
	return func(bound) (Extractor, error) {
		return func(ev *audit.Event, out *Values) bool {
			s := eventSource(ev)
			if s == nil {
				return false
			}
			v := get(s)
			if v == "" {
				return false
			}
			start := len(out.Buf)
			out.Buf = append(out.Buf, v...)
			out.addBufFrom(start)
			return true
		}, nil
	}
}

var (
	textTrue  = []byte("true")
	textFalse = []byte("false")
)

// sourceTrusted is ka.source.trusted.
func sourceTrusted(bound) (Extractor, error) {
	return func(ev *audit.Event, out *Values) bool {
		s := eventSource(ev)
		if s == nil {
			return false
		}
		if s.Trusted {
			out.add(textTrue)
		} else {
			out.add(textFalse)
		}
		return true
	}, nil
}

// sourceASN is ka.source.asn.
func sourceASN(bound) (Extractor, error) {
	return func(ev *audit.Event, out *Values) bool {
		s := eventSource(ev)
		if s == nil || s.ASN == 0 {
			return false
		}
		start := len(out.Buf)
		out.Buf = strconv.AppendUint(out.Buf, uint64(s.ASN), 10)
		out.addBufFrom(start)
		return true
	}, nil
}

// sourceUnverified is ka.source.unverified: the leading sourceIPs entries
// that nothing vouches for.
func sourceUnverified(bound) (Extractor, error) {
	return func(ev *audit.Event, out *Values) bool {
		s := eventSource(ev)
		if s == nil || s.Unverified == 0 {
			return false
		}
		nv, nb := out.mark()
		el := rawjson.ElementsOf(ev.Top(audit.KeySourceIPs))
		for range s.Unverified {
			v, ok := el.Next()
			if !ok {
				// The Locator counted more entries than there are: it
				// broke its contract; report nothing rather than part.
				return out.undo(nv, nb)
			}
			out.addText(v)
		}
		return true
	}, nil
}

// sourceDefs defines the ka.source.* fields.
func sourceDefs() []*Def {
	const (
		pre  = "String, no argument: "
		post = "; missing without source enrichment."
	)
	text := func(name, what string, get func(*audit.Source) string) *Def {
		return &Def{Name: "ka.source." + name, Doc: pre + what + post, bind: sourceText(get)}
	}
	return []*Def{
		text("ip", "the client's address, being the last sourceIPs entry that is not a trusted proxy or, when the origin is unknown, "+
			"the farthest trusted proxy (see ka.source.trusted), and never a forwarding header's unchecked claim",
			func(s *audit.Source) string { return s.IP }),
		{Name: "ka.source.trusted", bind: sourceTrusted,
			Doc: pre + "true when ka.source.ip is the request's origin, being the connection's peer or an address that trusted proxies reported, " +
				"and false when the origin is unknown because the proxies reported none or an entry is not an address " +
				"(ka.source.ip is then the farthest trusted proxy, or missing)" + post},
		text("city", "the city of ka.source.ip, from the network map, else the City database",
			func(s *audit.Source) string { return s.City }),
		text("region", "the region (first subdivision of the country) of ka.source.ip, from the network map, else the City database",
			func(s *audit.Source) string { return s.Region }),
		text("country", "the English name of the country of ka.source.ip, from the network map, else the City database",
			func(s *audit.Source) string { return s.Country }),
		text("country_code", "the ISO 3166-1 alpha-2 code of the country of ka.source.ip such as FR, from the network map, else the City database",
			func(s *audit.Source) string { return s.CountryCode }),
		{Name: "ka.source.asn", bind: sourceASN,
			Doc: pre + "the autonomous system number of ka.source.ip as decimal text, from the ASN database" + post},
		text("org", "the owner of the network of ka.source.ip, from the network map, else the AS organisation of the ASN database",
			func(s *audit.Source) string { return s.Org }),
		text("network", "the name of the network-map entry (the most specific prefix) that holds ka.source.ip",
			func(s *audit.Source) string { return s.Network }),
		{Name: "ka.source.unverified", List: true, bind: sourceUnverified,
			Doc: "List of strings, no argument: the sourceIPs entries before ka.source.ip (all of them when it is missing), " +
				"which came from X-Forwarded-For or X-Real-Ip headers that no trusted proxy vouches for, so anyone could have set them" + post},
	}
}
