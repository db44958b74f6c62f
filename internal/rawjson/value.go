package rawjson

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a raw JSON value, told by its first byte.
type Kind uint8

// Kinds of JSON values.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// KindOf returns the kind of the value v (no leading whitespace).
func KindOf(v []byte) Kind {
	if len(v) == 0 {
		return Invalid
	}
	switch v[0] {
	case '"':
		return String
	case '{':
		return Object
	case '[':
		return Array
	case 't', 'f':
		return Bool
	case 'n':
		return Null
	default:
		if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
			return Number
		}
		return Invalid
	}
}

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the validated string starting at
// d[i] == '"', or len(d) if the string is not closed.
func skipString(d []byte, i int) int {
	end, _ := stringEnd(d, i)
	return end
}

// stringEnd returns the index just past the string starting at d[i] == '"'
// and whether a closing quote ended it. An unclosed string (the input was
// truncated) gives len(d) and false.
func stringEnd(d []byte, i int) (int, bool) {
	i++
	for {
		i = nextSpecial(d, i)
		if i >= len(d) {
			return len(d), false
		}
		switch d[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2 // the escaped byte cannot end the string
		default:
			i++ // a control byte cannot occur in validated input; step over it
		}
	}
}

// valueEnd returns the index just past the value starting at d[i] and
// whether the value is complete: a closed string, a container whose
// brackets balance, or a non-empty scalar. On truncated or otherwise
// invalid input the index is still within [i, len(d)], so slicing with it
// is safe.
func valueEnd(d []byte, i int) (int, bool) {
	if i >= len(d) {
		return i, false
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				var closed bool
				if i, closed = stringEnd(d, i); !closed {
					return i, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		start := i
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i, i > start
			}
			i++
		}
		return i, i > start
	}
}

// Members iterates over the members of a validated object.
type Members struct {
	d []byte
	i int
}

// MembersOf starts an iteration over obj, which must be an object value. For
// any other value the iteration is empty.
func MembersOf(obj []byte) Members {
	if len(obj) == 0 || obj[0] != '{' {
		return Members{}
	}
	return Members{d: obj, i: 1}
}

// Next returns the next member's raw key (between the quotes, escapes
// unresolved) and raw value. It reports false at the end of the object,
// and also, without panicking, where invalid or truncated input stops it
// (an unclosed key, a missing ':', a missing or unfinished value).
func (m *Members) Next() (key, val []byte, ok bool) {
	d := m.d
	i := skipWS(d, m.i)
	if i >= len(d) || d[i] != '"' {
		m.i = len(d)
		return nil, nil, false
	}
	ke, closed := stringEnd(d, i)
	if !closed {
		m.i = len(d)
		return nil, nil, false
	}
	key = d[i+1 : ke-1]
	i = skipWS(d, ke)
	if i >= len(d) || d[i] != ':' {
		m.i = len(d)
		return nil, nil, false
	}
	i = skipWS(d, i+1)
	ve, complete := valueEnd(d, i)
	if !complete {
		m.i = len(d)
		return nil, nil, false
	}
	val = d[i:ve]
	i = skipWS(d, ve)
	if i < len(d) && d[i] == ',' {
		i++
	} else {
		i = len(d)
	}
	m.i = i
	return key, val, true
}

// Elements iterates over the elements of a validated array.
type Elements struct {
	d []byte
	i int
}

// ElementsOf starts an iteration over arr, which must be an array value. For
// any other value the iteration is empty.
func ElementsOf(arr []byte) Elements {
	if len(arr) == 0 || arr[0] != '[' {
		return Elements{}
	}
	e := Elements{d: arr, i: skipWS(arr, 1)}
	if e.i < len(arr) && arr[e.i] == ']' {
		e.i = len(arr)
	}
	return e
}

