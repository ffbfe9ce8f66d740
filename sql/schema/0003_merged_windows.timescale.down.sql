-- Migration 0003_merged_windows, downgrade, full (Timescale-License) edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

DROP VIEW IF EXISTS model_version_windows_1m;
DROP VIEW IF EXISTS model_version_windows_1h;
DROP VIEW IF EXISTS model_version_windows_1d;

DROP VIEW model_windows_1m;

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

DROP VIEW model_windows_1h;

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

DROP VIEW model_windows_1d;

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

DROP MATERIALIZED VIEW IF EXISTS predictions_by_model_1d;
DROP VIEW IF EXISTS predictions_by_model_1d_source;
DROP MATERIALIZED VIEW IF EXISTS predictions_by_version_1d;
DROP VIEW IF EXISTS predictions_by_version_1d_source;
DROP MATERIALIZED VIEW IF EXISTS predictions_by_model_1h;
DROP VIEW IF EXISTS predictions_by_model_1h_source;
DROP MATERIALIZED VIEW IF EXISTS predictions_by_version_1h;
DROP VIEW IF EXISTS predictions_by_version_1h_source;
DROP MATERIALIZED VIEW IF EXISTS predictions_by_model_1m;
DROP VIEW IF EXISTS predictions_by_model_1m_source;
DROP MATERIALIZED VIEW IF EXISTS predictions_by_version_1m;
DROP VIEW IF EXISTS predictions_by_version_1m_source;

DROP FUNCTION IF EXISTS dl_roc_auc(bigint[], bigint[]), dl_roc_auc_bound(bigint[], bigint[]), dl_score_bins(bigint[], bigint[]);
