package rawjson

import (
	"strconv"
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
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || (len(tok) > 1 && tok[0] == '0') {
				return nil, false
			}
			var ok bool
			if v, ok = Index(v, n); !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}
