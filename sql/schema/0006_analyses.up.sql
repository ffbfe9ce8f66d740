-- Migration 0006_analyses, upgrade, both editions (hand-written, frozen once merged).
--
-- Baselines: a named reference per model (optionally one version), built from a stored time range or from
-- uploaded reference data. Its per-feature bins live in `feature_baselines` (one row per feature, tied to
-- the baseline by `baseline_set`); a model has at most one active baseline, and the active baseline's
-- feature rows are the active `feature_baselines` rows that the feature windows are binned against.
-- Analysis results: a long-format hypertable, one statistic per row, replaced as a whole when the same
-- analysis runs again for the same (model, version, segment, run key, window).

CREATE TABLE baselines (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id      integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version_id    integer REFERENCES model_versions (id) ON DELETE CASCADE,  -- NULL: all versions
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    source        text NOT NULL CHECK (source IN ('range', 'upload')),
    range_start   timestamptz,
    range_end     timestamptz,
    n_rows        bigint NOT NULL CHECK (n_rows > 0),
    n_bins        integer NOT NULL CHECK (n_bins BETWEEN 2 AND 1000),
    -- How the reference was chunked for calibrated thresholds, e.g. '1 hour' or '500 rows'.
    chunking      text NOT NULL,
    -- Everything that is not per-feature bins: score / prediction distribution, reference performance
    -- metrics with their sample sizes, per-chunk feature counts (see engine/services/baselines/content.py).
    content       jsonb NOT NULL,
    active        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    UNIQUE (model_id, name),
    CHECK (source <> 'range' OR (range_start IS NOT NULL AND range_end > range_start))
);
CREATE UNIQUE INDEX baselines_one_active ON baselines (model_id) WHERE active;

ALTER TABLE feature_baselines
    ADD COLUMN baseline_set           integer REFERENCES baselines (id) ON DELETE CASCADE,
    -- Per reference bin: the sum of the values in it (numeric; Wasserstein and mean shift bounds).
    ADD COLUMN reference_sums         double precision[],
    ADD COLUMN reference_missing      bigint,
    ADD COLUMN reference_out_of_range bigint,
    ADD COLUMN reference_min          double precision,
    ADD COLUMN reference_max          double precision,
    ADD COLUMN reference_sumsq        double precision;
CREATE INDEX feature_baselines_set ON feature_baselines (baseline_set);

-- Creating an inactive baseline must not re-bin history: only rows that are active (newly inserted or
-- just activated) invalidate their model's feature windows.
CREATE OR REPLACE FUNCTION dl_invalidate_baseline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO window_invalidations (kind, model_id, lo, hi)
    SELECT 'features', r.model_id, time_bucket('1 minute', r.first), time_bucket('1 minute', r.last) + interval '1 minute'
    FROM (SELECT c.model_id,
                 (SELECT min(time) FROM predictions p WHERE p.model_id = c.model_id) AS first,
                 (SELECT max(time) FROM predictions p WHERE p.model_id = c.model_id) AS last
          FROM (SELECT DISTINCT model_id FROM changed_rows WHERE active) c) r
    WHERE r.first IS NOT NULL;
    RETURN NULL;
END $$;

-- Scalar moments of each numeric feature per bucket: the exact mean and standard deviation of a window,
-- and its range, which bounds the open outer bins (see engine/algorithms/drift/binned_bounds.py).
-- NULL for categorical features.
ALTER TABLE feature_hist_1m
    ADD COLUMN value_sum double precision, ADD COLUMN value_sumsq double precision,
    ADD COLUMN value_min double precision, ADD COLUMN value_max double precision;
ALTER TABLE feature_hist_1h
    ADD COLUMN value_sum double precision, ADD COLUMN value_sumsq double precision,
    ADD COLUMN value_min double precision, ADD COLUMN value_max double precision;
ALTER TABLE feature_hist_1d
    ADD COLUMN value_sum double precision, ADD COLUMN value_sumsq double precision,
    ADD COLUMN value_min double precision, ADD COLUMN value_max double precision;

