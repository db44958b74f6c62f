package engine

import (
	"bytes"
	"strconv"
	"strings"
)

// containsFold reports whether k is a substring of v, ignoring ASCII case.
func containsFold(v, k []byte) bool {
	if len(k) == 0 {
		return true
	}
	for i := 0; i+len(k) <= len(v); i++ {
		if asciiEqualFold(v[i:i+len(k)], k) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b []byte) bool {
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// parseNum parses a decimal or 0x hex number.
func parseNum(b []byte) (float64, bool) {
	s := string(b) // no allocation: the conversion does not escape
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		n, err := strconv.ParseUint(s[2:], 16, 64)
		return float64(n), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// globPattern is a shell wildcard pattern with fnmatch(3) semantics and no
// flags: '*' matches any run of bytes, including '/'; '?' one byte; [...] a
// byte class with ranges and '!' or '^' negation; '\' escapes.
type globPattern struct {
	pat  string
	fold bool
}

func compileGlob(p string, fold bool) *globPattern {
	if fold {
		p = strings.ToLower(p)
	}
	return &globPattern{pat: p, fold: fold}
}

func (g *globPattern) match(v []byte) bool { return globMatch(g.pat, v, g.fold) }

// globMatch matches with backtracking on the last '*' only, which is linear
// for patterns without nested stars and at worst O(len(p)*len(v)).
func globMatch(p string, v []byte, fold bool) bool {
	pi, vi := 0, 0
	starP, starV := -1, 0
	for vi < len(v) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starV = pi, vi
				pi++
				continue
			case '?':
				pi++
				vi++
				continue
			case '[':
				if ok, next, valid := matchClass(p, pi, v[vi], fold); valid {
					if ok {
						pi = next
						vi++
						continue
					}
				} else if v[vi] == '[' { // unterminated class: literal '['
					pi++
					vi++
					continue
				}
			case '\\':
				if pi+1 < len(p) && byteEq(p[pi+1], v[vi], fold) {
					pi += 2
					vi++
					continue
				}
			default:
				if byteEq(p[pi], v[vi], fold) {
					pi++
					vi++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starV++
		pi, vi = starP+1, starV
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func byteEq(p, c byte, fold bool) bool {
	if fold {
		return p == lower(c)
	}
	return p == c
}

// matchClass matches c against the class starting at p[i] == '['. valid is
// false when the class is not terminated.
func matchClass(p string, i int, c byte, fold bool) (ok bool, next int, valid bool) {
	if fold {
		c = lower(c)
	}
	j := i + 1
	neg := false
	if j < len(p) && (p[j] == '!' || p[j] == '^') {
		neg = true
		j++
	}
	first := true
	for j < len(p) && (p[j] != ']' || first) {
		first = false
		lo := p[j]
		if lo == '\\' && j+1 < len(p) {
			j++
			lo = p[j]
		}
		hi := lo
		if j+2 < len(p) && p[j+1] == '-' && p[j+2] != ']' {
			hi = p[j+2]
			j += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
		j++
	}
	if j >= len(p) {
		return false, 0, false
	}
	return ok != neg, j + 1, true
}

// pathPattern is one operand of pmatch: a path whose components may hold glob
// characters. A value matches when it equals the path or lies beneath it,
// compared by component.
type pathPattern struct {
	comps []string
}

func compilePath(p string) pathPattern {
	return pathPattern{comps: splitPath(p)}
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

func (pp *pathPattern) match(v []byte) bool {
	rest := v
	for _, comp := range pp.comps {
		for len(rest) > 0 && rest[0] == '/' {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return false
		}
		end := bytes.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if !globMatch(comp, rest[:end], false) {
			return false
		}
		rest = rest[end:]
	}
	return true
}
