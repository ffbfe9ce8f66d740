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
