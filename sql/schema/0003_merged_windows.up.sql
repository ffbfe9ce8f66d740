-- driftline windows, part 4: the prediction windows with the declared segments merged, one row per
-- (bucket, model, version) in predictions_by_version_<level>, and with versions merged too, one row per
-- (bucket, model) in predictions_by_model_<level>. A model's default series is read from the latter and
-- its per-version series from the former, so their cost does not grow with the number of segment values
-- (or versions): 2 versions × 3 regions → 6× fewer rows and count-array elements to ship and merge.
--
-- Each is built from the relation one key finer at the same level and width (predictions_<level> →
-- predictions_by_version_<level> → predictions_by_model_<level>), so it is exactly that relation merged:
-- engine.windows.ddl runs this template per level and relation with {name}, {keys}, {below}, {level} and
-- {width}, then materialises it like the other levels (a rollup table on the Apache edition, refreshed by
-- the engine right after the relation below; a hierarchical continuous aggregate of equal bucket width on
-- the full edition). Merge rules as in 0002_windows_levels.up.sql.

CREATE VIEW {name}_{level}_source AS
SELECT
    time_bucket('{width}', bucket) AS bucket,
    {keys},
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
FROM {below}_{level}
GROUP BY 1, {keys};
