-- Undo 0009_analytics_jobs.up.sql.
DROP TABLE IF EXISTS analytics_job_runs;
DROP TABLE IF EXISTS analytics_jobs;
