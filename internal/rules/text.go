package rules

import (
	"sort"
	"strings"
)

// A text is a condition or output being composed from pieces of YAML
// scalars (appends, exceptions, list substitution) together with a map from
// each byte back to where it came from.
type text struct {
	s     string
	spans []span // sorted by at; spans[0].at == 0 when s != ""
}

// span maps s[at:] (up to the next span) to its origin.
type span struct {
	at  int
	org origin // origin of s[at]
	adv bool   // s[at+k] comes from org.sc.value[org.off+k]; otherwise every byte maps to org
}

// origin returns where s[i] came from. i == len(s) is allowed and maps just
// past the last byte.
func (t *text) origin(i int) origin {
	if len(t.spans) == 0 {
		return origin{}
	}
	k := sort.Search(len(t.spans), func(k int) bool { return t.spans[k].at > i }) - 1
	if k < 0 {
		k = 0
	}
	sp := t.spans[k]
	if sp.adv && sp.org.sc != nil {
		return origin{sc: sp.org.sc, off: sp.org.off + i - sp.at}
	}
	return sp.org
}

// textBuilder composes a text.
type textBuilder struct {
	b     []byte
	spans []span
}

func (b *textBuilder) len() int { return len(b.b) }

// scalar appends sc.value[from:to].
func (b *textBuilder) scalar(sc *scalar, from, to int) {
	if from >= to {
		return
	}
	b.spans = append(b.spans, span{at: len(b.b), org: origin{sc: sc, off: from}, adv: true})
	b.b = append(b.b, sc.value[from:to]...)
}

// fixed appends s, all of whose bytes map to o.
func (b *textBuilder) fixed(s string, o origin) {
	if s == "" {
		return
	}
	b.spans = append(b.spans, span{at: len(b.b), org: o})
	b.b = append(b.b, s...)
}

// copy appends t.s[from:to] with its origins.
func (b *textBuilder) copy(t *text, from, to int) {
	if from >= to {
		return
	}
	k := sort.Search(len(t.spans), func(k int) bool { return t.spans[k].at > from }) - 1
	if k < 0 {
		k = 0
	}
	base := len(b.b)
	b.spans = append(b.spans, span{at: base, org: t.origin(from), adv: t.spans[k].adv})
	for k++; k < len(t.spans) && t.spans[k].at < to; k++ {
		sp := t.spans[k]
		sp.at = base + sp.at - from
		b.spans = append(b.spans, sp)
	}
	b.b = append(b.b, t.s[from:to]...)
}

// truncate drops everything from byte n on.
func (b *textBuilder) truncate(n int) {
	if n >= len(b.b) {
		return
	}
	b.b = b.b[:n]
	for len(b.spans) > 0 && b.spans[len(b.spans)-1].at >= n {
		b.spans = b.spans[:len(b.spans)-1]
	}
}

func (b *textBuilder) text() *text {
	return &text{s: string(b.b), spans: b.spans}
}

// scalarText returns the text of a whole scalar.
func scalarText(sc *scalar) *text {
	var b textBuilder
	b.scalar(sc, 0, len(sc.value))
	return b.text()
}

// joinText returns old + " " + add, Falco's way of appending conditions,
// outputs and descriptions. The space maps to the start of add.
func joinText(old, add *text) *text {
	var b textBuilder
	b.copy(old, 0, len(old.s))
	b.fixed(" ", add.origin(0))
	b.copy(add, 0, len(add.s))
	return b.text()
}

// trimText trims blanks (and \f, \v) from both ends of t.
func trimText(t *text) *text {
	isSpace := func(c byte) bool { return isBlank(c) || c == '\f' || c == '\v' }
	i, j := 0, len(t.s)
	for i < j && isSpace(t.s[i]) {
		i++
	}
	for j > i && isSpace(t.s[j-1]) {
		j--
	}
	if i == 0 && j == len(t.s) {
		return t
	}
	var b textBuilder
	b.copy(t, i, j)
	return b.text()
}

// quoteItem double-quotes an item that contains a space, unless it already
// starts with a quote. Like Falco, it does not escape anything.
func quoteItem(s string) string {
	if strings.Contains(s, " ") && s != "" && s[0] != '"' && s[0] != '\'' {
		return `"` + s + `"`
	}
	return s
}

func isListDelim(c byte) bool {
	return isBlank(c) || c == '(' || c == ')' || c == ',' || c == '='
}

// substituteList replaces every delimited occurrence of name in t by items
// (quoted where they contain a space, joined with ", "), reproducing Falco's
// resolve_list exactly: the blanks around the name are consumed, the
// replacement is surrounded by single spaces (no leading one at the start of
// the text), an empty list also swallows one neighbouring comma, and the
// search resumes one byte later after a replacement at the very start.
// Every byte of a replacement maps to the position of the name it replaced.
// It returns nil if name does not occur, and stops with ok false once the
// result would exceed limit bytes.
func substituteList(t *text, name string, items []string, limit int) (res *text, ok bool) {
	if name == "" || !strings.Contains(t.s, name) {
		return nil, true
	}
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = quoteItem(it)
	}
	sub := strings.Join(quoted, ", ")

	// The text Falco works on at each step is out + t.s[r:]; searching
	// always happens at or after len(out).
	var out textBuilder
	r := 0      // start of the unconsumed rest of t.s
	search := 0 // next search position, in the coordinates of out + t.s[r:]
	used := false
	cur := t.s
	at := func(i int) byte { // byte i of out + t.s[r:]
		if i < out.len() {
			return out.b[i]
		}
		return cur[r+i-out.len()]
	}
	for {
		from := r + search - out.len()
		if from > len(cur) {
			break
		}
		j := strings.Index(cur[from:], name)
		if j < 0 {
			break
		}
		j += from                  // in t.s
		start := out.len() + j - r // in combined coordinates
		end := j + len(name)       // in t.s
		if !((start == 0 || isListDelim(at(start-1))) && (end >= len(cur) || isListDelim(cur[end]))) {
			search = start + 1
			continue
		}
		org := t.origin(j)
		for start > 0 && isBlank(at(start-1)) {
			start--
		}
		for end < len(cur) && isBlank(cur[end]) {
			end++
		}
		if sub == "" {
			if start > 0 && at(start-1) == ',' {
				start--
			} else if end < len(cur) && cur[end] == ',' {
				end++
			}
		}
		// Materialise out + t.s[r:][:start] as the new prefix.
		if start <= out.len() {
			out.truncate(start)
		} else {
			out.copy(t, r, r+start-out.len())
		}
		if start > 0 {
			out.fixed(" ", org)
		}
		out.fixed(sub, org)
		out.fixed(" ", org)
		r = end
		used = true
		// Falco: start += len(sub)+1, then find from start+1.
		search = start + len(sub) + 2
		if out.len()+len(cur)-r > limit {
			return nil, false
		}
	}
	if !used {
		return nil, true
	}
	out.copy(t, r, len(cur))
	return out.text(), true
}
