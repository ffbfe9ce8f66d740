-- Raw feature samples for multivariate drift (migration 0011): a baseline's stored reference sample, and a
-- reproducible uniform sample of a window's rows.

-- name: baseline_rows
SELECT num_features, cat_features
FROM baseline_samples
WHERE baseline_id = $1
ORDER BY row_index;

-- name: has_sample
SELECT EXISTS (SELECT 1 FROM baseline_samples WHERE baseline_id = $1);

-- A window's rows (optionally one version, optionally a segment filter: jsonb containment), at most $7 of
-- them: the rows with the smallest md5 of (prediction id, time, seed) — a uniform sample that the same seed
-- reproduces — returned in (time, prediction id) order. $8 counts the rows that matched.
-- name: window_rows
WITH matched AS (
    SELECT time, prediction_id, num_features, cat_features
    FROM predictions
    WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
      AND ($5::jsonb IS NULL OR segments @> $5::jsonb)
), picked AS (
    SELECT * FROM matched
    -- epoch, not time::text: the text form follows the session's TimeZone, the sample must not
    ORDER BY md5(prediction_id || '|' || extract(epoch FROM time)::text || '|' || $6::text)
    LIMIT $7
)
SELECT time, prediction_id, num_features, cat_features, (SELECT count(*) FROM matched) AS n_matched
FROM picked
ORDER BY time, prediction_id;
