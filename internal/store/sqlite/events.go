package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/store"
)

var _ store.EventStore = (*Store)(nil)

// eventColumns are the columns AddEvents writes, in the order of
// eventArgs; eventWidth is their number.
const (
	eventColumns = `time, cluster, capture, audit_id, stage, user_name, verb, namespace, resource, name, code, source_ips, size, raw`
	eventWidth   = 14
)

// eventChunk is how many events one INSERT statement writes: large enough
// that statements are few, small enough to stay well under SQLite's limit
// of 32766 parameters.
const eventChunk = 200

// eventArgs appends the values of e's eventColumns to args.
func eventArgs(args []any, e *store.Event) []any {
	// int64, not int: database/sql converts other types by reflection.
	return append(args, store.UnixNano(e.Time), e.Cluster, e.Capture, e.AuditID, e.Stage, e.User, e.Verb, e.Namespace,
		e.Resource, e.Name, int64(e.Code), encodeEventIPs(e.SourceIPs), e.Size(), []byte(e.Raw))
}

// encodeEventIPs returns the source_ips column: a JSON array, or nil for
// none. Plain addresses need no escaping and are written directly; the
// rest go through encoding/json (whose output the fast path matches).
func encodeEventIPs(ips []string) any {
	if len(ips) == 0 {
		return nil
	}
	n := 1
	for _, ip := range ips {
		for i := range len(ip) {
			if c := ip[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				b, err := json.Marshal(ips)
				if err != nil { // strings always encode
					panic(err)
				}
				return string(b)
			}
		}
		n += len(ip) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, ip := range ips {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(ip)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// AddEvents implements store.EventStore, in one transaction: multi-row
// INSERT OR IGNOREs (the unique key skips known events), then, for the
// events inserted, their source IPs and the totals, each in one statement.
// Every seq above the largest before the inserts is an event inserted
// here: SQLite gives new rows the largest rowid plus one, and this
// transaction is the only writer.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	// The arguments are ready before the write lock is taken.
	args := make([]any, 0, len(events)*eventWidth)
	for i := range events {
		args = eventArgs(args, &events[i])
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&last); err != nil {
			return err
		}
		var (
			count int64
			full  *sql.Stmt
		)
		for start := 0; start < len(events); start += eventChunk {
			n := min(eventChunk, len(events)-start)
			a := args[start*eventWidth : (start+n)*eventWidth]
			var (
				res sql.Result
				err error
			)
			if n == eventChunk {
				// Prepared once per call: that costs well under 1% of a
				// batch of 1000.
				if full == nil {
					if full, err = tx.PrepareContext(ctx, insertEventsSQL(eventChunk)); err != nil {
						return err
					}
					defer full.Close()
				}
				res, err = full.ExecContext(ctx, a...)
			} else {
				res, err = tx.ExecContext(ctx, insertEventsSQL(n), a...)
			}
			if err != nil {
				return err
			}
			added, err := res.RowsAffected()
			if err != nil {
				return err
			}
			count += added
		}
		if count == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO event_ips (ip, time, seq)
			SELECT j.value, e.time, e.seq FROM events e, json_each(e.source_ips) j WHERE e.seq > ? AND e.source_ips IS NOT NULL`, last); err != nil {
			return fmt.Errorf("source IPs: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE event_totals SET count = count + ?,
			bytes = bytes + (SELECT coalesce(sum(size), 0) FROM events WHERE seq > ?)`, count, last); err != nil {
			return fmt.Errorf("totals: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add events: %w", err)
	}
	return nil
}

// insertEventsSQL returns the statement that inserts n events. OR IGNORE
// rather than ON CONFLICT DO NOTHING: it needs no statement journal, and
// no NOT NULL column is ever given NULL, so it skips only known keys.
func insertEventsSQL(n int) string {
	return `INSERT OR IGNORE INTO events (` + eventColumns + `) VALUES ` + values(n, eventWidth)
}

// QueryEvents implements store.EventStore. With a SourceIP, the query
// walks that IP's rows of event_ips in time order, so that an address in
// millions of events costs no more than a rare one.
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) (store.EventPage, error) {
	after, err := q.After()
	if err != nil {
		return store.EventPage{}, err
	}
	var (
		where []string
		args  []any
	)
	from, tcol, scol := "events e", "e.time", "e.seq"
	if q.SourceIP != "" {
		from, tcol, scol = "event_ips i JOIN events e ON e.seq = i.seq", "i.time", "i.seq"
		where = append(where, "i.ip = ?")
		args = append(args, q.SourceIP)
	}
	if !q.Since.IsZero() {
		where = append(where, tcol+" >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where = append(where, tcol+" < ?")
		args = append(args, q.Until.UnixNano())
	}
	switch len(q.Clusters) {
	case 0:
	case 1:
		where = append(where, "e.cluster = ?")
		args = append(args, q.Clusters[0])
	default:
		// Unary + keeps events_cluster out: through it, SQLite would sort
		// every event of those clusters to return the newest few.
		where = append(where, "+e.cluster IN (?"+strings.Repeat(", ?", len(q.Clusters)-1)+")")
		for _, c := range q.Clusters {
			args = append(args, c)
		}
	}
	for _, f := range [...]struct{ col, v string }{{"e.user_name", q.User}, {"e.namespace", q.Namespace}, {"e.verb", q.Verb}, {"e.resource", q.Resource}, {"e.name", q.Name}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if after != nil {
		where = append(where, "("+tcol+", "+scol+") < (?, ?)")
		args = append(args, after.Time, after.Seq)
	}
	limit := q.PageLimit()
	query := `SELECT e.seq, e.time, e.cluster, e.capture, e.audit_id, e.stage, e.user_name, e.verb, e.namespace, e.resource, e.name,
		e.code, e.source_ips, e.raw FROM ` + from
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY " + tcol + " DESC, " + scol + " DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.db.QueryContext(ctx, query, args...)
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
			e   store.Event
			ns  int64
			ips sql.NullString
			raw []byte
			c   store.EventCursor
		)
		if err := rows.Scan(&c.Seq, &ns, &e.Cluster, &e.Capture, &e.AuditID, &e.Stage, &e.User, &e.Verb, &e.Namespace,
			&e.Resource, &e.Name, &e.Code, &ips, &raw); err != nil {
			return store.EventPage{}, fmt.Errorf("query events: %w", err)
		}
		e.Time, c.Time = store.FromUnixNano(ns), ns
		if ips.Valid {
			if err := json.Unmarshal([]byte(ips.String), &e.SourceIPs); err != nil {
				return store.EventPage{}, fmt.Errorf("query events: source IPs of event %d: %w", c.Seq, err)
			}
		}
		e.Raw = raw
		p.Events = append(p.Events, e)
		last = c
	}
	if err := rows.Err(); err != nil {
		return store.EventPage{}, fmt.Errorf("query events: %w", err)
	}
	return p, nil
}

