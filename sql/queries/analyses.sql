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
  AND ($7::jsonb IS NULL OR segments @> $7::jsonb)
ORDER BY hashtext(prediction_id), prediction_id
LIMIT $6;

-- name: sample_categorical
SELECT cat_features[$5] AS x
FROM predictions
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
  AND ($7::jsonb IS NULL OR segments @> $7::jsonb)
ORDER BY hashtext(prediction_id), prediction_id
LIMIT $6;

-- Label-free estimation (CBPE): rows per cell, aggregated here so a window's estimate reads no row.
-- Reads of labels from raw rows go through predictions_labelled (migration 0014): labels into compressed
-- history that the refresher has not applied yet count too.
-- $5 score bins (the windows' 100), $6 segment filter (jsonb containment) or NULL.

-- name: score_cells
SELECT least(greatest(floor(score * $5::integer)::integer, 0), $5::integer - 1) AS bin, predicted_class, label_class,
       count(*)::bigint AS n
FROM predictions_labelled
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
  AND ($6::jsonb IS NULL OR segments @> $6::jsonb) AND score IS NOT NULL AND predicted_class IS NOT NULL
GROUP BY 1, 2, 3;

-- name: probability_cells
SELECT p.predicted_class, u.j::integer AS j, least(greatest(floor(u.x * $5::integer)::integer, 0), $5::integer - 1) AS bin,
       count(*)::bigint AS n
FROM predictions p CROSS JOIN LATERAL unnest(p.probabilities) WITH ORDINALITY AS u(x, j)
WHERE p.model_id = $1 AND p.time >= $2 AND p.time < $3 AND ($4::integer IS NULL OR p.version_id = $4)
  AND ($6::jsonb IS NULL OR p.segments @> $6::jsonb) AND p.predicted_class IS NOT NULL
  AND cardinality(p.probabilities) = $7 AND u.x IS NOT NULL
GROUP BY 1, 2, 3;

-- name: class_cells
SELECT predicted_class, label_class, count(*)::bigint AS n
FROM predictions_labelled
WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::integer IS NULL OR version_id = $4)
  AND ($6::jsonb IS NULL OR segments @> $6::jsonb) AND predicted_class IS NOT NULL
  AND cardinality(probabilities) = $7 AND $5::integer > 0
GROUP BY 1, 2;

-- A tracked batch's rows, by prediction id within the batch's time range.
-- name: batch_rows
SELECT time, predicted_class, predicted_value, score, probabilities, label_class, label_value
FROM predictions_labelled
WHERE model_id = $1 AND prediction_id = ANY($2::text[]) AND time >= $3 AND time < $4
  AND ($5::integer IS NULL OR version_id = $5);

-- Comparison of two versions / segment values (services/analyses/compare.py), what the prediction windows cannot
-- give, in one grouped scan of the window's rows: per group, the squared errors e² = (prediction − label)² of the
-- labelled regression rows — count, Σe² and their sample variance (var_samp: the stable single-pass update,
-- which (Σe⁴ − n·mean²)/(n − 1) is not) — for the MSE / RMSE Welch test (the windows keep Σe², not Σe⁴), and the
-- latency's count, mean and sample variance (the windows keep its sum and a log histogram, no second moment).
-- $4 NULL groups by version id, else by the value of that segment key; $5 the two group keys (version ids as
-- text, or segment values).
-- name: comparison_moments
SELECT g.grp, count(g.e2)::bigint AS n, sum(g.e2) AS e2_sum, var_samp(g.e2) AS e2_var,
       count(g.latency_ms)::bigint AS latency_n, avg(g.latency_ms) AS latency_mean,
       var_samp(g.latency_ms) AS latency_var
FROM (SELECT CASE WHEN $4::text IS NULL THEN version_id::text ELSE segments ->> $4::text END AS grp,
             (predicted_value - label_value) ^ 2 AS e2, latency_ms
      FROM predictions
      WHERE model_id = $1 AND time >= $2 AND time < $3) AS g
WHERE g.grp = ANY($5::text[])
GROUP BY g.grp;

-- name: comparison_moments_numeric
-- comparison_moments in numeric arithmetic: taken only when float8 overflows (errors beyond ~1e77 make e⁴ exceed
-- float8); the answer is converted back to float (an infinite moment gives no p-value, never an error)
SELECT g.grp, count(g.e2)::bigint AS n, sum(g.e2) AS e2_sum, var_samp(g.e2) AS e2_var,
       count(g.latency_ms)::bigint AS latency_n, avg(g.latency_ms) AS latency_mean,
       var_samp(g.latency_ms) AS latency_var
FROM (SELECT CASE WHEN $4::text IS NULL THEN version_id::text ELSE segments ->> $4::text END AS grp,
             ((predicted_value::numeric - label_value::numeric) ^ 2) AS e2, latency_ms::numeric AS latency_ms
      FROM predictions
      WHERE model_id = $1 AND time >= $2 AND time < $3) AS g
WHERE g.grp = ANY($5::text[])
GROUP BY g.grp;
