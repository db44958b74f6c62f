// Package coverage tells, for each loaded rule, whether it can fire given
// what an audit policy logs and what the capture path sees: 'vigil rules
// coverage'.
//
// A rule's needs come from its compiled condition (engine.FieldRefs): the
// verbs, resources, subresources, namespaces, users and stages it can
// match (from =, != and in comparisons; anything else counts as "any"),
// and the parts of an event it reads: the request body (ka.req.*,
// /requestObject), the response body (ka.resp.*, /responseObject), source
// IPs, the user agent, impersonation, the response status and the
// authorization decision. A field the condition cannot hold without is
// required; one it only reads (in an exception, say) makes the rule
// degraded when missing, never unreachable.
//
// For the audit webhook and log paths the policy decides: its rules are
// walked in order for the requests the rule can match, as kube-apiserver
// does (the first matching rule wins), and every level and stage set the
// walk can reach is an outcome. A rule cannot fire when no outcome gives
// it what it requires; it is degraded when some outcome does not, unless
// only policy rules restricted to particular users or groups do (routine
// exclusions such as kube-proxy's watches). The admission path ignores the
// audit policy: it sees create, update and delete (a patch arrives as
// update, a connect as create), always at stage ResponseComplete, with no
// source IPs, user agent or impersonation, a synthetic response code 200
// and decision allow, and a response object only for delete
// (internal/admission/doc.go).
//
// A rule that does not test ka.target.subresource is taken to be about
// objects themselves (no subresource), as rules that care about
// subresources test them.
package coverage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/engine"
	"github.com/vigilsec/vigil/internal/rules"
)

// Capture is how events reach Vigil.
type Capture string

// Capture paths.
const (
	CaptureWebhook   Capture = "webhook"   // the API server's audit webhook backend
	CaptureLog       Capture = "log"       // the API server's audit log file (vigil serve's tail)
	CaptureAdmission Capture = "admission" // a validating admission webhook
)

// ParseCapture parses webhook, admission or log.
func ParseCapture(s string) (Capture, error) {
	switch c := Capture(s); c {
	case CaptureWebhook, CaptureLog, CaptureAdmission:
		return c, nil
	}
	return "", fmt.Errorf("invalid capture %q: want webhook, admission or log", s)
}

// Status is whether a rule can fire.
type Status string

// Statuses, from best to worst.
const (
	Fires      Status = "fires"       // everything it requires is logged
	Degraded   Status = "degraded"    // it fires, but some of what it reads may be missing, or some of its events are not logged
	CannotFire Status = "cannot fire" // what it requires is never logged or never seen
)

// Result is the verdict on one rule.
type Result struct {
	Rule    string   `json:"rule"`
	Status  Status   `json:"status"`
	Reasons []string `json:"reasons,omitempty"` // why, for degraded and cannot fire
}

// Report is the verdict on every enabled rule, in rule order.
type Report struct {
	Capture Capture  `json:"capture"`
	Results []Result `json:"rules"`
}

// Count returns how many results have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Check judges every enabled rule of prog. pol may be nil only for
// CaptureAdmission, which the audit policy does not affect.
func Check(prog *engine.Program, pol *Policy, capture Capture) (*Report, error) {
	if pol == nil && capture != CaptureAdmission {
		return nil, fmt.Errorf("capture %s needs an audit policy", capture)
	}
	byName := map[string]*engine.Rule{}
	for _, r := range prog.Rules() {
		byName[r.Name] = r
	}
	c := &checker{pol: pol, capture: capture, byName: byName, done: map[string]*Result{}}
	rep := &Report{Capture: capture}
	for _, r := range prog.Enabled() {
		rep.Results = append(rep.Results, *c.rule(r))
	}
	return rep, nil
}

type checker struct {
	pol     *Policy
	capture Capture
	byName  map[string]*engine.Rule // every compiled rule, for sequences' first steps
	done    map[string]*Result      // results so far, by rule name
}

