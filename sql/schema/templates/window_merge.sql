-- Template: the query of one window level built from a finer relation, the prediction state of `below`
-- merged to buckets of `width` and the key columns `keys`. engine.windows.ddl creates the view
-- `<family>_<level>_source` from it and materialises the level as a rollup table of that view (Apache
-- edition) or as a continuous aggregate of this same query (full edition). Migration 0003 builds the
-- segment-merged predictions_by_version_<level> from predictions_<level>, and predictions_by_model_<level>
-- from that, at the same width.
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
FROM {below}
GROUP BY 1, {keys}
