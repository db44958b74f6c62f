// Package postgres is the alert store for deployments where several Vigil
// replicas share one store: PostgreSQL through pgx. The schema is migrated
// on open; replicas opening at once take turns (an advisory lock).
package postgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrateLock is the advisory lock key that serializes migrations.
const migrateLock = 0x76696769 // "vigi"

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// New connects to the database at url (a PostgreSQL URL or key=value
// string; unknown parameters such as search_path become session settings)
// and brings its schema up to date. The tables go into the first schema of
// the search path.
func New(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL, password included.
		return nil, errors.New("open postgres store: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrate applies the embedded migrations the database lacks, in order,
// in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	versions, err := store.MigrationVersions(names)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS vigil_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM vigil_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		for i, name := range names {
			version := versions[i]
			if version <= have {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vigil_migrations (version) VALUES ($1)`, version); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
		}
		return nil
	})
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const insertSQL = `INSERT INTO alerts
	(id, time, priority, rule, cluster, tags, message, user_name, namespace, verb, resource, source_ips, size, data, event)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT (id) DO NOTHING RETURNING size`

// Add implements store.Store: one transaction, the inserts pipelined in one
// round trip.
func (s *Store) Add(ctx context.Context, alerts []journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	rows := make([]store.Row, 0, len(alerts))
	for i := range alerts {
		r, err := store.NewRow(&alerts[i])
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	// Insert in ID order: two batches sharing IDs then lock them in the
	// same order and cannot deadlock.
	slices.SortStableFunc(rows, func(a, b store.Row) int { return cmp.Compare(a.ID, b.ID) })
	rows = slices.CompactFunc(rows, func(a, b store.Row) bool { return a.ID == b.ID })
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for i := range rows {
			r := &rows[i]
			tags := r.Tags
			if tags == nil {
				tags = []string{}
			}
			ips := r.SourceIPs
			if ips == nil {
				ips = []string{}
			}
			b.Queue(insertSQL, r.ID, r.Time, r.Priority, r.Rule, r.Cluster, tags, r.Message,
				r.User, r.Namespace, r.Verb, r.Resource, ips, r.Size, r.Data, r.Event)
		}
		res := tx.SendBatch(ctx, &b)
		var count, bytes int64
		for range rows {
			var size int64
			err := res.QueryRow().Scan(&size)
			switch {
			case errors.Is(err, pgx.ErrNoRows): // known ID
			case err != nil:
				res.Close()
				return err
			default:
				count++
				bytes += size
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		return addTotals(ctx, tx, count, bytes)
	})
	if err != nil {
		return fmt.Errorf("add alerts: %w", err)
	}
	return nil
}

func addTotals(ctx context.Context, tx pgx.Tx, count, bytes int64) error {
	if count == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE totals SET count = count + $1, bytes = bytes + $2`, count, bytes); err != nil {
		return fmt.Errorf("update totals: %w", err)
	}
	return nil
}

// recordColumns are the columns scanRecord reads.
const recordColumns = `id, time, data, event, status, assignee, note, triage_updated`

func scanRecord(row pgx.Row) (store.Record, store.Cursor, error) {
	var (
		c                      store.Cursor
		data, event            []byte
		status, assignee, note string
		updated                int64
	)
	if err := row.Scan(&c.ID, &c.Time, &data, &event, &status, &assignee, &note, &updated); err != nil {
		return store.Record{}, c, err
	}
	t := store.Triage{Status: store.Status(status), Assignee: assignee, Note: note}
	if updated != 0 {
		t.Updated = time.Unix(0, updated).UTC()
	}
	rec, err := store.DecodeRecord(data, event, t)
	return rec, c, err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Record, error) {
	rec, _, err := scanRecord(s.pool.QueryRow(ctx, `SELECT `+recordColumns+` FROM alerts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("get %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %q: %w", id, err)
	}
	return rec, nil
}

// filter returns the WHERE conditions (joined by AND) that select the
// alerts q matches, ignoring its cursor; arg adds an argument and returns
// its placeholder.
func filter(q *store.Query, arg func(any) string) []string {
	var where []string
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(q.Since.UnixNano()))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < "+arg(q.Until.UnixNano()))
	}
	if len(q.Clusters) > 0 {
		where = append(where, "cluster = ANY("+arg(q.Clusters)+")")
	}
	if len(q.Rules) > 0 {
		where = append(where, "rule = ANY("+arg(q.Rules)+")")
	}
	if q.MinPriority != nil {
		where = append(where, "priority <= "+arg(int(*q.MinPriority)))
	}
	if len(q.Tags) > 0 {
		where = append(where, "tags @> "+arg(q.Tags)+"::text[]")
	}
	for _, f := range [...]struct{ col, v string }{{"user_name", q.User}, {"namespace", q.Namespace}, {"verb", q.Verb}, {"resource", q.Resource}} {
		if f.v != "" {
			where = append(where, f.col+" = "+arg(f.v))
		}
	}
	if q.SourceIP != "" {
		where = append(where, "source_ips @> ARRAY["+arg(q.SourceIP)+"::text]")
	}
	if len(q.Statuses) > 0 {
		st := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			st[i] = string(s)
		}
		where = append(where, "status = ANY("+arg(st)+")")
	}
	for _, w := range q.Words() {
		where = append(where, "message ILIKE "+arg(store.LikePattern(w))+` ESCAPE '\'`)
	}
	return where
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	after, err := q.After()
	if err != nil {
		return store.Page{}, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := filter(&q, arg)
	order := " ORDER BY time DESC, id DESC"
	if q.Oldest {
		order = " ORDER BY time, id"
	}
	if after != nil {
		op := "<"
		if q.Oldest {
			op = ">"
		}
		where = append(where, "(time, id) "+op+" ("+arg(after.Time)+", "+arg(after.ID)+")")
	}
	limit := q.PageLimit()
	query := "SELECT " + recordColumns + " FROM alerts"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += order + " LIMIT " + strconv.Itoa(limit+1)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("query alerts: %w", err)
	}
	defer rows.Close()
	var (
		p    store.Page
		last store.Cursor
	)
	for rows.Next() {
		if len(p.Alerts) == limit {
			last.Oldest = q.Oldest
			p.Next = last.Encode()
			break
		}
		rec, c, err := scanRecord(rows)
		if err != nil {
			return store.Page{}, fmt.Errorf("query alerts: %w", err)
		}
		p.Alerts = append(p.Alerts, rec)
		last = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("query alerts: %w", err)
	}
	return p, nil
}

// Comment implements store.Store.
func (s *Store) Comment(ctx context.Context, id string, c store.Comment) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO comments (alert_id, author, text, time) SELECT id, $2, $3, $4 FROM alerts WHERE id = $1`,
		id, c.Author, c.Text, store.UnixNano(c.Time))
	if err != nil {
		return fmt.Errorf("comment on %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("comment on %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// Comments implements store.Store.
func (s *Store) Comments(ctx context.Context, id string) ([]store.Comment, error) {
	rows, err := s.pool.Query(ctx, `SELECT author, text, time FROM comments WHERE alert_id = $1 ORDER BY time, seq`, id)
	if err != nil {
		return nil, fmt.Errorf("comments of %q: %w", id, err)
	}
	defer rows.Close()
	cs := []store.Comment{}
	for rows.Next() {
		var (
			c  store.Comment
			ns int64
		)
		if err := rows.Scan(&c.Author, &c.Text, &ns); err != nil {
			return nil, fmt.Errorf("comments of %q: %w", id, err)
		}
		c.Time = store.FromUnixNano(ns)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("comments of %q: %w", id, err)
	}
	return cs, nil
}

// dimensions are the ranked dimensions, by grouping set number less one.
var dimensions = [...]string{"rule", "user", "namespace", "cluster"}

// Summarize implements store.Store: one scan of the matching alerts,
// grouped by grouping sets, each ranking cut to its top in SQL.
func (s *Store) Summarize(ctx context.Context, q store.Query, o store.SummaryOptions) (store.Summary, error) {
	bucket, top, err := o.Check()
	if err != nil {
		return store.Summary{}, err
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := filter(&q, arg)
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	b := arg(bucket)
	// g is the grouping set: 0 the buckets, 1 rule, 2 user, 3 namespace,
	// 4 cluster; v the value of a ranked dimension. Floor division, so that
	// buckets before the epoch start at multiples too.
	query := `WITH g AS (
		SELECT CASE WHEN GROUPING(k, priority) = 0 THEN 0 WHEN GROUPING(rule) = 0 THEN 1
				WHEN GROUPING(user_name) = 0 THEN 2 WHEN GROUPING(namespace) = 0 THEN 3 ELSE 4 END AS g,
			k, priority, coalesce(rule, user_name, namespace, cluster) COLLATE "C" AS v, count(*) AS n
		FROM (SELECT time / ` + b + ` - (time % ` + b + ` < 0)::int AS k, priority, rule, user_name, namespace, cluster FROM alerts` + cond + `) m
		GROUP BY GROUPING SETS ((k, priority), (rule), (user_name), (namespace), (cluster)))
	SELECT g, k, priority, v, n FROM (
		SELECT *, row_number() OVER (PARTITION BY g ORDER BY n DESC, v) AS r FROM g WHERE g > 0 AND v != '') t
	WHERE r <= ` + arg(top) + `
	UNION ALL SELECT g, k, priority, v, n FROM g WHERE g = 0
	ORDER BY g, k, priority, n DESC, v`
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return store.Summary{}, fmt.Errorf("summarize: %w", err)
	}
	defer rows.Close()
	sum := store.NewSummaryBuilder(bucket)
	for rows.Next() {
		var (
			g    int
			k    *int64
			prio *int16
			v    *string
			n    int64
		)
		if err := rows.Scan(&g, &k, &prio, &v, &n); err != nil {
			return store.Summary{}, fmt.Errorf("summarize: %w", err)
		}
		if g == 0 {
			if k == nil || prio == nil {
				return store.Summary{}, errors.New("summarize: bucket without a time or priority")
			}
			sum.AddBucket(*k, int(*prio), n)
			continue
		}
		if v != nil {
			sum.AddTop(dimensions[g-1], *v, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.Summary{}, fmt.Errorf("summarize: %w", err)
	}
	return sum.Summary(), nil
}

// SetStatus implements store.Store.
func (s *Store) SetStatus(ctx context.Context, id string, t store.Triage) error {
	if !t.Status.Valid() {
		return fmt.Errorf("set status of %q to %q: %w", id, t.Status, store.ErrBadStatus)
	}
	var updated int64
	if !t.Updated.IsZero() {
		updated = t.Updated.UnixNano()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE alerts SET status = $1, assignee = $2, note = $3, triage_updated = $4 WHERE id = $5`,
		string(t.Status), t.Assignee, t.Note, updated, id)
	if err != nil {
		return fmt.Errorf("set status of %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set status of %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var (
		st     store.Stats
		oldest *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT count, bytes, (SELECT min(time) FROM alerts) FROM totals`).Scan(&st.Count, &st.Bytes, &oldest)
	if err != nil {
		return store.Stats{}, fmt.Errorf("stats: %w", err)
	}
	if oldest != nil {
		st.Oldest = time.Unix(0, *oldest)
	}
	return st, nil
}

// Retain implements store.Store.
func (s *Store) Retain(ctx context.Context, r store.Retention) (int, error) {
	return store.RetainBatches(ctx, r, "alerts",
		func(cutoff int64) (int, error) {
			return s.deleteBatch(ctx, func(tx pgx.Tx) ([]string, error) {
				return oldest(ctx, tx, `SELECT id, size FROM alerts WHERE time < $1 ORDER BY time, id LIMIT $2`, cutoff, -1)
			})
		},
		func() (int, error) {
			return s.deleteBatch(ctx, func(tx pgx.Tx) ([]string, error) {
				var bytes int64
				// FOR UPDATE: replicas retaining at once take turns.
				if err := tx.QueryRow(ctx, `SELECT bytes FROM totals FOR UPDATE`).Scan(&bytes); err != nil {
					return nil, err
				}
				if bytes <= r.MaxBytes {
					return nil, nil
				}
				return oldest(ctx, tx, `SELECT id, size FROM alerts ORDER BY time, id LIMIT $1`, nil, bytes-r.MaxBytes)
			})
		})
}

// oldest returns the IDs of up to RetainBatch oldest alerts that query
// selects (with cutoff as its first argument unless nil), stopping once
// their sizes add up to excess, unless excess is negative.
func oldest(ctx context.Context, tx pgx.Tx, query string, cutoff any, excess int64) ([]string, error) {
	args := []any{store.RetainBatch}
	if cutoff != nil {
		args = []any{cutoff, store.RetainBatch}
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for excess != 0 && rows.Next() {
		var (
			id   string
			size int64
		)
		if err := rows.Scan(&id, &size); err != nil {
			return nil, err
		}
		ids = append(ids, id)
		if excess > 0 {
			excess = max(excess-size, 0)
		}
	}
	rows.Close()
	return ids, rows.Err()
}

// deleteBatch deletes, in one transaction, the alerts pick selects.
func (s *Store) deleteBatch(ctx context.Context, pick func(pgx.Tx) ([]string, error)) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids, err := pick(tx)
		if err != nil || len(ids) == 0 {
			return err
		}
		var count, bytes int64
		err = tx.QueryRow(ctx, `WITH d AS (DELETE FROM alerts WHERE id = ANY($1) RETURNING size)
			SELECT count(*), coalesce(sum(size), 0) FROM d`, ids).Scan(&count, &bytes)
		if err != nil {
			return err
		}
		n = int(count)
		return addTotals(ctx, tx, -count, -bytes)
	})
	return n, err
}
