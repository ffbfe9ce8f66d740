-- Ranges to recompute whatever the raw rows' write history says (a dimension declared later changes the
-- windows' segment key without a write): on the full edition refreshed with force => true.
ALTER TABLE window_invalidations ADD COLUMN force boolean NOT NULL DEFAULT false;

-- Sub-minute exactness: the 1-minute source views' rows for one model over raw rows with p_lo <= time < p_hi
-- (any bounds, not only whole minutes), so that a read of [start, end) whose bounds fall inside a minute
-- counts the edge minutes' rows inside the range only. The same select lists as predictions_1m_source and
-- metrics_1m_source (0002_windows, unchanged since); inlinable SQL (STABLE, one SELECT), so the bounds reach
-- the scan of the raw rows' time index. The columns are spelled out: no dependency on the views.
CREATE FUNCTION dl_predictions_between(p_model integer, p_lo timestamptz, p_hi timestamptz)
RETURNS TABLE (
    bucket timestamptz, model_id integer, version_id integer, segment jsonb, n bigint, n_labeled bigint,
    label_delay_n bigint, label_delay_sum double precision, label_delay_max double precision,
    class_counts bigint[], confusion bigint[], score_hist_pos bigint[], score_hist_neg bigint[],
    score_n bigint, score_sum double precision, loss_n bigint, log_loss_sum double precision,
    brier_sum double precision, reg_n bigint, err_sum double precision, abs_err_sum double precision,
    sq_err_sum double precision, ape_sum double precision, ape_n bigint, sape_sum double precision,
    y_sum double precision, y2_sum double precision, pred_value_n bigint, pred_value_sum double precision,
    pred_value_sumsq double precision, latency_n bigint, latency_sum double precision,
    latency_min double precision, latency_max double precision, latency_hist bigint[]
) LANGUAGE sql STABLE AS $body$
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
WHERE p.model_id = p_model AND p.time >= p_lo AND p.time < p_hi
GROUP BY 1, p.model_id, p.version_id, 4
$body$;

CREATE FUNCTION dl_metrics_between(p_model integer, p_lo timestamptz, p_hi timestamptz)
RETURNS TABLE (
    bucket timestamptz, model_id integer, name text, tags jsonb, n bigint, value_sum double precision,
    value_sumsq double precision, value_min double precision, value_max double precision
) LANGUAGE sql STABLE AS $body$
SELECT
    time_bucket('1 minute', x.time) AS bucket,
    x.model_id,
    x.name,
    coalesce(x.tags, '{}'::jsonb) AS tags,
    count(*) AS n,
    sum(x.value) AS value_sum,
    sum(x.value * x.value) AS value_sumsq,
    min(x.value) AS value_min,
    max(x.value) AS value_max
FROM metrics x
WHERE x.model_id IS NOT DISTINCT FROM p_model AND x.time >= p_lo AND x.time < p_hi
GROUP BY 1, x.model_id, x.name, 4
$body$;
