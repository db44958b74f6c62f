-- Raw audit events (store.keep_events). seq is the order events were
-- stored in, which breaks ties of time.
CREATE TABLE events (
	seq        bigint   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time       bigint   NOT NULL, -- stageTimestamp, Unix ns
	cluster    text     COLLATE "C" NOT NULL,
	capture    text     NOT NULL,
	audit_id   text     COLLATE "C" NOT NULL,
	stage      text     COLLATE "C" NOT NULL,
	user_name  text     NOT NULL,
	verb       text     NOT NULL,
	namespace  text     NOT NULL,
	resource   text     NOT NULL,
	name       text     NOT NULL,
	code       integer  NOT NULL,
	source_ips text[]   NOT NULL,
	size       bigint   NOT NULL, -- length(raw)
	raw        bytea    NOT NULL  -- the redacted event, verbatim
);
-- AddEvents is idempotent by this key.
CREATE UNIQUE INDEX events_key ON events (cluster, audit_id, stage);
-- Newest first, by time then seq.
CREATE INDEX events_time ON events (time, seq);
CREATE INDEX events_user ON events (user_name, time, seq);
CREATE INDEX events_namespace ON events (namespace, time, seq);
CREATE INDEX events_cluster ON events (cluster, time, seq);
CREATE INDEX events_source_ips ON events USING gin (source_ips);

-- Running totals, so that EventStats and RetainEvents need no scan.
CREATE TABLE event_totals (
	one   integer PRIMARY KEY CHECK (one = 1),
	count bigint  NOT NULL,
	bytes bigint  NOT NULL
);
INSERT INTO event_totals VALUES (1, 0, 0);
