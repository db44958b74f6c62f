package coverage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rules"
	"github.com/vigilsec/vigil/internal/ruleset"
)

// testRules are small rules, one per need, for the table below.
const testRules = `
- rule: Secret Read
  desc: d
  condition: ka.verb in (get, list) and ka.target.resource = secrets and ka.response.code startswith 2
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Token Secret Created
  desc: d
  condition: ka.verb = create and ka.target.resource = secrets and jevt.value[/requestObject/type] = kubernetes.io/service-account-token
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Privileged Pod
  desc: d
  condition: ka.stage = ResponseComplete and ka.verb = create and ka.target.resource = pods and ka.req.pod.containers.privileged intersects (true)
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Pod Deleted
  desc: d
  condition: ka.verb = delete and ka.target.resource = pods and ka.resp.name exists
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Exec
  desc: d
  condition: ka.stage = ResponseStarted and ka.target.resource = pods and ka.target.subresource in (exec, attach)
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Foreign Address
  desc: d
  condition: ka.verb = create and ka.target.resource = configmaps and not ka.sourceips intersects (10.0.0.1)
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Forbidden
  desc: d
  condition: ka.auth.decision = forbid
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Impersonation
  desc: d
  condition: ka.impuser.name exists and ka.verb != get
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Health Probe
  desc: d
  condition: ka.uri in (/healthz, /livez) and ka.user.name = system:anonymous
  output: o
  priority: WARNING
  source: k8s_audit
- rule: Kube ConfigMap Written
  desc: d
  condition: ka.verb in (create, update, patch) and ka.target.resource = configmaps and ka.target.namespace = kube-system and ka.req.configmap.obj exists
  output: o
  priority: WARNING
  source: k8s_audit
`

func load(t *testing.T, srcs ...rules.Source) *engine.Program {
	t.Helper()
	p, diags := engine.Load(srcs, rules.Options{}, engine.DefaultOptions())
	if rules.HasErrors(diags) {
		t.Fatalf("rules: %v", diags)
	}
	return p
}

func readPolicy(t *testing.T, path string) *Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parse(t *testing.T, text string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func result(t *testing.T, rep *Report, rule string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Rule == rule {
			return r
		}
	}
	t.Fatalf("no result for %q", rule)
	return Result{}
}

