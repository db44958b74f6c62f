package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/rules"
)

func TestAnalyzeCondition(t *testing.T) {
	tests := []struct {
		name     string
		cond     string
		fields   string // every reference, in order
		required string // sorted
		cons     string // sorted field=ValueSet
	}{
		{
			name:     "and of equalities",
			cond:     `ka.verb = create and ka.target.resource in (pods, deployments) and ka.req.pod.host_pid = true`,
			fields:   "ka.verb ka.target.resource ka.req.pod.host_pid",
			required: "ka.req.pod.host_pid ka.target.resource ka.verb",
			cons:     "ka.req.pod.host_pid={[true]} ka.target.resource={[deployments pods]} ka.verb={[create]}",
		},
		{
			name:     "or keeps what every branch needs",
			cond:     `(ka.verb = create and ka.target.resource = pods) or (ka.verb = update and ka.user.name = bob)`,
			fields:   "ka.verb ka.target.resource ka.user.name",
			required: "ka.verb",
			cons:     "ka.verb={[create update]}",
		},
		{
			name:     "negations require nothing and exclude values",
			cond:     `ka.verb != get and not ka.verb in (list, watch) and not ka.req.pod.host_network = true`,
			fields:   "ka.verb ka.req.pod.host_network",
			required: "ka.verb",
			cons:     "ka.req.pod.host_network={except [true]} ka.verb={except [get list watch]}",
		},
		{
			name:     "de morgan",
			cond:     `not (ka.stage != ResponseComplete or not ka.verb = delete)`,
			fields:   "ka.stage ka.verb",
			required: "ka.verb", // not (stage != x) also holds without a stage
			cons:     "ka.stage={[ResponseComplete]} ka.verb={[delete]}",
		},
		{
			name:     "only and except",
			cond:     `ka.verb in (create, update, patch) and ka.verb != patch`,
			fields:   "ka.verb",
			required: "ka.verb",
			cons:     "ka.verb={[create update]}",
		},
		{
			name:     "or of only and except",
			cond:     `ka.verb = get or ka.verb != create`,
			fields:   "ka.verb",
			required: "ka.verb",
			cons:     "ka.verb={except [create]}",
		},
		{
			name:     "transformers, val() and exists",
			cond:     `tolower(ka.useragent) startswith kubectl and len(ka.req.role.rules) > 0 and ka.target.name = val(ka.user.name) and ka.sourceips exists`,
			fields:   "ka.useragent ka.req.role.rules ka.target.name ka.user.name ka.sourceips",
			required: "ka.sourceips ka.target.name ka.user.name ka.useragent",
			cons:     "",
		},
		{
			name:     "exceptions are negated",
			cond:     `ka.target.resource = secrets and not (ka.user.name in (alice) and ka.target.namespace = ops)`,
			fields:   "ka.target.resource ka.user.name ka.target.namespace",
			required: "ka.target.resource",
			cons:     "ka.target.resource={[secrets]}",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf("- rule: r\n  desc: d\n  condition: %s\n  output: o\n  priority: WARNING\n  source: k8s_audit\n", tc.cond)
			p, diags := Load([]rules.Source{{Name: "r.yaml", Data: []byte(src)}}, rules.Options{}, DefaultOptions())
			if rules.HasErrors(diags) {
				t.Fatalf("load: %v", diags)
			}
			refs := p.Rules()[0].Refs()
			if got := strings.Join(refs.Fields, " "); got != tc.fields {
				t.Errorf("fields = %q, want %q", got, tc.fields)
			}
			var req []string
			for f := range refs.Required {
				req = append(req, f)
			}
			slices.Sort(req)
			if got := strings.Join(req, " "); got != tc.required {
				t.Errorf("required = %q, want %q", got, tc.required)
			}
			var cons []string
			for f, s := range refs.Constraints {
				if s.Except {
					cons = append(cons, fmt.Sprintf("%s={except %v}", f, s.Values))
				} else {
					cons = append(cons, fmt.Sprintf("%s={%v}", f, s.Values))
				}
			}
			slices.Sort(cons)
			if got := strings.Join(cons, " "); got != tc.cons {
				t.Errorf("constraints = %q, want %q", got, tc.cons)
			}
		})
	}
}

func TestNeeds(t *testing.T) {
	req := func(ref string) bool { return strings.HasPrefix(ref, "ka.req.") }
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`ka.verb = create and ka.req.pod.host_pid = true`, true},
		{`ka.req.binding.subjects.user_names intersects (a) or ka.req.binding.subjects.group_names intersects (b)`, true},
		{`ka.req.binding.role = admin or ka.verb = delete`, false},
		{`ka.verb = create and not ka.req.pod.host_pid = true`, false},
		{`not (ka.verb != create or not ka.req.pod.host_pid = true)`, true},
		{`len(ka.req.role.rules) > 0`, false},
		{`tolower(ka.req.service.type) = nodeport`, true},
	} {
		src := fmt.Sprintf("- rule: r\n  desc: d\n  condition: %s\n  output: o\n  priority: WARNING\n  source: k8s_audit\n", tc.cond)
		p, diags := Load([]rules.Source{{Name: "r.yaml", Data: []byte(src)}}, rules.Options{}, DefaultOptions())
		if rules.HasErrors(diags) {
			t.Fatalf("load: %v", diags)
		}
		if got := p.Rules()[0].Refs().Needs(req); got != tc.want {
			t.Errorf("%s: Needs = %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func TestValueSetAllows(t *testing.T) {
	only := ValueSet{Values: []string{"create", "update"}}
	except := ValueSet{Except: true, Values: []string{"get"}}
	for _, tc := range []struct {
		s    ValueSet
		v    string
		want bool
	}{
		{only, "create", true}, {only, "get", false},
		{except, "get", false}, {except, "create", true},
		{ValueSet{Any: true}, "x", true},
	} {
		if got := tc.s.Allows(tc.v); got != tc.want {
			t.Errorf("%+v.Allows(%q) = %v, want %v", tc.s, tc.v, got, tc.want)
		}
	}
}