CREATE OR REPLACE VIEW feature_hist_1h_source AS
SELECT time_bucket('1 hour', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM feature_hist_1m
GROUP BY 1, model_id, baseline_id, feature;

CREATE OR REPLACE VIEW feature_hist_1d_source AS
SELECT time_bucket('1 day', bucket) AS bucket, model_id, baseline_id, feature,
       sum(n)::bigint AS n, sum(missing)::bigint AS missing, sum(out_of_range)::bigint AS out_of_range,
       dl_sum_counts(counts) AS counts,
       sum(value_sum) AS value_sum, sum(value_sumsq) AS value_sumsq,
       min(value_min) AS value_min, max(value_max) AS value_max
FROM feature_hist_1h
GROUP BY 1, model_id, baseline_id, feature;

-- Analysis results, long format: one statistic of one subject (a feature, a metric, '*' for the dataset)
-- of one analysis over one window. `run_key` names who asked (a monitor, or 'adhoc' for a request):
-- results of one (model, version, segment, analysis, run_key, window) are replaced as a whole when it
-- runs again. version_id 0: all versions; segment '{}': all segments.
CREATE TABLE analysis_results (
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    model_id     integer NOT NULL,
    version_id   integer NOT NULL DEFAULT 0,
    segment      jsonb NOT NULL DEFAULT '{}',
    analysis     text NOT NULL,
    run_key      text NOT NULL DEFAULT 'adhoc',
    subject      text NOT NULL,
    statistic    text NOT NULL,
    value        double precision,
    threshold    double precision,
    bound        double precision,   -- half-width of the interval a binned estimate is known to lie in
    status       text NOT NULL CHECK (status IN ('ok', 'drift', 'warning', 'critical', 'no_data', 'info')),
    n            bigint,
    baseline_id  integer,
    details      jsonb,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (window_end > window_start)
);
SELECT create_hypertable('analysis_results', 'window_start', chunk_time_interval => INTERVAL '30 days',
                         create_default_indexes => false);
CREATE UNIQUE INDEX analysis_results_key ON analysis_results
    (model_id, analysis, run_key, version_id, segment, window_start, window_end, subject, statistic);
CREATE INDEX analysis_results_model_end ON analysis_results (model_id, analysis, window_end DESC);

-- The newest result per (model, version, segment, analysis, run key, subject, statistic), with names.
CREATE VIEW analysis_results_latest AS
SELECT DISTINCT ON (r.model_id, r.version_id, r.segment, r.analysis, r.run_key, r.subject, r.statistic)
       m.name AS model, v.version, r.segment, r.analysis, r.run_key, r.subject, r.statistic,
       r.window_start, r.window_end, r.value, r.threshold, r.bound, r.status, r.n, r.baseline_id, r.details,
       r.computed_at, r.model_id, r.version_id
FROM analysis_results r
JOIN models m ON m.id = r.model_id
LEFT JOIN model_versions v ON v.id = r.version_id
ORDER BY r.model_id, r.version_id, r.segment, r.analysis, r.run_key, r.subject, r.statistic,
         r.window_end DESC, r.computed_at DESC;

-- The newest drift verdict per feature (Grafana: one row per model and feature).
CREATE VIEW drift_latest AS
SELECT model, version, segment, run_key, subject AS feature, statistic AS method, window_start, window_end,
       value, threshold, bound, status, n, details ->> 'p_value' AS p_value
FROM analysis_results_latest
WHERE analysis = 'drift' AND subject <> '*';

-- Population stability index and Jensen–Shannon distance (base 2) of two count vectors on the same bins,
-- as engine/algorithms/drift/divergences.py computes them: PSI on proportions with each empty bin set to
-- 1e-4 and renormalised (natural log), JS on the plain proportions.
CREATE FUNCTION dl_psi(ref bigint[], cur bigint[]) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    WITH p AS (
        SELECT CASE WHEN r = 0 THEN 1e-4 ELSE r::float8 / sum(r) OVER () END AS pr,
               CASE WHEN c = 0 THEN 1e-4 ELSE c::float8 / sum(c) OVER () END AS pc
        FROM unnest(ref, cur) AS u(r, c)
    ), q AS (SELECT pr / sum(pr) OVER () AS pr, pc / sum(pc) OVER () AS pc FROM p)
    SELECT sum((pc - pr) * ln(pc / pr)) FROM q
);

CREATE FUNCTION dl_js_distance(ref bigint[], cur bigint[]) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (
    WITH p AS (
        SELECT r::float8 / sum(r) OVER () AS pr, c::float8 / sum(c) OVER () AS pc FROM unnest(ref, cur) AS u(r, c)
    )
    SELECT sqrt(least(greatest(
        (sum(CASE WHEN pr > 0 THEN pr * ln(2 * pr / (pr + pc)) ELSE 0 END)
         + sum(CASE WHEN pc > 0 THEN pc * ln(2 * pc / (pr + pc)) ELSE 0 END)) / (2 * ln(2)), 0), 1))
    FROM p
);

-- PSI and JS of every feature of a model over [start, end) (whole hours of feature_hist_1h, refreshed
-- buckets only) against its active baseline's reference counts, on the baseline's bins.
CREATE FUNCTION dl_feature_drift(model_name text, start_time timestamptz, end_time timestamptz)
RETURNS TABLE (feature text, n bigint, psi double precision, js_distance double precision)
LANGUAGE sql STABLE AS $$
    SELECT b.feature, w.n, dl_psi(b.reference_counts, w.counts), dl_js_distance(b.reference_counts, w.counts)
    FROM models m
    JOIN feature_baselines b ON b.model_id = m.id AND b.active AND b.reference_counts IS NOT NULL
    CROSS JOIN LATERAL (
        SELECT sum(h.n)::bigint AS n, dl_sum_counts(h.counts) AS counts
        FROM feature_hist_1h h
        WHERE h.model_id = m.id AND h.baseline_id = b.id AND h.bucket >= start_time AND h.bucket < end_time
    ) w
    WHERE m.name = model_name AND w.counts IS NOT NULL
    ORDER BY b.feature
$$;
