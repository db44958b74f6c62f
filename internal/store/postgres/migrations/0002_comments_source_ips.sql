-- Source IPs, for the SourceIP filter. Alerts stored before this
-- migration get theirs from their events.
ALTER TABLE alerts ADD COLUMN source_ips text[] NOT NULL DEFAULT '{}';
UPDATE alerts SET source_ips = ARRAY(SELECT jsonb_array_elements_text(convert_from(event, 'UTF8')::jsonb -> 'sourceIPs'))
	WHERE event IS NOT NULL AND jsonb_typeof(convert_from(event, 'UTF8')::jsonb -> 'sourceIPs') = 'array';
CREATE INDEX alerts_source_ips ON alerts USING gin (source_ips);

-- Comments on alerts, deleted with their alert.
CREATE TABLE comments (
	seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	alert_id text COLLATE "C" NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	author   text   NOT NULL,
	text     text   NOT NULL,
	time     bigint NOT NULL -- Unix ns; 0 if unset
);
CREATE INDEX comments_alert ON comments (alert_id, time, seq);
