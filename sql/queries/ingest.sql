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
-- A label batch: the rows as sent (labels_stage), each resolved to the stored prediction(s) it labels
-- (label_targets), and the rows that labelled one (labels_matched). See engine/ingest/label_writes.py.
CREATE TEMPORARY TABLE IF NOT EXISTS labels_stage (
    row_index     integer NOT NULL,
    prediction_id text NOT NULL,
    label_class   text,
    label_value   double precision,
    label_time    timestamptz NOT NULL,
    time_hint     timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS label_targets (
    row_index     integer NOT NULL,
    prediction_id text NOT NULL,
    time          timestamptz NOT NULL,
    label_class   text,
    label_value   double precision,
    label_time    timestamptz NOT NULL,
    known         boolean NOT NULL  -- found in prediction_times: the prediction is stored
) ON COMMIT DELETE ROWS;
CREATE INDEX IF NOT EXISTS label_targets_time ON label_targets (time);
CREATE TEMPORARY TABLE IF NOT EXISTS labels_matched (row_index integer NOT NULL) ON COMMIT DELETE ROWS;

-- name: resolve_label_targets
-- The time of each labelled prediction: from prediction_times by id (an index probe per chunk of that
-- table, never the compressed predictions), restricted to the client's `time` when it sent one. A `time`
-- not found there (a prediction older than the label horizon) is taken as sent; an id without one is not
-- resolved and is reported as unknown.
INSERT INTO label_targets (row_index, prediction_id, time, label_class, label_value, label_time, known)
SELECT s.row_index, s.prediction_id, coalesce(t.time, s.time_hint), s.label_class, s.label_value, s.label_time,
       t.time IS NOT NULL
FROM labels_stage s
LEFT JOIN LATERAL (
    SELECT pt.time FROM prediction_times pt
    WHERE pt.model_id = $1 AND pt.prediction_id = s.prediction_id
      AND (s.time_hint IS NULL OR pt.time = s.time_hint)
) t ON true
WHERE t.time IS NOT NULL OR s.time_hint IS NOT NULL;

-- name: label_target_times
SELECT DISTINCT time FROM label_targets ORDER BY time;

-- name: prediction_chunks
-- The chunks of predictions overlapping [$1, $2], and whether any of each is compressed (never on the
-- Apache edition).
SELECT range_start, range_end, is_compressed
FROM timescaledb_information.chunks
WHERE hypertable_schema = current_schema() AND hypertable_name = 'predictions'
  AND range_end > $1 AND range_start <= $2;

-- name: apply_labels
-- The targets with $2 <= time <= $3 (one group of engine/ingest/bounds.py). Run with plan_cache_mode =
-- force_custom_plan, so that the bounds are constants to the planner at every execution: it excludes the
-- other chunks, and in a compressed chunk TimescaleDB decompresses only the batches that overlap them. A
-- generic plan (bounds as parameters) would decompress every compressed row of the model, and one cached
-- while a chunk was wholly compressed misses the rows a later statement decompressed.
WITH upd AS (
    UPDATE predictions p
    SET label_class = t.label_class, label_value = t.label_value, label_time = t.label_time
    FROM label_targets t
    WHERE p.model_id = $1 AND p.time >= $2 AND p.time <= $3
      AND t.time >= $2 AND t.time <= $3
      AND p.prediction_id = t.prediction_id AND p.time = t.time
    RETURNING t.row_index
)
INSERT INTO labels_matched SELECT row_index FROM upd;

-- name: select_labels_matched
SELECT DISTINCT row_index FROM labels_matched;

-- name: defer_labels
-- The targets known to be stored (found in prediction_times) inside the compressed groups [$2[i], $3[i]]
-- become pending labels (migration 0014), applied by the refresher: acknowledged now without decompressing
-- anything. Two rows of the batch naming the same prediction (one with `time`, one without): the later
-- row wins, as two UPDATEs in row order would. They leave label_targets: what remains is applied now.
WITH deferred AS (
    DELETE FROM label_targets t
    USING unnest($2::timestamptz[], $3::timestamptz[]) AS g(lo, hi)
    WHERE t.known AND t.time >= g.lo AND t.time <= g.hi
    RETURNING t.*
), matched AS (
    INSERT INTO labels_matched SELECT row_index FROM deferred
)
INSERT INTO pending_labels AS pl (model_id, prediction_id, time, label_class, label_value, label_time)
SELECT DISTINCT ON (prediction_id, time) $1, prediction_id, time, label_class, label_value, label_time
FROM deferred
ORDER BY prediction_id, time, row_index DESC
ON CONFLICT (model_id, prediction_id, time) DO UPDATE
SET label_class = EXCLUDED.label_class, label_value = EXCLUDED.label_value, label_time = EXCLUDED.label_time,
    received_at = now();

-- name: has_pending_labels
SELECT EXISTS (SELECT 1 FROM pending_labels WHERE model_id = $1);

-- name: drop_superseded_pending
-- A label applied now supersedes one still pending for the same prediction (its chunk was compressed when
-- that one arrived): the older must not be applied over it later.
DELETE FROM pending_labels pl USING label_targets t
WHERE pl.model_id = $1 AND pl.prediction_id = t.prediction_id AND pl.time = t.time;

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
