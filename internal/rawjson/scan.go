// Package rawjson reads JSON in place. It validates a document in one pass
// and then answers lookups by walking the raw bytes: no tree is built and
// nothing is allocated. It exists because generic decoding into maps costs
// about 22 µs and 186 allocations per audit event, while rules need only a
// handful of values from each event.
//
// Every function other than Scan and Valid assumes its input was validated;
// on invalid input they return "not found" results but never panic.
package rawjson

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
)

// DefaultMaxDepth is the nesting limit used when none is given.
const DefaultMaxDepth = 200

// SyntaxError describes invalid JSON.
type SyntaxError struct {
	Offset int    // byte offset of the problem in the scanned input
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// ErrUnexpectedEnd is the Msg-independent sentinel wrapped by errors that are
// caused by input ending in the middle of a value. Streaming readers use it
// to tell "need more bytes" from "malformed".
var ErrUnexpectedEnd = errors.New("unexpected end of JSON input")

// DepthError reports a document nested deeper than the limit.
type DepthError struct {
	Offset int // where the limit was crossed
	Max    int // the limit
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("offset %d: nesting deeper than %d levels", e.Offset, e.Max)
}

type endError struct{ off int }

func (e *endError) Error() string {
	return fmt.Sprintf("offset %d: %s", e.off, ErrUnexpectedEnd.Error())
}
func (e *endError) Unwrap() error { return ErrUnexpectedEnd }

// Visitor receives the top-level members of an object passed to Scan.
type Visitor interface {
	// Member is called for each key of the outermost object, in order. key is
	// the raw key text between the quotes (escapes not resolved); val is the
	// member's raw value. Both alias the scanned input.
	Member(key, val []byte)
}

// strPlain marks bytes that can appear in a JSON string without ending it or
// starting an escape: everything but '"', '\\' and control characters.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

type scanner struct {
	data     []byte
	maxDepth int
	depth    int
}

// Scan validates the JSON value that starts at data[0] (after optional
// whitespace) and returns the offset just past it. Bytes after the value are
// not examined. If the value is an object and v is non-nil, v receives its
// top-level members. A value truncated by the end of data gives an error that
// wraps ErrUnexpectedEnd.
func Scan(data []byte, maxDepth int, v Visitor) (end int, err error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	s := scanner{data: data, maxDepth: maxDepth}
	i := s.ws(0)
	if i < len(data) && data[i] == '{' && v != nil {
		return s.topObject(i, v)
	}
	return s.value(i)
}

// Valid reports whether data holds exactly one JSON value, with optional
// surrounding whitespace.
func Valid(data []byte, maxDepth int) error {
	end, err := Scan(data, maxDepth, nil)
	if err != nil {
		return err
	}
	s := scanner{data: data}
	if i := s.ws(end); i < len(data) {
		return s.errAt(i, "after top-level value")
	}
	return nil
}

func (s *scanner) ws(i int) int {
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	return i
}

func (s *scanner) errAt(i int, context string) error {
	if i >= len(s.data) {
		return &endError{off: i}
	}
	return &SyntaxError{Offset: i, Msg: "invalid character " + quoteChar(s.data[i]) + " " + context}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	if c >= 0x80 {
		q = fmt.Sprintf(`"\x%02x"`, c)
	}
	return "'" + q[1:len(q)-1] + "'"
}

func (s *scanner) value(i int) (int, error) {
	if i >= len(s.data) {
		return i, &endError{off: i}
	}
	switch c := s.data[i]; c {
	case '"':
		return s.str(i)
	case '{':
		return s.object(i)
	case '[':
		return s.array(i)
	case 't':
		return s.lit(i, "true")
	case 'f':
		return s.lit(i, "false")
	case 'n':
		return s.lit(i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.number(i)
		}
		return i, s.errAt(i, "looking for beginning of value")
	}
}

func (s *scanner) lit(i int, word string) (int, error) {
	for k := 0; k < len(word); k++ {
		if i+k >= len(s.data) {
			return i + k, &endError{off: i + k}
		}
		if s.data[i+k] != word[k] {
			return i + k, s.errAt(i+k, "in literal "+word+" (expecting "+quoteChar(word[k])+")")
		}
	}
	return i + len(word), nil
}

// SWAR constants: a word with 0x01 / 0x80 in every byte.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask returns, for the 8 bytes of w (little-endian), a word whose
// high bit is set in the lane of every '"', '\\' or control byte. Lanes
// above the first flagged one may also be flagged falsely (borrows), but
// the lowest flagged lane is always exact, which is all callers use.
func specialMask(w uint64) uint64 {
	quote := w ^ (lsb * '"')
	bslash := w ^ (lsb * '\\')
	// A zero byte in x shows as (x - 0x01) & ^x & 0x80; bytes below 0x20
	// show the same way with w - 0x20.
	return (((quote - lsb) &^ quote) | ((bslash - lsb) &^ bslash) | ((w - lsb*0x20) &^ w)) & msb
}

// plainWord reports whether none of the 8 bytes of w is '"', '\\' or a
// control character.
func plainWord(w uint64) bool { return specialMask(w) == 0 }

// nextSpecial returns the index of the first '"', '\\' or control byte at or
// after i, or len(d).
func nextSpecial(d []byte, i int) int {
	for i+8 <= len(d) {
		if m := specialMask(binary.LittleEndian.Uint64(d[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(d) && strPlain[d[i]] {
		i++
	}
	return i
}

func (s *scanner) str(i int) (int, error) {
	d := s.data
	i++ // opening quote
	for {
		i = nextSpecial(d, i)
		if i >= len(d) {
			return i, &endError{off: i}
		}
		switch d[i] {
		case '"':
			return i + 1, nil
		case '\\':
			i++
			if i >= len(d) {
				return i, &endError{off: i}
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(d) {
						return i + k, &endError{off: i + k}
					}
					if !isHex(d[i+k]) {
						return i + k, s.errAt(i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 5
			default:
				return i, s.errAt(i, "in string escape code")
			}
		default:
			return i, s.errAt(i, "in string literal")
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) number(i int) (int, error) {
	d := s.data
	if d[i] == '-' {
		i++
		if i >= len(d) {
			return i, &endError{off: i}
		}
	}
	switch {
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, s.errAt(i, "in numeric literal")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) {
			return i, &endError{off: i}
		}
		if d[i] < '0' || d[i] > '9' {
			return i, s.errAt(i, "after decimal point in numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) {
			return i, &endError{off: i}
		}
		if d[i] < '0' || d[i] > '9' {
			return i, s.errAt(i, "in exponent of numeric literal")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	return i, nil
}

func (s *scanner) enter(i int) error {
	s.depth++
	if s.depth > s.maxDepth {
		return &DepthError{Offset: i, Max: s.maxDepth}
	}
	return nil
}

func (s *scanner) object(i int) (int, error) {
	return s.members(i, nil)
}

func (s *scanner) topObject(i int, v Visitor) (int, error) {
	return s.members(i, v)
}

// members scans an object starting at its '{'. If v is non-nil it is told
// about each member.
func (s *scanner) members(i int, v Visitor) (int, error) {
	if err := s.enter(i); err != nil {
		return i, err
	}
	d := s.data
	i = s.ws(i + 1)
	if i < len(d) && d[i] == '}' {
		s.depth--
		return i + 1, nil
	}
	for {
		if i >= len(d) {
			return i, &endError{off: i}
		}
		if d[i] != '"' {
			return i, s.errAt(i, "looking for beginning of object key string")
		}
		ks := i
		ke, err := s.str(i)
		if err != nil {
			return ke, err
		}
		i = s.ws(ke)
		if i >= len(d) {
			return i, &endError{off: i}
		}
		if d[i] != ':' {
			return i, s.errAt(i, "after object key")
		}
		i = s.ws(i + 1)
		vs := i
		i, err = s.value(i)
		if err != nil {
			return i, err
		}
		if v != nil {
			v.Member(d[ks+1:ke-1], d[vs:i])
		}
		i = s.ws(i)
		if i >= len(d) {
			return i, &endError{off: i}
		}
		switch d[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			s.depth--
			return i + 1, nil
		default:
			return i, s.errAt(i, "after object key:value pair")
		}
	}
}

func (s *scanner) array(i int) (int, error) {
	if err := s.enter(i); err != nil {
		return i, err
	}
	d := s.data
	i = s.ws(i + 1)
	if i < len(d) && d[i] == ']' {
		s.depth--
		return i + 1, nil
	}
	for {
		var err error
		i, err = s.value(i)
		if err != nil {
			return i, err
		}
		i = s.ws(i)
		if i >= len(d) {
			return i, &endError{off: i}
		}
		switch d[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			s.depth--
			return i + 1, nil
		default:
			return i, s.errAt(i, "after array element")
		}
	}
}
