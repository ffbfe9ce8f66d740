-- Migration 0006_analyses, downgrade, both editions: back to 0003's schema.
DROP FUNCTION dl_feature_drift(text, timestamptz, timestamptz);
DROP FUNCTION dl_js_distance(bigint[], bigint[]);
DROP FUNCTION dl_psi(bigint[], bigint[]);
DROP VIEW drift_latest;
DROP VIEW analysis_results_latest;
DROP TABLE analysis_results;

DROP VIEW feature_hist_1d_source;
DROP VIEW feature_hist_1h_source;
ALTER TABLE feature_hist_1m DROP COLUMN value_sum, DROP COLUMN value_sumsq, DROP COLUMN value_min, DROP COLUMN value_max;
ALTER TABLE feature_hist_1h DROP COLUMN value_sum, DROP COLUMN value_sumsq, DROP COLUMN value_min, DROP COLUMN value_max;
ALTER TABLE feature_hist_1d DROP COLUMN value_sum, DROP COLUMN value_sumsq, DROP COLUMN value_min, DROP COLUMN value_max;
CREATE VIEW feature_hist_1h_source AS
SELECT time_bucket('1 hour', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts
FROM feature_hist_1m
GROUP BY 1, model_id, baseline_id, feature;

CREATE VIEW feature_hist_1d_source AS
SELECT time_bucket('1 day', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts
FROM feature_hist_1h
GROUP BY 1, model_id, baseline_id, feature;

CREATE OR REPLACE FUNCTION dl_invalidate_baseline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO window_invalidations (kind, model_id, lo, hi)
    SELECT 'features', r.model_id, time_bucket('1 minute', r.first), time_bucket('1 minute', r.last) + interval '1 minute'
    FROM (SELECT c.model_id,
                 (SELECT min(time) FROM predictions p WHERE p.model_id = c.model_id) AS first,
                 (SELECT max(time) FROM predictions p WHERE p.model_id = c.model_id) AS last
          FROM (SELECT DISTINCT model_id FROM changed_rows) c) r
    WHERE r.first IS NOT NULL;
    RETURN NULL;
END $$;

DROP INDEX feature_baselines_set;
DELETE FROM feature_baselines WHERE baseline_set IS NOT NULL;
ALTER TABLE feature_baselines
    DROP COLUMN baseline_set, DROP COLUMN reference_sums, DROP COLUMN reference_missing,
    DROP COLUMN reference_out_of_range, DROP COLUMN reference_min, DROP COLUMN reference_max,
    DROP COLUMN reference_sumsq;
DROP TABLE baselines;
