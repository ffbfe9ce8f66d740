-- Migration 0002_windows, upgrade, full (Timescale-License) edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

-- driftline windows, part 1 (both editions): helper functions, feature baselines, the record of touched
-- time ranges (written by statement-level triggers in the same transaction as every write, whoever the
-- writer is: the ingest service, psql, a backfill), refresh watermarks, the feature-histogram rollups, and
-- the 1-minute source views that every window level is computed from.
--
-- Window state is mergeable only (counts, sums, min/max, histogram counts), so 1h = merge(1m) and
-- 1d = merge(1h) exactly, and any longer window is a merge of buckets. Histogram arrays keep the layout of
-- TimescaleDB's histogram(): element 1 counts values below the range, elements 2..B+1 the B bins, element
-- B+2 values at or above the upper bound.

-- Element-wise sum of count arrays (histograms). STRICT with no initial state: the first non-NULL array
-- becomes the state and NULLs are skipped, so buckets with no rows (NULL histogram) merge as zeros.
CREATE FUNCTION dl_add_counts(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) AS t(x, y));

CREATE AGGREGATE dl_sum_counts(bigint[]) (
    SFUNC = dl_add_counts,
    STYPE = bigint[],
    COMBINEFUNC = dl_add_counts,
    PARALLEL = SAFE
);

-- Multiclass Brier term of one row: Σₖ (pₖ - [k = actual])².
CREATE FUNCTION dl_brier_multiclass(probs double precision[], actual integer) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT sum((p - CASE WHEN k = actual THEN 1.0 ELSE 0.0 END) ^ 2)
        FROM unnest(probs) WITH ORDINALITY AS u(p, k));

CREATE FUNCTION dl_strictly_increasing(v double precision[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN NOT EXISTS (SELECT 1 FROM generate_subscripts(v, 1) AS i
                   WHERE v[i] IS NULL OR v[i] IN ('NaN', 'Infinity', '-Infinity')
                      OR (i > 1 AND NOT v[i] > v[i - 1]));

-- Baseline bins per feature. Numeric: `edges` are the interior edges e₁ < … < e_b; bin 0 is (-∞, e₁),
-- bin i is [eᵢ, eᵢ₊₁), bin b is [e_b, +∞) — PostgreSQL's width_bucket(x, edges), numpy's
-- searchsorted(edges, x, side='right'). `lower`/`upper` (optional) bound the values seen as in range.
-- Categorical: `categories` in a fixed order; values outside them are counted as out of range.
-- At most one active baseline per (model, feature); windows are binned against the active one.
CREATE TABLE feature_baselines (
    id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id         integer NOT NULL,
    feature          text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('numeric', 'categorical')),
    edges            double precision[],
    categories       text[],
    lower            double precision,
    upper            double precision,
    -- Counts of the reference data per bin (same layout as the window counts); filled by whoever builds
    -- the baseline, read by drift analyses.
    reference_counts bigint[],
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model_id, feature) REFERENCES model_features (model_id, name) ON DELETE CASCADE,
    CHECK (kind <> 'numeric' OR (edges IS NOT NULL AND categories IS NULL
                                 AND cardinality(edges) BETWEEN 1 AND 1000 AND dl_strictly_increasing(edges))),
    CHECK (kind <> 'categorical' OR (categories IS NOT NULL AND edges IS NULL AND lower IS NULL AND upper IS NULL
                                     AND cardinality(categories) BETWEEN 1 AND 1000)),
    CHECK (lower IS NULL OR upper IS NULL OR lower <= upper)
);
CREATE UNIQUE INDEX feature_baselines_one_active ON feature_baselines (model_id, feature) WHERE active;

-- Time ranges whose windows are stale: [lo, hi), minute-aligned. Written by the triggers below in the
-- writer's transaction; consumed (deleted) by the refresher in the transaction that recomputes them, so a
-- range is either pending here or reflected in the windows, never neither. Reads treat pending ranges as
-- not materialised and compute them from raw rows.
CREATE TABLE window_invalidations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('predictions', 'features', 'metrics')),
    model_id   integer,                 -- NULL: metrics not tied to a model
    lo         timestamptz NOT NULL,
    hi         timestamptz NOT NULL CHECK (hi > lo),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX window_invalidations_kind_model ON window_invalidations (kind, model_id, lo);

-- Per (kind, model): the end of the newest bucket the refresher has materialised and when it last ran.
CREATE TABLE window_watermarks (
    kind                 text NOT NULL,
    model_key            integer NOT NULL,   -- model id, 0 for metrics without a model
    materialized_through timestamptz NOT NULL,
    refreshed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, model_key)
);

