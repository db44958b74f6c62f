package coverage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/engine"
)

// tri is a three-valued answer: does a policy rule match the requests a
// rule can match? All of them, none, or some.
type tri int

const (
	no tri = iota
	maybe
	yes
)

// and is the answer for both conditions.
func (t tri) and(u tri) tri { return min(t, u) }

// outcome is what the policy can do with a rule's requests: the policy
// rule that decides (nil: none matches, so nothing is logged), and how it
// matches them.
type outcome struct {
	rule     *PolicyRule
	match    tri  // yes: every request the walk got this far; maybe: some
	explicit bool // the policy rule names every resource the rule can match
}

// walk returns the outcomes the policy can reach for n's requests: policy
// rules are tried in order, as kube-apiserver does, and the walk stops at
// the first that matches all of them.
func (c *checker) walk(n *needs) []outcome {
	var out []outcome
	for i := range c.pol.Rules {
		pr := &c.pol.Rules[i]
		res := matchResource(pr, n)
		m := matchList(n.users, pr.Users).and(matchList(n.verbs, pr.Verbs)).and(res)
		if len(pr.UserGroups) > 0 {
			m = m.and(maybe)
		}
		if m == no {
			continue
		}
		explicit := len(pr.Resources) > 0 && matchGroupResources(pr.Resources, n) == yes
		out = append(out, outcome{rule: pr, match: m, explicit: explicit})
		if m == yes {
			return out
		}
	}
	return append(out, outcome{})
}

// matchList matches a rule's possible values of a field against a policy
// list (empty: everything).
func matchList(s engine.ValueSet, list []string) tri {
	if len(list) == 0 {
		return yes
	}
	if s.Any {
		return maybe
	}
	if s.Except {
		for _, v := range list {
			if s.Allows(v) {
				return maybe
			}
		}
		return no
	}
	in := 0
	for _, v := range s.Values {
		if slices.Contains(list, v) {
			in++
		}
	}
	switch in {
	case 0:
		return no
	case len(s.Values):
		return yes
	}
	return maybe
}

// matchResource matches the resource part of a policy rule: namespaces and
// resources select resource requests, nonResourceURLs the others.
func matchResource(pr *PolicyRule, n *needs) tri {
	switch {
	case len(pr.Namespaces) > 0 || len(pr.Resources) > 0:
		t := yes
		if !n.resourceRequest {
			if uriNonResource(n.uris) {
				return no
			}
			t = maybe
		}
		if len(pr.Namespaces) > 0 {
			t = t.and(matchList(namespaces(n), pr.Namespaces))
		}
		if len(pr.Resources) > 0 {
			t = t.and(matchGroupResources(pr.Resources, n))
		}
		return t
	case len(pr.NonResourceURLs) > 0:
		if n.resourceRequest {
			return no
		}
		if !uriNonResource(n.uris) {
			return maybe
		}
		in := 0
		for _, u := range n.uris.Values {
			if slices.ContainsFunc(pr.NonResourceURLs, func(p string) bool { return urlMatch(p, u) }) {
				in++
			}
		}
		switch in {
		case 0:
			return no
		case len(n.uris.Values):
			return yes
		}
		return maybe
	}
	return yes
}

// urlMatch is kube-apiserver's nonResourceURLs match: exact, or a prefix
// followed by *.
func urlMatch(pattern, u string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(u, p)
	}
	return pattern == u
}

// namespaces returns the namespaces n's requests can be in: "" only, when
// every resource it can match is cluster-scoped.
func namespaces(n *needs) engine.ValueSet {
	if !n.namespaces.Any || n.resources.Any || n.resources.Except || len(n.resources.Values) == 0 {
		return n.namespaces
	}
	for _, r := range n.resources.Values {
		if !clusterScoped[r] {
			return n.namespaces
		}
	}
	return engine.ValueSet{Values: []string{""}}
}

// matchGroupResources matches every (group, resource, subresource, name)
// n can have against a policy rule's resources.
func matchGroupResources(grs []GroupResources, n *needs) tri {
	if n.resources.Any || n.resources.Except {
		return maybe
	}
	subs := []string{""} // not testing subresources: about the objects themselves
	switch {
	case n.subresources.Except:
		return maybe
	case !n.subresources.Any:
		subs = n.subresources.Values
	}
	var got []tri
	for _, r := range n.resources.Values {
		for _, sub := range subs {
			got = append(got, matchOne(grs, r, sub, n.names))
		}
	}
	switch {
	case len(got) == 0:
		return no
	case !slices.ContainsFunc(got, func(t tri) bool { return t != yes }):
		return yes
	case !slices.ContainsFunc(got, func(t tri) bool { return t != no }):
		return no
	}
	return maybe
}

