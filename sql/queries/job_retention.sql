-- name: delete_old_jobs
-- Finished procrastinate jobs whose last event is older than $1 (at most $2 per call, so a backlog goes over
-- several worker ticks); their events go with them (ON DELETE CASCADE), periodic defers are unlinked by
-- procrastinate's own trigger. Queued and running jobs are never touched.
DELETE FROM procrastinate_jobs
WHERE id IN (
    SELECT j.id FROM procrastinate_jobs j
    WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted')
      AND NOT EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id AND e.at >= now() - $1::text::interval)
    LIMIT $2
);

-- name: delete_old_monitor_runs
-- Monitor run history that ended before now() - $1 (at most $2 per call); queued and running runs stay.
DELETE FROM monitor_runs
WHERE id IN (
    SELECT id FROM monitor_runs
    WHERE status IN ('succeeded', 'failed', 'no_data') AND coalesce(finished_at, queued_at) < now() - $1::text::interval
    LIMIT $2
);
