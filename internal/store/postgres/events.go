package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/vigilsec/vigil/internal/store"
)

var _ store.EventStore = (*Store)(nil)

// ipSep joins an event's source IPs into one array element for
// addEventsSQL, which splits them again.
const ipSep = "\x1f"

// addEventsSQL inserts a batch given as one array per column, and adds
// what it inserted to the totals: one statement, so one round trip, all or
// nothing. Rows go in key order, so that two batches sharing events lock
// their keys in the same order and cannot deadlock. Totals are left alone
// (and unlocked) when every event was known.
const addEventsSQL = `WITH ins AS (
	INSERT INTO events (time, cluster, capture, audit_id, stage, user_name, verb, namespace, resource, name, code, source_ips, size, raw)
	SELECT time, cluster, capture, audit_id, stage, user_name, verb, namespace, resource, name, code,
		string_to_array(ips, chr(31)), size, raw
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
		$10::text[], $11::integer[], $12::text[], $13::bigint[], $14::bytea[])
		AS u (time, cluster, capture, audit_id, stage, user_name, verb, namespace, resource, name, code, ips, size, raw)
	ORDER BY cluster COLLATE "C", audit_id COLLATE "C", stage COLLATE "C"
	ON CONFLICT (cluster, audit_id, stage) DO NOTHING
	RETURNING size)
UPDATE event_totals SET count = count + (SELECT count(*) FROM ins), bytes = bytes + (SELECT sum(size) FROM ins)::bigint
	WHERE EXISTS (SELECT FROM ins)`

// AddEvents implements store.EventStore.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		times      = make([]int64, n)
		clusters   = make([]string, n)
		captures   = make([]string, n)
		auditIDs   = make([]string, n)
		stages     = make([]string, n)
		users      = make([]string, n)
		verbs      = make([]string, n)
		namespaces = make([]string, n)
		resources  = make([]string, n)
		names      = make([]string, n)
		codes      = make([]int32, n)
		ips        = make([]string, n)
		sizes      = make([]int64, n)
		raws       = make([][]byte, n)
		joined     []string // the source IPs of one event
	)
	for i := range events {
		e := &events[i]
		times[i] = store.UnixNano(e.Time)
		clusters[i], captures[i], auditIDs[i], stages[i] = pgText(e.Cluster), pgText(e.Capture), pgText(e.AuditID), pgText(e.Stage)
		users[i], verbs[i], namespaces[i] = pgText(e.User), pgText(e.Verb), pgText(e.Namespace)
		resources[i], names[i] = pgText(e.Resource), pgText(e.Name)
		codes[i] = int32(e.Code)
		switch len(e.SourceIPs) {
		case 0:
		case 1:
			ips[i] = pgIP(e.SourceIPs[0])
		default:
			joined = joined[:0]
			for _, ip := range e.SourceIPs {
				joined = append(joined, pgIP(ip))
			}
			ips[i] = strings.Join(joined, ipSep)
		}
		sizes[i] = e.Size()
		raws[i] = e.Raw
	}
	_, err := s.pool.Exec(ctx, addEventsSQL, times, clusters, captures, auditIDs, stages, users, verbs, namespaces,
		resources, names, codes, ips, sizes, raws)
	if err != nil {
		return fmt.Errorf("add events: %w", err)
	}
	return nil
}

// pgText returns s as a text column can hold it: PostgreSQL refuses NUL
// and invalid UTF-8, which a raw event's strings may hold (JSON's \u0000;
// columns set by hand), so each becomes U+FFFD. Queries map their values
// the same way, and so still find such events.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// pgIP is pgText for a source IP, which must not hold ipSep either.
func pgIP(ip string) string {
	ip = pgText(ip)
	if strings.Contains(ip, ipSep) {
		ip = strings.ReplaceAll(ip, ipSep, "\uFFFD")
	}
	return ip
}

