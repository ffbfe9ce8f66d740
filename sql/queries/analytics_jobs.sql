-- Analytics-pipeline jobs and their runs (engine/store/analytics_jobs_repo.py).

-- name: insert_job
INSERT INTO analytics_jobs (job_id, model_id, metrics_path, predictions_path, frequency)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (job_id) DO NOTHING
RETURNING job_id;

-- name: select_job
SELECT j.job_id, j.lock_id, m.name AS model_name, j.metrics_path, j.predictions_path, j.frequency, j.enabled,
       j.created_at, j.last_period, j.last_run_at, j.last_status
FROM analytics_jobs j JOIN models m ON m.id = j.model_id
WHERE j.job_id = $1;

-- name: select_jobs
SELECT j.job_id, j.lock_id, m.name AS model_name, j.metrics_path, j.predictions_path, j.frequency, j.enabled,
       j.created_at, j.last_period, j.last_run_at, j.last_status
FROM analytics_jobs j JOIN models m ON m.id = j.model_id
ORDER BY j.job_id
LIMIT $1;

-- name: delete_job
DELETE FROM analytics_jobs WHERE job_id = $1 RETURNING job_id;

-- The per-job lock: session level, so that it spans the run's several transactions (ingest, analyses,
-- run record); released explicitly at the end and by PostgreSQL if the connection dies.
-- name: try_job_lock
SELECT pg_try_advisory_lock(hashtext('driftline.analytics_jobs'), $1::integer);

-- name: job_unlock
SELECT pg_advisory_unlock(hashtext('driftline.analytics_jobs'), $1::integer);

-- Runs left 'running' by a process that died: only called while holding the job's lock, so none of them
-- can still be running.
-- name: fail_interrupted_runs
UPDATE analytics_job_runs
SET status = 'failed', finished_at = now(), error = 'interrupted: the process running it stopped'
WHERE job_id = $1 AND status = 'running';

-- name: running_run
SELECT id, started_at FROM analytics_job_runs
WHERE job_id = $1 AND status = 'running'
ORDER BY started_at DESC LIMIT 1;

-- name: insert_run
INSERT INTO analytics_job_runs (job_id, trigger, period, status)
VALUES ($1, $2, $3, 'running')
RETURNING id, started_at;

-- name: mark_job_running
UPDATE analytics_jobs SET last_run_at = $2, last_status = 'running' WHERE job_id = $1;

-- name: finish_run
UPDATE analytics_job_runs
SET status = $2, batch_id = $3, finished_at = now(), duration_s = $4, rows_ingested = $5, outputs = $6,
    summary = $7::jsonb, error = $8, traceback = $9
WHERE id = $1;

-- name: mark_job_finished
UPDATE analytics_jobs SET last_status = $2 WHERE job_id = $1;

-- name: select_runs
SELECT id, job_id, batch_id, trigger, period, status, started_at, finished_at, duration_s, rows_ingested,
       outputs, error, traceback
FROM analytics_job_runs
WHERE job_id = $1
ORDER BY started_at DESC, id DESC
LIMIT $2;

-- Claim the current schedule period of every enabled job that has not had it yet: one statement, so two
-- schedulers calling at once hand each (job, period) out once. Periods are UTC hours, days and ISO weeks
-- (Monday 00:00).
-- name: claim_due_jobs
WITH periods AS (
    SELECT job_id, date_trunc(CASE frequency WHEN 'hourly' THEN 'hour' WHEN 'daily' THEN 'day' ELSE 'week' END,
                              $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS period
    FROM analytics_jobs
    WHERE enabled
)
UPDATE analytics_jobs j
SET last_period = p.period
FROM periods p
WHERE j.job_id = p.job_id AND (j.last_period IS NULL OR j.last_period < p.period)
RETURNING j.job_id, j.frequency, p.period;

-- name: select_run
SELECT id, job_id, batch_id, trigger, period, status, started_at, finished_at, duration_s, rows_ingested,
       outputs, error, traceback
FROM analytics_job_runs
WHERE id = $1;
