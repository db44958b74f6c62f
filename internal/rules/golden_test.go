package rules

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// render prints what Load made of a file: every diagnostic with its caret,
// then every rule with its compiled condition.
func render(s *Set, ds []Diagnostic) string {
	var b strings.Builder
	b.WriteString("# diagnostics\n")
	for _, d := range ds {
		fmt.Fprintf(&b, "%s [%s]\n", d.Display(), d.Code)
	}
	b.WriteString("# rules\n")
	for _, r := range s.Rules {
		if r.CheckOnly {
			fmt.Fprintf(&b, "(check only, not kept) ")
		}
		fmt.Fprintf(&b, "%s at %s: source=%s priority=%s enabled=%v tags=%v skip-if-unknown-filter=%v\n",
			r.Item(), s.Position(r.Pos), r.Source, r.Priority, r.Enabled, r.Tags, r.SkipIfUnknownFilter)
		fmt.Fprintf(&b, "  condition: %s\n", r.Condition)
		fmt.Fprintf(&b, "  output: %s\n", r.Output)
		if sf := r.Stateful; sf != nil {
			fmt.Fprintf(&b, "  vigil at %s: %s\n", s.Position(sf.Pos), sf.Signature())
			for i, p := range sf.ByPos {
				fmt.Fprintf(&b, "    by %s at %s\n", sf.By[i], s.Position(p))
			}
		}
	}
	if s.RequiredEngineVersion != "" {
		fmt.Fprintf(&b, "# required engine version %s\n", s.RequiredEngineVersion)
	}
	return b.String()
}

// TestGolden loads each testdata/*.yaml file on its own and compares the
// result with the .golden file next to it. A *.good.yaml file must load
// without errors (warnings are fine); a *.bad.yaml file must have errors.
// Run with -update to rewrite the golden files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := filepath.ToSlash(file)
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			s, ds := Load([]Source{{Name: name, Data: data}}, Options{})
			switch good := strings.HasSuffix(file, ".good.yaml"); {
			case good && HasErrors(ds):
				t.Errorf("good file has errors")
			case !good && !HasErrors(ds):
				t.Errorf("bad file has no errors")
			}
			got := render(s, ds)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s; got:\n%s", file, golden, got)
			}
		})
	}
}
