// Package sqlite is the embedded alert store: one SQLite database file in
// the data directory, through modernc.org/sqlite (SQLite compiled to Go, so
// no cgo), in WAL mode, with an FTS5 trigram index for message search.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/journal"
	"github.com/vigilsec/vigil/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store in one SQLite file.
type Store struct {
	db *sql.DB
	// wmu serializes this process's write transactions. SQLite has a single
	// writer; queueing here is fairer and faster than SQLite's busy sleep,
	// which remains (busy_timeout) for other processes.
	wmu   sync.Mutex
	get   *sql.Stmt // one alert by ID
	count *sql.Stmt // the seqs of FTS matches, up to a limit
	probe *sql.Stmt // the number of FTS matches, up to a limit
	// insert[i] inserts insertSizes[i] alerts, returning the seq and ID of
	// those it did not skip; addIPs[i] inserts insertSizes[i] source IPs.
	insert, addIPs [len(insertSizes)]*sql.Stmt
	index          *sql.Stmt // indexes the messages of a range of seqs
	// maxIndexMatches is the most alerts a text search reads from the
	// trigram index; above it, Query scans in time order instead.
	maxIndexMatches int64
}

var _ store.Store = (*Store)(nil)

// New opens (creating if needed) the database file at path and brings its
// schema up to date. path must not contain '?'.
func New(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite store: path %q contains '?'", path)
	}
	if err := create(ctx, path); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// The pragmas apply to every pooled connection. synchronous=NORMAL is
	// durable in WAL mode except for the last transactions before a power
	// loss. Checkpoints every 4,000 pages (32 MiB) rather than 1,000: the
	// index pages every batch touches are copied back to the database once
	// per checkpoint, not once per batch; journal_size_limit then truncates
	// the WAL file. IMMEDIATE transactions take the write lock at BEGIN, so
	// two writers never deadlock upgrading a read lock.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=temp_store(memory)&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(4000)&_pragma=journal_size_limit(67108864)" +
		"&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store: %w", err)
	}
	s := &Store{db: db, maxIndexMatches: maxIndexMatches}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// pageSize is the page size of new databases. Alerts are about 2 KB, so
// that 4 KB pages would hold one alert each, half empty.
var pageSize = 8192

// create sets the page size of a new database, which WAL mode then fixes.
// It does nothing to an existing database.
func create(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA page_size = `+strconv.Itoa(pageSize)); err != nil {
		return fmt.Errorf("set page size: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	return nil
}

func (s *Store) init(ctx context.Context) error {
	if err := migrate(ctx, s.db); err != nil {
		return err
	}
	var err error
	s.get, err = s.db.PrepareContext(ctx, `SELECT `+recordColumns+` FROM alerts WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare get: %w", err)
	}
	s.count, err = s.db.PrepareContext(ctx, `SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ? LIMIT ?`)
	if err != nil {
		return fmt.Errorf("prepare count: %w", err)
	}
	s.probe, err = s.db.PrepareContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM alerts_fts WHERE alerts_fts MATCH ? LIMIT ?)`)
	if err != nil {
		return fmt.Errorf("prepare probe: %w", err)
	}
	for i, n := range insertSizes {
		// OR IGNORE rather than ON CONFLICT DO NOTHING: with no
		// constraint left to abort it, the statement needs no statement
		// journal, which cost a fifth of Add. No column Add writes is ever
		// NULL where NOT NULL, so IGNORE skips only known IDs.
		s.insert[i], err = s.db.PrepareContext(ctx, `INSERT OR IGNORE INTO alerts (`+insertColumns+`) VALUES `+values(n, insertWidth)+
			` RETURNING seq, id`)
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		s.addIPs[i], err = s.db.PrepareContext(ctx, `INSERT OR IGNORE INTO alert_ips (ip, time, seq) VALUES `+values(n, 3))
		if err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
	}
	s.index, err = s.db.PrepareContext(ctx, `INSERT INTO alerts_fts (rowid, message) SELECT seq, message FROM alerts WHERE seq BETWEEN ? AND ?`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	return nil
}

// migrate applies the embedded migrations the database lacks, in order,
// each in its own transaction. user_version holds the last one applied.
func migrate(ctx context.Context, db *sql.DB) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	versions, err := store.MigrationVersions(names)
	if err != nil {
		return err
	}
	for i, name := range names {
		if err := migrateOne(ctx, db, versions[i], name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, version int, name string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&have); err != nil {
		return err
	}
	if have >= version {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA user_version = `+strconv.Itoa(version)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.get.Close()
	s.count.Close()
	s.probe.Close()
	for i := range insertSizes {
		s.insert[i].Close()
		s.addIPs[i].Close()
	}
	s.index.Close()
	return s.db.Close()
}

