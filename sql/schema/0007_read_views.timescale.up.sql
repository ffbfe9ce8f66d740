-- Migration 0007_read_views, upgrade, full (Timescale-License) edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

-- Template: per-class precision / recall / F1 of a window's confusion counts, for the derived views
-- (0007). The confusion array is histogram() output: element 1 underflow, then the k × k cells row-major by
-- actual class then predicted class (both in the model's class_labels order), then overflow; so the cell
-- (actual a, predicted b), 0-based, is element a * k + b + 2. A rate with a zero denominator is 0 (as the
-- engine and scikit-learn's zero_division=0); a window without labelled rows has none (NULL).
CREATE FUNCTION dl_class_rates(confusion bigint[], k integer, rate text) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT CASE WHEN sum(s.act) > 0 THEN
        array_agg(coalesce(CASE rate
            WHEN 'precision' THEN s.tp / nullif(s.pred, 0)
            WHEN 'recall' THEN s.tp / nullif(s.act, 0)
            WHEN 'f1' THEN 2 * s.tp / nullif(s.pred + s.act, 0)
        END, 0) ORDER BY s.i) END
    FROM (
        SELECT i,
            coalesce(confusion[i * k + i + 2], 0)::float8 AS tp,
            (SELECT coalesce(sum(confusion[a * k + i + 2]), 0) FROM generate_series(0, k - 1) AS a)::float8 AS pred,
            (SELECT coalesce(sum(confusion[i * k + b + 2]), 0) FROM generate_series(0, k - 1) AS b)::float8 AS act
        FROM generate_series(0, k - 1) AS i
    ) s
);

CREATE FUNCTION dl_array_mean(xs float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT avg(x) FROM unnest(xs) AS x);

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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
FROM predictions_1m w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE OR REPLACE VIEW model_version_windows_1m AS
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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
FROM predictions_1h w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE OR REPLACE VIEW model_version_windows_1h AS
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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
FROM predictions_1d w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;

CREATE OR REPLACE VIEW model_version_windows_1d AS
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
    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision') AS precision_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall') AS recall_per_class,
    dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1') AS f1_per_class,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'precision')) AS precision_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'recall')) AS recall_macro,
    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), 'f1')) AS f1_macro,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'precision'))[2] END AS precision,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'recall'))[2] END AS recall,
    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, 'f1'))[2] END AS f1
FROM predictions_by_version_1d w
JOIN models m ON m.id = w.model_id
JOIN model_versions v ON v.id = w.version_id;