CREATE FUNCTION dl_invalidate_predictions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    has_baselines boolean := EXISTS (SELECT 1 FROM feature_baselines WHERE active);
BEGIN
    -- One range per (model, hour touched): bounded bookkeeping for a batch that spans days, and at
    -- most one hour of minutes recomputed per record.
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'predictions', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM new_rows GROUP BY model_id, time_bucket('1 hour', time);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'predictions', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM old_rows GROUP BY model_id, time_bucket('1 hour', time);
    END IF;
    IF NOT has_baselines THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'features', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM new_rows
        WHERE model_id IN (SELECT model_id FROM feature_baselines WHERE active)
        GROUP BY model_id, time_bucket('1 hour', time);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'features', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM old_rows
        WHERE model_id IN (SELECT model_id FROM feature_baselines WHERE active)
        GROUP BY model_id, time_bucket('1 hour', time);
    ELSE
        -- Label updates leave the features alone: only rows whose features or place changed count.
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'features', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM (
            SELECT n.model_id, n.time FROM new_rows n
            WHERE NOT EXISTS (SELECT 1 FROM old_rows o
                              WHERE o.model_id = n.model_id AND o.prediction_id = n.prediction_id
                                AND o.time = n.time
                                AND o.num_features IS NOT DISTINCT FROM n.num_features
                                AND o.cat_features IS NOT DISTINCT FROM n.cat_features)
            UNION ALL
            SELECT o.model_id, o.time FROM old_rows o
            WHERE NOT EXISTS (SELECT 1 FROM new_rows n
                              WHERE o.model_id = n.model_id AND o.prediction_id = n.prediction_id
                                AND o.time = n.time)
        ) changed
        WHERE model_id IN (SELECT model_id FROM feature_baselines WHERE active)
        GROUP BY model_id, time_bucket('1 hour', time);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER predictions_windows_insert AFTER INSERT ON predictions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_predictions();
CREATE TRIGGER predictions_windows_update AFTER UPDATE ON predictions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_predictions();
-- TimescaleDB refuses DELETE triggers with transition tables on hypertables with (classic) columnstore
-- compression (full edition). There, continuous aggregates track deletes themselves; feature windows miss
-- raw-row DELETEs until the range is touched again (`driftline rollups refresh` can rebuild a range).
DO $$ BEGIN
    CREATE TRIGGER predictions_windows_delete AFTER DELETE ON predictions
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_predictions();
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'predictions: no DELETE trigger (%)', SQLERRM;
END $$;

CREATE FUNCTION dl_invalidate_metrics() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'metrics', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM new_rows GROUP BY model_id, time_bucket('1 hour', time);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO window_invalidations (kind, model_id, lo, hi)
        SELECT 'metrics', model_id, time_bucket('1 minute', min(time)),
               time_bucket('1 minute', max(time)) + interval '1 minute'
        FROM old_rows GROUP BY model_id, time_bucket('1 hour', time);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER metrics_windows_insert AFTER INSERT ON metrics
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_metrics();
CREATE TRIGGER metrics_windows_update AFTER UPDATE ON metrics
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_metrics();
DO $$ BEGIN
    CREATE TRIGGER metrics_windows_delete AFTER DELETE ON metrics
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_metrics();
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'metrics: no DELETE trigger (%)', SQLERRM;
END $$;

-- A new or changed active baseline re-bins that model's whole history of feature windows.
CREATE FUNCTION dl_invalidate_baseline() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER feature_baselines_windows_insert AFTER INSERT ON feature_baselines
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_baseline();
CREATE TRIGGER feature_baselines_windows_update AFTER UPDATE ON feature_baselines
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_invalidate_baseline();

-- Feature histograms against the active baseline of each feature. Engine-maintained on both editions: the
-- bins come from a plain table that changes (a new baseline re-bins history), which a continuous aggregate
-- cannot track. `counts` has one element per bin (numeric: cardinality(edges) + 1 bins, outer bins open;
-- categorical: one per category). Numeric: counts cover every non-missing value and `out_of_range` also
-- counts those outside [lower, upper]. Categorical: values outside the categories are only in
-- `out_of_range`. n = rows in the bucket; missing = NULL (or NaN) values.
CREATE TABLE feature_hist_1m (
    bucket       timestamptz NOT NULL,
    model_id     integer NOT NULL,
    baseline_id  integer NOT NULL,
    feature      text NOT NULL,
    n            bigint NOT NULL,
    missing      bigint NOT NULL,
    out_of_range bigint NOT NULL,
    counts       bigint[] NOT NULL
);
CREATE TABLE feature_hist_1h (LIKE feature_hist_1m);
CREATE TABLE feature_hist_1d (LIKE feature_hist_1m);
SELECT create_hypertable('feature_hist_1m', 'bucket', chunk_time_interval => INTERVAL '7 days',
                         create_default_indexes => false);
SELECT create_hypertable('feature_hist_1h', 'bucket', chunk_time_interval => INTERVAL '90 days',
                         create_default_indexes => false);
SELECT create_hypertable('feature_hist_1d', 'bucket', chunk_time_interval => INTERVAL '1 year',
                         create_default_indexes => false);
CREATE UNIQUE INDEX feature_hist_1m_key ON feature_hist_1m (model_id, baseline_id, feature, bucket);
CREATE UNIQUE INDEX feature_hist_1h_key ON feature_hist_1h (model_id, baseline_id, feature, bucket);
CREATE UNIQUE INDEX feature_hist_1d_key ON feature_hist_1d (model_id, baseline_id, feature, bucket);

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

