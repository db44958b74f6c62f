package engine

import (
	"bytes"
	"math"
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

// number is a parsed numeric value. Integers (decimal, or 0x hex) are held
// exactly as a sign and a magnitude, so that nanosecond timestamps beyond
// 2^53 compare exactly; only a number written with a fraction or an
// exponent, or an integer too large for 64 bits, is a float.
type number struct {
	mag     uint64  // |integer|, when !isFloat
	neg     bool    // the integer is negative (never for zero)
	isFloat bool    // the number is f
	f       float64 // the value, when isFloat
}

// parseNumber parses the number syntax of the condition language: 0x
// followed by hex digits, or [+-]digits with an optional fraction and
// exponent.
func parseNumber(b []byte) (number, bool) {
	if len(b) > 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		var n uint64
		for _, c := range b[2:] {
			d := hexVal(c)
			if d < 0 || n > (1<<64-1)>>4 {
				return number{}, false
			}
			n = n<<4 | uint64(d)
		}
		return number{mag: n}, true
	}
	i := 0
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	digits := i
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == digits {
		return number{}, false
	}
	intEnd := i
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == exp {
			return number{}, false
		}
	}
	if i != len(b) {
		return number{}, false
	}
	if intEnd == len(b) {
		var n uint64
		overflow := false
		for _, c := range b[digits:] {
			d := uint64(c - '0')
			if n > (1<<64-1-d)/10 {
				overflow = true
				break
			}
			n = n*10 + d
		}
		if !overflow {
			return number{mag: n, neg: neg && n != 0}, true
		}
	}
	f, err := strconv.ParseFloat(string(b), 64) // no allocation: the conversion does not escape
	if err != nil {
		return number{}, false
	}
	return number{isFloat: true, f: f}, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// cmpNumber compares a and b exactly and returns -1, 0 or +1.
func cmpNumber(a, b number) int {
	switch {
	case !a.isFloat && !b.isFloat:
		return cmpInt(a.neg, a.mag, b.neg, b.mag)
	case a.isFloat && b.isFloat:
		return cmpFloat(a.f, b.f)
	case b.isFloat:
		return cmpIntFloat(a.neg, a.mag, b.f)
	}
	return -cmpIntFloat(b.neg, b.mag, a.f)
}

func cmpInt(an bool, am uint64, bn bool, bm uint64) int {
	if an != bn {
		if an {
			return -1
		}
		return 1
	}
	c := 0
	if am < bm {
		c = -1
	} else if am > bm {
		c = 1
	}
	if an {
		return -c
	}
	return c
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares the integer with sign neg and magnitude mag with f,
// exactly: the integral part of f is compared as an integer, then its
// fraction breaks a tie.
func cmpIntFloat(neg bool, mag uint64, f float64) int {
	t := math.Trunc(f)
	if t >= 0x1p64 {
		return -1
	}
	if t <= -0x1p64 {
		return 1
	}
	if c := cmpInt(neg, mag, t < 0, uint64(math.Abs(t))); c != 0 {
		return c
	}
	return cmpFloat(0, f-t)
}

// globMatch matches v against the shell wildcard pattern p with fnmatch(3)
// semantics and no flags: '*' matches any run of bytes, including '/'; '?'
// one byte; [...] a byte class with ranges and '!' or '^' negation; '\'
// escapes. With fold (iglob) case is ignored as fnmatch's FNM_CASEFOLD does
// in the C locale: for ASCII letters only, in the pattern and in the value
// alike. The pattern is a string for pmatch components and a []byte for
// glob operands, constant or from val(), which are matched in place.
//
// It backtracks on the last '*' only, which is linear for patterns without
// nested stars and at worst O(len(p)*len(v)).
func globMatch[P string | []byte](p P, v []byte, fold bool) bool {
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
		return lower(p) == lower(c)
	}
	return p == c
}

// matchClass matches c against the class starting at p[i] == '['. valid is
// false when the class is not terminated.
func matchClass[P string | []byte](p P, i int, c byte, fold bool) (ok bool, next int, valid bool) {
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
		if fold {
			lo, hi = lower(lo), lower(hi)
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
