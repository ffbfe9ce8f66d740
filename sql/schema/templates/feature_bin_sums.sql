-- Template: per-bin sums of the feature windows (0012). dl_bin_sums(values, edges) sums the values per bin
-- of `edges` as the feature windows bin them (`width_bucket(x, edges)`: bin j, 0-based, holds
-- e_j <= x < e_{j+1}, outer bins open), one element per bin (cardinality(edges) + 1), zeros for empty bins;
-- dl_sum_sums merges such arrays element-wise, as dl_sum_counts merges the counts.
CREATE FUNCTION dl_bin_sums(vals double precision[], edges double precision[]) RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT array_agg(coalesce(t.s, 0) ORDER BY g.j)
    FROM generate_series(0, cardinality(edges)) AS g(j)
    LEFT JOIN (SELECT width_bucket(v, edges) AS b, sum(v) AS s FROM unnest(vals) AS v GROUP BY 1) AS t
        ON t.b = g.j
);

-- STRICT with no initial state: the first non-NULL array becomes the state and NULLs are skipped.
CREATE FUNCTION dl_add_sums(a double precision[], b double precision[]) RETURNS double precision[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) AS t(x, y));

CREATE AGGREGATE dl_sum_sums(double precision[]) (
    SFUNC = dl_add_sums,
    STYPE = double precision[],
    COMBINEFUNC = dl_add_sums,
    PARALLEL = SAFE
);
