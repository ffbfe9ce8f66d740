-- Migration 0002_windows, downgrade, Apache edition.
-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the
-- revision runs this text, whatever the templates say later.

DROP VIEW IF EXISTS model_windows_1m, custom_metrics_1m;
DROP VIEW IF EXISTS model_windows_1h, custom_metrics_1h;
DROP VIEW IF EXISTS model_windows_1d, custom_metrics_1d;

DROP FUNCTION IF EXISTS dl_log_histogram_quantile(bigint[], double precision, double precision, double precision, double precision, double precision), dl_confusion_correct(bigint[], integer);

DROP VIEW IF EXISTS predictions_1d_source, predictions_1h_source, predictions_1m_source;
DROP VIEW IF EXISTS metrics_1d_source, metrics_1h_source, metrics_1m_source;

DROP TABLE IF EXISTS predictions_1d;
DROP TABLE IF EXISTS metrics_1d;
DROP TABLE IF EXISTS predictions_1h;
DROP TABLE IF EXISTS metrics_1h;
DROP TABLE IF EXISTS predictions_1m;
DROP TABLE IF EXISTS metrics_1m;

-- Undo 0002_windows.up.sql (the per-level relations and their views are dropped first).
DROP VIEW IF EXISTS predictions_1m_source, metrics_1m_source, feature_hist_1h_source, feature_hist_1d_source;
DROP TABLE IF EXISTS feature_hist_1d;
DROP TABLE IF EXISTS feature_hist_1h;
DROP TABLE IF EXISTS feature_hist_1m;
DROP TRIGGER IF EXISTS predictions_windows_insert ON predictions;
DROP TRIGGER IF EXISTS predictions_windows_update ON predictions;
DROP TRIGGER IF EXISTS predictions_windows_delete ON predictions;
DROP TRIGGER IF EXISTS metrics_windows_insert ON metrics;
DROP TRIGGER IF EXISTS metrics_windows_update ON metrics;
DROP TRIGGER IF EXISTS metrics_windows_delete ON metrics;
DROP TABLE IF EXISTS feature_baselines, window_invalidations, window_watermarks;
DROP FUNCTION IF EXISTS dl_invalidate_predictions(), dl_invalidate_metrics(), dl_invalidate_baseline();
DROP FUNCTION IF EXISTS dl_segment_key(jsonb, text[]), dl_brier_multiclass(double precision[], integer),
    dl_strictly_increasing(double precision[]);
DROP AGGREGATE IF EXISTS dl_sum_counts(bigint[]);
DROP FUNCTION IF EXISTS dl_add_counts(bigint[], bigint[]);
