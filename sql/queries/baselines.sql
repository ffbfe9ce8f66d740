-- Baselines: named references per model (migration 0006) and their per-feature bins.

-- name: insert_baseline
INSERT INTO baselines (model_id, version_id, name, source, range_start, range_end, n_rows, n_bins, chunking, content)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
RETURNING id;

-- name: insert_feature_bins
INSERT INTO feature_baselines (model_id, feature, kind, edges, categories, lower, upper, reference_counts, active,
                               baseline_set, reference_sums, reference_missing, reference_out_of_range,
                               reference_min, reference_max, reference_sumsq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11, $12, $13, $14, $15);

-- name: list_baselines
SELECT b.id, b.name, b.source, b.range_start, b.range_end, b.n_rows, b.n_bins, b.chunking, b.active,
       b.created_at, b.activated_at, v.version
FROM baselines b LEFT JOIN model_versions v ON v.id = b.version_id
WHERE b.model_id = $1
ORDER BY b.created_at, b.id;

-- name: get_baseline
SELECT b.id, b.name, b.source, b.range_start, b.range_end, b.n_rows, b.n_bins, b.chunking, b.active,
       b.created_at, b.activated_at, v.version, b.content::text AS content
FROM baselines b LEFT JOIN model_versions v ON v.id = b.version_id
WHERE b.model_id = $1 AND b.name = $2;

-- name: get_baseline_without_chunks
-- The content without its per-chunk counts (most of its size), for analyses that do not calibrate.
SELECT b.id, b.name, b.source, b.range_start, b.range_end, b.n_rows, b.n_bins, b.chunking, b.active,
       b.created_at, b.activated_at, v.version, (b.content - 'chunks')::text AS content
FROM baselines b LEFT JOIN model_versions v ON v.id = b.version_id
WHERE b.model_id = $1 AND b.name = $2;

-- name: active_baseline_name
SELECT name FROM baselines WHERE model_id = $1 AND active;

-- name: baseline_feature_bins
SELECT b.id, b.feature, b.kind, f.position, b.edges, b.categories, b.lower, b.upper, b.reference_counts,
       b.baseline_set, b.reference_sums, b.reference_missing, b.reference_out_of_range, b.reference_min,
       b.reference_max, b.reference_sumsq
FROM feature_baselines b
JOIN model_features f ON f.model_id = b.model_id AND f.name = b.feature
WHERE b.baseline_set = $1
ORDER BY b.feature;

-- name: deactivate_baselines
UPDATE baselines SET active = false WHERE model_id = $1 AND active;

-- name: deactivate_feature_bins
UPDATE feature_baselines SET active = false WHERE model_id = $1 AND active;

-- name: activate_baseline
UPDATE baselines SET active = true, activated_at = now() WHERE id = $1;

-- name: activate_feature_bins
UPDATE feature_baselines SET active = true WHERE baseline_set = $1;

-- name: delete_baseline
DELETE FROM baselines WHERE id = $1;

-- name: reference_rows
SELECT time, num_features, cat_features, predicted_class, predicted_value, score, probabilities,
       label_class, label_value
FROM predictions_labelled  -- with labels not applied yet (migration 0014)
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
ORDER BY time, prediction_id
LIMIT $5;
