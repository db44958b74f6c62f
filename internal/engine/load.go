package engine

import (
	"github.com/vigilsec/vigil/internal/rules"
)

// Load loads rule files with rules.Load and compiles them. It returns every
// diagnostic of both steps, sorted; when rules.HasErrors reports true for
// them the Program must not be used.
func Load(srcs []rules.Source, ropts rules.Options, opts Options) (*Program, []rules.Diagnostic) {
	set, diags := rules.Load(srcs, ropts)
	var p *Program
	if set != nil {
		var cdiags []rules.Diagnostic
		p, cdiags = Compile(set, opts)
		diags = append(diags, cdiags...)
	}
	diags = rules.Sort(diags)
	return p, diags
}
