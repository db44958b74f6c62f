package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/store"
)

// queryParams are the filters every alert route takes. Each may repeat
// where the store takes a list (rule, tag, cluster, status).
var queryParams = map[string]bool{"since": true, "until": true, "priority": true, "rule": true, "tag": true,
	"cluster": true, "namespace": true, "user": true, "verb": true, "resource": true, "source_ip": true,
	"status": true, "q": true, "cursor": true, "limit": true, "order": true}

// parseQuery reads the filters of a URL query. extra names the route's
// own parameters. Unknown parameters are errors, so that a typo never
// silently widens a search.
func parseQuery(v url.Values, now time.Time, extra ...string) (store.Query, error) {
	var q store.Query
	for k := range v {
		if !queryParams[k] && !contains(extra, k) {
			return q, fmt.Errorf("unknown parameter %q", k)
		}
	}
	var err error
	if q.Since, err = ParseTime(v.Get("since"), now); err != nil {
		return q, fmt.Errorf("since: %w", err)
	}
	if q.Until, err = ParseTime(v.Get("until"), now); err != nil {
		return q, fmt.Errorf("until: %w", err)
	}
	if p := v.Get("priority"); p != "" {
		pr, err := alert.ParsePriority(p)
		if err != nil {
			return q, fmt.Errorf("priority: %w", err)
		}
		q.MinPriority = &pr
	}
	q.Rules = nonEmpty(v["rule"])
	q.Tags = nonEmpty(v["tag"])
	q.Clusters = nonEmpty(v["cluster"])
	q.Namespace = v.Get("namespace")
	q.User = v.Get("user")
	q.Verb = v.Get("verb")
	q.Resource = v.Get("resource")
	if ip := v.Get("source_ip"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return q, fmt.Errorf("source_ip: %q is not an IP address", ip)
		}
		q.SourceIP = a.String()
	}
	for _, st := range nonEmpty(v["status"]) {
		if !store.Status(st).Valid() {
			return q, fmt.Errorf("status: %q: expected open, acknowledged or resolved", st)
		}
		q.Statuses = append(q.Statuses, store.Status(st))
	}
	q.Text = v.Get("q")
	if len(q.Text) > 256 {
		return q, fmt.Errorf("q: longer than 256 bytes")
	}
	q.Cursor = v.Get("cursor")
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			return q, fmt.Errorf("limit: %q: expected 1 to %d", l, store.MaxLimit)
		}
		q.Limit = n
	}
	switch v.Get("order") {
	case "", "newest":
	case "oldest":
		q.Oldest = true
	default:
		return q, fmt.Errorf("order: %q: expected newest or oldest", v.Get("order"))
	}
	return q, nil
}

// ParseTime reads RFC 3339, or a duration back from now ("24h", "30m",
// "7d"); "" is the zero time. The API's since and until, and the CLI's.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 && n <= 3650 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: expected RFC 3339 (2026-12-01T10:00:00Z) or a duration back from now (30m, 24h, 7d)", s)
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
