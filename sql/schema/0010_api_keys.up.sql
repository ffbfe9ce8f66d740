-- 0010_api_keys: scoped API keys and the shared rate-limit counters. Hand-written; the same on both editions.

-- A key is `dl_<prefix>_<secret>`: `prefix` (12 hex characters) identifies it (shown in listings, looked up
-- by a unique index), the whole token is never stored, only HMAC-SHA256(server secret, token). `secret_id`
-- names the server secret that computed `hmac` (a few bytes of HMAC(secret, fixed label)), so a server
-- running with another secret can say so instead of refusing every key without a reason.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix       text        NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-f]{12}$'),
    hmac         bytea       NOT NULL CHECK (length(hmac) = 32),
    secret_id    text        NOT NULL,
    scopes       text[]      NOT NULL CHECK (cardinality(scopes) >= 1
                                             AND scopes <@ ARRAY['ingest', 'read', 'admin']::text[]),
    -- NULL: every model; else the names of the models the key may touch.
    models       text[]      CHECK (models IS NULL OR cardinality(models) >= 1),
    comment      text        NOT NULL DEFAULT '' CHECK (length(comment) <= 1000),
    created_by   text        NOT NULL DEFAULT '' CHECK (length(created_by) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Fixed-window counters shared by every API process (ingest requests per key, failed authentications per
-- client address). UNLOGGED: counters are worth nothing after a crash, and an unlogged upsert writes no WAL.
CREATE UNLOGGED TABLE rate_counters (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    count        bigint      NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_window_start ON rate_counters (window_start);
