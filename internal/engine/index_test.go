package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rules"
)

// indexField is a field the differential test's conditions use, with the
// values its constants and events are drawn from.
type indexField struct {
	name string   // field reference
	list bool     // list-valued
	pool []string // values, shared by constants and events
}

// The pools overlap across fields (alice is a user and a namespace) so that
// val() comparisons sometimes hold, and they differ only in case (get, GET)
// so that tolower/toupper change results.
var indexFields = []indexField{
	{name: "ka.verb", pool: []string{"get", "list", "create", "delete", "GET"}},
	{name: "ka.target.resource", pool: []string{"pods", "secrets", "configmaps"}},
	{name: "jevt.value[/stage]", pool: []string{"ResponseComplete", "ResponseStarted", "RequestReceived"}},
	{name: "ka.user.name", pool: []string{"alice", "bob", "Alice", "system:anonymous"}},
	{name: "ka.target.namespace", pool: []string{"default", "kube-system", "alice"}},
	{name: "ka.user.groups", list: true, pool: []string{"dev", "ops", "system:masters", "DEV"}},
}

// condGen generates random rule files for TestIndexDifferential.
type condGen struct {
	r      *rand.Rand
	macros []string // macros defined so far
	lists  []string // lists defined so far
}

func (g *condGen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// value returns a constant for f: usually from its pool, sometimes one no
// event has.
func (g *condGen) value(f indexField) string {
	if g.r.IntN(8) == 0 {
		return "other"
	}
	return g.pick(f.pool)
}

// valueList returns "(v1, v2, ...)" with 0 to 3 items, or a defined list.
func (g *condGen) valueList(f indexField) string {
	if len(g.lists) > 0 && g.r.IntN(5) == 0 {
		return "(" + g.pick(g.lists) + ")"
	}
	n := g.r.IntN(4)
	items := make([]string, n)
	for i := range items {
		items[i] = g.value(f)
	}
	return "(" + strings.Join(items, ", ") + ")"
}

// operand returns f, sometimes wrapped in a case transformer.
func (g *condGen) operand(f indexField) string {
	switch g.r.IntN(6) {
	case 0:
		return "tolower(" + f.name + ")"
	case 1:
		return "toupper(" + f.name + ")"
	}
	return f.name
}

// check returns one comparison.
func (g *condGen) check() string {
	f := indexFields[g.r.IntN(len(indexFields))]
	x := g.operand(f)
	if f.list {
		switch g.r.IntN(4) {
		case 0:
			return x + " exists"
		case 1:
			return x + " in " + g.valueList(f)
		case 2:
			return x + " intersects " + g.valueList(f)
		}
		return f.name + " in ()"
	}
	switch g.r.IntN(10) {
	case 0:
		return x + " = " + g.value(f)
	case 1:
		return x + " == " + g.value(f)
	case 2:
		return x + " != " + g.value(f)
	case 3:
		return x + " in " + g.valueList(f)
	case 4:
		return x + " intersects " + g.valueList(f)
	case 5:
		return x + " exists"
	case 6:
		v := g.value(f)
		return x + " startswith " + v[:1+g.r.IntN(len(v))]
	case 7:
		var singles []indexField
		for _, o := range indexFields {
			if !o.list {
				singles = append(singles, o)
			}
		}
		return x + " = val(" + g.operand(singles[g.r.IntN(len(singles))]) + ")"
	case 8:
		return f.name + " in ()"
	}
	// The indexable forms again, on the plain field, so that most rules
	// constrain an index key.
	return f.name + " in " + g.valueList(f)
}

// expr returns a random condition of at most the given depth.
func (g *condGen) expr(depth int) string {
	if depth == 0 || g.r.IntN(4) == 0 {
		if len(g.macros) > 0 && g.r.IntN(4) == 0 {
			return g.pick(g.macros)
		}
		return g.check()
	}
	switch g.r.IntN(5) {
	case 0:
		return "not (" + g.expr(depth-1) + ")"
	case 1, 2:
		return g.join(" and ", depth)
	default:
		return g.join(" or ", depth)
	}
}

func (g *condGen) join(op string, depth int) string {
	n := 2 + g.r.IntN(2)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "(" + g.expr(depth-1) + ")"
	}
	return strings.Join(parts, op)
}

