-- Reads that support the window service (the window reads themselves are composed by
-- engine/windows/reader.py from the relations and source views in sql/schema/0002_windows*.sql).

-- name: select_model
SELECT id, name, task, class_labels, threshold, dimensions FROM models WHERE name = $1;

-- name: select_versions
SELECT id, version FROM model_versions WHERE model_id = $1;

-- name: select_active_baselines
SELECT b.id, b.feature, b.kind, b.edges, b.categories, b.lower, b.upper, b.reference_counts
FROM feature_baselines b WHERE b.model_id = $1 AND b.active ORDER BY b.feature;

-- name: select_watermarks
SELECT kind, model_key, materialized_through, refreshed_at FROM window_watermarks
WHERE model_key = $1 ORDER BY kind;

-- name: count_pending
SELECT kind, count(*) AS records, min(lo) AS oldest, max(hi) AS newest
FROM window_invalidations WHERE model_id IS NOT DISTINCT FROM $1 GROUP BY kind ORDER BY kind;
