-- Migration 0003_merged_windows, upgrade, Apache edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

-- driftline windows (migration 0003): SQL functions for the derived views, the ROC AUC of the score
-- histograms and its error bound.

-- A binary model's score histograms in the predictions_* layout (histogram(): element 1 below 0, elements
-- 2..101 the bins on [0, 1), element 102 a score of exactly 1) as one row per bin, the outer elements
-- folded into the first and last bin as the engine does: positives p, negatives n, and the negatives in
-- lower bins.
CREATE FUNCTION dl_score_bins(pos bigint[], neg bigint[], OUT p float8, OUT n float8, OUT below float8)
RETURNS SETOF record
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p, n, coalesce(sum(n) OVER (ORDER BY b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
    FROM (SELECT least(greatest(i, 2), cardinality(pos) - 1) AS b, sum(p)::float8 AS p, sum(n)::float8 AS n
          FROM unnest(pos, neg) WITH ORDINALITY AS u(p, n, i)
          GROUP BY 1) bins
$$;

-- ROC AUC of those histograms. Rows in the same bin may be ordered either way, so the AUC lies in an
-- interval: dl_roc_auc gives its midpoint and dl_roc_auc_bound its half-width, what the API reports as
-- `roc_auc` and its error bound. NULL when either class is absent.
CREATE FUNCTION dl_roc_auc(pos bigint[], neg bigint[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (sum(p * below) + 0.5 * sum(p * n)) / nullif(sum(p) * sum(n), 0) FROM dl_score_bins(pos, neg)
$$;

CREATE FUNCTION dl_roc_auc_bound(pos bigint[], neg bigint[]) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 0.5 * sum(p * n) / nullif(sum(p) * sum(n), 0) FROM dl_score_bins(pos, neg)
$$;

CREATE OR REPLACE VIEW model_windows_1m AS
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_1m w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW predictions_by_version_1m_source AS
SELECT
    time_bucket('1 minute', bucket) AS bucket,
    model_id, version_id,
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
GROUP BY 1, model_id, version_id;

CREATE TABLE predictions_by_version_1m AS SELECT * FROM predictions_by_version_1m_source WITH NO DATA;
ALTER TABLE predictions_by_version_1m ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_version_1m', 'bucket', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_version_1m_key ON predictions_by_version_1m (model_id, version_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_version_1m SELECT * FROM predictions_by_version_1m_source;

CREATE VIEW predictions_by_model_1m_source AS
SELECT
    time_bucket('1 minute', bucket) AS bucket,
    model_id,
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
FROM predictions_by_version_1m
GROUP BY 1, model_id;

CREATE TABLE predictions_by_model_1m AS SELECT * FROM predictions_by_model_1m_source WITH NO DATA;
ALTER TABLE predictions_by_model_1m ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_model_1m', 'bucket', chunk_time_interval => INTERVAL '7 days', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_model_1m_key ON predictions_by_model_1m (model_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_model_1m SELECT * FROM predictions_by_model_1m_source;

CREATE VIEW model_version_windows_1m AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_by_version_1m w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE OR REPLACE VIEW model_windows_1h AS
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_1h w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW predictions_by_version_1h_source AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id, version_id,
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
GROUP BY 1, model_id, version_id;

CREATE TABLE predictions_by_version_1h AS SELECT * FROM predictions_by_version_1h_source WITH NO DATA;
ALTER TABLE predictions_by_version_1h ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_version_1h', 'bucket', chunk_time_interval => INTERVAL '90 days', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_version_1h_key ON predictions_by_version_1h (model_id, version_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_version_1h SELECT * FROM predictions_by_version_1h_source;

CREATE VIEW predictions_by_model_1h_source AS
SELECT
    time_bucket('1 hour', bucket) AS bucket,
    model_id,
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
FROM predictions_by_version_1h
GROUP BY 1, model_id;

CREATE TABLE predictions_by_model_1h AS SELECT * FROM predictions_by_model_1h_source WITH NO DATA;
ALTER TABLE predictions_by_model_1h ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_model_1h', 'bucket', chunk_time_interval => INTERVAL '90 days', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_model_1h_key ON predictions_by_model_1h (model_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_model_1h SELECT * FROM predictions_by_model_1h_source;

CREATE VIEW model_version_windows_1h AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_by_version_1h w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE OR REPLACE VIEW model_windows_1d AS
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_1d w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE VIEW predictions_by_version_1d_source AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id, version_id,
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
FROM predictions_1d
GROUP BY 1, model_id, version_id;

CREATE TABLE predictions_by_version_1d AS SELECT * FROM predictions_by_version_1d_source WITH NO DATA;
ALTER TABLE predictions_by_version_1d ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_version_1d', 'bucket', chunk_time_interval => INTERVAL '1 year', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_version_1d_key ON predictions_by_version_1d (model_id, version_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_version_1d SELECT * FROM predictions_by_version_1d_source;

CREATE VIEW predictions_by_model_1d_source AS
SELECT
    time_bucket('1 day', bucket) AS bucket,
    model_id,
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
FROM predictions_by_version_1d
GROUP BY 1, model_id;

CREATE TABLE predictions_by_model_1d AS SELECT * FROM predictions_by_model_1d_source WITH NO DATA;
ALTER TABLE predictions_by_model_1d ALTER COLUMN bucket SET NOT NULL;
SELECT create_hypertable('predictions_by_model_1d', 'bucket', chunk_time_interval => INTERVAL '1 year', create_default_indexes => false);
CREATE UNIQUE INDEX predictions_by_model_1d_key ON predictions_by_model_1d (model_id, bucket) NULLS NOT DISTINCT;

INSERT INTO predictions_by_model_1d SELECT * FROM predictions_by_model_1d_source;

CREATE VIEW model_version_windows_1d AS
SELECT
    w.bucket,
    m.name AS model,
    v.version,
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
    w.latency_max AS latency_max_ms,
    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound
FROM predictions_by_version_1d w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;
