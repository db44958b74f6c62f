// Package deptest holds tests that enforce the dependency rules of STYLE.md.
package deptest
