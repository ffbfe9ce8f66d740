-- Monitors and their runs (migration 0008). Windows are [window_start, window_end); a run row per (monitor, window).

-- name: get_monitor
SELECT m.id, mo.name AS model, m.name, m.version_id, v.version, m.segment::text AS segment, m.analyses::text AS analyses,
       m.window_seconds, m.granularity, m.every_seconds, m.cron, m.min_samples, m.enabled, m.settings::text AS settings,
       m.scheduled_until, m.created_at, m.updated_at
FROM monitors m JOIN models mo ON mo.id = m.model_id LEFT JOIN model_versions v ON v.id = m.version_id
WHERE m.model_id = $1 AND m.name = $2;

-- name: get_monitor_by_id
SELECT m.id, mo.name AS model, m.name, m.version_id, v.version, m.segment::text AS segment, m.analyses::text AS analyses,
       m.window_seconds, m.granularity, m.every_seconds, m.cron, m.min_samples, m.enabled, m.settings::text AS settings,
       m.scheduled_until, m.created_at, m.updated_at
FROM monitors m JOIN models mo ON mo.id = m.model_id LEFT JOIN model_versions v ON v.id = m.version_id
WHERE m.id = $1;

-- name: list_monitors
SELECT m.id, mo.name AS model, m.name, m.version_id, v.version, m.segment::text AS segment, m.analyses::text AS analyses,
       m.window_seconds, m.granularity, m.every_seconds, m.cron, m.min_samples, m.enabled, m.settings::text AS settings,
       m.scheduled_until, m.created_at, m.updated_at
FROM monitors m JOIN models mo ON mo.id = m.model_id LEFT JOIN model_versions v ON v.id = m.version_id
WHERE $1::integer IS NULL OR m.model_id = $1
ORDER BY mo.name, m.name;

-- name: insert_monitor
INSERT INTO monitors (model_id, name, version_id, segment, analyses, window_seconds, granularity, every_seconds, cron,
                      min_samples, enabled, settings)
VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12::jsonb)
ON CONFLICT (model_id, name) DO NOTHING
RETURNING id;

-- name: update_monitor
UPDATE monitors SET version_id = $3, segment = $4::jsonb, analyses = $5::jsonb, window_seconds = $6, granularity = $7,
                    every_seconds = $8, cron = $9, min_samples = $10, enabled = $11, settings = $12::jsonb,
                    -- a new schedule starts from its latest window, not from the old schedule's position
                    scheduled_until = CASE WHEN every_seconds IS DISTINCT FROM $8 OR cron IS DISTINCT FROM $9
                                           THEN NULL ELSE scheduled_until END,
                    updated_at = now()
WHERE model_id = $1 AND name = $2
RETURNING id;

-- name: delete_monitor
DELETE FROM monitors WHERE model_id = $1 AND name = $2 RETURNING id;

-- name: schedulable
SELECT id, every_seconds, cron, scheduled_until, window_seconds
FROM monitors WHERE enabled ORDER BY id
FOR UPDATE SKIP LOCKED;

-- name: queue_run
INSERT INTO monitor_runs (monitor_id, window_start, window_end, trigger, status)
VALUES ($1, $2, $3, $4, 'queued')
ON CONFLICT (monitor_id, window_start, window_end) DO NOTHING
RETURNING id;

-- name: set_scheduled_until
UPDATE monitors SET scheduled_until = $2 WHERE id = $1;

-- name: request_run
-- "run now": queue the window again unless it is queued or running already (then nothing is returned).
INSERT INTO monitor_runs (monitor_id, window_start, window_end, trigger, status)
VALUES ($1, $2, $3, 'manual', 'queued')
ON CONFLICT (monitor_id, window_start, window_end) DO UPDATE
    SET status = 'queued', trigger = 'manual', queued_at = now(), error = NULL, traceback = NULL
    WHERE monitor_runs.status NOT IN ('queued', 'running')
RETURNING id;

-- name: pending_monitors
SELECT DISTINCT monitor_id FROM monitor_runs WHERE status IN ('queued', 'running') ORDER BY monitor_id;

-- name: next_pending_run
-- Runs of one monitor run one at a time (the job's lock), so a 'running' row seen here was left by a worker that
-- died: it runs again.
SELECT r.id, r.window_start, r.window_end, r.attempt
FROM monitor_runs r
WHERE r.monitor_id = $1 AND r.status IN ('queued', 'running')
ORDER BY r.window_end, r.id
LIMIT 1;

-- name: start_run
UPDATE monitor_runs SET status = 'running', attempt = attempt + 1, started_at = clock_timestamp(), finished_at = NULL,
                        worker = $2
WHERE id = $1
RETURNING attempt;

-- name: finish_run
UPDATE monitor_runs SET status = $2, finished_at = clock_timestamp(),
                        duration_s = extract(epoch FROM clock_timestamp() - started_at),
                        rows_read = $3, error = $4, traceback = $5, details = $6::jsonb
WHERE id = $1;

-- name: list_runs
SELECT r.id, r.monitor_id, r.window_start, r.window_end, r.trigger, r.status, r.attempt, r.queued_at, r.started_at,
       r.finished_at, r.duration_s, r.rows_read, r.worker, r.error, r.traceback, r.details::text AS details
FROM monitor_runs r
WHERE r.monitor_id = $1 AND ($2::text IS NULL OR r.status = $2)
ORDER BY r.window_end DESC, r.id DESC
LIMIT $3;

-- name: get_run
SELECT r.id, r.monitor_id, r.window_start, r.window_end, r.trigger, r.status, r.attempt, r.queued_at, r.started_at,
       r.finished_at, r.duration_s, r.rows_read, r.worker, r.error, r.traceback, r.details::text AS details
FROM monitor_runs r
WHERE r.monitor_id = $1 AND r.id = $2;

