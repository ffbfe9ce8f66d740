-- Pending labels are applied before they are dropped: none is lost by a downgrade.
SELECT dl_apply_pending_labels(id) FROM models WHERE id IN (SELECT DISTINCT model_id FROM pending_labels);
DROP VIEW IF EXISTS predictions_labelled;
DROP FUNCTION IF EXISTS dl_apply_pending_labels(integer, interval);
DROP TABLE IF EXISTS pending_labels;
