package rules

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/condition"
)

// FuzzLoad checks that Load never panics and that everything it returns
// can be positioned and displayed.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range []string{"k8s_audit_rules.yaml", "overlays/*.yaml", "overlays/engine_v4/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join(refDir, p))
		seeds = append(seeds, m...)
	}
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Load took %v", d)
			}
		}()
		s, ds := Load([]Source{{Name: "fuzz.yaml", Data: data}, {Name: "second.yaml", Data: data}}, Options{})
		if s == nil {
			t.Fatal("nil set")
		}
		for _, d := range ds {
			_ = d.Display()
			if d.Pos.Line > 0 && d.Code != CodeYAMLParse && d.Pos.Col == 0 {
				t.Errorf("diagnostic without column: %v", d)
			}
		}
		for _, r := range s.Rules {
			if r.Condition == nil {
				t.Fatalf("rule %q without condition", r.Name)
			}
			if hasIdent(r.Condition) {
				t.Errorf("rule %q: macro reference left", r.Name)
			}
			walk(r.Condition, func(n condition.Node) {
				if p := s.Position(n.Position()); !p.IsValid() {
					t.Errorf("rule %q: node %s at %d has no position", r.Name, n, n.Position())
				}
			})
			for i := 0; i <= len(r.Output); i++ {
				_ = s.Position(r.OutputPos + condition.Pos(i))
			}
			_ = s.Diag(SeverityError, CodeCompileCondition, r.Pos, r.Item(), "x").Display()
		}
	})
}

// walk calls fn for n and every node below it.
func walk(n condition.Node, fn func(condition.Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n := n.(type) {
	case *condition.BinaryNode:
		for _, c := range n.Children {
			walk(c, fn)
		}
	case *condition.NotNode:
		walk(n.X, fn)
	case *condition.CheckNode:
		walk(n.Left, fn)
		if n.Right != nil {
			walk(n.Right, fn)
		}
	case *condition.TransformNode:
		walk(n.X, fn)
	case *condition.FieldValueNode:
		walk(n.X, fn)
	case *condition.ListNode:
		for _, it := range n.Items {
			walk(it, fn)
		}
	}
}
