package coverage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Level is an audit level: how much of a request the API server logs.
type Level int

// Audit levels, in increasing order of detail.
const (
	LevelNone            Level = iota // nothing
	LevelMetadata                     // user, verb, objectRef, response status, annotations
	LevelRequest                      // and the request body (requestObject)
	LevelRequestResponse              // and the response body (responseObject)
)

var levelNames = []string{"None", "Metadata", "Request", "RequestResponse"}

func (l Level) String() string {
	if l >= LevelNone && l <= LevelRequestResponse {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Stages of an audit event.
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

var allStages = []string{StageRequestReceived, StageResponseStarted, StageResponseComplete, StagePanic}

// Policy is an audit.k8s.io/v1 Policy: the file of kube-apiserver's
// --audit-policy-file. The first rule that matches a request sets its
// level; a request no rule matches is not logged.
type Policy struct {
	Rules             []PolicyRule
	OmitStages        []string // for every rule
	OmitManagedFields bool     // default for rules that do not say
}

// PolicyRule is one rule of a Policy. Empty lists match everything.
type PolicyRule struct {
	Index             int      // 1-based position in the policy
	Line              int      // line of the rule in the file
	Level             Level    // what is logged for the requests it matches
	Users             []string // user names
	UserGroups        []string // any of the user's groups
	Verbs             []string // request verbs
	Resources         []GroupResources
	Namespaces        []string // "" matches cluster-scoped resources
	NonResourceURLs   []string // exact, or a prefix ending in *
	OmitStages        []string // added to Policy.OmitStages
	OmitManagedFields *bool    // overrides Policy.OmitManagedFields
}

// GroupResources selects resources of one API group.
type GroupResources struct {
	Group         string   // "" is the core group
	Resources     []string // "pods", "pods/exec", "*", "*/scale", "pods/*"; empty: all of the group
	ResourceNames []string // object names; empty: any
}

// yaml shapes, decoded strictly.
type yamlPolicy struct {
	APIVersion        string         `yaml:"apiVersion"`
	Kind              string         `yaml:"kind"`
	Metadata          map[string]any `yaml:"metadata"`
	Rules             []yamlRule     `yaml:"rules"`
	OmitStages        []string       `yaml:"omitStages"`
	OmitManagedFields bool           `yaml:"omitManagedFields"`
}

type yamlRule struct {
	Level             string               `yaml:"level"`
	Users             []string             `yaml:"users"`
	UserGroups        []string             `yaml:"userGroups"`
	Verbs             []string             `yaml:"verbs"`
	Resources         []yamlGroupResources `yaml:"resources"`
	Namespaces        []string             `yaml:"namespaces"`
	NonResourceURLs   []string             `yaml:"nonResourceURLs"`
	OmitStages        []string             `yaml:"omitStages"`
	OmitManagedFields *bool                `yaml:"omitManagedFields"`
}

type yamlGroupResources struct {
	Group         string   `yaml:"group"`
	Resources     []string `yaml:"resources"`
	ResourceNames []string `yaml:"resourceNames"`
}

// ParsePolicy reads an audit policy (YAML or JSON), strictly: unknown keys,
// unknown levels and stages, and rules that mix resources with
// nonResourceURLs are errors, each with its line, all at once.
func ParsePolicy(data []byte) (*Policy, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty audit policy")
		}
		return nil, fmt.Errorf("parse audit policy: %w", err)
	}
	var yp yamlPolicy
	// Decode again through a strict decoder: yaml.Node.Decode has no
	// KnownFields switch.
	sd := yaml.NewDecoder(bytes.NewReader(data))
	sd.KnownFields(true)
	if err := sd.Decode(&yp); err != nil {
		return nil, fmt.Errorf("parse audit policy: %w", err)
	}
	var errs []error
	if yp.Kind != "Policy" {
		errs = append(errs, fmt.Errorf("kind is %q, want Policy", yp.Kind))
	}
	if yp.APIVersion != "audit.k8s.io/v1" && yp.APIVersion != "audit.k8s.io/v1beta1" {
		errs = append(errs, fmt.Errorf("apiVersion is %q, want audit.k8s.io/v1", yp.APIVersion))
	}
	p := &Policy{OmitStages: yp.OmitStages, OmitManagedFields: yp.OmitManagedFields}
	errs = append(errs, checkStages("omitStages", yp.OmitStages)...)
	lines := ruleLines(&doc)
	for i, yr := range yp.Rules {
		r := PolicyRule{Index: i + 1, Users: yr.Users, UserGroups: yr.UserGroups, Verbs: yr.Verbs,
			Namespaces: yr.Namespaces, NonResourceURLs: yr.NonResourceURLs, OmitStages: yr.OmitStages,
			OmitManagedFields: yr.OmitManagedFields}
		if i < len(lines) {
			r.Line = lines[i]
		}
		where := fmt.Sprintf("rule %d (line %d)", r.Index, r.Line)
		lv := slices.Index(levelNames, yr.Level)
		if lv < 0 {
			errs = append(errs, fmt.Errorf("%s: level %q: want None, Metadata, Request or RequestResponse", where, yr.Level))
		}
		r.Level = Level(lv)
		for _, g := range yr.Resources {
			r.Resources = append(r.Resources, GroupResources(g))
		}
		if len(r.NonResourceURLs) > 0 && (len(r.Resources) > 0 || len(r.Namespaces) > 0) {
			errs = append(errs, fmt.Errorf("%s: nonResourceURLs cannot be combined with resources or namespaces", where))
		}
		errs = append(errs, checkStages(where+": omitStages", r.OmitStages)...)
		p.Rules = append(p.Rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func checkStages(where string, stages []string) []error {
	var errs []error
	for _, s := range stages {
		if !slices.Contains(allStages, s) {
			errs = append(errs, fmt.Errorf("%s: unknown stage %q", where, s))
		}
	}
	return errs
}

// ruleLines returns the line of each item of the top-level rules list.
func ruleLines(doc *yaml.Node) []int {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, it := range m.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}

// omitted returns the stages r does not log: the policy's and its own.
func (p *Policy) omitted(r *PolicyRule) []string {
	out := slices.Clone(p.OmitStages)
	for _, s := range r.OmitStages {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// omitsManagedFields reports whether r's events lack managedFields.
func (p *Policy) omitsManagedFields(r *PolicyRule) bool {
	if r.OmitManagedFields != nil {
		return *r.OmitManagedFields
	}
	return p.OmitManagedFields
}

// describe is a short text of what r selects, for reasons.
func (r *PolicyRule) describe() string {
	var parts []string
	if len(r.Users) > 0 {
		parts = append(parts, "users "+strings.Join(r.Users, ","))
	}
	if len(r.UserGroups) > 0 {
		parts = append(parts, "groups "+strings.Join(r.UserGroups, ","))
	}
	if len(r.Verbs) > 0 {
		parts = append(parts, "verbs "+strings.Join(r.Verbs, ","))
	}
	var res []string
	for _, g := range r.Resources {
		if len(g.Resources) == 0 {
			res = append(res, "group "+orCore(g.Group))
			continue
		}
		res = append(res, g.Resources...)
	}
	if len(res) > 0 {
		parts = append(parts, strings.Join(res, ","))
	}
	if len(r.Namespaces) > 0 {
		parts = append(parts, "namespaces "+strings.Join(r.Namespaces, ","))
	}
	if len(r.NonResourceURLs) > 0 {
		parts = append(parts, strings.Join(r.NonResourceURLs, ","))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("policy rule %d (line %d, everything else)", r.Index, r.Line)
	}
	return fmt.Sprintf("policy rule %d (line %d: %s)", r.Index, r.Line, strings.Join(parts, "; "))
}

func orCore(g string) string {
	if g == "" {
		return `"" (core)`
	}
	return g
}
