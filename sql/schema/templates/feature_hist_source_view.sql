-- Template: the view computing a feature window level from the level below it, with the state columns a
-- revision appends at the end (0006 wrote the columns up to value_max by hand).
CREATE VIEW feature_hist_{level}_source AS
SELECT time_bucket('{interval}', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max{extra}
FROM feature_hist_{below}
GROUP BY 1, model_id, baseline_id, feature;
