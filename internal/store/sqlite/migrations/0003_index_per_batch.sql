-- Add indexes the messages of each batch in one statement: the trigger
-- made FTS5 flush a segment for each alert.
DROP TRIGGER alerts_fts_insert;
-- No positions (detail=none): a third of the size. Text search matches the
-- trigrams of its words to narrow the alerts, then LIKE. No column sizes:
-- nothing ranks by them.
DROP TABLE alerts_fts;
CREATE VIRTUAL TABLE alerts_fts USING fts5 (message, content = 'alerts', content_rowid = 'seq', tokenize = 'trigram', detail = 'none', columnsize = 0);
INSERT INTO alerts_fts (alerts_fts) VALUES ('rebuild');
-- Segments merge only when 16 share a level (crisismerge), not 4 at a time
-- on every write: half the merging work for Add.
INSERT INTO alerts_fts (alerts_fts, rank) VALUES ('automerge', 0);
