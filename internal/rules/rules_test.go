package rules

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/condition"
	"go.yaml.in/yaml/v3"
)

// refDir is the shared Falco reference corpus.
const refDir = "../../../shared/reference/falco"

func readRef(t testing.TB, name string) Source {
	t.Helper()
	path := filepath.Join(refDir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("reference corpus not available: %v", err)
	}
	return Source{Name: name, Data: data}
}

// loadStrings loads YAML texts named a.yaml, b.yaml, ...
func loadStrings(t testing.TB, texts ...string) (*Set, []Diagnostic) {
	t.Helper()
	var srcs []Source
	for i, s := range texts {
		srcs = append(srcs, Source{Name: string(rune('a'+i)) + ".yaml", Data: []byte(s)})
	}
	return Load(srcs, Options{})
}

func errorsOf(ds []Diagnostic) []Diagnostic {
	var out []Diagnostic
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

func mustLoad(t testing.TB, texts ...string) *Set {
	t.Helper()
	s, ds := loadStrings(t, texts...)
	if errs := errorsOf(ds); len(errs) > 0 {
		for _, d := range errs {
			t.Error(d.Display())
		}
		t.FailNow()
	}
	return s
}

func ruleByName(s *Set, name string) *Rule {
	for _, r := range s.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// canon parses text and returns its canonical form.
func canon(t testing.TB, text string) string {
	t.Helper()
	n, err := condition.Parse(text, condition.Options{})
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return n.String()
}

// upstreamRule is what the upstream file says about a rule, decoded
// independently of the loader.
type upstreamRule struct {
	Rule     string   `yaml:"rule"`
	Priority string   `yaml:"priority"`
	Source   string   `yaml:"source"`
	Tags     []string `yaml:"tags"`
}

func TestUpstreamRuleset(t *testing.T) {
	src := readRef(t, "k8s_audit_rules.yaml")
	s, ds := Load([]Source{src}, Options{})
	for _, d := range ds {
		if d.Severity == SeverityError {
			t.Error(d.Display())
		} else {
			t.Log(d.Display())
		}
	}
	var items []upstreamRule
	if err := yaml.Unmarshal(src.Data, &items); err != nil {
		t.Fatal(err)
	}
	var want []upstreamRule
	for _, it := range items {
		if it.Rule != "" {
			want = append(want, it)
		}
	}
	if len(want) != 48 || len(s.Rules) != 48 {
		t.Fatalf("got %d rules, file has %d, want 48", len(s.Rules), len(want))
	}
	for i, r := range s.Rules {
		w := want[i]
		if r.Name != w.Rule {
			t.Errorf("rule %d: name %q, want %q", i, r.Name, w.Rule)
		}
		if r.Source != "k8s_audit" {
			t.Errorf("%s: source %q", r.Name, r.Source)
		}
		p, err := alert.ParsePriority(w.Priority)
		if err != nil || r.Priority != p {
			t.Errorf("%s: priority %v, want %s", r.Name, r.Priority, w.Priority)
		}
		wt := slices.Clone(w.Tags)
		slices.Sort(wt)
		wt = slices.Compact(wt)
		if !slices.Equal(r.Tags, wt) {
			t.Errorf("%s: tags %v, want %v", r.Name, r.Tags, wt)
		}
		if !r.Enabled || r.Condition == nil || r.Output == "" || r.Desc == "" {
			t.Errorf("%s: incomplete rule %+v", r.Name, r)
		}
		if hasIdent(r.Condition) {
			t.Errorf("%s: macro reference left in %s", r.Name, r.Condition)
		}
		if p := s.Position(r.Pos); p.File != src.Name || p.Line == 0 {
			t.Errorf("%s: position %v", r.Name, p)
		}
	}
	if s.RequiredEngineVersion != "0.15.0" {
		t.Errorf("RequiredEngineVersion = %q", s.RequiredEngineVersion)
	}
	if n := len(s.RequiredPluginVersions); n != 2 {
		t.Errorf("%d plugin requirements, want 2", n)
	}
	// Spot checks.
	if r := ruleByName(s, "All K8s Audit Events"); r == nil || r.Priority != alert.PriorityDebug {
		t.Errorf("All K8s Audit Events: %+v", r)
	}
	if r := ruleByName(s, "Ingress Object without TLS Certificate Created"); r == nil ||
		!slices.Equal(r.Tags, []string{"k8s", "network"}) ||
		r.Output != "K8s Ingress Without TLS Cert Created (user=%ka.user.name ingress=%ka.target.name namespace=%ka.target.namespace resource=%ka.target.resource)" {
		t.Errorf("Ingress rule: %+v", r)
	}
	r := ruleByName(s, "Disallowed K8s User")
	want0 := canon(t, `jevt.value[/stage] in (ResponseComplete) and (not ka.user.name startswith "system:") and not ka.user.name in (minikube, minikube-user, kubelet, kops, admin, kube, kube-proxy, kube-apiserver-healthcheck, kubernetes-admin, vpa-recommender, vpa-updater, cluster-autoscaler, system:addon-manager, cloud-controller-manager, system:kube-controller-manager) and not ka.user.name in (eks:node-manager, eks:certificate-controller, eks:fargate-scheduler, eks:k8s-metrics, eks:authenticator, eks:cluster-event-watcher, eks:nodewatcher, eks:pod-identity-mutating-webhook, eks:cloud-controller-manager, eks:vpc-resource-controller, eks:addon-manager)`)
	if got := r.Condition.String(); got != want0 {
		t.Errorf("Disallowed K8s User:\n got %s\nwant %s", got, want0)
	}
}

func hasIdent(n condition.Node) bool {
	switch n := n.(type) {
	case *condition.IdentNode:
		return true
	case *condition.BinaryNode:
		for _, c := range n.Children {
			if hasIdent(c) {
				return true
			}
		}
	case *condition.NotNode:
		return hasIdent(n.X)
	}
	return false
}

// overlayCombos returns every list of rule files named in the notes of
// expectations.tsv, e.g. [k8s_audit_rules.yaml + allow_namespace_foo.yaml].
func overlayCombos(t *testing.T) [][]string {
	f, err := os.Open(filepath.Join(refDir, "expectations.tsv"))
	if err != nil {
		t.Skipf("reference corpus not available: %v", err)
	}
	defer f.Close()
	re := regexp.MustCompile(`\[([a-z0-9_./+ -]+\.yaml)\]`)
	seen := map[string]bool{}
	var combos [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		for _, m := range re.FindAllStringSubmatch(sc.Text(), -1) {
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			combos = append(combos, strings.Split(m[1], " + "))
		}
	}
	if len(combos) < 5 {
		t.Fatalf("found only %d overlay combinations", len(combos))
	}
	return combos
}

// refPath finds an overlay file; engine_v4/ overlays are named after the
// engine_v4 ruleset they go with.
func refPath(combo []string, name string) string {
	if name == "k8s_audit_rules.yaml" {
		return name
	}
	if strings.HasPrefix(combo[0], "engine_v4") && (name == "allow_nginx_container.yaml" || name == "allow_only_apache_container.yaml") {
		return "overlays/engine_v4/" + name
	}
	return "overlays/" + name
}

func TestOverlayCombinations(t *testing.T) {
	for _, combo := range overlayCombos(t) {
		t.Run(strings.Join(combo, "+"), func(t *testing.T) {
			var srcs []Source
			for _, name := range combo {
				srcs = append(srcs, readRef(t, refPath(combo, name)))
			}
			s, ds := Load(srcs, Options{})
			for _, d := range ds {
				if d.Severity == SeverityError {
					t.Error(d.Display())
				}
			}
			if len(s.Rules) == 0 {
				t.Error("no rules")
			}
		})
	}
}

func TestOverlayEffects(t *testing.T) {
	main := readRef(t, "k8s_audit_rules.yaml")
	v4 := readRef(t, "overlays/engine_v4_k8s_audit_rules.yaml")
	load := func(srcs ...Source) *Set {
		t.Helper()
		s, ds := Load(srcs, Options{})
		if HasErrors(ds) {
			t.Fatalf("errors: %v", ds)
		}
		return s
	}
	contains := func(s *Set, rule, sub string) {
		t.Helper()
		r := ruleByName(s, rule)
		if r == nil {
			t.Fatalf("no rule %q", rule)
		}
		if !strings.Contains(r.Condition.String(), sub) {
			t.Errorf("%s: condition %s does not contain %q", rule, r.Condition, sub)
		}
	}
	s := load(main, readRef(t, "overlays/allow_namespace_foo.yaml"), readRef(t, "overlays/disallow_kactivity.yaml"))
	contains(s, "Create Disallowed Namespace", "in (kube-system, kube-public, default, foo)")
	contains(s, "K8s Deployment Created", "not jevt.rawtime exists")

	s = load(v4, readRef(t, "overlays/engine_v4/allow_only_apache_container.yaml"))
	contains(s, "Create Disallowed Pod", "not ka.req.container.image = apache")
	if s.RequiredEngineVersion != "0.2.0" {
		t.Errorf("RequiredEngineVersion = %q", s.RequiredEngineVersion)
	}

	s = load(main, v4, readRef(t, "overlays/trust_nginx_container.yaml"))
	if s.RequiredEngineVersion != "0.15.0" {
		t.Errorf("RequiredEngineVersion = %q", s.RequiredEngineVersion)
	}
	// The engine_v4 file redefines rules of the main file: they keep their
	// place, and use the engine_v4 conditions with the undefined list name
	// left literal.
	if s.Rules[0].Name != "Disallowed K8s User" || s.Position(s.Rules[0].Pos).File != "overlays/engine_v4_k8s_audit_rules.yaml" {
		t.Errorf("first rule %q at %v", s.Rules[0].Name, s.Position(s.Rules[0].Pos))
	}
	contains(s, "Create Privileged Pod", "falco_privileged_images")

	s = load(main, readRef(t, "overlays/trust_nginx_container.yaml"))
	contains(s, "Create Privileged Pod", "nginx)")
	contains(s, "Create Sensitive Mount Pod", "nginx)")
	contains(s, "Create HostNetwork Pod", "nginx)")
}

func BenchmarkLoadUpstream(b *testing.B) {
	src := readRef(b, "k8s_audit_rules.yaml")
	b.ReportAllocs()
	for b.Loop() {
		if _, ds := Load([]Source{src}, Options{}); HasErrors(ds) {
			b.Fatal(ds)
		}
	}
}
