package rawjson

import (
	"strings"
)

// Pointer is a parsed RFC 6901 JSON pointer: its reference tokens with ~1 and
// ~0 already resolved.
type Pointer []string

// ParsePointer splits s into reference tokens. The leading '/' is optional,
// as in Falco's json plugin. "" denotes the whole document, and "/" the
// member whose name is empty.
func ParsePointer(s string) Pointer {
	if s == "" {
		return Pointer{}
	}
	s = strings.TrimPrefix(s, "/")
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if strings.Contains(p, "~") {
			p = strings.ReplaceAll(p, "~1", "/")
			parts[i] = strings.ReplaceAll(p, "~0", "~")
		}
	}
	return Pointer(parts)
}

// Lookup returns the value p points to inside the validated value v.
// A token indexes an array when it is a decimal number.
func (p Pointer) Lookup(v []byte) ([]byte, bool) {
	for _, tok := range p {
		switch KindOf(v) {
		case Object:
			var ok bool
			if v, ok = Get(v, tok); !ok {
				return nil, false
			}
		case Array:
			n, ok := arrayIndex(tok)
			if !ok {
				return nil, false
			}
			if v, ok = Index(v, n); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}

// arrayIndex parses an RFC 6901 array index: "0", or decimal digits without
// a leading zero or sign.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
		n = n*10 + int(tok[i]-'0')
	}
	return n, true
}