// ruleFile returns a rules file with two lists, two macros (shared
// subtrees, used by several rules) and n rules, some disabled.
func (g *condGen) ruleFile(n int) string {
	g.macros, g.lists = nil, nil
	var b strings.Builder
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	for i := range 2 {
		f := indexFields[g.r.IntN(len(indexFields))]
		name := fmt.Sprintf("list_%d", i)
		fmt.Fprintf(&b, "- list: %s\n  items: [%s]\n", name, strings.Join([]string{q(g.value(f)), q(g.value(f))}, ", "))
		g.lists = append(g.lists, name)
	}
	for i := range 2 {
		name := fmt.Sprintf("macro_%d", i)
		fmt.Fprintf(&b, "- macro: %s\n  condition: %s\n", name, q(g.expr(2)))
		g.macros = append(g.macros, name)
	}
	for i := range n {
		cond := g.expr(4)
		if g.r.IntN(3) != 0 {
			// Most real rules start with an indexable check, as the
			// upstream ones do with ka.verb and ka.target.resource.
			f := indexFields[g.r.IntN(3)]
			cond = f.name + " in " + g.valueList(f) + " and (" + cond + ")"
		}
		fmt.Fprintf(&b, "- rule: rule %d\n  desc: d\n  condition: %s\n  output: o %%ka.verb\n  priority: INFO\n  source: k8s_audit\n  enabled: %v\n",
			i, q(cond), g.r.IntN(10) != 0)
	}
	return b.String()
}

// event returns an audit event whose fields come from the pools; each may
// be missing, and the group list may be empty.
func (g *condGen) event(i int) []byte {
	m := map[string]any{"kind": "Event", "auditID": fmt.Sprint(i), "stageTimestamp": "2026-11-22T10:00:00Z"}
	maybe := func(f indexField, set func(string)) {
		if g.r.IntN(5) != 0 {
			set(g.pick(f.pool))
		}
	}
	user := map[string]any{}
	obj := map[string]any{}
	maybe(indexFields[0], func(v string) { m["verb"] = v })
	maybe(indexFields[1], func(v string) { obj["resource"] = v })
	maybe(indexFields[2], func(v string) { m["stage"] = v })
	maybe(indexFields[3], func(v string) { user["username"] = v })
	maybe(indexFields[4], func(v string) { obj["namespace"] = v })
	if k := g.r.IntN(5); k > 0 {
		groups := []string{}
		for range k - 1 {
			groups = append(groups, g.pick(indexFields[5].pool))
		}
		user["groups"] = groups
	}
	if len(user) > 0 || g.r.IntN(2) == 0 {
		m["user"] = user
	}
	if len(obj) > 0 || g.r.IntN(2) == 0 {
		m["objectRef"] = obj
	}
	raw, _ := json.Marshal(m)
	return raw
}

// TestIndexDifferential checks the rule index against evaluating every rule,
// on random rule sets (nested not/and/or, macros, lists, transformers,
// val(), list fields, empty lists) and random events with missing members,
// under both matching modes. It goes through Load, so the whole path from
// YAML text is exercised.
func TestIndexDifferential(t *testing.T) {
	const sets, rulesPerSet, eventsPerSet = 200, 10, 200
	g := &condGen{r: rand.New(rand.NewPCG(1, 2))}
	indexed, matched := 0, 0
	for set := range sets {
		file := g.ruleFile(rulesPerSet)
		src := rules.Source{Name: fmt.Sprintf("set%d.yaml", set), Data: []byte(file)}
		evs := make([]audit.Event, eventsPerSet)
		for i := range evs {
			if err := audit.Parse(&evs[i], g.event(i), 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range []Matching{MatchAll, MatchFirst} {
			o := DefaultOptions()
			o.Matching = m
			fast := mustLoad(t, o, src)
			o.NoIndex = true
			slow := mustLoad(t, o, src)
			if len(fast.index) > 0 {
				indexed++
			}
			fs, ss := fast.NewState(), slow.NewState()
			for i := range evs {
				a := fast.Eval(&evs[i], fs)
				b := slow.Eval(&evs[i], ss)
				matched += len(b)
				if !slices.Equal(a, b) {
					t.Fatalf("set %d matching %d event %s: indexed %v, unindexed %v\nrules:\n%s", set, m, evs[i].Raw, a, b, file)
				}
			}
		}
	}
	// Guard against a generator that proves nothing.
	if indexed < sets {
		t.Errorf("only %d of %d programs have index keys", indexed, 2*sets)
	}
	if matched < sets*eventsPerSet/10 {
		t.Errorf("only %d matches in %d evaluations", matched, 2*sets*eventsPerSet)
	}
	t.Logf("%d of %d programs indexed; %d matches", indexed, 2*sets, matched)
}
