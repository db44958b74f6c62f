-- The time index carries the columns the events page filters and the
-- overview counts by, so that paging past non-matching alerts and
-- Summarize read the index alone, not the 2 KB rows. Alerts arrive in time
-- order: the wider entries are appended, not scattered.
DROP INDEX alerts_time;
CREATE INDEX alerts_time ON alerts (time, id, priority, status, cluster, rule, user_name, namespace);
