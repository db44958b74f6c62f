// Package field is Vigil's field table: every field a rule condition or an
// output may name, with its type, list-ness, argument and doc, and one
// extractor per field.
//
// The fields are those of Falco's k8saudit plugin 0.18.0 (ka.*), of the json
// plugin 0.7 (json.* and its jevt.* aliases) and the libsinsp event fields
// that make sense for audit events (evt.*). Every ka.* field is missing on an
// event without a top-level auditID, like in the plugin.
//
// The ka.source.* fields are Vigil's own: which of the event's sourceIPs is
// the client, and where it is, as the event's audit.Locator (package
// enrich) works it out. They are missing on events without a Locator.
//
// Binding and extraction are separate steps. Def.Bind validates the argument
// and compiles everything it can (JSON pointers are parsed once, the first
// pointer token is resolved to an indexed top-level member, index arguments
// are parsed once) and returns an Extractor. An Extractor reads the event's
// raw JSON in place and appends the field's values to a caller-owned Values:
// plain strings are returned as sub-slices of the event, everything else is
// written into Values.Buf. Once a Values has grown, extraction allocates
// nothing.
//
// Values are text exactly as Falco produces it: a JSON string is its decoded
// text and any other JSON value is its compact JSON serialisation. Number and
// object text keeps the bytes of the input (Falco's libraries re-serialise, so
// for example a number written 1.0E3 or a string escape such as \u00e9 inside
// an object can print differently).
//
// # Differences from Falco
//
// Each of these is deliberate and covered by a test named after it:
//
//   - ka.sourceips reads the top-level sourceIPs array; [N] keeps only
//     address N. The plugin looks under requestObject.rules[*].sourceIPs,
//     so upstream the field is always missing (falcosecurity/plugins#236).
//     No upstream rule uses it.
//   - ka.req.pod.*.eff_run_as_user and eff_run_as_group implement their
//     documented meaning: the container's securityContext value, else the
//     pod's spec.securityContext value, else 0. The plugin reads runAsUser
//     directly on the container and on spec, skipping securityContext, so
//     upstream every entry is 0 on real pods.
//   - json.value with a malformed pointer ('~' not followed by '0' or '1')
//     is rejected when the rule is loaded instead of failing per event.
//   - A key argument may not be empty (the plugin would slice out of range
//     on ka.req.volume.hostpath[""]).
//
// Falco's other quirks are kept on purpose: host_port falls back to
// containerPort; image.repository cuts at the first ':' and then at the
// first '@' (so reg:5000/app gives reg); ka.req.service.ports and
// add_capabilities return whole JSON arrays as single entries;
// ka.req.binding.subject.has_name is always true; ka.uri.param gives only
// the first value; an empty list is the same as a missing one; a list field
// whose JSON is not an array is missing; name and image are missing when any
// container lacks the key; and an index selects element N of every array
// met before the last path step, never the array at the end of the path.
package field
