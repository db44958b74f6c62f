package condition

import "strings"

// The canonical form is described in the package documentation.

func nodeString(n Node) string {
	var b strings.Builder
	n.writeTo(&b)
	return b.String()
}

// String returns the canonical text of the expression.
func (n *BinaryNode) String() string { return nodeString(n) }

func (n *BinaryNode) writeTo(b *strings.Builder) {
	for i, c := range n.Children {
		if i > 0 {
			b.WriteByte(' ')
			b.WriteString(n.Op.String())
			b.WriteByte(' ')
		}
		if cb, ok := c.(*BinaryNode); ok && (n.Op != Or || cb.Op != And) {
			writeParen(b, c)
			continue
		}
		c.writeTo(b)
	}
}

func writeParen(b *strings.Builder, n Node) {
	b.WriteByte('(')
	n.writeTo(b)
	b.WriteByte(')')
}

// String returns the canonical text of the negation.
func (n *NotNode) String() string { return nodeString(n) }

func (n *NotNode) writeTo(b *strings.Builder) {
	b.WriteString("not ")
	if _, ok := n.X.(*BinaryNode); ok {
		writeParen(b, n.X)
		return
	}
	n.X.writeTo(b)
}

// String returns the macro name.
func (n *IdentNode) String() string { return n.Name }

func (n *IdentNode) writeTo(b *strings.Builder) { b.WriteString(n.Name) }

// String returns the field name with its argument, if any.
func (n *FieldNode) String() string { return nodeString(n) }

func (n *FieldNode) writeTo(b *strings.Builder) {
	b.WriteString(n.Name)
	if !n.HasArg {
		return
	}
	b.WriteByte('[')
	if isBareArg(n.Arg) {
		b.WriteString(n.Arg)
	} else {
		writeQuoted(b, n.Arg)
	}
	b.WriteByte(']')
}

// String returns the transformer call, e.g. "tolower(ka.user.name)".
func (n *TransformNode) String() string { return nodeString(n) }

func (n *TransformNode) writeTo(b *strings.Builder) {
	b.WriteString(n.Name)
	b.WriteByte('(')
	n.X.writeTo(b)
	b.WriteByte(')')
}

// String returns the value, bare or in double quotes.
func (n *ValueNode) String() string { return nodeString(n) }

func (n *ValueNode) writeTo(b *strings.Builder) {
	if !n.Quoted && isBareValue(n.Text) {
		b.WriteString(n.Text)
		return
	}
	writeQuoted(b, n.Text)
}

// String returns the list, "(a, b)", or the bare name it was written as.
func (n *ListNode) String() string { return nodeString(n) }

func (n *ListNode) writeTo(b *strings.Builder) {
	if n.Bare && len(n.Items) == 1 && !n.Items[0].Quoted && isIdentifier(n.Items[0].Text) {
		b.WriteString(n.Items[0].Text)
		return
	}
	b.WriteByte('(')
	for i, v := range n.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		v.writeTo(b)
	}
	b.WriteByte(')')
}

// String returns "val(field)".
func (n *FieldValueNode) String() string { return nodeString(n) }

func (n *FieldValueNode) writeTo(b *strings.Builder) {
	b.WriteString("val(")
	n.X.writeTo(b)
	b.WriteByte(')')
}

// String returns the check, e.g. "ka.verb = create" or "ka.uri exists".
func (n *CheckNode) String() string { return nodeString(n) }

func (n *CheckNode) writeTo(b *strings.Builder) {
	n.Left.writeTo(b)
	b.WriteByte(' ')
	b.WriteString(n.Op)
	if n.Right != nil {
		b.WriteByte(' ')
		n.Right.writeTo(b)
	}
}

// isBareValue reports whether s reads back as the same bare string.
func isBareValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if isBareStop(s[i]) {
			return false
		}
	}
	return true
}

// isBareArg reports whether a field argument can print without quotes: it
// reads back unchanged and has no blanks or control characters.
func isBareArg(s string) bool {
	if s != "" && (s[0] == '"' || s[0] == '\'') {
		return false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == ' ' || c == 0x7f:
			return false
		case c == '[':
			depth++
		case c == ']':
			if depth == 0 {
				return false
			}
			depth--
		}
	}
	return depth == 0
}

// writeQuoted writes s in double quotes, with the escapes Parse reads.
func writeQuoted(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
				continue
			}
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
