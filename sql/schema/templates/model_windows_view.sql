-- Template: the derived-metrics views for SQL users, one row per stored window row — per (model, version,
-- segment) `model_windows_<level>` over `predictions_<level>`, per (model, version)
-- `model_version_windows_<level>` over `predictions_by_version_<level>` (no segment column).
-- engine.windows.ddl fills in the view's name, the relation, the segment column and the columns appended
-- after 0002's (0003: ROC AUC and its bound; a view gains columns only at the end).
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
