// Package rules loads Falco rules files: lists, macros and rules, with
// appends, overrides, exceptions and engine and plugin version
// requirements, following Falco's rule loader (falco-spec.md part (c)).
//
// Load reads the files in order into one namespace, then compiles them the
// way Falco does: lists are expanded within lists and substituted textually
// into conditions, every macro is parsed on its own and spliced into the
// conditions that use it as a subtree, and exceptions are appended to rule
// conditions as "and not (...)" clauses. The result is a Set of rules whose
// conditions are complete condition trees, plus every problem found, each
// with its file, line, column, item and reason. Falco stops at the first
// error; Load reports all independent ones.
//
// Positions. Every text handed to condition.Parse (a macro condition, a
// rule condition with its exceptions and substituted lists) and every rule
// output gets its own range of condition.Pos values in one number space,
// like go/token.FileSet. For each text the loader keeps a map from byte
// offsets back to the YAML scalars they came from, so Set.Position turns any
// node position, including those of spliced macro subtrees, back into
// file:line:col. Bytes inserted by list substitution map to the list name
// they replaced.
//
// The package knows no fields: checking that fields exist, compiling outputs
// and downgrading unknown-field errors of skip-if-unknown-filter rules are
// the engine's job, which reports its findings through Set.Diag.
package rules
