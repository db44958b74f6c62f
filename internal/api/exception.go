package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil/internal/journal"
)

// eventKeys are the parts of an alert's audit event the API filters,
// exports and builds exceptions on.
type eventKeys struct {
	user, verb, namespace, resource, subresource, name string
	sourceIPs                                          []string
}

// eventKeysOf reads them from the alert's event or, when the event was
// omitted, from its output fields.
func eventKeysOf(a *journal.Alert) eventKeys {
	var k eventKeys
	var ev struct {
		User struct {
			Username string `json:"username"`
		} `json:"user"`
		Verb      string   `json:"verb"`
		SourceIPs []string `json:"sourceIPs"`
		ObjectRef struct {
			Namespace   string `json:"namespace"`
			Resource    string `json:"resource"`
			Subresource string `json:"subresource"`
			Name        string `json:"name"`
		} `json:"objectRef"`
	}
	if len(a.Event) > 0 && json.Unmarshal(a.Event, &ev) == nil {
		return eventKeys{user: ev.User.Username, verb: ev.Verb, namespace: ev.ObjectRef.Namespace,
			resource: ev.ObjectRef.Resource, subresource: ev.ObjectRef.Subresource, name: ev.ObjectRef.Name, sourceIPs: ev.SourceIPs}
	}
	for _, f := range a.Alert.Fields {
		if f.Missing || len(f.Values) == 0 {
			continue
		}
		v := f.Values[0]
		switch f.Key {
		case "ka.user.name":
			k.user = v
		case "ka.verb":
			k.verb = v
		case "ka.target.namespace":
			k.namespace = v
		case "ka.target.resource":
			k.resource = v
		case "ka.target.subresource":
			k.subresource = v
		case "ka.target.name":
			k.name = v
		case "ka.sourceips":
			k.sourceIPs = f.Values
		}
	}
	return k
}

// Exception returns a Falco rules-file snippet that appends to the alert's
// rule an exception matching this alert's situation exactly: the same
// user, verb, resource, subresource, namespace and object name (those the
// event has). Appended to a rules file loaded after the rule's own, it
// silences this alert and nothing broader; widen it by deleting fields.
func Exception(a *journal.Alert) (string, error) {
	k := eventKeysOf(a)
	type fv struct{ field, value string }
	var parts []fv
	for _, p := range []fv{{"ka.user.name", k.user}, {"ka.verb", k.verb}, {"ka.target.resource", k.resource},
		{"ka.target.subresource", k.subresource}, {"ka.target.namespace", k.namespace}, {"ka.target.name", k.name}} {
		if p.value != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "", errors.New("the alert's event names no user, verb or object to build an exception on")
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // JSON strings are YAML double-quoted scalars
	var fields, comps, values []string
	for _, p := range parts {
		fields = append(fields, p.field)
		comps = append(comps, "=")
		values = append(values, q(p.value))
	}
	name := "vigil_alert_" + strings.ToLower(a.ID)
	var b strings.Builder
	fmt.Fprintf(&b, "# Exception made by Vigil from alert %s (%s).\n", a.ID, a.Cluster)
	fmt.Fprintf(&b, "# Load it after the rules that define the rule; delete fields to widen it.\n")
	fmt.Fprintf(&b, "- rule: %s\n", q(a.Alert.Rule))
	fmt.Fprintf(&b, "  exceptions:\n")
	fmt.Fprintf(&b, "    - name: %s\n", name)
	fmt.Fprintf(&b, "      fields: [%s]\n", strings.Join(fields, ", "))
	fmt.Fprintf(&b, "      comps: [%s]\n", strings.Join(comps, ", "))
	fmt.Fprintf(&b, "      values:\n")
	fmt.Fprintf(&b, "        - [%s]\n", strings.Join(values, ", "))
	fmt.Fprintf(&b, "  override:\n")
	fmt.Fprintf(&b, "    exceptions: append\n")
	return b.String(), nil
}
