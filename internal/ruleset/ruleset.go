// Package ruleset embeds Vigil's built-in rules, used when no rules file is
// given.
package ruleset

import (
	_ "embed"

	"github.com/vigilsec/vigil/internal/rules"
)

//go:embed default.yaml
var defaultRules []byte

// DefaultName is the name diagnostics and alerts use for the built-in file.
const DefaultName = "<builtin>/vigil_rules.yaml"

// Default returns the built-in rules file.
func Default() rules.Source {
	return rules.Source{Name: DefaultName, Data: defaultRules}
}