// matchOne is kube-apiserver's ruleMatchesResource for one request shape;
// the group comes from a table of well-known resources, and is unknown
// (maybe) for others.
func matchOne(grs []GroupResources, res, sub string, names engine.ValueSet) tri {
	groups, known := resourceGroups[res]
	combined := res
	if sub != "" {
		combined = res + "/" + sub
	}
	best := no
	for _, gr := range grs {
		g := yes
		if !known {
			g = maybe
		} else if !slices.Contains(groups, gr.Group) {
			continue
		} else if len(groups) > 1 {
			g = maybe
		}
		if len(gr.Resources) == 0 {
			best = max(best, g)
			continue
		}
		for _, p := range gr.Resources {
			hit := p == combined || p == "*" ||
				sub != "" && strings.HasPrefix(p, "*/") && sub == strings.TrimPrefix(p, "*/") ||
				strings.HasSuffix(p, "/*") && res == strings.TrimSuffix(p, "/*")
			if !hit {
				continue
			}
			t := g
			if len(gr.ResourceNames) > 0 {
				t = t.and(matchList(names, gr.ResourceNames))
			}
			best = max(best, t)
		}
	}
	return best
}

// policy judges n on the audit webhook and log paths.
func (c *checker) policy(n *needs) (fail, degrade []string) {
	outcomes := c.walk(n)
	ok := 0
	var fails, soft []string
	for _, o := range outcomes {
		f, d := c.judge(n, o)
		if len(f) == 0 {
			ok++
			degrade = append(degrade, d...)
			continue
		}
		fails = append(fails, f...)
		// Part of the rule's requests is not logged. Worth saying when
		// the policy rule selects the rule's resources explicitly, for
		// everyone; not for routine exclusions of some users' traffic,
		// nor for a broad rule whose requests merely overlap it.
		if o.rule != nil && o.explicit && len(o.rule.Users) == 0 && len(o.rule.UserGroups) == 0 {
			for _, s := range f {
				soft = append(soft, "for some of its requests: "+s)
			}
		}
	}
	if ok == 0 {
		return fails, nil
	}
	return nil, append(degrade, soft...)
}

// judge says what outcome o does to n.
func (c *checker) judge(n *needs, o outcome) (fail, degrade []string) {
	what := describeRequests(n)
	if o.rule == nil {
		return []string{fmt.Sprintf("no policy rule matches %s, so they are not logged", what)}, nil
	}
	desc := o.rule.describe()
	if o.rule.Level == LevelNone {
		return []string{fmt.Sprintf("%s logs %s at None (not at all)", desc, what)}, nil
	}
	need, needRefs := LevelMetadata, []string(nil)
	if r := n.required[partRequest]; len(r) > 0 {
		need, needRefs = LevelRequest, r
	}
	if r := n.required[partResponse]; len(r) > 0 {
		need, needRefs = LevelRequestResponse, r
	}
	if o.rule.Level < need {
		fail = append(fail, fmt.Sprintf("%s logs %s at %s: the rule requires %s, which needs %s", desc, what, o.rule.Level, list(needRefs), need))
	}
	if r := n.read[partRequest]; len(r) > 0 && o.rule.Level < LevelRequest {
		degrade = append(degrade, fmt.Sprintf("%s logs %s at %s: the rule also reads %s, which needs Request, and sees no value", desc, what, o.rule.Level, list(r)))
	}
	if r := n.read[partResponse]; len(r) > 0 && o.rule.Level < LevelRequestResponse {
		degrade = append(degrade, fmt.Sprintf("%s logs %s at %s: the rule also reads %s, which needs RequestResponse, and sees no value", desc, what, o.rule.Level, list(r)))
	}
	omitted := c.pol.omitted(o.rule)
	// RequestReceived is written before authorization and before the body
	// is read: no status, no decision, no bodies.
	late := len(n.required[partStatus])+len(n.required[partDecision])+len(n.required[partRequest])+len(n.required[partResponse]) > 0
	var usable []string
	for _, s := range []string{StageRequestReceived, StageResponseStarted, StageResponseComplete} {
		if slices.Contains(omitted, s) || !n.stages.Allows(s) || late && s == StageRequestReceived {
			continue
		}
		usable = append(usable, s)
	}
	switch {
	case len(usable) == 0:
		fail = append(fail, fmt.Sprintf("%s omits stages %s, and the rule needs %s", desc, strings.Join(omitted, ", "), stageText(n.stages, late)))
	case n.stages.Allows(StageResponseComplete) && slices.Contains(omitted, StageResponseComplete) && !slices.Contains(usable, StageRequestReceived):
		degrade = append(degrade, fmt.Sprintf("%s omits stage ResponseComplete: the rule sees only long-running requests (watch, exec, attach, port-forward) at ResponseStarted", desc))
	}
	if c.pol.omitsManagedFields(o.rule) {
		if r := n.required[partManagedFields]; len(r) > 0 {
			fail = append(fail, fmt.Sprintf("%s omits managedFields: the rule requires %s", desc, list(r)))
		} else if r := n.read[partManagedFields]; len(r) > 0 {
			degrade = append(degrade, fmt.Sprintf("%s omits managedFields, which the rule reads (%s)", desc, list(r)))
		}
	}
	return fail, degrade
}

