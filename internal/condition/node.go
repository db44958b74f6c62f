package condition

import (
	"strings"
)

// Pos is a byte offset. A condition parsed with Options.Base set to b has
// node positions b+offset, so that positions from many condition texts (rule
// conditions, macros, exceptions) can share one number space, the way
// go/token.Pos does. The rules loader maps a Pos back to file:line:col.
type Pos int

// Position returns p, so that embedding Pos gives a node its Position method.
func (p Pos) Position() Pos { return p }

// Node is an element of a parsed condition. Only this package defines node
// kinds: the unexported method keeps the set closed.
type Node interface {
	Position() Pos
	// String returns the canonical text of the node. Parsing that text gives
	// back an equal tree.
	String() string
	writeTo(*strings.Builder)
}

// BoolOp is the operator of a BinaryNode.
type BoolOp int

// Boolean connectives.
const (
	And BoolOp = iota // and
	Or                // or
)

func (o BoolOp) String() string {
	if o == And {
		return "and"
	}
	return "or"
}

// BinaryNode is a chain of two or more operands joined by the same
// connective: "a and b and c" is one BinaryNode with three children.
type BinaryNode struct {
	Pos
	Op       BoolOp // And or Or
	Children []Node // at least two
}

// NotNode negates its operand.
type NotNode struct {
	Pos
	X Node // the negated expression
}

// IdentNode is a bare identifier in check position: a macro reference. After
// macro expansion none may remain.
type IdentNode struct {
	Pos
	Name string // the macro name
}

// Operand is the left side of a check, or a field-valued right side: a field
// reference or a transformer applied to one.
type Operand interface {
	Node
	operand()
}

// FieldNode references an event field, with an optional argument:
// ka.user.name, jevt.value[/stage], ka.uri.param[command].
type FieldNode struct {
	Pos
	Name   string // dotted field name
	Arg    string // argument text without brackets (unquoted if it was quoted)
	HasArg bool   // whether [..] was present, even if empty
}

// TransformNode applies a field transformer: tolower(x), toupper(x),
// basename(x), b64(x), len(x).
type TransformNode struct {
	Pos
	Name string  // transformer name
	X    Operand // the operand being transformed
}

// ValueNode is a constant: a quoted or bare string, or a number.
type ValueNode struct {
	Pos
	Text   string // the value, with quotes removed and escapes resolved
	Quoted bool   // whether it was written in quotes
}

// ListNode is a parenthesised value list, "(a, b, c)", or a bare identifier
// after in/intersects/pmatch, which stands for a one-element list.
type ListNode struct {
	Pos
	Items []*ValueNode // may be empty
	Bare  bool         // written as a bare identifier, not in parentheses
}

// FieldValueNode is val(field): compare against another field of the event.
type FieldValueNode struct {
	Pos
	X Operand // the referenced field, possibly transformed
}

// CheckNode is a comparison: a field (or transformed field), an operator and,
// except for "exists", a right-hand side.
type CheckNode struct {
	Pos
	Left  Operand // FieldNode or TransformNode
	Op    string  // canonical operator: "=", "!=", "<", "contains", "in", "exists", ...
	Right Node    // nil for exists; *ValueNode, *ListNode, *FieldValueNode or Operand
}

func (*FieldNode) operand()     {}
func (*TransformNode) operand() {}

// String implementations live in print.go.
