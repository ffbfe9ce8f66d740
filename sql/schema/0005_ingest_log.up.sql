-- 0005_ingest_log: one rejected_rows entry per refused row, and the indexes the ingest-log retention deletes
-- by. Hand-written; the same on both editions.

-- Every error of a refused row, in one entry ([{field, reason}, ...], capped by the engine); `field` and
-- `reason` keep the first one for readers of the old shape.
ALTER TABLE rejected_rows ADD COLUMN errors jsonb;
-- Retention of rejected_rows and ingest_batches deletes by age (the worker, DRIFTLINE_INGEST_LOG_RETENTION).
CREATE INDEX rejected_rows_received_at ON rejected_rows (received_at);
CREATE INDEX ingest_batches_received_at ON ingest_batches (received_at);