func TestCheck(t *testing.T) {
	prog := load(t, rules.Source{Name: "test.yaml", Data: []byte(testRules)})
	everything := func(level string) string {
		return "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: " + level + "\n"
	}
	type want struct {
		rule   string
		status Status
		reason string // a substring of one of the reasons; "" for fires
	}
	tests := []struct {
		name    string
		policy  string // inline, or a file under testdata (or docs) when it ends in .yaml
		capture Capture
		want    []want
	}{
		{
			name: "everything at RequestResponse", policy: everything("RequestResponse"), capture: CaptureWebhook,
			want: []want{
				{"Secret Read", Fires, ""}, {"Token Secret Created", Fires, ""}, {"Privileged Pod", Fires, ""},
				{"Pod Deleted", Fires, ""}, {"Exec", Fires, ""}, {"Foreign Address", Fires, ""},
				{"Forbidden", Fires, ""}, {"Impersonation", Fires, ""}, {"Health Probe", Fires, ""},
			},
		},
		{
			name: "everything at Metadata", policy: everything("Metadata"), capture: CaptureLog,
			want: []want{
				{"Secret Read", Fires, ""},
				{"Token Secret Created", CannotFire, "logs secrets at Metadata: the rule requires jevt.value[/requestObject/type], which needs Request"},
				{"Privileged Pod", CannotFire, "the rule requires ka.req.pod.containers.privileged, which needs Request"},
				{"Pod Deleted", CannotFire, "which needs RequestResponse"},
				{"Exec", Fires, ""},
			},
		},
		{
			name: "everything at Request", policy: everything("Request"), capture: CaptureWebhook,
			want: []want{
				{"Token Secret Created", Fires, ""}, {"Privileged Pod", Fires, ""},
				{"Pod Deleted", CannotFire, "logs pods at Request: the rule requires ka.resp.name, which needs RequestResponse"},
			},
		},
		{
			name: "nothing logged",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
`, capture: CaptureWebhook,
			want: []want{{"Secret Read", CannotFire, "logs secrets at None"}, {"Exec", CannotFire, "at None"}},
		},
		{
			name: "no rule matches",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: RequestResponse
  resources: [{group: "", resources: [pods]}]
`, capture: CaptureWebhook,
			want: []want{
				{"Privileged Pod", Fires, ""},
				{"Secret Read", CannotFire, "no policy rule matches secrets"},
				{"Exec", CannotFire, "no policy rule matches pods/attach, pods/exec"},
			},
		},
		{
			name: "stages omitted",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
  omitStages: [ResponseStarted]
`, capture: CaptureWebhook,
			want: []want{
				{"Exec", CannotFire, "omits stages RequestReceived, ResponseStarted, and the rule needs stage ResponseStarted"},
				{"Privileged Pod", Fires, ""},
			},
		},
		{
			name: "first match wins, by verb and subresource",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  verbs: [get, list, watch]
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
  resources: [{group: "", resources: ["pods/*"]}]
- level: RequestResponse
`, capture: CaptureWebhook,
			want: []want{
				{"Secret Read", CannotFire, "policy rule 1 (line 4: verbs get,list,watch; secrets) logs secrets at None"},
				{"Token Secret Created", Fires, ""},
				{"Privileged Pod", CannotFire, "policy rule 2 (line 7: pods/*) logs pods at Metadata"},
				{"Exec", Fires, ""},
			},
		},
		{
			name: "part of the requests not logged",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  namespaces: [kube-system]
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
`, capture: CaptureWebhook,
			want: []want{
				{"Secret Read", Degraded, "for some of its requests: policy rule 1 (line 4: secrets; namespaces kube-system) logs secrets at None"},
			},
		},
		{
			name: "routine exclusions of some users are not reported",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  users: [system:kube-proxy]
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
`, capture: CaptureWebhook,
			want: []want{{"Secret Read", Fires, ""}},
		},
		{
			name: "non-resource URLs",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*"]
- level: Metadata
`, capture: CaptureWebhook,
			want: []want{{"Health Probe", CannotFire, "logs these requests at None"}, {"Secret Read", Fires, ""}},
		},
		{
			name: "exceptions that read what is not logged degrade",
			policy: `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
`, capture: CaptureWebhook,
			want: []want{{"Kube ConfigMap Written", CannotFire, "ka.req.configmap.obj"}, {"Foreign Address", Fires, ""}},
		},
		{
			name: "the Kubernetes documentation's example", policy: "testdata/k8s-docs-example.yaml", capture: CaptureWebhook,
			want: []want{
				{"Privileged Pod", Fires, ""}, {"Pod Deleted", Fires, ""},
				{"Kube ConfigMap Written", Fires, ""},
				{"Token Secret Created", CannotFire, "policy rule 7 (line 54: secrets,configmaps) logs secrets at Metadata"},
				{"Exec", Fires, ""}, // "pods" is not pods/exec: the core group's rule logs it
				{"Health Probe", Fires, ""},
			},
		},
		{
			name: "the recommended policy", policy: "../../docs/examples/audit-policy.yaml", capture: CaptureWebhook,
			want: []want{
				{"Secret Read", Fires, ""}, {"Token Secret Created", Fires, ""}, {"Privileged Pod", Fires, ""},
				{"Pod Deleted", Fires, ""}, {"Exec", Fires, ""}, {"Kube ConfigMap Written", Fires, ""},
				{"Health Probe", CannotFire, "logs these requests at None"},
			},
		},
		{
			name: "admission", capture: CaptureAdmission,
			want: []want{
				{"Secret Read", CannotFire, "admission capture never sees verb get, list"},
				{"Token Secret Created", Fires, ""},
				{"Privileged Pod", Fires, ""},
				{"Pod Deleted", Fires, ""},
				{"Exec", CannotFire, "admission capture has only stage ResponseComplete"},
				{"Foreign Address", Degraded, "admission capture never sees source IPs, which the rule reads (ka.sourceips)"},
				{"Forbidden", CannotFire, "authorization decision is always allow"},
				{"Impersonation", CannotFire, "never sees impersonation: the rule requires ka.impuser.name"},
				{"Health Probe", CannotFire, "never sees non-resource requests"},
				{"Kube ConfigMap Written", Fires, ""}, // a patch arrives as update, which it matches
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pol *Policy
			switch {
			case strings.HasSuffix(tc.policy, ".yaml"):
				pol = readPolicy(t, tc.policy)
			case tc.policy != "":
				pol = parse(t, tc.policy)
			}
			rep, err := Check(prog, pol, tc.capture)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				got := result(t, rep, w.rule)
				if got.Status != w.status {
					t.Errorf("%s: status %s, want %s; reasons %q", w.rule, got.Status, w.status, got.Reasons)
					continue
				}
				if w.reason == "" {
					if w.status == Fires && len(got.Reasons) > 0 {
						t.Errorf("%s: fires with reasons %q", w.rule, got.Reasons)
					}
					continue
				}
				if !slices.ContainsFunc(got.Reasons, func(r string) bool { return strings.Contains(r, w.reason) }) {
					t.Errorf("%s: reasons %q, want one containing %q", w.rule, got.Reasons, w.reason)
				}
			}
		})
	}
}

// TestAdmissionReadRules: on the admission path every built-in rule about
// reads (get, list, watch) is unreachable, and says so.
func TestAdmissionReadRules(t *testing.T) {
	prog := load(t, ruleset.Default())
	rep, err := Check(prog, nil, CaptureAdmission)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, r := range prog.Enabled() {
		verbs := values(r.Refs(), verbRefs)
		if verbs.Any || verbs.Except || slices.ContainsFunc(verbs.Values, func(v string) bool { return admissionVerb[v] != "" }) {
			continue
		}
		reads++
		got := result(t, rep, r.Name)
		if got.Status != CannotFire || !slices.ContainsFunc(got.Reasons, func(s string) bool { return strings.HasPrefix(s, "admission capture never sees verb ") }) {
			t.Errorf("%s (verbs %v): %s %q, want cannot fire: never sees verb", r.Name, verbs.Values, got.Status, got.Reasons)
		}
	}
	if reads < 5 {
		t.Errorf("only %d read rules in the built-in rules; the test checks nothing", reads)
	}
	for _, name := range []string{"Secret Read by User", "Secrets Listed Cluster-Wide", "Secrets Enumerated", "First-Seen Source Address for User"} {
		if got := result(t, rep, name); got.Status != CannotFire {
			t.Errorf("%s: %s, want cannot fire", name, got.Status)
		}
	}
}

// TestRecommendedPolicy: with the policy docs/kubernetes.md recommends,
// every built-in rule can fire on the audit webhook path; with the
// Kubernetes documentation's example, the rules on request bodies the
// example logs at Metadata cannot.
func TestRecommendedPolicy(t *testing.T) {
	prog := load(t, ruleset.Default())
	rep, err := Check(prog, readPolicy(t, filepath.Join("..", "..", "docs", "examples", "audit-policy.yaml")), CaptureWebhook)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Status == CannotFire {
			t.Errorf("recommended policy: %s cannot fire: %q", r.Rule, r.Reasons)
		}
	}
	rep, err = Check(prog, readPolicy(t, filepath.Join("testdata", "k8s-docs-example.yaml")), CaptureWebhook)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Admin Role Bound", "Role Grants Pod Exec", "Service Account Token Secret Created", "Admin Bound Then Privileged Pod"} {
		if got := result(t, rep, name); got.Status != CannotFire {
			t.Errorf("k8s example: %s: %s, want cannot fire", name, got.Status)
		}
	}
	for _, name := range []string{"Privileged Pod Created", "Secret Read by User", "K8s Namespace Deleted"} {
		if got := result(t, rep, name); got.Status == CannotFire {
			t.Errorf("k8s example: %s cannot fire: %q", name, got.Reasons)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verb: [get]\n", "field verb not found"},
		{"bad level", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n", `rule 1 (line 4): level "Everything"`},
		{"bad stage", "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [Done]\nrules: []\n", `omitStages: unknown stage "Done"`},
		{"kind", "apiVersion: audit.k8s.io/v1\nkind: Pod\n", `kind is "Pod"`},
		{"mixed", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [/x]\n  namespaces: [a]\n", "cannot be combined"},
		{"empty", "", "empty audit policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
