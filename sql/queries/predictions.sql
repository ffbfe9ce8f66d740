-- name: delete_predictions
-- Deletes by id and/or time range [$2, $3) and records the touched ranges for the windows, in the caller's
-- transaction (sql/schema/0004_late_writes.up.sql); returns the number of rows deleted.
SELECT dl_delete_predictions($1, $2, $3, $4);
