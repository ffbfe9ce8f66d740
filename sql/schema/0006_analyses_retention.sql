-- Migration 0006_analyses, upgrade, full edition only (after 0006_analyses.up.sql): analysis results are
-- kept for 400 days by a retention policy (the Apache edition's worker drops the same chunks itself,
-- engine/services/retention.py).
SELECT add_retention_policy('analysis_results', INTERVAL '400 days');
