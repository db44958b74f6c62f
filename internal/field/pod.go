package field

import (
	"bytes"
	"strings"

	"github.com/vigilsec/vigil/internal/audit"
	"github.com/vigilsec/vigil/internal/rawjson"
)

// This file holds the per-container fields. Each comes in three families,
// one per container list of requestObject.spec, and the lists never mix.

// families are the container lists of a pod spec, in field-name order.
var families = [...]string{"containers", "ephemeralContainers", "initContainers"}

// containerSuffix describes one per-container field suffix.
type containerSuffix struct {
	name     string                     // e.g. ".image.repository"
	what     string                     // what one value is, for the doc
	from     string                     // where it is read, per container, for the doc
	bind     func(family string) binder // the extractor
	families func(family string) bool   // which families have it; nil means all
	note     string                     // extra doc text, may be empty
}

// containerSuffixes lists every suffix of ka.req.pod.<family>.*.
var containerSuffixes = []containerSuffix{
	{name: ".name", what: "container name", from: "name",
		bind: func(f string) binder { return containerStrings(f, "name", false) },
		note: "missing when any container lacks it"},
	{name: ".image", what: "image", from: "image",
		bind: func(f string) binder { return containerStrings(f, "image", false) },
		note: "missing when any container lacks it"},
	{name: ".image.repository", what: "image repository", from: "image",
		bind: func(f string) binder { return containerStrings(f, "image", true) },
		note: "cut at the first ':' and then at the first '@', so reg:5000/app:1 gives reg as in Falco"},
	{name: ".command", what: "argv joined with spaces", from: "command",
		bind: func(f string) binder { return containerArgv(f, "command") },
		note: "containers without it are skipped"},
	{name: ".args", what: "argument list joined with spaces", from: "args",
		bind: func(f string) binder { return containerArgv(f, "args") },
		note: "containers without it are skipped"},
	securityContextField(".privileged", "privileged flag", "containers that do not set it are skipped", "privileged"),
	securityContextField(".allow_privilege_escalation", "allowPrivilegeEscalation flag", "containers that do not set it are skipped", "allowPrivilegeEscalation"),
	securityContextField(".read_only_fs", "readOnlyRootFilesystem flag", "containers that do not set it are skipped", "readOnlyRootFilesystem"),
	securityContextField(".run_as_user", "runAsUser", "containers that do not set it are skipped", "runAsUser"),
	securityContextField(".run_as_group", "runAsGroup", "containers that do not set it are skipped", "runAsGroup"),
	securityContextField(".proc_mount", "procMount", "containers that do not set it are skipped", "procMount"),
	securityContextField(".add_capabilities", "whole capabilities.add array as JSON text", `one entry per container, e.g. ["NET_ADMIN","SYS_TIME"], not one per capability, as in Falco`, "capabilities", "add"),
	{name: ".eff_run_as_user", what: "effective runAsUser", from: "securityContext.runAsUser",
		bind: func(f string) binder { return effective(f, "runAsUser") },
		note: "else the pod's spec.securityContext.runAsUser, else 0; Falco skips the securityContext level and always gives 0"},
	{name: ".eff_run_as_group", what: "effective runAsGroup", from: "securityContext.runAsGroup",
		bind: func(f string) binder { return effective(f, "runAsGroup") },
		note: "else the pod's spec.securityContext.runAsGroup, else 0; Falco skips the securityContext level and always gives 0"},
	{name: ".host_port", what: "host port", from: "ports[*].hostPort",
		bind:     hostPorts,
		families: func(f string) bool { return f != "ephemeralContainers" },
		note:     "falling back to containerPort when hostPort is unset, as in Falco; flattened over all ports"},
}

// containerStrings yields the text of key for every container of family,
// optionally cut to the image repository. Like the plugin's
// readContainerImages, the whole field is missing when any container lacks
// the key.
func containerStrings(family, key string, repo bool) binder {
	steps := []string{"spec", family, key}
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, index)
			if !ok {
				return false
			}
			nv, nb := out.mark()
			for _, l := range leaves {
				if l == nil {
					return out.undo(nv, nb)
				}
				t := out.text(l)
				if repo {
					t = repository(t)
				}
				out.add(t)
			}
			return len(out.Vals) > nv
		}, nil
	}
}

// repository cuts an image reference at the first ':' and then at the first
// '@', exactly as the plugin does (so a registry port cuts too).
func repository(image []byte) []byte {
	if i := bytes.IndexByte(image, ':'); i >= 0 {
		image = image[:i]
	}
	if i := bytes.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	return image
}

