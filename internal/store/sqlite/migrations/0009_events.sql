-- Raw audit events (store.keep_events). seq is the rowid: the order events
-- were stored in, which breaks ties of time, and what event_ips refer to.
CREATE TABLE events (
	seq        INTEGER PRIMARY KEY,
	time       INTEGER NOT NULL, -- stageTimestamp, Unix ns
	cluster    TEXT    NOT NULL,
	capture    TEXT    NOT NULL,
	audit_id   TEXT    NOT NULL,
	stage      TEXT    NOT NULL,
	user_name  TEXT    NOT NULL,
	verb       TEXT    NOT NULL,
	namespace  TEXT    NOT NULL,
	resource   TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	code       INTEGER NOT NULL,
	source_ips TEXT,             -- JSON array; NULL if none
	size       INTEGER NOT NULL, -- length(raw)
	raw        BLOB    NOT NULL  -- the redacted event, verbatim
);
-- AddEvents is idempotent by this key.
CREATE UNIQUE INDEX events_key ON events (cluster, audit_id, stage);
-- Newest first, by time then seq (the rowid ends every index).
CREATE INDEX events_time ON events (time);
CREATE INDEX events_user ON events (user_name, time);
CREATE INDEX events_namespace ON events (namespace, time);
CREATE INDEX events_cluster ON events (cluster, time);

-- One row per source IP for the SourceIP filter, in time order; the
-- trigger deletes them with their event.
CREATE TABLE event_ips (
	ip   TEXT    NOT NULL,
	time INTEGER NOT NULL, -- the event's time
	seq  INTEGER NOT NULL, -- the event's seq
	PRIMARY KEY (ip, time, seq)
) WITHOUT ROWID;
CREATE TRIGGER event_ips_delete AFTER DELETE ON events WHEN old.source_ips IS NOT NULL BEGIN
	DELETE FROM event_ips WHERE ip IN (SELECT value FROM json_each(old.source_ips)) AND time = old.time AND seq = old.seq;
END;

-- Running totals, so that EventStats and RetainEvents need no scan.
CREATE TABLE event_totals (
	one   INTEGER PRIMARY KEY CHECK (one = 1),
	count INTEGER NOT NULL,
	bytes INTEGER NOT NULL
);
INSERT INTO event_totals VALUES (1, 0, 0);