// tagSep delimits tags in the tags column.
const tagSep = "\x1f"

func encodeTags(tags []string) string {
	var b strings.Builder
	b.WriteString(tagSep)
	for _, t := range tags {
		b.WriteString(t)
		b.WriteString(tagSep)
	}
	return b.String()
}

// encodeIPs returns the source_ips column: a JSON array, or nil for none.
func encodeIPs(ips []string) any {
	if len(ips) == 0 {
		return nil
	}
	b, err := json.Marshal(ips)
	if err != nil { // strings always encode
		panic(err)
	}
	return string(b)
}

// insertSizes are the numbers of rows that Add's prepared INSERT
// statements write, largest first: a batch of 500 alerts takes five
// statements, prepared once, rather than one made for its size.
var insertSizes = [...]int{100, 10, 1}

// insertColumns are the columns Add writes, in the order of insertArgs.
const insertColumns = `id, time, priority, rule, cluster, tags, message, user_name, namespace, verb, resource, source_ips, size, data, event`

// insertWidth is the number of insertColumns.
const insertWidth = 15

// insertArgs appends the values of r's insertColumns to args.
func insertArgs(args []any, r *store.Row) []any {
	return append(args, r.ID, r.Time, r.Priority, r.Rule, r.Cluster, encodeTags(r.Tags), r.Message,
		r.User, r.Namespace, r.Verb, r.Resource, encodeIPs(r.SourceIPs), r.Size, r.Data, r.Event)
}

