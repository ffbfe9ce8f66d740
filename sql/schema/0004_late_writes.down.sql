-- Undo 0004_late_writes.up.sql.
DROP FUNCTION IF EXISTS dl_delete_predictions(text, timestamptz, timestamptz, text[]);
DROP FUNCTION IF EXISTS dl_invalidate(text, integer, timestamptz, timestamptz);
DROP TRIGGER IF EXISTS predictions_times_insert ON predictions;
DROP FUNCTION IF EXISTS dl_record_prediction_times();
DROP TABLE IF EXISTS prediction_times;
