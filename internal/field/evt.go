package field

import (
	"strconv"
	"time"

	"github.com/vigilsec/vigil/internal/audit"
)

// This file holds the libsinsp event fields (evt.*) that make sense for
// audit events. They never need auditID.

// Time layouts of the evt.time* and evt.datetime* fields.
const (
	layoutTime      = "15:04:05.000000000"
	layoutTimeS     = "15:04:05"
	layoutISO8601   = "2006-01-02T15:04:05.000000000-0700"
	layoutDatetime  = "2006-01-02 15:04:05.000000000"
	layoutDatetimeS = "2006-01-02 15:04:05"
)

// timeText formats the event time with layout, in the Env's zone or, when
// utc is set, in UTC.
func timeText(layout string, utc bool) binder {
	return func(b bound) (Extractor, error) {
		loc := b.env.Location
		if loc == nil {
			loc = time.Local
		}
		if utc {
			loc = time.UTC
		}
		return func(ev *audit.Event, out *Values) bool {
			start := len(out.Buf)
			out.Buf = time.Unix(0, ev.Time).In(loc).AppendFormat(out.Buf, layout)
			out.addBufFrom(start)
			return true
		}, nil
	}
}

// rawTimePart is evt.rawtime.s (seconds) or evt.rawtime.ns (the nanosecond
// part below one second).
func rawTimePart(secs bool) binder {
	return func(bound) (Extractor, error) {
		return func(ev *audit.Event, out *Values) bool {
			s, ns := ev.Time/1e9, ev.Time%1e9
			if ns < 0 { // times before 1970: keep ns in [0, 1e9)
				s, ns = s-1, ns+1e9
			}
			n := ns
			if secs {
				n = s
			}
			start := len(out.Buf)
			out.Buf = strconv.AppendInt(out.Buf, n, 10)
			out.addBufFrom(start)
			return true
		}, nil
	}
}

// hostname is evt.hostname: the Env's host name.
func hostname(b bound) (Extractor, error) {
	return constant(b.env.Hostname, false)(b)
}
