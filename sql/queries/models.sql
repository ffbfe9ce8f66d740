-- name: insert_model
INSERT INTO models (name, task, class_labels, threshold, dimensions, description)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: insert_feature
INSERT INTO model_features (model_id, name, kind, position, min_value, max_value, categories, nullable, ordinal)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: select_model_by_name
SELECT id, name, task, class_labels, threshold, dimensions, description, created_at
FROM models WHERE name = $1;

-- name: select_models
SELECT id, name, task, class_labels, threshold, dimensions, description, created_at
FROM models ORDER BY name;

-- name: select_features
SELECT model_id, name, kind, position, min_value, max_value, categories, nullable
FROM model_features WHERE model_id = ANY($1::int[]) ORDER BY model_id, ordinal;

-- name: insert_version
INSERT INTO model_versions (model_id, version, stage, description, promoted_at)
VALUES ($1, $2, $3, $4, CASE WHEN $3 = 'production' THEN now() END)
RETURNING id, model_id, version, stage, description, created_at, promoted_at, archived_at;

-- name: select_versions
SELECT id, model_id, version, stage, description, created_at, promoted_at, archived_at
FROM model_versions WHERE model_id = $1 ORDER BY created_at, id;

-- name: select_version
SELECT id, model_id, version, stage, description, created_at, promoted_at, archived_at
FROM model_versions WHERE model_id = $1 AND version = $2;

-- name: select_version_for_update
SELECT id, model_id, version, stage, description, created_at, promoted_at, archived_at
FROM model_versions WHERE model_id = $1 AND version = $2 FOR UPDATE;

-- name: select_production_version
SELECT id, model_id, version, stage, description, created_at, promoted_at, archived_at
FROM model_versions WHERE model_id = $1 AND stage = 'production';

-- name: demote_production
-- The version that loses production goes back to staging (it stays usable for A/B comparisons).
UPDATE model_versions SET stage = 'staging' WHERE model_id = $1 AND stage = 'production' AND id <> $2;

-- name: set_stage
UPDATE model_versions
SET stage = $2,
    promoted_at = CASE WHEN $2 IN ('staging', 'production') THEN now() ELSE promoted_at END,
    archived_at = CASE WHEN $2 = 'archived' THEN now() ELSE NULL END
WHERE id = $1
RETURNING id, model_id, version, stage, description, created_at, promoted_at, archived_at;

-- name: lock_model
-- Serialises production changes per model; NO KEY UPDATE does not block inserts of new versions.
SELECT 1 FROM models WHERE id = $1 FOR NO KEY UPDATE;

-- name: lock_model_dimensions
-- Serialises dimension changes per model (two declarations at once must not both pass the limit check).
SELECT id, dimensions FROM models WHERE name = $1 FOR NO KEY UPDATE;

-- name: append_dimension
UPDATE models SET dimensions = array_append(dimensions, $2::text) WHERE id = $1;

-- name: raw_prediction_range
-- The retained raw rows of a model, to the minute: [first minute, last minute + 1 minute).
SELECT time_bucket('1 minute', min(time)) AS lo, time_bucket('1 minute', max(time)) + interval '1 minute' AS hi
FROM predictions WHERE model_id = $1;

-- name: invalidate_predictions
-- Marks a model's prediction windows over [$2, $3) stale, as late writes do: reads answer the range from raw
-- rows until the refresher has recomputed it (with the model's current dimensions).
INSERT INTO window_invalidations (kind, model_id, lo, hi, force) VALUES ('predictions', $1, $2, $3, true);
