-- Alerts, their filter columns and their triage state. seq is the rowid:
-- the FTS index refers to it.
CREATE TABLE alerts (
	seq            INTEGER PRIMARY KEY,
	id             TEXT    NOT NULL UNIQUE,
	time           INTEGER NOT NULL, -- event time, Unix ns
	priority       INTEGER NOT NULL,
	rule           TEXT    NOT NULL,
	cluster        TEXT    NOT NULL,
	tags           TEXT    NOT NULL, -- each tag followed by char(31), after a leading char(31)
	message        TEXT    NOT NULL,
	user_name      TEXT    NOT NULL,
	namespace      TEXT    NOT NULL,
	verb           TEXT    NOT NULL,
	resource       TEXT    NOT NULL,
	status         TEXT    NOT NULL DEFAULT 'open',
	assignee       TEXT    NOT NULL DEFAULT '',
	note           TEXT    NOT NULL DEFAULT '',
	triage_updated INTEGER NOT NULL DEFAULT 0, -- Unix ns; 0 if never
	size           INTEGER NOT NULL,
	data           BLOB    NOT NULL, -- the journal.Alert without its event, JSON
	event          BLOB              -- the redacted event, verbatim
);
CREATE INDEX alerts_time ON alerts (time, id);
CREATE INDEX alerts_cluster ON alerts (cluster, time);
CREATE INDEX alerts_rule ON alerts (rule, time);
CREATE INDEX alerts_user ON alerts (user_name, time);
CREATE INDEX alerts_namespace ON alerts (namespace, time);

-- Substring search over messages: the trigram tokenizer matches any
-- substring of three characters or more, ignoring case.
CREATE VIRTUAL TABLE alerts_fts USING fts5 (message, content = 'alerts', content_rowid = 'seq', tokenize = 'trigram');
CREATE TRIGGER alerts_fts_insert AFTER INSERT ON alerts BEGIN
	INSERT INTO alerts_fts (rowid, message) VALUES (new.seq, new.message);
END;
CREATE TRIGGER alerts_fts_delete AFTER DELETE ON alerts BEGIN
	INSERT INTO alerts_fts (alerts_fts, rowid, message) VALUES ('delete', old.seq, old.message);
END;

-- Running totals, so that Stats and Retain need no scan.
CREATE TABLE totals (
	one   INTEGER PRIMARY KEY CHECK (one = 1),
	count INTEGER NOT NULL,
	bytes INTEGER NOT NULL
);
INSERT INTO totals VALUES (1, 0, 0);
