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

-- level: model
-- One template for the per-(model, version, segment) view `model_windows_<level>` over `predictions_<level>`
-- and (migration 0003) the per-(model, version) view `model_version_windows_<level>` over
-- `predictions_by_version_<level>` (no segment column): engine.windows.ddl fills in the view's name, the
-- relation, the segment column and the columns later migrations append (0003: ROC AUC and its bound).
CREATE VIEW {view} AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,{segment}
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
    w.latency_max AS latency_max_ms{extra}
FROM {relation} w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

-- level: all
CREATE VIEW custom_metrics_{level} AS
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
FROM metrics_{level} w
LEFT JOIN models m ON m.id = w.model_id;