func stageText(s engine.ValueSet, late bool) string {
	t := "a stage"
	if !s.Any && !s.Except {
		t = "stage " + strings.Join(s.Values, " or ")
	}
	if late {
		t += " after RequestReceived (it reads the response status, decision or bodies)"
	}
	return t
}

// describeRequests names the requests n can match, for reasons.
func describeRequests(n *needs) string {
	if n.resources.Any || n.resources.Except || len(n.resources.Values) == 0 {
		if n.verbs.Any || n.verbs.Except {
			return "these requests"
		}
		return strings.Join(n.verbs.Values, "/") + " requests"
	}
	var rs []string
	for _, r := range n.resources.Values {
		if !n.subresources.Any && !n.subresources.Except {
			for _, s := range n.subresources.Values {
				rs = append(rs, r+"/"+s)
			}
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) > 4 {
		rs = append(rs[:4], "…")
	}
	return strings.Join(rs, ", ")
}

// resourceGroups holds the API groups of well-known resources; events
// exist in two.
var resourceGroups = map[string][]string{
	"pods": {""}, "secrets": {""}, "configmaps": {""}, "services": {""}, "serviceaccounts": {""},
	"namespaces": {""}, "nodes": {""}, "persistentvolumes": {""}, "persistentvolumeclaims": {""},
	"endpoints": {""}, "events": {"", "events.k8s.io"}, "replicationcontrollers": {""},
	"resourcequotas": {""}, "limitranges": {""}, "podtemplates": {""},
	"deployments": {"apps"}, "daemonsets": {"apps"}, "statefulsets": {"apps"}, "replicasets": {"apps"},
	"controllerrevisions": {"apps"}, "jobs": {"batch"}, "cronjobs": {"batch"},
	"roles": {"rbac.authorization.k8s.io"}, "rolebindings": {"rbac.authorization.k8s.io"},
	"clusterroles": {"rbac.authorization.k8s.io"}, "clusterrolebindings": {"rbac.authorization.k8s.io"},
	"mutatingwebhookconfigurations":     {"admissionregistration.k8s.io"},
	"validatingwebhookconfigurations":   {"admissionregistration.k8s.io"},
	"validatingadmissionpolicies":       {"admissionregistration.k8s.io"},
	"validatingadmissionpolicybindings": {"admissionregistration.k8s.io"},
	"mutatingadmissionpolicies":         {"admissionregistration.k8s.io"},
	"mutatingadmissionpolicybindings":   {"admissionregistration.k8s.io"},
	"ingresses":                         {"networking.k8s.io"}, "networkpolicies": {"networking.k8s.io"}, "ingressclasses": {"networking.k8s.io"},
	"certificatesigningrequests": {"certificates.k8s.io"},
	"customresourcedefinitions":  {"apiextensions.k8s.io"},
	"apiservices":                {"apiregistration.k8s.io"},
	"leases":                     {"coordination.k8s.io"},
	"endpointslices":             {"discovery.k8s.io"},
	"selfsubjectaccessreviews":   {"authorization.k8s.io"}, "subjectaccessreviews": {"authorization.k8s.io"},
	"localsubjectaccessreviews": {"authorization.k8s.io"}, "selfsubjectrulesreviews": {"authorization.k8s.io"},
	"tokenreviews": {"authentication.k8s.io"}, "selfsubjectreviews": {"authentication.k8s.io"},
	"poddisruptionbudgets": {"policy"}, "storageclasses": {"storage.k8s.io"}, "priorityclasses": {"scheduling.k8s.io"},
	"horizontalpodautoscalers": {"autoscaling"},
}

// clusterScoped holds the well-known resources without a namespace.
var clusterScoped = map[string]bool{
	"namespaces": true, "nodes": true, "persistentvolumes": true, "clusterroles": true, "clusterrolebindings": true,
	"mutatingwebhookconfigurations": true, "validatingwebhookconfigurations": true,
	"validatingadmissionpolicies": true, "validatingadmissionpolicybindings": true,
	"mutatingadmissionpolicies": true, "mutatingadmissionpolicybindings": true,
	"certificatesigningrequests": true, "customresourcedefinitions": true, "apiservices": true,
	"storageclasses": true, "priorityclasses": true, "ingressclasses": true, "tokenreviews": true,
	"subjectaccessreviews": true, "selfsubjectaccessreviews": true, "selfsubjectrulesreviews": true,
	"selfsubjectreviews": true,
}
