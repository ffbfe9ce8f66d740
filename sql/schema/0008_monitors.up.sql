-- Migration 0008_monitors, upgrade, both editions (hand-written, frozen once merged).
--
-- Monitors: what runs for a model (analyses with parameters), over which window (span, granularity), how often
-- (an interval in seconds or a cron expression; windows end on the schedule's ticks), with which minimum sample
-- size. `scheduled_until` is the end of the newest window the scheduler has queued: the next tick queues the
-- windows ending after it (bounded catch-up after downtime).
-- Monitor runs: one row per (monitor, window) — the job run history. A window is queued once; a retry or a
-- "run now" of the same window re-runs that row (attempt + 1) and its results replace the earlier ones.
-- The job queue itself is procrastinate's (0008_procrastinate.up.sql, run before this file).

CREATE TABLE monitors (
    id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id         integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name             text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    version_id       integer REFERENCES model_versions (id) ON DELETE CASCADE,  -- NULL: all versions
    segment          jsonb NOT NULL DEFAULT '{}',                              -- declared dimension = value
    analyses         jsonb NOT NULL,            -- [{"kind": "drift", "params": {...}}, ...], validated by the engine
    window_seconds   integer NOT NULL CHECK (window_seconds BETWEEN 60 AND 366 * 86400),
    granularity      text NOT NULL CHECK (granularity ~ '^[0-9]{1,3}[mhdw]$'),
    every_seconds    integer CHECK (every_seconds BETWEEN 60 AND 366 * 86400),
    cron             text,
    min_samples      integer NOT NULL CHECK (min_samples >= 1),
    enabled          boolean NOT NULL DEFAULT true,
    settings         jsonb NOT NULL DEFAULT '{}',  -- alerting parameters kept for the alert rules (cooldown, ...)
    scheduled_until  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_id, name),
    CHECK ((every_seconds IS NULL) <> (cron IS NULL))
);
CREATE INDEX monitors_enabled ON monitors (id) WHERE enabled;

CREATE TABLE monitor_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor_id    integer NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'no_data')),
    attempt       integer NOT NULL DEFAULT 0,
    queued_at     timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    duration_s    double precision,
    rows_read     bigint,
    worker        text,
    error         text,
    traceback     text,
    details       jsonb,  -- per analysis: {"status": ..., "results": n rows stored, "reason": ...}
    CHECK (window_end > window_start),
    UNIQUE (monitor_id, window_start, window_end)
);
CREATE INDEX monitor_runs_pending ON monitor_runs (monitor_id, window_end) WHERE status IN ('queued', 'running');
CREATE INDEX monitor_runs_recent ON monitor_runs (monitor_id, window_end DESC);
