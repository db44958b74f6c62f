package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// version is a semantic version; only major.minor.patch take part in
// comparisons, as in libsinsp's sinsp_version.
type version struct{ major, minor, patch uint64 }

var semverRe = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)

func parseVersion(s string) (version, bool) {
	m := semverRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return version{}, false
	}
	var v version
	var err error
	if v.major, err = strconv.ParseUint(m[1], 10, 64); err != nil {
		return version{}, false
	}
	if v.minor, err = strconv.ParseUint(m[2], 10, 64); err != nil {
		return version{}, false
	}
	if v.patch, err = strconv.ParseUint(m[3], 10, 64); err != nil {
		return version{}, false
	}
	return v, true
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v version) less(w version) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// compatibleWith reports whether v satisfies the requirement req: the same
// major version and not older. For 0.x versions any 0.y qualifies.
func (v version) compatibleWith(req version) bool {
	return v.major == req.major && !v.less(req)
}

// PluginVersion is a plugin name and a required minimum version.
type PluginVersion struct {
	Name    string // plugin name, e.g. "k8saudit"
	Version string // minimum version, "x.y.z"
}

// PluginRequirement is one entry of required_plugin_versions: it is
// satisfied by the first alternative whose plugin is loaded, if that
// plugin's version is compatible.
type PluginRequirement struct {
	Alternatives []PluginVersion // the named plugin first, then its alternatives
	pos          loc
}
