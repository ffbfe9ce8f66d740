-- The custom metric series (name, model) with the minutes they span and their row count, read from the
-- 1-minute metric windows, except in the pending (not yet refreshed) ranges, which are read from raw rows.
-- $1: a model id or NULL (every series); $2/$3/$4: the pending ranges as parallel arrays (model id, lo, hi),
-- merged per model so no raw row is counted twice. Ranges are minute-aligned, so `first`/`last` bound the
-- minutes holding data: [first, last) is a range a window read answers whole.

-- name: list
SELECT parts.name, mo.name AS model, min(parts.first) AS first, max(parts.last) AS last, sum(parts.n)::bigint AS count
FROM (
    SELECT w.model_id, w.name, min(w.bucket) AS first, max(w.bucket) + interval '1 minute' AS last, sum(w.n) AS n
    FROM metrics_1m w
    WHERE ($1::integer IS NULL OR w.model_id = $1)
      AND NOT EXISTS (
          SELECT 1 FROM unnest($2::integer[], $3::timestamptz[], $4::timestamptz[]) AS d(model_id, lo, hi)
          WHERE d.model_id IS NOT DISTINCT FROM w.model_id AND w.bucket >= d.lo AND w.bucket < d.hi
      )
    GROUP BY w.model_id, w.name
    UNION ALL
    SELECT m.model_id, m.name, time_bucket('1 minute', min(m.time)),
           time_bucket('1 minute', max(m.time)) + interval '1 minute', count(*)
    FROM unnest($2::integer[], $3::timestamptz[], $4::timestamptz[]) AS d(model_id, lo, hi)
    JOIN metrics m ON m.model_id IS NOT DISTINCT FROM d.model_id AND m.time >= d.lo AND m.time < d.hi
    WHERE ($1::integer IS NULL OR m.model_id = $1)
    GROUP BY m.model_id, m.name
) parts
LEFT JOIN models mo ON mo.id = parts.model_id
GROUP BY parts.name, mo.name
HAVING sum(parts.n) > 0
ORDER BY parts.name, mo.name NULLS FIRST

-- name: pending
SELECT model_id, lo, hi FROM window_invalidations
WHERE kind = 'metrics' AND ($1::integer IS NULL OR model_id = $1)
ORDER BY model_id, lo
