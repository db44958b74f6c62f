package field

import (
	"bytes"
	"net/url"

	"github.com/vigilsec/vigil/internal/audit"
)

// uriParam is ka.uri.param[key]: the first value of query parameter key in
// requestURI. Falco parses the URI with Go's url.Parse and the query with
// url.ParseQuery, and any error from either makes the field missing. This
// reproduces both for the request URIs the API server writes (an absolute
// path and a query) without allocating, and falls back to net/url for
// anything else.
func uriParam(b bound) (Extractor, error) {
	key := b.key
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		v := ev.Top(audit.KeyRequestURI)
		if v == nil {
			return false
		}
		nv, nb := out.mark()
		u := out.text(v)
		val, found, simple := queryParam(u, key)
		if !simple {
			return out.slowQueryParam(u, key, nv, nb)
		}
		if !found {
			return out.undo(nv, nb)
		}
		if bytes.IndexByte(val, '%') < 0 && bytes.IndexByte(val, '+') < 0 {
			out.add(val)
			return true
		}
		start := len(out.Buf)
		out.Buf = appendQueryUnescaped(out.Buf, val)
		out.addBufFrom(start)
		return true
	}, nil
}

// maxQueryParams is net/url's limit on the number of query parameters.
const maxQueryParams = 10000

// queryParam finds the raw (still escaped) first value of key in the URI u.
// simple is false when u is not a plain absolute path that this fast path
// handles exactly like url.Parse; the caller then uses net/url. found is
// false when the parameter is absent or when url.Parse or url.ParseQuery
// would fail.
func queryParam(u []byte, key string) (val []byte, found, simple bool) {
	pre, frag, hasFrag := bytes.Cut(u, []byte{'#'})
	if len(pre) == 0 || pre[0] != '/' || (len(pre) > 1 && pre[1] == '/') {
		return nil, false, false
	}
	for _, c := range pre {
		if c < 0x20 || c == 0x7f {
			return nil, false, true // "invalid control character in URL"
		}
	}
	if hasFrag && !validEscapes(frag) {
		return nil, false, true
	}
	path, query, _ := bytes.Cut(pre, []byte{'?'})
	if !validEscapes(path) {
		return nil, false, true
	}
	if bytes.Count(query, []byte{'&'})+1 > maxQueryParams {
		return nil, false, true
	}
	// Every piece must be valid, as one bad piece makes ParseQuery fail.
	for len(query) > 0 {
		var piece []byte
		piece, query, _ = bytes.Cut(query, []byte{'&'})
		if bytes.IndexByte(piece, ';') >= 0 {
			return nil, false, true
		}
		if len(piece) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(piece, []byte{'='})
		if !validEscapes(k) || !validEscapes(v) {
			return nil, false, true
		}
		if !found && queryKeyIs(k, key) {
			val, found = v, true
		}
	}
	return val, found, true
}

// validEscapes reports whether every '%' in s starts a %XX escape.
func validEscapes(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// queryKeyIs reports whether the query component raw (escapes valid)
// unescapes to key.
func queryKeyIs(raw []byte, key string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		case '+':
			c = ' '
		}
		if j >= len(key) || key[j] != c {
			return false
		}
		j++
	}
	return j == len(key)
}

// appendQueryUnescaped appends the query component raw (escapes valid)
// unescaped, as url.QueryUnescape does.
func appendQueryUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		case '+':
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// slowQueryParam handles URIs the fast path does not (a scheme, an
// authority, a relative path) with net/url itself. It allocates, but the API
// server never writes such request URIs.
func (o *Values) slowQueryParam(u []byte, key string, nv, nb int) bool {
	pu, err := url.Parse(string(u))
	if err != nil {
		return o.undo(nv, nb)
	}
	q, err := url.ParseQuery(pu.RawQuery)
	if err != nil {
		return o.undo(nv, nb)
	}
	vals := q[key]
	if len(vals) == 0 {
		return o.undo(nv, nb)
	}
	start := len(o.Buf)
	o.Buf = append(o.Buf, vals[0]...)
	o.addBufFrom(start)
	return true
}
