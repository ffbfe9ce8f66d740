-- Analysis results (migration 0006): replaced as a whole per (model, version, segment, analysis, run key, window).

-- name: delete_run
DELETE FROM analysis_results
WHERE model_id = $1 AND analysis = $2 AND run_key = $3 AND version_id = $4 AND segment = $5::jsonb
  AND window_start = $6 AND window_end = $7;

-- name: insert_result
INSERT INTO analysis_results (window_start, window_end, model_id, version_id, segment, analysis, run_key, subject,
                              statistic, value, threshold, bound, status, n, baseline_id, details)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb);

-- name: read_results
SELECT window_start, window_end, analysis, run_key, subject, statistic, value, threshold, bound, status, n,
       details::text AS details, computed_at
FROM analysis_results
WHERE model_id = $1 AND ($2::text IS NULL OR analysis = $2) AND window_end > $3 AND window_start < $4
ORDER BY window_start, analysis, subject, statistic
LIMIT $5;

-- name: sample_numeric
SELECT num_features[$5] AS x
FROM predictions
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
ORDER BY hashtext(prediction_id), prediction_id
LIMIT $6;

-- name: sample_categorical
SELECT cat_features[$5] AS x
FROM predictions
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
ORDER BY hashtext(prediction_id), prediction_id
LIMIT $6;
