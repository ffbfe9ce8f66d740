-- name: create_predictions_stage
CREATE TEMPORARY TABLE IF NOT EXISTS predictions_stage (LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;

-- name: insert_predictions_from_stage
-- Idempotent path: rows already stored under (model_id, prediction_id, time) are skipped.
WITH ins AS (
    -- Same order as the fast path (polars sorts bytewise = COLLATE "C"), so concurrent overlapping
    -- batches take row locks in one order and cannot deadlock.
    INSERT INTO predictions SELECT * FROM predictions_stage ORDER BY prediction_id COLLATE "C", time
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM ins;

-- name: create_labels_stage
CREATE TEMPORARY TABLE IF NOT EXISTS labels_stage (
    row_index     integer NOT NULL,
    prediction_id text NOT NULL,
    label_class   text,
    label_value   double precision,
    label_time    timestamptz NOT NULL,
    time_hint     timestamptz
) ON COMMIT DELETE ROWS;

-- name: apply_labels
-- One UPDATE … FROM join for the whole batch; the optional time hint lets chunk exclusion skip chunks.
WITH upd AS (
    UPDATE predictions p
    SET label_class = s.label_class, label_value = s.label_value, label_time = s.label_time
    FROM labels_stage s
    WHERE p.model_id = $1 AND p.prediction_id = s.prediction_id
      AND (s.time_hint IS NULL OR p.time = s.time_hint)
    RETURNING s.row_index
)
SELECT DISTINCT row_index FROM upd;

-- name: insert_batch_key
INSERT INTO ingest_batches (idempotency_key, kind, model_id, digest, result)
VALUES ($1, $2, $3, $4, '{}'::jsonb)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING idempotency_key;

-- name: select_batch_result
SELECT kind, model_id, digest, result FROM ingest_batches WHERE idempotency_key = $1;

-- name: update_batch_result
UPDATE ingest_batches SET result = $2::jsonb WHERE idempotency_key = $1;

-- name: insert_rejected
-- One entry per refused row: its first error in field/reason, all of them (capped) in errors.
INSERT INTO rejected_rows (kind, model_id, batch_key, row_index, field, reason, payload, errors)
SELECT $1, $2, $3, r.row_index, r.field, r.reason, r.payload::jsonb, r.errors::jsonb
FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::text[]) AS r(row_index, field, reason, payload, errors);

-- name: select_rejected
SELECT id, received_at, kind, model_id, batch_key, row_index, field, reason, payload,
       coalesce(errors, jsonb_build_array(jsonb_build_object('field', field, 'reason', reason))) AS errors
FROM rejected_rows
WHERE ($1::int IS NULL OR model_id = $1)
ORDER BY id DESC
LIMIT $2;

-- name: delete_old_rejected
DELETE FROM rejected_rows WHERE received_at < now() - $1::text::interval;

-- name: delete_old_batches
-- Idempotency keys older than the retention are forgotten: a batch re-sent after that is stored again.
DELETE FROM ingest_batches WHERE received_at < now() - $1::text::interval;
