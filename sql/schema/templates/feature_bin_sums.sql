-- Template: merging the per-bin sums of the feature windows (0012; one float8 per bin of `counts`, the sum
-- of the values `width_bucket(x, edges)` puts in that bin): dl_sum_sums adds such arrays element-wise, as
-- dl_sum_counts adds the counts.

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
