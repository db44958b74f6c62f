package alert

import (
	"fmt"
	"strings"
)

// Priority is a rule's severity, from Emergency (most severe, 0) to Debug (7),
// in Falco's order.
type Priority int

// Priorities, most severe first.
const (
	PriorityEmergency Priority = iota
	PriorityAlert
	PriorityCritical
	PriorityError
	PriorityWarning
	PriorityNotice
	PriorityInformational
	PriorityDebug
)

var priorityNames = [...]string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// String returns Falco's long capitalised name, e.g. "Informational".
func (p Priority) String() string {
	if p < PriorityEmergency || p > PriorityDebug {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// ParsePriority matches s case-insensitively against the priority names.
// "info" is accepted for Informational, as Falco does.
func ParsePriority(s string) (Priority, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	if ls == "info" {
		return PriorityInformational, nil
	}
	for i, n := range priorityNames {
		if strings.ToLower(n) == ls {
			return Priority(i), nil
		}
	}
	return 0, fmt.Errorf("invalid priority %q: expected one of emergency, alert, critical, error, warning, notice, informational (or info), debug", s)
}

// AtLeast reports whether p is at least as severe as min.
func (p Priority) AtLeast(min Priority) bool { return p <= min }

// MarshalText implements encoding.TextMarshaler with String's name.
func (p Priority) MarshalText() ([]byte, error) {
	if p < PriorityEmergency || p > PriorityDebug {
		return nil, fmt.Errorf("invalid priority %d", int(p))
	}
	return []byte(priorityNames[p]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePriority.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
