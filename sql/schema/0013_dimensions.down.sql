DROP FUNCTION IF EXISTS dl_metrics_between(integer, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS dl_predictions_between(integer, timestamptz, timestamptz);
ALTER TABLE window_invalidations DROP COLUMN force;