// EventStats implements store.EventStore.
func (s *Store) EventStats(ctx context.Context) (store.Stats, error) {
	var (
		st     store.Stats
		oldest sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT count, bytes, (SELECT min(time) FROM events) FROM event_totals`).Scan(&st.Count, &st.Bytes, &oldest)
	if err != nil {
		return store.Stats{}, fmt.Errorf("event stats: %w", err)
	}
	if oldest.Valid {
		st.Oldest = store.FromUnixNano(oldest.Int64)
	}
	return st, nil
}

// Deletions of RetainEvents, up to RetainBatch events each: the oldest
// before a cutoff, and the oldest whose sizes, added up in order, reach
// an excess (the window sum stops at the first that does).
var (
	deleteOldEventsSQL = `DELETE FROM events WHERE seq IN (
		SELECT seq FROM events WHERE time < ? ORDER BY time, seq LIMIT ` + strconv.Itoa(store.RetainBatch) + `) RETURNING size`
	deleteExcessEventsSQL = `DELETE FROM events WHERE seq IN (
		SELECT seq FROM (SELECT seq, sum(size) OVER (ORDER BY time, seq ROWS UNBOUNDED PRECEDING) - size AS before
			FROM (SELECT seq, time, size FROM events ORDER BY time, seq LIMIT ` + strconv.Itoa(store.RetainBatch) + `))
		WHERE before < ?) RETURNING size`
)

// RetainEvents implements store.EventStore.
func (s *Store) RetainEvents(ctx context.Context, r store.Retention) (int, error) {
	return store.RetainBatches(ctx, r, "events",
		func(cutoff int64) (int, error) {
			return s.deleteEvents(ctx, func(tx *sql.Tx) (*sql.Rows, error) {
				return tx.QueryContext(ctx, deleteOldEventsSQL, cutoff)
			})
		},
		func() (int, error) {
			return s.deleteEvents(ctx, func(tx *sql.Tx) (*sql.Rows, error) {
				var bytes int64
				if err := tx.QueryRowContext(ctx, `SELECT bytes FROM event_totals`).Scan(&bytes); err != nil {
					return nil, err
				}
				if bytes <= r.MaxBytes {
					return nil, nil
				}
				return tx.QueryContext(ctx, deleteExcessEventsSQL, bytes-r.MaxBytes)
			})
		})
}

// deleteEvents runs, in one write transaction, the DELETE … RETURNING size
// that del starts (none if it returns nil rows), and takes what it deleted
// off the totals.
func (s *Store) deleteEvents(ctx context.Context, del func(*sql.Tx) (*sql.Rows, error)) (int, error) {
	var count int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := del(tx)
		if err != nil || rows == nil {
			return err
		}
		defer rows.Close()
		var bytes int64
		for rows.Next() {
			var size int64
			if err := rows.Scan(&size); err != nil {
				return err
			}
			count++
			bytes += size
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if count == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE event_totals SET count = count - ?, bytes = bytes - ?`, count, bytes)
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(count), nil
}
