-- Source IPs: a JSON array in alerts (NULL if none), and one row per IP in
-- alert_ips for the SourceIP filter, which the trigger deletes with the alert.
ALTER TABLE alerts ADD COLUMN source_ips TEXT;
CREATE TABLE alert_ips (
	ip   TEXT    NOT NULL,
	time INTEGER NOT NULL, -- the alert's event time
	seq  INTEGER NOT NULL, -- the alert's seq
	PRIMARY KEY (ip, time, seq)
) WITHOUT ROWID;
CREATE TRIGGER alert_ips_delete AFTER DELETE ON alerts WHEN old.source_ips IS NOT NULL BEGIN
	DELETE FROM alert_ips WHERE ip IN (SELECT value FROM json_each(old.source_ips)) AND time = old.time AND seq = old.seq;
END;
-- Alerts stored before this migration get theirs from their events.
UPDATE alerts SET source_ips = (
		SELECT json_group_array(value) FROM json_each(CAST(event AS TEXT), '$.sourceIPs') WHERE type = 'text')
	WHERE event IS NOT NULL AND json_valid(CAST(event AS TEXT))
		AND json_type(CAST(event AS TEXT), '$.sourceIPs') = 'array';
UPDATE alerts SET source_ips = NULL WHERE source_ips = '[]';
INSERT OR IGNORE INTO alert_ips (ip, time, seq)
	SELECT j.value, a.time, a.seq FROM alerts a, json_each(a.source_ips) j WHERE a.source_ips IS NOT NULL;

-- Comments on alerts, deleted with their alert.
CREATE TABLE comments (
	seq    INTEGER PRIMARY KEY,
	alert  INTEGER NOT NULL, -- the alert's seq
	author TEXT    NOT NULL,
	text   TEXT    NOT NULL,
	time   INTEGER NOT NULL  -- Unix ns
);
CREATE INDEX comments_alert ON comments (alert, time);
CREATE TRIGGER comments_delete AFTER DELETE ON alerts BEGIN
	DELETE FROM comments WHERE alert = old.seq;
END;