-- The declared dimensions of a model project a row's segments to its window key (up to 4 dimensions;
-- written with built-ins only so the planner inlines it, this runs once per raw row).
CREATE FUNCTION dl_segment_key(segments jsonb, dims text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN segments IS NULL OR coalesce(cardinality(dims), 0) = 0 THEN '{}'::jsonb
    ELSE jsonb_strip_nulls(
        jsonb_build_object(dims[1], segments -> dims[1])
        || CASE WHEN cardinality(dims) >= 2 THEN jsonb_build_object(dims[2], segments -> dims[2]) ELSE '{}'::jsonb END
        || CASE WHEN cardinality(dims) >= 3 THEN jsonb_build_object(dims[3], segments -> dims[3]) ELSE '{}'::jsonb END
        || CASE WHEN cardinality(dims) >= 4 THEN jsonb_build_object(dims[4], segments -> dims[4]) ELSE '{}'::jsonb END)
END;

-- Per (1-minute bucket, model, version, declared segment): everything the performance metrics need.
-- Binary: the predicted class is derived from `score` at the model's threshold when a score is present
-- (class_labels[2] is the positive class), else taken from predicted_class. Class indexes are 1-based
-- positions in models.class_labels; confusion element (actual - 1) * k + predicted + 1 (row-major, actual
-- rows). Score histograms: 100 equal bins on [0, 1] (a score of exactly 1 lands in the overflow element).
-- Latency histogram: 140 bins equal in log10(ms) on [10 µs, 100 s), 20 per decade.
CREATE VIEW predictions_1m_source AS
SELECT
    time_bucket('1 minute', p.time) AS bucket,
    p.model_id,
    p.version_id,
    dl_segment_key(p.segments, m.dimensions) AS segment,
    count(*) AS n,
    count(*) FILTER (WHERE p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AS n_labeled,
    count(*) FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_n,
    sum(extract(epoch FROM p.label_time - p.time)::float8)
        FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_sum,
    max(extract(epoch FROM p.label_time - p.time)::float8)
        FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_max,
    histogram(
        CASE WHEN m.task = 'binary' AND p.score IS NOT NULL
             THEN CASE WHEN p.score >= m.threshold THEN 2 ELSE 1 END
             ELSE array_position(m.class_labels, p.predicted_class) END,
        1, cardinality(m.class_labels) + 1, cardinality(m.class_labels))
        FILTER (WHERE m.task <> 'regression' AND (p.predicted_class IS NOT NULL OR (m.task = 'binary' AND p.score IS NOT NULL)))
        ::bigint[] AS class_counts,
    histogram(
        (array_position(m.class_labels, p.label_class) - 1) * cardinality(m.class_labels)
        + CASE WHEN m.task = 'binary' AND p.score IS NOT NULL
               THEN CASE WHEN p.score >= m.threshold THEN 2 ELSE 1 END
               ELSE array_position(m.class_labels, p.predicted_class) END,
        1, cardinality(m.class_labels) * cardinality(m.class_labels) + 1,
        cardinality(m.class_labels) * cardinality(m.class_labels))
        FILTER (WHERE m.task <> 'regression' AND p.label_class IS NOT NULL
                AND (p.predicted_class IS NOT NULL OR (m.task = 'binary' AND p.score IS NOT NULL)))
        ::bigint[] AS confusion,
    histogram(p.score, 0, 1, 100)
        FILTER (WHERE m.task = 'binary' AND p.score IS NOT NULL AND p.label_class = m.class_labels[2])
        ::bigint[] AS score_hist_pos,
    histogram(p.score, 0, 1, 100)
        FILTER (WHERE m.task = 'binary' AND p.score IS NOT NULL AND p.label_class = m.class_labels[1])
        ::bigint[] AS score_hist_neg,
    count(p.score) AS score_n,
    sum(p.score) AS score_sum,
    count(*) FILTER (WHERE p.label_class IS NOT NULL AND (
        (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS loss_n,
    sum(CASE WHEN m.task = 'binary'
             THEN -ln(greatest(least(CASE WHEN p.label_class = m.class_labels[2] THEN p.score ELSE 1 - p.score END,
                                     1 - 2.220446049250313e-16), 2.220446049250313e-16))
             ELSE -ln(greatest(least(p.probabilities[array_position(m.class_labels, p.label_class)],
                                     1 - 2.220446049250313e-16), 2.220446049250313e-16)) END)
        FILTER (WHERE p.label_class IS NOT NULL AND (
            (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS log_loss_sum,
    sum(CASE WHEN m.task = 'binary'
             THEN (p.score - CASE WHEN p.label_class = m.class_labels[2] THEN 1.0 ELSE 0.0 END) ^ 2
             ELSE dl_brier_multiclass(p.probabilities, array_position(m.class_labels, p.label_class)) END)
        FILTER (WHERE p.label_class IS NOT NULL AND (
            (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS brier_sum,
    count(*) FILTER (WHERE p.label_value IS NOT NULL AND p.predicted_value IS NOT NULL) AS reg_n,
    sum(p.predicted_value - p.label_value) AS err_sum,
    sum(abs(p.predicted_value - p.label_value)) AS abs_err_sum,
    sum((p.predicted_value - p.label_value) ^ 2) AS sq_err_sum,
    sum(abs(p.predicted_value - p.label_value) / abs(p.label_value)) FILTER (WHERE p.label_value <> 0) AS ape_sum,
    count(*) FILTER (WHERE p.label_value <> 0 AND p.predicted_value IS NOT NULL) AS ape_n,
    sum(CASE WHEN abs(p.label_value) + abs(p.predicted_value) > 0
             THEN 2 * abs(p.predicted_value - p.label_value) / (abs(p.label_value) + abs(p.predicted_value))
             ELSE 0 END) FILTER (WHERE p.label_value IS NOT NULL AND p.predicted_value IS NOT NULL) AS sape_sum,
    sum(p.label_value) FILTER (WHERE p.predicted_value IS NOT NULL) AS y_sum,
    sum(p.label_value ^ 2) FILTER (WHERE p.predicted_value IS NOT NULL) AS y2_sum,
    count(p.predicted_value) AS pred_value_n,
    sum(p.predicted_value) AS pred_value_sum,
    sum(p.predicted_value ^ 2) AS pred_value_sumsq,
    count(p.latency_ms) AS latency_n,
    sum(p.latency_ms) AS latency_sum,
    min(p.latency_ms) AS latency_min,
    max(p.latency_ms) AS latency_max,
    histogram(log(greatest(p.latency_ms, 1e-300)), -2, 5, 140) FILTER (WHERE p.latency_ms IS NOT NULL)
        ::bigint[] AS latency_hist
FROM predictions p
JOIN models m ON m.id = p.model_id
GROUP BY 1, p.model_id, p.version_id, 4;

-- Per (1-minute bucket, model, metric name, tags): custom metrics as count, sum, sum of squares, min, max.
CREATE VIEW metrics_1m_source AS
SELECT
    time_bucket('1 minute', time) AS bucket,
    model_id,
    name,
    coalesce(tags, '{}'::jsonb) AS tags,
    count(*) AS n,
    sum(value) AS value_sum,
    sum(value * value) AS value_sumsq,
    min(value) AS value_min,
    max(value) AS value_max
FROM metrics
GROUP BY 1, model_id, name, 4;

-- Rows written before this migration are pending too (a fresh install has none).
INSERT INTO window_invalidations (kind, model_id, lo, hi)
SELECT 'predictions', model_id, time_bucket('1 minute', min(time)), time_bucket('1 minute', max(time)) + interval '1 minute'
FROM predictions GROUP BY model_id, time_bucket('1 hour', time);
INSERT INTO window_invalidations (kind, model_id, lo, hi)
SELECT 'metrics', model_id, time_bucket('1 minute', min(time)), time_bucket('1 minute', max(time)) + interval '1 minute'
FROM metrics GROUP BY model_id, time_bucket('1 hour', time);

CREATE MATERIALIZED VIEW predictions_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 minute', p.time) AS bucket,
    p.model_id,
    p.version_id,
    dl_segment_key(p.segments, m.dimensions) AS segment,
    count(*) AS n,
    count(*) FILTER (WHERE p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AS n_labeled,
    count(*) FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_n,
    sum(extract(epoch FROM p.label_time - p.time)::float8)
        FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_sum,
    max(extract(epoch FROM p.label_time - p.time)::float8)
        FILTER (WHERE (p.label_class IS NOT NULL OR p.label_value IS NOT NULL) AND p.label_time IS NOT NULL)
        AS label_delay_max,
    histogram(
        CASE WHEN m.task = 'binary' AND p.score IS NOT NULL
             THEN CASE WHEN p.score >= m.threshold THEN 2 ELSE 1 END
             ELSE array_position(m.class_labels, p.predicted_class) END,
        1, cardinality(m.class_labels) + 1, cardinality(m.class_labels))
        FILTER (WHERE m.task <> 'regression' AND (p.predicted_class IS NOT NULL OR (m.task = 'binary' AND p.score IS NOT NULL)))
        ::bigint[] AS class_counts,
    histogram(
        (array_position(m.class_labels, p.label_class) - 1) * cardinality(m.class_labels)
        + CASE WHEN m.task = 'binary' AND p.score IS NOT NULL
               THEN CASE WHEN p.score >= m.threshold THEN 2 ELSE 1 END
               ELSE array_position(m.class_labels, p.predicted_class) END,
        1, cardinality(m.class_labels) * cardinality(m.class_labels) + 1,
        cardinality(m.class_labels) * cardinality(m.class_labels))
        FILTER (WHERE m.task <> 'regression' AND p.label_class IS NOT NULL
                AND (p.predicted_class IS NOT NULL OR (m.task = 'binary' AND p.score IS NOT NULL)))
        ::bigint[] AS confusion,
    histogram(p.score, 0, 1, 100)
        FILTER (WHERE m.task = 'binary' AND p.score IS NOT NULL AND p.label_class = m.class_labels[2])
        ::bigint[] AS score_hist_pos,
    histogram(p.score, 0, 1, 100)
        FILTER (WHERE m.task = 'binary' AND p.score IS NOT NULL AND p.label_class = m.class_labels[1])
        ::bigint[] AS score_hist_neg,
    count(p.score) AS score_n,
    sum(p.score) AS score_sum,
    count(*) FILTER (WHERE p.label_class IS NOT NULL AND (
        (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS loss_n,
    sum(CASE WHEN m.task = 'binary'
             THEN -ln(greatest(least(CASE WHEN p.label_class = m.class_labels[2] THEN p.score ELSE 1 - p.score END,
                                     1 - 2.220446049250313e-16), 2.220446049250313e-16))
             ELSE -ln(greatest(least(p.probabilities[array_position(m.class_labels, p.label_class)],
                                     1 - 2.220446049250313e-16), 2.220446049250313e-16)) END)
        FILTER (WHERE p.label_class IS NOT NULL AND (
            (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS log_loss_sum,
    sum(CASE WHEN m.task = 'binary'
             THEN (p.score - CASE WHEN p.label_class = m.class_labels[2] THEN 1.0 ELSE 0.0 END) ^ 2
             ELSE dl_brier_multiclass(p.probabilities, array_position(m.class_labels, p.label_class)) END)
        FILTER (WHERE p.label_class IS NOT NULL AND (
            (m.task = 'binary' AND p.score IS NOT NULL) OR (m.task = 'multiclass' AND p.probabilities IS NOT NULL)))
        AS brier_sum,
    count(*) FILTER (WHERE p.label_value IS NOT NULL AND p.predicted_value IS NOT NULL) AS reg_n,
    sum(p.predicted_value - p.label_value) AS err_sum,
    sum(abs(p.predicted_value - p.label_value)) AS abs_err_sum,
    sum((p.predicted_value - p.label_value) ^ 2) AS sq_err_sum,
    sum(abs(p.predicted_value - p.label_value) / abs(p.label_value)) FILTER (WHERE p.label_value <> 0) AS ape_sum,
    count(*) FILTER (WHERE p.label_value <> 0 AND p.predicted_value IS NOT NULL) AS ape_n,
    sum(CASE WHEN abs(p.label_value) + abs(p.predicted_value) > 0
             THEN 2 * abs(p.predicted_value - p.label_value) / (abs(p.label_value) + abs(p.predicted_value))
             ELSE 0 END) FILTER (WHERE p.label_value IS NOT NULL AND p.predicted_value IS NOT NULL) AS sape_sum,
    sum(p.label_value) FILTER (WHERE p.predicted_value IS NOT NULL) AS y_sum,
    sum(p.label_value ^ 2) FILTER (WHERE p.predicted_value IS NOT NULL) AS y2_sum,
    count(p.predicted_value) AS pred_value_n,
    sum(p.predicted_value) AS pred_value_sum,
    sum(p.predicted_value ^ 2) AS pred_value_sumsq,
    count(p.latency_ms) AS latency_n,
    sum(p.latency_ms) AS latency_sum,
    min(p.latency_ms) AS latency_min,
    max(p.latency_ms) AS latency_max,
    histogram(log(greatest(p.latency_ms, 1e-300)), -2, 5, 140) FILTER (WHERE p.latency_ms IS NOT NULL)
        ::bigint[] AS latency_hist
FROM predictions p
JOIN models m ON m.id = p.model_id
GROUP BY 1, p.model_id, p.version_id, 4
WITH NO DATA;
SELECT add_continuous_aggregate_policy('predictions_1m', start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE MATERIALIZED VIEW metrics_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 minute', time) AS bucket,
    model_id,
    name,
    coalesce(tags, '{}'::jsonb) AS tags,
    count(*) AS n,
    sum(value) AS value_sum,
    sum(value * value) AS value_sumsq,
    min(value) AS value_min,
    max(value) AS value_max
FROM metrics
GROUP BY 1, model_id, name, 4
WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_1m', start_offset => INTERVAL '3 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute');

CREATE VIEW predictions_1h_source AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id, version_id, segment,
    sum(n)::bigint AS n,
    sum(n_labeled)::bigint AS n_labeled,
    sum(label_delay_n)::bigint AS label_delay_n,
    sum(label_delay_sum) AS label_delay_sum,
    max(label_delay_max) AS label_delay_max,
    dl_sum_counts(class_counts) AS class_counts,
    dl_sum_counts(confusion) AS confusion,
    dl_sum_counts(score_hist_pos) AS score_hist_pos,
    dl_sum_counts(score_hist_neg) AS score_hist_neg,
    sum(score_n)::bigint AS score_n,
    sum(score_sum) AS score_sum,
    sum(loss_n)::bigint AS loss_n,
    sum(log_loss_sum) AS log_loss_sum,
    sum(brier_sum) AS brier_sum,
    sum(reg_n)::bigint AS reg_n,
    sum(err_sum) AS err_sum,
    sum(abs_err_sum) AS abs_err_sum,
    sum(sq_err_sum) AS sq_err_sum,
    sum(ape_sum) AS ape_sum,
    sum(ape_n)::bigint AS ape_n,
    sum(sape_sum) AS sape_sum,
    sum(y_sum) AS y_sum,
    sum(y2_sum) AS y2_sum,
    sum(pred_value_n)::bigint AS pred_value_n,
    sum(pred_value_sum) AS pred_value_sum,
    sum(pred_value_sumsq) AS pred_value_sumsq,
    sum(latency_n)::bigint AS latency_n,
    sum(latency_sum) AS latency_sum,
    min(latency_min) AS latency_min,
    max(latency_max) AS latency_max,
    dl_sum_counts(latency_hist) AS latency_hist
FROM predictions_1m
GROUP BY 1, model_id, version_id, segment;

CREATE VIEW metrics_1h_source AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id,
    name,
    tags,
    sum(n)::bigint AS n,
    sum(value_sum) AS value_sum,
    sum(value_sumsq) AS value_sumsq,
    min(value_min) AS value_min,
    max(value_max) AS value_max
FROM metrics_1m
GROUP BY 1, model_id, name, tags;

CREATE MATERIALIZED VIEW predictions_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id, version_id, segment,
    sum(n)::bigint AS n,
    sum(n_labeled)::bigint AS n_labeled,
    sum(label_delay_n)::bigint AS label_delay_n,
    sum(label_delay_sum) AS label_delay_sum,
    max(label_delay_max) AS label_delay_max,
    dl_sum_counts(class_counts) AS class_counts,
    dl_sum_counts(confusion) AS confusion,
    dl_sum_counts(score_hist_pos) AS score_hist_pos,
    dl_sum_counts(score_hist_neg) AS score_hist_neg,
    sum(score_n)::bigint AS score_n,
    sum(score_sum) AS score_sum,
    sum(loss_n)::bigint AS loss_n,
    sum(log_loss_sum) AS log_loss_sum,
    sum(brier_sum) AS brier_sum,
    sum(reg_n)::bigint AS reg_n,
    sum(err_sum) AS err_sum,
    sum(abs_err_sum) AS abs_err_sum,
    sum(sq_err_sum) AS sq_err_sum,
    sum(ape_sum) AS ape_sum,
    sum(ape_n)::bigint AS ape_n,
    sum(sape_sum) AS sape_sum,
    sum(y_sum) AS y_sum,
    sum(y2_sum) AS y2_sum,
    sum(pred_value_n)::bigint AS pred_value_n,
    sum(pred_value_sum) AS pred_value_sum,
    sum(pred_value_sumsq) AS pred_value_sumsq,
    sum(latency_n)::bigint AS latency_n,
    sum(latency_sum) AS latency_sum,
    min(latency_min) AS latency_min,
    max(latency_max) AS latency_max,
    dl_sum_counts(latency_hist) AS latency_hist
FROM predictions_1m
GROUP BY 1, model_id, version_id, segment
WITH NO DATA;
SELECT add_continuous_aggregate_policy('predictions_1h', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

CREATE MATERIALIZED VIEW metrics_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id,
    name,
    tags,
    sum(n)::bigint AS n,
    sum(value_sum) AS value_sum,
    sum(value_sumsq) AS value_sumsq,
    min(value_min) AS value_min,
    max(value_max) AS value_max
FROM metrics_1m
GROUP BY 1, model_id, name, tags
WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_1h', start_offset => INTERVAL '2 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '10 minutes');

CREATE VIEW predictions_1d_source AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id, version_id, segment,
    sum(n)::bigint AS n,
    sum(n_labeled)::bigint AS n_labeled,
    sum(label_delay_n)::bigint AS label_delay_n,
    sum(label_delay_sum) AS label_delay_sum,
    max(label_delay_max) AS label_delay_max,
    dl_sum_counts(class_counts) AS class_counts,
    dl_sum_counts(confusion) AS confusion,
    dl_sum_counts(score_hist_pos) AS score_hist_pos,
    dl_sum_counts(score_hist_neg) AS score_hist_neg,
    sum(score_n)::bigint AS score_n,
    sum(score_sum) AS score_sum,
    sum(loss_n)::bigint AS loss_n,
    sum(log_loss_sum) AS log_loss_sum,
    sum(brier_sum) AS brier_sum,
    sum(reg_n)::bigint AS reg_n,
    sum(err_sum) AS err_sum,
    sum(abs_err_sum) AS abs_err_sum,
    sum(sq_err_sum) AS sq_err_sum,
    sum(ape_sum) AS ape_sum,
    sum(ape_n)::bigint AS ape_n,
    sum(sape_sum) AS sape_sum,
    sum(y_sum) AS y_sum,
    sum(y2_sum) AS y2_sum,
    sum(pred_value_n)::bigint AS pred_value_n,
    sum(pred_value_sum) AS pred_value_sum,
    sum(pred_value_sumsq) AS pred_value_sumsq,
    sum(latency_n)::bigint AS latency_n,
    sum(latency_sum) AS latency_sum,
    min(latency_min) AS latency_min,
    max(latency_max) AS latency_max,
    dl_sum_counts(latency_hist) AS latency_hist
FROM predictions_1h
GROUP BY 1, model_id, version_id, segment;

CREATE VIEW metrics_1d_source AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id,
    name,
    tags,
    sum(n)::bigint AS n,
    sum(value_sum) AS value_sum,
    sum(value_sumsq) AS value_sumsq,
    min(value_min) AS value_min,
    max(value_max) AS value_max
FROM metrics_1h
GROUP BY 1, model_id, name, tags;

CREATE MATERIALIZED VIEW predictions_1d WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id, version_id, segment,
    sum(n)::bigint AS n,
    sum(n_labeled)::bigint AS n_labeled,
    sum(label_delay_n)::bigint AS label_delay_n,
    sum(label_delay_sum) AS label_delay_sum,
    max(label_delay_max) AS label_delay_max,
    dl_sum_counts(class_counts) AS class_counts,
    dl_sum_counts(confusion) AS confusion,
    dl_sum_counts(score_hist_pos) AS score_hist_pos,
    dl_sum_counts(score_hist_neg) AS score_hist_neg,
    sum(score_n)::bigint AS score_n,
    sum(score_sum) AS score_sum,
    sum(loss_n)::bigint AS loss_n,
    sum(log_loss_sum) AS log_loss_sum,
    sum(brier_sum) AS brier_sum,
    sum(reg_n)::bigint AS reg_n,
    sum(err_sum) AS err_sum,
    sum(abs_err_sum) AS abs_err_sum,
    sum(sq_err_sum) AS sq_err_sum,
    sum(ape_sum) AS ape_sum,
    sum(ape_n)::bigint AS ape_n,
    sum(sape_sum) AS sape_sum,
    sum(y_sum) AS y_sum,
    sum(y2_sum) AS y2_sum,
    sum(pred_value_n)::bigint AS pred_value_n,
    sum(pred_value_sum) AS pred_value_sum,
    sum(pred_value_sumsq) AS pred_value_sumsq,
    sum(latency_n)::bigint AS latency_n,
    sum(latency_sum) AS latency_sum,
    min(latency_min) AS latency_min,
    max(latency_max) AS latency_max,
    dl_sum_counts(latency_hist) AS latency_hist
FROM predictions_1h
GROUP BY 1, model_id, version_id, segment
WITH NO DATA;
SELECT add_continuous_aggregate_policy('predictions_1d', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');

CREATE MATERIALIZED VIEW metrics_1d WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id,
    name,
    tags,
    sum(n)::bigint AS n,
    sum(value_sum) AS value_sum,
    sum(value_sumsq) AS value_sumsq,
    min(value_min) AS value_min,
    max(value_max) AS value_max
FROM metrics_1h
GROUP BY 1, model_id, name, tags
WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_1d', start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 hour');

-- driftline windows, part 3: views for SQL users (psql, Grafana). Each row is one stored window bucket of
-- one (model, version, declared segment); derived values are computed from that row's counts and sums, so
-- they are exact except the latency quantiles (log-spaced histogram: the true value lies in the same
-- 12 %-wide bin). To merge several rows (e.g. all versions of a model), sum the state columns of the
-- underlying predictions_<level> relation first — see sql/README.md.

-- Quantile q of a histogram in the predictions_* layout (element 1 below 10^log_lo, then equal bins in
-- log10 up to 10^log_hi, last element above), interpolated in log space inside its bin; vmin/vmax close the
-- outer bins. Mirrors engine/windows/percentiles.py.
CREATE FUNCTION dl_log_histogram_quantile(hist bigint[], q double precision, log_lo double precision,
                                          log_hi double precision, vmin double precision,
                                          vmax double precision) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    k      integer := cardinality(hist);
    total  bigint := 0;
    cum    bigint := 0;
    target double precision;
    width  double precision := (log_hi - log_lo) / (k - 2);
    lo     double precision;
    hi     double precision;
    frac   double precision;
BEGIN
    IF hist IS NULL OR k < 3 THEN RETURN NULL; END IF;
    SELECT sum(x) INTO total FROM unnest(hist) x;
    IF total = 0 THEN RETURN NULL; END IF;
    target := (total - 1) * q;
    FOR i IN 1..k LOOP
        IF cum + hist[i] > floor(target) THEN
            lo := CASE WHEN i = 1 THEN vmin ELSE 10 ^ (log_lo + (i - 2) * width) END;
            hi := CASE WHEN i = k THEN vmax ELSE 10 ^ (log_lo + (i - 1) * width) END;
            lo := least(greatest(lo, vmin), vmax);
            hi := least(greatest(hi, vmin), vmax);
            frac := least(greatest((target - cum + 0.5) / hist[i], 0), 1);
            IF lo > 0 AND hi > lo THEN
                RETURN exp(ln(lo) + frac * (ln(hi) - ln(lo)));
            END IF;
            RETURN lo + frac * (hi - lo);
        END IF;
        cum := cum + hist[i];
    END LOOP;
    RETURN vmax;
END $$;

-- Diagonal (correct predictions) of a confusion array of k classes in the predictions_* layout.
CREATE FUNCTION dl_confusion_correct(confusion bigint[], k integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT sum(confusion[(i - 1) * k + i + 1]) FROM generate_series(1, k) AS i);

CREATE VIEW model_windows_1m AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
    w.segment,
    w.n AS predictions,
    w.n_labeled AS labeled,
    w.n_labeled::float8 / nullif(w.n, 0) AS label_coverage,
    w.label_delay_sum / nullif(w.label_delay_n, 0) AS label_delay_mean_s,
    dl_confusion_correct(w.confusion, cardinality(m.class_labels))::float8
        / nullif((SELECT sum(x) FROM unnest(w.confusion) AS x), 0) AS accuracy,
    w.log_loss_sum / nullif(w.loss_n, 0) AS log_loss,
    w.brier_sum / nullif(w.loss_n, 0) AS brier,
    w.sq_err_sum / nullif(w.reg_n, 0) AS mse,
    sqrt(w.sq_err_sum / nullif(w.reg_n, 0)) AS rmse,
    w.abs_err_sum / nullif(w.reg_n, 0) AS mae,
    w.err_sum / nullif(w.reg_n, 0) AS bias,
    1 - w.sq_err_sum / nullif(w.y2_sum - w.y_sum ^ 2 / nullif(w.reg_n, 0), 0) AS r2,
    w.ape_sum / nullif(w.ape_n, 0) AS mape,
    w.sape_sum / nullif(w.reg_n, 0) AS smape,
    w.score_sum / nullif(w.score_n, 0) AS score_mean,
    w.pred_value_sum / nullif(w.pred_value_n, 0) AS prediction_mean,
    w.latency_sum / nullif(w.latency_n, 0) AS latency_mean_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.50, -2, 5, w.latency_min, w.latency_max) AS latency_p50_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.95, -2, 5, w.latency_min, w.latency_max) AS latency_p95_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.99, -2, 5, w.latency_min, w.latency_max) AS latency_p99_ms,
    w.latency_max AS latency_max_ms
FROM predictions_1m w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW custom_metrics_1m AS
SELECT
    w.bucket,
    m.name AS model,
    w.name,
    w.tags,
    w.n AS count,
    w.value_sum / nullif(w.n, 0) AS mean,
    sqrt(greatest(w.value_sumsq / nullif(w.n, 0) - (w.value_sum / nullif(w.n, 0)) ^ 2, 0)) AS std,
    w.value_min AS min,
    w.value_max AS max,
    w.value_sum AS sum
FROM metrics_1m w
LEFT JOIN models m ON m.id = w.model_id;

CREATE VIEW model_windows_1h AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
    w.segment,
    w.n AS predictions,
    w.n_labeled AS labeled,
    w.n_labeled::float8 / nullif(w.n, 0) AS label_coverage,
    w.label_delay_sum / nullif(w.label_delay_n, 0) AS label_delay_mean_s,
    dl_confusion_correct(w.confusion, cardinality(m.class_labels))::float8
        / nullif((SELECT sum(x) FROM unnest(w.confusion) AS x), 0) AS accuracy,
    w.log_loss_sum / nullif(w.loss_n, 0) AS log_loss,
    w.brier_sum / nullif(w.loss_n, 0) AS brier,
    w.sq_err_sum / nullif(w.reg_n, 0) AS mse,
    sqrt(w.sq_err_sum / nullif(w.reg_n, 0)) AS rmse,
    w.abs_err_sum / nullif(w.reg_n, 0) AS mae,
    w.err_sum / nullif(w.reg_n, 0) AS bias,
    1 - w.sq_err_sum / nullif(w.y2_sum - w.y_sum ^ 2 / nullif(w.reg_n, 0), 0) AS r2,
    w.ape_sum / nullif(w.ape_n, 0) AS mape,
    w.sape_sum / nullif(w.reg_n, 0) AS smape,
    w.score_sum / nullif(w.score_n, 0) AS score_mean,
    w.pred_value_sum / nullif(w.pred_value_n, 0) AS prediction_mean,
    w.latency_sum / nullif(w.latency_n, 0) AS latency_mean_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.50, -2, 5, w.latency_min, w.latency_max) AS latency_p50_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.95, -2, 5, w.latency_min, w.latency_max) AS latency_p95_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.99, -2, 5, w.latency_min, w.latency_max) AS latency_p99_ms,
    w.latency_max AS latency_max_ms
FROM predictions_1h w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW custom_metrics_1h AS
SELECT
    w.bucket,
    m.name AS model,
    w.name,
    w.tags,
    w.n AS count,
    w.value_sum / nullif(w.n, 0) AS mean,
    sqrt(greatest(w.value_sumsq / nullif(w.n, 0) - (w.value_sum / nullif(w.n, 0)) ^ 2, 0)) AS std,
    w.value_min AS min,
    w.value_max AS max,
    w.value_sum AS sum
FROM metrics_1h w
LEFT JOIN models m ON m.id = w.model_id;

CREATE VIEW model_windows_1d AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
    w.segment,
    w.n AS predictions,
    w.n_labeled AS labeled,
    w.n_labeled::float8 / nullif(w.n, 0) AS label_coverage,
    w.label_delay_sum / nullif(w.label_delay_n, 0) AS label_delay_mean_s,
    dl_confusion_correct(w.confusion, cardinality(m.class_labels))::float8
        / nullif((SELECT sum(x) FROM unnest(w.confusion) AS x), 0) AS accuracy,
    w.log_loss_sum / nullif(w.loss_n, 0) AS log_loss,
    w.brier_sum / nullif(w.loss_n, 0) AS brier,
    w.sq_err_sum / nullif(w.reg_n, 0) AS mse,
    sqrt(w.sq_err_sum / nullif(w.reg_n, 0)) AS rmse,
    w.abs_err_sum / nullif(w.reg_n, 0) AS mae,
    w.err_sum / nullif(w.reg_n, 0) AS bias,
    1 - w.sq_err_sum / nullif(w.y2_sum - w.y_sum ^ 2 / nullif(w.reg_n, 0), 0) AS r2,
    w.ape_sum / nullif(w.ape_n, 0) AS mape,
    w.sape_sum / nullif(w.reg_n, 0) AS smape,
    w.score_sum / nullif(w.score_n, 0) AS score_mean,
    w.pred_value_sum / nullif(w.pred_value_n, 0) AS prediction_mean,
    w.latency_sum / nullif(w.latency_n, 0) AS latency_mean_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.50, -2, 5, w.latency_min, w.latency_max) AS latency_p50_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.95, -2, 5, w.latency_min, w.latency_max) AS latency_p95_ms,
    dl_log_histogram_quantile(w.latency_hist, 0.99, -2, 5, w.latency_min, w.latency_max) AS latency_p99_ms,
    w.latency_max AS latency_max_ms
FROM predictions_1d w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW custom_metrics_1d AS
SELECT
    w.bucket,
    m.name AS model,
    w.name,
    w.tags,
    w.n AS count,
    w.value_sum / nullif(w.n, 0) AS mean,
    sqrt(greatest(w.value_sumsq / nullif(w.n, 0) - (w.value_sum / nullif(w.n, 0)) ^ 2, 0)) AS std,
    w.value_min AS min,
    w.value_max AS max,
    w.value_sum AS sum
FROM metrics_1d w
LEFT JOIN models m ON m.id = w.model_id;