// Next returns the next element. It reports false at the end of the
// array, and also, without panicking, where invalid or truncated input
// stops it (a missing or unfinished element).
func (e *Elements) Next() (val []byte, ok bool) {
	d := e.d
	i := skipWS(d, e.i)
	if i >= len(d) {
		return nil, false
	}
	ve, complete := valueEnd(d, i)
	if !complete {
		e.i = len(d)
		return nil, false
	}
	val = d[i:ve]
	i = skipWS(d, ve)
	if i < len(d) && d[i] == ',' {
		i++
	} else {
		i = len(d)
	}
	e.i = i
	return val, true
}

// KeyEqual reports whether the raw key text (as returned by Members.Next)
// denotes name.
func KeyEqual(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var buf [64]byte
	return string(appendUnescaped(buf[:0], raw)) == name
}

// Get returns the value of member key in object obj.
func Get(obj []byte, key string) ([]byte, bool) {
	m := MembersOf(obj)
	for {
		k, v, ok := m.Next()
		if !ok {
			return nil, false
		}
		if KeyEqual(k, key) {
			return v, true
		}
	}
}

// Index returns element n of array arr.
func Index(arr []byte, n int) ([]byte, bool) {
	e := ElementsOf(arr)
	for k := 0; ; k++ {
		v, ok := e.Next()
		if !ok {
			return nil, false
		}
		if k == n {
			return v, true
		}
	}
}

// Len returns the number of elements of an array value.
func Len(arr []byte) int {
	e := ElementsOf(arr)
	n := 0
	for {
		if _, ok := e.Next(); !ok {
			return n
		}
		n++
	}
}

// IsPlainString reports whether v is a string value without escapes, so that
// v[1:len(v)-1] is its text.
func IsPlainString(v []byte) bool {
	return len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v[1:len(v)-1], '\\') < 0
}

// AppendString appends the decoded text of the string value v to dst.
func AppendString(dst, v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return dst
	}
	return appendUnescaped(dst, v[1:len(v)-1])
}

// appendUnescaped resolves JSON escapes in s (a string body without quotes).
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		j := bytes.IndexByte(s[i:], '\\')
		if j < 0 {
			return append(dst, s[i:]...)
		}
		dst = append(dst, s[i:i+j]...)
		i += j + 1
		if i >= len(s) {
			return dst
		}
		c := s[i]
		i++
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := hex4(s, i)
			i += n
			if utf16.IsSurrogate(r) {
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, n2 := hex4(s, i+2)
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 2 + n2
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

func hex4(s []byte, i int) (rune, int) {
	if i+4 > len(s) {
		return utf8.RuneError, len(s) - i
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	if err != nil {
		return utf8.RuneError, 4
	}
	return rune(n), 4
}

// AppendText appends the text Falco's plugins produce for a value: a string's
// decoded text, and the compact JSON of anything else.
func AppendText(dst, v []byte) []byte {
	if len(v) > 0 && v[0] == '"' {
		return AppendString(dst, v)
	}
	return AppendCompact(dst, v)
}

// AppendCompact appends v with all insignificant whitespace removed.
func AppendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '"':
			e := skipString(v, i)
			dst = append(dst, v[i:e]...)
			i = e
		case isSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// AppendIndent appends v pretty-printed with the given indent per level, in
// the layout of nlohmann::json::dump(indent): members on their own lines,
// "key": value with one space, empty containers as {} and [].
func AppendIndent(dst, v []byte, indent string) []byte {
	level := 0
	newline := func(dst []byte) []byte {
		dst = append(dst, '\n')
		for k := 0; k < level; k++ {
			dst = append(dst, indent...)
		}
		return dst
	}
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '"':
			e := skipString(v, i)
			dst = append(dst, v[i:e]...)
			i = e
			continue
		case isSpace(c):
		case c == '{' || c == '[':
			j := skipWS(v, i+1)
			if j < len(v) && (v[j] == '}' || v[j] == ']') {
				dst = append(dst, c, v[j])
				i = j + 1
				continue
			}
			level++
			dst = append(dst, c)
			dst = newline(dst)
		case c == '}' || c == ']':
			level--
			dst = newline(dst)
			dst = append(dst, c)
		case c == ',':
			dst = append(dst, ',')
			dst = newline(dst)
		case c == ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
