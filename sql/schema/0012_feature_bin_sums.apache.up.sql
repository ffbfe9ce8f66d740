-- Migration 0012_feature_bin_sums, upgrade, Apache edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

-- Template: merging the per-bin sums of the feature windows (0012; one float8 per bin of `counts`, the sum
-- of the values `width_bucket(x, edges)` puts in that bin): dl_sum_sums adds such arrays element-wise, as
-- dl_sum_counts adds the counts.

-- STRICT with no initial state: the first non-NULL array becomes the state and NULLs are skipped.
CREATE FUNCTION dl_add_sums(a double precision[], b double precision[]) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) AS t(x, y));

CREATE AGGREGATE dl_sum_sums(double precision[]) (
    SFUNC = dl_add_sums,
    STYPE = double precision[],
    COMBINEFUNC = dl_add_sums,
    PARALLEL = SAFE
);

ALTER TABLE feature_hist_1m ADD COLUMN bin_sums double precision[];
ALTER TABLE feature_hist_1h ADD COLUMN bin_sums double precision[];
ALTER TABLE feature_hist_1d ADD COLUMN bin_sums double precision[];

CREATE OR REPLACE VIEW feature_hist_1h_source AS
SELECT time_bucket('1 hour', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max,
       dl_sum_sums(bin_sums) AS bin_sums
FROM feature_hist_1m
GROUP BY 1, model_id, baseline_id, feature;

CREATE OR REPLACE VIEW feature_hist_1d_source AS
SELECT time_bucket('1 day', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max,
       dl_sum_sums(bin_sums) AS bin_sums
FROM feature_hist_1h
GROUP BY 1, model_id, baseline_id, feature;

INSERT INTO window_invalidations (kind, model_id, lo, hi)
SELECT 'features', r.model_id, time_bucket('1 minute', r.first), time_bucket('1 minute', r.last) + interval '1 minute'
FROM (SELECT b.model_id,
             (SELECT min(time) FROM predictions p WHERE p.model_id = b.model_id) AS first,
             (SELECT max(time) FROM predictions p WHERE p.model_id = b.model_id) AS last
      FROM (SELECT DISTINCT model_id FROM feature_baselines WHERE active) b) r
WHERE r.first IS NOT NULL;