// values returns n rows of k placeholders each: "(?, ?), (?, ?)".
func values(n, k int) string {
	row := "(?" + strings.Repeat(", ?", k-1) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// chunks calls f with consecutive chunks of n items, each the size of one
// of insertSizes, and the index of that size.
func chunks(n int, f func(start, size, i int) error) error {
	start := 0
	for i, size := range insertSizes {
		for ; n-start >= size; start += size {
			if err := f(start, size, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// Add implements store.Store, in one transaction: multi-row INSERTs, which
// return the alerts they did not skip, then their source IPs, then one
// statement for the text index (the index writes a segment per statement).
func (s *Store) Add(ctx context.Context, alerts []journal.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	rows := make([]store.Row, len(alerts))
	byID := make(map[string]*store.Row, len(alerts))
	for i := range alerts {
		r, err := store.NewRow(&alerts[i])
		if err != nil {
			return err
		}
		rows[i] = r
		if _, ok := byID[r.ID]; !ok {
			byID[r.ID] = &rows[i]
		}
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var (
			count, bytes   int64
			minSeq, maxSeq int64
			ips            []any // ip, time, seq of each source IP of the inserted alerts
			args           = make([]any, 0, insertSizes[0]*insertWidth)
		)
		err := chunks(len(rows), func(start, size, i int) error {
			args = args[:0]
			for j := start; j < start+size; j++ {
				args = insertArgs(args, &rows[j])
			}
			res, err := tx.StmtContext(ctx, s.insert[i]).QueryContext(ctx, args...)
			if err != nil {
				return err
			}
			defer res.Close()
			for res.Next() {
				var (
					seq int64
					id  string
				)
				if err := res.Scan(&seq, &id); err != nil {
					return err
				}
				r := byID[id]
				if count == 0 || seq < minSeq {
					minSeq = seq
				}
				maxSeq = max(maxSeq, seq)
				count++
				bytes += r.Size
				for _, ip := range r.SourceIPs {
					ips = append(ips, ip, r.Time, seq)
				}
			}
			return res.Err()
		})
		if err != nil {
			return fmt.Errorf("insert alerts: %w", err)
		}
		if count == 0 {
			return nil
		}
		err = chunks(len(ips)/3, func(start, size, i int) error {
			_, err := tx.StmtContext(ctx, s.addIPs[i]).ExecContext(ctx, ips[3*start:3*(start+size)]...)
			return err
		})
		if err != nil {
			return fmt.Errorf("insert source IPs: %w", err)
		}
		// Every seq from minSeq to maxSeq is an alert inserted here: new
		// rows get seqs above all others, and this transaction is the
		// only writer.
		if _, err := tx.StmtContext(ctx, s.index).ExecContext(ctx, minSeq, maxSeq); err != nil {
			return fmt.Errorf("index messages: %w", err)
		}
		return addTotals(ctx, tx, count, bytes)
	})
}

func addTotals(ctx context.Context, tx *sql.Tx, count, bytes int64) error {
	if count == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE totals SET count = count + ?, bytes = bytes + ?`, count, bytes)
	if err != nil {
		return fmt.Errorf("update totals: %w", err)
	}
	return nil
}

// write runs f in a write transaction.
func (s *Store) write(ctx context.Context, f func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// recordColumns are the columns scanRecord reads.
const recordColumns = `id, time, data, event, status, assignee, note, triage_updated`

type scanner interface{ Scan(...any) error }

func scanRecord(sc scanner) (store.Record, store.Cursor, error) {
	var (
		c                      store.Cursor
		data, event            []byte
		status, assignee, note string
		updated                int64
	)
	if err := sc.Scan(&c.ID, &c.Time, &data, &event, &status, &assignee, &note, &updated); err != nil {
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
	rec, _, err := scanRecord(s.get.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, fmt.Errorf("get %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("get %q: %w", id, err)
	}
	return rec, nil
}

// selection is the SQL that selects the alerts a Query matches, as a in
// its FROM clause: alone, or, for a source IP, joined to alert_ips as i,
// which then gives the time order.
type selection struct {
	from  string   // the FROM clause
	time  string   // the time column to order by: a.time or i.time
	where []string // conditions, joined by AND
	args  []any    // the arguments of from and where, in order
}

// add appends a condition and its arguments.
func (sel *selection) add(cond string, args ...any) {
	sel.where = append(sel.where, cond)
	sel.args = append(sel.args, args...)
}

// sql returns the FROM and WHERE clauses.
func (sel *selection) sql() string {
	q := " FROM " + sel.from
	if len(sel.where) > 0 {
		q += " WHERE " + strings.Join(sel.where, " AND ")
	}
	return q
}

// filter returns the selection of the alerts q matches, ignoring its
// cursor.
func (s *Store) filter(ctx context.Context, q *store.Query) (*selection, error) {
	sel := &selection{from: "alerts a", time: "a.time"}
	if q.SourceIP != "" {
		// alert_ips yields an IP's alerts in time order: reading the
		// newest first stops at the page's end, however many there are.
		sel.from, sel.time = "alert_ips i JOIN alerts a ON a.seq = i.seq", "i.time"
		sel.add("i.ip = ?", q.SourceIP)
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		sel.add(col+" IN (?"+strings.Repeat(", ?", len(vals)-1)+")", args...)
	}
	eq := func(col, val string) {
		if val != "" {
			sel.add(col+" = ?", val)
		}
	}
	if !q.Since.IsZero() {
		sel.add(sel.time+" >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		sel.add(sel.time+" < ?", q.Until.UnixNano())
	}
	in("a.cluster", q.Clusters)
	in("a.rule", q.Rules)
	if q.MinPriority != nil {
		sel.add("a.priority <= ?", int(*q.MinPriority))
	}
	for _, t := range q.Tags {
		sel.add("instr(a.tags, ?) > 0", tagSep+t+tagSep)
	}
	eq("a.user_name", q.User)
	eq("a.namespace", q.Namespace)
	eq("a.verb", q.Verb)
	eq("a.resource", q.Resource)
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	in("a.status", statuses)
	// Every word is matched with LIKE. The trigram index, which has no
	// positions, narrows the alerts to those with every trigram of the
	// words of three characters or more; it is read once, here, and used
	// only if it narrows them to maxIndexMatches or fewer, since it yields
	// all of them before the newest can be picked: for words in many
	// alerts, scanning newest first stops sooner.
	if terms := trigrams(q.Words()); len(terms) > 0 && s.maxIndexMatches >= 0 {
		terms, err := s.pickTrigrams(ctx, terms)
		if err != nil {
			return nil, err
		}
		seqs, ok, err := s.matches(ctx, strings.Join(terms, " AND "))
		if err != nil {
			return nil, err
		}
		if ok {
			sel.add("a.seq IN (SELECT value FROM json_each(?))", seqs)
		}
	}
	for _, w := range q.Words() {
		sel.add(`a.message LIKE ? ESCAPE '\'`, store.LikePattern(w))
	}
	return sel, nil
}

// Query implements store.Store. The page is picked by seq, time and ID
// alone, and only its alerts are then read whole.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	after, err := q.After()
	if err != nil {
		return store.Page{}, err
	}
	sel, err := s.filter(ctx, &q)
	if err != nil {
		return store.Page{}, fmt.Errorf("query alerts: %w", err)
	}
	dir, cmp := " DESC", "<"
	if q.Oldest {
		dir, cmp = "", ">"
	}
	if after != nil {
		if sel.time != "a.time" { // lets the index of the join seek
			sel.add(sel.time+" "+cmp+"= ?", after.Time)
		}
		sel.add("(a.time, a.id) "+cmp+" (?, ?)", after.Time, after.ID)
	}
	limit := q.PageLimit()
	query := "SELECT " + recordColumns + " FROM alerts WHERE seq IN (SELECT a.seq" + sel.sql() +
		" ORDER BY " + sel.time + dir + ", a.id" + dir + " LIMIT " + strconv.Itoa(limit+1) + ")" +
		" ORDER BY time" + dir + ", id" + dir
	rows, err := s.db.QueryContext(ctx, query, sel.args...)
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
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("query alerts: %w", err)
	}
	return p, nil
}

// trigrams returns the FTS5 terms (quoted) of the distinct trigrams of the
// words, in order. The tokenizer folds case; so does LIKE, for ASCII.
func trigrams(words []string) []string {
	var terms []string
	for _, w := range words {
		r := []rune(w)
		for i := 0; i+3 <= len(r); i++ {
			t := `"` + strings.ReplaceAll(string(r[i:i+3]), `"`, `""`) + `"`
			if !slices.Contains(terms, t) {
				terms = append(terms, t)
			}
		}
	}
	return terms
}

// maxTrigrams is the most trigrams a text search reads from the index:
// AND-ing the long lists of common trigrams costs more than it narrows
// (21 trigrams in all of 1M alerts: 100 ms).
const maxTrigrams = 6

// pickTrigrams returns at most maxTrigrams of terms: those in fewest
// alerts if some are in at most maxIndexMatches (counting up to that
// limit is cheap, and their AND has no more), otherwise some spread over
// the words. Which terms narrow the alerts best only changes how fast.
func (s *Store) pickTrigrams(ctx context.Context, terms []string) ([]string, error) {
	if len(terms) <= maxTrigrams {
		return terms, nil
	}
	type rare struct {
		term string
		n    int64
	}
	var rares []rare
	for _, t := range spread(terms, 3*maxTrigrams) {
		var n int64
		if err := s.probe.QueryRowContext(ctx, t, s.maxIndexMatches+1).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return []string{t}, nil // nothing matches
		}
		if n <= s.maxIndexMatches {
			if rares = append(rares, rare{t, n}); len(rares) == maxTrigrams/2 {
				break // enough to narrow to a few alerts; probes cost too
			}
		}
	}
	if len(rares) == 0 {
		return spread(terms, maxTrigrams), nil
	}
	slices.SortStableFunc(rares, func(a, b rare) int { return cmp.Compare(a.n, b.n) })
	picked := make([]string, 0, maxTrigrams)
	for _, r := range rares[:min(len(rares), maxTrigrams)] {
		picked = append(picked, r.term)
	}
	return picked, nil
}

