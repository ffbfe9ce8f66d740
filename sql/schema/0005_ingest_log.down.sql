DROP INDEX IF EXISTS ingest_batches_received_at;
DROP INDEX IF EXISTS rejected_rows_received_at;
ALTER TABLE rejected_rows DROP COLUMN IF EXISTS errors;
