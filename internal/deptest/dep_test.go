package deptest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/vigilsec/vigil/"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// allowed lists, for the leaf packages, every module-internal or
// third-party import they may have. Standard library imports are always
// allowed, except where forbidden below.
var allowed = map[string][]string{
	"internal/rawjson":      {},
	"internal/condition":    {},
	"internal/alert":        {},
	"internal/audit":        {"internal/rawjson"},
	"internal/field":        {"internal/audit", "internal/rawjson"},
	"internal/rules":        {"internal/condition", "internal/alert", "go.yaml.in/yaml/v3"},
	"internal/corpus":       {},
	"internal/txtar":        {},
	"internal/wal":          {},
	"internal/tail":         {},
	"internal/batch":        {"github.com/klauspost/compress/s2"},
	"internal/admission":    {"internal/rawjson"},
	"internal/redact":       {"internal/rawjson"},
	"internal/journal":      {"internal/alert", "internal/wal", "internal/enrich"}, // each alert carries an enrich.Where
	"internal/enrich":       {"internal/audit", "internal/rawjson", "github.com/oschwald/maxminddb-golang/v2"},
	"internal/config":       {"internal/alert", "go.yaml.in/yaml/v3"},
	"internal/auth":         {"internal/config"},
	"internal/access":       {"internal/auth", "internal/config", "golang.org/x/crypto/bcrypt"},
	"internal/ui":           {},
	"internal/api":          {"internal/access", "internal/alert", "internal/journal", "internal/store"},
	"internal/store":        {"internal/alert", "internal/journal"},
	"internal/store/sqlite": {"internal/store", "internal/journal", "modernc.org/sqlite"},
	"internal/store/postgres": {"internal/store", "internal/journal", "github.com/jackc/pgx/v5",
		"github.com/jackc/pgx/v5/pgxpool"},
	"internal/metrics": {"github.com/prometheus/client_golang/prometheus",
		"github.com/prometheus/client_golang/prometheus/collectors"},
}

// forbiddenStd lists standard-library packages a package must not import.
var forbiddenStd = map[string][]string{
	"internal/engine":   {"net/http", "database/sql"},
	"internal/pipeline": {"net/http"}, // the evaluator knows nothing of how events arrived
	"internal/wal":      {"net/http"},
}

func TestImports(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			isStd := !strings.Contains(strings.Split(imp, "/")[0], ".")
			irel := strings.TrimPrefix(imp, mod)
			if allow, ok := allowed[rel]; ok && !isStd {
				found := false
				for _, a := range allow {
					if a == irel {
						found = true
					}
				}
				if !found {
					t.Errorf("%s imports %s, which STYLE.md does not allow", rel, imp)
				}
			}
			for _, f := range forbiddenStd[rel] {
				if imp == f {
					t.Errorf("%s imports %s", rel, imp)
				}
			}
			// The benchmark harness runs the whole server, as main does.
			if irel == "internal/app" && !strings.HasPrefix(rel, "cmd/") && rel != "internal/bench" {
				t.Errorf("%s imports internal/app; only cmd (and the bench harness) may", rel)
			}
		}
	}
}

func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		fset := token.NewFileSet()
		documented := false
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.TrimSpace(af.Doc.Text()) != "" {
				documented = true
			}
		}
		if !documented {
			t.Errorf("package %s has no package doc comment", p.ImportPath)
		}
	}
}
