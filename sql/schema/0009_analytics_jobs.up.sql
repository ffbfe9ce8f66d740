-- 0009_analytics_jobs: the analytics-pipeline seed's batch jobs (`/analytics/jobs`) and their run history.
-- Hand-written; the same on both editions.

-- One row per configured job: which model, which two server-side Parquet files (paths as given, relative
-- to DRIFTLINE_ANALYTICS_INPUT_ROOT or absolute inside it; resolved and checked again at every run), how
-- often. `last_period` is the start of the newest schedule period a scheduler claimed for the job, so that
-- a period is handed out once (`due_analytics_jobs`). `lock_id` keys the per-job advisory lock.
CREATE TABLE analytics_jobs (
    job_id           text PRIMARY KEY CHECK (job_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    lock_id          integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    model_id         integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    metrics_path     text NOT NULL CHECK (length(metrics_path) BETWEEN 1 AND 4096),
    predictions_path text NOT NULL CHECK (length(predictions_path) BETWEEN 1 AND 4096),
    frequency        text NOT NULL CHECK (frequency IN ('hourly', 'daily', 'weekly')),
    enabled          boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_period      timestamptz,
    last_run_at      timestamptz,
    last_status      text CHECK (last_status IN ('running', 'succeeded', 'failed'))
);
CREATE INDEX analytics_jobs_model ON analytics_jobs (model_id);

-- One row per run (manual or scheduled). A run that was interrupted (its process died) stays 'running'
-- until the next run of the job takes the job's lock and marks it 'failed'.
CREATE TABLE analytics_job_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           text NOT NULL REFERENCES analytics_jobs (job_id) ON DELETE CASCADE,
    batch_id         text,
    trigger          text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
    period           timestamptz,
    status           text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    duration_s       double precision,
    rows_ingested    bigint,
    outputs          text[] NOT NULL DEFAULT '{}',
    summary          jsonb,
    error            text,
    traceback        text
);
CREATE INDEX analytics_job_runs_job ON analytics_job_runs (job_id, started_at DESC);