// containerArgv yields, per container that has an array at key, its
// elements' text joined with single spaces.
func containerArgv(family, key string) binder {
	steps := []string{"spec", family, key}
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, index)
			if !ok {
				return false
			}
			n := len(out.Vals)
			for _, l := range leaves {
				if rawjson.KindOf(l) != rawjson.Array {
					continue
				}
				start := len(out.Buf)
				e := rawjson.ElementsOf(l)
				for first := true; ; first = false {
					el, ok := e.Next()
					if !ok {
						break
					}
					if !first {
						out.Buf = append(out.Buf, ' ')
					}
					out.Buf = rawjson.AppendText(out.Buf, el)
				}
				out.addBufFrom(start)
			}
			return len(out.Vals) > n
		}, nil
	}
}

// effective yields one value per container: its securityContext.<key>, else
// the pod's spec.securityContext.<key>, else 0. This is the field's
// documented intent; the plugin reads <key> directly on the container and on
// spec and so always yields 0 on real pods.
func effective(family, key string) binder {
	steps := []string{"spec", family, "securityContext", key}
	podPath := []string{"spec", "securityContext", key}
	zero := []byte("0")
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, index)
			if !ok {
				return false
			}
			n := len(out.Vals)
			var def []byte
			for _, l := range leaves {
				if l != nil {
					out.addText(l)
					continue
				}
				if def == nil {
					def = zero
					if v, ok := lookup(ev, audit.KeyRequestObject, podPath); ok {
						def = out.text(v)
					}
				}
				out.add(def)
			}
			return len(out.Vals) > n
		}, nil
	}
}

// hostPorts yields, for every port of every container of family, its
// hostPort, or its containerPort when hostPort is unset. A ports value that
// is not an array makes the whole field missing.
func hostPorts(family string) binder {
	steps := []string{"spec", family, "ports"}
	return func(b bound) (Extractor, error) {
		index := b.index
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, index)
			if !ok {
				return false
			}
			nv, nb := out.mark()
			for _, l := range leaves {
				if l == nil {
					continue
				}
				if rawjson.KindOf(l) != rawjson.Array {
					return out.undo(nv, nb)
				}
				e := rawjson.ElementsOf(l)
				for {
					p, ok := e.Next()
					if !ok {
						break
					}
					if v, ok := rawjson.Get(p, "hostPort"); ok {
						out.addText(v)
					} else if v, ok := rawjson.Get(p, "containerPort"); ok {
						out.addText(v)
					}
				}
			}
			return len(out.Vals) > nv
		}, nil
	}
}

// firstContainer is the deprecated ka.req.container.image[.repository]: the
// image of containers[0].
func firstContainer(repo bool) binder {
	steps := []string{"spec", "containers", "image"}
	return func(bound) (Extractor, error) {
		return func(ev *audit.Event, out *Values) bool {
			if !ev.IsAudit() {
				return false
			}
			leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, 0)
			if !ok || len(leaves) == 0 || leaves[0] == nil {
				return false
			}
			t := out.text(leaves[0])
			if repo {
				t = repository(t)
			}
			out.add(t)
			return true
		}, nil
	}
}

// anyPrivileged is the deprecated ka.req.container.privileged: "true" when
// any entry of containers has securityContext.privileged true, else "false";
// missing when there is no containers list.
func anyPrivileged(bound) (Extractor, error) {
	steps := []string{"spec", "containers", "securityContext", "privileged"}
	yes, no := []byte("true"), []byte("false")
	return func(ev *audit.Event, out *Values) bool {
		if !ev.IsAudit() {
			return false
		}
		leaves, ok := out.walkEvent(ev, audit.KeyRequestObject, steps, -1)
		if !ok {
			return false
		}
		for _, l := range leaves {
			if string(l) == "true" {
				out.add(yes)
				return true
			}
		}
		out.add(no)
		return true
	}, nil
}

// securityContextField is the suffix for a value read from each container's
// securityContext at path; containers that lack it are skipped by walked.
func securityContextField(name, what, note string, path ...string) containerSuffix {
	from := "securityContext." + strings.Join(path, ".")
	return containerSuffix{name: name, what: what, from: from, note: note,
		bind: func(f string) binder {
			keys := append([]string{"spec", f, "securityContext"}, path...)
			return walked(audit.KeyRequestObject, keys...)
		}}
}
