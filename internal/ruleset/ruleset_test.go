package ruleset_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/corpus"
	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/field"
	"github.com/vigilsec/vigil/internal/replay"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
	"github.com/vigilsec/vigil/internal/ruletest"
)

func program(t *testing.T) *engine.Program {
	t.Helper()
	opts := engine.DefaultOptions()
	opts.Env = field.Env{Hostname: "h", Location: time.UTC}
	p, diags := engine.Load([]rules.Source{ruleset.Default()}, rules.Options{}, opts)
	if len(diags) != 0 {
		for _, d := range diags {
			t.Error(d.Display())
		}
		t.FailNow()
	}
	return p
}

func alertsFor(t *testing.T, p *engine.Program, path string) []*alert.Alert {
	t.Helper()
	var got []*alert.Alert
	_, err := replay.Run(context.Background(), []string{path}, replay.Options{Program: p, Out: &bytes.Buffer{},
		OnAlert: func(a *alert.Alert) { got = append(got, a) }})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCapturedScenario replays the real kube-apiserver v1.33 capture: the
// built-in rules must raise exactly the scenario's risky steps, and nothing
// for the API server's start-up or the controllers.
func TestCapturedScenario(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "reference", "captured", "audit-log.jsonl")
	if _, err := os.Stat(path); err != nil {
		t.Skip("captured audit log not found")
	}
	var got []string
	for _, a := range alertsFor(t, program(t), path) {
		got = append(got, a.Rule+" "+a.Message)
		if user := outputField(a, "ka.user.name"); strings.HasPrefix(user, "system:") {
			t.Errorf("alert for system identity %s: %s", user, a.Rule)
		}
	}
	// The scenario's risky steps, all by admin: the validating webhook
	// (step 1), cluster-admin bound to demo:default, its default service
	// account (7), the impersonated
	// secret read refused and the can-i as a service account (8), the exec
	// attempts (9), the secret read (10) and the namespace deletion (12).
	want := []string{
		`Validating Webhook Configuration Changed Validating webhook configuration changed (user=admin impersonated=<NA> verb=create resource=validatingwebhookconfigurations subresource=<NA> ns=<NA> name=demo-validator resp=201 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Admin Role Bound Admin role bound (role=cluster-admin subjects=({"kind":"ServiceAccount","name":"default","namespace":"demo"}) user=admin impersonated=<NA> verb=create resource=clusterrolebindings subresource=<NA> ns=<NA> name=demo-admin resp=201 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`RBAC Binding to Default Service Account RBAC binding to default service account (role=cluster-admin subjects=({"kind":"ServiceAccount","name":"default","namespace":"demo"}) user=admin impersonated=<NA> verb=create resource=clusterrolebindings subresource=<NA> ns=<NA> name=demo-admin resp=201 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Secret Read Refused Secret read refused (user=admin impersonated=eve verb=get resource=secrets subresource=<NA> ns=demo name=demo-secret resp=403 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Access Review by Service Account From Interactive Client Access review by service account from interactive client (user=admin impersonated=system:serviceaccount:demo:default verb=create resource=selfsubjectaccessreviews subresource=<NA> ns=<NA> name=<NA> resp=201 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Exec or Attach Into Pod Exec or attach into pod (command=id user=admin impersonated=<NA> verb=get resource=pods subresource=exec ns=demo name=demo-pod resp=400 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Exec or Attach Into Pod Exec or attach into pod (command=id user=admin impersonated=<NA> verb=create resource=pods subresource=exec ns=demo name=demo-pod resp=400 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`Secret Read by User Secret read by user (user=admin impersonated=<NA> verb=get resource=secrets subresource=<NA> ns=demo name=demo-secret resp=200 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
		`K8s Namespace Deleted K8s namespace deleted (user=admin impersonated=<NA> verb=delete resource=namespaces subresource=<NA> ns=demo name=demo resp=200 source_ips=(127.0.0.1) useragent=kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0 cluster=<NA>)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts:\n%q\nwant:\n%q", got, want)
	}
}

// TestFalcoTrace checks the seed's detection on Falco's own trace.
func TestFalcoTrace(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "reference", "falco", "delete_namespace_foo.json")
	if _, err := os.Stat(path); err != nil {
		t.Skip("Falco traces not found")
	}
	got := alertsFor(t, program(t), path)
	if len(got) != 1 || got[0].Rule != "K8s Namespace Deleted" || got[0].Priority != alert.PriorityWarning {
		t.Fatalf("alerts = %+v", got)
	}
}

// corpusRules are the built-in rules the generated corpus is built to
// exercise: its risky actions were written for the upstream rules, so it
// covers the built-in rules that detect the same things. The other
// built-in rules (kubelet API abuse, webhooks, impersonation, RBAC
// grants, miners, ...) are exercised by the cases in testdata/cases,
// which TestCases requires for every rule.
var corpusRules = []string{
	"Exec or Attach Into Pod", "Port-Forward to Pod", "Ephemeral Debug Container Added",
	"Pod Created in Kube Namespace", "Untrusted Image Pod Created", "Untrusted Image Ephemeral Container Added",
	"K8s Namespace Deleted", "Admin Role Bound", "RBAC Binding Created by Workload Identity",
	"Service Account Created in Kube Namespace", "Privileged Pod Created", "Host Namespace Pod Created",
	"Sensitive HostPath Mount Pod Created", "Role With Wildcard Permissions", "Role Grants Pod Exec",
	"Role Grants Secret Access", "Secret Read by User", "Secret Read Refused", "ConfigMap With Credentials Written",
	"Anonymous Request Allowed", "Anonymous Request Succeeded", "NodePort Service Created",
	"Ingress Without TLS Created", "System ClusterRole Modified or Deleted",
}

// TestCorpusRulesFire checks that the generated corpus, which includes
// users doing risky things, exercises every built-in rule in corpusRules,
// and that the rules stay quiet on most traffic.
func TestCorpusRulesFire(t *testing.T) {
	p := program(t)
	path := filepath.Join(t.TempDir(), "corpus.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := corpus.Write(f, corpus.Options{Seed: 11, Events: 60000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	count := map[string]int{}
	alerts := alertsFor(t, p, path)
	for _, a := range alerts {
		count[a.Rule]++
	}
	names := map[string]bool{}
	for _, r := range p.Rules() {
		names[r.Name] = true
	}
	for _, name := range corpusRules {
		if !names[name] {
			t.Errorf("corpusRules names %q, which is not a built-in rule", name)
		} else if count[name] == 0 {
			t.Errorf("rule %q never fired on the corpus", name)
		}
	}
	if rate := float64(len(alerts)) / 60000; rate > 0.01 {
		t.Errorf("alert rate %.3f: the built-in rules are too noisy (%v)", rate, count)
	}
}

// TestCases runs every rule test case in testdata/cases against the
// built-in rules, as 'vigil rules test internal/ruleset/testdata/cases'
// does, and checks that each built-in rule has a positive and a negative
// case.
func TestCases(t *testing.T) {
	files, err := ruletest.Find([]string{filepath.Join("testdata", "cases")})
	if err != nil {
		t.Fatal(err)
	}
	runner, err := ruletest.NewRunner(ruletest.Options{Rules: []rules.Source{ruleset.Default()}})
	if err != nil {
		t.Fatal(err)
	}
	builtin := program(t).Rules()
	positive, negative := map[string]int{}, map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ruletest.Parse(f, data)
		if err != nil {
			t.Error(err)
			continue
		}
		res := runner.Run(c)
		if !res.Passed() {
			t.Errorf("%s:\n%s", f, res.Report())
		}
		base := filepath.Base(f)
		for _, r := range builtin {
			if !strings.HasPrefix(base, slug(r.Name)+".") {
				continue
			}
			if strings.Contains(base, ".positive") {
				positive[r.Name]++
				if !slices.Contains(c.Want, r.Name) {
					t.Errorf("%s is a positive case for %q but does not want it", f, r.Name)
				}
			} else {
				negative[r.Name]++
			}
		}
	}
	for _, r := range builtin {
		if positive[r.Name] == 0 || negative[r.Name] == 0 {
			t.Errorf("rule %q has %d positive and %d negative cases; it needs at least one of each", r.Name, positive[r.Name], negative[r.Name])
		}
	}
	t.Logf("%d cases for %d rules", len(files), len(builtin))
}

// slug turns a rule name into the file-name prefix of its cases.
func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