// QueryEvents implements store.EventStore.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	after, err := q.After()
	if err != nil {
		return store.EventPage{}, err
	}
	var (
		args  []any
		where []string
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(q.Since.UnixNano()))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < "+arg(q.Until.UnixNano()))
	}
	switch len(q.Clusters) {
	case 0:
	case 1: // an equality keeps events_cluster's order
		where = append(where, "cluster = "+arg(pgText(q.Clusters[0])))
	default:
		cs := make([]string, len(q.Clusters))
		for i, c := range q.Clusters {
			cs[i] = pgText(c)
		}
		where = append(where, "cluster = ANY("+arg(cs)+")")
	}
	for _, f := range [...]struct{ col, v string }{{"user_name", q.User}, {"namespace", q.Namespace}, {"verb", q.Verb}, {"resource", q.Resource}, {"name", q.Name}} {
		if f.v != "" {
			where = append(where, f.col+" = "+arg(pgText(f.v)))
		}
	}
	if q.SourceIP != "" {
		where = append(where, "source_ips @> ARRAY["+arg(pgIP(q.SourceIP))+"::text]")
	}
	if after != nil {
		where = append(where, "(time, seq) < ("+arg(after.Time)+", "+arg(after.Seq)+")")
	}
	limit := q.PageLimit()
	query := `SELECT seq, time, cluster, capture, audit_id, stage, user_name, verb, namespace, resource, name, code, source_ips, raw FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time DESC, seq DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return store.EventPage{}, fmt.Errorf("query events: %w", err)
	}
	defer rows.Close()
	var (
		p    store.EventPage
		last store.EventCursor
	)
	for rows.Next() {
		if len(p.Events) == limit {
			p.Next = last.Encode()
			break
		}
		var (
			e  store.Event
			c  store.EventCursor
			ns int64
		)
		if err := rows.Scan(&c.Seq, &ns, &e.Cluster, &e.Capture, &e.AuditID, &e.Stage, &e.User, &e.Verb, &e.Namespace,
			&e.Resource, &e.Name, &e.Code, &e.SourceIPs, &e.Raw); err != nil {
			return store.EventPage{}, fmt.Errorf("query events: %w", err)
		}
		e.Time, c.Time = store.FromUnixNano(ns), ns
		if len(e.SourceIPs) == 0 {
			e.SourceIPs = nil
		}
		p.Events = append(p.Events, e)
		last = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.EventPage{}, fmt.Errorf("query events: %w", err)
	}
	return p, nil
}

// EventStats implements store.EventStore.
func (s *Store) EventStats(ctx context.Context) (store.Stats, error) {
	var (
		st     store.Stats
		oldest *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT count, bytes, (SELECT min(time) FROM events) FROM event_totals`).Scan(&st.Count, &st.Bytes, &oldest)
	if err != nil {
		return store.Stats{}, fmt.Errorf("event stats: %w", err)
	}
	if oldest != nil {
		st.Oldest = store.FromUnixNano(*oldest)
	}
	return st, nil
}

// Deletions of RetainEvents, up to RetainBatch events each, which take
// what they deleted off the totals and return how many: the oldest before
// a cutoff ($1), and the oldest whose sizes, added up in order, reach an
// excess ($1; the window sum stops at the first that does). Replicas
// deleting at once pick the same events; the second finds them gone and
// counts none.
var (
	deleteOldEventsSQL = `WITH d AS (
		DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < $1 ORDER BY time, seq LIMIT ` + strconv.Itoa(store.RetainBatch) + `)
		RETURNING size)
	UPDATE event_totals SET count = count - (SELECT count(*) FROM d), bytes = bytes - (SELECT coalesce(sum(size), 0) FROM d)::bigint
	RETURNING (SELECT count(*) FROM d)`
	deleteExcessEventsSQL = `WITH d AS (
		DELETE FROM events WHERE seq IN (
			SELECT seq FROM (SELECT seq, sum(size) OVER (ORDER BY time, seq ROWS UNBOUNDED PRECEDING) - size AS before
				FROM (SELECT seq, time, size FROM events ORDER BY time, seq LIMIT ` + strconv.Itoa(store.RetainBatch) + `) o) w
			WHERE before < $1)
		RETURNING size)
	UPDATE event_totals SET count = count - (SELECT count(*) FROM d), bytes = bytes - (SELECT coalesce(sum(size), 0) FROM d)::bigint
	RETURNING (SELECT count(*) FROM d)`
)

// RetainEvents implements store.EventStore.
func (s *Store) RetainEvents(ctx context.Context, r store.Retention) (int, error) {
	return store.RetainBatches(ctx, r, "events",
		func(cutoff int64) (int, error) {
			var n int
			err := s.pool.QueryRow(ctx, deleteOldEventsSQL, cutoff).Scan(&n)
			return n, err
		},
		func() (int, error) {
			n := 0
			err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				var bytes int64
				// FOR UPDATE: replicas retaining at once take turns.
				if err := tx.QueryRow(ctx, `SELECT bytes FROM event_totals FOR UPDATE`).Scan(&bytes); err != nil {
					return err
				}
				if bytes <= r.MaxBytes {
					return nil
				}
				return tx.QueryRow(ctx, deleteExcessEventsSQL, bytes-r.MaxBytes).Scan(&n)
			})
			return n, err
		})
}