// spread returns k of terms, evenly spaced from the first to the last, or
// terms if it has no more than k.
func spread(terms []string, k int) []string {
	if len(terms) <= k {
		return terms
	}
	out := make([]string, k)
	for i := range k {
		out[i] = terms[i*(len(terms)-1)/(k-1)]
	}
	return out
}

// maxIndexMatches is the default Store.maxIndexMatches.
const maxIndexMatches = 5000

// matches returns the seqs of the alerts that match the FTS query m, as a
// JSON array, if there are at most s.maxIndexMatches of them.
func (s *Store) matches(ctx context.Context, m string) (string, bool, error) {
	if s.maxIndexMatches < 0 {
		return "", false, nil
	}
	rows, err := s.count.QueryContext(ctx, m, s.maxIndexMatches+1)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	b := []byte{'['}
	var n int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return "", false, err
		}
		if n++; n > s.maxIndexMatches {
			return "", false, nil
		}
		if n > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, seq, 10)
	}
	return string(append(b, ']')), true, rows.Err()
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
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET status = ?, assignee = ?, note = ?, triage_updated = ? WHERE id = ?`,
			string(t.Status), t.Assignee, t.Note, updated, id)
		if err != nil {
			return fmt.Errorf("set status of %q: %w", id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("set status of %q: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// Comment implements store.Store.
func (s *Store) Comment(ctx context.Context, id string, c store.Comment) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO comments (alert, author, text, time) SELECT seq, ?, ?, ? FROM alerts WHERE id = ?`,
			c.Author, c.Text, store.UnixNano(c.Time), id)
		if err != nil {
			return fmt.Errorf("comment on %q: %w", id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("comment on %q: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// Comments implements store.Store.
func (s *Store) Comments(ctx context.Context, id string) ([]store.Comment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.author, c.text, c.time FROM alerts a JOIN comments c ON c.alert = a.seq
		WHERE a.id = ? ORDER BY c.time, c.seq`, id)
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

// Summarize implements store.Store: one scan of the matching alerts into a
// temporary result that five GROUP BYs then count.
func (s *Store) Summarize(ctx context.Context, q store.Query, o store.SummaryOptions) (store.Summary, error) {
	bucket, top, err := o.Check()
	if err != nil {
		return store.Summary{}, err
	}
	sel, err := s.filter(ctx, &q)
	if err != nil {
		return store.Summary{}, fmt.Errorf("summarize: %w", err)
	}
	b := strconv.FormatInt(bucket, 10)
	topN := strconv.Itoa(top)
	var sb strings.Builder
	// Floor division, so that buckets before the epoch start at multiples too.
	sb.WriteString(`WITH m AS MATERIALIZED (SELECT a.time / ` + b + ` - (a.time % ` + b + ` < 0) AS k, a.priority, a.rule, a.user_name, a.namespace, a.cluster` + sel.sql() + `)
		SELECT '', k, priority, count(*) FROM m GROUP BY k, priority`)
	for _, d := range [...]struct{ name, col string }{{"rule", "rule"}, {"user", "user_name"}, {"namespace", "namespace"}, {"cluster", "cluster"}} {
		sb.WriteString(` UNION ALL SELECT * FROM (SELECT '` + d.name + `', ` + d.col + `, 0, count(*) AS n FROM m WHERE ` + d.col + ` != '' GROUP BY ` + d.col + ` ORDER BY n DESC, ` + d.col + ` LIMIT ` + topN + `)`)
	}
	rows, err := s.db.QueryContext(ctx, sb.String(), sel.args...)
	if err != nil {
		return store.Summary{}, fmt.Errorf("summarize: %w", err)
	}
	defer rows.Close()
	type bucketCount struct {
		k    int64
		prio int
		n    int64
	}
	var buckets []bucketCount
	sum := store.NewSummaryBuilder(bucket)
	for rows.Next() {
		var (
			dim  string
			val  any
			prio int
			n    int64
		)
		if err := rows.Scan(&dim, &val, &prio, &n); err != nil {
			return store.Summary{}, fmt.Errorf("summarize: %w", err)
		}
		if dim == "" {
			k, ok := val.(int64)
			if !ok {
				return store.Summary{}, fmt.Errorf("summarize: bucket %v is not an integer", val)
			}
			buckets = append(buckets, bucketCount{k, prio, n})
			continue
		}
		v, _ := val.(string)
		sum.AddTop(dim, v, n)
	}
	if err := rows.Err(); err != nil {
		return store.Summary{}, fmt.Errorf("summarize: %w", err)
	}
	slices.SortFunc(buckets, func(a, b bucketCount) int { return cmp.Or(cmp.Compare(a.k, b.k), cmp.Compare(a.prio, b.prio)) })
	for _, bc := range buckets {
		sum.AddBucket(bc.k, bc.prio, bc.n)
	}
	return sum.Summary(), nil
}

// Stats implements store.Store.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var (
		st     store.Stats
		oldest sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT count, bytes, (SELECT min(time) FROM alerts) FROM totals`).Scan(&st.Count, &st.Bytes, &oldest)
	if err != nil {
		return store.Stats{}, fmt.Errorf("stats: %w", err)
	}
	if oldest.Valid {
		st.Oldest = time.Unix(0, oldest.Int64)
	}
	return st, nil
}

// Retain implements store.Store.
func (s *Store) Retain(ctx context.Context, r store.Retention) (int, error) {
	return store.RetainBatches(ctx, r, "alerts",
		func(cutoff int64) (int, error) {
			return s.deleteOldest(ctx, func(tx *sql.Tx) ([]int64, int64, error) {
				return oldest(ctx, tx, `SELECT seq, size FROM alerts WHERE time < ? ORDER BY time, id LIMIT ?`, cutoff, -1)
			})
		},
		func() (int, error) {
			return s.deleteOldest(ctx, func(tx *sql.Tx) ([]int64, int64, error) {
				var bytes int64
				if err := tx.QueryRowContext(ctx, `SELECT bytes FROM totals`).Scan(&bytes); err != nil {
					return nil, 0, err
				}
				if bytes <= r.MaxBytes {
					return nil, 0, nil
				}
				return oldest(ctx, tx, `SELECT seq, size FROM alerts ORDER BY time, id LIMIT ?`, nil, bytes-r.MaxBytes)
			})
		})
}

// oldest returns the seq of up to RetainBatch oldest alerts that query
// selects (with cutoff as its first argument unless nil), stopping once
// their sizes add up to excess, unless excess is negative, and the sum of
// their sizes.
func oldest(ctx context.Context, tx *sql.Tx, query string, cutoff any, excess int64) ([]int64, int64, error) {
	args := []any{store.RetainBatch}
	if cutoff != nil {
		args = []any{cutoff, store.RetainBatch}
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var (
		seqs  []int64
		total int64
	)
	for excess != 0 && rows.Next() {
		var seq, size int64
		if err := rows.Scan(&seq, &size); err != nil {
			return nil, 0, err
		}
		seqs = append(seqs, seq)
		total += size
		if excess > 0 {
			excess = max(excess-size, 0)
		}
	}
	return seqs, total, rows.Err()
}

// deleteOldest deletes, in one transaction, the alerts pick selects.
func (s *Store) deleteOldest(ctx context.Context, pick func(*sql.Tx) ([]int64, int64, error)) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		seqs, bytes, err := pick(tx)
		if err != nil || len(seqs) == 0 {
			return err
		}
		var b strings.Builder
		args := make([]any, len(seqs))
		for i, seq := range seqs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
			args[i] = seq
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE seq IN (`+b.String()+`)`, args...); err != nil {
			return err
		}
		n = len(seqs)
		return addTotals(ctx, tx, -int64(n), -bytes)
	})
	return n, err
}
