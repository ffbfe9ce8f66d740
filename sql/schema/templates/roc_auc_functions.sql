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
