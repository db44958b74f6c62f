package alert

import (
	"slices"
	"time"
	"unicode/utf8"
)

// Alert is one rule match, rendered. Everything in it is owned by the alert:
// nothing aliases event buffers.
type Alert struct {
	Time     int64    `json:"time"`     // event time, Unix nanoseconds
	Rule     string   `json:"rule"`     // rule name
	Priority Priority `json:"priority"` // rule priority
	Source   string   `json:"source"`   // event source, "k8s_audit"
	Tags     []string `json:"tags"`     // rule tags, sorted and de-duplicated
	Message  string   `json:"message"`  // the rule's output with fields substituted
	Hostname string   `json:"hostname"` // host that raised the alert
	Fields   []Field  `json:"fields"`   // output_fields, sorted by Key
}

// Field is one entry of output_fields.
type Field struct {
	Key     string   `json:"key"`               // the field reference as written, e.g. "ka.uri.param[command]"
	Values  []string `json:"values"`            // the value, or each element for a list field
	List    bool     `json:"list,omitempty"`    // list fields render as JSON arrays
	Missing bool     `json:"missing,omitempty"` // no value: renders as null
	Int     bool     `json:"int,omitempty"`     // render Values[0] as a bare JSON number (evt.time)
}

// SortFields orders fields by key, as Falco's JSON objects do.
func SortFields(fs []Field) {
	slices.SortFunc(fs, func(a, b Field) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
}

// AppendTime appends t (Unix ns) as HH:MM:SS.nnnnnnnnn in loc, Falco's evt.time.
func AppendTime(dst []byte, t int64, loc *time.Location) []byte {
	return time.Unix(0, t).In(loc).AppendFormat(dst, "15:04:05.000000000")
}

// appendLine appends the unescaped alert line "HH:MM:SS.nnnnnnnnn: Priority
// message", with the time in loc.
func appendLine(dst []byte, a *Alert, loc *time.Location) []byte {
	dst = AppendTime(dst, a.Time, loc)
	dst = append(dst, ": "...)
	dst = append(dst, a.Priority.String()...)
	dst = append(dst, ' ')
	return append(dst, a.Message...)
}

// AppendText appends Falco's text alert line without a newline:
// "HH:MM:SS.nnnnnnnnn: Priority message", with the time in loc. As Falco
// does in text mode, the whole line goes through a JSON string encoder with
// the quotes removed, so control characters appear escaped (a newline in a
// value becomes \n) and invalid UTF-8 becomes U+FFFD.
func AppendText(dst []byte, a *Alert, loc *time.Location) []byte {
	return appendEscaped(dst, appendLine(nil, a, loc))
}

// AppendJSON appends Falco's JSON alert object without a newline. Keys are
// sorted as nlohmann::json sorts them: hostname, output, output_fields,
// priority, rule, source, tags, time. output holds the alert line (time in
// loc), escaped once as any JSON string; time is always UTC.
func AppendJSON(dst []byte, a *Alert, loc *time.Location) []byte {
	dst = append(dst, `{"hostname":"`...)
	dst = appendEscaped(dst, []byte(a.Hostname))
	dst = append(dst, `","output":"`...)
	dst = appendEscaped(dst, appendLine(nil, a, loc))
	dst = append(dst, `","output_fields":{`...)
	for i, f := range a.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendEscaped(dst, []byte(f.Key))
		dst = append(dst, `":`...)
		switch {
		case f.Missing:
			dst = append(dst, "null"...)
		case f.Int && len(f.Values) == 1:
			dst = append(dst, f.Values[0]...)
		case f.List:
			dst = append(dst, '[')
			for j, v := range f.Values {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, '"')
				dst = appendEscaped(dst, []byte(v))
				dst = append(dst, '"')
			}
			dst = append(dst, ']')
		default:
			dst = append(dst, '"')
			if len(f.Values) > 0 {
				dst = appendEscaped(dst, []byte(f.Values[0]))
			}
			dst = append(dst, '"')
		}
	}
	dst = append(dst, `},"priority":"`...)
	dst = append(dst, a.Priority.String()...)
	dst = append(dst, `","rule":"`...)
	dst = appendEscaped(dst, []byte(a.Rule))
	dst = append(dst, `","source":"`...)
	dst = appendEscaped(dst, []byte(a.Source))
	dst = append(dst, `","tags":[`...)
	for i, t := range a.Tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = appendEscaped(dst, []byte(t))
		dst = append(dst, '"')
	}
	dst = append(dst, `],"time":"`...)
	dst = time.Unix(0, a.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z")
	dst = append(dst, `"}`...)
	return dst
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s as the body of a JSON string, as nlohmann::json
// dumps it: '"' and '\\' escaped, control characters as \b \f \n \r \t or
// \u00XX, invalid UTF-8 replaced by U+FFFD, everything else verbatim.
func appendEscaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				// One replacement character per ill-formed sequence, as
				// nlohmann's replace handler emits: a valid lead byte
				// swallows the continuation bytes that follow it.
				dst = append(dst, "\ufffd"...)
				i += invalidSeqLen(s[i:])
				continue
			}
			dst = append(dst, s[i:i+size]...)
			i += size
			continue
		}
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return dst
}

// invalidSeqLen returns the length of the ill-formed UTF-8 sequence at the
// start of s: a lead byte and the continuation bytes it expects that are
// present (at least 1).
func invalidSeqLen(s []byte) int {
	want := 0
	switch c := s[0]; {
	case c >= 0xC2 && c <= 0xDF:
		want = 2
	case c >= 0xE0 && c <= 0xEF:
		want = 3
	case c >= 0xF0 && c <= 0xF4:
		want = 4
	default:
		return 1
	}
	n := 1
	for n < want && n < len(s) && s[n] >= 0x80 && s[n] <= 0xBF {
		n++
	}
	return n
}
