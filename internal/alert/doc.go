// Package alert defines an alert raised by a rule, its priority, and the two
// wire formats Falco users expect: the text line
// "HH:MM:SS.nnnnnnnnn: Priority message" and Falco's JSON alert object.
package alert
