package store

import (
	"encoding/json"
	"unicode/utf8"
)

// eventKeys are the filter columns read from an audit event.
type eventKeys struct {
	user, namespace, verb, resource string
	sourceIPs                       []string
}

// scanEvent reads the keys of the audit event b: user.username,
// objectRef.namespace, objectRef.resource, verb, and the strings of
// sourceIPs. A key of another type than expected reads as empty. It returns
// false if b is not a JSON object. It decodes only what it returns, so
// that storing an alert does not cost a decoding of its whole event.
func scanEvent(b []byte) (eventKeys, bool) {
	var k eventKeys
	s := scanner{b: b}
	if s.peek() != '{' {
		return k, false
	}
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "user":
			return s.object(func(key []byte) bool {
				if string(key) == "username" {
					return s.str(&k.user)
				}
				return s.skip()
			})
		case "objectRef":
			return s.object(func(key []byte) bool {
				switch string(key) {
				case "namespace":
					return s.str(&k.namespace)
				case "resource":
					return s.str(&k.resource)
				}
				return s.skip()
			})
		case "verb":
			return s.str(&k.verb)
		case "sourceIPs":
			k.sourceIPs = nil
			return s.array(func() bool {
				var ip string
				if s.peek() != '"' {
					return s.skip()
				}
				if !s.str(&ip) {
					return false
				}
				k.sourceIPs = append(k.sourceIPs, ip)
				return true
			})
		}
		return s.skip()
	})
	if !ok {
		return eventKeys{}, false
	}
	if s.ws(); s.i != len(s.b) {
		return eventKeys{}, false
	}
	return k, true
}

// maxDepth bounds the nesting scanner.skip follows, as encoding/json's.
const maxDepth = 10000

// scanner reads JSON from b. Its methods return false on a syntax error.
type scanner struct {
	b     []byte
	i     int
	depth int // of the containers skip is in
}

// ws skips whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// object reads an object, or null, calling member with each key and the
// scanner at its value, which member must read.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return s.other()
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		start := s.i
		esc, ok := s.skipString()
		if !ok {
			return false
		}
		key := s.b[start+1 : s.i-1]
		if esc { // keys with escapes are rare: decode them the slow way
			var k string
			if json.Unmarshal(s.b[start:s.i], &k) != nil {
				return false
			}
			key = []byte(k)
		}
		if s.peek() != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, or null, calling elem with the scanner at each
// element, which elem must read.
func (s *scanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return s.other()
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// other reads a value of a type other than the caller wanted, leaving
// what the caller reads empty.
func (s *scanner) other() bool { return s.skip() }

// str reads a string into v, or, for a value of another type, leaves v
// empty.
func (s *scanner) str(v *string) bool {
	*v = ""
	if s.peek() != '"' {
		return s.skip()
	}
	start := s.i
	esc, ok := s.skipString()
	if !ok {
		return false
	}
	if !esc {
		*v = string(s.b[start+1 : s.i-1])
		return true
	}
	return json.Unmarshal(s.b[start:s.i], v) == nil
}

// skipString moves past the string at s.i, reporting whether it has
// escapes. Like encoding/json, it accepts invalid UTF-8 (which decodes to
// U+FFFD) but no control characters.
func (s *scanner) skipString() (esc, ok bool) {
	s.i++ // the opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return esc, true
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return esc, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return esc, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHex(h) {
						return esc, false
					}
				}
				s.i += 6
			default:
				return esc, false
			}
		case c < 0x20:
			return esc, false
		case c >= utf8.RuneSelf:
			// Invalid UTF-8 decodes to U+FFFD: copying the bytes would differ.
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				esc = true
			}
			s.i += n
		default:
			s.i++
		}
	}
	return esc, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skip moves past one value.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '{' || c == '[':
		if s.depth++; s.depth > maxDepth {
			return false
		}
		var ok bool
		if c == '{' {
			ok = s.object(func([]byte) bool { return s.skip() })
		} else {
			ok = s.array(s.skip)
		}
		s.depth--
		return ok
	case c == '"':
		_, ok := s.skipString()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) literal(l string) bool {
	if len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		return false
	}
	s.i += len(l)
	return true
}

// number moves past a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
