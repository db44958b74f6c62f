package corpus

import (
	"strconv"
	"time"
)

// This file holds the byte-level appenders: JSON strings, UUIDs, hex,
// Kubernetes name suffixes and timestamps. None of them allocates beyond
// growing the destination slice.

const hexDigits = "0123456789abcdef"

// nameAlphabet is the alphabet Kubernetes uses for generated name suffixes
// and pod-template hashes (k8s.io/apimachinery/pkg/util/rand): no vowels, no
// digits that look like letters.
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// appendString appends s as a JSON string literal, escaped the way Go's
// encoding/json does it with HTML escaping on, which is what kube-apiserver
// writes (an '&' in a request URI comes out as \u0026).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the body of a JSON string literal for s, without the
// surrounding quotes. s must be valid UTF-8.
func appendEscaped[S ~string | ~[]byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// appendHex appends the low n hex digits of v, most significant first.
func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// appendUUID appends a version-4 UUID built from the 128 bits hi and lo.
func appendUUID(b []byte, hi, lo uint64) []byte {
	hi = hi&^(0xf<<12) | 4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	b = appendHex(b, hi>>32, 8)
	b = append(b, '-')
	b = appendHex(b, hi>>16, 4)
	b = append(b, '-')
	b = appendHex(b, hi, 4)
	b = append(b, '-')
	b = appendHex(b, lo>>48, 4)
	b = append(b, '-')
	return appendHex(b, lo, 12)
}

// appendSuffix appends n characters of nameAlphabet chosen by the bits of v
// (n <= 12).
func appendSuffix(b []byte, v uint64, n int) []byte {
	for range n {
		b = append(b, nameAlphabet[v%uint64(len(nameAlphabet))])
		v /= uint64(len(nameAlphabet))
	}
	return b
}

// appendInt appends the decimal form of v.
func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendQuotedInt appends the decimal form of v as a JSON string, the way
// Kubernetes writes resourceVersion.
func appendQuotedInt(b []byte, v int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}

// clock formats times as kube-apiserver does. Times are microseconds since
// the Unix epoch. The formatted date and time of one second is cached,
// because consecutive events almost always fall in the same second.
type clock struct {
	sec int64    // the second whose text is in buf
	buf [19]byte // "2006-01-02T15:04:05" of sec
	ok  bool     // buf is valid
}

// secondText returns the "2006-01-02T15:04:05" form of the second sec.
func (c *clock) secondText(sec int64) []byte {
	if !c.ok || sec != c.sec {
		time.Unix(sec, 0).UTC().AppendFormat(c.buf[:0], "2006-01-02T15:04:05")
		c.sec, c.ok = sec, true
	}
	return c.buf[:]
}

// appendMicro appends us in RFC 3339 with six fractional digits and a Z, the
// form of requestReceivedTimestamp and stageTimestamp.
func (c *clock) appendMicro(b []byte, us int64) []byte {
	sec, frac := us/1e6, us%1e6
	b = append(b, c.secondText(sec)...)
	b = append(b, '.',
		byte('0'+frac/100000), byte('0'+frac/10000%10), byte('0'+frac/1000%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
	return b
}

// appendSecond appends the second containing us in RFC 3339 with no
// fraction, the form of object timestamps such as creationTimestamp.
func (c *clock) appendSecond(b []byte, us int64) []byte {
	b = append(b, c.secondText(us/1e6)...)
	return append(b, 'Z')
}
