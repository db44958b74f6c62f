-- Add indexes the messages of each batch in one statement: the trigger
-- made FTS5 flush a segment for each alert.
DROP TRIGGER alerts_fts_insert;
DROP TABLE alerts_fts;
CREATE VIRTUAL TABLE alerts_fts USING fts5 (message, content = 'alerts', content_rowid = 'seq', tokenize = 'trigram', detail = 'none', columnsize = 0);
INSERT INTO alerts_fts (alerts_fts) VALUES ('rebuild');