func (c *checker) rule(r *engine.Rule) *Result {
	if res, ok := c.done[r.Name]; ok {
		return res
	}
	res := &Result{Rule: r.Name, Status: Fires}
	c.done[r.Name] = res // a cycle (it cannot load) ends here
	n := analyse(r.Refs(), r.Stateful())
	var fail, degrade []string
	if c.capture == CaptureAdmission {
		fail, degrade = admission(n)
	} else {
		fail, degrade = c.policy(n)
	}
	if sf := r.Stateful(); sf != nil && sf.Kind == rules.Sequence {
		if first, ok := c.byName[sf.After]; ok {
			switch fr := c.rule(first); fr.Status {
			case CannotFire:
				fail = append(fail, fmt.Sprintf("its first step, rule %q, cannot fire", sf.After))
			case Degraded:
				degrade = append(degrade, fmt.Sprintf("its first step, rule %q, is degraded", sf.After))
			}
		}
	}
	switch {
	case len(fail) > 0:
		res.Status, res.Reasons = CannotFire, dedup(fail)
	case len(degrade) > 0:
		res.Status, res.Reasons = Degraded, dedup(degrade)
	}
	return res
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// part is a part of an audit event that is not always there.
type part int

const (
	partRequest       part = iota // requestObject: level Request
	partResponse                  // responseObject: level RequestResponse
	partSourceIPs                 // sourceIPs
	partUserAgent                 // userAgent
	partImpersonated              // impersonatedUser
	partStatus                    // responseStatus
	partDecision                  // the authorization annotations
	partAdmissionAnn              // annotations of admission plugins (pod security, admission policies)
	partManagedFields             // metadata.managedFields of the bodies
	numParts
)

var partText = [numParts]string{
	"the request body", "the response body", "source IPs", "the user agent", "impersonation",
	"the response status", "the authorization decision", "admission annotations", "managedFields",
}

// needs is what a rule needs of an event.
type needs struct {
	verbs, resources, subresources, namespaces, users, names, stages, codes, decisions, uris engine.ValueSet
	required                                                                                 [numParts][]string // per part the condition cannot hold without, the references reading it
	read                                                                                     [numParts][]string // per other part, the references reading it
	resourceRequest                                                                          bool               // requires objectRef (a resource request)
}

// aliases of the single-valued fields the analysis uses.
var (
	verbRefs     = []string{"ka.verb", "jevt.value[/verb]", "json.value[/verb]"}
	resourceRefs = []string{"ka.target.resource", "jevt.value[/objectRef/resource]", "json.value[/objectRef/resource]"}
	subRefs      = []string{"ka.target.subresource", "jevt.value[/objectRef/subresource]", "json.value[/objectRef/subresource]"}
	nsRefs       = []string{"ka.target.namespace", "jevt.value[/objectRef/namespace]", "json.value[/objectRef/namespace]"}
	userRefs     = []string{"ka.user.name", "jevt.value[/user/username]", "json.value[/user/username]"}
	nameRefs     = []string{"ka.target.name", "ka.req.configmap.name", "jevt.value[/objectRef/name]", "json.value[/objectRef/name]"}
	stageRefs    = []string{"ka.stage", "jevt.value[/stage]", "json.value[/stage]"}
	codeRefs     = []string{"ka.response.code", "jevt.value[/responseStatus/code]", "json.value[/responseStatus/code]"}
	decisionRefs = []string{"ka.auth.decision", "jevt.value[/annotations/authorization.k8s.io~1decision]", "json.value[/annotations/authorization.k8s.io~1decision]"}
	uriRefs      = []string{"ka.uri", "jevt.value[/requestURI]", "json.value[/requestURI]"}
)

func analyse(refs engine.FieldRefs, sf *rules.Stateful) *needs {
	n := &needs{
		verbs: values(refs, verbRefs), resources: values(refs, resourceRefs), subresources: values(refs, subRefs),
		namespaces: values(refs, nsRefs), users: values(refs, userRefs), names: values(refs, nameRefs),
		stages: values(refs, stageRefs), codes: values(refs, codeRefs), decisions: values(refs, decisionRefs),
		uris: values(refs, uriRefs),
	}
	for _, f := range refs.Fields {
		if slices.Contains(resourceRefs, f) && refs.Required[f] {
			n.resourceRequest = true
		}
	}
	// A part is required when the condition cannot hold without some
	// field of it, even if no single field is required ("a or b").
	for p := range numParts {
		var fields []string
		for _, f := range refs.Fields {
			if slices.Contains(parts(f), p) {
				fields = append(fields, f)
			}
		}
		if len(fields) == 0 {
			continue
		}
		if refs.Needs(func(ref string) bool { return slices.Contains(parts(ref), p) }) {
			// Name the fields required on their own when there are any:
			// the others may be in exceptions.
			var alone []string
			for _, f := range fields {
				if refs.Required[f] {
					alone = append(alone, f)
				}
			}
			if len(alone) > 0 {
				fields = alone
			}
			n.required[p] = fields
		} else {
			n.read[p] = fields
		}
	}
	if !n.resources.Any && !n.resources.Except {
		n.resourceRequest = true
	}
	if sf != nil {
		// A by field without a value keys as <NA>: the rule still runs,
		// but on one key. A distinct's field without a value is not counted.
		for _, f := range sf.By {
			for _, p := range parts(f) {
				n.read[p] = append(n.read[p], f)
			}
		}
		if sf.Kind == rules.Distinct {
			for _, p := range parts(sf.Field) {
				n.required[p] = append(n.required[p], sf.Field)
			}
		}
	}
	return n
}

// values intersects the constraints of the aliases of one field.
func values(refs engine.FieldRefs, aliases []string) engine.ValueSet {
	out := engine.ValueSet{Any: true}
	for _, a := range aliases {
		s := refs.Values(a)
		if s.Any {
			continue
		}
		if out.Any {
			out = s
			continue
		}
		out = andSets(out, s)
	}
	return out
}

func andSets(a, b engine.ValueSet) engine.ValueSet {
	switch {
	case !a.Except && !b.Except:
		var v []string
		for _, x := range a.Values {
			if b.Allows(x) {
				v = append(v, x)
			}
		}
		return engine.ValueSet{Values: v}
	case a.Except && b.Except:
		v := slices.Concat(a.Values, b.Values)
		slices.Sort(v)
		return engine.ValueSet{Except: true, Values: slices.Compact(v)}
	}
	if a.Except {
		a, b = b, a
	}
	var v []string
	for _, x := range a.Values {
		if b.Allows(x) {
			v = append(v, x)
		}
	}
	return engine.ValueSet{Values: v}
}

// parts returns the optional parts of an event a field reference reads.
func parts(ref string) []part {
	name, arg, _ := strings.Cut(ref, "[")
	arg = strings.Trim(strings.TrimSuffix(arg, "]"), `"'`)
	if name == "jevt.value" || name == "json.value" {
		arg = "/" + strings.TrimPrefix(arg, "/")
		var out []part
		top, _, _ := strings.Cut(strings.TrimPrefix(arg, "/"), "/")
		switch top {
		case "requestObject":
			out = append(out, partRequest)
		case "responseObject":
			out = append(out, partResponse)
		case "sourceIPs":
			out = append(out, partSourceIPs)
		case "userAgent":
			out = append(out, partUserAgent)
		case "impersonatedUser":
			out = append(out, partImpersonated)
		case "responseStatus":
			out = append(out, partStatus)
		case "annotations":
			if strings.Contains(arg, "authorization.k8s.io") {
				out = append(out, partDecision)
			} else {
				out = append(out, partAdmissionAnn)
			}
		}
		if strings.Contains(arg, "managedFields") {
			out = append(out, partManagedFields)
		}
		return out
	}
	switch {
	case name == "ka.req.configmap.name", name == "ka.req.binding.subject.has_name":
		return nil // objectRef, or no JSON at all
	case strings.HasPrefix(name, "ka.req."):
		return []part{partRequest}
	case strings.HasPrefix(name, "ka.resp."), name == "ka.target.pod.name":
		return []part{partResponse}
	case name == "ka.sourceips", strings.HasPrefix(name, "ka.source."):
		return []part{partSourceIPs}
	case name == "ka.useragent":
		return []part{partUserAgent}
	case strings.HasPrefix(name, "ka.impuser."):
		return []part{partImpersonated}
	case name == "ka.response.code", name == "ka.response.reason":
		return []part{partStatus}
	case name == "ka.auth.decision", name == "ka.auth.reason":
		return []part{partDecision}
	case name == "ka.security.pod.violations", name == "ka.validations.admission.policy.failure":
		return []part{partAdmissionAnn}
	}
	return nil
}

// list joins up to three references.
func list(refs []string) string {
	refs = dedup(refs)
	if len(refs) > 3 {
		return strings.Join(refs[:3], ", ") + ", …"
	}
	return strings.Join(refs, ", ")
}

// admissionVerb is the verb under which a request reaches the admission
// path: a patch arrives as update, a deletecollection as one delete per
// object; reads never arrive.
var admissionVerb = map[string]string{
	"create": "create", "update": "update", "delete": "delete", "patch": "update", "deletecollection": "delete",
}

// admission judges n on the admission path.
func admission(n *needs) (fail, degrade []string) {
	if !n.verbs.Any && !n.verbs.Except {
		var seen, missed []string
		for _, v := range n.verbs.Values {
			if av, ok := admissionVerb[v]; ok && n.verbs.Allows(av) {
				seen = append(seen, v)
			} else {
				missed = append(missed, v)
			}
		}
		switch {
		case len(seen) == 0:
			fail = append(fail, "admission capture never sees verb "+strings.Join(missed, ", ")+
				" (only create, update and delete: a patch arrives as update, a connect as create)")
		case len(missed) > 0:
			degrade = append(degrade, "admission capture never sees verb "+strings.Join(missed, ", ")+
				" as such (a patch arrives as update, or as create when it creates the object), and the rule does not match what it arrives as")
		}
	}
	if !n.stages.Allows(StageResponseComplete) {
		fail = append(fail, "admission capture has only stage ResponseComplete")
	}
	if !n.resources.Any && !n.resources.Except && len(n.resources.Values) == 0 || !n.resourceRequest && uriNonResource(n.uris) {
		fail = append(fail, "admission capture never sees non-resource requests")
	}
	for _, p := range []part{partSourceIPs, partUserAgent, partImpersonated, partAdmissionAnn} {
		if len(n.required[p]) > 0 {
			fail = append(fail, fmt.Sprintf("admission capture never sees %s: the rule requires %s", partText[p], list(n.required[p])))
		} else if len(n.read[p]) > 0 {
			degrade = append(degrade, fmt.Sprintf("admission capture never sees %s, which the rule reads (%s)", partText[p], list(n.read[p])))
		}
	}
	// The synthetic values are what a successful request gives: a rule
	// that requires success sees it; one that tells codes or decisions
	// apart only in an exception may be wrong.
	if len(n.required[partStatus]) > 0 && !n.codes.Allows("200") {
		fail = append(fail, "admission capture's response code is always 200 (synthetic): the rule requires another")
	} else if len(n.required[partStatus]) == 0 && len(n.read[partStatus]) > 0 {
		degrade = append(degrade, fmt.Sprintf("admission capture's response code is always 200 (synthetic), which the rule reads (%s)", list(n.read[partStatus])))
	}
	if len(n.required[partDecision]) > 0 && !n.decisions.Allows("allow") {
		fail = append(fail, "admission capture's authorization decision is always allow (synthetic): the rule requires another")
	} else if len(n.required[partDecision]) == 0 && len(n.read[partDecision]) > 0 {
		degrade = append(degrade, fmt.Sprintf("admission capture's authorization decision is always allow (synthetic), which the rule reads (%s)", list(n.read[partDecision])))
	}
	if len(n.required[partResponse]) > 0 {
		deletes := !n.verbs.Any && !n.verbs.Except && !slices.ContainsFunc(n.verbs.Values, func(v string) bool { return admissionVerb[v] != "delete" })
		switch {
		case !n.verbs.Allows("delete") && !n.verbs.Allows("deletecollection"):
			fail = append(fail, fmt.Sprintf("admission capture has a response body only for delete: the rule requires %s", list(n.required[partResponse])))
		case !deletes:
			degrade = append(degrade, fmt.Sprintf("admission capture has a response body only for delete, and the rule requires %s", list(n.required[partResponse])))
		}
	} else if len(n.read[partResponse]) > 0 {
		degrade = append(degrade, fmt.Sprintf("admission capture has a response body only for delete, and the rule reads %s", list(n.read[partResponse])))
	}
	return fail, degrade
}

// uriNonResource reports whether every URI the rule can match is a
// non-resource URL (not under /api or /apis).
func uriNonResource(s engine.ValueSet) bool {
	if s.Any || s.Except || len(s.Values) == 0 {
		return false
	}
	for _, u := range s.Values {
		if u == "/api" || u == "/apis" || strings.HasPrefix(u, "/api/") || strings.HasPrefix(u, "/apis/") {
			return false
		}
	}
	return true
}
