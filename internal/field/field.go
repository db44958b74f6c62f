package field

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
)

// Type is the type of a field's values, as the engine compares them.
type Type uint8

// Field types.
const (
	String Type = iota // text, compared as bytes (every ka.*, json.* and jevt.* field)
	Number             // decimal integer text, compared numerically (evt.rawtime*)
)

// String returns the type's name as the field docs print it.
func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Number:
		return "number"
	}
	return "?"
}

// ArgKind says which argument a field takes between brackets.
type ArgKind uint8

// Argument kinds.
const (
	// ArgNone: the field takes no argument.
	ArgNone ArgKind = iota
	// ArgIndex: an optional decimal index without a leading zero, such as
	// [0] or [12]; it selects element N of every array met along the path.
	ArgIndex
	// ArgKey: a required free-text key, such as a query parameter name or a
	// JSON pointer.
	ArgKey
)

// String returns the kind's name as the field docs print it.
func (k ArgKind) String() string {
	switch k {
	case ArgNone:
		return "none"
	case ArgIndex:
		return "index"
	case ArgKey:
		return "key (required)"
	}
	return "?"
}

// Def describes one field: its name, type, list-ness, argument and doc, and
// knows how to bind an argument to an Extractor. Defs are shared and must not
// be modified.
type Def struct {
	Name       string  // e.g. "ka.req.pod.containers.image"
	Type       Type    // String or Number
	List       bool    // the field yields zero or more values
	Arg        ArgKind // which argument the field takes
	Doc        string  // one sentence: type, argument and the JSON it is read from
	Deprecated bool    // kept only for compatibility with old rules

	bind binder // builds the extractor once the argument is validated
}

// binder builds an extractor for a validated argument.
type binder func(a bound) (Extractor, error)

// bound is a field reference after argument validation.
type bound struct {
	name  string // field name, for error messages
	key   string // the key argument (ArgKey)
	index int    // the index argument (ArgIndex), or -1 when absent
	env   *Env   // never nil
}

// Env carries what the evt.* fields need from outside the event.
type Env struct {
	Hostname string         // evt.hostname
	Location *time.Location // zone for evt.time and evt.datetime; nil means time.Local
}

// Values receives the values of one extraction. The zero value is ready to
// use; reuse it across events so that extraction allocates nothing once its
// slices have grown. A value may alias the event's raw bytes or Buf: it is
// read-only, and valid while the event's bytes are and until Reset.
type Values struct {
	Vals [][]byte // the values; reused; slices may alias ev.Raw or Buf
	Buf  []byte   // arena for decoded or compacted text; reused

	leaves [][]byte // scratch for path walks that fan out over arrays
}

// Reset empties v and keeps its storage.
func (v *Values) Reset() {
	v.Vals = v.Vals[:0]
	v.Buf = v.Buf[:0]
}

// Extractor appends a field's values for ev to out, as the text Falco
// produces, and reports whether the field has a value. For a list field an
// empty result is "no value" (false). A single-valued field appends exactly
// one value when it reports true. On false, out is left as it was. An
// Extractor is safe for concurrent use with distinct Values.
type Extractor func(ev *audit.Event, out *Values) bool

// defs is the field table, sorted by name. It is built once and never
// modified.
var defs = buildTable()

// Lookup returns the definition of the field called name.
func Lookup(name string) (*Def, bool) {
	i, ok := slices.BinarySearchFunc(defs, name, func(d *Def, n string) int { return strings.Compare(d.Name, n) })
	if !ok {
		return nil, false
	}
	return defs[i], true
}

// All returns every field definition, sorted by name. The slice is a copy.
func All() []*Def {
	return slices.Clone(defs)
}

// Bind validates a field reference's argument and returns the extractor for
// it. hasArg tells "ka.uri.param" from "ka.uri.param[]". env may be nil.
func (d *Def) Bind(arg string, hasArg bool, env *Env) (Extractor, error) {
	b := bound{name: d.Name, index: -1, env: env}
	if b.env == nil {
		b.env = &Env{}
	}
	switch d.Arg {
	case ArgNone:
		if hasArg {
			return nil, fmt.Errorf("field %q takes no argument", d.Name)
		}
	case ArgIndex:
		if hasArg {
			n, ok := parseIndex(arg)
			if !ok {
				return nil, fmt.Errorf("invalid index argument %q for field %q", arg, d.Name)
			}
			b.index = n
		}
	case ArgKey:
		if !hasArg {
			return nil, fmt.Errorf("field %q requires an argument", d.Name)
		}
		if arg == "" {
			return nil, fmt.Errorf("field %q requires a non-empty argument", d.Name)
		}
		b.key = arg
	}
	return d.bind(b)
}

// maxIndex bounds index arguments; no Kubernetes list comes close.
const maxIndex = 1 << 30

// parseIndex parses decimal digits without a leading zero.
func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > maxIndex {
		return 0, false
	}
	return n, true
}
