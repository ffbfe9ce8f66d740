-- 0005_access: hardening (one rejected_rows entry per refused row, retention indexes) and access control
-- (scoped API keys, rate-limit counters). Hand-written; the same on both editions.

-- Every error of a refused row, in one entry ([{field, reason}, ...], capped by the engine); `field` and
-- `reason` keep the first one for readers of the old shape.
ALTER TABLE rejected_rows ADD COLUMN errors jsonb;
-- Retention of rejected_rows and ingest_batches deletes by age (the worker, DRIFTLINE_INGEST_LOG_RETENTION).
CREATE INDEX rejected_rows_received_at ON rejected_rows (received_at);
CREATE INDEX ingest_batches_received_at ON ingest_batches (received_at);

-- API keys: the token is shown once; only HMAC-SHA256(server secret, token) is stored. `prefix` is the public
-- part of the token that finds the row (then compared in constant time). `models` NULL: every model.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    digest       bytea NOT NULL,
    name         text NOT NULL,
    scopes       text[] NOT NULL
                 CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['ingest', 'read', 'admin']::text[]),
    models       text[],
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Fixed-window rate-limit counters shared by every API worker: one row per (bucket, window), bumped with
-- INSERT … ON CONFLICT DO UPDATE … RETURNING. Unlogged: losing counts in a crash is harmless, WAL is not.
CREATE UNLOGGED TABLE rate_limit_counters (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
