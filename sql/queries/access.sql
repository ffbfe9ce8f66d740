-- API keys and rate-limit counters (schema: sql/schema/0010_api_keys.up.sql).

-- name: insert_key
INSERT INTO api_keys (name, prefix, hmac, secret_id, scopes, models, comment, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, name, prefix, scopes, models, comment, created_by, created_at, revoked_at, last_used_at;

-- name: list_keys
SELECT id, name, prefix, scopes, models, comment, created_by, created_at, revoked_at, last_used_at
FROM api_keys
WHERE $1::boolean OR revoked_at IS NULL
ORDER BY id;

-- name: revoke_key
-- By id or by prefix; revoking twice keeps the first time.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1::bigint OR prefix = $2::text
RETURNING id, name, prefix, scopes, models, comment, created_by, created_at, revoked_at, last_used_at;

-- name: any_key
-- Revoked keys count: once keys are in use, revoking the last one must not open the API.
SELECT EXISTS (SELECT 1 FROM api_keys);

-- name: key_by_prefix
SELECT id, name, hmac, secret_id, scopes, models, revoked_at, last_used_at,
       last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale_use
FROM api_keys
WHERE prefix = $1;

-- name: touch_key
-- At most one write per key and minute, whichever process gets there first.
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: hit_counter
-- One statement per counted event: the fixed window [window_start, window_start + $2 s) of the database's
-- clock (every API process shares it), the bucket's count after adding $3, and the seconds left in the window.
INSERT INTO rate_counters AS c (bucket, window_start, count)
VALUES ($1, to_timestamp(floor(extract(epoch FROM clock_timestamp())::float8 / $2::int) * $2::int), $3::bigint)
ON CONFLICT (bucket, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
RETURNING c.count,
          extract(epoch FROM c.window_start + make_interval(secs => $2::int) - clock_timestamp())::float8 AS seconds_left;

-- name: prune_counters
DELETE FROM rate_counters WHERE window_start < clock_timestamp() - make_interval(secs => $1::int);
