-- Migration 0012_feature_bin_sums, downgrade, Apache edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

DROP VIEW feature_hist_1d_source;
DROP VIEW feature_hist_1h_source;

ALTER TABLE feature_hist_1m DROP COLUMN bin_sums;
ALTER TABLE feature_hist_1h DROP COLUMN bin_sums;
ALTER TABLE feature_hist_1d DROP COLUMN bin_sums;

CREATE VIEW feature_hist_1h_source AS
SELECT time_bucket('1 hour', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM feature_hist_1m
GROUP BY 1, model_id, baseline_id, feature;

CREATE VIEW feature_hist_1d_source AS
SELECT time_bucket('1 day', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM feature_hist_1h
GROUP BY 1, model_id, baseline_id, feature;

DROP AGGREGATE dl_sum_sums(double precision[]);
DROP FUNCTION dl_add_sums(double precision[], double precision[]);
