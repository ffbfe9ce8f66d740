-- Data quality reads over raw rows the windows do not keep (unseen category values, refused rows, the last
-- prediction). Each is bounded: an indexed range of one model, a LIMIT on what it returns.

-- name: unseen_categories
SELECT cat_features[$4] AS value, count(*) AS n
FROM predictions
WHERE model_id = $1 AND time >= $2 AND time < $3 AND cat_features[$4] IS NOT NULL
  AND array_position($5::text[], cat_features[$4]) IS NULL
GROUP BY 1
ORDER BY 2 DESC, 1
LIMIT $6;

-- name: rejected_counts
SELECT coalesce(field, '') AS field, reason, count(*) AS n
FROM rejected_rows
WHERE model_id = $1 AND received_at >= $2 AND received_at < $3
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT $4;

-- name: last_prediction
SELECT max(time) AS last FROM predictions WHERE model_id = $1 AND time < $2;
