-- Alerts, their filter columns and their triage state. IDs sort bytewise
-- (COLLATE "C"), as cursors compare them.
CREATE TABLE alerts (
	id             text COLLATE "C" PRIMARY KEY,
	time           bigint   NOT NULL, -- event time, Unix ns
	priority       smallint NOT NULL,
	rule           text     NOT NULL,
	cluster        text     NOT NULL,
	tags           text[]   NOT NULL,
	message        text     NOT NULL,
	user_name      text     NOT NULL,
	namespace      text     NOT NULL,
	verb           text     NOT NULL,
	resource       text     NOT NULL,
	status         text     NOT NULL DEFAULT 'open',
	assignee       text     NOT NULL DEFAULT '',
	note           text     NOT NULL DEFAULT '',
	triage_updated bigint   NOT NULL DEFAULT 0, -- Unix ns; 0 if never
	size           bigint   NOT NULL,
	data           bytea    NOT NULL, -- the journal.Alert without its event, JSON
	event          bytea              -- the redacted event, verbatim
);
CREATE INDEX alerts_time ON alerts (time, id);
CREATE INDEX alerts_cluster ON alerts (cluster, time);
CREATE INDEX alerts_rule ON alerts (rule, time);
CREATE INDEX alerts_user ON alerts (user_name, time);
CREATE INDEX alerts_namespace ON alerts (namespace, time);
CREATE INDEX alerts_tags ON alerts USING gin (tags);

-- Running totals, so that Stats and Retain need no scan.
CREATE TABLE totals (
	one   integer PRIMARY KEY CHECK (one = 1),
	count bigint  NOT NULL,
	bytes bigint  NOT NULL
);
INSERT INTO totals VALUES (1, 0, 0);
